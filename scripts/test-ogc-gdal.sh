#!/usr/bin/env bash
# Checks OGC API - Features with a real client: GDAL's OAPIF driver (ogrinfo,
# ogr2ogr from Debian's gdal-bin) against a live `wangge serve` on loopback.
# Skipped, with a note, when GDAL is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
wangge=${WANGGE:-.build/debug/wangge}
if ! command -v ogrinfo >/dev/null; then
    echo "ogc-gdal: skipped: gdal-bin is not installed (apt-get install gdal-bin)"
    exit 0
fi
work=$(mktemp -d)
server=""
trap '[[ -n $server ]] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
"$wangge" import grids --db "$work/ogc.sqlite" GeoData/grids.geojson >/dev/null
awk 'BEGIN { srand(11); print "id,lon,lat,head,phone,members"; for (i = 0; i < 1234; i++) printf "H%d,%.6f,%.6f,户主%d,1380000%04d,2\n", i, 112.30 + rand() * 0.55, 28.75 + rand() * 0.38, i, i }' > "$work/h.csv"
"$wangge" import households --db "$work/ogc.sqlite" "$work/h.csv" >/dev/null
token=$("$wangge" token create --db "$work/ogc.sqlite" --role dispatcher --name gdal 2>/dev/null)
port=$((20000 + RANDOM % 20000))
"$wangge" serve --db "$work/ogc.sqlite" --port "$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
export GDAL_HTTP_HEADERS="Authorization: Bearer $token"
passed=0; failed=0
expect() { # description, expected, actual
    if [[ "$2" == "$3" ]]; then passed=$((passed + 1)); echo "ok: $1 ($3)"; else failed=$((failed + 1)); echo "FAILED: $1: expected $2, got $3"; fi
}
url="OAPIF:http://127.0.0.1:$port"
layers=$(ogrinfo -ro -q "$url" 2>"$work/err" | grep -cE "^[0-9]+: (grids|villages|towns|households|cameras|incidents)" || true)
expect "ogrinfo lists the six collections" 6 "$layers"
count() { ogrinfo -ro -so "$url" "$1" 2>>"$work/err" | sed -n 's/^Feature Count: //p'; }
expect "ogrinfo -so grids: feature count" 271 "$(count grids)"
expect "ogrinfo -so towns: feature count" 13 "$(count towns)"
expect "ogrinfo -so households: feature count" 1234 "$(count households)"
ogr2ogr -f GeoJSON "$work/households.geojson" "$url" households 2>>"$work/err"
expect "ogr2ogr copies every household through the next links" 1234 "$(grep -o '"type": "Feature"' "$work/households.geojson" | wc -l)"
masked=$(grep -o '"phone": "138\*\*\*\*[0-9]*"' "$work/households.geojson" | wc -l)
expect "a dispatcher's copy has every phone masked" 1234 "$masked"
ogr2ogr -f GeoJSON -spat 112.3 28.8 112.4 28.9 "$work/grids.geojson" "$url" grids 2>>"$work/err"
inside=$(grep -o '"type": "Feature"' "$work/grids.geojson" | wc -l)
if (( inside > 0 && inside < 271 )); then passed=$((passed + 1)); echo "ok: a bbox filter returns part of the grids ($inside)"; else failed=$((failed + 1)); echo "FAILED: bbox filter returned $inside grids"; fi
[[ $failed -eq 0 ]] || { echo "GDAL said:"; sed 's/^/    | /' "$work/err" | tail -20; }
echo "ogc-gdal: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
