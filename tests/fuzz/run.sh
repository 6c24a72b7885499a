#!/usr/bin/env bash
# Short libFuzzer runs: tests/fuzz/run.sh SECONDS NAME...
#
# Runs bin/fuzz/NAME for SECONDS each (-max_len=65536 -rss_limit_mb=2048) on a
# scratch copy of tests/fuzz/corpus/NAME under .work/fuzz/NAME, so the
# committed corpus never grows. A fuzzer passes when it ran its time without a
# crash, sanitizer report, leak, timeout or out-of-memory; findings are kept
# in .work/fuzz/NAME/artifacts. Ends with exactly one line "N passed, N
# failed" (one per fuzzer) and exits non-zero on any failure or if none ran.
set -u

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
	echo "usage: $0 SECONDS NAME..." >&2
	exit 2
fi
secs=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2

# UBSan in the fuzz build would otherwise report and carry on
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

passed=0
failed=0
for name in "$@"; do
	bin=$root/bin/fuzz/$name
	work=$root/.work/fuzz/$name
	echo "=== $name (${secs}s)"
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin: missing or not executable"
		failed=$((failed + 1))
		continue
	fi
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -R "tests/fuzz/corpus/$name/." "$work/corpus/"
	else
		echo "run.sh: no seed corpus tests/fuzz/corpus/$name (starting empty)"
	fi
	"$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=30 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
		</dev/null >"$work/log" 2>&1
	rc=$?
	findings=$(find "$work/artifacts" -type f | wc -l)
	if [ "$rc" -eq 0 ] && [ "$findings" -eq 0 ]; then
		grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' \
			"$work/log"
		echo "$name: ok"
		passed=$((passed + 1))
	else
		cat "$work/log"
		echo "$name: FAILED (exit $rc, $findings finding(s) in $work/artifacts)"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
