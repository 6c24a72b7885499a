#!/usr/bin/env bash
# Two operators, one Lease: exactly one leads; when the leader is killed with
# SIGKILL (no chance to release), the other takes over within the lease time.
. "$(dirname "$0")/lib.sh"

kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io >/dev/null
ns=$(new_ns leader)
lease=6
pids=()
start() { # start NAME
	"${VW_OPERATOR_BIN:-$VW_ROOT/bin/vecward-operator}" --kubeconfig "$KUBECONFIG" --lease-namespace "$ns" \
		--identity "$1" --lease-duration $lease >"$TMPDIR/leader-$ns-$1.log" 2>&1 &
	pids+=($!)
	eval "pid_$1=$!"
}
trap 'for p in "${pids[@]}"; do stop_pid "$p" || true; done' EXIT
start a
start b

led() { grep -q "\"msg\":\"became leader: $1\"" "$TMPDIR/leader-$ns-$1.log"; }
holder() { kubectl get lease vecward-operator -n "$ns" -o jsonpath='{.spec.holderIdentity}'; }
wait_for 30 "a leader is elected" bash -c "grep -q 'became leader' $TMPDIR/leader-$ns-a.log $TMPDIR/leader-$ns-b.log"
sleep 3 # a second candidate would have won by now if election were broken
first=$(holder)
case $first in a) second=b ;; b) second=a ;; *) fail "unexpected lease holder '$first'" ;; esac
led "$first" || fail "holder $first never logged leadership"
if led "$second"; then fail "both candidates became leader"; fi
t0=$(kubectl get lease vecward-operator -n "$ns" -o jsonpath='{.spec.leaseTransitions}')

eval "kill -9 \$pid_$first"
t_kill=$SECONDS
# the standby must wait out the lease it last saw renewed, then win: lease + retry + slack
wait_for $((lease + 6)) "$second takes over after $first is killed" led "$second"
took=$((SECONDS - t_kill))
expect_eq "$(holder)" "$second" "lease holder after failover"
t1=$(kubectl get lease vecward-operator -n "$ns" -o jsonpath='{.spec.leaseTransitions}')
expect_eq "$t1" "$((t0 + 1))" "leaseTransitions after failover"
(( took >= lease - 2 )) || fail "$second took over after ${took}s, before the ${lease}s lease of a live holder could expire"
echo "leader: $first led, killed; $second took over in ${took}s (lease ${lease}s)"
