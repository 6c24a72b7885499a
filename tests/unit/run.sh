#!/usr/bin/env bash
# Run cmocka unit test binaries and sum their results.
#
#   tests/unit/run.sh DIR TEST...
#   RUNNER="valgrind --error-exitcode=99 ..." tests/unit/run.sh DIR TEST...
#
# Runs DIR/TEST for every TEST from the repository root (fixtures are found
# relative to it), shows each binary's output, and ends with exactly one line
# "N passed, N failed" counting cmocka test cases. A binary that exits non-zero
# without reporting a failed case (a crash, a sanitizer report, a leak) counts
# as one failed case. Exits non-zero on any failure or when no test ran.
# RUNNER, when set, is a command line (split on blanks) each binary runs under:
# `make valgrind` uses it, with --error-exitcode so a report counts as a failure.
set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 DIR TEST..." >&2
	exit 2
fi
dir=$1
shift
case $dir in
/*) ;;
*) dir=$PWD/$dir ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2

passed=0
failed=0
for t in "$@"; do
	bin=$dir/$t
	echo "=== $t"
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin: missing or not executable"
		failed=$((failed + 1))
		continue
	fi
	# shellcheck disable=SC2086 # RUNNER is a command line, split on purpose
	out=$(${RUNNER:-} "$bin" 2>&1 </dev/null)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "run.sh: $t exited with status $rc without reporting a failed test"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
