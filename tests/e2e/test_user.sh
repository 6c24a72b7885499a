#!/usr/bin/env bash
# Issue 5 end to end: Users on a mutual-TLS Cluster, against the Milvus REST test double
# (tests/milvusd) serving the Cluster's own server certificate. Checks: custom roles
# created from Cluster.spec.roles; a User's credentials Secret authenticates against
# Milvus (token + client certificate); grants and revokes follow spec.roles; rotation on
# request; SIGKILL in the middle of a rotation (Milvus has the new password, the Secret
# not yet) converges to working credentials; a hand-made Milvus user is never touched;
# deletion drops the user; 200 Users converge and an idle resync sends nothing to Milvus
# and writes nothing to the apiserver; no password in status, Events or logs.
. "$(dirname "$0")/lib.sh"

kubectl apply -f "$VW_ROOT/crds/" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/users.vecward.io >/dev/null
ns=$(new_ns user)
work=$TMPDIR/user-$ns
mkdir -p "$work"
chmod 700 "$work"
log=$work/operator.log
audit=$VW_CP/logs/audit.log

data_pv "$ns" prod-data

opid= mpid=
start_operator() {
	"${VW_OPERATOR_BIN:-$VW_ROOT/bin/vecward-operator}" --kubeconfig "$KUBECONFIG" --namespace "$ns" \
		--leader-elect false --resync 3 --workers 4 --allow-milvus-connect-to \
		--log-level debug >>"$log" 2>&1 &
	opid=$!
}
stop_operator() { [ -z "$opid" ] || { kill -9 "$opid" 2>/dev/null || true; wait "$opid" 2>/dev/null || true; opid=; }; }
stop_milvus() { [ -z "$mpid" ] || { kill "$mpid" 2>/dev/null || true; wait "$mpid" 2>/dev/null || true; mpid=; }; }
trap 'stop_pid "$opid" || true; stop_milvus; kubectl delete pv pv-$ns --wait=false >/dev/null 2>&1 || true' EXIT
start_operator

kubectl apply -n "$ns" -f "$VW_ROOT/examples/cluster.yaml" >/dev/null
cond() { kubectl get "$1" -n "$ns" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}"; }
is_true() { test "$(cond "$1" "$2")" = True; }
wait_for 60 "Cluster prod Ready" is_true cluster/prod Ready
expect_eq "$(cond cluster/prod RolesSynced)" False "roles wait for Milvus"

# ---- the Milvus test double with the Cluster's own certificate and root password ----
sec() { kubectl get secret "$1" -n "$ns" -o jsonpath="{.data.${2//./\\.}}" | base64 -d; }
sec prod-server-tls tls.crt >"$work/server.crt"
sec prod-server-tls tls.key >"$work/server.key"
sec prod-ca-cert ca.crt >"$work/ca.crt"
sec prod-root password >"$work/root.pw"
"${MILVUSD:-$VW_ROOT/bin/milvusd}" --listen 127.0.0.1:0 --port-file "$work/milvus.port" \
	--cert "$work/server.crt" --key "$work/server.key" --client-ca "$work/ca.crt" \
	--root-password-file "$work/root.pw" --super-users root --max-users 4096 --max-roles 64 \
	--state-file "$work/milvus.state" --log-file "$work/milvus.log" \
	--slow /v2/vectordb/users/update_password=4000 >>"$work/milvusd.out" 2>&1 &
mpid=$!
wait_for 10 "milvusd port" test -s "$work/milvus.port"
port=$(cat "$work/milvus.port")
kubectl annotate cluster prod -n "$ns" vecward.io/milvus-connect-to=127.0.0.1:$port >/dev/null
wait_for 60 "roles synced" is_true cluster/prod RolesSynced
expect_eq "$(kubectl get cluster prod -n "$ns" -o jsonpath='{.status.rbac.managedRoles}')" \
	'["reader","ingest"]' "managed roles recorded"

# curl as a user of the double: mcall USERTOKEN CERT KEY PATH BODY
mcall() {
	curl -sS --cacert "$work/ca.crt" --cert "$2" --key "$3" \
		--connect-to "prod.$ns.svc:8080:127.0.0.1:$port" \
		-H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		-d "$5" "https://prod.$ns.svc:8080/v2/vectordb/$4"
}

