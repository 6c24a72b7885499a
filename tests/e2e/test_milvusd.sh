#!/usr/bin/env bash
# bin/milvusd, the test double of the Milvus REST v2 contract (users, roles, privilege
# groups, databases) that the other end-to-end tests talk to instead of Milvus, behaves
# like Milvus where they rely on it: authentication (401/1800), validation (1100/1802/1402),
# the privilege interceptor (403/1401, users may describe themselves), idempotent grants,
# undroppable root/admin/public, the user and role limits, UpdateCredential's old-password
# rule (skipped only for superUsers), persistence without plaintext passwords, the
# /_double/stats counters, required client certificates (--client-ca), and databases:
# "default" always there, properties, the database limit, who sees which database, and
# encryption zones (cipher.enabled/cipher.key/cipher.ezID) refused without a cipher plugin
# (--cipher-plugin) as open-source Milvus refuses them. It needs no control plane.
# MILVUSD=bin/milvusd-san runs it under ASan+UBSan.
. "$(dirname "$0")/lib.sh"

bin=${MILVUSD:-$VW_ROOT/bin/milvusd}
[ -x "$bin" ] || fail "$bin missing: run make bin/milvusd"
md=$TMPDIR/milvusd
rm -rf "$md"
mkdir -p "$md"
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p" || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# -- throwaway PKI: a CA, a serving certificate for 127.0.0.1, a client certificate
pki=$md/pki
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=vecward-e2e-milvusd-ca" -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
issue() { # NAME EXT
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
	printf '%b' "$2" >"$pki/$1.ext"
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
		-days 1 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
	chmod 600 "$pki/$1.key"
}
issue server 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n'
issue client 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n'

start() { # NAME ARGS...: an instance with its files in $md/NAME; sets PORT and PID
	local d=$md/$1
	shift
	mkdir -p "$d"
	rm -f "$d/port"
	"$bin" --listen 127.0.0.1:0 --port-file "$d/port" --cert "$pki/server.crt" \
		--key "$pki/server.key" --log-file "$d/requests.log" "$@" >>"$d/milvusd.log" 2>&1 &
	PID=$!
	pids+=("$PID")
	wait_for 20 "milvusd $d to listen" test -s "$d/port"
	PORT=$(cat "$d/port")
}

stop() { # PID: SIGTERM, and it must exit 0 (it frees everything; ASan checks that)
	local rc=0
	kill -TERM "$1"
	wait "$1" || rc=$?
	[ "$rc" = 0 ] || fail "milvusd $1 exited $rc on SIGTERM"
}

# call AUTH PATH BODY [CURL-ARGS...]: POST to $PORT; sets HTTP, CODE, RESP
call() {
	local auth=$1 path=$2 body=$3
	shift 3
	local hdr=()
	[ -z "$auth" ] || hdr=(-H "Authorization: Bearer $auth")
	HTTP=$(curl -sS --cacert "$pki/ca.crt" -o "$md/resp" -w '%{http_code}' "$@" \
		-X POST "https://127.0.0.1:$PORT/v2/vectordb/$path" "${hdr[@]}" \
		-H 'Content-Type: application/json' --data-binary "$body") || fail "curl $path failed"
	RESP=$(cat "$md/resp")
	CODE=$(jq -er '.code' <"$md/resp") || fail "$path: not a Milvus envelope: $RESP"
}

expect() { # CODE HTTP WHAT
	[ "$CODE" = "$1" ] && [ "$HTTP" = "$2" ] ||
		fail "$3: expected code $1 (HTTP $2), got code $CODE (HTTP $HTTP): $RESP"
}

data() { jq -c '.data' <"$md/resp"; }

root=root:Milvus
start main --super-users ops --state-file "$md/main/state.json"
main_pid=$PID

