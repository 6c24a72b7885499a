#include "envelope.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* magic, version, chunk size, three length-prefixed fields, EZK version,
 * nonce prefix, wrapped DEK */
#define FIXED_LEN (ENV_MAGIC_LEN + 1 + 4)
#define HEADER_MAX                                                                                 \
	(FIXED_LEN + 3 * (2 + ENV_FIELD_MAX) + 4 + ENV_NONCE_PREFIX_LEN + ENV_WRAPPED_DEK_LEN)
#define HASH_LEN      32
#define CHUNK_AAD_LEN (HASH_LEN + 8 + 1)

const char *env_strerror(int err)
{
	switch (err) {
	case ENV_OK:
		return "ok";
	case ENV_EINVAL:
		return "invalid argument";
	case ENV_EIO:
		return "i/o error";
	case ENV_EFORMAT:
		return "not a vecward encrypted file";
	case ENV_EKEY:
		return "no zone key for this file";
	case ENV_EAUTH:
		return "authentication failed";
	case ENV_ETRUNC:
		return "truncated";
	case ENV_ECRYPTO:
		return "cipher failure";
	case ENV_ENOMEM:
		return "out of memory";
	}
	return "unknown error";
}

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read exactly n bytes unless the input ends first: the count, or -1. */
static long read_full(const struct env_io *io, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		long r = io->read(io->rctx, (uint8_t *)p + got, n - got);
		if (r < 0 || (size_t)r > n - got)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long)got;
}

static int field_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= ENV_FIELD_MAX;
}

static int meta_ok(const struct env_meta *m, uint32_t *chunk)
{
	uint32_t cs;

	if (!m || !field_ok(m->key_name) || !field_ok(m->cluster_uid) || !field_ok(m->database))
		return 0;
	cs = m->chunk_size ? m->chunk_size : ENV_CHUNK_DEFAULT;
	if (cs < ENV_CHUNK_MIN || cs > ENV_CHUNK_MAX)
		return 0;
	*chunk = cs;
	return 1;
}

static size_t put_field(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	put16(p, (uint32_t)n);
	memcpy(p + 2, s, n);
	return 2 + n;
}

/* The header up to (not including) the wrapped DEK; returns its length. */
static size_t header_prefix(uint8_t *h, const struct env_meta *m, uint32_t chunk,
                            const uint8_t prefix[ENV_NONCE_PREFIX_LEN])
{
	size_t n = 0;

	memcpy(h, ENV_MAGIC, ENV_MAGIC_LEN);
	n += ENV_MAGIC_LEN;
	h[n++] = ENV_VERSION;
	put32(h + n, chunk);
	n += 4;
	n += put_field(h + n, m->key_name);
	n += put_field(h + n, m->cluster_uid);
	n += put_field(h + n, m->database);
	put32(h + n, m->ezk_version);
	n += 4;
	memcpy(h + n, prefix, ENV_NONCE_PREFIX_LEN);
	n += ENV_NONCE_PREFIX_LEN;
	return n;
}

static int sha256(const uint8_t *p, size_t n, uint8_t out[HASH_LEN])
{
	unsigned int len = 0;
	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == HASH_LEN ? 0 : -1;
}

static void chunk_params(const uint8_t prefix[ENV_NONCE_PREFIX_LEN], const uint8_t hash[HASH_LEN],
                         uint32_t index, int final, uint8_t nonce[AEAD_NONCE_LEN],
                         uint8_t aad[CHUNK_AAD_LEN])
{
	memcpy(nonce, prefix, ENV_NONCE_PREFIX_LEN);
	put32(nonce + ENV_NONCE_PREFIX_LEN, index);
	memcpy(aad, hash, HASH_LEN);
	put32(aad + HASH_LEN, 0); /* the index as 64 bits: room for a later version */
	put32(aad + HASH_LEN + 4, index);
	aad[HASH_LEN + 8] = final ? 1 : 0;
}

uint64_t env_encrypted_size(const struct env_meta *meta, uint64_t plaintext_len)
{
	uint32_t cs;
	uint64_t hdr;

	if (!meta_ok(meta, &cs))
		return 0;
	hdr = FIXED_LEN + 6 + strlen(meta->key_name) + strlen(meta->cluster_uid) +
	      strlen(meta->database) + 4 + ENV_NONCE_PREFIX_LEN + ENV_WRAPPED_DEK_LEN;
	return hdr + plaintext_len + (uint64_t)AEAD_TAG_LEN * (plaintext_len / cs + 1);
}

