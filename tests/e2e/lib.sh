# Helpers for the end-to-end tests; every tests/e2e/test_*.sh starts with
#   . "$(dirname "$0")/lib.sh"
# run.sh provides: KUBECONFIG (admin), VW_ROOT (repo root), VW_CP (control-plane dir:
# pki/, ports, logs/) and a PATH with ~/.cache/vecward/bin and $VW_ROOT/bin; and the
# programs to start: VW_OPERATOR_BIN, VW_WEBHOOK_BIN, VW_CRYPT_BIN, MILVUSD (their
# ASan+UBSan builds by default: stop them with stop_pid so leaks are checked at exit).
set -euo pipefail

: "${KUBECONFIG:?run me through tests/e2e/run.sh}" "${VW_ROOT:?}" "${VW_CP:?}"
export KUBECONFIG VW_ROOT VW_CP

# fail MSG: stop the test
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

# expect_contains HAYSTACK NEEDLE WHAT
expect_contains() {
	case $1 in
		*"$2"*) ;;
		*) fail "$3: '$2' not found in: $1" ;;
	esac
}

# expect_fail WHAT CMD...: CMD must fail; its stdout+stderr are left in $OUT
expect_fail() {
	local what=$1; shift
	if OUT=$("$@" 2>&1); then
		fail "$what: succeeded but should have failed: $* -> $OUT"
	fi
	return 0
}

# stop_pid PID [SECS]: stop a program the test started in the background: SIGTERM, wait
# until it exits (SIGKILL after SECS, default 20: returns 1 then); reaps it. A clean
# exit is where a sanitized build reports its leaks (tests/e2e/run.sh fails the test
# on a report); SIGKILL skips that, so a test ends its programs with stop_pid.
stop_pid() {
	local pid=${1:-} secs=${2:-20} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	for ((i = 0; i < secs * 5; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "stop_pid: $pid still runs ${secs}s after SIGTERM; SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 1
	fi
	wait "$pid" 2>/dev/null || true
}

# wait_for TIMEOUT_S WHAT CMD...: run CMD every 0.5s until it succeeds
wait_for() {
	local timeout=$1 what=$2; shift 2
	local start=${EPOCHREALTIME//[.,]/} out
	until out=$("$@" 2>&1); do
		if (( ${EPOCHREALTIME//[.,]/} - start >= timeout * 1000000 )); then
			fail "timed out after ${timeout}s waiting for $what (last output: $out)"
		fi
		sleep 0.5
	done
}

# new_ns PREFIX: create a fresh namespace (with its default ServiceAccount), echo its name
new_ns() {
	local ns
	ns="$1-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
	kubectl create namespace "$ns" >/dev/null || fail "cannot create namespace $ns"
	wait_for 30 "ServiceAccount $ns/default" kubectl get serviceaccount default -n "$ns"
	echo "$ns"
}

# data_pv NS CLAIM: a PersistentVolume pv-NS pre-bound to PVC NS/CLAIM (there is no
# provisioner here); delete it with: kubectl delete pv pv-NS
data_pv() {
	cat <<YAML | kubectl apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-$1}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: $1, name: $2}
  hostPath: {path: /nonexistent/$1}
YAML
}
