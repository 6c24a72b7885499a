#include "kmsconn.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apply.h"
#include "buf.h"
#include "json.h"

int kmsconn_root_secret_name(const char *key_name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s-" KMSCONN_ROOT_KEY_SUFFIX, key_name ? key_name : "");

	return !key_name || !key_name[0] || n < 0 || (size_t)n >= outlen || n > 253 ? -1 : 0;
}

static void say(char *reason, size_t rlen, char *msg, size_t mlen, const char *r, const char *m)
{
	snprintf(reason, rlen, "%s", r);
	snprintf(msg, mlen, "%s", m);
}

static int open_local(struct kube_client *kc, const char *ns, const char *name, struct kms **out,
                      char *reason, size_t rlen, char *msg, size_t mlen)
{
	struct buf key = BUF_INIT(64);
	struct kube_error kerr;
	struct kms_error err;
	yajl_val sec = NULL;
	char sname[300], m[1200];
	int r, rc = -1;

	if (kmsconn_root_secret_name(name, sname, sizeof(sname))) {
		say(reason, rlen, msg, mlen, "InvalidSpec",
		    "metadata.name is too long for a root-key Secret");
		return -1;
	}
	r = apply_get(kc, &KUBE_SECRET, ns, sname, &sec, &kerr);
	if (r == 1) {
		snprintf(m, sizeof(m), "Secret %s does not exist yet; the operator generates it",
		         sname);
		say(reason, rlen, msg, mlen, "KeyNotGenerated", m);
		return 1;
	}
	if (r < 0) {
		char eb[400];
		kube_strerror(&kerr, eb, sizeof(eb));
		snprintf(m, sizeof(m), "cannot read Secret %s: %s", sname, eb);
		say(reason, rlen, msg, mlen, "APIError", m);
		return -1;
	}
	if (secret_data(sec, KMSCONN_ROOT_KEY_DATA, &key) || key.len != KMS_ROOT_KEY_LEN) {
		snprintf(m, sizeof(m),
		         "Secret %s has no 32-byte " KMSCONN_ROOT_KEY_DATA
		         " entry; restore it from a backup (the zone keys under it can not be "
		         "opened without it)",
		         sname);
		say(reason, rlen, msg, mlen, "RootKeyInvalid", m);
		goto out;
	}
	if (kms_local_new((const uint8_t *)key.ptr, key.len, out, &err)) {
		say(reason, rlen, msg, mlen, kms_err_reason(err.kind), err.message);
		goto out;
	}
	rc = 0;
out:
	buf_free_secret(&key);
	json_free_secret(sec);
	return rc;
}

static int open_aws(struct kube_client *kc, yajl_val key, const char *ns, struct kms **out,
                    char *reason, size_t rlen, char *msg, size_t mlen)
{
	struct kms_aws_config cfg = {0};
	const char *cref = json_get_str(key, "spec", "credentialsSecretRef", "name", NULL);
	char *ak = NULL, *sk = NULL, *tok = NULL;
	struct kube_error kerr;
	struct kms_error err;
	yajl_val sec = NULL;
	char m[1200];
	int rc = -1;

	cfg.key_id = json_get_str(key, "spec", "keyID", NULL);
	cfg.endpoint = json_get_str(key, "spec", "endpoint", NULL);
	if (!cfg.key_id) {
		say(reason, rlen, msg, mlen, "InvalidSpec",
		    "spec.keyID is required for provider aws-kms: the KMS key ARN");
		return -1;
	}
	if (cref) {
		int r = apply_get(kc, &KUBE_SECRET, ns, cref, &sec, &kerr);
		if (r != 0) {
			char eb[400];
			if (r == 1)
				snprintf(eb, sizeof(eb), "not found");
			else
				kube_strerror(&kerr, eb, sizeof(eb));
			snprintf(m, sizeof(m),
			         "spec.credentialsSecretRef: Secret %s: %s; create it with "
			         "aws_access_key_id and aws_secret_access_key",
			         cref, eb);
			say(reason, rlen, msg, mlen, r == 1 ? "CredentialsNotFound" : "APIError",
			    m);
			goto out;
		}
		ak = secret_data_str(sec, "aws_access_key_id", 256);
		sk = secret_data_str(sec, "aws_secret_access_key", 256);
		tok = secret_data_str(sec, "aws_session_token", 8192);
		if (!ak || !sk) {
			snprintf(m, sizeof(m),
			         "spec.credentialsSecretRef: Secret %s needs the keys "
			         "aws_access_key_id and aws_secret_access_key",
			         cref);
			say(reason, rlen, msg, mlen, "CredentialsInvalid", m);
			goto out;
		}
		cfg.access_key_id = ak;
		cfg.secret_access_key = sk;
		cfg.session_token = tok;
	}
	if (kms_aws_new(&cfg, out, &err)) {
		say(reason, rlen, msg, mlen, kms_err_reason(err.kind), err.message);
		goto out;
	}
	rc = 0;
out:
	secret_str_free(ak);
	secret_str_free(sk);
	secret_str_free(tok);
	json_free_secret(sec);
	return rc;
}

int kmsconn_open(struct kube_client *kc, yajl_val key, struct kms **out, char *reason,
                 size_t reasonlen, char *msg, size_t msglen)
{
	const char *provider = json_get_str(key, "spec", "provider", NULL);
	const char *ns = json_get_str(key, "metadata", "namespace", NULL);
	const char *name = json_get_str(key, "metadata", "name", NULL);

	if (!ns || !name) {
		say(reason, reasonlen, msg, msglen, "InvalidSpec", "the EncryptionKey has no name");
		return -1;
	}
	if (provider && !strcmp(provider, KMS_PROVIDER_LOCAL))
		return open_local(kc, ns, name, out, reason, reasonlen, msg, msglen);
	if (provider && !strcmp(provider, KMS_PROVIDER_AWS))
		return open_aws(kc, key, ns, out, reason, reasonlen, msg, msglen);
	say(reason, reasonlen, msg, msglen, "InvalidSpec",
	    "spec.provider must be aws-kms or local");
	return -1;
}

int kmsconn_unwrap_zone(struct kms *k, const struct zk_entry *e, const char *cluster_uid,
                        uint8_t ezk[ZK_KEY_LEN], struct kms_error *err)
{
	struct kms_context ctx;
	uint8_t pt[64];
	size_t n = 0;
	char ver[12];
	int rc;

	if (cluster_uid && strcmp(cluster_uid, e->cluster_uid))
		return kms_fail(err, KMS_ERR_INVALID_CIPHERTEXT, 0, NULL,
		                "zone key %s.v%u belongs to another cluster", e->database,
		                (unsigned)e->version);
	if (zk_context(&ctx, e->cluster_uid, e->database, e->version, ver))
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "zone key entry: bad context fields");
	rc = kms_decrypt(k, &ctx, e->wrapped.ptr, e->wrapped.len, pt, sizeof(pt), &n, err);
	if (rc == 0 && n != ZK_KEY_LEN)
		rc = kms_fail(err, KMS_ERR_INVALID_CIPHERTEXT, 0, NULL,
		              "zone key %s.v%u: unwrapped to %zu bytes, not %d", e->database,
		              (unsigned)e->version, n, ZK_KEY_LEN);
	if (rc == 0)
		memcpy(ezk, pt, ZK_KEY_LEN);
	OPENSSL_cleanse(pt, sizeof(pt));
	return rc;
}