int env_encrypt(const uint8_t ezk[AEAD_KEY_LEN], const struct env_meta *meta,
                const struct env_io *io, char *err, size_t errlen)
{
	uint8_t hdr[HEADER_MAX], dek[ENV_DEK_LEN], prefix[ENV_NONCE_PREFIX_LEN], hash[HASH_LEN];
	uint8_t nonce[AEAD_NONCE_LEN], aad[CHUNK_AAD_LEN];
	uint8_t *pt = NULL, *ct = NULL;
	size_t hlen, wlen = 0;
	uint32_t cs = 0;
	uint64_t index = 0;
	int rc;

	if (!ezk || !io || !io->read || !io->write)
		return fail(ENV_EINVAL, err, errlen, "encrypt: missing key or i/o callbacks");
	if (!meta_ok(meta, &cs))
		return fail(ENV_EINVAL, err, errlen,
		            "encrypt: key name, cluster uid and database must be 1..%d bytes, "
		            "chunk size %u..%u",
		            ENV_FIELD_MAX, ENV_CHUNK_MIN, ENV_CHUNK_MAX);
	pt = malloc(cs);
	ct = malloc((size_t)cs + AEAD_TAG_LEN);
	if (!pt || !ct) {
		rc = fail(ENV_ENOMEM, err, errlen, "encrypt: out of memory");
		goto out;
	}
	if (RAND_bytes(dek, sizeof(dek)) != 1 || RAND_bytes(prefix, sizeof(prefix)) != 1) {
		rc = fail(ENV_ECRYPTO, err, errlen, "encrypt: random number generator failed");
		goto out;
	}
	hlen = header_prefix(hdr, meta, cs, prefix);
	rc = aead_wrap(ezk, dek, sizeof(dek), hdr, hlen, hdr + hlen, sizeof(hdr) - hlen, &wlen);
	if (rc != AEAD_OK || wlen != ENV_WRAPPED_DEK_LEN) {
		rc =
		    fail(ENV_ECRYPTO, err, errlen, "encrypt: wrap data key: %s", aead_strerror(rc));
		goto out;
	}
	hlen += wlen;
	if (sha256(hdr, hlen, hash)) {
		rc = fail(ENV_ECRYPTO, err, errlen, "encrypt: sha-256 failed");
		goto out;
	}
	if (io->write(io->wctx, hdr, hlen)) {
		rc = fail(ENV_EIO, err, errlen, "encrypt: write header failed");
		goto out;
	}
	for (;;) {
		long n = read_full(io, pt, cs);
		int final;
		if (n < 0) {
			rc = fail(ENV_EIO, err, errlen, "encrypt: read chunk %llu failed",
			          (unsigned long long)index);
			goto out;
		}
		if (index > UINT32_MAX) {
			rc = fail(ENV_EINVAL, err, errlen,
			          "encrypt: input longer than 2^32 chunks of %u bytes", cs);
			goto out;
		}
		/* a full chunk is never the final one: the final chunk is shorter
		 * than the chunk size, empty when the input is a multiple of it */
		final = (size_t)n < cs;
		chunk_params(prefix, hash, (uint32_t)index, final, nonce, aad);
		rc = aead_seal(dek, nonce, aad, sizeof(aad), pt, (size_t)n, ct, ct + n);
		if (rc != AEAD_OK) {
			rc = fail(ENV_ECRYPTO, err, errlen, "encrypt: seal chunk %llu: %s",
			          (unsigned long long)index, aead_strerror(rc));
			goto out;
		}
		if (io->write(io->wctx, ct, (size_t)n + AEAD_TAG_LEN)) {
			rc = fail(ENV_EIO, err, errlen, "encrypt: write chunk %llu failed",
			          (unsigned long long)index);
			goto out;
		}
		if (final)
			break;
		index++;
	}
	rc = ENV_OK;
out:
	OPENSSL_cleanse(dek, sizeof(dek));
	if (pt)
		OPENSSL_cleanse(pt, cs);
	free(pt);
	free(ct);
	return rc;
}

/* Read and check the header into hdr; fill the claimed meta (strings point
 * into names) and the nonce prefix; *hlen is the whole header's length and
 * *plen that of the part before the wrapped DEK. */
