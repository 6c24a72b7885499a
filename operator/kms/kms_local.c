/*
 * The "local" KMS provider: the root key is 32 bytes the caller holds (read
 * from a Secret; development only, since whoever can read that Secret holds
 * every key under it). Blobs are aead wraps under the root key with the
 * canonical encryption context (kms_context_serialize) as AAD, so a blob
 * opens only under the same key and exactly the same context.
 */
#include "kms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "aead.h"

struct local {
	uint8_t key[KMS_ROOT_KEY_LEN];
	char fingerprint[17]; /* public: first 8 bytes of SHA-256("vecward-local-key" | key) */
};

static int aad_of(const struct kms_context *ctx, struct buf *aad, struct kms_error *err)
{
	if (kms_context_serialize(ctx, aad))
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "local: encryption context does not serialise");
	return 0;
}

static int local_describe(void *impl, struct kms_key_info *out, struct kms_error *err)
{
	struct local *l = impl;

	snprintf(out->arn, sizeof(out->arn), "local:%s", l->fingerprint);
	snprintf(out->key_id, sizeof(out->key_id), "%s", l->fingerprint);
	snprintf(out->state, sizeof(out->state), "Enabled");
	snprintf(out->region, sizeof(out->region), "local");
	snprintf(out->usage, sizeof(out->usage), "ENCRYPT_DECRYPT");
	snprintf(out->spec, sizeof(out->spec), "SYMMETRIC_DEFAULT");
	out->enabled = 1;
	return 0;
}

static int local_encrypt(void *impl, const struct kms_context *ctx, const void *pt, size_t ptlen,
                         struct buf *blob, struct kms_error *err)
{
	struct local *l = impl;
	struct buf aad = BUF_INIT(64 * 1024);
	uint8_t w[AEAD_WRAP_LEN(KMS_MAX_PLAINTEXT)];
	size_t wlen = 0;
	int rc = -1, arc;

	if (aad_of(ctx, &aad, err))
		goto out;
	arc = aead_wrap(l->key, pt, ptlen, aad.ptr, aad.len, w, sizeof(w), &wlen);
	if (arc != AEAD_OK) {
		kms_fail(err, arc == AEAD_EINVAL ? KMS_ERR_INVALID : KMS_ERR_INTERNAL, 0, NULL,
		         "local: encrypt: %s", aead_strerror(arc));
		goto out;
	}
	if (buf_add(blob, w, wlen)) {
		kms_fail(err, KMS_ERR_INVALID, 0, NULL, "local: encrypt: blob buffer too small");
		goto out;
	}
	rc = 0;
out:
	buf_free(&aad);
	return rc;
}

static int local_generate(void *impl, const struct kms_context *ctx, size_t nbytes,
                          uint8_t *plaintext, struct buf *blob, struct kms_error *err)
{
	uint8_t key[KMS_MAX_DATA_KEY];
	int rc = -1;

	if (RAND_bytes(key, (int)nbytes) != 1) {
		kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "local: random number generator failed");
		goto out;
	}
	if (local_encrypt(impl, ctx, key, nbytes, blob, err))
		goto out;
	memcpy(plaintext, key, nbytes);
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int local_decrypt(void *impl, const struct kms_context *ctx, const void *blob,
                         size_t bloblen, uint8_t *pt, size_t ptcap, size_t *ptlen,
                         struct kms_error *err)
{
	struct local *l = impl;
	struct buf aad = BUF_INIT(64 * 1024);
	uint8_t tmp[KMS_MAX_PLAINTEXT];
	size_t n = 0;
	int rc = -1, arc;

	if (aad_of(ctx, &aad, err))
		goto out;
	arc = aead_unwrap(l->key, blob, bloblen, aad.ptr, aad.len, tmp, sizeof(tmp), &n);
	if (arc == AEAD_EAUTH || arc == AEAD_EFORMAT || arc == AEAD_EINVAL) {
		kms_fail(err, KMS_ERR_INVALID_CIPHERTEXT, 0, NULL,
		         "local: decrypt: the blob does not open under this key and encryption "
		         "context");
		goto out;
	}
	if (arc != AEAD_OK) {
		kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "local: decrypt: %s", aead_strerror(arc));
		goto out;
	}
	if (n > ptcap) {
		kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		         "local: decrypt: %zu-byte plaintext, buffer of %zu", n, ptcap);
		goto out;
	}
	memcpy(pt, tmp, n);
	*ptlen = n;
	rc = 0;
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	buf_free(&aad);
	return rc;
}

static void local_free(void *impl)
{
	struct local *l = impl;

	if (!l)
		return;
	OPENSSL_cleanse(l, sizeof(*l));
	free(l);
}

static const struct kms_ops local_ops = {
    .name = KMS_PROVIDER_LOCAL,
    .describe = local_describe,
    .generate_data_key = local_generate,
    .encrypt = local_encrypt,
    .decrypt = local_decrypt,
    .free = local_free,
};

int kms_local_new(const uint8_t *root_key, size_t root_key_len, struct kms **out,
                  struct kms_error *err)
{
	static const char label[] = "vecward-local-key";
	static const char hexd[] = "0123456789abcdef";
	struct local *l;
	struct kms *k;
	EVP_MD_CTX *md = NULL;
	uint8_t h[32];
	unsigned int hlen = 0;

	if (!root_key || root_key_len != KMS_ROOT_KEY_LEN || !out)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "local: the root key must be exactly %d bytes", KMS_ROOT_KEY_LEN);
	l = calloc(1, sizeof(*l));
	if (!l)
		return kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "local: out of memory");
	memcpy(l->key, root_key, KMS_ROOT_KEY_LEN);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, label, sizeof(label) - 1) != 1 ||
	    EVP_DigestUpdate(md, l->key, sizeof(l->key)) != 1 ||
	    EVP_DigestFinal_ex(md, h, &hlen) != 1 || hlen != sizeof(h)) {
		EVP_MD_CTX_free(md);
		local_free(l);
		return kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "local: sha-256 failed");
	}
	EVP_MD_CTX_free(md);
	for (int i = 0; i < 8; i++) {
		l->fingerprint[2 * i] = hexd[h[i] >> 4];
		l->fingerprint[2 * i + 1] = hexd[h[i] & 15];
	}
	OPENSSL_cleanse(h, sizeof(h));
	k = kms_new_provider(&local_ops, l);
	if (!k)
		return kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "local: out of memory");
	*out = k;
	if (err)
		memset(err, 0, sizeof(*err));
	return 0;
}
