// GDAL's C API only (vector reading): datasets, layers, features, geometries, spatial references.
// Declarations only: wangge does not link libgdal. GDALLoader defines each
// function GeoFiles calls and loads libgdal when one is first called.
#include <gdal/gdal.h>
#include <gdal/ogr_api.h>
#include <gdal/ogr_srs_api.h>
#include <gdal/cpl_conv.h>
#include <gdal/cpl_error.h>
#include <gdal/cpl_string.h>