# -- authentication: the REST middleware answers 401 with 1800, bad password included
call "" users/list '{}'
expect 1800 401 "no Authorization header"
call "rootMilvus" users/list '{}'
expect 1800 401 "garbled Authorization header"
call root:wrong-password users/list '{}'
expect 1800 401 "wrong root password"
expect_contains "$RESP" "user hasn't authenticated" "wrong password message"
call "$root" users/list '{}'
expect 0 200 "root lists users"
expect_eq "$(data)" '["root"]' "users at start"
HTTP=$(curl -sS --cacert "$pki/ca.crt" -o /dev/null -w '%{http_code}' -u root:Milvus -X POST \
	"https://127.0.0.1:$PORT/v2/vectordb/users/list" -d '{}')
expect_eq "$HTTP" 200 "HTTP Basic credentials"

# -- users/create validation, as Milvus's ValidateUsername/ValidatePassword
call "$root" users/create '{"userName":"1alice","password":"alice-pw-1"}'
expect 1100 200 "user name starting with a digit"
call "$root" users/create '{"userName":"al-ice","password":"alice-pw-1"}'
expect 1100 200 "user name with a dash"
call "$root" users/create "{\"userName\":\"a$(printf 'b%.0s' {1..32})\",\"password\":\"alice-pw-1\"}"
expect 1100 200 "user name of 33 characters"
call "$root" users/create '{"userName":"alice","password":"short"}'
expect 1100 200 "password of 5 characters"
expect_contains "$RESP" "invalid password length" "short password message"
call "$root" users/create "{\"userName\":\"alice\",\"password\":\"$(printf 'p%.0s' {1..73})\"}"
expect 65535 200 "password over bcrypt's 72 bytes"
call "$root" users/create '{"userName":"","password":"alice-pw-1"}'
expect 1802 200 "empty userName (binding:required)"
call "$root" users/create '{"userName":7,"password":"alice-pw-1"}'
expect 1801 200 "userName of the wrong JSON type"
call "$root" users/create '{"userName":'
expect 1801 200 "malformed JSON"
call "$root" users/create '{"userName":"alice","password":"alice-pw-1"}'
expect 0 200 "create alice"
expect_eq "$RESP" '{"code":0,"data":{}}' "create response"
call "$root" users/create '{"userName":"alice","password":"alice-pw-1"}'
expect 65535 200 "create alice twice"
call "$root" users/create '{"userName":"ops","password":"ops-pw-12"}'
expect 0 200 "create ops (a super user)"

# -- the privilege interceptor: self-describe is allowed, the rest is 403/1401
alice=alice:alice-pw-1
call "$alice" users/describe '{"userName":"alice"}'
expect 0 200 "alice describes herself"
expect_eq "$(data)" '[]' "alice's roles"
call "$alice" users/list '{}'
expect 1401 403 "alice lists users"
expect_contains "$RESP" "PrivilegeSelectOwnership: permission deny to alice" "denial message"
call "$alice" users/describe '{"userName":"root"}'
expect 1401 403 "alice describes root"
call "$alice" users/create '{"userName":"mallory","password":"mallory-pw"}'
expect 1401 403 "alice creates a user"

# -- users/grant_role and revoke_role (both idempotent)
call "$root" roles/create '{"roleName":"reader"}'
expect 0 200 "create role reader"
call "$root" roles/create '{"roleName":"reader"}'
expect 65535 200 "create role reader twice"
call "$root" roles/create '{"roleName":"9lives"}'
expect 1100 200 "role name starting with a digit"
call "$root" users/grant_role '{"userName":"alice","roleName":"reader"}'
expect 0 200 "grant reader to alice"
call "$root" users/grant_role '{"userName":"alice","roleName":"reader"}'
expect 0 200 "grant reader to alice again"
call "$root" users/describe '{"userName":"alice"}'
expect_eq "$(data)" '["reader"]' "alice's roles after grant"
call "$root" users/grant_role '{"userName":"nobody","roleName":"reader"}'
expect 65535 200 "grant to a missing user"
call "$root" users/grant_role '{"userName":"alice","roleName":"missing"}'
expect 65535 200 "grant a missing role"
call "$root" users/revoke_role '{"userName":"alice","roleName":"reader"}'
expect 0 200 "revoke reader from alice"
call "$root" users/revoke_role '{"userName":"alice","roleName":"reader"}'
expect 0 200 "revoke reader from alice again"
call "$alice" users/describe '{"userName":"alice"}'
expect_eq "$(data)" '[]' "alice's roles after revoke"
call "$root" users/grant_role '{"userName":"alice","roleName":"reader"}'
expect 0 200 "grant reader to alice (for the privilege tests)"

