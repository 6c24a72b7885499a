#!/usr/bin/env bash
# The operator binary against the real apiserver: it takes the Lease, syncs its
# informers, sees creates, updates and deletes as they happen, and on SIGTERM
# stops cleanly and releases the Lease.
. "$(dirname "$0")/lib.sh"

kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io crd/users.vecward.io crd/encryptionkeys.vecward.io >/dev/null

ns=$(new_ns op)
log=$TMPDIR/operator-$ns.log
"${VW_OPERATOR_BIN:-$VW_ROOT/bin/vecward-operator}" --kubeconfig "$KUBECONFIG" --lease-namespace "$ns" \
	--identity op-under-test --lease-duration 6 >"$log" 2>&1 &
pid=$!
trap 'stop_pid $pid || true' EXIT

has() { grep -q -- "$1" "$log"; }
wait_for 30 "operator becomes leader" has '"msg":"became leader: op-under-test"'
wait_for 30 "cluster informer synced" has '"msg":"synced [0-9]* objects at resourceVersion'
expect_eq "$(kubectl get lease vecward-operator -n "$ns" -o jsonpath='{.spec.holderIdentity}')" \
	op-under-test "lease holder"

cat <<YAML | kubectl apply -n "$ns" -f - >/dev/null
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata:
  name: watched
spec:
  deletion: {recycleBinDays: 0}
  network:
    allowedCIDRs: ["10.1.0.0/16"]
YAML
# the Cluster reconciler answers with a status for each generation it sees
wait_for 30 "operator reconciles the new Cluster" bash -c "test \"\$(kubectl get cluster watched -n $ns -o jsonpath='{.status.observedGeneration}')\" = 1"
kubectl get secret watched-root -n "$ns" >/dev/null || fail "root credentials not generated"

kubectl patch cluster watched -n "$ns" --type merge -p '{"spec":{"network":{"allowedCIDRs":["10.2.0.0/16"]}}}' >/dev/null
wait_for 30 "operator reconciles the update" bash -c "test \"\$(kubectl get cluster watched -n $ns -o jsonpath='{.status.observedGeneration}')\" = 2"
expect_contains "$(kubectl get networkpolicy watched-allow-clients -n "$ns" -o jsonpath='{.spec.ingress[0].from}')" 10.2.0.0/16 "allowlist follows the update"

# the User informer feeds the User reconciler: it takes the finalizer and reports on
# the User (Milvus is not running here: it waits or says Milvus is unreachable)
cat <<YAML | kubectl apply -n "$ns" -f - >/dev/null
apiVersion: vecward.io/v1alpha1
kind: User
metadata:
  name: watcher
spec:
  clusterRef: {name: watched}
  username: watcher
YAML
wait_for 30 "operator reports on the User" bash -c "test -n \"\$(kubectl get user watcher -n $ns -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}')\""
expect_contains "$(kubectl get user watcher -n "$ns" -o jsonpath='{.metadata.finalizers}')" vecward.io/milvus-user "User finalizer"

kubectl delete cluster watched -n "$ns" --wait=true --timeout=30s >/dev/null
wait_for 30 "operator finalizes the delete" has "\"msg\":\"finalized\",\"object\":\"cluster $ns/watched\""

# without the webhook the operator still refuses an insecure spec: same rules, as a
# condition, and nothing is created for it
cat <<YAML | kubectl apply -n "$ns" -f - >/dev/null
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata:
  name: plaintext
spec:
  deletion: {recycleBinDays: 0}
  tls: {mode: disabled}
YAML
wait_for 30 "policy violation reported" bash -c "test \"\$(kubectl get cluster plaintext -n $ns -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}')\" = PolicyViolation"
expect_contains "$(kubectl get cluster plaintext -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')" \
	"VW001: spec.tls.mode disabled is refused" "operator reports the webhook's rule"
if kubectl get deploy plaintext -n "$ns" >/dev/null 2>&1; then fail "a Deployment was created for an insecure spec"; fi
if kubectl get secret plaintext-root -n "$ns" >/dev/null 2>&1; then fail "credentials were generated for an insecure spec"; fi
kubectl delete cluster plaintext -n "$ns" --wait=true --timeout=30s >/dev/null

# no secret material in the log, ever (client key / token markers)
if grep -q -e "PRIVATE KEY" -e "Bearer" "$log"; then fail "operator log contains credentials"; fi

kill -TERM $pid
wait_for 15 "operator exits after SIGTERM" bash -c "! kill -0 $pid 2>/dev/null"
wait $pid && rc=0 || rc=$?
expect_eq "$rc" 0 "operator exit code after SIGTERM"
has '"msg":"released"' || fail "operator did not release the Lease on SIGTERM"
expect_eq "$(kubectl get lease vecward-operator -n "$ns" -o jsonpath='{.spec.holderIdentity}')" "" \
	"lease holder after release"
echo "operator: leader, informers, create/update/delete seen, clean stop"
