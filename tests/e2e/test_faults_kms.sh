#!/usr/bin/env bash
# Issue 8, fault tests: the KMS fails under the operator. moto_server (tests/e2e/moto.sh)
# plays AWS KMS behind tests/e2e/kproxy.py (plain HTTP, AWS flavour), so the KMS can be
# made unreachable (the proxy stopped: connection refused) or erroring (the proxy
# answering 500 KMSInternalException) while moto keeps its keys in memory.
#
#   - unreachable: the EncryptionKey's Ready and the Cluster's EncryptionReady turn False
#     with reason KMSUnreachable; a database added to the Cluster meanwhile gets no zone
#     key and no existing zone key is rewrapped (the zone-key Secret's fingerprint does
#     not move); when the KMS is back (same port, same keys) both turn True again, the
#     new database gets its zone key and the old entries are byte for byte the same;
#   - erroring: the same with reason KMSInternalError, and recovery;
#   - the operator's KMS requests while it errs are counted (no retry storm).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/moto.sh"

OPERATOR=${VW_OPERATOR_BIN:-$VW_ROOT/bin/vecward-operator}
[ -x "$OPERATOR" ] || fail "missing $OPERATOR (run: make)"
kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/clusters.vecward.io crd/encryptionkeys.vecward.io >/dev/null
ns=$(new_ns faultskms)
work=$TMPDIR/faultskms-$ns
mkdir -p "$work"
chmod 700 "$work"
log=$work/operator.log

opid= kpid=
halt() { # VAR: stop the program whose pid is in $VAR (SIGTERM: stop_pid), clear VAR
	local p=${!1}
	[ -z "$p" ] || { kill -CONT "$p" 2>/dev/null || true; stop_pid "$p" || true; }
	printf -v "$1" ''
}
trap 'halt opid; halt kpid; moto_stop' EXIT
trap 'exit 143' TERM INT
t_start=$SECONDS
phase() { echo "---- $* (t=$((SECONDS - t_start))s)"; }

phase "setup"
moto_start "$work"
arn=$(kms create-key) || fail "create-key failed"
kubectl create secret generic kms-creds -n "$ns" --from-literal=aws_access_key_id="$AWS_ACCESS_KEY_ID" \
	--from-literal=aws_secret_access_key="$AWS_SECRET_ACCESS_KEY" >/dev/null

# the KMS endpoint the operator uses: kproxy on a fixed port in front of moto
kp=$work/kproxy
mkdir -p "$kp"
kport=$(free_port)
echo '{"faults": []}' >"$kp/control.json"
start_kproxy() {
	python3 "$VW_ROOT/tests/e2e/kproxy.py" --flavor aws --plain --listen "127.0.0.1:$kport" \
		--upstream "$moto_ep" --control "$kp/control.json" --stats "$kp/stats.json" \
		--port-file "$kp/port" 2>>"$kp/kproxy.log" &
	kpid=$!
	wait_for 10 "kproxy on port $kport" curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$kport/moto-api/"
}
start_kproxy
"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$ns" --leader-elect false --resync 3 \
	--workers 2 --log-level debug >>"$log" 2>&1 &
opid=$!

cond() { kubectl get "$1" -n "$ns" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].${3:-status}}"; }
is_true() { test "$(cond "$1" "$2")" = True; }
reason_is() { test "$(cond "$1" "$2" reason)" = "$3"; }
jp() { kubectl get "$1" -n "$ns" -o jsonpath="{$2}"; }
# the zone-key Secret: "ENTRY sha256" lines (never the entries themselves)
zone_keys() {
	kubectl get secret vault-zone-keys -n "$ns" -o json | python3 -c '
import hashlib, json, sys
for k, v in sorted(json.load(sys.stdin).get("data", {}).items()):
    print(k, hashlib.sha256(v.encode()).hexdigest())'
}
entries() { zone_keys | cut -d' ' -f1 | tr '\n' ' '; }

kubectl apply -n "$ns" -f - >/dev/null <<EOF
apiVersion: vecward.io/v1alpha1
kind: EncryptionKey
metadata:
  name: prod-key