# ---- a User: credentials, authentication, roles ----------------------------------------
kubectl apply -n "$ns" -f "$VW_ROOT/examples/user.yaml" >/dev/null
wait_for 60 "User app-reader Ready" is_true user/app-reader Ready
for k in username password token uri ca.crt tls.crt tls.key; do
	[ -n "$(sec app-reader-credentials "$k")" ] || fail "credentials Secret lacks $k"
done
expect_eq "$(sec app-reader-credentials username)" app_reader "username"
expect_eq "$(sec app-reader-credentials uri)" "https://prod.$ns.svc:19530" "uri"
pw1=$(sec app-reader-credentials password)
expect_eq "${#pw1}" 32 "generated password length"
expect_eq "$(sec app-reader-credentials token)" "app_reader:$pw1" "token"
sec app-reader-credentials tls.crt >"$work/user.crt"
sec app-reader-credentials tls.key >"$work/user.key"
openssl verify -CAfile "$work/ca.crt" "$work/user.crt" >/dev/null || fail "client certificate does not verify"
expect_contains "$(openssl x509 -in "$work/user.crt" -noout -subject)" "CN = app_reader" "client cert CN"
uc=("$work/user.crt" "$work/user.key")
token() { sec app-reader-credentials token; }
out=$(mcall "$(token)" "${uc[@]}" users/describe '{"userName":"app_reader"}')
expect_contains "$out" '"code":0' "the user authenticates with its Secret: $out"
expect_contains "$out" '"reader"' "role reader granted"
expect_eq "$(kubectl get user app-reader -n "$ns" -o jsonpath='{.status.roles}')" '["reader"]' "status roles"
out=$(mcall "app_reader:wrong-password" "${uc[@]}" users/describe '{"userName":"app_reader"}')
expect_contains "$out" '"code":1800' "a wrong password is refused (401)"
rootauth="root:$(cat "$work/root.pw")"

kubectl patch user app-reader -n "$ns" --type merge -p '{"spec":{"roles":["reader","ingest"]}}' >/dev/null
wait_for 30 "ingest granted" bash -c "kubectl get user app-reader -n $ns -o jsonpath='{.status.roles}' | grep -q ingest"
out=$(mcall "$rootauth" "${uc[@]}" users/describe '{"userName":"app_reader"}')
expect_contains "$out" '"ingest"' "ingest granted in Milvus"
kubectl patch user app-reader -n "$ns" --type merge -p '{"spec":{"roles":["ingest"]}}' >/dev/null
wait_for 30 "reader revoked" bash -c "test \"\$(kubectl get user app-reader -n $ns -o jsonpath='{.status.roles}')\" = '[\"ingest\"]'"
out=$(mcall "$rootauth" "${uc[@]}" users/describe '{"userName":"app_reader"}')
case $out in *'"reader"'*) fail "reader still granted in Milvus: $out" ;; esac

# a role's privileges follow Cluster.spec.roles
out=$(mcall "$rootauth" "${uc[@]}" roles/describe '{"roleName":"ingest","dbName":"embeddings"}')
expect_contains "$out" '"privilege":"Insert"' "ingest has Insert on embeddings"
kubectl patch cluster prod -n "$ns" --type json -p '[{"op":"replace","path":"/spec/roles/1/privileges","value":[{"name":"Query","database":"embeddings","collection":"docs"}]}]' >/dev/null
revoked() {
	local o
	o=$(mcall "$rootauth" "${uc[@]}" roles/describe '{"roleName":"ingest","dbName":"embeddings"}')
	case $o in *'"code":0'*) ;; *) return 1 ;; esac
	case $o in *'"privilege":"Insert"'*) return 1 ;; esac
	case $o in *'"privilege":"Query"'*) ;; *) return 1 ;; esac # the grant may land after the revoke
}
wait_for 30 "Insert revoked from ingest and Query granted" revoked
out=$(mcall "$rootauth" "${uc[@]}" roles/describe '{"roleName":"ingest","dbName":"embeddings"}')
expect_contains "$out" '"privilege":"Query"' "Query granted to ingest"

# ---- rotation on request -------------------------------------------------------------------
kubectl annotate user app-reader -n "$ns" vecward.io/rotate-password=t1 >/dev/null
rotated() { test "$(kubectl get user app-reader -n "$ns" -o jsonpath='{.status.passwordRotationRequest}')" = t1; }
wait_for 60 "rotation t1 done" rotated
pw2=$(sec app-reader-credentials password)
[ "$pw2" != "$pw1" ] || fail "rotation kept the password"
expect_contains "$(mcall "$(token)" "${uc[@]}" users/describe '{"userName":"app_reader"}')" '"code":0' "new password works"
expect_contains "$(mcall "app_reader:$pw1" "${uc[@]}" users/describe '{"userName":"app_reader"}')" '"code":1800' "old password refused"

