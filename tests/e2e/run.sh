#!/usr/bin/env bash
# Run the end-to-end tests against one fresh local control plane.
#   tests/e2e/run.sh                  every tests/e2e/test_*.sh
#   tests/e2e/run.sh NAME...          only these (test_x, test_x.sh or a path)
# Per-test output: .work/e2e/logs/NAME.log (tail shown on failure). Each test gets
# `timeout 300`. The last line is always "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
VW_ROOT=$(cd "$here/../.." && pwd)
work=${VW_E2E_DIR:-$VW_ROOT/.work/e2e} # set VW_E2E_DIR to run several suites at once
VW_CP=$work/cp
logs=$work/logs
export VW_ROOT VW_CP
export PATH="${VECWARD_CACHE:-$HOME/.cache/vecward}/bin:$VW_ROOT/bin:$PATH"
export TMPDIR=$work/tmp KUBECACHEDIR=$work/tmp/kube-cache # nothing in /tmp or ~/.kube/cache

tests=()
if [ $# -eq 0 ]; then
	for t in "$here"/test_*.sh; do [ -e "$t" ] && tests+=("$t"); done
else
	for a in "$@"; do
		n=$(basename "$a" .sh)
		[ -f "$here/$n.sh" ] || { echo "no such test: $a"; echo "0 passed, 0 failed"; exit 2; }
		tests+=("$here/$n.sh")
	done
fi
if [ ${#tests[@]} -eq 0 ]; then
	echo "no tests found"
	echo "0 passed, 0 failed"
	exit 1
fi

# one suite per work dir: a second run.sh would tear this one's control plane down
mkdir -p "$work"
exec 9>"$work/lock"
if ! flock -n 9; then
	echo "another run.sh is using $work; waiting (up to 15 min)..." >&2
	flock -w 900 9 || { echo "gave up waiting for $work/lock"; echo "0 passed, ${#tests[@]} failed"; exit 1; }
fi
"$here/controlplane.sh" down "$VW_CP"
rm -rf "$VW_CP" "$logs" "$TMPDIR"
mkdir -p "$logs" "$TMPDIR"
trap '"$here/controlplane.sh" down "$VW_CP"' EXIT
child=
trap '[ -z "$child" ] || kill -TERM "$child" 2>/dev/null; exit 130' INT TERM

t0=$SECONDS
if ! "$here/controlplane.sh" up "$VW_CP" 2>"$logs/controlplane-up.log" 9>&-; then
	cat "$logs/controlplane-up.log" >&2
	echo "FAIL control plane did not come up (logs: $VW_CP/logs)"
	echo "0 passed, ${#tests[@]} failed"
	exit 1
fi
echo "control plane up in $((SECONDS - t0))s"
eval "$("$here/controlplane.sh" env "$VW_CP")"

passed=0 failed=0
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	start=$SECONDS
	# in the background + wait, so Ctrl-C is handled at once (timeout has its own pgrp)
	(cd "$VW_ROOT" && exec timeout -k 10 300 bash "$t") >"$logs/$name.log" 2>&1 9>&- &
	child=$!
	if wait "$child"; then
		echo "PASS $name ($((SECONDS - start))s)"
		passed=$((passed + 1))
	else
		rc=$?
		echo "FAIL $name ($((SECONDS - start))s$([ $rc = 124 ] && echo ", timed out"))"
		tail -n 40 "$logs/$name.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
