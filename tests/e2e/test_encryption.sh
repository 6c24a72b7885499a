#!/usr/bin/env bash
# Issue 6 end to end: EncryptionKeys and the key hierarchy, with moto_server on loopback
# as AWS KMS (tests/e2e/moto.sh) and a local key.
#
#   - an aws-kms EncryptionKey (credentials from a Secret, endpoint override) becomes
#     Ready with keyState Enabled and region us-east-1;
#   - an encrypted Cluster gets one zone key per database in Secret <cluster>-zone-keys,
#     stored only wrapped: the plaintext (unwrapped here with boto3 under the right
#     context) appears nowhere in the namespace's objects, Events or the operator log;
#     EncryptionReady turns True;
#   - a file encrypted with vecward-crypt decrypts after an operator restart (the restart
#     writes nothing: no key is regenerated); decrypting as another database is refused;
#     a wrapped key replayed into another database's entry does not unwrap (the KMS
#     checks the encryption context);
#   - rotation on request adds version 2 of every zone, keeps version 1 (old files still
#     decrypt), and new files use version 2;
#   - DisableKey in the KMS turns the key's Ready and the Cluster's EncryptionReady False
#     (KMSKeyDisabled); EnableKey turns them back;
#   - a Cluster with a cipher plugin (a Milvus build that has one: the test double with
#     --cipher-plugin) gets hook.yaml with the key ARN, mounted by its Deployment, and its
#     databases created encrypted (cipher.enabled, cipher.key) once Milvus is available;
#   - a Cluster deleted and re-created with the same name (a new UID) adopts its zone keys
#     from the recycle bin, gets version 3 bound to its new UID, and still decrypts the
#     files of its earlier incarnation;
#   - deleting the key while a Cluster uses it waits (KeyInUse); with the annotation
#     vecward.io/allow-crypto-shredding=true the key goes and its zone keys are destroyed
#     at the end of the Cluster's recycle-bin window, after which the file can no longer
#     be decrypted;
#   - a local key: its root key Secret is generated once, the zone keys work the same,
#     and deleting the key without the shred annotation keeps the root key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/moto.sh"

CRYPT=${VW_CRYPT_BIN:-$VW_ROOT/bin/vecward-crypt}
[ -x "$CRYPT" ] || fail "missing $CRYPT (run: make)"
kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/encryptionkeys.vecward.io >/dev/null
ns=$(new_ns enc)
work=$TMPDIR/enc-$ns
mkdir -p "$work"
chmod 700 "$work"
log=$work/operator.log

