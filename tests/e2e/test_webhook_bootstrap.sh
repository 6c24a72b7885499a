#!/usr/bin/env bash
# vecward-webhook issuing its own certificate (--bootstrap-secret): registered with a
# placeholder caBundle, it creates the Secret (a CA and a serving certificate for its
# Service's names and 127.0.0.1 that verifies against that CA), serves with it, and
# writes base64(ca.crt) into caBundle of both configurations, so the API server really
# calls it (an insecure Cluster is refused). Restarted, it reuses the Secret: same
# certificate, no caBundle write. Configurations, namespaces and the process are
# removed on exit.
. "$(dirname "$0")/lib.sh"

wh=$TMPDIR/webhook-boot
rm -rf "$wh"
mkdir -p "$wh"
log=$wh/webhook.log
sel=vecward-e2e/webhook-boot
cfg=vecward-webhook-boot
pid=

cleanup() {
	kubectl delete mutatingwebhookconfiguration "$cfg" --ignore-not-found >/dev/null 2>&1 || true
	kubectl delete validatingwebhookconfiguration "$cfg" --ignore-not-found >/dev/null 2>&1 || true
	stop_pid "$pid" || true
	kubectl delete namespace -l "$sel=true" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT

kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io >/dev/null

sns=$(new_ns whboot-sys) # where the Secret lives
kubectl label namespace "$sns" "$sel=true" >/dev/null
ns=$(new_ns whboot)      # where the webhook applies
kubectl label namespace "$ns" "$sel=true" >/dev/null
svc=vecward-webhook.$sns.svc

start_webhook() { # LISTEN
	"${VW_WEBHOOK_BIN:-$VW_ROOT/bin/vecward-webhook}" --listen "$1" --kubeconfig "$KUBECONFIG" \
		--bootstrap-secret "$sns/webhook-tls" --service-name "$svc" --bootstrap-ip 127.0.0.1 \
		--cert-dir "$wh/certs" --webhook-config "$cfg" --bootstrap-interval 1 \
		--reload-interval 1 >>"$log" 2>&1 &
	pid=$!
}
start_webhook 127.0.0.1:0
wait_for 15 "webhook serving" grep -q '"msg":"serving"' "$log"
port=$(sed -n 's/.*"msg":"serving".*"port":"\([0-9]*\)".*/\1/p' "$log" | tail -n1)
[ -n "$port" ] || fail "no port in the webhook log: $(cat "$log")"

# -- the Secret: a CA and a serving certificate for the Service's names
secret() { kubectl -n "$sns" get secret webhook-tls -o jsonpath="{.data.${1//./\\.}}" | base64 -d; }
secret ca.crt >"$wh/ca.crt"
secret tls.crt >"$wh/tls.crt"
expect_eq "$(kubectl -n "$sns" get secret webhook-tls -o jsonpath='{.type}')" kubernetes.io/tls "secret type"
secret ca.key | grep -q "PRIVATE KEY" || fail "no ca.key in the Secret"
secret tls.key | grep -q "PRIVATE KEY" || fail "no tls.key in the Secret"
out=$(openssl verify -CAfile "$wh/ca.crt" -purpose sslserver "$wh/tls.crt" 2>&1) ||
	fail "serving certificate does not verify against the Secret's CA: $out"
sans=$(openssl x509 -in "$wh/tls.crt" -noout -ext subjectAltName)
for n in DNS:vecward-webhook DNS:vecward-webhook.$sns DNS:$svc DNS:$svc.cluster.local \
	"IP Address:127.0.0.1"; do
	expect_contains "$sans" "$n" "serving certificate SANs"
done
# the files it serves from: the same certificate, private to the process
cmp -s "$wh/tls.crt" "$wh/certs/tls.crt" || fail "served certificate differs from the Secret's"
expect_eq "$(stat -c %a "$wh/certs/tls.key")" 600 "tls.key mode"
expect_eq "$(stat -c %a "$wh/certs/tls.crt")" 600 "tls.crt mode"
curl -fsS --cacert "$wh/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null ||
	fail "the webhook does not serve the Secret's certificate"

# -- registered with a placeholder caBundle: the webhook puts its CA in
sed -e "s|__WEBHOOK_URL__|https://127.0.0.1:$port|" \
	-e "s|__CA_BUNDLE__|$(printf 'placeholder' | base64 -w0)|" \
	-e "s|name: vecward-webhook$|name: $cfg|" \
	-e "s|namespaceSelector: {}|namespaceSelector: {matchLabels: {$sel: \"true\"}}|" \
	"$VW_ROOT/manifests/local/webhook-local.yaml" | kubectl apply -f - >/dev/null
want=$(base64 -w0 "$wh/ca.crt")
bundles() { # KIND: caBundle of every entry, one per line
	kubectl get "$1" "$cfg" -o jsonpath='{range .webhooks[*]}{.clientConfig.caBundle}{"\n"}{end}'
}
bundles_current() {
	local k b
	for k in mutatingwebhookconfiguration validatingwebhookconfiguration; do
		while read -r b; do [ "$b" = "$want" ] || return 1; done < <(bundles "$k")
		[ -n "$(bundles "$k")" ] || return 1
	done
}
wait_for 20 "caBundle of both configurations set to the Secret's CA" bundles_current
grep '"msg":"caBundle updated"' "$log" | grep -q "MutatingWebhookConfiguration $cfg" ||
	fail "no caBundle update logged: $(grep caBundle "$log")"

# -- the API server trusts it: an insecure Cluster is refused by the webhook
disabled='apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: plain}
spec:
  tls: {mode: disabled}'
calls_us() {
	local o
	o=$(kubectl -n "$ns" apply -f - <<<"$disabled" 2>&1) && return 1
	[[ $o == *VW001* ]]
}
wait_for 30 "the API server calls the bootstrapped webhook" calls_us
expect_fail "insecure cluster" kubectl -n "$ns" apply -f - <<<"$disabled"
expect_contains "$OUT" 'admission webhook "validate.vecward.io" denied the request: VW001: spec.tls.mode disabled is refused' "insecure cluster"
kubectl -n "$ns" get cluster plain >/dev/null 2>&1 && fail "a refused Cluster was stored"

# -- restart: the stored certificate is reused, nothing is written
rv_secret=$(kubectl -n "$sns" get secret webhook-tls -o jsonpath='{.metadata.resourceVersion}')
rv_m=$(kubectl get mutatingwebhookconfiguration "$cfg" -o jsonpath='{.metadata.resourceVersion}')
rv_v=$(kubectl get validatingwebhookconfiguration "$cfg" -o jsonpath='{.metadata.resourceVersion}')
updates=$(grep -c '"msg":"caBundle updated"' "$log")
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
expect_eq "$rc" 0 "webhook exit status after SIGTERM"
pid=
start_webhook "127.0.0.1:$port"
wait_for 15 "webhook serving again" bash -c "[ \$(grep -c '\"msg\":\"serving\"' '$log') -ge 2 ]"
sleep 3 # a few bootstrap passes (--bootstrap-interval 1)
kill -0 "$pid" || fail "restarted webhook died: $(tail -n 5 "$log")"
secret tls.crt >"$wh/tls2.crt"
cmp -s "$wh/tls.crt" "$wh/tls2.crt" || fail "the serving certificate was regenerated on restart"
expect_eq "$(kubectl -n "$sns" get secret webhook-tls -o jsonpath='{.metadata.resourceVersion}')" "$rv_secret" "Secret resourceVersion after restart"
expect_eq "$(kubectl get mutatingwebhookconfiguration "$cfg" -o jsonpath='{.metadata.resourceVersion}')" "$rv_m" "MutatingWebhookConfiguration resourceVersion after restart"
expect_eq "$(kubectl get validatingwebhookconfiguration "$cfg" -o jsonpath='{.metadata.resourceVersion}')" "$rv_v" "ValidatingWebhookConfiguration resourceVersion after restart"
expect_eq "$(grep -c '"msg":"caBundle updated"' "$log")" "$updates" "caBundle writes after restart"
curl -fsS --cacert "$wh/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null ||
	fail "the restarted webhook does not serve the Secret's certificate"
expect_fail "insecure cluster after restart" kubectl -n "$ns" apply -f - <<<"$disabled"
expect_contains "$OUT" "VW001: spec.tls.mode disabled is refused" "insecure cluster after restart"

# -- a damaged leaf is re-issued from the same CA (optimistic update), and served
kubectl -n "$sns" patch secret webhook-tls --type merge \
	-p "{\"data\":{\"tls.crt\":\"$(printf 'not a certificate' | base64 -w0)\"}}" >/dev/null
renewed() { secret tls.crt | grep -q "BEGIN CERTIFICATE"; }
wait_for 15 "the serving certificate re-issued" renewed
secret tls.crt >"$wh/tls3.crt"
cmp -s "$wh/tls.crt" "$wh/tls3.crt" && fail "re-issued certificate is the old one"
secret ca.crt | cmp -s - "$wh/ca.crt" || fail "the CA changed on a leaf renewal"
out=$(openssl verify -CAfile "$wh/ca.crt" -purpose sslserver "$wh/tls3.crt" 2>&1) ||
	fail "re-issued certificate does not verify against the CA: $out"
grep -q '"msg":"renewed the serving certificate (Unparsable)"' "$log" || fail "no renewal logged"
served_new() { cmp -s "$wh/tls3.crt" "$wh/certs/tls.crt" &&
	openssl s_client -connect "127.0.0.1:$port" -CAfile "$wh/ca.crt" </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint | grep -q "$(openssl x509 -in "$wh/tls3.crt" -noout -fingerprint)"; }
wait_for 15 "the re-issued certificate served without a restart" served_new
expect_eq "$(grep -c '"msg":"caBundle updated"' "$log")" "$updates" "caBundle writes after a leaf renewal"
if grep -q "PRIVATE KEY" "$log"; then fail "webhook log contains key material"; fi
echo "ok: webhook bootstraps its certificate into a Secret, keeps caBundle current, reuses both on restart"
