#ifndef WANGGE_GDAL_LOADER_INTERNAL_H
#define WANGGE_GDAL_LOADER_INTERNAL_H

// GDAL's own declarations: each forwarding definition must match them.
#include <gdal/gdal.h>
#include <gdal/ogr_api.h>
#include <gdal/ogr_srs_api.h>
#include <gdal/cpl_conv.h>
#include <gdal/cpl_error.h>
#include <gdal/cpl_string.h>
#include "gdal_loader.h"

/// libgdal's function `name`, looked up in `*slot` once and kept there.
/// Aborts, naming what is missing, when libgdal or the function cannot be
/// found: the Swift side checks `wangge_gdal_load` before its first call.
void *wangge_gdal_function(void **slot, const char *name);

/// libgdal's `name`, typed as GDAL's header declares it.
#define WANGGE_GDAL_FUNCTION(name) \
    (__extension__({ static void *slot; (__typeof__(&name))wangge_gdal_function(&slot, #name); }))

#endif