opid=
start_operator() {
	"${VW_OPERATOR_BIN:-$VW_ROOT/bin/vecward-operator}" --kubeconfig "$KUBECONFIG" --namespace "$ns" \
		--leader-elect false --resync 3 --workers 2 --recycle-day-seconds 8 --allow-milvus-connect-to \
		--log-level debug >>"$log" 2>&1 &
	opid=$!
}
stop_operator() { [ -z "$opid" ] || { kill -9 "$opid" 2>/dev/null || true; wait "$opid" 2>/dev/null || true; opid=; }; }
mpid=
stop_milvus() { [ -z "$mpid" ] || { kill "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true; mpid=; }; }
trap 'stop_pid "$opid" || true; stop_milvus; moto_stop; kubectl delete pv pv-$ns --wait=false >/dev/null 2>&1 || true' EXIT
moto_start "$work"

arn=$(kms create-key) || fail "create-key failed"
kubectl create secret generic kms-creds -n "$ns" --from-literal=aws_access_key_id="$AWS_ACCESS_KEY_ID" \
	--from-literal=aws_secret_access_key="$AWS_SECRET_ACCESS_KEY" >/dev/null
start_operator

cond() { kubectl get "$1" -n "$ns" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}"; }
is_true() { test "$(cond "$1" "$2" status)" = True; }
reason_is() { test "$(cond "$1" "$2" reason)" = "$3"; }
jp() { kubectl get "$1" -n "$ns" -o jsonpath="{$2}"; }
crypt() { "$CRYPT" --kubeconfig "$KUBECONFIG" "$@"; }

kubectl apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: vecward.io/v1alpha1
kind: EncryptionKey
metadata:
  name: prod-key
spec:
  provider: aws-kms
  keyID: $arn
  endpoint: $moto_ep
  credentialsSecretRef: {name: kms-creds}
---
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata:
  name: vault
spec:
  version: v2.5.4
  region: us-east-1
  encryption:
    keyRef: {name: prod-key}
    databases: [default, embeddings]
  deletion: {recycleBinDays: 1}
EOF
wait_for 60 "EncryptionKey prod-key Ready" is_true vwkey/prod-key Ready
expect_eq "$(jp vwkey/prod-key .status.keyState)" Enabled "keyState"
expect_eq "$(jp vwkey/prod-key .status.region)" us-east-1 "region from the ARN"
wait_for 60 "Cluster vault EncryptionReady" is_true cluster/vault EncryptionReady
expect_eq "$(cond cluster/vault EncryptionReady reason)" ZoneKeysReady "EncryptionReady reason"
expect_eq "$(jp vwkey/prod-key '.status.zones[*].database')" "default embeddings" "zones in status"
expect_eq "$(jp vwkey/prod-key '.status.zones[*].version')" "1 1" "zone versions"

# ---- the zone keys are stored wrapped only -------------------------------------------
entry() { kubectl get secret vault-zone-keys -n "$ns" -o jsonpath="{.data.${1//./\\.}}" | base64 -d; }
keys_of() { kubectl get secret vault-zone-keys -n "$ns" -o json | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["data"])))'; }
expect_eq "$(keys_of)" "default.v1 embeddings.v1" "zone key entries"
uid=$(jp cluster/vault .metadata.uid)
e1=$(entry embeddings.v1)
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
expect_eq "$(field "$e1" clusterUID)" "$uid" "entry bound to the cluster UID"
expect_eq "$(field "$e1" keyID)" "$arn" "entry names the root key"
ctx() { printf '{"vecward.io/cluster-uid":"%s","vecward.io/database":"%s","vecward.io/purpose":"encryption-zone-key","vecward.io/version":"%s"}' "$uid" "$1" "$2"; }
plain_b64=$(kms decrypt "$(field "$e1" wrapped)" "$(ctx embeddings 1)") || fail "the wrapped zone key does not unwrap with its context"
plain_hex=$(echo "$plain_b64" | base64 -d | od -An -tx1 | tr -d ' \n')
expect_eq "${#plain_hex}" 64 "a 256-bit zone key"
expect_fail "unwrap as another database" kms decrypt "$(field "$e1" wrapped)" "$(ctx default 1)"
no_plaintext() {
	local dump=$work/dump.json
	kubectl get secrets,configmaps,events,clusters,encryptionkeys -n "$ns" -o json >"$dump"
	for s in "$plain_b64" "$plain_hex" "$(echo "$plain_b64" | base64 -w0 | tr -d '\n')"; do
		grep -qF "$s" "$dump" && fail "$1: a plaintext zone key is stored in the apiserver"
		grep -qF "$s" "$log" && fail "$1: a plaintext zone key is in the operator log"
	done
	grep -qF "$AWS_SECRET_ACCESS_KEY" "$log" && fail "$1: the AWS secret key is in the operator log"
	return 0
}
no_plaintext "after creation"

# ---- vecward-crypt, an operator restart, the wrong database ---------------------------
head -c 300000 /dev/urandom >"$work/plain.bin"
crypt encrypt -n "$ns" --cluster vault --database embeddings --in "$work/plain.bin" --out "$work/file.vwenc" ||
	fail "vecward-crypt encrypt failed"
out=$(crypt inspect --in "$work/file.vwenc") || fail "inspect: $out"
expect_eq "$(echo "$out" | sed -n 's/^database: *//p')" embeddings "inspect shows the database"
expect_eq "$(echo "$out" | sed -n 's/^version: *//p')" 1 "inspect shows the version"
rv=$(jp secret/vault-zone-keys .metadata.resourceVersion)
stop_operator
start_operator
sleep 8 # more than two resyncs
expect_eq "$(jp secret/vault-zone-keys .metadata.resourceVersion)" "$rv" "a restart rewrites no zone key"
expect_eq "$(keys_of)" "default.v1 embeddings.v1" "no key regenerated after a restart"
crypt decrypt -n "$ns" --cluster vault --database embeddings --in "$work/file.vwenc" --out "$work/back.bin" ||
	fail "decrypt after restart failed"
