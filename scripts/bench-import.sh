#!/usr/bin/env bash
# Benchmark, not a test: `wangge import households` end to end (the whole process,
# release build: read and check the CSV, convert, assign every household to its grid,
# write rows, assignments and the spatial index in one transaction) beside GDAL's
# `ogr2ogr -f SQLite -dsco SPATIALITE=YES` loading the same CSV into a new SpatiaLite
# file (points and attributes with a spatial index, no assignment), on the sample
# county's 216,000 households and on 695,000. Prints seconds (best of 3), rows/s and
# peak memory (/usr/bin/time -v). The files are generated once (fixed seed) under
# var/bench-import.
set -euo pipefail
cd "$(dirname "$0")/.."
wangge=.build/release/wangge
[[ -x $wangge ]] || { echo "build first: make build"; exit 1; }
command -v ogr2ogr >/dev/null || { echo "install gdal-bin (apt-get install gdal-bin)"; exit 1; }
[[ -x /usr/bin/time ]] || { echo "install GNU time (apt-get install time)"; exit 1; }
work=var/bench-import
mkdir -p "$work"
for n in 216000 695000; do
    if [[ ! -s $work/households-$n.csv ]]; then
        echo "== generating $n households (fixed seed) into $work"
        "$wangge" sample points --households "$n" --output-directory "$work/gen-$n" >/dev/null
        mv "$work/gen-$n/households.csv" "$work/households-$n.csv"
        rm -rf "$work/gen-$n"
    fi
done
rm -f "$work/grids.sqlite"*
"$wangge" import grids --db "$work/grids.sqlite" GeoData/grids.geojson >/dev/null

# Runs "$@" and prints "seconds peak_MB" (wall clock and maximum resident set, from GNU time).
measure() {
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >"$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }
    awk '{ printf "%s %d\n", $1, $2 / 1024 }' "$work/time.txt"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GB, load average $(cut -d' ' -f1-3 /proc/loadavg) · $(date -u +%Y-%m-%dT%H:%MZ)"
printf "%-8s %-10s %8s %8s %10s %8s %8s\n" rows tool seconds best rows/s peak_MB ×wangge
for n in 216000 695000; do
    declare -A best=() peak=()
    for round in 1 2 3; do
        for tool in wangge ogr2ogr; do
            rm -f "$work/run.sqlite"*
            if [[ $tool == wangge ]]; then
                cp "$work/grids.sqlite" "$work/run.sqlite"
                read -r seconds mb < <(measure "$wangge" import households --db "$work/run.sqlite" "$work/households-$n.csv")
                imported=$(sqlite3 "$work/run.sqlite" "SELECT count(*) FROM households")
            else
                read -r seconds mb < <(measure ogr2ogr -f SQLite -dsco SPATIALITE=YES -nln households -a_srs EPSG:4326 \
                    -oo X_POSSIBLE_NAMES=lon -oo Y_POSSIBLE_NAMES=lat -oo KEEP_GEOM_COLUMNS=NO "$work/run.sqlite" "$work/households-$n.csv")
                imported=$(sqlite3 "$work/run.sqlite" "SELECT count(*) FROM households")
            fi
            [[ $imported == "$n" ]] || { echo "$tool stored $imported rows of $n"; exit 1; }
            if [[ -z ${best[$tool]:-} ]] || awk -v a="$seconds" -v b="${best[$tool]}" 'BEGIN { exit !(a < b) }'; then
                best[$tool]=$seconds
            fi
            (( mb > ${peak[$tool]:-0} )) && peak[$tool]=$mb
            printf "%-8s %-10s %8s\n" "$n" "$tool" "$seconds"
        done
    done
    for tool in wangge ogr2ogr; do
        printf "%-8s %-10s %8s %8s %10.0f %8s %8.2f\n" "$n" "$tool" "" "${best[$tool]}" "$(awk -v n="$n" -v s="${best[$tool]}" 'BEGIN { print n / s }')" \
            "${peak[$tool]}" "$(awk -v a="${best[$tool]}" -v b="${best[wangge]}" 'BEGIN { print a / b }')"
    done
    unset best peak
done
rm -f "$work/run.sqlite"* "$work/out.txt" "$work/time.txt"