# ---- SIGKILL mid-rotation: Milvus has the new password, the Secret not yet ----------------
# (the double applies update_password, then holds the answer for 4 s)
kubectl annotate user app-reader -n "$ns" vecward.io/rotate-password=t2 --overwrite >/dev/null
wait_for 30 "pending password stored" kubectl get secret app-reader-password-pending -n "$ns"
pending=$(sec app-reader-password-pending password)
wait_for 10 "update_password sent" grep -q "users/update_password" "$work/milvus.log"
sleep 1
stop_operator
[ "$(sec app-reader-credentials password)" = "$pw2" ] || fail "the Secret changed before Milvus answered"
start_operator
wait_for 60 "rotation t2 done" bash -c "test \"\$(kubectl get user app-reader -n $ns -o jsonpath='{.status.passwordRotationRequest}')\" = t2"
pw3=$(sec app-reader-credentials password)
expect_eq "$pw3" "$pending" "the pending password became current (never regenerated)"
expect_contains "$(mcall "$(token)" "${uc[@]}" users/describe '{"userName":"app_reader"}')" '"code":0' "credentials work after the crash"
wait_for 30 "pending Secret deleted" bash -c "! kubectl get secret app-reader-password-pending -n $ns >/dev/null 2>&1"

# ---- the root password rotates the same way, on the Cluster ---------------------------------
root1=$(cat "$work/root.pw")
kubectl annotate cluster prod -n "$ns" vecward.io/rotate-password=r1 >/dev/null
wait_for 60 "root rotation r1 done" bash -c "test \"\$(kubectl get cluster prod -n $ns -o jsonpath='{.status.rootPasswordRotationRequest}')\" = r1"
root2=$(sec prod-root password)
[ "$root2" != "$root1" ] || fail "root rotation kept the password"
rootauth="root:$root2"
expect_contains "$(mcall "$rootauth" "${uc[@]}" users/list '{}')" '"code":0' "new root password works"
expect_contains "$(mcall "root:$root1" "${uc[@]}" users/list '{}')" '"code":1800' "old root password refused"
expect_eq "$(kubectl get secret prod-root-pending -n "$ns" -o name 2>/dev/null || true)" "" "no pending root Secret left"
wait_for 30 "User still synced after root rotation" is_true user/app-reader Ready

# ---- a hand-made Milvus user is not ours --------------------------------------------------
out=$(mcall "$rootauth" "${uc[@]}" users/create '{"userName":"handmade","password":"Hand-made-pass1"}')
expect_contains "$out" '"code":0' "create a user by hand"
cat <<YAML | kubectl apply -n "$ns" -f - >/dev/null
apiVersion: vecward.io/v1alpha1
kind: User
metadata: {name: handmade}
spec: {clusterRef: {name: prod}, roles: [reader]}
YAML
wait_for 30 "MilvusUserExists" bash -c "kubectl get user handmade -n $ns -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -q MilvusUserExists"
expect_contains "$(mcall "handmade:Hand-made-pass1" "${uc[@]}" users/describe '{"userName":"handmade"}')" '"code":0' "hand-made user untouched"
kubectl delete user handmade -n "$ns" --wait=true --timeout=30s >/dev/null
expect_contains "$(mcall "$rootauth" "${uc[@]}" users/list '{}')" '"handmade"' "hand-made user not dropped"

# ---- deletion drops the user ---------------------------------------------------------------
kubectl delete user app-reader -n "$ns" --wait=true --timeout=30s >/dev/null
out=$(mcall "$rootauth" "${uc[@]}" users/list '{}')
case $out in *'"app_reader"'*) fail "app_reader left behind in Milvus: $out" ;; esac

