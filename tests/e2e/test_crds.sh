#!/usr/bin/env bash
# The CRDs on a real kube-apiserver: they install and become Established, `kubectl
# explain` teaches the API, the examples apply with the secure defaults filled in, the
# printer columns and the `vecward` category work, and every single-object rule (CEL
# x-kubernetes-validations) rejects a bad spec with its message. No operator or webhook
# runs here: this is what a cluster without them still enforces.
. "$(dirname "$0")/lib.sh"

# -- install
kubectl apply -f "$VW_ROOT/crds/" >/dev/null
for crd in clusters users encryptionkeys; do
	kubectl wait --for=condition=Established --timeout=60s "crd/$crd.vecward.io" >/dev/null ||
		fail "crd $crd.vecward.io not Established"
done
wait_for 30 "vecward kinds in discovery" kubectl get vwc,vwu,vwkey -A
# the OpenAPI document (what explain reads) is published a moment after discovery
wait_for 30 "vecward kinds in OpenAPI" kubectl explain cluster.spec.encryption.cipherPlugin
wait_for 30 "vecward kinds in OpenAPI" kubectl explain user.spec.username
wait_for 30 "vecward kinds in OpenAPI" kubectl explain encryptionkey.spec.keyID
# applying again is a no-op (the files are what the cluster stores)
out=$(kubectl apply -f "$VW_ROOT/crds/")
expect_eq "$(grep -vc unchanged <<<"$out" || true)" 0 "re-applying the CRDs"

# -- kubectl explain shows the descriptions, enums and defaults
out=$(kubectl explain cluster.spec.tls.mode)
expect_contains "$out" "Milvus tlsMode 1" "explain cluster.spec.tls.mode"
expect_contains "$out" "disabled" "explain cluster.spec.tls.mode enum"
expect_contains "$out" "webhook" "explain cluster.spec.tls.mode (disabled is the webhook's call)"
out=$(kubectl explain cluster.spec.network.allowedCIDRs)
expect_contains "$out" "0.0.0.0/0" "explain cluster.spec.network.allowedCIDRs"
out=$(kubectl explain user.spec.username)
expect_contains "$out" "starts with a letter" "explain user.spec.username"
out=$(kubectl explain cluster.spec.encryption.cipherPlugin)
expect_contains "$out" "open-source" "explain cluster.spec.encryption.cipherPlugin"
expect_contains "$out" "has no cipher plugin" "explain cipherPlugin: no plugin in open-source Milvus"
expect_contains "$out" "immutable" "explain cipherPlugin: immutable"
out=$(kubectl explain encryptionkey.spec.keyID)
expect_contains "$out" "arn:aws:kms:<region>" "explain encryptionkey.spec.keyID"

# -- the examples apply cleanly and come back with the defaults
ns=$(new_ns crds)
k() { kubectl -n "$ns" "$@"; }
k apply -f "$VW_ROOT/examples/" >/dev/null
jp() { k get "$1" "$2" -o jsonpath="{$3}"; }
expect_eq "$(jp cluster prod .spec.tls.mode)" mutual "prod tls.mode (as written)"
expect_eq "$(jp cluster prod .spec.tls.duration)" 2160h "default tls.duration"
expect_eq "$(jp cluster prod .spec.tls.renewBefore)" 360h "default tls.renewBefore"
expect_eq "$(jp cluster prod .spec.tls.keyAlgorithm)" ECDSA-P256 "default tls.keyAlgorithm"
expect_eq "$(jp cluster prod .spec.tls.internal)" true "default tls.internal"
expect_eq "$(jp cluster prod .spec.mode)" standalone "default mode"
expect_eq "$(jp cluster prod .spec.replicas)" 1 "default replicas"
expect_eq "$(jp cluster prod .spec.audit.enabled)" true "default audit.enabled"
expect_eq "$(jp cluster prod .spec.audit.output)" stdout "default audit.output"
expect_eq "$(jp cluster prod .spec.backup.enabled)" false "default backup.enabled"
expect_eq "$(jp cluster prod .spec.deletion.recycleBinDays)" 30 "default deletion.recycleBinDays"
expect_eq "$(jp encryptionkey dev-key .spec.rotationPeriod)" 8760h "default rotationPeriod"
expect_eq "$(jp user app-reader .spec.username)" app_reader "user username"
# a Cluster with no spec at all gets the whole secure default
k apply -f - >/dev/null <<'EOF'
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: minimal}
EOF
expect_eq "$(jp cluster minimal .spec.tls.mode)" server "default tls.mode"
expect_eq "$(jp cluster minimal .spec.storage.size)" 10Gi "default storage.size"
expect_eq "$(jp cluster minimal .spec.version)" v2.6.0 "default version"
expect_eq "$(jp cluster minimal .spec.tls.duration)" 2160h "default tls.duration (empty spec)"
# unknown fields: kubectl's strict field validation names them; without it they are
# pruned (structural schema), never stored
pruned='apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: pruned}
spec:
  tls: {mode: server, allowInsecure: true}'
