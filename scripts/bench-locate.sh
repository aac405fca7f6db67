#!/usr/bin/env bash
# Benchmark, not a test: `wangge locate --input` end to end (CSV in → CSV out,
# the whole process, release build) on three generated point files of the
# sample county, beside DuckDB spatial and GeoPandas `sjoin` on the same CSVs.
# Prints points/s, the ratio to wangge, peak memory (/usr/bin/time -v) and
# whether the grids agree with wangge's, id by id. The point files are made
# once (fixed seed) under var/bench-locate; Python packages go in a venv
# under .build (PyPI: duckdb with duckdb-extension-spatial, geopandas).
set -euo pipefail
cd "$(dirname "$0")/.."
wangge=.build/release/wangge
[[ -x $wangge ]] || { echo "build first: make build"; exit 1; }
[[ -x /usr/bin/time ]] || { echo "install GNU time (apt-get install time)"; exit 1; }
work=var/bench-locate
mkdir -p "$work"
venv=${BENCH_VENV:-.build/bench-venv}
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import geopandas, duckdb" 2>/dev/null; then
    echo "== installing duckdb, duckdb-extension-spatial, geopandas into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "duckdb==1.5.5" geopandas pyogrio >/dev/null
    # The spatial extension as a wheel of its own, matching duckdb's version.
    "$venv/bin/pip" install -q "duckdb-extension-spatial==1.5.5" >/dev/null || true
fi
py=$venv/bin/python

# The point files: 2M uniform over the grids' union, 2M uniform over their
# bounding box, 1M of which 69% lie 1–60 km outside the county.
if [[ ! -s $work/far.csv ]]; then
    echo "== generating the point files (fixed seed) into $work"
    "$py" - "$work" <<'PY'
import sys, json, numpy as np, shapely
from shapely.geometry import shape
work = sys.argv[1]
grids = [shape(f["geometry"]) for f in json.load(open("GeoData/grids.geojson"))["features"]]
county = shapely.union_all(grids)
shapely.prepare(county)
minx, miny, maxx, maxy = county.bounds
rng = np.random.default_rng(20261126)

def inside(n):
    out = []
    while sum(len(a) for a in out) < n:
        x = rng.uniform(minx, maxx, 2 * n); y = rng.uniform(miny, maxy, 2 * n)
        keep = shapely.contains_xy(county, x, y)
        out.append(np.column_stack([x[keep], y[keep]]))
    return np.concatenate(out)[:n]

def far(n):
    # Local metres (equirectangular at the county's latitude): good enough to place points 1–60 km out.
    lat0 = np.radians((miny + maxy) / 2)
    kx, ky = 111_320 * np.cos(lat0), 110_574
    projected = shapely.transform(county, lambda c: np.column_stack([c[:, 0] * kx, c[:, 1] * ky]))
    shapely.prepare(projected)
    # The boundary's segments in a tree: nearest-segment queries, not a scan of every vertex per point.
    rings = [np.asarray(r.coords) for r in shapely.get_rings(projected)]
    segments = shapely.linestrings(np.concatenate([np.stack([r[:-1], r[1:]], axis=1) for r in rings]))
    tree = shapely.STRtree(segments)
    out = []
    while sum(len(a) for a in out) < n:
        x = rng.uniform(minx - 0.7, maxx + 0.7, 2 * n); y = rng.uniform(miny - 0.6, maxy + 0.6, 2 * n)
        points = shapely.points(x * kx, y * ky)
        (which, _), d = tree.query_nearest(points, return_distance=True, all_matches=False)
        d[shapely.contains_xy(projected, x * kx, y * ky)] = 0
        keep = (d >= 1_000) & (d <= 60_000)
        out.append(np.column_stack([x[keep], y[keep]]))
    return np.concatenate(out)[:n]

def write(name, xy, prefix):
    ids = np.char.add(prefix, np.arange(len(xy)).astype(str))
    np.savetxt(f"{work}/{name}.csv", np.column_stack([ids, np.char.mod("%.7f", xy[:, 0]), np.char.mod("%.7f", xy[:, 1])]),
               fmt="%s", delimiter=",", header="id,lon,lat", comments="")

union = inside(2_000_000)
box = np.column_stack([rng.uniform(minx, maxx, 2_000_000), rng.uniform(miny, maxy, 2_000_000)])
mix = np.concatenate([inside(310_000), far(690_000)])
write("union", union, "u")
write("bbox", box, "b")
rng.shuffle(mix)
write("far", mix, "f")
PY
fi

db=$work/grids.sqlite
[[ -s $db ]] || $wangge import grids --db "$db" GeoData/grids.geojson >/dev/null

