#!/usr/bin/env bash
# The aws-kms provider (operator/kms) against moto_server on a free loopback port, driven
# through bin/e2e/kms_e2e (tests/e2e/kms_e2e.c). No Kubernetes involved.
#
#   - a key created with boto3 over SigV4 is described as Enabled, usable, in us-east-1,
#     by its key ARN and by an alias ARN;
#   - GenerateDataKey then Decrypt with the same encryption context returns the same key;
#     Decrypt with another context fails with InvalidCiphertextException
#     (KMS_ERR_INVALID_CIPHERTEXT); Encrypt/Decrypt round-trips;
#   - an empty encryption context fails before any request;
#   - a wrong key ARN gives NotFoundException (KMS_ERR_NOT_FOUND);
#   - after DisableKey, describe says Disabled and GenerateDataKey fails with
#     DisabledException (KMS_ERR_KEY_DISABLED);
#   - web identity (IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN exchanged with
#     moto's STS AssumeRoleWithWebIdentity, and the errors when the token file is missing
#     or STS is unreachable.
#
# moto 5.x does not enforce key state: its GenerateDataKey/Encrypt/Decrypt succeed on a
# Disabled key, where AWS KMS answers DisabledException (KMSInvalidStateException for
# PendingDeletion and other states). moto_server is therefore started through a few lines
# of Python that add that check to moto's KMS backend and then run moto's own server main,
# with the arguments moto_server takes (-H 127.0.0.1 -p PORT). Everything else is moto's.
. "$(dirname "$0")/lib.sh"

E=${KMS_E2E:-$VW_ROOT/bin/e2e/kms_e2e} # KMS_E2E: e.g. a sanitizer build
[ -x "$E" ] || fail "missing $E (run: make bin/e2e/kms_e2e)"
command -v moto_server >/dev/null || fail "moto_server not installed (pip install 'moto[server]')"
python3 -c 'import boto3, moto.server' 2>/dev/null || fail "python3 cannot import boto3 and moto.server"

