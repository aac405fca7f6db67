#!/usr/bin/env bash
# Benchmark, not a test: OGC API - Tiles of a generated province (release build,
# one keep-alive connection on loopback, one request at a time as a map's first
# paint is bounded by its slowest tile). Fetches every grids tile of zoom LOW
# (default 8) over the province, then a pan at city zoom CITY (default 12): a
# 4×3-tile viewport stepping one tile east PAN times (default 12); each set cold
# (first request after the server started), warm (from the tile cache), and
# revalidated (If-None-Match: 304). Beside them, the GeoJSON items of the same
# areas (/collections/grids/items?bbox=…). Prints median / p95 / max milliseconds
# and bytes. The province (GRIDS grids, default 20000, fixed seed) is generated
# once into var/bench-tiles. WANGGE (the binary) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
wangge=${WANGGE:-.build/release/wangge}
grids=${GRIDS:-20000}
low=${LOW:-8}
city=${CITY:-12}
pan=${PAN:-12}
[[ -x $wangge ]] || { echo "build first: make build"; exit 1; }
work=var/bench-tiles
mkdir -p "$work"
db="$work/province-$grids.sqlite"
if [[ ! -s $db ]]; then
    echo "== generating a province of $grids grids into $db"
    SECONDS=0
    "$wangge" sample province --db "$db" --grids "$grids" | tail -3
    echo "   in $SECONDS s"
fi
token=$("$wangge" token create --db "$db" --role viewer --name bench-tiles 2>/dev/null)
port=$((20000 + RANDOM % 20000))
server=""
trap '[[ -n $server ]] && kill $server 2>/dev/null' EXIT
"$wangge" serve --db "$db" --port "$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) · $(date -u +%Y-%m-%dT%H:%MZ) · $grids grids"
echo "reproduce: $wangge sample province --db $db --grids $grids"
echo "           $wangge serve --db $db --port $port"
echo "           GRIDS=$grids LOW=$low CITY=$city PAN=$pan scripts/bench-tiles.sh"
python3 - "$port" "$token" "$low" "$city" "$pan" <<'PY'
import http.client, json, math, statistics, sys, time
port, token, low, city, pan = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
auth = {"Authorization": f"Bearer {token}"}

def get(path, headers=None):
    start = time.perf_counter()
    connection.request("GET", path, headers={**auth, **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    return (time.perf_counter() - start) * 1000, response.status, body, response.getheader("ETag")

templates = {}
for collection in ("grids", "towns"):
    tileset = json.loads(get(f"/collections/{collection}/tiles/WebMercatorQuad")[2])
    limits = {l["tileMatrix"]: l for l in tileset["tileMatrixSetLimits"]}
    templates[collection] = "/" + next(l["href"] for l in tileset["links"] if l["rel"] == "item").split("/", 3)[3]
path_of = lambda collection, z, row, col: templates[collection].replace("{tileMatrix}", str(z)).replace("{tileRow}", str(row)).replace("{tileCol}", str(col))

def tiles_of(z):
    l = limits[str(z)]
    return [(z, row, col) for row in range(l["minTileRow"], l["maxTileRow"] + 1) for col in range(l["minTileCol"], l["maxTileCol"] + 1)]

def lon_lat(z, row, col):
    n = 2 ** z
    return col / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

def bbox(tiles):
    z = tiles[0][0]
    rows = [t[1] for t in tiles]; cols = [t[2] for t in tiles]
    west, north = lon_lat(z, min(rows), min(cols)); east, south = lon_lat(z, max(rows) + 1, max(cols) + 1)
    return f"{west:.6f},{south:.6f},{east:.6f},{north:.6f}"

def report(name, samples):
    times = sorted(s[0] for s in samples); sizes = sorted(len(s[2]) for s in samples)
    p95 = times[min(len(times) - 1, int(math.ceil(0.95 * len(times))) - 1)]
    statuses = {}
    for s in samples: statuses[s[1]] = statuses.get(s[1], 0) + 1
    print(f"{name:<40} {len(samples):>5} {statistics.median(times):>9.1f} {p95:>9.1f} {times[-1]:>9.1f} "
          f"{statistics.median(sizes):>10.0f} {sizes[-1]:>10} {sum(sizes):>12}  {' '.join(f'{k}×{v}' for k, v in sorted(statuses.items()))}")

def run(name, collection, tiles):
    cold = [get(path_of(collection, *t)) for t in tiles]
    warm = [get(path_of(collection, *t)) for t in tiles]
    again = [get(path_of(collection, *t), {"If-None-Match": w[3]}) for t, w in zip(tiles, warm)]
    report(f"{name} cold", cold); report(f"{name} warm", warm); report(f"{name} revalidated", again)
    return cold

print(f"{'':<40} {'n':>5} {'median ms':>9} {'p95 ms':>9} {'max ms':>9} {'median B':>10} {'max B':>10} {'total B':>12}  statuses")
everything = tiles_of(low)
run(f"grids tiles z{low} (all)", "grids", everything)
l = limits[str(city)]
centre_row, centre_col = (l["minTileRow"] + l["maxTileRow"]) // 2, (l["minTileCol"] + l["maxTileCol"]) // 2
viewports = [[(city, row, col) for row in range(centre_row - 1, centre_row + 2) for col in range(centre_col - 2 + step, centre_col + 2 + step)]
             for step in range(pan)]
seen, pan_tiles = set(), []
for viewport in viewports:
    for t in viewport:
        if t not in seen: seen.add(t); pan_tiles.append(t)
run(f"grids tiles z{city} pan ({pan} steps)", "grids", pan_tiles)
run(f"towns tiles z{low} (all)", "towns", everything)
geojson = [get(f"/collections/grids/items?bbox={bbox(v)}&limit=10000") for v in viewports]
report(f"GeoJSON items, each pan viewport", geojson)
report(f"GeoJSON items, z{low} extent", [get(f"/collections/grids/items?bbox={bbox(everything)}&limit=10000")])
PY