cmp -s "$work/plain.bin" "$work/back.bin" || fail "decrypted file differs"
expect_fail "decrypt as another database" crypt decrypt -n "$ns" --cluster vault --database default \
	--in "$work/file.vwenc" --out "$work/wrong.bin"
expect_contains "$OUT" "embeddings" "the refusal names the file's database"
[ -e "$work/wrong.bin" ] && fail "a refused decrypt left an output file"
# replay: the default database's wrapped key copied into the embeddings entry
e0=$(entry default.v1)
forged=$(python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); b["wrapped"]=a["wrapped"]; print(json.dumps(b))' "$e0" "$e1")
kubectl patch secret vault-zone-keys -n "$ns" --type merge \
	-p "{\"data\":{\"embeddings.v1\":\"$(printf %s "$forged" | base64 -w0)\"}}" >/dev/null
expect_fail "decrypt with a replayed zone key" crypt decrypt -n "$ns" --cluster vault --database embeddings \
	--in "$work/file.vwenc" --out "$work/replay.bin"
expect_contains "$OUT" "InvalidCiphertext" "the KMS refuses the replayed key"
[ -e "$work/replay.bin" ] && fail "a failed decrypt left an output file"
kubectl patch secret vault-zone-keys -n "$ns" --type merge \
	-p "{\"data\":{\"embeddings.v1\":\"$(printf %s "$e1" | base64 -w0)\"}}" >/dev/null

# ---- rotation on request ---------------------------------------------------------------
kubectl annotate vwkey prod-key -n "$ns" vecward.io/rotate-zone-keys=r1 >/dev/null
handled() { test "$(jp vwkey/prod-key .status.zoneKeyRotationRequest)" = r1; }
wait_for 60 "rotation r1 handled" handled
expect_eq "$(keys_of)" "default.v1 default.v2 embeddings.v1 embeddings.v2" "version 2 added, version 1 kept"
expect_eq "$(jp vwkey/prod-key '.status.zones[*].version')" "2 2" "zones at version 2"
sleep 4
expect_eq "$(keys_of)" "default.v1 default.v2 embeddings.v1 embeddings.v2" "a handled request rotates once"
crypt decrypt -n "$ns" --cluster vault --database embeddings --in "$work/file.vwenc" --out "$work/back1.bin" ||
	fail "an old file no longer decrypts after rotation"
cmp -s "$work/plain.bin" "$work/back1.bin" || fail "decrypted file differs after rotation"
crypt encrypt -n "$ns" --cluster vault --database embeddings --in "$work/plain.bin" --out "$work/file2.vwenc" ||
	fail "encrypt after rotation failed"
out=$(crypt inspect --in "$work/file2.vwenc")
expect_eq "$(echo "$out" | sed -n 's/^version: *//p')" 2 "new files use version 2"
kubectl get events -n "$ns" -o jsonpath='{.items[*].reason}' >"$work/reasons"
expect_contains "$(cat "$work/reasons")" ZoneKeyCreated "ZoneKeyCreated Event"
expect_contains "$(cat "$work/reasons")" ZoneKeyRotated "ZoneKeyRotated Event"
no_plaintext "after rotation"

# ---- the KMS key disabled, then enabled again ------------------------------------------
kms disable-key "$arn" || fail "disable-key failed"
wait_for 60 "key Ready turns False" reason_is vwkey/prod-key Ready KMSKeyDisabled
expect_eq "$(jp vwkey/prod-key .status.keyState)" Disabled "keyState Disabled"
wait_for 60 "Cluster EncryptionReady turns False" reason_is cluster/vault EncryptionReady KMSKeyDisabled
expect_eq "$(cond cluster/vault EncryptionReady status)" False "EncryptionReady False"
kms enable-key "$arn" || fail "enable-key failed"
wait_for 60 "key Ready again" is_true vwkey/prod-key Ready
wait_for 60 "Cluster EncryptionReady again" is_true cluster/vault EncryptionReady

# ---- a Milvus build with a cipher plugin: hook.yaml and encrypted databases ------------
data_pv "$ns" cz-data
kubectl apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata:
  name: cz