# -- roles/grant_privilege_v2 and roles/describe with its dbName filter
grant() { # ROLE PRIVILEGE DB COLLECTION [revoke]
	call "$root" "roles/${5:-grant}_privilege_v2" \
		"{\"roleName\":\"$1\",\"privilege\":\"$2\",\"dbName\":\"$3\",\"collectionName\":\"$4\"}"
}
grant reader Search db1 '*'
expect 0 200 "grant Search on db1.*"
grant reader Search db1 '*'
expect 0 200 "grant Search on db1.* again"
grant reader DatabaseReadOnly db2 '*'
expect 0 200 "grant DatabaseReadOnly on db2"
grant reader ClusterReadOnly '*' '*'
expect 0 200 "grant ClusterReadOnly on *.*"
grant reader ClusterAdmin db1 '*'
expect 1100 200 "a cluster-level group on one database"
grant reader NoSuchPrivilege db1 '*'
expect 65535 200 "an unknown privilege"
expect_contains "$RESP" "not found the privilege name[NoSuchPrivilege]" "unknown privilege message"
grant reader Query db1 ''
expect 1100 200 "an empty collectionName"
grant reader Query 'bad-db' '*'
expect 802 200 "an invalid dbName"
grant reader Query db1 c1 revoke
expect 0 200 "revoke a grant that does not exist"
call "$root" roles/describe '{"roleName":"reader","dbName":"db1"}'
expect 0 200 "describe reader on db1"
expect_eq "$(data)" '[{"objectType":"Collection","objectName":"*","privilege":"Search","dbName":"db1","grantor":"root"},{"objectType":"Global","objectName":"*","privilege":"ClusterReadOnly","dbName":"*","grantor":"root"}]' "grants on db1"
call "$root" roles/describe '{"roleName":"reader"}'
expect_eq "$(data)" '[{"objectType":"Global","objectName":"*","privilege":"ClusterReadOnly","dbName":"*","grantor":"root"}]' "grants on default"
call "$root" roles/describe '{"roleName":"reader","dbName":"db2"}'
expect_eq "$(jq -c '[.data[].privilege]' <"$md/resp")" '["ClusterReadOnly","DatabaseReadOnly"]' "grants on db2"
call "$root" roles/describe '{"roleName":"missing"}'
expect 65535 200 "describe a missing role"
# ClusterReadOnly holds SelectOwnership: alice may now list users and roles
call "$alice" users/list '{}'
expect 0 200 "alice lists users through ClusterReadOnly"
expect_eq "$(data)" '["alice","ops","root"]' "users"
call "$alice" roles/create '{"roleName":"sneaky"}'
expect 1401 403 "ClusterReadOnly does not allow creating roles"

# -- privilege groups
call "$root" privilege_groups/create '{"privilegeGroupName":"readers"}'
expect 0 200 "create privilege group readers"
call "$root" privilege_groups/create '{"privilegeGroupName":"1readers"}'
expect 1402 200 "privilege group name starting with a digit"
call "$root" privilege_groups/create '{"privilegeGroupName":"ClusterAdmin"}'
expect 1100 200 "privilege group named like a built-in one"
call "$root" privilege_groups/add_privileges_to_group '{"privilegeGroupName":"readers","privileges":["Search","Query"]}'
expect 0 200 "add Search, Query"
call "$root" privilege_groups/add_privileges_to_group '{"privilegeGroupName":"readers","privileges":["CreateDatabase"]}'
expect 65535 200 "add a privilege of another level"
call "$root" privilege_groups/list '{}'
expect_eq "$(data)" '{"privilegeGroups":[{"privilegeGroupName":"readers","privileges":"Search,Query"}]}' "privilege groups"
grant reader readers db1 '*'
expect 0 200 "grant the custom group"
call "$root" privilege_groups/drop '{"privilegeGroupName":"readers"}'
expect 65535 200 "drop a group still granted"
grant reader readers db1 '*' revoke
expect 0 200 "revoke the custom group"
call "$root" privilege_groups/drop '{"privilegeGroupName":"readers"}'
expect 0 200 "drop the group"

