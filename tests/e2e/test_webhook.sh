#!/usr/bin/env bash
# vecward-webhook as a local process registered with the real kube-apiserver through
# clientConfig.url (manifests/local/webhook-local.yaml): insecure specs are refused with the
# rule's message, secure ones are stored with their defaults filled in, references that
# do not exist yet are admitted with a warning (GitOps order), cross-object rules (region,
# roles, duplicates, the 20-key limit, deleting a key in use) hold, writes fail closed
# while the webhook is down, and a new serving certificate from a new CA is picked up
# without a restart. The registrations only match namespaces this test labels, and are
# removed on exit.
. "$(dirname "$0")/lib.sh"

wh=$TMPDIR/webhook
rm -rf "$wh"
mkdir -p "$wh"
log=$wh/webhook.log
sel=vecward-e2e/webhook
pid=

cleanup() {
	kubectl delete mutatingwebhookconfiguration vecward-webhook --ignore-not-found >/dev/null 2>&1 || true
	kubectl delete validatingwebhookconfiguration vecward-webhook --ignore-not-found >/dev/null 2>&1 || true
	stop_pid "$pid" || true
	kubectl delete namespace -l "$sel=true" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT

kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io \
	crd/users.vecward.io crd/encryptionkeys.vecward.io >/dev/null

# -- test-only PKI: a CA and a serving certificate for 127.0.0.1 (openssl CLI)
pki() { # DIR NAME: DIR/ca.crt, and tls.crt/tls.key moved into $wh atomically
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=vecward-e2e-$2" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=vecward-webhook" \
		-keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$d/ext"
	openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 1 -extfile "$d/ext" -out "$d/tls.crt" 2>/dev/null
	chmod 600 "$d/tls.key"
	cp "$d/tls.key" "$wh/tls.key.new" && cp "$d/tls.crt" "$wh/tls.crt.new"
	mv -f "$wh/tls.key.new" "$wh/tls.key" && mv -f "$wh/tls.crt.new" "$wh/tls.crt"
}
pki "$wh/pki1" one

start_webhook() { # LISTEN
	"${VW_WEBHOOK_BIN:-$VW_ROOT/bin/vecward-webhook}" --listen "$1" --tls-cert "$wh/tls.crt" --tls-key "$wh/tls.key" \
		--kubeconfig "$KUBECONFIG" --reload-interval 1 >>"$log" 2>&1 &
	pid=$!
}
start_webhook 127.0.0.1:0
wait_for 15 "webhook serving" grep -q '"msg":"serving"' "$log"
port=$(sed -n 's/.*"msg":"serving".*"port":"\([0-9]*\)".*/\1/p' "$log" | tail -n1)
[ -n "$port" ] || fail "no port in the webhook log: $(cat "$log")"
first_pid=$pid

register() { # CA-FILE
	sed -e "s|__WEBHOOK_URL__|https://127.0.0.1:$port|" -e "s|__CA_BUNDLE__|$(base64 -w0 "$1")|" \
		-e "s|namespaceSelector: {}|namespaceSelector: {matchLabels: {$sel: \"true\"}}|" \
		"$VW_ROOT/manifests/local/webhook-local.yaml" | kubectl apply -f - >/dev/null
}
register "$wh/pki1/ca.crt"

wns() { # PREFIX [LABEL...]: a namespace the webhook applies to
	local n
	n=$(new_ns "$1")
	shift
	kubectl label namespace "$n" "$sel=true" "$@" >/dev/null
	echo "$n"
}
ns=$(wns wh)
dev=$(wns whdev vecward.io/allow-insecure=true)

cluster() { # NAME SPEC-YAML (indented by 2)
	printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: %s}\nspec:\n%s\n' "$1" "$2"
}
user() { # NAME SPEC-YAML
	printf 'apiVersion: vecward.io/v1alpha1\nkind: User\nmetadata: {name: %s}\nspec:\n%s\n' "$1" "$2"
}
key() { # NAME SPEC-YAML
	printf 'apiVersion: vecward.io/v1alpha1\nkind: EncryptionKey\nmetadata: {name: %s}\nspec:\n%s\n' "$1" "$2"
}
# reject NS WHAT NEEDLE <<<YAML: kubectl apply must fail with NEEDLE
reject() {
	expect_fail "$2" kubectl -n "$1" apply -f -
	expect_contains "$OUT" "$3" "$2"
}
# admit NS WHAT [WARNING] <<<YAML: kubectl apply must succeed (with that warning); $OUT
admit() {
	OUT=$(kubectl -n "$1" apply -f - 2>&1) || fail "$2: refused: $OUT"
	[ $# -lt 3 ] || expect_contains "$OUT" "Warning: $3" "$2"
}

# the API server picks registrations up asynchronously: wait until it calls us
disabled=$(cluster plain '  tls: {mode: disabled}')
calls_us() {
	local out
	out=$(kubectl -n "$ns" apply --dry-run=server -f - <<<"$disabled" 2>&1) && return 1
	[[ $out == *VW001* ]]
}
wait_for 30 "the API server calls the webhook" calls_us

# -- insecure specs are refused with the rule's message (webhook-only rules)
reject "$ns" "tls disabled" \
	'admission webhook "validate.vecward.io" denied the request: VW001: spec.tls.mode disabled is refused: passwords and vectors cross the network in plaintext; use server (the default) or mutual, or for development only label namespace '"$ns"' vecward.io/allow-insecure=true' \
	<<<"$disabled"
reject "$ns" "internal TLS off" "VW002: spec.tls.internal false is refused" \
	<<<"$(cluster plain2 '  tls: {internal: false}')"
reject "$ns" "local key outside dev" "VW035: spec.provider local is refused" \
	<"$VW_ROOT/examples/encryptionkey-local.yaml"
reject "$ns" "user named admin" "VW021: spec.username admin is reserved" \
	<<<"$(user admin-user '  clusterRef: {name: prod}
  username: admin')"
kubectl -n "$ns" create secret generic weak-root --from-literal=password=Milvus >/dev/null
reject "$ns" "weak root password" "VW017: the password in Secret weak-root key password (spec.authentication.rootPasswordSecretRef) is shorter than 12 characters" \
	<<<"$(cluster weak '  authentication: {rootPasswordSecretRef: {name: weak-root}}')"
# several problems at once: all of them in one answer
reject "$ns" "several problems" "VW002: spec.tls.internal false is refused" \
	<<<"$(cluster many '  tls: {mode: disabled, internal: false}')"
expect_contains "$OUT" "VW001: spec.tls.mode disabled is refused" "several problems"
# single-object rules are CEL too: the API server's message comes first
reject "$ns" "open allowlist" "must not contain 0.0.0.0/0 or ::/0" \
	<<<"$(cluster open '  network: {allowedCIDRs: [0.0.0.0/0]}')"
kubectl get cluster -n "$ns" -o name | grep -q . && fail "a refused Cluster was stored: $(kubectl get cluster -n "$ns" -o name)"

# -- development namespace: admitted, with a warning
admit "$dev" "tls disabled in an opted-in namespace" "VW001: spec.tls.mode disabled is allowed only because namespace $dev is labelled vecward.io/allow-insecure=true" \
	<<<"$disabled"
admit "$dev" "local key in an opted-in namespace" "VW035: spec.provider local is allowed only because" \
	<"$VW_ROOT/examples/encryptionkey-local.yaml"

# -- the secure examples are stored with every default written out
admit "$ns" "secure key" <"$VW_ROOT/examples/encryptionkey-aws.yaml"
admit "$ns" "secure cluster" <"$VW_ROOT/examples/cluster.yaml"
[[ $OUT != *Warning* ]] || fail "secure cluster warned: $OUT"
admit "$ns" "secure user" <"$VW_ROOT/examples/user.yaml"
jp() { kubectl -n "$ns" get "$1" "$2" -o jsonpath="{$3}"; }
expect_eq "$(jp encryptionkey prod-key .spec.region)" us-east-1 "key region filled in from the ARN (mutating webhook)"
expect_eq "$(jp encryptionkey prod-key .spec.rotationPeriod)" 4380h "key rotationPeriod as written"
expect_eq "$(jp cluster prod .spec.tls.mode)" mutual "cluster tls.mode as written"
expect_eq "$(jp cluster prod .spec.tls.internal)" true "default tls.internal"
expect_eq "$(jp cluster prod .spec.tls.duration)" 2160h "default tls.duration"
expect_eq "$(jp cluster prod .spec.tls.renewBefore)" 360h "default tls.renewBefore"
expect_eq "$(jp cluster prod .spec.audit.enabled)" true "default audit.enabled"
expect_eq "$(jp cluster prod .spec.deletion.recycleBinDays)" 30 "default recycleBinDays"
expect_eq "$(jp cluster prod .spec.encryption.databases)" '["default","embeddings"]' "databases as written"
expect_eq "$(jp user app-reader .spec.username)" app_reader "username as written"
admit "$ns" "user with a defaulted username" <<<"$(user reader1 '  clusterRef: {name: prod}
  roles: [reader]')"
expect_eq "$(jp user reader1 .spec.username)" reader1 "username filled in from metadata.name (mutating webhook)"
expect_eq "$(jp user reader1 .spec.tls.clientCertificate)" false "default clientCertificate"

# -- cross-object rules against what exists
reject "$ns" "region mismatch with an existing key" \
	"VW011: spec.region us-west-2 does not match region us-east-1 of EncryptionKey prod-key" \
	<<<"$(cluster west '  region: us-west-2
  encryption: {keyRef: {name: prod-key}}')"
reject "$ns" "role missing from the Cluster" \
	"VW025: spec.roles: role writer is neither built in (admin, public) nor defined in Cluster prod spec.roles" \
	<<<"$(user writer1 '  clusterRef: {name: prod}
  roles: [writer]')"
admit "$ns" "a server-TLS cluster" <<<"$(cluster srv '  tls: {mode: server}')"
reject "$ns" "client certificate on a server-TLS cluster" \
	"VW026: spec.tls.clientCertificate true needs a Cluster with spec.tls.mode mutual, but Cluster srv uses server" \
	<<<"$(user certuser '  clusterRef: {name: srv}
  tls: {clientCertificate: true}')"
reject "$ns" "duplicate username" \
	"VW024: spec.username app_reader is already used by User app-reader of Cluster prod" \
	<<<"$(user app-reader-2 '  clusterRef: {name: prod}
  username: app_reader')"
reject "$ns" "duplicate of a defaulted username" \
	"VW024: spec.username reader1 is already used by User reader1 of Cluster prod" \
	<<<"$(user reader1-again '  clusterRef: {name: prod}
  username: reader1')"
# the duplicate checks listed by field selector (the CRD's selectableFields), not all Users
if grep -q 'field selectors refused' "$log"; then fail "the API server refused the webhook's field selectors: $(grep 'field selectors refused' "$log")"; fi
admit "$ns" "granting admin" "VW027: spec.roles grants admin" <<<"$(user ops '  clusterRef: {name: prod}
  roles: [admin]')"
reject "$ns" "the same KMS key twice" "VW032: EncryptionKey prod-key already uses aws-kms key" \
	<<<"$(key prod-key-2 '  provider: aws-kms
  keyID: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab')"
reject "$ns" "switching the cluster's key" "spec.encryption.keyRef is immutable once set" \
	<<<"$(cluster prod '  region: us-east-1
  encryption: {keyRef: {name: other-key}}')"
# metadata-only updates are never blocked
kubectl -n "$ns" label cluster prod team=search >/dev/null || fail "label update refused"

# -- deleting a key in use: refused, unless crypto-shredding is deliberate
expect_fail "delete a key in use" kubectl -n "$ns" delete encryptionkey prod-key
expect_contains "$OUT" "VW034: EncryptionKey prod-key is used by Cluster prod (spec.encryption.keyRef)" "delete a key in use"
kubectl -n "$ns" annotate encryptionkey prod-key vecward.io/allow-crypto-shredding=true >/dev/null
OUT=$(kubectl -n "$ns" delete encryptionkey prod-key 2>&1) || fail "deliberate crypto-shredding refused: $OUT"
expect_contains "$OUT" "Warning: VW034: deleting EncryptionKey prod-key, still used by Cluster prod, on purpose" "deliberate delete"

# -- GitOps order: everything applied at once, references first
gns=$(wns whgit)
OUT=$(kubectl -n "$gns" apply -f "$VW_ROOT/examples/user.yaml" -f "$VW_ROOT/examples/cluster.yaml" \
	-f "$VW_ROOT/examples/encryptionkey-aws.yaml" 2>&1) || fail "GitOps order refused: $OUT"
expect_contains "$OUT" "Warning: VW025: Cluster prod (spec.clusterRef) does not exist yet; admitted" "User before its Cluster"
expect_contains "$OUT" "Warning: VW011: EncryptionKey prod-key (spec.encryption.keyRef) does not exist yet; admitted" "Cluster before its key"
expect_eq "$(kubectl -n "$gns" get vwu,vwc,vwkey -o name | wc -l)" 3 "GitOps order: all stored"
# ... but a key that arrives in another region than the Cluster waiting for it is refused
admit "$gns" "Cluster before its key" "VW011: EncryptionKey west-key (spec.encryption.keyRef) does not exist yet" \
	<<<"$(cluster west '  region: us-east-1
  encryption: {keyRef: {name: west-key}}')"
reject "$gns" "key in another region than the Cluster that waits for it" \
	"VW011: this key is in region eu-west-1 but Cluster west, which uses it (spec.encryption.keyRef), is in us-east-1" \
	<<<"$(key west-key '  provider: aws-kms
  keyID: arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef')"

# -- at most 20 EncryptionKeys per namespace (seed 002)
kns=$(wns whkeys)
for i in $(seq 1 20); do
	key "k$i" "  provider: aws-kms
  keyID: arn:aws:kms:us-east-1:111122223333:key/mrk-$(printf '%032d' "$i")"
	echo ---
done | kubectl -n "$kns" apply -f - >/dev/null
expect_eq "$(kubectl -n "$kns" get encryptionkeys -o name | wc -l)" 20 "20 keys"
reject "$kns" "the 21st key" "VW033: namespace $kns already has 20 EncryptionKeys, and seed 002 allows at most 20 per project" \
	<<<"$(key k21 '  provider: aws-kms
  keyID: arn:aws:kms:us-east-1:111122223333:key/mrk-ffffffffffffffffffffffffffffffff')"

# -- metrics
curl -fsS --cacert "$wh/pki1/ca.crt" "https://127.0.0.1:$port/metrics" >"$wh/metrics"
grep -Eq '^vecward_webhook_denials_total\{rule="VW001"\} [1-9]' "$wh/metrics" || fail "no VW001 denials in /metrics"
grep -Eq '^vecward_webhook_requests_total\{endpoint="mutate",result="allowed"\} [1-9]' "$wh/metrics" || fail "no mutations in /metrics"
expect_eq "$(curl -fsS --cacert "$wh/pki1/ca.crt" "https://127.0.0.1:$port/healthz")" ok "/healthz"

# -- a webhook that can not reach the API server can not decide: it denies (VW000)
sed -E 's#(server: https://)[^ ]*#\1127.0.0.1:1#' "$KUBECONFIG" >"$wh/unreachable.kubeconfig"
"${VW_WEBHOOK_BIN:-$VW_ROOT/bin/vecward-webhook}" --listen 127.0.0.1:0 --tls-cert "$wh/tls.crt" --tls-key "$wh/tls.key" \
	--kubeconfig "$wh/unreachable.kubeconfig" >"$wh/lost.log" 2>&1 &
lost=$!
wait_for 15 "second webhook serving" grep -q '"msg":"serving"' "$wh/lost.log"
lport=$(sed -n 's/.*"msg":"serving".*"port":"\([0-9]*\)".*/\1/p' "$wh/lost.log")
review='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"e2e-1",
"kind":{"group":"vecward.io","version":"v1alpha1","kind":"Cluster"},"namespace":"'"$ns"'",
"operation":"CREATE","object":{"metadata":{"name":"x"},"spec":{"tls":{"mode":"disabled"}}}}}'
out=$(curl -sS --cacert "$wh/pki1/ca.crt" -H 'Content-Type: application/json' --data-binary "$review" \
	"https://127.0.0.1:$lport/validate")
