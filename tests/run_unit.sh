#!/bin/sh
# run_unit.sh BUILD_DIR - run every BUILD_DIR/tests/test_* cmocka binary.
#
# Counts cmocka's "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"
# lines; a binary that crashes, times out or exits non-zero without a
# FAILED line (a sanitizer report, a leak) counts as 1 failed.  Prints each
# binary's output, then "unit: N passed, N failed".  Exit 1 on failures.
set -u
build=${1:?usage: run_unit.sh BUILD_DIR}
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=0}"
: "${UBSAN_OPTIONS:=halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS UBSAN_OPTIONS

passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM

for t in "$build"/tests/test_*; do
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then
		continue
	fi
	echo "=== $t"
	if command -v timeout >/dev/null 2>&1; then
		timeout 300 "$t" >"$out" 2>&1
	else
		"$t" >"$out" 2>&1
	fi
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
	nf=$(grep -c '^\[  FAILED  \] [0-9][0-9]* test(s)' "$out")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		echo "=== $t: exit status $rc without a FAILED line: counted as 1 failed"
		failed=$((failed + 1))
	fi
done

echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
