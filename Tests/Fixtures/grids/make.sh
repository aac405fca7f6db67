#!/usr/bin/env bash
# Regenerates the grid-file fixtures from the sample county (GeoData/grids.geojson) with GDAL's ogr2ogr:
# the 15 grids of town 430981-002 (大通湖… see town002.geojson) in the formats county centres receive.
# Run from this folder: ./make.sh (needs gdal-bin). Each file is described in README.md.
set -euo pipefail
cd "$(dirname "$0")"
rm -f town002* points* nullgeom*
export OGR_WKT_PRECISION=15
src=../../../GeoData/grids.geojson
# The reference: the town's grids as GeoJSON, English property names, WGS84.
ogr2ogr -f GeoJSON town002.geojson "$src" -where "town_code='430981-002'" -nln town002 -lco RFC7946=NO -lco COORDINATE_PRECISION=15
chinese='SELECT code AS "网格编码", name AS "网格名称", village_code AS "村编码", village_name AS "村名称", town_code AS "乡镇编码", town_name AS "乡镇名称", worker_name AS "网格员", worker_phone AS "联系电话" FROM town002'
# Shapefile, Chinese column names, GBK .dbf and no .cpg (as many bureaus send them).
ogr2ogr -f "ESRI Shapefile" town002_gbk.shp town002.geojson -sql "$chinese" -nln town002_gbk -lco ENCODING=CP936
rm town002_gbk.cpg
# Shapefile, Chinese column names, UTF-8 .dbf with its .cpg: names are cut to 10 bytes (网格编码 → 网格编).
ogr2ogr -f "ESRI Shapefile" town002_utf8.shp town002.geojson -sql "$chinese" -nln town002_utf8 -lco ENCODING=UTF-8
# Shapefile projected to CGCS2000 / 3-degree Gauss-Kruger CM 111E (EPSG:4546; 沅江 lies west of 112.5E), ESRI .prj with no EPSG code.
ogr2ogr -f "ESRI Shapefile" town002_gk111.shp town002.geojson -t_srs EPSG:4546 -nln town002_gk111 -lco ENCODING=UTF-8
# Shapefile in a local Gauss-Kruger CRS (central meridian 112.35E, as a county's own survey grid): its .prj has no EPSG match.
ogr2ogr -f "ESRI Shapefile" town002_local.shp town002.geojson -t_srs "+proj=tmerc +lat_0=0 +lon_0=112.35 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs" -nln town002_local -lco ENCODING=UTF-8
# KML (the name as the placemark's name, the rest as ExtendedData) and KMZ (LIBKML).
ogr2ogr -f KML town002.kml town002.geojson -dsco NameField=name
ogr2ogr -f LIBKML town002.kmz town002.geojson
# GeoPackage with two polygon layers: the grids and their villages.
ogr2ogr -f GPKG town002.gpkg town002.geojson -nln grids
ogr2ogr -f GPKG -update town002.gpkg town002.geojson -nln villages -dialect sqlite \
    -sql "SELECT village_code AS code, village_name AS name, ST_Union(geometry) AS geometry FROM town002 GROUP BY village_code" -nlt MULTIPOLYGON
# DXF: CAD keeps no attribute table; each grid on a CAD layer named by its code.
ogr2ogr -f DXF town002.dxf town002.geojson -sql "SELECT code AS Layer FROM town002"
# DXF as CAD draws areas: each grid's outline a polyline (first point repeated at the end), on a CAD layer named by its code.
ogr2ogr -f DXF town002_lines.dxf town002.geojson -dialect sqlite -sql "SELECT code AS Layer, ST_ExteriorRing(ST_GeometryN(geometry, 1)) AS geometry FROM town002"
# Bad input: points instead of polygons, and a grid whose geometry is null.
ogr2ogr -f "ESRI Shapefile" points.shp town002.geojson -dialect sqlite -sql "SELECT code, ST_PointOnSurface(geometry) AS geometry FROM town002" -lco ENCODING=UTF-8
ogr2ogr -f GPKG nullgeom.gpkg town002.geojson -dialect sqlite -nln grids \
    -sql "SELECT code, name, CASE WHEN code = '430981-002-002-001' THEN NULL ELSE geometry END AS geometry FROM town002" -nlt MULTIPOLYGON
# KML as 奥维互动地图 exports it: a folder, ExtendedData <Data name="网格编码"> with Chinese names, altitudes (x,y,0).
python3 - <<'PY'
import json, html
features = json.load(open("town002.geojson"))["features"]
names = {"code": "网格编码", "village_code": "村编码", "village_name": "村(社区)", "town_code": "乡镇编码",
         "town_name": "乡镇(街道)", "worker_name": "网格员", "worker_phone": "联系电话"}
def ring(points): return " ".join(f"{x!r},{y!r},0" for x, y in points)
out = ['<?xml version="1.0" encoding="UTF-8"?>', '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>沅江网格</name><Folder><name>胭脂湖街道网格</name>']
for f in features:
    p = f["properties"]
    data = "".join(f'<Data name="{names[k]}"><value>{html.escape(p[k])}</value></Data>' for k in names)
    polygons = "".join("<Polygon><outerBoundaryIs><LinearRing><coordinates>" + ring(poly[0]) + "</coordinates></LinearRing></outerBoundaryIs>"
                       + "".join("<innerBoundaryIs><LinearRing><coordinates>" + ring(r) + "</coordinates></LinearRing></innerBoundaryIs>" for r in poly[1:])
                       + "</Polygon>" for poly in f["geometry"]["coordinates"])
    geometry = polygons if len(f["geometry"]["coordinates"]) == 1 else f"<MultiGeometry>{polygons}</MultiGeometry>"
    out.append(f'<Placemark><name>{html.escape(p["name"])}</name><ExtendedData>{data}</ExtendedData>{geometry}</Placemark>')
out.append("</Folder></Document></kml>")
open("town002_ovital.kml", "w").write("\n".join(out) + "\n")
PY