spec:
  provider: aws-kms
  keyID: $arn
  endpoint: http://127.0.0.1:$kport
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
  deletion: {recycleBinDays: 0}
EOF
wait_for 60 "EncryptionKey prod-key Ready" is_true vwkey/prod-key Ready
wait_for 60 "Cluster vault EncryptionReady" is_true cluster/vault EncryptionReady
expect_eq "$(entries)" "default.v1 embeddings.v1 " "zone keys"
zk0=$(zone_keys)

# recovered: the key and the Cluster Ready again, the zone keys of DBS... and no others
recovered() { # DB...
	is_true vwkey/prod-key Ready && is_true cluster/vault EncryptionReady || return 1
	local want
	want=$(printf '%s.v1 ' "$@")
	test "$(entries)" = "$want"
}

# ---- unreachable: the KMS endpoint refuses connections ------------------------------------
phase "KMS unreachable"
halt kpid
wait_for 60 "EncryptionKey Ready False (KMSUnreachable)" reason_is vwkey/prod-key Ready KMSUnreachable
expect_eq "$(cond vwkey/prod-key Ready)" False "Ready while the KMS is unreachable"
wait_for 60 "Cluster EncryptionReady False (KMSUnreachable)" reason_is cluster/vault EncryptionReady KMSUnreachable
expect_eq "$(cond cluster/vault EncryptionReady)" False "EncryptionReady while the KMS is unreachable"
# a new database while the KMS is down: no zone key until it is back, nothing rewrapped
kubectl patch cluster vault -n "$ns" --type json \
	-p '[{"op":"add","path":"/spec/encryption/databases/-","value":"sales"}]' >/dev/null
observed() { test "$(cond cluster/vault EncryptionReady observedGeneration)" = "$(jp cluster/vault .metadata.generation)"; }
wait_for 30 "the Cluster's change observed" observed
sleep 4 # a resync or two
expect_eq "$(zone_keys)" "$zk0" "zone keys while the KMS is unreachable"
start_kproxy # the same port, the same moto (its keys live in memory)
t0=$SECONDS
wait_for 90 "recovered after the KMS came back" recovered default embeddings sales
echo "recovered $((SECONDS - t0))s after the KMS came back"
expect_eq "$(zone_keys | grep -v '^sales\.')" "$zk0" "the old zone keys after the outage"
zk1=$(zone_keys)

# ---- erroring: the KMS answers 500 KMSInternalException ----------------------------------
phase "KMS erroring"
r0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$kp/stats.json")
t_err=$SECONDS
echo '{"faults": ["all=1:500"]}' >"$kp/control.json"
wait_for 60 "EncryptionKey Ready False (KMSInternalError)" reason_is vwkey/prod-key Ready KMSInternalError
wait_for 60 "Cluster EncryptionReady False (KMSInternalError)" reason_is cluster/vault EncryptionReady KMSInternalError
expect_contains "$(cond vwkey/prod-key Ready message)" KMSInternalException "the message names the KMS error"
sleep 4
expect_eq "$(zone_keys)" "$zk1" "zone keys while the KMS errs"
echo '{"faults": []}' >"$kp/control.json"
errs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["requests"] - int(sys.argv[2]), d["injected"].get("500", 0))' "$kp/stats.json" "$r0")
secs=$((SECONDS - t_err))
t0=$SECONDS
wait_for 90 "recovered after the KMS stopped erring" recovered default embeddings sales
echo "recovered $((SECONDS - t0))s after the KMS stopped erring"
expect_eq "$(zone_keys)" "$zk1" "zone keys after the errors"
read -r nreq n500 <<<"$errs"
echo "KMS requests while it erred for ${secs}s: $nreq ($n500 answered 500)"
# each reconcile retries within its 5 s budget, then waits: a handful per second at most
((nreq <= secs * 5 + 20)) || fail "retry storm: $nreq KMS requests in ${secs}s"
kill -0 "$opid" 2>/dev/null || fail "the operator exited"
grep -qF "$AWS_SECRET_ACCESS_KEY" "$log" && fail "the AWS secret key is in the operator log"
phase "done"
echo "KMS faults: unreachable and erroring, conditions say so, zone keys untouched, recovered"
