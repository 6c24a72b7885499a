#!/usr/bin/env bash
# The Milvus side of customer-managed encryption (spec.encryption.cipherPlugin), driven
# through bin/e2e/cipher_e2e (tests/e2e/cipher_e2e.c) the way the Cluster reconciler calls
# it, against the real apiserver and the Milvus test double (tests/milvusd) with and
# without --cipher-plugin. No operator runs here. Checks:
#   - every database of spec.encryption.databases is created as an encryption zone
#     (cipher.enabled=true, cipher.key=<key ARN>; Milvus adds cipher.ezID), with one
#     EncryptedDatabaseCreated Event each;
#   - a second pass in the same process sends Milvus nothing (synccache); a fresh process
#     only reads (list + describe) and creates nothing; adding a database creates it alone;
#   - a database that exists unencrypted, or under another key, is reported
#     (EncryptionZoneMismatch) and left as it is; "default" of a Milvus that did not encrypt
#     it at its first start is reported with how to proceed, and passes when Milvus did
#     (cipherPlugin.kms.defaultKey);
#   - an open-source Milvus (no plugin) gives CipherPluginMissing and creates nothing;
#   - without cipherPlugin nothing is contacted (NoCipherPlugin); without a key ARN,
#     KMSKeyNotReady;
#   - the hook Secret and the Deployment that mounts it are accepted by the apiserver.
. "$(dirname "$0")/lib.sh"

E=${CIPHER_E2E:-$VW_ROOT/bin/e2e/cipher_e2e}
M=${MILVUSD:-$VW_ROOT/bin/milvusd}
[ -x "$E" ] || fail "missing $E (run: make bin/e2e/cipher_e2e)"
[ -x "$M" ] || fail "missing $M (run: make bin/milvusd)"

kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io >/dev/null
ns=$(new_ns cipher)
work=$TMPDIR/cipher-$ns
mkdir -p "$work"
chmod 700 "$work"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p" || true; done
	kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

arn=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
other=arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000

# -- PKI: a CA and one server certificate for every Cluster's Service name
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=vecward-e2e-cipher-ca" -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
sans=
for c in c1 c2 c3 c4 c5 c6; do sans="$sans${sans:+,}DNS:$c.$ns.svc"; done
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=milvus" \
	-keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$sans" >"$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
	-days 1 -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null
chmod 600 "$work/server.key"
printf 'Root-pw-for-cipher-1\n' >"$work/root.pw"

# milvus NAME ARGS...: a test double; sets PORT
milvus() {
	local n=$1 d=$work/$1
	shift
	mkdir -p "$d"
	"$M" --listen 127.0.0.1:0 --port-file "$d/port" --cert "$work/server.crt" \
		--key "$work/server.key" --root-password-file "$work/root.pw" \
		--state-file "$d/state.json" --log-file "$d/requests.log" "$@" >>"$d/out.log" 2>&1 &
	pids+=("$!")
	wait_for 20 "milvusd $n" test -s "$d/port"
	PORT=$(cat "$d/port")
}
milvus plugin --cipher-plugin
p_plugin=$PORT
milvus plain
p_plain=$PORT
milvus defkey --cipher-plugin --cipher-default-key "$arn"
p_defkey=$PORT

# mcall PORT PATH BODY: root's REST call to a double; the answer in RESP
mcall() {
	RESP=$(curl -sS --cacert "$work/ca.crt" --connect-to "c1.$ns.svc:8080:127.0.0.1:$1" \
		-H "Authorization: Bearer root:Root-pw-for-cipher-1" -H 'Content-Type: application/json' \
		-d "$3" "https://c1.$ns.svc:8080/v2/vectordb/$2") || fail "curl $2"
}
props() { mcall "$1" databases/describe "{\"dbName\":\"$2\"}"; jq -c '[.data.properties[] | select(.key != "cipher.ezID")]' <<<"$RESP"; }
zone="[{\"key\":\"cipher.enabled\",\"value\":\"true\"},{\"key\":\"cipher.key\",\"value\":\"$arn\"}]"