# ---- a role removed from Cluster.spec.roles is dropped in Milvus -----------------------------
kubectl patch cluster prod -n "$ns" --type json -p '[{"op":"remove","path":"/spec/roles/1"}]' >/dev/null
dropped() {
	local o
	o=$(mcall "$rootauth" "${uc[@]}" roles/list '{}')
	case $o in *'"code":0'*) ;; *) return 1 ;; esac
	case $o in *'"ingest"'*) return 1 ;; esac
}
wait_for 30 "role ingest dropped" dropped
wait_for 30 "managed roles updated" bash -c "test \"\$(kubectl get cluster prod -n $ns -o jsonpath='{.status.rbac.managedRoles}')\" = '[\"reader\"]'"
for r in RoleCreated RoleDropped PrivilegeGranted PrivilegeRevoked; do
	[ -n "$(kubectl get events -n "$ns" --field-selector reason=$r -o name)" ] || fail "no $r Event"
done

# ---- 200 Users converge; an idle resync asks Milvus nothing and writes nothing ----------
for i in $(seq 1 200); do
	tls=
	[ "$i" -gt 3 ] || tls=', tls: {clientCertificate: true}' # a few with client certificates
	printf 'apiVersion: vecward.io/v1alpha1\nkind: User\nmetadata: {name: bulk%d}\nspec: {clusterRef: {name: prod}, roles: [reader]%s}\n---\n' "$i" "$tls"
done >"$work/bulk.yaml"
kubectl apply -n "$ns" -f "$work/bulk.yaml" >/dev/null
all_ready() {
	local n
	n=$(kubectl get users -n "$ns" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
	test "$n" -ge 200
}
wait_for 240 "200 Users Ready" all_ready
n=$(mcall "$rootauth" "${uc[@]}" users/list '{}' | grep -o '"bulk[0-9]*"' | wc -l)
expect_eq "$n" 200 "200 Milvus users"
sleep 4 # let the last status writes land
curl -sS --cacert "$work/ca.crt" --cert "$work/user.crt" --key "$work/user.key" \
	--connect-to "prod.$ns.svc:8080:127.0.0.1:$port" -X POST "https://prod.$ns.svc:8080/_double/reset_stats" >/dev/null
writes() { grep -c '"userAgent":"vecward/' "$audit" || true; }
# how often the operator loaded a Cluster's root password and CA (its "stats" line,
# logged at once on SIGUSR1)
loads() {
	local n0 n
	n0=$(grep -c '"msg":"stats"' "$log" || true)
	kill -USR1 "$opid"
	for _ in $(seq 1 50); do
		n=$(grep -c '"msg":"stats"' "$log" || true)
		[ "$n" -gt "$n0" ] && break
		sleep 0.1
	done
	grep '"msg":"stats"' "$log" | tail -n 1 | sed -n 's/.*"clusterCredentialLoads":"\([0-9]*\)".*/\1/p'
}
w0=$(writes)
l0=$(loads)
sleep 10 # three resyncs at --resync 3
w1=$(writes)
l1=$(loads)
[ -n "$l0" ] || fail "no clusterCredentialLoads in the operator's stats line"
[ -n "$(sec bulk1-credentials tls.crt)" ] || fail "bulk1 has no client certificate"
# 200 Users, 3 with a client certificate: their resyncs need neither the root password
# nor the CA key, nor do the Cluster's (Milvus is not asked)
expect_eq "$((l1 - l0))" 0 "Cluster credentials loaded during three idle resyncs"
stats=$(curl -sS --cacert "$work/ca.crt" --cert "$work/user.crt" --key "$work/user.key" \
	--connect-to "prod.$ns.svc:8080:127.0.0.1:$port" "https://prod.$ns.svc:8080/_double/stats")
expect_contains "$stats" '"requests":0' "Milvus requests during idle resyncs"
expect_eq "$((w1 - w0))" 0 "apiserver writes during idle resyncs"

# ---- no secret anywhere but Secrets ----------------------------------------------------------
everything="$(kubectl get users,clusters -n "$ns" -o yaml)$(kubectl get events -n "$ns" -o yaml)$(cat "$log" "$work/milvus.log")"
for p in "$pw1" "$pw2" "$pw3" "$root1" "$root2"; do
	case $everything in *"$p"*) fail "a password leaked into status, Events or logs" ;; esac
done
grep -q '"reason":"RoleRevoked"' "$log" || fail "no audit log line for a role change"
[ -n "$(kubectl get events -n "$ns" --field-selector reason=RoleGranted -o name)" ] || fail "no RoleGranted Event"
echo "user: credentials, roles, grants, rotation, crash mid-rotation, hand-made user, deletion, 200 users idle"