spec:
  version: v2.5.4
  region: us-east-1
  encryption:
    keyRef: {name: prod-key}
    databases: [sales]
    cipherPlugin: {soPathGo: /milvus/plugins/cipher.so, soPathCpp: /milvus/lib/libcipher.so}
  deletion: {recycleBinDays: 0}
EOF
wait_for 90 "Cluster cz Ready" is_true cluster/cz Ready
hook=$(kubectl get secret cz-hook -n "$ns" -o jsonpath='{.data.hook\.yaml}' | base64 -d)
expect_contains "$hook" "$arn" "hook.yaml names the KMS key"
expect_contains "$hook" "/milvus/lib/libcipher.so" "hook.yaml names the plugin"
expect_contains "$(jp deployment/cz '.spec.template.spec.containers[0].volumeMounts[*].mountPath')" \
	/milvus/configs/hook.yaml "the Deployment mounts hook.yaml"
expect_eq "$(cond cluster/cz EncryptionReady status)" False "no encrypted databases before Milvus answers"
case $(cond cluster/cz EncryptionReady reason) in
WaitingForMilvus | MilvusUnreachable) ;;
*) fail "EncryptionReady before Milvus answers: $(cond cluster/cz EncryptionReady reason)" ;;
esac
sec() { kubectl get secret "$1" -n "$ns" -o jsonpath="{.data.${2//./\\.}}" | base64 -d; }
sec cz-server-tls tls.crt >"$work/cz.crt"
sec cz-server-tls tls.key >"$work/cz.key"
sec cz-ca-cert ca.crt >"$work/cz-ca.crt"
sec cz-root password >"$work/cz-root.pw"
"${MILVUSD:-$VW_ROOT/bin/milvusd}" --listen 127.0.0.1:0 --port-file "$work/milvus.port" \
	--cert "$work/cz.crt" --key "$work/cz.key" --root-password-file "$work/cz-root.pw" \
	--super-users root --cipher-plugin --state-file "$work/milvus.state" \
	--log-file "$work/milvus.log" >>"$work/milvusd.out" 2>&1 &
mpid=$!
wait_for 10 "milvusd port" test -s "$work/milvus.port"
mport=$(cat "$work/milvus.port")
kubectl annotate cluster cz -n "$ns" vecward.io/milvus-connect-to=127.0.0.1:$mport >/dev/null
wait_for 60 "Cluster cz encrypted databases" reason_is cluster/cz EncryptionReady Encrypted
expect_eq "$(cond cluster/cz EncryptionReady status)" True "EncryptionReady with the plugin"
props=$(curl -sS --cacert "$work/cz-ca.crt" --connect-to "cz.$ns.svc:8080:127.0.0.1:$mport" \
	-H "Authorization: Bearer root:$(cat "$work/cz-root.pw")" -H 'Content-Type: application/json' \
	-d '{"dbName":"sales"}' "https://cz.$ns.svc:8080/v2/vectordb/databases/describe")
expect_contains "$props" '"cipher.enabled","value":"true"' "database sales is encrypted"
expect_contains "$props" "\"cipher.key\",\"value\":\"$arn\"" "under the key"
kubectl delete cluster cz -n "$ns" --wait=false >/dev/null
stop_milvus

# ---- the recycle bin: a Cluster re-created with the same name keeps its zone keys -----
kubectl get cluster vault -n "$ns" -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); print(json.dumps({"apiVersion":o["apiVersion"],"kind":o["kind"],"metadata":{"name":"vault"},"spec":o["spec"]}))' >"$work/vault.json"
kubectl delete cluster vault -n "$ns" >/dev/null
gone() { ! kubectl get "$1" -n "$ns" >/dev/null 2>&1; }
wait_for 60 "Cluster vault gone" gone cluster/vault
expect_contains "$(kubectl get secret vault-zone-keys -n "$ns" -o jsonpath='{.metadata.labels}')" \
	vecward.io/purge-after "zone keys in the recycle bin"