# -- undroppable root, admin, public; a role with grants; dropping drops the bindings
call "$root" users/drop '{"userName":"root"}'
expect 1401 200 "drop root"
call "$root" roles/drop '{"roleName":"admin"}'
expect 1401 200 "drop admin"
call "$root" roles/drop '{"roleName":"public"}'
expect 1401 200 "drop public"
call "$root" roles/list '{}'
expect_eq "$(data)" '["admin","public","reader"]' "roles"
call "$root" roles/drop '{"roleName":"reader"}'
expect 65535 200 "drop a role that holds grants"
grant reader Search db1 '*' revoke
expect 0 200 "revoke Search on db1"
grant reader DatabaseReadOnly db2 '*' revoke
expect 0 200 "revoke DatabaseReadOnly on db2"
grant reader ClusterReadOnly '*' '*' revoke
expect 0 200 "revoke ClusterReadOnly"
call "$root" roles/drop '{"roleName":"reader"}'
expect 0 200 "drop reader once its grants are revoked"
call "$root" users/describe '{"userName":"alice"}'
expect_eq "$(data)" '[]' "alice's binding went with the role"

# -- admin role members manage users; update_password and the superUsers rule
call "$root" users/grant_role '{"userName":"alice","roleName":"admin"}'
expect 0 200 "make alice an admin"
call "$alice" users/create '{"userName":"bob","password":"bob-pw-01"}'
expect 0 200 "admin alice creates bob"
call "$root" users/update_password '{"userName":"alice","password":"not-her-password","newPassword":"alice-pw-2"}'
expect 1400 200 "root, not a super user, with a wrong old password"
call "bob:bob-pw-01" users/update_password '{"userName":"bob","password":"wrong-old-pw","newPassword":"bob-pw-02"}'
expect 1400 200 "bob, with a wrong old password"
call "bob:bob-pw-01" users/update_password '{"userName":"bob","password":"bob-pw-01","newPassword":"bob"}'
expect 1100 200 "bob, a new password too short"
call "bob:bob-pw-01" users/update_password '{"userName":"bob","password":"bob-pw-01","newPassword":"bob-pw-02"}'
expect 0 200 "bob changes his own password"
call "bob:bob-pw-01" users/describe '{"userName":"bob"}'
expect 1800 401 "bob's old password"
call "bob:bob-pw-02" users/describe '{"userName":"bob"}'
expect 0 200 "bob's new password"
call "ops:ops-pw-12" users/update_password '{"userName":"alice","password":"whatever-old","newPassword":"alice-pw-2"}'
expect 0 200 "super user ops resets alice without her old password"
call "$alice" users/describe '{"userName":"alice"}'
expect 1800 401 "alice's old password after the reset"
alice=alice:alice-pw-2
call "$alice" users/describe '{"userName":"alice"}'
expect 0 200 "alice's new password"
call "$root" users/drop '{"userName":"bob"}'
expect 0 200 "drop bob"
call "$root" users/drop '{"userName":"bob"}'
expect 65535 200 "drop bob twice"

# -- /_double/stats: what reached the double, for "no request on resync" checks
curl -sS --cacert "$pki/ca.crt" -X POST "https://127.0.0.1:$PORT/_double/reset_stats" >/dev/null
call "$root" users/list '{}'
call "$root" users/list '{}'
call "$root" roles/list '{}'
call root:nope roles/list '{}'
stats=$(curl -sS --cacert "$pki/ca.crt" "https://127.0.0.1:$PORT/_double/stats")
expect_eq "$(jq -c '[.requests, .by_path["/v2/vectordb/users/list"], .by_path["/v2/vectordb/roles/list"], .auth_failures]' <<<"$stats")" \
	'[4,2,2,1]' "stats after reset: $stats"
