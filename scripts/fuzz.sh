#!/usr/bin/env bash
# Coverage-guided fuzzing of the file parsers a user's files reach (GeoJSON,
# CSV, WKB, the YAML configuration) with libFuzzer and AddressSanitizer.
#   scripts/fuzz.sh [SECONDS]   each target SECONDS (default 20: the test command);
#                               `make fuzz` runs 600 and merges new finds into the corpus.
# The test command builds the fuzzer in debug (2 minutes from a clean clone instead of
# 5.5 for release; about as many inputs a second, GEOS and SQLite being the same);
# `make fuzz` sets FUZZ_CONFIGURATION=release for its long campaign.
# The corpus lives in Tests/Fixtures/fuzz/TARGET; the test command also
# replays it without the sanitizer (wangge-fuzz TARGET FOLDER).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
merge=${MERGE:-no}
scratch=.build-fuzz
configuration=${FUZZ_CONFIGURATION:-debug}
# The saved corpus first, through the ordinary build (no sanitizer): every input ever found stays a test.
for corpus in Tests/Fixtures/fuzz/*/; do
    .build/debug/wangge-fuzz "$(basename "$corpus")" "$corpus"
done
swift build -c "$configuration" --product wangge-fuzz --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING 2>&1 \
    | grep -E "error|warning: .*Sources/|Compiling WanggeFuzz|Build complete" || true
fuzzer="$scratch/$configuration/wangge-fuzz"
[[ -x $fuzzer ]] || { echo "fuzz: the fuzzer did not build"; exit 1; }
passed=0; failed=0; total=0
for corpus in Tests/Fixtures/fuzz/*/; do
    corpus=${corpus%/}
    target=$(basename "$corpus")
    found=$(mktemp -d)
    log=$(mktemp)
    # New inputs go to the first folder, so the repository's corpus is only read.
    if WANGGE_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=scripts/lsan-suppressions.txt "$fuzzer" "$found" "$corpus" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$found/crash-" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        total=$((total + ${runs:-0}))
        passed=$((passed + 1))
        echo "ok: fuzz $target: ${runs:-?} inputs in ${seconds} s, $(ls "$found" | wc -l) new corpus entries, no crash"
        if [[ $merge == yes ]]; then
            WANGGE_FUZZ_TARGET=$target "$fuzzer" -merge=1 "$corpus" "$found" >/dev/null 2>&1
        fi
    else
        failed=$((failed + 1))
        echo "FAILED: fuzz $target: a crash, leak or timeout; the input is kept in $found (replay: wangge-fuzz $target FILE)"
        # The sanitizer's whole report (every stack of a leak, not its last frames), then libFuzzer's end.
        sed -n '/==[0-9]*==ERROR/,/^SUMMARY/p' "$log" | head -400
        grep -E "Fatal error" "$log" | head -5
        tail -12 "$log"
        continue
    fi
    rm -rf "$found" "$log"
done
echo "fuzz: $total inputs over $((passed + failed)) parsers, ${seconds} s each"
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