# cluster NAME PORT ENCRYPTION-YAML: a Cluster whose Milvus is the double on PORT, with
# the root Secret and trust bundle the operator would have made
cluster() {
	kubectl -n "$ns" create secret generic "$1-root" --from-literal=username=root \
		--from-file=password=<(tr -d '\n' <"$work/root.pw") >/dev/null
	kubectl -n "$ns" create secret generic "$1-ca-cert" --from-file=ca.crt="$work/ca.crt" >/dev/null
	kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata:
  name: $1
  annotations: {vecward.io/milvus-connect-to: "127.0.0.1:$2"}
spec:
  region: us-east-1
$3
EOF
}
plugin='    cipherPlugin: {soPathGo: /milvus/plugins/cipher.so, soPathCpp: /milvus/lib/libcipher.so}'
sync() { "$E" -n "$ns" -c "$@" sync; }
line() { sed -n "${1}p" <<<"$OUT"; }

# -- c1: two named databases are created encrypted, once
cluster c1 "$p_plugin" "  encryption:
    keyRef: {name: prod-key}
    databases: [sales, hr]
$plugin"
OUT=$(sync c1 --key-arn "$arn" --passes 2) || fail "cipher_e2e: $OUT"
expect_contains "$(line 1)" "pass=1 rc=0 ok=1 reason=Encrypted contacted=1 created=2 requests=5:" "first pass: list, 2 creates, 2 describes"
expect_contains "$(line 1)" "every listed database is an encryption zone under KMS key $arn: sales, hr" "first pass message"
expect_eq "$(line 2)" "pass=2 rc=0 ok=1 reason=Encrypted contacted=0 created=0 requests=0: every listed database is an encryption zone under KMS key $arn: sales, hr" \
	"an idle second pass sends Milvus nothing"
expect_eq "$(props "$p_plugin" sales)" "$zone" "sales in Milvus"
expect_eq "$(props "$p_plugin" hr)" "$zone" "hr in Milvus"
ev=$(kubectl -n "$ns" get events.events.k8s.io -o json |
	jq -r '.items[] | select(.reason == "EncryptedDatabaseCreated") | "\(.regarding.name) \(.type) \(.note)"')
expect_eq "$(wc -l <<<"$ev")" 2 "one Event per created database: $ev"
expect_contains "$ev" "c1 Normal created database sales as an encryption zone under KMS key $arn" "Event"
# a restarted operator (fresh cache) only reads
OUT=$(sync c1 --key-arn "$arn") || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "pass=1 rc=0 ok=1 reason=Encrypted contacted=1 created=0 requests=3:" "fresh process: list + 2 describes"
# a database added to the spec is created alone
kubectl -n "$ns" patch cluster c1 --type=merge -p '{"spec":{"encryption":{"databases":["sales","hr","extra"]}}}' >/dev/null
OUT=$(sync c1 --key-arn "$arn" --passes 2) || fail "cipher_e2e: $OUT"
expect_contains "$(line 1)" "ok=1 reason=Encrypted contacted=1 created=1" "added database"
expect_contains "$(line 2)" "contacted=0 created=0 requests=0" "added database, idle"
expect_eq "$(props "$p_plugin" extra)" "$zone" "extra in Milvus"

# -- a database that exists unencrypted, or under another key, is reported and left alone
mcall "$p_plugin" databases/create '{"dbName":"legacy","properties":{"team":"x"}}'
mcall "$p_plugin" databases/create "{\"dbName\":\"foreign\",\"properties\":{\"cipher.enabled\":\"true\",\"cipher.key\":\"$other\"}}"
kubectl -n "$ns" patch cluster c1 --type=merge -p '{"spec":{"encryption":{"databases":["sales","hr","extra","legacy"]}}}' >/dev/null
OUT=$(sync c1 --key-arn "$arn" --passes 2) || fail "cipher_e2e: $OUT"
expect_contains "$(line 1)" "rc=0 ok=0 reason=EncryptionZoneMismatch contacted=1 created=0" "unencrypted database"
expect_contains "$(line 1)" "database legacy exists in Milvus without encryption" "unencrypted database message"
expect_contains "$(line 1)" "drop legacy in Milvus, and vecward creates it encrypted" "unencrypted database fix"
expect_contains "$(line 2)" "reason=EncryptionZoneMismatch contacted=1" "a mismatch is checked again"
expect_eq "$(props "$p_plugin" legacy)" '[{"key":"team","value":"x"}]' "legacy untouched"
kubectl -n "$ns" patch cluster c1 --type=merge -p '{"spec":{"encryption":{"databases":["sales","hr","extra","legacy","foreign"]}}}' >/dev/null
OUT=$(sync c1 --key-arn "$arn") || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "reason=EncryptionZoneMismatch" "two mismatches"
expect_contains "$OUT" "(1 more database(s) of spec.encryption.databases are not encryption zones either)" "two mismatches counted"
OUT=$(sync c1 --key-arn "$other") || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "database sales is encrypted under KMS key $arn, not $other" "another key"
mcall "$p_plugin" databases/list '{}'
expect_eq "$(jq -c .data <<<"$RESP")" '["default","extra","foreign","hr","legacy","sales"]' "nothing dropped or added"

