#!/usr/bin/env bash
# Benchmark, not a test: wrk (one thread) on loopback against `wangge serve`
# (release build). GET /v1/locate with a dispatcher's token at 16 and 64
# connections, for points near the county seat and for points 30–40 km outside
# the county, beside the same server's 401 answer to requests without a token
# (its ceiling: no token, no lookup); then the same locate while
# `wangge import households` writes the generated file into the same database.
# Needs `make demo` first (var/wangge.sqlite, GeoData/generated) and Debian's wrk.
# DURATION (seconds a run, default 10), CONNECTIONS ("16 64") and WANGGE (the
# binary, to compare builds) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)"; exit 1; }
wangge=${WANGGE:-.build/release/wangge}
db=${DB:-var/wangge.sqlite}
households=GeoData/generated/households.csv
duration=${DURATION:-10}
connections=${CONNECTIONS:-16 64}
[[ -s $db ]] || { echo "$db is missing: run make demo first"; exit 1; }
[[ -s $households ]] || { echo "$households is missing: run make demo first"; exit 1; }
work=$(mktemp -d)
server="" importer=""
trap '[[ -n $importer ]] && kill $importer 2>/dev/null; [[ -n $server ]] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
cp "$db" "$work/bench.sqlite"
token=$("$wangge" token create --db "$work/bench.sqlite" --role dispatcher --name bench 2>/dev/null)
port=$((20000 + RANDOM % 20000))
"$wangge" serve --db "$work/bench.sqlite" --port "$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

# Points: within 3 km of the county seat (112.355, 28.842), or 30–40 km beyond the
# county's extent (112.24–112.94, 28.71–29.19) on a random side (about 97 km a
# degree of longitude and 111 km a degree of latitude here).
script() { # NAME AUTHORIZATION-HEADER-OR-EMPTY
    local header=""
    [[ -n $2 ]] && header="[\"Authorization\"] = \"$2\""
    cat > "$work/$1.lua" <<LUA
math.randomseed(20261126)
local kind = "$1"
request = function()
    local lon, lat
    if kind == "outside" then
        local km, side = 30 + math.random() * 10, math.random(4)
        if side == 1 then lon, lat = 112.94 + km / 97, 28.71 + math.random() * 0.48
        elseif side == 2 then lon, lat = 112.24 - km / 97, 28.71 + math.random() * 0.48
        elseif side == 3 then lon, lat = 112.24 + math.random() * 0.70, 29.19 + km / 111
        else lon, lat = 112.24 + math.random() * 0.70, 28.71 - km / 111 end
    else
        lon, lat = 112.355 + (math.random() - 0.5) * 0.062, 28.842 + (math.random() - 0.5) * 0.054
    end
    return wrk.format("GET", string.format("/v1/locate?lon=%.6f&lat=%.6f", lon, lat), { $header })
end
LUA
}
script inside "Bearer $token"
script outside "Bearer $token"
script unauthorized ""

# The server's CPU time so far, in clock ticks (user + system).
server_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }

# wrk's requests/s and p99 for one run, the server's CPU time per request
# (a figure that other load on the machine disturbs less), and wrk's socket errors if any.
run() { # SCRIPT CONNECTIONS [EXPECTED-STATUS]
    local before after
    before=$(server_ticks)
    wrk -t1 -c"$2" -d"${duration}s" --latency -s "$work/$1.lua" "http://127.0.0.1:$port" > "$work/wrk.txt"
    after=$(server_ticks)
    if [[ ${3:-200} == 200 ]] && grep -q "Non-2xx" "$work/wrk.txt"; then echo "some requests failed:"; cat "$work/wrk.txt"; exit 1; fi
    local errors
    errors=$(awk '/Socket errors/ {gsub(",", ""); print "socket errors: connect " $4 ", read " $6 ", write " $8 ", timeout " $10}' "$work/wrk.txt")
    printf '%10.0f %8s %8.0f %s' "$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")" "$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")" \
        "$(awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '/requests in/ {print ticks * 1e6 / hz / $1}' "$work/wrk.txt")" "$errors"
}

wrk -t1 -c8 -d3s -s "$work/inside.lua" "http://127.0.0.1:$port" >/dev/null # warm up
wrk -t1 -c8 -d3s -s "$work/outside.lua" "http://127.0.0.1:$port" >/dev/null
echo "wrk -t1, ${duration} s a run, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start;"
echo "CPU µs: the server's CPU time (user + system) per request"
printf '%-44s %5s %10s %8s %8s\n' "GET /v1/locate" "conns" "req/s" "p99" "CPU µs"
for c in $connections; do
    printf '%-44s %5s %s\n' "dispatcher token, near the county seat" "$c" "$(run inside "$c")"
    printf '%-44s %5s %s\n' "dispatcher token, 30-40 km outside" "$c" "$(run outside "$c")"
    printf '%-44s %5s %s\n' "no token (401: the ceiling)" "$c" "$(run unauthorized "$c" 401)"
done
# The same locates answered by the router (server.locates_on_event_loop: false), in the same run.
router_config="$work/router.yaml"
sed 's/^  locates_on_event_loop: true$/  locates_on_event_loop: false/' Config/wangge.yaml >"$router_config"
grep -q "^  locates_on_event_loop: false" "$router_config" || { echo "Config/wangge.yaml has no server.locates_on_event_loop: true"; exit 1; }
kill "$server"; wait "$server" 2>/dev/null || true
"$wangge" serve --db "$work/bench.sqlite" --config "$router_config" --port "$port" >"$work/serve-router.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
wrk -t1 -c8 -d3s -s "$work/inside.lua" "http://127.0.0.1:$port" >/dev/null # warm up
for c in $connections; do
    printf '%-44s %5s %s\n' "near the seat, answered by the router" "$c" "$(run inside "$c")"
    printf '%-44s %5s %s\n' "30-40 km outside, answered by the router" "$c" "$(run outside "$c")"
done
kill "$server"; wait "$server" 2>/dev/null || true
"$wangge" serve --db "$work/bench.sqlite" --port "$port" >>"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

# While an import writes (WAL: readers do not wait for the writer).
timed_import() { # writes the import's milliseconds to $work/import.ms
    local start end
    start=$(date +%s%N)
    "$wangge" import households --db "$work/bench.sqlite" "$households" >"$work/import.log" 2>&1
    end=$(date +%s%N)
    echo $(((end - start) / 1000000)) >"$work/import.ms"
}
for c in $connections; do
    timed_import &
    importer=$!
    sleep 0.5
    result=$(run inside "$c")
    still=yes; kill -0 "$importer" 2>/dev/null || still=no
    wait "$importer" || { echo "the import failed:"; cat "$work/import.log"; exit 1; }
    importer=""
    printf '%-44s %5s %s   (the import took %s ms; still running when wrk stopped: %s)\n' \
        "near the seat, while import households runs" "$c" "$result" "$(cat "$work/import.ms")" "$still"
done
