#!/bin/bash
# A short smoke run of every libFuzzer target (make fuzz runs them longer):
# each must execute and find nothing.
. "$(dirname "$0")/../lib.sh"

secs=${FUZZ_SMOKE_SECONDS:-4}
targets="validate config render secret dn snapshot table"
"$TOP/tests/fuzz/run" "$secs" $(for t in $targets; do echo "$TOP/build/fuzz/fuzz_$t"; done) \
    >"$T/fuzz.out" 2>&1
expect_eq "every fuzz target ran without a failure" 0 "$?"
cat "$T/fuzz.out"
for t in $targets; do
	expect_grep "fuzz_$t executed inputs" "^fuzz_$t: [1-9][0-9]* executions in ${secs}s, no failure" "$T/fuzz.out"
done
finish