# Runs a command with its standard output to a file: wall seconds (bash's
# clock) into $seconds, GNU time's report (peak memory) into the log.
measure() {
    local log=$1 out=$2; shift 2
    local start=$EPOCHREALTIME
    /usr/bin/time -v "$@" 2>"$log" >"$out" || { cat "$log"; exit 1; }
    seconds=$(echo "$EPOCHREALTIME - $start" | bc -l)
}
megabytes_of() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }

cat > "$work/duckdb_join.py" <<'PY'
# DuckDB spatial, end to end: read the CSV, point in polygon against the grids, write id,grid.
import glob, os, sys, duckdb, duckdb_extension_spatial
points, out = sys.argv[1], sys.argv[2]
# The extension comes in the PyPI wheel: load it from there (INSTALL would need the network).
extension = glob.glob(os.path.join(os.path.dirname(duckdb_extension_spatial.__file__), "extensions", "*", "spatial.duckdb_extension"))[0]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"LOAD '{extension}'")
con.execute("CREATE TABLE grids AS SELECT code, geom FROM ST_Read('GeoData/grids.geojson')")
con.execute(f"""COPY (SELECT p.id, g.code AS grid FROM read_csv('{points}', columns = {{'id': 'VARCHAR', 'lon': 'DOUBLE', 'lat': 'DOUBLE'}}, header = true) p
                LEFT JOIN grids g ON ST_Contains(g.geom, ST_Point(p.lon, p.lat))) TO '{out}' (HEADER)""")
PY
cat > "$work/geopandas_join.py" <<'PY'
# GeoPandas, end to end: read the CSV, sjoin (within) against the grids, write id,grid.
import sys, pandas as pd, geopandas as gpd
points, out = sys.argv[1], sys.argv[2]
grids = gpd.read_file("GeoData/grids.geojson")[["code", "geometry"]]
df = pd.read_csv(points, dtype={"id": str})
pts = gpd.GeoDataFrame(df[["id"]], geometry=gpd.points_from_xy(df.lon, df.lat), crs=grids.crs)
joined = gpd.sjoin(pts, grids, how="left", predicate="within")
joined[["id", "code"]].rename(columns={"code": "grid"}).to_csv(out, index=False)
PY
cat > "$work/agree.py" <<'PY'
# Grid per id: wangge's inside/boundary answers against another tool's point-in-polygon grid.
import sys, pandas as pd
ours = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
theirs = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False).drop_duplicates("id")
ours = ours.assign(grid=ours.grid.where(ours.method.isin(["inside", "boundary"]), ""))
both = ours.merge(theirs, on="id", how="left", suffixes=("", "_other")).fillna("")
differ = int((both.grid != both.grid_other).sum())
print("agree" if differ == 0 and len(both) == len(ours) else f"{differ} of {len(both)} differ")
PY

duckdb_ok=1
"$py" -c "import duckdb, duckdb_extension_spatial" 2>/dev/null || { duckdb_ok=0; echo "DuckDB spatial is not installed from PyPI here: only GeoPandas is compared"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), $(uname -sr) · $(date -u +%F)"
printf '%-7s %-10s %9s %8s %14s %8s %8s  %s\n' file tool points seconds points/s "×wangge" "peak MB" "grids vs wangge"
for name in union bbox far; do
    file=$work/$name.csv
    points=$(( $(wc -l <"$file") - 1 ))
    # Best of three: the machine is shared.
    ours=""
    for _ in 1 2 3; do
        measure "$work/time-wangge.txt" "$work/$name-wangge.csv" $wangge locate --db "$db" --input "$file"
        if [[ -z $ours ]] || (( $(echo "$seconds < $ours" | bc -l) )); then ours=$seconds; cp "$work/time-wangge.txt" "$work/best-wangge.txt"; fi
    done
    printf '%-7s %-10s %9d %8.2f %14.0f %8s %8s  %s\n' "$name" wangge "$points" "$ours" "$(echo "$points / $ours" | bc -l)" 1.0 \
        "$(megabytes_of "$work/best-wangge.txt")" "-"
    tools=(geopandas)
    ((duckdb_ok)) && tools=(duckdb geopandas)
    for tool in "${tools[@]}"; do
        measure "$work/time-$tool.txt" /dev/null "$py" "$work/${tool}_join.py" "$file" "$work/$name-$tool.csv"
        theirs=$seconds
        printf '%-7s %-10s %9d %8.2f %14.0f %8.2f %8s  %s\n' "$name" "$tool" "$points" "$theirs" "$(echo "$points / $theirs" | bc -l)" \
            "$(echo "$theirs / $ours" | bc -l)" "$(megabytes_of "$work/time-$tool.txt")" \
            "$("$py" "$work/agree.py" "$work/$name-wangge.csv" "$work/$name-$tool.csv")"
    done
done
