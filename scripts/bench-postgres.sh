#!/usr/bin/env bash
# Benchmark, not a test: the PostGIS store beside SpatiaLite on the same files, release build.
#  1. `wangge import households` of the sample county's 216,000 households (whole
#     process, assignment included) into SpatiaLite and into PostGIS;
#  2. `sample province` (PROVINCE_GRIDS grids, default 20,000, and PROVINCE_HOUSEHOLDS
#     households, default 1,000,000) imported into each, with the households' rows/s;
#  3. wrk (one thread, 16 connections) on GET /v1/locate with a dispatcher's token and on
#     GET /collections/households/items (a bbox page) against one SpatiaLite server, one
#     PostGIS server and two PostGIS servers on the same database (wrk on each, at once).
# Needs `make demo` first (GeoData/generated) and Debian's wrk; starts its own throwaway
# cluster in .build/bench-postgres. DURATION (seconds a wrk run, default 10) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)"; exit 1; }
wangge=${WANGGE:-.build/release/wangge}
households=GeoData/generated/households.csv
duration=${DURATION:-10}
[[ -s $households ]] || { echo "$households is missing: run make demo first"; exit 1; }
work=$(mktemp -d)
cluster=.build/bench-postgres
servers=()
trap 'for s in "${servers[@]}"; do kill $s 2>/dev/null; done; scripts/postgres.sh destroy $cluster >/dev/null 2>&1; rm -rf "$work"' EXIT
scripts/postgres.sh destroy $cluster >/dev/null 2>&1 || true
pg=$(scripts/postgres.sh start $cluster)
lite=$work/bench.sqlite
echo "PostGIS: $pg ($(psql -X -A -t -d "$pg" -c "SELECT postgis_lib_version()")), SpatiaLite: $lite; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

timed() { # LABEL COMMAND…: wall seconds and peak memory of the whole process
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
    read -r seconds kb <"$work/time"
    printf '%-44s %7.2f s  %6d MB\n' "$label" "$seconds" $((kb / 1024))
}

for db in "$lite" "$pg"; do
    name=$([[ $db == postgresql* ]] && echo PostGIS || echo SpatiaLite)
    timed "$name: import grids (271)" "$wangge" import grids --db "$db" GeoData/grids.geojson
    timed "$name: import households (216,000)" "$wangge" import households --db "$db" "$households"
done

province_pg=${pg%/wangge}/province
psql -X -q -d "$pg" -c "CREATE DATABASE province" >/dev/null
province_grids=${PROVINCE_GRIDS:-20000} province_households=${PROVINCE_HOUSEHOLDS:-1000000}
for db in "$work/province.sqlite" "$province_pg"; do
    name=$([[ $db == postgresql* ]] && echo PostGIS || echo SpatiaLite)
    timed "$name: sample province ($province_grids grids, $province_households households)" \
        sh -c '"$0" sample province --db "$1" --grids "$2" --households "$3" >"$4"' "$wangge" "$db" "$province_grids" "$province_households" "$work/province.out"
    # The households' import report (the last) ends with its seconds: "… (12.3 s)" or "…（12.3 秒）".
    seconds=$(grep -oE '[0-9.]+ ?(s\)|秒)' "$work/province.out" | tail -1 | grep -oE '^[0-9.]+')
    printf '%-44s %7.2f s  %6.0f rows/s\n' "$name: of which the households' import" "$seconds" "$(echo "$province_households / $seconds" | bc -l)"
done

cat >"$work/locate.lua" <<'LUA'
math.randomseed(20261127)
request = function()
    local lon, lat = 112.355 + (math.random() - 0.5) * 0.062, 28.842 + (math.random() - 0.5) * 0.054
    return wrk.format("GET", string.format("/v1/locate?lon=%.6f&lat=%.6f", lon, lat), { ["Authorization"] = TOKEN })
end
LUA
cat >"$work/items.lua" <<'LUA'
math.randomseed(20261127)
request = function()
    local lon, lat = 112.33 + math.random() * 0.04, 28.82 + math.random() * 0.04
    return wrk.format("GET", string.format("/collections/households/items?limit=50&bbox=%.5f,%.5f,%.5f,%.5f", lon, lat, lon + 0.01, lat + 0.01),
                      { ["Authorization"] = TOKEN })
end
LUA

start_server() { # DB PORT
    "$wangge" serve --db "$1" --port "$2" >"$work/serve-$2.log" 2>&1 &
    servers+=($!)
    for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.2; done
    echo "server on $2 did not start"; exit 1
}

bench() { # LABEL SCRIPT TOKEN PORT…
    local label=$1 script=$2 token=$3; shift 3
    sed "s|TOKEN|\"Bearer $token\"|" "$work/$script.lua" >"$work/run.lua"
    local outputs=()
    for port in "$@"; do
        wrk -t1 -c16 -d"${duration}s" --latency -s "$work/run.lua" "http://127.0.0.1:$port" >"$work/wrk-$port" 2>&1 &
        outputs+=($!)
    done
    wait "${outputs[@]}"
    local total=0 p99=""
    for port in "$@"; do
        total=$(awk -v t="$total" '/Requests\/sec/ {printf "%.0f", t + $2}' "$work/wrk-$port")
        p99="$p99 $(awk '/ 99%/ {print $2}' "$work/wrk-$port")"
        grep -q "Non-2xx" "$work/wrk-$port" && { echo "$label: non-2xx answers"; cat "$work/wrk-$port"; exit 1; }
    done
    printf '%-44s %7d requests/s  p99%s\n' "$label" "$total" "$p99"
}

lite_token=$("$wangge" token create --db "$lite" --role dispatcher --name bench 2>/dev/null)
pg_token=$("$wangge" token create --db "$pg" --role dispatcher --name bench 2>/dev/null)
start_server "$lite" 18501
start_server "$pg" 18502
start_server "$pg" 18503
for what in locate items; do
    bench "SpatiaLite, one server: $what" $what "$lite_token" 18501
    bench "PostGIS, one server: $what" $what "$pg_token" 18502
    bench "PostGIS, two servers at once: $what" $what "$pg_token" 18502 18503
done