static int read_header(const struct env_io *io, uint8_t hdr[HEADER_MAX], size_t *hlen, size_t *plen,
                       char names[3][ENV_FIELD_MAX + 1], struct env_meta *m,
                       uint8_t prefix[ENV_NONCE_PREFIX_LEN], char *err, size_t errlen)
{
	size_t n = 0;
	long r;

	r = read_full(io, hdr, FIXED_LEN);
	if (r < 0)
		return fail(ENV_EIO, err, errlen, "decrypt: read header failed");
	if ((size_t)r < ENV_MAGIC_LEN || memcmp(hdr, ENV_MAGIC, ENV_MAGIC_LEN) != 0)
		return fail(ENV_EFORMAT, err, errlen,
		            "decrypt: no VWENC magic: not an encrypted file");
	if ((size_t)r < FIXED_LEN)
		return fail(ENV_EFORMAT, err, errlen, "decrypt: header truncated");
	if (hdr[ENV_MAGIC_LEN] != ENV_VERSION)
		return fail(ENV_EFORMAT, err, errlen, "decrypt: unsupported format version %u",
		            hdr[ENV_MAGIC_LEN]);
	n = FIXED_LEN;
	m->chunk_size = get32(hdr + ENV_MAGIC_LEN + 1);
	if (m->chunk_size < ENV_CHUNK_MIN || m->chunk_size > ENV_CHUNK_MAX)
		return fail(ENV_EFORMAT, err, errlen, "decrypt: chunk size %u out of range",
		            m->chunk_size);
	for (int i = 0; i < 3; i++) {
		uint32_t len;
		if (read_full(io, hdr + n, 2) != 2)
			return fail(ENV_EFORMAT, err, errlen, "decrypt: header truncated");
		len = get16(hdr + n);
		n += 2;
		if (len < 1 || len > ENV_FIELD_MAX)
			return fail(ENV_EFORMAT, err, errlen,
			            "decrypt: header field of %u bytes out of range", len);
		if (read_full(io, hdr + n, len) != (long)len)
			return fail(ENV_EFORMAT, err, errlen, "decrypt: header truncated");
		if (memchr(hdr + n, '\0', len))
			return fail(ENV_EFORMAT, err, errlen, "decrypt: header field holds a NUL");
		memcpy(names[i], hdr + n, len);
		names[i][len] = '\0';
		n += len;
	}
	if (read_full(io, hdr + n, 4 + ENV_NONCE_PREFIX_LEN) != 4 + ENV_NONCE_PREFIX_LEN)
		return fail(ENV_EFORMAT, err, errlen, "decrypt: header truncated");
	m->ezk_version = get32(hdr + n);
	memcpy(prefix, hdr + n + 4, ENV_NONCE_PREFIX_LEN);
	n += 4 + ENV_NONCE_PREFIX_LEN;
	*plen = n;
	if (read_full(io, hdr + n, ENV_WRAPPED_DEK_LEN) != ENV_WRAPPED_DEK_LEN)
		return fail(ENV_EFORMAT, err, errlen, "decrypt: header truncated");
	n += ENV_WRAPPED_DEK_LEN;
	*hlen = n;
	m->key_name = names[0];
	m->cluster_uid = names[1];
	m->database = names[2];
	return ENV_OK;
}