curl -sS --cacert "$pki/ca.crt" -X POST "https://127.0.0.1:$PORT/_double/reset_stats" >/dev/null
expect_eq "$(curl -sS --cacert "$pki/ca.crt" "https://127.0.0.1:$PORT/_double/stats")" \
	'{"requests":0,"by_path":{},"auth_failures":0}' "stats after a second reset"

# -- persistence: bcrypt hashes only, and a restart keeps users, roles and passwords
state=$md/main/state.json
[ -s "$state" ] || fail "no state file"
for pw in Milvus alice-pw-1 alice-pw-2 ops-pw-12 bob-pw-01 bob-pw-02; do
	! grep -qF -- "$pw" "$state" || fail "state file holds the password $pw"
	! grep -qF -- "$pw" "$md/main/requests.log" || fail "request log holds the password $pw"
	! grep -qF -- "$pw" "$md/main/milvusd.log" || fail "milvusd log holds the password $pw"
done
expect_eq "$(jq -r '[.users[].hash[0:4]] | unique | join(",")' "$state")" '$2b$' "stored hash scheme"
grep -q ' POST /v2/vectordb/users/list root 0 200$' "$md/main/requests.log" ||
	fail "request log: $(tail -n 3 "$md/main/requests.log")"
stop "$main_pid"
start main --super-users ops --state-file "$state"
main_pid=$PID
call "$alice" users/describe '{"userName":"alice"}'
expect 0 200 "alice after a restart"
expect_eq "$(data)" '["admin"]' "alice's roles after a restart"
call "$root" users/list '{}'
expect_eq "$(data)" '["alice","ops","root"]' "users after a restart"
stop "$main_pid"

# -- limits: proxy.maxUserNum counts root; proxy.maxRoleNum counts admin and public
start limits --max-users 2 --max-roles 3
call "$root" users/create '{"userName":"u1","password":"u1-password"}'
expect 0 200 "second user (root is the first)"
call "$root" users/create '{"userName":"u2","password":"u2-password"}'
expect 65535 200 "third user over --max-users 2"
expect_contains "$RESP" "number of users has reached the limit" "user limit message"
call "$root" roles/create '{"roleName":"r1"}'
expect 0 200 "third role (after admin and public)"
call "$root" roles/create '{"roleName":"r2"}'
expect 65535 200 "fourth role over --max-roles 3"
stop "$PID"

# -- root's password from a file; TLS with a required client certificate (tlsMode 2)
printf 'from-a-file-9\n' >"$md/root.pw"
start mtls --client-ca "$pki/ca.crt" --root-password-file "$md/root.pw"
if out=$(curl -sS --cacert "$pki/ca.crt" -X POST "https://127.0.0.1:$PORT/v2/vectordb/users/list" \
	-H "Authorization: Bearer root:from-a-file-9" -d '{}' 2>&1); then
	fail "a request without a client certificate was served: $out"
fi
call root:from-a-file-9 users/list '{}' --cert "$pki/client.crt" --key "$pki/client.key"
expect 0 200 "with a client certificate"
call root:Milvus users/list '{}' --cert "$pki/client.crt" --key "$pki/client.key"
expect 1800 401 "the default root password when a file gave another"
stop "$PID"

# -- databases, as open-source Milvus (no cipher plugin): "default" always exists
dbid() { grep -o '"dbID":[0-9]*' <<<"$RESP" | cut -d: -f2; } # jq 1.6 rounds big ints
start dbs --max-databases 4 --state-file "$md/dbs/state.json"
call "$root" databases/list '{}'
expect 0 200 "list databases"
expect_eq "$(data)" '["default"]' "databases at start"
call "$root" databases/describe '{"dbName":"default"}'
expect 0 200 "describe default"
expect_eq "$RESP" '{"code":0,"data":{"dbID":1,"dbName":"default","properties":[]}}' "default"
call "$root" databases/describe '{"dbName":"nope"}'
expect 800 200 "describe a missing database"
expect_contains "$RESP" "database not found[database=nope]" "missing database message"
call "$root" databases/describe '{}'
expect 1802 200 "describe without dbName"
call "$root" databases/create '{"dbName":"bad-name"}'
expect 802 200 "an invalid database name"
call "$root" databases/create '{"dbName":"plain","properties":["x"]}'
expect 1801 200 "properties that are not an object"
call "$root" databases/create '{"dbName":"plain","properties":{"database.replica.number":1,"database.force.deny.writing":false}}'
expect 0 200 "create plain"
expect_eq "$RESP" '{"code":0,"data":{}}' "create database response"
call "$root" databases/describe '{"dbName":"plain"}'
expect 0 200 "describe plain"
expect_eq "$(jq -c '.data | del(.dbID)' <"$md/resp")" \
	'{"dbName":"plain","properties":[{"key":"database.replica.number","value":"1"},{"key":"database.force.deny.writing","value":"false"}]}' \
	"properties come back as strings"
