#!/bin/sh
# run_all.sh BUILD_DIR - the cmocka unit tests, then the black-box tests
# against BUILD_DIR/mailport; the last line is "N passed, N failed" (sums).
# Exit status 0 only if nothing failed.  Extra arguments are passed to
# tests/blackbox/run.py (a test name filter).
set -u
cd "$(dirname "$0")/.." || exit 1
build=${1:?usage: run_all.sh BUILD_DIR [FILTER...]}
shift
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS UBSAN_OPTIONS

case $build in
/*) bin=$build/mailport ;;
*) bin=$(pwd)/$build/mailport ;;
esac

log=$(mktemp)
rcf=$(mktemp)
trap 'rm -f "$log" "$rcf"' EXIT INT TERM

# (POSIX sh has no pipefail: the exit status goes through a file)
{ tests/run_unit.sh "$build"; echo $? >"$rcf"; } 2>&1 | tee "$log"
urc=$(cat "$rcf")
line=$(grep '^unit: [0-9]* passed, [0-9]* failed$' "$log" | tail -n 1)
up=$(echo "$line" | sed -n 's/^unit: \([0-9]*\) passed.*/\1/p')
uf=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
if [ -z "$line" ]; then
	echo "run_all: no summary from run_unit.sh: counted as 1 failed"
	up=0
	uf=1
fi

{ MAILPORT_BIN=$bin /usr/bin/python3 tests/blackbox/run.py "$@"; echo $? >"$rcf"; } 2>&1 | tee "$log"
brc=$(cat "$rcf")
line=$(tail -n 1 "$log")
bp=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, [0-9]* failed$/\1/p')
bf=$(echo "$line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p')
if [ -z "$bp" ] || [ -z "$bf" ]; then
	echo "run_all: no summary from tests/blackbox/run.py: counted as 1 failed"
	bp=0
	bf=1
fi

passed=$((up + bp))
failed=$((uf + bf))
[ "$failed" -eq 0 ] && { [ "$urc" -ne 0 ] || [ "$brc" -ne 0 ]; } && failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
