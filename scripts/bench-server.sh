#!/usr/bin/env bash
# Benchmark, not a test: wrk on loopback against `wangge serve` (release build),
# GET /v1/locate at random points of the sample county. Needs `make demo` first
# (var/wangge.sqlite) and Debian's wrk. Prints requests/s and the latency spread.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)"; exit 1; }
wangge=.build/release/wangge
db=${DB:-var/wangge.sqlite}
[[ -s $db ]] || { echo "$db is missing: run make demo first"; exit 1; }
work=$(mktemp -d)
server=""
trap '[[ -n $server ]] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
cp "$db" "$work/bench.sqlite"
token=$("$wangge" token create --db "$work/bench.sqlite" --role dispatcher --name bench 2>/dev/null)
port=$((20000 + RANDOM % 20000))
"$wangge" serve --db "$work/bench.sqlite" --port "$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
cat > "$work/locate.lua" <<LUA
-- Random points over the county's extent (about 1 in 3 falls outside it).
math.randomseed(20261121)
request = function()
    local lon = 112.24 + math.random() * 0.70
    local lat = 28.71 + math.random() * 0.48
    return wrk.format("GET", string.format("/v1/locate?lon=%.6f&lat=%.6f", lon, lat),
                      { ["Authorization"] = "Bearer $token" })
end
LUA
wrk -t1 -c8 -d3s -s "$work/locate.lua" "http://127.0.0.1:$port" >/dev/null # warm up
wrk -t1 -c${CONNECTIONS:-16} -d${DURATION:-15}s --latency -s "$work/locate.lua" "http://127.0.0.1:$port" | tee "$work/wrk.txt"
grep -q "Non-2xx" "$work/wrk.txt" && { echo "some requests failed"; exit 1; } || true