plain_id=$(dbid)
(( plain_id > 9007199254740992 )) || fail "database IDs are int64s beyond 2^53 like Milvus's: $plain_id"
call "$root" databases/create '{"dbName":"plain"}'
expect 1100 200 "create plain twice"
expect_contains "$RESP" "database already exist: plain" "existing database message"
arn=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
call "$root" databases/create "{\"dbName\":\"vault\",\"properties\":{\"cipher.enabled\":\"true\",\"cipher.key\":\"$arn\"}}"
expect 65535 200 "an encrypted database without a cipher plugin"
expect_contains "$RESP" "cipher plugin is missing" "no cipher plugin message"
call "$root" databases/create '{"dbName":"optout","properties":{"cipher.enabled":"false"}}'
expect 0 200 "cipher.enabled=false without a plugin"
call "$root" databases/describe '{"dbName":"optout"}'
expect_eq "$(jq -c '.data.properties' <"$md/resp")" '[{"key":"cipher.enabled","value":"false"}]' \
	"without a plugin cipher.* are plain properties"
call "$root" databases/list '{}'
expect_eq "$(data)" '["default","optout","plain"]' "a refused create leaves nothing behind"
# who sees what: root and admin everything, others where a role of theirs has a grant
call "$root" users/create '{"userName":"carol","password":"carol-pw-1"}'
expect 0 200 "create carol"
call carol:carol-pw-1 databases/list '{}'
expect 0 200 "carol lists databases (no REST-level privilege check)"
expect_eq "$(data)" '[]' "carol without roles sees no database"
call "$root" roles/create '{"roleName":"viewer"}'
grant viewer DatabaseReadOnly plain '*'
expect 0 200 "grant DatabaseReadOnly on plain"
call "$root" users/grant_role '{"userName":"carol","roleName":"viewer"}'
call carol:carol-pw-1 databases/list '{}'
expect_eq "$(data)" '["plain"]' "carol sees the database her role has a grant in"
call carol:carol-pw-1 databases/describe '{"dbName":"plain"}'
expect 0 200 "DatabaseReadOnly allows DescribeDatabase"
call carol:carol-pw-1 databases/create '{"dbName":"carols"}'
expect 1401 403 "carol creates a database"
# rootCoord.maxDatabaseNum counts default
call "$root" databases/create '{"dbName":"fourth"}'
expect 0 200 "the fourth database"
call "$root" databases/create '{"dbName":"fifth"}'
expect 801 200 "a fifth database over --max-databases 4"
stop "$PID"
start dbs --max-databases 5 --state-file "$md/dbs/state.json"
call "$root" databases/list '{}'
expect_eq "$(data)" '["default","fourth","optout","plain"]' "databases after a restart"
call "$root" databases/describe '{"dbName":"plain"}'
expect_eq "$(dbid)" "$plain_id" "a database keeps its ID over a restart"
call "$root" databases/create '{"dbName":"fifth"}'
expect 0 200 "the fifth database"
call "$root" databases/describe '{"dbName":"fifth"}'
(( $(dbid) > plain_id )) || fail "database IDs only increase, across restarts too: $RESP"
stop "$PID"

