#!/usr/bin/env bash
# Issue 3 end to end: a secure Cluster from examples/cluster.yaml on the real control
# plane (kwok runs the pod). Checks what a user sees: Ready with the endpoint, every
# object and its content, real TLS handshakes with the certificates read back from the
# apiserver, no secret outside Secrets, zero writes on a no-op resync (counted in the
# apiserver's audit log), drift repaired, SIGKILL mid-reconcile converging to the same
# password and CA, and the recycle bin (keep, re-adopt, purge).
. "$(dirname "$0")/lib.sh"

kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io >/dev/null
ns=$(new_ns cluster)
work=$TMPDIR/cluster-$ns
mkdir -p "$work"
chmod 700 "$work"
log=$work/operator.log
audit=$VW_CP/logs/audit.log

# a volume for the data PVC (no provisioner here): bound by the PV controller
data_pv "$ns" prod-data

opid=
start_operator() {
	"${VW_OPERATOR_BIN:-$VW_ROOT/bin/vecward-operator}" --kubeconfig "$KUBECONFIG" --namespace "$ns" \
		--leader-elect false --resync 2 --recycle-day-seconds 6 --log-level debug >>"$log" 2>&1 &
	opid=$!
}
stop_operator() { [ -z "$opid" ] || { kill -9 "$opid" 2>/dev/null || true; wait "$opid" 2>/dev/null || true; opid=; }; }
trap 'stop_pid "$opid" || true; kubectl delete pv pv-$ns --wait=false >/dev/null 2>&1 || true' EXIT
start_operator