kubectl apply -n "$ns" -f "$work/vault.json" >/dev/null
uid2=$(jp cluster/vault .metadata.uid)
[ "$uid2" != "$uid" ] || fail "the re-created Cluster has the old UID"
wait_for 60 "re-created Cluster EncryptionReady" is_true cluster/vault EncryptionReady
has_v3() { test "$(keys_of)" = "default.v1 default.v2 default.v3 embeddings.v1 embeddings.v2 embeddings.v3"; }
wait_for 30 "version 3 for the new incarnation" has_v3
expect_eq "$(field "$(entry embeddings.v3)" clusterUID)" "$uid2" "version 3 bound to the new UID"
expect_eq "$(jp secret/vault-zone-keys '.metadata.ownerReferences[0].uid')" "$uid2" "zone keys adopted"
crypt decrypt -n "$ns" --cluster vault --in "$work/file.vwenc" --out "$work/back2.bin" ||
	fail "a file of the earlier incarnation no longer decrypts"
cmp -s "$work/plain.bin" "$work/back2.bin" || fail "decrypted file differs after re-creation"

# ---- deletion: held while used; crypto-shredding on purpose after the recycle window --
kubectl delete vwkey prod-key -n "$ns" --wait=false >/dev/null
wait_for 30 "deletion held while the Cluster uses the key" reason_is vwkey/prod-key Ready KeyInUse
expect_contains "$(cond vwkey/prod-key Ready message)" vault "KeyInUse names the Cluster"
kubectl annotate vwkey prod-key -n "$ns" vecward.io/allow-crypto-shredding=true >/dev/null
wait_for 60 "EncryptionKey prod-key gone" gone vwkey/prod-key
expect_contains "$(kubectl get secret vault-zone-keys -n "$ns" -o jsonpath='{.metadata.labels}')" \
	vecward.io/purge-after "zone keys scheduled for destruction after the recycle-bin window"
wait_for 60 "Cluster vault reports its key gone" reason_is cluster/vault EncryptionReady KeyNotFound
wait_for 60 "zone keys shredded" gone secret/vault-zone-keys
expect_fail "decrypt after shredding" crypt decrypt -n "$ns" --cluster vault --in "$work/file.vwenc" --out "$work/x.bin"
[ -e "$work/x.bin" ] && fail "a failed decrypt left an output file"
kubectl get events -n "$ns" -o jsonpath='{.items[*].reason}' >"$work/reasons"
expect_contains "$(cat "$work/reasons")" CryptoShredScheduled "CryptoShredScheduled Event"
kubectl delete cluster vault -n "$ns" --wait=false >/dev/null
wait_for 60 "Cluster vault gone" gone cluster/vault

# ---- a local key ------------------------------------------------------------------------
kubectl apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: vecward.io/v1alpha1
kind: EncryptionKey
metadata:
  name: dev-key
spec:
  provider: local
  region: us-east-1
---
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata:
  name: dev
spec:
  version: v2.5.4
  region: us-east-1
  encryption:
    keyRef: {name: dev-key}
  deletion: {recycleBinDays: 0}
EOF
wait_for 60 "Cluster dev EncryptionReady" is_true cluster/dev EncryptionReady
expect_eq "$(jp vwkey/dev-key .status.rootKeySecret)" dev-key-root-key "rootKeySecret"
root_uid=$(jp secret/dev-key-root-key .metadata.uid)
[ -z "$(jp secret/dev-key-root-key .metadata.ownerReferences)" ] || fail "the root key Secret has an owner"
crypt encrypt -n "$ns" --cluster dev --database default --in "$work/plain.bin" --out "$work/dev.vwenc" ||
	fail "local: encrypt failed"
crypt decrypt -n "$ns" --cluster dev --in "$work/dev.vwenc" --out "$work/dev.bin" || fail "local: decrypt failed"
cmp -s "$work/plain.bin" "$work/dev.bin" || fail "local: decrypted file differs"
kubectl delete cluster dev -n "$ns" --wait=false >/dev/null
wait_for 60 "Cluster dev gone" gone cluster/dev
kubectl delete vwkey dev-key -n "$ns" --wait=false >/dev/null
wait_for 60 "EncryptionKey dev-key gone" gone vwkey/dev-key
sleep 3
expect_eq "$(jp secret/dev-key-root-key .metadata.uid)" "$root_uid" "without crypto-shred the root key is kept"
no_plaintext "at the end"
echo ok