int env_decrypt(env_lookup_fn lookup, void *lookup_ctx, const struct env_io *io, char *err,
                size_t errlen)
{
	uint8_t hdr[HEADER_MAX], ezk[AEAD_KEY_LEN], dek[ENV_DEK_LEN],
	    prefix[ENV_NONCE_PREFIX_LEN] = {0};
	uint8_t hash[HASH_LEN], nonce[AEAD_NONCE_LEN], aad[CHUNK_AAD_LEN];
	char names[3][ENV_FIELD_MAX + 1];
	struct env_meta m = {0};
	uint8_t *pt = NULL, *ct = NULL;
	size_t hlen = 0, plen = 0, deklen = 0, cs = 0;
	uint64_t index = 0;
	int rc, have_dek = 0;

	OPENSSL_cleanse(ezk, sizeof(ezk));
	if (!lookup || !io || !io->read || !io->write)
		return fail(ENV_EINVAL, err, errlen, "decrypt: missing lookup or i/o callbacks");
	rc = read_header(io, hdr, &hlen, &plen, names, &m, prefix, err, errlen);
	if (rc != ENV_OK)
		goto out;
	cs = m.chunk_size;
	if (lookup(lookup_ctx, &m, ezk) != 0) {
		rc = fail(ENV_EKEY, err, errlen,
		          "decrypt: no zone key for key %s, cluster %s, database %s, version %u",
		          m.key_name, m.cluster_uid, m.database, m.ezk_version);
		goto out;
	}
	rc =
	    aead_unwrap(ezk, hdr + plen, ENV_WRAPPED_DEK_LEN, hdr, plen, dek, sizeof(dek), &deklen);
	OPENSSL_cleanse(ezk, sizeof(ezk));
	if (rc != AEAD_OK || deklen != ENV_DEK_LEN) {
		rc = fail(ENV_EAUTH, err, errlen,
		          "decrypt: header of key %s, cluster %s, database %s, version %u does "
		          "not authenticate: wrong zone key or tampered header",
		          m.key_name, m.cluster_uid, m.database, m.ezk_version);
		goto out;
	}
	have_dek = 1;
	if (sha256(hdr, hlen, hash)) {
		rc = fail(ENV_ECRYPTO, err, errlen, "decrypt: sha-256 failed");
		goto out;
	}
	pt = malloc(cs);
	ct = malloc(cs + AEAD_TAG_LEN);
	if (!pt || !ct) {
		rc = fail(ENV_ENOMEM, err, errlen, "decrypt: out of memory");
		goto out;
	}
	for (;;) {
		long n = read_full(io, ct, cs + AEAD_TAG_LEN);
		size_t len;
		int final;
		if (n < 0) {
			rc = fail(ENV_EIO, err, errlen, "decrypt: read chunk %llu failed",
			          (unsigned long long)index);
			goto out;
		}
		if (n == 0) {
			rc = fail(ENV_ETRUNC, err, errlen,
			          "decrypt: input ends after chunk %llu without a final chunk",
			          (unsigned long long)index);
			goto out;
		}
		if ((size_t)n < AEAD_TAG_LEN) {
			rc = fail(ENV_ETRUNC, err, errlen, "decrypt: chunk %llu truncated",
			          (unsigned long long)index);
			goto out;
		}
		if (index > UINT32_MAX) {
			rc = fail(ENV_EFORMAT, err, errlen, "decrypt: more than 2^32 chunks");
			goto out;
		}
		/* a short read means the input ended: this must be the final chunk */
		final = (size_t)n < cs + AEAD_TAG_LEN;
		len = (size_t)n - AEAD_TAG_LEN;
		chunk_params(prefix, hash, (uint32_t)index, final, nonce, aad);
		rc = aead_open(dek, nonce, aad, sizeof(aad), ct, len, ct + len, pt);
		if (rc != AEAD_OK) {
			/* aead_open wiped pt: nothing of this chunk is released */
			rc = fail(ENV_EAUTH, err, errlen,
			          "decrypt: chunk %llu does not authenticate: tampered, reordered, "
			          "duplicated or truncated",
			          (unsigned long long)index);
			goto out;
		}
		if (io->write(io->wctx, pt, len)) {
			rc = fail(ENV_EIO, err, errlen, "decrypt: write chunk %llu failed",
			          (unsigned long long)index);
			goto out;
		}
		if (final)
			break;
		index++;
	}
	rc = ENV_OK;
out:
	OPENSSL_cleanse(ezk, sizeof(ezk));
	if (have_dek)
		OPENSSL_cleanse(dek, sizeof(dek));
	if (pt)
		OPENSSL_cleanse(pt, cs);
	free(pt);
	free(ct);
	return rc;
}

static long file_read(void *ctx, void *p, size_t n)
{
	FILE *f = ctx;
	size_t r = fread(p, 1, n, f);

	if (r == 0 && ferror(f))
		return -1;
	return (long)r;
}

static int file_write(void *ctx, const void *p, size_t n)
{
	FILE *f = ctx;

	if (n == 0)
		return 0;
	return fwrite(p, 1, n, f) == n ? 0 : -1;
}

int env_encrypt_stream(const uint8_t ezk[AEAD_KEY_LEN], const struct env_meta *meta, FILE *in,
                       FILE *out, char *err, size_t errlen)
{
	struct env_io io = {file_read, in, file_write, out};
	int rc;

	if (!in || !out)
		return fail(ENV_EINVAL, err, errlen, "encrypt: missing input or output");
	rc = env_encrypt(ezk, meta, &io, err, errlen);
	if (fflush(out) != 0 && rc == ENV_OK)
		rc = fail(ENV_EIO, err, errlen, "encrypt: flush output failed");
	return rc;
}

int env_decrypt_stream(env_lookup_fn lookup, void *lookup_ctx, FILE *in, FILE *out, char *err,
                       size_t errlen)
{
	struct env_io io = {file_read, in, file_write, out};
	int rc;

	if (!in || !out)
		return fail(ENV_EINVAL, err, errlen, "decrypt: missing input or output");
	rc = env_decrypt(lookup, lookup_ctx, &io, err, errlen);
	if (fflush(out) != 0 && rc == ENV_OK)
		rc = fail(ENV_EIO, err, errlen, "decrypt: flush output failed");
	return rc;
}