kubectl apply -n "$ns" -f "$VW_ROOT/examples/cluster.yaml" >/dev/null
ready() { test "$(kubectl get cluster prod -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True; }
wait_for 60 "Cluster prod Ready" ready
out=$(kubectl get vwc prod -n "$ns")
expect_contains "$out" "prod.$ns.svc:19530" "kubectl get vwc shows the endpoint"
expect_contains "$out" "mutual" "kubectl get vwc shows the TLS mode"
expect_eq "$(kubectl get deploy prod -n "$ns" -o jsonpath='{.status.availableReplicas}')" 1 "deployment available"

# ---- objects and their content ------------------------------------------------
for s in prod-ca prod-ca-cert prod-server-tls prod-root; do
	kubectl get secret "$s" -n "$ns" >/dev/null || fail "secret $s missing"
done
for k in configmap/prod-config service/prod pvc/prod-data networkpolicy/prod-default-deny \
	networkpolicy/prod-allow-clients networkpolicy/prod-allow-operator networkpolicy/prod-allow-egress; do
	kubectl get "$k" -n "$ns" >/dev/null || fail "$k missing"
	expect_eq "$(kubectl get "$k" -n "$ns" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')" \
		Cluster/prod "$k owned by the Cluster"
done
cfg=$(kubectl get configmap prod-config -n "$ns" -o jsonpath='{.data.user\.yaml}')
expect_contains "$cfg" "authorizationEnabled: true" "milvus config: authorization"
expect_contains "$cfg" "tlsMode: 2" "milvus config: mutual TLS"
expect_contains "$cfg" "internaltlsEnabled: true" "milvus config: internal TLS"
expect_contains "$cfg" "sni: prod.$ns.svc.cluster.local" "milvus config: internal TLS SNI"
expect_contains "$cfg" "enable: true" "milvus config: access log"
expect_contains "$cfg" "port: 8080" "milvus config: REST on its own port"
dep=$(kubectl get deploy prod -n "$ns" -o json)
python3 - "$dep" <<'PY' || fail "deployment is not Pod Security restricted or mounts the CA key"
import json, sys
d = json.loads(sys.argv[1]); pod = d["spec"]["template"]["spec"]; c = pod["containers"][0]
psc, sc = pod["securityContext"], c["securityContext"]
assert psc["runAsNonRoot"] and psc["seccompProfile"]["type"] == "RuntimeDefault"
assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
assert sc["capabilities"]["drop"] == ["ALL"]
assert c["readinessProbe"]["httpGet"]["port"] == 9091 and c["livenessProbe"]["httpGet"]["port"] == 9091
assert d["spec"]["template"]["metadata"]["annotations"]["vecward.io/config-hash"]
secrets = [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v]
assert secrets == ["prod-server-tls"], secrets           # never prod-ca (the CA key)
env = {e["name"]: e for e in c["env"]}
ref = env["COMMON_SECURITY_DEFAULTROOTPASSWORD"]["valueFrom"]["secretKeyRef"]
assert ref == {"name": "prod-root", "key": "password"}, ref
PY
expect_eq "$(kubectl auth can-i --list >/dev/null; kubectl get pod -n "$ns" -l vecward.io/cluster=prod -o jsonpath='{.items[0].status.phase}')" Running "milvus pod"

# ---- certificates: verify and real handshakes -----------------------------------
get() { kubectl get secret "$1" -n "$ns" -o jsonpath="{.data.${2//./\\.}}" | base64 -d > "$work/$3"; }
get prod-ca-cert ca.crt bundle.crt
get prod-server-tls tls.crt server.crt
get prod-server-tls tls.key server.key
get prod-ca ca.key ca.key
get prod-ca ca.crt ca.crt
chmod 600 "$work"/*.key
openssl verify -CAfile "$work/bundle.crt" "$work/server.crt" >/dev/null || fail "server certificate does not verify against the bundle"
sans=$(openssl x509 -in "$work/server.crt" -noout -ext subjectAltName)
for n in prod prod.$ns prod.$ns.svc prod.$ns.svc.cluster.local; do
	expect_contains "$sans" "DNS:$n," "SAN $n"
done
expect_contains "$(openssl x509 -in "$work/server.crt" -noout -text)" "ASN1 OID: prime256v1" "ECDSA P-256 key by default"
[ "$(kubectl get cluster prod -n "$ns" -o jsonpath='{.status.certificate.notAfter}')" != "" ] || fail "status.certificate.notAfter empty"
[ "$(kubectl get cluster prod -n "$ns" -o jsonpath='{.status.certificate.renewalTime}')" != "" ] || fail "status.certificate.renewalTime empty"
# a client certificate from the cluster CA, as the User reconciler will issue
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=app -keyout "$work/client.key" -out "$work/client.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > "$work/client.ext"
openssl x509 -req -in "$work/client.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 1 -extfile "$work/client.ext" -out "$work/client.crt" 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl s_server -accept "127.0.0.1:$port" -cert "$work/server.crt" -key "$work/server.key" \
	-CAfile "$work/bundle.crt" -Verify 1 -verify_return_error -www >"$work/s_server.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null || true; stop_pid "$opid" || true; kubectl delete pv pv-$ns --wait=false >/dev/null 2>&1 || true' EXIT
wait_for 10 "s_server listening" bash -c "ss -ltn | grep -q 127.0.0.1:$port"
# an HTTP request through the TLS connection: only an accepted client gets an answer
hs() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
	-servername "prod.$ns.svc" -verify_hostname "prod.$ns.svc" -CAfile "$work/bundle.crt" \
	-verify_return_error -ign_eof "$@" 2>&1; }
out=$(hs -cert "$work/client.crt" -key "$work/client.key") || fail "mutual TLS with a client certificate failed: $out"
expect_contains "$out" "Verify return code: 0 (ok)" "server certificate verified by the client"
expect_contains "$out" "HTTP/1.0 200 ok" "request answered over mutual TLS"
out=$(hs) || true
case $out in *"HTTP/1.0 200 ok"*) fail "mutual TLS answered a client without a certificate" ;; esac
expect_contains "$out" "alert" "server refuses a client without a certificate"
kill $spid; wait $spid 2>/dev/null || true

# ---- no secret outside Secrets ---------------------------------------------------
pw=$(kubectl get secret prod-root -n "$ns" -o jsonpath='{.data.password}' | base64 -d)
expect_eq "${#pw}" 32 "generated root password length"
cakey_line=$(sed -n 2p "$work/ca.key")
everything=$(kubectl get configmaps,events -n "$ns" -o json; kubectl get cluster prod -n "$ns" -o json; cat "$log")
for needle in "$pw" "$cakey_line"; do
	if grep -qF -- "$needle" <<<"$everything"; then fail "a secret value appears in a ConfigMap, Event, status or log"; fi
done

# ---- a no-op resync writes nothing (counted in the apiserver audit log) -------------
writes() { grep -c '"userAgent":"vecward/' "$audit" || true; }
sleep 3
w0=$(writes)
sleep 7 # three resyncs at --resync 2
w1=$(writes)
expect_eq "$((w1 - w0))" 0 "write requests by the operator during no-op resyncs"
grep -q "reconciled: 0 write(s)" "$log" || fail "no reconcile reported zero writes"

# ---- drift: hand edits and deletions are restored within a resync -----------------
kubectl delete networkpolicy prod-default-deny -n "$ns" >/dev/null
kubectl patch configmap prod-config -n "$ns" --type merge -p '{"data":{"user.yaml":"common: {security: {authorizationEnabled: false}}"}}' >/dev/null
wait_for 15 "NetworkPolicy restored" kubectl get networkpolicy prod-default-deny -n "$ns"
wait_for 15 "ConfigMap restored" bash -c "kubectl get configmap prod-config -n $ns -o jsonpath='{.data.user\.yaml}' | grep -q 'authorizationEnabled: true'"

# ---- SIGKILL mid-reconcile: same password and CA after restart ---------------------
ca_fp=$(openssl x509 -in "$work/ca.crt" -noout -fingerprint -sha256)
kubectl delete deploy prod -n "$ns" --wait=false >/dev/null
kubectl delete networkpolicy prod-allow-clients -n "$ns" --wait=false >/dev/null
stop_operator
start_operator
wait_for 30 "deployment re-created" kubectl get deploy prod -n "$ns"
wait_for 60 "Cluster Ready again" ready
expect_eq "$(kubectl get secret prod-root -n "$ns" -o jsonpath='{.data.password}' | base64 -d)" "$pw" "root password after SIGKILL and restart"
expect_eq "$(kubectl get secret prod-ca -n "$ns" -o jsonpath='{.data.ca\.crt}' | base64 -d | openssl x509 -noout -fingerprint -sha256)" "$ca_fp" "CA after restart"

# ---- recycle bin: keep, re-adopt, purge ---------------------------------------------
kubectl patch cluster prod -n "$ns" --type merge -p '{"spec":{"deletion":{"recycleBinDays":2}}}' >/dev/null
sleep 3
kubectl delete cluster prod -n "$ns" --wait=true --timeout=30s >/dev/null
for o in pvc/prod-data secret/prod-root secret/prod-ca; do
	kubectl get "$o" -n "$ns" >/dev/null 2>&1 || fail "$o was not kept in the recycle bin"
	[ -n "$(kubectl get "$o" -n "$ns" -o jsonpath='{.metadata.labels.vecward\.io/purge-after}')" ] || fail "$o has no purge label"
	expect_eq "$(kubectl get "$o" -n "$ns" -o jsonpath='{.metadata.ownerReferences}')" "" "$o detached"
done
# (the owned Deployment, Service... go with the garbage collector, on its own schedule)
kubectl apply -n "$ns" -f "$VW_ROOT/examples/cluster.yaml" >/dev/null
kubectl patch cluster prod -n "$ns" --type merge -p '{"spec":{"deletion":{"recycleBinDays":1}}}' >/dev/null
wait_for 60 "re-created Cluster Ready" ready
uid=$(kubectl get cluster prod -n "$ns" -o jsonpath='{.metadata.uid}')
for o in pvc/prod-data secret/prod-root secret/prod-ca; do
	expect_eq "$(kubectl get "$o" -n "$ns" -o jsonpath='{.metadata.ownerReferences[0].uid}')" "$uid" "$o adopted by the new Cluster"
	expect_eq "$(kubectl get "$o" -n "$ns" -o jsonpath='{.metadata.labels.vecward\.io/purge-after}')" "" "$o purge label removed"
done
expect_eq "$(kubectl get secret prod-root -n "$ns" -o jsonpath='{.data.password}' | base64 -d)" "$pw" "root password after re-adoption"
kubectl delete cluster prod -n "$ns" --wait=true --timeout=30s >/dev/null
# 1 "day" of 6 s: purged within a couple of purge sweeps
wait_for 40 "recycle bin purged" bash -c "! kubectl get secret prod-root -n $ns >/dev/null 2>&1 && ! kubectl get secret prod-ca -n $ns >/dev/null 2>&1"
grep -q "purged from the recycle bin" "$log" || fail "operator did not log the purge"
echo "cluster: ready, objects, TLS, no leaks, zero-write resync, drift, SIGKILL, recycle bin"