# -- default: Milvus's own; only a build that encrypted it at its first start passes
cluster c2 "$p_plugin" "  encryption:
    keyRef: {name: prod-key}
$plugin"
expect_eq "$(kubectl -n "$ns" get cluster c2 -o jsonpath='{.spec.encryption.databases}')" '["default"]' "databases default"
OUT=$(sync c2 --key-arn "$arn") || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "rc=0 ok=0 reason=EncryptionZoneMismatch contacted=1 created=0 requests=2:" "default unencrypted"
expect_contains "$OUT" "database default is not encrypted: Milvus creates it at its first start" "default message"
expect_contains "$OUT" "keep data in named databases listed in spec.encryption.databases" "default fix"
cluster c3 "$p_defkey" "  encryption:
    keyRef: {name: prod-key}
$plugin"
OUT=$(sync c3 --key-arn "$arn") || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "rc=0 ok=1 reason=Encrypted contacted=1 created=0" "default encrypted by kms.defaultKey"

# -- open-source Milvus: no plugin, nothing created
cluster c4 "$p_plain" "  encryption:
    keyRef: {name: prod-key}
    databases: [sales]
$plugin"
OUT=$(sync c4 --key-arn "$arn") || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "rc=0 ok=0 reason=CipherPluginMissing contacted=1 created=0" "no plugin"
expect_contains "$OUT" "its image has no cipher plugin (open-source Milvus has none)" "no plugin message"
mcall "$p_plain" databases/list '{}'
expect_eq "$(jq -c .data <<<"$RESP")" '["default"]' "nothing created without a plugin"

# -- no cipherPlugin: nothing contacted; no key ARN: KMSKeyNotReady
cluster c5 "$p_plugin" "  encryption:
    keyRef: {name: prod-key}
    databases: [other]"
OUT=$(sync c5 --key-arn "$arn") || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "rc=0 ok=1 reason=NoCipherPlugin contacted=0 created=0 requests=0:" "no cipherPlugin"
OUT=$(sync c1) || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "rc=0 ok=0 reason=KMSKeyNotReady contacted=0 created=0 requests=0:" "no key ARN"
expect_contains "$OUT" "EncryptionKey prod-key" "no key ARN message"

# -- Milvus unreachable: worth a retry
cluster c6 "1" "  encryption:
    keyRef: {name: prod-key}
$plugin"
OUT=$(sync c6 --key-arn "$arn") || fail "cipher_e2e: $OUT"
expect_contains "$OUT" "rc=-1 ok=0 reason=MilvusUnreachable contacted=1" "unreachable"

# -- the hook Secret and the Deployment mounting it are valid objects
kubectl -n "$ns" patch cluster c2 --type=merge -p '{"spec":{"encryption":{"cipherPlugin":{"soPathGo":"/x.so"}}}}' \
	>/dev/null 2>&1 && fail "cipherPlugin changed on an existing Cluster"
mkdir -p "$work/render"
OUT=$("$E" -n "$ns" -c c2 --key-arn "$arn" --rotation-hours 8760 render "$work/render") || fail "render: $OUT"
expect_eq "$OUT" rendered "render"
grep -qx "    defaultKey: \"$arn\"" "$work/render/hook.yaml" || fail "hook.yaml: $(cat "$work/render/hook.yaml")"
kubectl -n "$ns" apply --dry-run=server -f "$work/render/hook-secret.json" >/dev/null ||
	fail "the apiserver refused the hook Secret"
kubectl -n "$ns" apply --dry-run=server -f "$work/render/deployment.json" >/dev/null ||
	fail "the apiserver refused the Deployment with the hook mount"
expect_eq "$(jq -r '.data["hook.yaml"]' "$work/render/hook-secret.json" | base64 -d)" \
	"$(cat "$work/render/hook.yaml")" "the Secret holds hook.yaml"
OUT=$("$E" -n "$ns" -c c5 --key-arn "$arn" render "$work/render") || fail "render: $OUT"
expect_eq "$OUT" no-hook "no hook without cipherPlugin"
echo "ok: encryption zones created once, mismatches reported, no-plugin Milvus refused, idle resync silent"
