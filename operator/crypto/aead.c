#include "aead.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* EVP takes int lengths: feed longer inputs in slices of this size. */
#define SLICE (1u << 30)

const char *aead_strerror(int err)
{
	switch (err) {
	case AEAD_OK:
		return "ok";
	case AEAD_EINVAL:
		return "invalid argument";
	case AEAD_EAUTH:
		return "authentication failed (tampered data, wrong key or wrong context)";
	case AEAD_EFORMAT:
		return "malformed wrapped key";
	case AEAD_ERAND:
		return "random number generator failed";
	case AEAD_ECRYPTO:
		return "cipher failure";
	}
	return "unknown error";
}

static int add_aad(EVP_CIPHER_CTX *c, const void *aad, size_t aadlen)
{
	const unsigned char *p = aad;
	int outl;

	while (aadlen) {
		size_t n = aadlen > SLICE ? SLICE : aadlen;
		if (EVP_CipherUpdate(c, NULL, &outl, p, (int)n) != 1)
			return -1;
		p += n;
		aadlen -= n;
	}
	return 0;
}

static int crypt(EVP_CIPHER_CTX *c, const uint8_t *in, size_t len, uint8_t *out)
{
	int outl;

	while (len) {
		size_t n = len > SLICE ? SLICE : len;
		if (EVP_CipherUpdate(c, out, &outl, in, (int)n) != 1 || (size_t)outl != n)
			return -1;
		in += n;
		out += n;
		len -= n;
	}
	return 0;
}

/*
 * One GCM operation; enc 1 seals (tag written), 0 opens (tag checked). The
 * associated data is pre (prelen bytes, may be 0) followed by aad: GCM treats
 * AAD as one byte stream however it is fed.
 */
static int gcm(int enc, const uint8_t *key, const uint8_t *nonce, const void *pre, size_t prelen,
               const void *aad, size_t aadlen, const uint8_t *in, size_t len, uint8_t *out,
               uint8_t tag[AEAD_TAG_LEN])
{
	EVP_CIPHER_CTX *c = NULL;
	unsigned char last[16];
	int outl = 0, rc = AEAD_ECRYPTO;

	if (!key || !nonce || !tag || (aadlen && !aad) || (len && (!in || !out)))
		return AEAD_EINVAL;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		goto out;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, AEAD_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	if (add_aad(c, pre, prelen) || add_aad(c, aad, aadlen) || crypt(c, in, len, out))
		goto out;
	if (enc) {
		if (EVP_CipherFinal_ex(c, last, &outl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, AEAD_TAG_LEN, tag) != 1)
			goto out;
	} else {
		if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, AEAD_TAG_LEN, tag) != 1)
			goto out;
		/* the final call compares the tag in constant time */
		if (EVP_CipherFinal_ex(c, last, &outl) != 1) {
			rc = AEAD_EAUTH;
			goto out;
		}
	}
	rc = AEAD_OK;
out:
	EVP_CIPHER_CTX_free(c); /* cleanses the key schedule */
	OPENSSL_cleanse(last, sizeof(last));
	if (rc != AEAD_OK && !enc && len && out)
		OPENSSL_cleanse(out, len);
	return rc;
}

int aead_seal(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const void *aad,
              size_t aadlen, const void *pt, size_t ptlen, uint8_t *ct, uint8_t tag[AEAD_TAG_LEN])
{
	return gcm(1, key, nonce, NULL, 0, aad, aadlen, pt, ptlen, ct, tag);
}

int aead_open(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const void *aad,
              size_t aadlen, const uint8_t *ct, size_t ctlen, const uint8_t tag[AEAD_TAG_LEN],
              uint8_t *pt)
{
	uint8_t t[AEAD_TAG_LEN];

	if (!tag)
		return AEAD_EINVAL;
	memcpy(t, tag, sizeof(t));
	return gcm(0, key, nonce, NULL, 0, aad, aadlen, ct, ctlen, pt, t);
}

/* The GCM AAD of a wrap is the version byte, then the caller's AAD. */
static int wrap_gcm(int enc, const uint8_t *kek, const uint8_t *nonce, uint8_t version,
                    const void *aad, size_t aadlen, const uint8_t *in, size_t len, uint8_t *out,
                    uint8_t tag[AEAD_TAG_LEN])
{
	return gcm(enc, kek, nonce, &version, 1, aad, aadlen, in, len, out, tag);
}

int aead_wrap(const uint8_t kek[AEAD_KEY_LEN], const void *pt, size_t ptlen, const void *aad,
              size_t aadlen, uint8_t *out, size_t outcap, size_t *outlen)
{
	uint8_t tmp[AEAD_WRAP_LEN(AEAD_WRAP_MAX)];
	size_t n = AEAD_WRAP_LEN(ptlen);
	int rc;

	if (!kek || !pt || !out || !outlen || ptlen == 0 || ptlen > AEAD_WRAP_MAX || outcap < n)
		return AEAD_EINVAL;
	tmp[0] = AEAD_WRAP_VERSION;
	if (RAND_bytes(tmp + 1, AEAD_NONCE_LEN) != 1)
		return AEAD_ERAND;
	rc = wrap_gcm(1, kek, tmp + 1, AEAD_WRAP_VERSION, aad, aadlen, pt, ptlen,
	              tmp + 1 + AEAD_NONCE_LEN, tmp + 1 + AEAD_NONCE_LEN + ptlen);
	if (rc == AEAD_OK) {
		memcpy(out, tmp, n);
		*outlen = n;
	}
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return rc;
}

int aead_unwrap(const uint8_t kek[AEAD_KEY_LEN], const void *wrapped, size_t len, const void *aad,
                size_t aadlen, uint8_t *pt, size_t ptcap, size_t *ptlen)
{
	const uint8_t *w = wrapped;
	uint8_t tag[AEAD_TAG_LEN];
	size_t n;
	int rc;

	if (!kek || !wrapped || !pt || !ptlen)
		return AEAD_EINVAL;
	if (len <= AEAD_WRAP_OVERHEAD || len > AEAD_WRAP_LEN(AEAD_WRAP_MAX) ||
	    w[0] != AEAD_WRAP_VERSION) {
		OPENSSL_cleanse(pt, ptcap);
		return AEAD_EFORMAT;
	}
	n = len - AEAD_WRAP_OVERHEAD;
	if (ptcap < n) {
		OPENSSL_cleanse(pt, ptcap);
		return AEAD_EINVAL;
	}
	memcpy(tag, w + 1 + AEAD_NONCE_LEN + n, AEAD_TAG_LEN);
	rc = wrap_gcm(0, kek, w + 1, w[0], aad, aadlen, w + 1 + AEAD_NONCE_LEN, n, pt, tag);
	if (rc != AEAD_OK) {
		OPENSSL_cleanse(pt, ptcap);
		return rc;
	}
	*ptlen = n;
	return AEAD_OK;
}