expect_fail "unknown field, strict" k apply -f - <<<"$pruned"
expect_contains "$OUT" 'unknown field "spec.tls.allowInsecure"' "unknown field, strict"
k apply --validate=false -f - >/dev/null 2>&1 <<<"$pruned"
expect_eq "$(k get cluster pruned -o jsonpath='{.spec.tls}')" '{"duration":"2160h","internal":true,"keyAlgorithm":"ECDSA-P256","mode":"server","renewBefore":"360h"}' "unknown field pruned"

# -- accepted on purpose: these are for the webhook (namespace opt-in) or are valid
k apply -f - >/dev/null <<'EOF'
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: plain}
spec:
  tls: {mode: disabled}
  network:
    allowedCIDRs: [192.168.10.0/24, 2001:db8::/48, 10.1.2.3/32]
---
apiVersion: vecward.io/v1alpha1
kind: User
metadata: {name: reader}
spec:
  clusterRef: {name: plain}
---
apiVersion: vecward.io/v1alpha1
kind: EncryptionKey
metadata: {name: emulated}
spec:
  provider: aws-kms
  keyID: arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef
  region: eu-west-1
  endpoint: http://127.0.0.1:5000
---
apiVersion: vecward.io/v1alpha1
kind: Cluster
metadata: {name: cipher}
spec:
  image: registry.example.com/milvus-cipher@sha256:0123456789abcdef
  region: us-east-1
  encryption:
    keyRef: {name: prod-key}
    databases: [sales]
    cipherPlugin:
      soPathGo: /milvus/plugins/cipher.so
      soPathCpp: /milvus/lib/libcipher.so
      roleARN: arn:aws:iam::111122223333:role/milvus-kms
      externalID: vecward-ext_42
EOF
expect_eq "$(k get cluster cipher -o jsonpath='{.spec.encryption.cipherPlugin.soPathCpp}')" \
	/milvus/lib/libcipher.so "cipherPlugin stored"

