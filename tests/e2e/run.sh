#!/usr/bin/env bash
# Run the end-to-end tests against one fresh local control plane.
#   tests/e2e/run.sh                  every tests/e2e/test_*.sh
#   tests/e2e/run.sh NAME...          only these (test_x, test_x.sh or a path)
# Per-test output: .work/e2e/logs/NAME.log (tail shown on failure). Each test gets
# `timeout 300` (VW_E2E_TIMEOUT=SECS for longer runs). The last line is always
# "N passed, N failed".
#
# The tests start the operator, webhook, vecward-crypt and milvusd as $VW_OPERATOR_BIN,
# $VW_WEBHOOK_BIN, $VW_CRYPT_BIN and $MILVUSD: by default their ASan+UBSan builds
# bin/*-san (`make e2e` builds them) when present, else the release ones; VW_E2E_SAN=0
# picks the release ones, and each variable set beforehand wins. Sanitizer reports
# go to .work/e2e/san/NAME.PID (ASAN_OPTIONS/UBSAN_OPTIONS log_path): a test after
# which one appears fails, and the report is shown. LeakSanitizer reports at exit, so
# tests stop these programs with SIGTERM (stop_pid in lib.sh), not SIGKILL, at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
VW_ROOT=$(cd "$here/../.." && pwd)
work=${VW_E2E_DIR:-$VW_ROOT/.work/e2e} # set VW_E2E_DIR to run several suites at once
VW_CP=$work/cp
logs=$work/logs
export VW_ROOT VW_CP
export PATH="${VECWARD_CACHE:-$HOME/.cache/vecward}/bin:$VW_ROOT/bin:$PATH"
export TMPDIR=$work/tmp KUBECACHEDIR=$work/tmp/kube-cache # nothing in /tmp or ~/.kube/cache
san=$work/san

# bin/NAME-san unless VW_E2E_SAN=0 or it was not built
pick() {
	local rel=$VW_ROOT/bin/$1 s=$VW_ROOT/bin/$1-san
	if [ "${VW_E2E_SAN:-1}" != 0 ] && [ -x "$s" ]; then
		[ ! "$rel" -nt "$s" ] || echo "warning: $s is older than $rel (make e2e rebuilds it)" >&2
		echo "$s"
	else
		echo "$rel"
	fi
}
VW_OPERATOR_BIN=${VW_OPERATOR_BIN:-$(pick vecward-operator)}
VW_WEBHOOK_BIN=${VW_WEBHOOK_BIN:-$(pick vecward-webhook)}
VW_CRYPT_BIN=${VW_CRYPT_BIN:-$(pick vecward-crypt)}
MILVUSD=${MILVUSD:-$(pick milvusd)}
export VW_OPERATOR_BIN VW_WEBHOOK_BIN VW_CRYPT_BIN MILVUSD

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
rm -rf "$VW_CP" "$logs" "$TMPDIR" "$san"
mkdir -p "$logs" "$TMPDIR" "$san"
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
echo "programs: ${VW_OPERATOR_BIN#"$VW_ROOT"/} ${VW_WEBHOOK_BIN#"$VW_ROOT"/} ${VW_CRYPT_BIN#"$VW_ROOT"/} ${MILVUSD#"$VW_ROOT"/}"

# san_reports NAME: the sanitizer reports of test NAME, one path a line
san_reports() { find "$san" -maxdepth 1 -type f -name "$1.*" | sort; }
# show_reports PATH...: print each report (its first 100 lines)
show_reports() {
	local r
	for r in "$@"; do
		echo "    sanitizer report $r:"
		head -n 100 "$r" | sed 's/^/    /'
	done
}

passed=0 failed=0 ok=()
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	start=$SECONDS
	# in the background + wait, so Ctrl-C is handled at once (timeout has its own pgrp)
	(cd "$VW_ROOT" &&
		export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$san/$name:strip_path_prefix=$VW_ROOT/${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
			UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$san/$name:strip_path_prefix=$VW_ROOT/${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" &&
		exec timeout -k 10 "${VW_E2E_TIMEOUT:-300}" bash "$t") >"$logs/$name.log" 2>&1 9>&- &
	child=$!
	rc=0
	wait "$child" || rc=$?
	mapfile -t reports < <(san_reports "$name")
	if [ "$rc" = 0 ] && [ ${#reports[@]} = 0 ]; then
		echo "PASS $name ($((SECONDS - start))s)"
		passed=$((passed + 1))
		ok+=("$name")
	else
		echo "FAIL $name ($((SECONDS - start))s$([ "$rc" = 124 ] && echo ", timed out")$([ ${#reports[@]} = 0 ] || echo ", ${#reports[@]} sanitizer report(s)"))"
		[ "$rc" = 0 ] || tail -n 40 "$logs/$name.log" | sed 's/^/    /'
		show_reports "${reports[@]}"
		failed=$((failed + 1))
	fi
done

# a program a test stopped without waiting reports its leaks as it exits
if [ ${#ok[@]} -gt 0 ]; then
	sleep 2
	for name in "${ok[@]}"; do
		mapfile -t reports < <(san_reports "$name")
		[ ${#reports[@]} -gt 0 ] || continue
		echo "FAIL $name (${#reports[@]} sanitizer report(s) after it ended)"
		show_reports "${reports[@]}"
		passed=$((passed - 1)) failed=$((failed + 1))
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
