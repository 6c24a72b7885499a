/*
 * aead: AES-256-GCM with associated data, and a self-describing "wrap" format
 * for small secrets (keys) on top of it.
 *
 * Primitive: 32-byte key, 12-byte nonce, 16-byte tag, arbitrary AAD.
 * aead_seal()/aead_open() take the nonce from the caller; they are for
 * constructions that derive nonces themselves (see envelope.h). Everything
 * else should use aead_wrap()/aead_unwrap(), which draw the nonce.
 *
 * Wrap format (AEAD_WRAP_VERSION 1), for plaintexts up to AEAD_WRAP_MAX bytes:
 *
 *     version (1 byte, 0x01) | nonce (12) | ciphertext (len(plaintext)) | tag (16)
 *
 * The GCM associated data is the version byte followed by the caller's AAD, so
 * a changed version byte fails authentication like any other tampering.
 *
 * Nonces: every wrap draws a fresh 96-bit nonce from RAND_bytes. With random
 * nonces GCM stays within NIST SP 800-38D's bound (probability of any nonce
 * repeating at most 2^-32) as long as one key seals at most 2^32 messages.
 * vecward's keys wrap far fewer: a root key wraps one EZK per (cluster,
 * database, version); an EZK wraps one DEK per file it protects. Even a
 * billion files under one EZK version (2^30) keeps the collision probability
 * near 2^60 / 2^97 = 2^-37. A caller that could approach 2^32 wraps under one
 * key must rotate the key first (EncryptionKey.rotationPeriod does that).
 *
 * Secrets: nothing here keeps a copy of a key or a plaintext; OpenSSL's cipher
 * context is freed (and cleansed by OpenSSL) before returning. On a failed
 * open/unwrap the output buffer is wiped with OPENSSL_cleanse, so no
 * unauthenticated plaintext is ever left for the caller. Callers wipe the
 * plaintext they get with OPENSSL_cleanse when done.
 *
 * All functions are pure (no I/O besides the CSPRNG) and thread-safe.
 */
#ifndef VW_AEAD_H
#define VW_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN         32
#define AEAD_NONCE_LEN       12
#define AEAD_TAG_LEN         16
#define AEAD_WRAP_VERSION    1
#define AEAD_WRAP_OVERHEAD   (1 + AEAD_NONCE_LEN + AEAD_TAG_LEN)
#define AEAD_WRAP_MAX        4096 /* largest plaintext aead_wrap accepts */
#define AEAD_WRAP_LEN(ptlen) ((ptlen) + AEAD_WRAP_OVERHEAD)

enum aead_err {
	AEAD_OK = 0,
	AEAD_EINVAL = -1,  /* bad argument: NULL key, sizes out of range, short output */
	AEAD_EAUTH = -2,   /* authentication failed: tampered data, wrong key or wrong AAD */
	AEAD_EFORMAT = -3, /* a wrapped blob too short or of an unknown version */
	AEAD_ERAND = -4,   /* the CSPRNG failed */
	AEAD_ECRYPTO = -5, /* OpenSSL failed for another reason */
};

/* A short lower-case description of an aead_err. Static storage. */
const char *aead_strerror(int err);

/* Encrypt ptlen bytes of pt into ct (ptlen bytes; ct may equal pt) and write
 * the tag. aad may be NULL when aadlen is 0. The caller guarantees that
 * (key, nonce) is never used twice. 0 or an aead_err. */
int aead_seal(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const void *aad,
              size_t aadlen, const void *pt, size_t ptlen, uint8_t *ct, uint8_t tag[AEAD_TAG_LEN]);

/* Decrypt and verify ctlen bytes of ct into pt (ctlen bytes; pt may equal ct).
 * 0 when the tag matches; AEAD_EAUTH otherwise, and then pt is wiped. */
int aead_open(const uint8_t key[AEAD_KEY_LEN], const uint8_t nonce[AEAD_NONCE_LEN], const void *aad,
              size_t aadlen, const uint8_t *ct, size_t ctlen, const uint8_t tag[AEAD_TAG_LEN],
              uint8_t *pt);

/* Wrap ptlen (1..AEAD_WRAP_MAX) bytes under kek with a fresh random nonce into
 * out (outcap >= AEAD_WRAP_LEN(ptlen)); *outlen gets AEAD_WRAP_LEN(ptlen).
 * 0 or an aead_err; out and *outlen are untouched on failure. */
int aead_wrap(const uint8_t kek[AEAD_KEY_LEN], const void *pt, size_t ptlen, const void *aad,
              size_t aadlen, uint8_t *out, size_t outcap, size_t *outlen);

/* Unwrap what aead_wrap produced with the same kek and AAD into pt
 * (ptcap >= len - AEAD_WRAP_OVERHEAD); *ptlen gets the plaintext length.
 * Returns AEAD_EFORMAT for a blob too short or of another version,
 * AEAD_EAUTH for any tampering, a wrong kek or a wrong AAD (GCM can not tell
 * these apart), AEAD_EINVAL when pt is too small. pt is wiped on failure. */
int aead_unwrap(const uint8_t kek[AEAD_KEY_LEN], const void *wrapped, size_t len, const void *aad,
                size_t aadlen, uint8_t *pt, size_t ptcap, size_t *ptlen);

#endif