work=$(mktemp -d "${TMPDIR:-$VW_ROOT/.work}/kms.XXXXXX")
moto_pid=
cleanup() {
	if [ -n "$moto_pid" ]; then
		kill "$moto_pid" 2>/dev/null || true
		wait "$moto_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
ep=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=vecward-e2e AWS_SECRET_ACCESS_KEY=vecward-e2e-secret AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS AWS_PROFILE

cat >"$work/moto_kms_state.py" <<'EOF'
# moto_server, plus the key-state check AWS KMS makes on cryptographic operations.
import sys

from moto.core.exceptions import JsonRESTError
from moto.kms import models


class DisabledException(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("DisabledException", message)


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, message):
        super().__init__("KMSInvalidStateException", message)


def check(backend, key_id):
    key = backend.keys.get(backend.any_id_to_key_id(key_id))
    if key is None or key.key_state == "Enabled":
        return
    if key.key_state == "Disabled":
        raise DisabledException(f"{key.arn} is disabled.")
    raise KMSInvalidStateException(f"{key.arn} is {key.key_state}.")


encrypt, decrypt = models.KmsBackend.encrypt, models.KmsBackend.decrypt


def checked_encrypt(self, key_id, plaintext, encryption_context):
    check(self, key_id)  # GenerateDataKey goes through encrypt too
    return encrypt(self, key_id, plaintext, encryption_context)


def checked_decrypt(self, ciphertext_blob, encryption_context, key_id=None):
    plaintext, arn = decrypt(self, ciphertext_blob, encryption_context, key_id)
    check(self, arn)
    return plaintext, arn


models.KmsBackend.encrypt = checked_encrypt
models.KmsBackend.decrypt = checked_decrypt

from moto.server import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
EOF

python3 "$work/moto_kms_state.py" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
wait_for 30 "moto_server on $ep" curl -s -o /dev/null --max-time 2 "$ep/moto-api/"

# kms CMD...: boto3 against moto; prints what CMD returns
kms() {
	python3 - "$ep" "$@" <<'EOF'
import sys
import boto3
ep, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
c = boto3.client("kms", endpoint_url=ep, region_name="us-east-1")
if cmd == "create-key":
    # KeyUsage and KeySpec are AWS's defaults; moto leaves KeyUsage empty without them
    md = c.create_key(Description="vecward e2e", KeyUsage="ENCRYPT_DECRYPT",
                      KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]
    print(md["Arn"])
elif cmd == "create-alias":
    c.create_alias(AliasName=args[1], TargetKeyId=args[0])
elif cmd == "disable-key":
    # by key id: moto 5.2's DisableKey fails (HTTP 500) when given the key ARN
    c.disable_key(KeyId=args[0].rsplit("/", 1)[-1])
EOF
}

arn=$(kms create-key) || fail "create-key failed"
case $arn in arn:aws:kms:us-east-1:*:key/*) ;; *) fail "unexpected key arn: $arn" ;; esac
account=$(echo "$arn" | cut -d: -f5)
kms create-alias "$arn" alias/vecward-e2e || fail "create-alias failed"
alias_arn=arn:aws:kms:us-east-1:$account:alias/vecward-e2e
run() { "$E" --endpoint "$ep" "$@"; }

# describe: by key ARN and by alias ARN
out=$(run --key-arn "$arn" describe) || fail "describe: $out"
expect_contains "$out" "state=Enabled enabled=1 region=us-east-1 usage=ENCRYPT_DECRYPT spec=SYMMETRIC_DEFAULT usable=1 arn=$arn" "describe"
out=$(run --key-arn "$alias_arn" describe) || fail "describe by alias: $out"
expect_contains "$out" "state=Enabled" "describe by alias"
expect_contains "$out" "arn=$arn" "describe by alias resolves the key"

# GenerateDataKey + Decrypt with the same context; another context fails
out=$(run --key-arn "$arn" roundtrip) || fail "roundtrip: $out"
expect_contains "$out" "generated bytes=32" "roundtrip"
expect_contains "$out" "decrypted same=1" "roundtrip"
expect_contains "$out" "wrong-context kind=KMS_ERR_INVALID_CIPHERTEXT type=InvalidCiphertextException" "roundtrip"
expect_contains "$out" "encrypt-decrypt same=1" "roundtrip"
expect_contains "$out" "roundtrip ok" "roundtrip"
out=$(run --key-arn "$alias_arn" roundtrip) || fail "roundtrip by alias: $out"
expect_contains "$out" "roundtrip ok" "roundtrip by alias"

# the encryption context is required, and checked before any request
expect_fail "generate without context" run --key-arn "$arn" generate-no-context
expect_contains "$OUT" "ERROR kind=KMS_ERR_INVALID type=- reason=KMSInvalidRequest http=0 attempts=0" "no context"

# a key that does not exist
missing=arn:aws:kms:us-east-1:$account:key/00000000-0000-4000-8000-000000000000
expect_fail "describe of a missing key" run --key-arn "$missing" describe
expect_contains "$OUT" "ERROR kind=KMS_ERR_NOT_FOUND type=NotFoundException reason=KMSKeyNotFound http=400 attempts=1" "missing key"

# disabled: describe says so, generate is refused and not retried
kms disable-key "$arn" || fail "disable-key failed"
out=$(run --key-arn "$arn" describe) || fail "describe disabled: $out"
expect_contains "$out" "state=Disabled enabled=0" "describe disabled"
expect_contains "$out" "usable=0" "describe disabled"
expect_fail "generate with a disabled key" run --key-arn "$arn" generate
expect_contains "$OUT" "ERROR kind=KMS_ERR_KEY_DISABLED type=DisabledException reason=KMSKeyDisabled http=400 attempts=1" "generate disabled"

# web identity: no static credentials, a projected token and a role
arn2=$(kms create-key) || fail "create-key failed"
echo "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dmVjd2FyZDpvcGVyYXRvciJ9.c2ln" >"$work/token"
wi() {
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_WEB_IDENTITY_TOKEN_FILE="$1" \
		AWS_ROLE_ARN=arn:aws:iam::$account:role/vecward-operator AWS_ENDPOINT_URL_STS="$2" \
		"$E" --endpoint "$ep" --key-arn "$arn2" "${@:3}"
}
out=$(wi "$work/token" "$ep" roundtrip) || fail "web identity roundtrip: $out"
expect_contains "$out" "roundtrip ok" "web identity"
expect_fail "web identity without a token file" wi "$work/no-such-token" "$ep" describe
expect_contains "$OUT" "ERROR kind=KMS_ERR_ACCESS_DENIED" "missing token file"
expect_contains "$OUT" "AWS_WEB_IDENTITY_TOKEN_FILE" "missing token file"
expect_fail "web identity with STS unreachable" wi "$work/token" "http://127.0.0.1:$(free_port)" describe
expect_contains "$OUT" "ERROR kind=KMS_ERR_UNREACHABLE" "sts unreachable"
expect_contains "$OUT" "attempts=4" "sts unreachable is retried"

# no credentials at all
expect_fail "no credentials" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$E" --endpoint "$ep" --key-arn "$arn2" describe
expect_contains "$OUT" "ERROR kind=KMS_ERR_INVALID" "no credentials"
expect_contains "$OUT" "no aws credentials" "no credentials"

# nothing secret in what was printed: the static secret never appears
grep -rq "vecward-e2e-secret" "$work"/*.log && fail "the secret access key reached a log"
echo "ok"
