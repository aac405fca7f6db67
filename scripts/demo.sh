#!/usr/bin/env bash
# The main job on the embedded default: builds the sample county's SpatiaLite
# database from GeoData/, assigns every point, prints the county summary and
# example lookups. Run through `make demo`; safe to run again (the database is rebuilt).
set -euo pipefail
cd "$(dirname "$0")/.."
wangge=.build/release/wangge
db=${DB:-var/wangge.sqlite}
generated=GeoData/generated

# The point files are generated (fixed seed) rather than committed: 26 MB of CSV.
# An older generator wrote incidents without closed_at: generate again.
if [[ ! -s $generated/households.csv || ! -s $generated/incidents_gcj02.csv || GeoData/grids.geojson -nt $generated/households.csv ]] \
    || ! head -n 1 $generated/incidents.csv | grep -q closed_at; then
    echo "== generating households, cameras and incidents (fixed seed) into $generated"
    $wangge sample points --output-directory "$generated"
fi

echo "== building $db"
rm -f "$db" "$db-wal" "$db-shm"
$wangge import grids --db "$db" GeoData/grids.geojson --generation-name "沅江市 2026 网格"
$wangge import households --db "$db" $generated/households.csv
$wangge import cameras --db "$db" $generated/cameras.csv
$wangge import incidents --db "$db" $generated/incidents.csv
# Reports from the WeChat mini program (码上办) arrive in GCJ-02.
$wangge import incidents --db "$db" --crs gcj02 $generated/incidents_gcj02.csv

echo
echo "== county summary"
$wangge summary --db "$db"

echo
echo "== locate: a 码上办 report at GCJ-02 112.3597, 28.8410 (near the county seat)"
$wangge locate --db "$db" --crs gcj02 112.3597 28.8410
echo
echo "== the same as JSON"
$wangge locate --db "$db" --crs gcj02 112.3597 28.8410 --json

echo
echo "== incidents by town over the sample year (as of its last day, 2026-11-01)"
$wangge stats incidents --db "$db" --at 2026-11-01
