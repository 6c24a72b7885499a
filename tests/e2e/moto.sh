# moto_server as a local AWS KMS for the end-to-end tests (sourced after lib.sh).
#
#   moto_start DIR   start it on a free loopback port; sets moto_ep, moto_pid; exports
#                    static test credentials (AWS_ACCESS_KEY_ID=vecward-e2e ...)
#   moto_stop        stop it (safe to call twice; call it from the EXIT trap)
#   kms CMD ARGS...  boto3 against it: create-key, create-alias ARN ALIAS,
#                    disable-key ARN, enable-key ARN,
#                    decrypt BLOB_B64 CONTEXT_JSON (prints the plaintext in base64)
#
# moto 5.x does not enforce key state: its GenerateDataKey/Encrypt/Decrypt succeed on a
# Disabled key, where AWS KMS answers DisabledException (KMSInvalidStateException for
# PendingDeletion and other states). moto_server is therefore started through a few lines
# of Python that add that check to moto's KMS backend and then run moto's own server main,
# with the arguments moto_server takes (-H 127.0.0.1 -p PORT). Everything else is moto's.

command -v moto_server >/dev/null || fail "moto_server not installed (pip install 'moto[server]')"
python3 -c 'import boto3, moto.server' 2>/dev/null || fail "python3 cannot import boto3 and moto.server"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

moto_pid=
moto_ep=
moto_start() {
	local dir=$1 port
	port=$(free_port)
	moto_ep=http://127.0.0.1:$port
	export AWS_ACCESS_KEY_ID=vecward-e2e AWS_SECRET_ACCESS_KEY=vecward-e2e-secret AWS_DEFAULT_REGION=us-east-1
	unset AWS_SESSION_TOKEN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ENDPOINT_URL_STS AWS_PROFILE
	cat >"$dir/moto_kms_state.py" <<'EOF'
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
	python3 "$dir/moto_kms_state.py" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
	moto_pid=$!
	wait_for 30 "moto_server on $moto_ep" curl -s -o /dev/null --max-time 2 "$moto_ep/moto-api/"
}

moto_stop() {
	if [ -n "$moto_pid" ]; then
		kill "$moto_pid" 2>/dev/null || true
		wait "$moto_pid" 2>/dev/null || true
		moto_pid=
	fi
}

kms() {
	python3 - "$moto_ep" "$@" <<'EOF'
import base64
import json
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
elif cmd in ("disable-key", "enable-key"):
    # by key id: moto 5.2's DisableKey fails (HTTP 500) when given the key ARN
    kid = args[0].rsplit("/", 1)[-1]
    (c.disable_key if cmd == "disable-key" else c.enable_key)(KeyId=kid)
elif cmd == "decrypt":
    out = c.decrypt(CiphertextBlob=base64.b64decode(args[0]),
                    EncryptionContext=json.loads(args[1]))
    print(base64.b64encode(out["Plaintext"]).decode())
else:
    sys.exit("kms: unknown command " + cmd)
EOF
}
