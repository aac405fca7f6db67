#!/usr/bin/env bash
# Drives `wangge map -i` in tmux as a user would (send-keys, capture-pane) and
# checks what the screen shows, that resize redraws, and that q and Ctrl-C
# leave the terminal exactly as it was. Run by `make test` after swift test.
# The map speaks Chinese, as the shipped configuration says (language: zh).
set -euo pipefail
cd "$(dirname "$0")/.."
wangge=${WANGGE:-.build/debug/wangge}
command -v tmux >/dev/null || { echo "map-interactive: tmux is not installed (scripts/setup.sh installs it)"; exit 1; }
work=$(mktemp -d)
session="wangge-map-test-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

# A small county: the sample grids and 3,000 households at fixed pseudo-random places.
"$wangge" import grids --db "$work/map.sqlite" GeoData/grids.geojson >/dev/null
awk 'BEGIN { srand(7); print "id,lon,lat,members"; for (i = 0; i < 3000; i++) printf "H%d,%.6f,%.6f,%d\n", i, 112.25 + rand() * 0.69, 28.71 + rand() * 0.47, 1 + i % 5 }' > "$work/h.csv"
"$wangge" import households --db "$work/map.sqlite" "$work/h.csv" >/dev/null

passed=0
failed=0
check() { # description, pattern: the pattern must appear on screen within 30 s
    local description=$1 pattern=$2
    for _ in $(seq 1 60); do
        if tmux capture-pane -p -t "$session" | grep -q -- "$pattern"; then
            passed=$((passed + 1)); echo "ok: $description"; return
        fi
        sleep 0.5
    done
    failed=$((failed + 1)); echo "FAILED: $description (no \"$pattern\" on screen)"
    tmux capture-pane -p -t "$session" | sed 's/^/    | /'
}
same_terminal() { # description: stty settings after equal those before
    for _ in $(seq 1 60); do [[ -s $work/after ]] && break; sleep 0.5; done
    if [[ -s $work/after ]] && cmp -s "$work/before" "$work/after" && grep -q "exit=0" "$work/after.status"; then
        passed=$((passed + 1)); echo "ok: $1"
    else
        failed=$((failed + 1)); echo "FAILED: $1"; cat "$work/before" "$work/after" "$work/after.status" 2>/dev/null | sed 's/^/    | /'
    fi
}
start() {
    rm -f "$work/before" "$work/after" "$work/after.status"
    tmux kill-session -t "$session" 2>/dev/null || true
    tmux new-session -d -s "$session" -x 100 -y 32 \
        "stty -g > $work/before; $wangge map -i --db $work/map.sqlite; echo exit=\$? > $work/after.status; stty -g > $work/after; sleep 60"
}

start
check "the county map and the key help appear" "Tab 网格  Enter 详情"
check "the title names the county view and metric" "全域 · 13 个乡镇 · 271 个网格 · 户数"
tmux send-keys -t "$session" Tab Enter
check "Tab then Enter shows the selected grid's worker" "网格员："
tmux send-keys -t "$session" Escape m
check "m switches the metric to residents" "271 个网格 · 常住人口"
tmux send-keys -t "$session" /
check "/ opens the search prompt" "查找网格（编码或名称）"
tmux send-keys -t "$session" "平华村第二网格" Enter
tmux send-keys -t "$session" Enter
check "search jumps to a grid by its Chinese name" "平华村第二网格  430981-005-004-002"
tmux send-keys -t "$session" Escape l
check "l shows the camera layer in the legend" "⠿ 摄像头"
tmux resize-window -t "$session" -x 80 -y 24
sleep 1
if [[ $(tmux capture-pane -p -t "$session" | sed -n 24p | grep -c "平移") -eq 1 ]]; then
    passed=$((passed + 1)); echo "ok: a resize redraws the map at the new size"
else
    check "a resize redraws the map at the new size" "平移"
fi
tmux send-keys -t "$session" q
same_terminal "q quits and restores the terminal mode"

start
check "the map starts again" "Tab 网格"
tmux send-keys -t "$session" C-c
same_terminal "Ctrl-C quits and restores the terminal mode"

echo "map-interactive: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
