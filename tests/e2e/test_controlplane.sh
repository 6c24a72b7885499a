#!/usr/bin/env bash
# The local control plane itself: pinned versions, a Ready fake node, RBAC enforced,
# and a Deployment becoming available on the kwok node.
. "$(dirname "$0")/lib.sh"

# -- versions: client and server are the pinned k8s.io/kubernetes
want=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3; exit}
	$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$VW_ROOT/tools/kubernetes/go.mod")
[ -n "$want" ] || fail "no k8s.io/kubernetes version in tools/kubernetes/go.mod"
ver=$(kubectl version)$'\n'
expect_contains "$ver" "Client Version: $want"$'\n' "kubectl client version"
expect_contains "$ver" "Server Version: $want"$'\n' "apiserver version"

# -- the kwok node is Ready
wait_for 30 "node kwok-node-0 Ready" \
	bash -c 'test "$(kubectl get node kwok-node-0 -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].status}")" = True'

# -- RBAC: a ServiceAccount token authenticates but, unbound, may not list secrets
ns=$(new_ns cp)
kubectl create serviceaccount nobody -n "$ns" >/dev/null
token=$(kubectl create token nobody -n "$ns" --duration=10m)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
as_sa() { # only the token: a kubeconfig with a client cert would authenticate as admin
	kubectl --kubeconfig=/dev/null --server="$server" \
		--certificate-authority="$VW_CP/pki/ca.crt" --token="$token" "$@"
}
expect_fail "unbound ServiceAccount listing secrets" as_sa get secrets -n "$ns"
expect_contains "$OUT" "forbidden" "RBAC denial"
expect_contains "$OUT" "system:serviceaccount:$ns:nobody" "token identity"
# ... and the same token may once it is bound (so RBAC, not a blanket deny, said no)
kubectl create role secret-reader -n "$ns" --verb=list --resource=secrets >/dev/null
kubectl create rolebinding nobody-reads -n "$ns" --role=secret-reader \
	--serviceaccount="$ns:nobody" >/dev/null
wait_for 10 "bound ServiceAccount listing secrets" as_sa get secrets -n "$ns"

# -- a plain Deployment becomes available (kwok fakes the container)
kubectl create deployment web -n "$ns" --image=registry.invalid/vecward/none:1 >/dev/null
wait_for 60 "deployment $ns/web available" \
	bash -c "test \"\$(kubectl get deployment web -n $ns -o jsonpath='{.status.availableReplicas}')\" = 1"
node=$(kubectl get pods -n "$ns" -l app=web -o jsonpath='{.items[0].spec.nodeName}')
expect_eq "$node" kwok-node-0 "pod placement"
phase=$(kubectl get pods -n "$ns" -l app=web -o jsonpath='{.items[0].status.phase}')
expect_eq "$phase" Running "pod phase"

kubectl delete namespace "$ns" --wait=false >/dev/null
echo "ok: control plane $want, node Ready, RBAC enforced, deployment available"
