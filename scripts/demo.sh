#!/usr/bin/env bash
# The main job on the embedded default: builds the sample county's SpatiaLite
# database from GeoData/, assigns every point, prints the county summary and
# example lookups. Run through `make demo`; safe to run again (the database is rebuilt).
set -euo pipefail
cd "$(dirname "$0")/.."
wangge=.build/release/wangge
db=${DB:-var/wangge.sqlite}
generated=GeoData/generated

# The headings in wangge's language, chosen as wangge chooses it: $WANGGE_LANGUAGE
# for this run, else the configuration's `language:` (the shipped one says zh), else
# the first of LC_ALL, LC_MESSAGES and LANG that is set; Chinese only for zh.
language=${WANGGE_LANGUAGE:-$(sed -n 's/^language: *\([A-Za-z_-]*\).*/\1/p' "${WANGGE_CONFIG:-Config/wangge.yaml}" 2>/dev/null)}
[[ -n $language ]] || language=${LC_ALL:-${LC_MESSAGES:-${LANG:-}}}
if [[ ${language,,} == zh* ]]; then
    heading() { echo "== $2"; }
else
    heading() { echo "== $1"; }
fi

# The point files are generated (fixed seed) rather than committed: 26 MB of CSV.
# An older generator wrote incidents without closed_at: generate again.
if [[ ! -s $generated/households.csv || ! -s $generated/incidents_gcj02.csv || GeoData/grids.geojson -nt $generated/households.csv ]] \
    || ! head -n 1 $generated/incidents.csv | grep -q closed_at; then
    heading "generating households, cameras and incidents (fixed seed) into $generated" "生成户、摄像头和事件（固定种子）到 $generated"
    $wangge sample points --output-directory "$generated"
fi

heading "building $db" "建立 $db"
rm -f "$db" "$db-wal" "$db-shm"
$wangge import grids --db "$db" GeoData/grids.geojson --generation-name "沅江市 2026 网格"
$wangge import households --db "$db" $generated/households.csv
$wangge import cameras --db "$db" $generated/cameras.csv
$wangge import incidents --db "$db" $generated/incidents.csv
# Reports from the WeChat mini program (码上办) arrive in GCJ-02.
$wangge import incidents --db "$db" --crs gcj02 $generated/incidents_gcj02.csv

echo
heading "county summary" "全县汇总"
$wangge summary --db "$db"

echo
heading "locate: a 码上办 report at GCJ-02 112.3597, 28.8410 (near the county seat)" "定位：一条码上办上报，GCJ-02 坐标 112.3597, 28.8410（县城附近）"
$wangge locate --db "$db" --crs gcj02 112.3597 28.8410
echo
heading "the same as JSON" "同一结果的 JSON"
$wangge locate --db "$db" --crs gcj02 112.3597 28.8410 --json

echo
heading "incidents by town over the sample year (as of its last day, 2026-11-01)" "样例年度各乡镇事件（截至最后一天 2026-11-01）"
$wangge stats incidents --db "$db" --at 2026-11-01