# -- databases on a Milvus build with a cipher plugin: encryption zones
start cipher --cipher-plugin --state-file "$md/cipher/state.json"
call "$root" databases/describe '{"dbName":"default"}'
expect_eq "$RESP" '{"code":0,"data":{"dbID":1,"dbName":"default","properties":[]}}' \
	"default is not encrypted when no default key is configured"
call "$root" databases/create "{\"dbName\":\"vault\",\"properties\":{\"team\":\"search\",\"cipher.enabled\":\"true\",\"cipher.key\":\"$arn\"}}"
expect 0 200 "create an encrypted database"
call "$root" databases/describe '{"dbName":"vault"}'
vault_id=$(dbid)
expect_eq "$(jq -c '.data.properties' <"$md/resp")" \
	"[{\"key\":\"team\",\"value\":\"search\"},{\"key\":\"cipher.enabled\",\"value\":\"true\"},{\"key\":\"cipher.ezID\",\"value\":\"$vault_id\"},{\"key\":\"cipher.key\",\"value\":\"$arn\"}]" \
	"an encryption zone: cipher.ezID is the database ID"
call "$root" databases/create "{\"dbName\":\"vault2\",\"properties\":{\"cipher.enabled\":\"TRUE\",\"cipher.key\":\"$arn\"}}"
expect 0 200 "a second encrypted database (TRUE in any case)"
call "$root" databases/describe '{"dbName":"vault2"}'
ez2=$(jq -r '.data.properties[] | select(.key == "cipher.ezID") | .value' <"$md/resp")
(( ez2 > vault_id )) || fail "ezIDs increase: $ez2 after $vault_id"
call "$root" databases/create '{"dbName":"nokey","properties":{"cipher.enabled":"true"}}'
expect 65535 200 "encryption without a key and no default key"
expect_contains "$RESP" "no key provided and no default key configured" "no key message"
call "$root" databases/create '{"dbName":"loose","properties":{"cipher.key":"arn:x","cipher.ezID":"7"}}'
expect 0 200 "cipher.key without cipher.enabled"
call "$root" databases/describe '{"dbName":"loose"}'
expect_eq "$(jq -c '.data.properties' <"$md/resp")" '[]' "stray cipher.* properties are dropped"
stop "$PID"
start cipher --cipher-plugin --state-file "$md/cipher/state.json"
call "$root" databases/describe '{"dbName":"vault"}'
expect_contains "$RESP" "{\"key\":\"cipher.ezID\",\"value\":\"$vault_id\"},{\"key\":\"cipher.key\",\"value\":\"$arn\"}" \
	"an encryption zone after a restart"
stop "$PID"

# -- with cipherPlugin.kms.defaultKey: default is a zone from the first start, and every
#    database is one unless created with cipher.enabled=false
start cipherkey --cipher-plugin --cipher-default-key "$arn"
call "$root" databases/describe '{"dbName":"default"}'
expect_eq "$(jq -c '[.data.dbID, (.data.properties | map(select(.key != "cipher.ezID")))]' <"$md/resp")" \
	"[1,[{\"key\":\"cipher.enabled\",\"value\":\"true\"},{\"key\":\"cipher.key\",\"value\":\"$arn\"}]]" \
	"default encrypted with the default key"
call "$root" databases/create '{"dbName":"implicit"}'
expect 0 200 "create without cipher properties"
call "$root" databases/describe '{"dbName":"implicit"}'
expect_contains "$RESP" "{\"key\":\"cipher.key\",\"value\":\"$arn\"}" "encrypted with the default key"
call "$root" databases/create '{"dbName":"optout","properties":{"cipher.enabled":"false"}}'
call "$root" databases/describe '{"dbName":"optout"}'
expect_eq "$(jq -c '.data.properties' <"$md/resp")" '[]' "cipher.enabled=false opts out"
stop "$PID"
rc=0
timeout 10 "$bin" --cert "$pki/server.crt" --key "$pki/server.key" --listen 127.0.0.1:0 \
	--cipher-default-key "$arn" 2>/dev/null || rc=$?
expect_eq "$rc" 2 "--cipher-default-key without --cipher-plugin is a usage error"
echo "milvusd double: ok"
