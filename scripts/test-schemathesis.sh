#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI) generates requests for every
# operation of /openapi.json on a live `wangge serve`, with a token of each
# role, and checks that no request gets a server error and that every
# response (status, content type, body) matches the document.
# One worker: hypothesis describes strategies with ast.parse, which is not
# thread-safe in CPython 3.11 (a "recursion depth mismatch" error).
# EXAMPLES (default 25) bounds the cases per operation and role; `make fuzz` raises it.
set -euo pipefail
cd "$(dirname "$0")/.."
wangge=${WANGGE:-.build/debug/wangge}
examples=${EXAMPLES:-25}
seed=${SEED:-$RANDOM}
command -v schemathesis >/dev/null || python3 -m pip install -q "schemathesis==4.32.5" 2>&1 | grep -v "WARNING: Running pip as" || true
work=$(mktemp -d)
server=""
trap '[[ -n $server ]] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
db="$work/api.sqlite"
"$wangge" import grids --db "$db" GeoData/grids.geojson >/dev/null
awk 'BEGIN { srand(7); print "id,lon,lat,address,head,phone,id_number,members,tags"; for (i = 0; i < 400; i++) printf "H%d,%.6f,%.6f,沅江市某路%d号,户主%d,1380000%04d,43098119800101%04d,%d,%s\n", i, 112.30 + rand() * 0.55, 28.75 + rand() * 0.38, i, i, i, i, 1 + i % 5, (i % 7 == 0 ? "独居老人" : "") }' > "$work/h.csv"
awk 'BEGIN { srand(8); print "id,lon,lat,type,name,heading_deg,fov_deg,range_m,status"; for (i = 0; i < 60; i++) printf "C%d,%.6f,%.6f,雪亮,摄像头%d,%d,60,80,online\n", i, 112.30 + rand() * 0.55, 28.75 + rand() * 0.38, i, i * 37 % 360 }' > "$work/c.csv"
awk 'BEGIN { srand(9); print "id,lon,lat,category,channel,severity,reported_at,description,reporter"; for (i = 0; i < 80; i++) printf "E%d,%.6f,%.6f,矛盾纠纷,12345,一般,2026-11-%02dT09:00:00+08:00,邻里纠纷,报告人%d\n", i, 112.33 + rand() * 0.3, 28.80 + rand() * 0.2, 1 + i % 25, i }' > "$work/e.csv"
"$wangge" import households --db "$db" "$work/h.csv" >/dev/null
"$wangge" import cameras --db "$db" "$work/c.csv" >/dev/null
"$wangge" import incidents --db "$db" "$work/e.csv" >/dev/null
grid=$("$wangge" grids --db "$db" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["code"])')
declare -A tokens
for role in admin planner dispatcher grid_worker viewer; do
    extra=()
    [[ $role == grid_worker ]] && extra=(--grids "$grid")
    tokens[$role]=$("$wangge" token create --db "$db" --role "$role" --name "schemathesis-$role" "${extra[@]}" 2>/dev/null)
done
port=$((20000 + RANDOM % 20000))
"$wangge" serve --db "$db" --port "$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
passed=0; failed=0; requests=0
# The admin last: its run may revoke tokens (DELETE /v1/tokens/{id}), the other roles' among them.
for role in planner dispatcher grid_worker viewer admin; do
    report="$work/$role.ndjson"
    if schemathesis run "http://127.0.0.1:$port/openapi.json" \
        --header "Authorization: Bearer ${tokens[$role]}" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
        --max-examples "$examples" --seed "$seed" --workers 1 --no-color --request-timeout 20 \
        --generation-database none --suppress-health-check all \
        --report ndjson --report-ndjson-path "$report" >"$work/$role.log" 2>&1; then
        passed=$((passed + 1)); result=ok
    else
        failed=$((failed + 1)); result=FAILED
    fi
    cases=$(python3 - "$report" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    event = json.loads(line)
    finished = event.get("ScenarioFinished")
    if finished:
        n += len((finished.get("recorder") or {}).get("interactions") or {})
print(n)
PY
)
    requests=$((requests + cases))
    echo "$result: schemathesis as $role: $cases requests ($(grep -A1 '^Test cases:' "$work/$role.log" | tail -1 | sed 's/^ *//'))"
    [[ $result == ok ]] || grep -v "^\s*$" "$work/$role.log" | grep -v "^  - \(GET\|POST\) " | tail -70
done
echo "schemathesis: $requests requests over 5 roles (seed $seed, $examples examples per operation)"
echo "schemathesis: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