kill -TERM "$lost"
wait "$lost" || fail "second webhook did not stop cleanly"
expect_contains "$out" '"uid":"e2e-1","allowed":false,"status":{"code":403' "undecided request"
expect_contains "$out" "VW000: cannot decide: reading Namespace $ns failed" "undecided request"
out=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$wh/pki1/ca.crt" --data-binary '{"kind":' \
	"https://127.0.0.1:$port/validate")
expect_eq "$out" 400 "malformed AdmissionReview"

# -- fail closed: with the webhook stopped, writes are refused
kill -TERM "$pid"
wait_for 15 "webhook exits on SIGTERM" bash -c "! kill -0 $pid 2>/dev/null"
rc=0
wait "$pid" || rc=$?
expect_eq "$rc" 0 "webhook exit status after SIGTERM"
pid=
grep -q '"msg":"stopped"' "$log" || fail "no clean stop in the log"
expect_fail "write while the webhook is down" kubectl -n "$ns" apply -f - <<<"$(cluster down '  tls: {mode: server}')"
expect_contains "$OUT" 'failed calling webhook "mutate.vecward.io"' "write while the webhook is down"
kubectl get cluster down -n "$ns" >/dev/null 2>&1 && fail "a write got through while the webhook was down"

# -- restarted on the same port, writes go through again
start_webhook "127.0.0.1:$port"
wait_for 15 "webhook serving again" bash -c "[ \$(grep -c '\"msg\":\"serving\"' '$log') -ge 2 ]"
apply_down() { kubectl -n "$ns" apply -f - <<<"$(cluster down '  tls: {mode: server}')"; }
wait_for 30 "write after restart" apply_down

# -- certificate reload: a new CA and serving certificate, same process
restarted_pid=$pid
pki "$wh/pki2" two
served_by_ca2() {
	curl -fsS --cacert "$wh/pki2/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null
}
wait_for 15 "webhook serves the new certificate" served_by_ca2
register "$wh/pki2/ca.crt"
apply_reloaded() { kubectl -n "$ns" apply -f - <<<"$(cluster reloaded '  tls: {mode: server}')"; }
wait_for 30 "writes through the new certificate" apply_reloaded
reject "$ns" "rules still enforced after the reload" "VW001: spec.tls.mode disabled is refused" <<<"$disabled"
expect_eq "$pid" "$restarted_pid" "same webhook process"
kill -0 "$pid" || fail "webhook died during the reload"
grep -q '"msg":"serving certificate reloaded' "$log" || fail "no reload in the log"
curl -fsS --cacert "$wh/pki1/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 &&
	fail "the old certificate is still served"
# the log never carries key material
if grep -q "PRIVATE KEY" "$log"; then fail "webhook log contains key material"; fi
[ "$first_pid" != "$pid" ] || fail "restart did not start a new process"
echo "ok: webhook refuses insecure specs, fills defaults, GitOps order, cross-object rules, fails closed, reloads its certificate"
