#!/bin/bash
# A small-size smoke run of the benchmark generator and harness (make bench
# runs the real sizes): 300 users, 3 watch modifications. It checks that the
# harness produces every figure and that a no-op sync writes nothing and does
# not reload; it asserts no speed.
. "$(dirname "$0")/../lib.sh"

BENCH_OUT=$T/bench BENCH_SIZES=300 WATCH_MODS=3 "$TOP/tests/bench/run.sh" >"$T/bench.log" 2>&1
expect_eq "the benchmark harness runs at a small size" 0 "$?"
R=$T/bench/results.json
check "it wrote results.json" test -s "$R"
fields=$(/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["sizes"][0]
need = ["users", "routes", "full_s", "floor_s", "search_s", "postmap_s", "full_rss_kib", "noop_s",
        "noop_wrote_generation", "noop_reloaded", "incremental_noop_s", "change100_s",
        "change100_rss_kib", "change100_wrote_generation", "watch_p50_s", "watch_p99_s",
        "watch_max_s", "full_over_floor", "noop_over_search", "change100_over_search"]
print(" ".join(k for k in need if k not in r))' "$R")
expect_eq "every figure is there" "" "$fields"
expect_eq "the generator made 300 users with routes" "300 yes" \
    "$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["sizes"][0]; print(r["users"], "yes" if r["routes"] > 100 else "no")' "$R")"
expect_eq "a no-op sync wrote no generation and did not reload" "no no" \
    "$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["sizes"][0]; print(r["noop_wrote_generation"], r["noop_reloaded"])' "$R")"
expect_no_grep "every watch modification became visible" 'not updated after' "$T/bench.log"
expect_no_grep "the run after 100 changes was incremental" 'was not incremental' "$T/bench.log"
expect_eq "... and installed a new generation" yes \
    "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sizes"][0]["change100_wrote_generation"])' "$R")"
expect_grep "it prints the table" '^\| users \| routes \| full s' "$T/bench.log"
finish