# -- printer columns and the category
out=$(k get vwc)
header() { head -n1 <<<"$1" | tr -s ' '; }
expect_eq "$(header "$out")" "NAME READY TLS ENDPOINT AGE" "vwc columns"
expect_contains "$out" "mutual" "vwc TLS column"
k patch cluster prod --subresource=status --type=merge -p '{"status":{"observedGeneration":1,
	"endpoint":"https://prod.'"$ns"'.svc:19530","conditions":[{"type":"Ready","status":"True",
	"observedGeneration":1,"reason":"Reconciled","message":"all good",
	"lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' >/dev/null
out=$(k get vwc prod --no-headers)
expect_contains "$out" "True" "vwc Ready column"
expect_contains "$out" "https://prod.$ns.svc:19530" "vwc Endpoint column"
# status is a subresource: a spec update can not write it
k patch cluster prod --type=merge -p '{"status":{"endpoint":"https://evil:1"}}' >/dev/null
expect_eq "$(jp cluster prod .status.endpoint)" "https://prod.$ns.svc:19530" "status via main resource ignored"
out=$(k get vwu)
expect_eq "$(header "$out")" "NAME CLUSTER USERNAME READY AGE" "vwu columns"
expect_contains "$out" "app_reader" "vwu Username column"
out=$(k get vwkey)
expect_eq "$(header "$out")" "NAME PROVIDER REGION STATE READY AGE" "vwkey columns"
out=$(k get vecward)
for o in cluster.vecward.io/prod user.vecward.io/app-reader encryptionkey.vecward.io/prod-key \
	encryptionkey.vecward.io/dev-key; do
	expect_contains "$out" "$o" "kubectl get vecward"
done

# -- rejected: reject WHAT NEEDLE <<<YAML (create or update through kubectl apply)
reject() {
	expect_fail "$1" kubectl -n "$ns" apply -f -
	expect_contains "$OUT" "$2" "$1"
}
# reject_patch WHAT NEEDLE KIND/NAME TYPE PATCH (update rules: oldSelf)
reject_patch() {
	expect_fail "$1" kubectl -n "$ns" patch "$3" --type="$4" -p "$5"
	expect_contains "$OUT" "$2" "$1"
}
cluster() { # NAME SPEC-YAML (indented by 2)
	printf 'apiVersion: vecward.io/v1alpha1\nkind: Cluster\nmetadata: {name: %s}\nspec:\n%s\n' "$1" "$2"
}

reject "0.0.0.0/0 allowlist" "must not contain 0.0.0.0/0 or ::/0" \
	<<<"$(cluster open '  network: {allowedCIDRs: [10.0.0.0/8, 0.0.0.0/0]}')"
reject "::/0 allowlist" "must not contain 0.0.0.0/0 or ::/0" \
	<<<"$(cluster open6 '  network: {allowedCIDRs: ["::/0"]}')"
reject "non-CIDR allowlist entry" "allowedCIDRs entries must be CIDRs such as 10.0.0.0/8" \
	<<<"$(cluster notcidr '  network: {allowedCIDRs: [10.0.0.1]}')"
reject "garbage allowlist entry" "allowedCIDRs entries must be CIDRs such as 10.0.0.0/8" \
	<<<"$(cluster garbage '  network: {allowedCIDRs: [office-network]}')"
reject "CIDR with host bits" "entries must be canonical" \
	<<<"$(cluster hostbits '  network: {allowedCIDRs: [10.1.2.3/16]}')"
reject "renewBefore equal to duration" "spec.tls.renewBefore must be shorter than spec.tls.duration" \
	<<<"$(cluster renew '  tls: {duration: 720h, renewBefore: 720h}')"
reject "renewBefore above the default duration" "spec.tls.renewBefore must be shorter than spec.tls.duration" \
	<<<"$(cluster renew2 '  tls: {renewBefore: 3000h}')"
reject "certificate duration below 1h" "spec.tls.duration must be between 1h and 19800h" \
	<<<"$(cluster short '  tls: {duration: 30m, renewBefore: 10m}')"
reject "certificate duration above 825 days" "spec.tls.duration must be between 1h and 19800h" \
	<<<"$(cluster long '  tls: {duration: 20000h}')"
reject "renewBefore below 5m" "spec.tls.renewBefore must be at least 5m" \
	<<<"$(cluster renew3 '  tls: {duration: 1h, renewBefore: 1m}')"
reject "duration not a Go duration" "should match" \
	<<<"$(cluster notdur '  tls: {duration: 90d}')"
[[ $OUT != *"conversion error"* ]] || fail "CEL duration() ran on a non-duration: $OUT"
reject "encryption without region" "spec.region is required when spec.encryption is set" \
	<<<"$(cluster noregion '  encryption: {keyRef: {name: prod-key}}')"
cipher() { # NAME CIPHERPLUGIN-FLOW-MAPPING
	cluster "$1" "  region: us-east-1
  encryption:
    keyRef: {name: prod-key}
    cipherPlugin: $2"
}
reject "cipherPlugin with a relative path" "spec.encryption.cipherPlugin.soPathGo: Invalid value" \
	<<<"$(cipher relpath '{soPathGo: plugins/cipher.so, soPathCpp: /milvus/lib/libcipher.so}')"
reject "cipherPlugin without soPathCpp" "spec.encryption.cipherPlugin.soPathCpp: Required value" \
	<<<"$(cipher nocpp '{soPathGo: /milvus/plugins/cipher.so}')"
reject "cipherPlugin path with a blank" "spec.encryption.cipherPlugin.soPathCpp: Invalid value" \
	<<<"$(cipher blank '{soPathGo: /a.so, soPathCpp: "/b c.so"}')"
reject "cipherPlugin roleARN that is not an IAM role" "spec.encryption.cipherPlugin.roleARN: Invalid value" \
	<<<"$(cipher badrole '{soPathGo: /a.so, soPathCpp: /b.so, roleARN: "arn:aws:kms:us-east-1:111122223333:key/k"}')"
reject "cipherPlugin externalID too long" "spec.encryption.cipherPlugin.externalID: Too long" \
	<<<"$(cipher longext "{soPathGo: /a.so, soPathCpp: /b.so, externalID: $(printf 'x%.0s' {1..1225})}")"
reject "cipherPlugin path too long" "spec.encryption.cipherPlugin.soPathGo: Too long" \
	<<<"$(cipher longpath "{soPathGo: /$(printf 'p%.0s' {1..512}), soPathCpp: /b.so}")"
reject "custom role named admin" "admin and public are Milvus built-in roles" \
	<<<"$(cluster builtin '  roles: [{name: admin, privilegeGroups: [ClusterAdmin]}]')"
reject "unknown privilege group" "Unsupported value" \
	<<<"$(cluster badgroup '  roles: [{name: r1, privilegeGroups: [Everything]}]')"
reject "standalone with 3 replicas" "spec.replicas must be 1 when spec.mode is standalone" \
	<<<"$(cluster scaled '  replicas: 3')"
reject "storage below 1Gi" "spec.storage.size must be a quantity of at least 1Gi" \
	<<<"$(cluster tiny '  storage: {size: 512Mi}')"
reject "backup without schedule" "spec.backup.schedule and spec.backup.objectStore are required" \
	<<<"$(cluster backup '  backup: {enabled: true}')"
reject "backup to plain http" "spec.backup.objectStore.endpoint must be an https:// URL" \
	<<<"$(cluster backuphttp '  backup: {enabled: true, schedule: "0 3 * * *", objectStore: {bucket: backups, endpoint: "http://s3.example.com"}}')"
reject "Cluster name too long for its Service" "metadata.name must be at most 40 characters" \
	<<<"$(cluster a-very-long-cluster-name-that-is-over-forty '  mode: standalone')"
reject "Cluster name with a dot" "metadata.name must be at most 40 characters" \
	<<<"$(cluster prod.eu '  mode: standalone')"

# Cluster updates
reject_patch "removing encryption" "spec.encryption.keyRef is immutable once set and can not be removed" \
	cluster/prod json '[{"op":"remove","path":"/spec/encryption"}]'
reject_patch "switching the encryption key" "spec.encryption.keyRef is immutable once set" \
	cluster/prod merge '{"spec":{"encryption":{"keyRef":{"name":"dev-key"}}}}'
reject_patch "adding encryption later" "spec.encryption can not be added to an existing Cluster" \
	cluster/minimal merge '{"spec":{"region":"us-east-1","encryption":{"keyRef":{"name":"dev-key"}}}}'
reject_patch "adding a cipher plugin later" "spec.encryption.cipherPlugin is immutable" \
	cluster/prod merge '{"spec":{"encryption":{"cipherPlugin":{"soPathGo":"/a.so","soPathCpp":"/b.so"}}}}'
reject_patch "changing the cipher plugin" "spec.encryption.cipherPlugin is immutable" \
	cluster/cipher merge '{"spec":{"encryption":{"cipherPlugin":{"soPathGo":"/milvus/plugins/other.so"}}}}'
reject_patch "dropping the cipher plugin's role" "spec.encryption.cipherPlugin is immutable" \
	cluster/cipher json '[{"op":"remove","path":"/spec/encryption/cipherPlugin/roleARN"}]'
reject_patch "removing the cipher plugin" "spec.encryption.cipherPlugin is immutable" \
	cluster/cipher json '[{"op":"remove","path":"/spec/encryption/cipherPlugin"}]'
reject_patch "dropping an encrypted database" "spec.encryption.databases can only grow" \
	cluster/prod merge '{"spec":{"encryption":{"databases":["default"]}}}'
reject_patch "shrinking storage" "spec.storage.size can only grow" \
	cluster/prod merge '{"spec":{"storage":{"size":"20Gi"}}}'
reject_patch "changing the storage class" "spec.storage.storageClassName is immutable" \
	cluster/prod merge '{"spec":{"storage":{"storageClassName":"fast"}}}'
# a Cluster with a cipher plugin still gains databases
k patch cluster cipher --type=merge -p '{"spec":{"encryption":{"databases":["sales","hr"]}}}' >/dev/null
# ... while growing storage, adding a database and renewing earlier are fine
k patch cluster prod --type=merge \
	-p '{"spec":{"storage":{"size":"60Gi"},"encryption":{"databases":["default","embeddings","extra"]},"tls":{"renewBefore":"720h"}}}' >/dev/null

# User
user() { # NAME SPEC-YAML
	printf 'apiVersion: vecward.io/v1alpha1\nkind: User\nmetadata: {name: %s}\nspec:\n  clusterRef: {name: prod}\n%s\n' "$1" "$2"
}
reject "username starting with a digit" "spec.username must be 1-32 characters, start with a letter" \
	<<<"$(user digits '  username: "2abc"')"
reject "username with punctuation" "spec.username must be 1-32 characters, start with a letter" \
	<<<"$(user punct '  username: "ab-c!"')"
# (a length over maxLength stops validation before CEL: the schema's message says it)
reject "username longer than 32" "spec.username: Too long: may not be more than 32" \
	<<<"$(user long '  username: a23456789012345678901234567890123')"
reject "username root" "spec.username must not be root" \
	<<<"$(user rooty '  username: root')"
reject "User named root without username" "spec.username is required because metadata.name is not a valid Milvus user name" \
	<<<"$(user root '  roles: [reader]')"
reject "User name with '-' and no username" "spec.username is required because metadata.name is not a valid Milvus user name" \
	<<<"$(user app-writer '  roles: [ingest]')"
reject "rotation of a bring-your-own password" "spec.passwordRotation only applies to generated passwords" \
	<<<"$(user byo '  passwordSecretRef: {name: byo-pw}
  passwordRotation: {period: 720h}')"
reject "rotation period below 1h" "spec.passwordRotation.period must be at least 1h" \
	<<<"$(user fast '  passwordRotation: {period: 10m}')"
reject_patch "changing username" "spec.username is immutable" \
	user/app-reader merge '{"spec":{"username":"app_reader2"}}'
reject_patch "removing username (falls back to a different name)" "spec.username is immutable" \
	user/app-reader json '[{"op":"remove","path":"/spec/username"}]'
reject_patch "moving a user to another cluster" "spec.clusterRef is immutable" \
	user/app-reader merge '{"spec":{"clusterRef":{"name":"minimal"}}}'
# spelling out the defaulted username is not a change
k patch user reader --type=merge -p '{"spec":{"username":"reader"}}' >/dev/null

# EncryptionKey
key() { # NAME SPEC-YAML
	printf 'apiVersion: vecward.io/v1alpha1\nkind: EncryptionKey\nmetadata: {name: %s}\nspec:\n%s\n' "$1" "$2"
}
reject "alias instead of ARN" "spec.keyID must be a KMS key ARN" \
	<<<"$(key alias '  provider: aws-kms
  keyID: alias/vecward')"
reject "ARN with an 11-digit account" "spec.keyID must be a KMS key ARN" \
	<<<"$(key badacct '  provider: aws-kms
  keyID: arn:aws:kms:us-east-1:11112222333:key/1234abcd-12ab-34cd-56ef-1234567890ab')"
reject "ARN of another service" "spec.keyID must be a KMS key ARN" \
	<<<"$(key s3 '  provider: aws-kms
  keyID: arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab')"
reject "aws-kms without keyID" "spec.keyID is required for provider aws-kms" \
	<<<"$(key nokey '  provider: aws-kms')"
reject "region not matching the ARN" "spec.region must equal the region in the spec.keyID ARN" \
	<<<"$(key mismatch '  provider: aws-kms
  keyID: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
  region: eu-west-1')"
reject "local key without region" "spec.region is required for provider local" \
	<<<"$(key localnoregion '  provider: local')"
reject "local key with keyID" "spec.keyID is only for provider aws-kms" \
	<<<"$(key localkeyid '  provider: local
  region: us-east-1
  keyID: my-key')"
reject "KMS endpoint over plain http" "spec.endpoint must be an https:// URL" \
	<<<"$(key httpkms '  provider: aws-kms
  keyID: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
  endpoint: http://kms.example.com')"
reject "KMS endpoint with credentials in it" "spec.endpoint must not carry credentials" \
	<<<"$(key credurl '  provider: aws-kms
  keyID: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
  endpoint: https://AKIA:secret@kms.example.com')"
reject "rotation period below 24h" "spec.rotationPeriod must be between 24h and 87600h" \
	<<<"$(key rot '  provider: local
  region: us-east-1
  rotationPeriod: 1h')"
reject_patch "changing provider" "spec.provider is immutable" \
	encryptionkey/dev-key merge '{"spec":{"provider":"aws-kms","region":null,"keyID":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}'
reject_patch "changing keyID" "spec.keyID is immutable" \
	encryptionkey/prod-key merge '{"spec":{"keyID":"arn:aws:kms:us-east-1:111122223333:key/00000000-12ab-34cd-56ef-1234567890ab"}}'
reject_patch "changing a local key's region" "spec.region is immutable" \
	encryptionkey/dev-key merge '{"spec":{"region":"eu-west-1"}}'

k delete --wait=false -f "$VW_ROOT/examples/" >/dev/null
kubectl delete namespace "$ns" --wait=false >/dev/null
echo "ok: CRDs Established, explain, defaults, printer columns, category and CEL rules"
