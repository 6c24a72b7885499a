/*
 * envelope: the DEK-per-file encryption format for files and backups
 * ("VWENC", version 1). The byte layout, the associated data of every part
 * and what detects each kind of tampering are in docs/encryption-format.md.
 *
 * Key hierarchy (seed 002): a root key in the KMS wraps one Encryption Zone
 * Key (EZK) per (cluster, database, version); here an EZK wraps one random
 * Data Encryption Key (DEK) per file, and the DEK encrypts the file.
 *
 *   header: "VWENC" | version | chunk size | EncryptionKey name | cluster UID |
 *           database | EZK version | nonce prefix | DEK wrapped by the EZK
 *           (aead_wrap, AAD = every header byte before the wrapped DEK)
 *   body:   AES-256-GCM chunks of chunk-size plaintext bytes; the last chunk
 *           is shorter than chunk size (possibly empty) and flagged final.
 *           Chunk i: nonce = prefix || i, AAD = SHA-256(header) || i || final.
 *
 * So a changed header, a wrong EZK, reordered, duplicated, dropped or
 * truncated chunks and a missing final chunk all fail authentication.
 *
 * Streaming: only one chunk is in memory at a time. Input and output go
 * through callbacks (struct env_io) or FILE * (the _stream variants).
 *
 * Release of plaintext (decrypt): a chunk's plaintext is written only after
 * its tag verified. Chunks before a failure have been authenticated and were
 * already written, but the file as a whole is authentic only when decrypt
 * returns ENV_OK (only then is it known that no chunk is missing at the end).
 * The caller must therefore write to a temporary file and rename it into
 * place on ENV_OK only, deleting it otherwise; that is the caller's job.
 *
 * Keys: the EZK passed to encrypt, and the one the lookup callback fills, are
 * borrowed; every copy this module makes (EZK, DEK, plaintext buffers) is
 * wiped with OPENSSL_cleanse before it is freed. No function here logs.
 */
#ifndef VW_ENVELOPE_H
#define VW_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aead.h"

#define ENV_MAGIC            "VWENC"
#define ENV_MAGIC_LEN        5
#define ENV_VERSION          1
#define ENV_CHUNK_DEFAULT    (64u * 1024)
#define ENV_CHUNK_MIN        16u
#define ENV_CHUNK_MAX        (4u * 1024 * 1024)
#define ENV_FIELD_MAX        253 /* longest key name, cluster UID or database */
#define ENV_NONCE_PREFIX_LEN 8
#define ENV_DEK_LEN          32
#define ENV_WRAPPED_DEK_LEN  AEAD_WRAP_LEN(ENV_DEK_LEN)

enum env_err {
	ENV_OK = 0,
	ENV_EINVAL = -1,  /* bad argument (missing field, chunk size out of range) */
	ENV_EIO = -2,     /* the read or write callback failed */
	ENV_EFORMAT = -3, /* not a VWENC file, unknown version, malformed header */
	ENV_EKEY = -4,    /* the lookup callback had no EZK for the header's key id */
	ENV_EAUTH = -5,   /* authentication failed: wrong EZK, tampered header or chunk */
	ENV_ETRUNC = -6,  /* the input ended before the final chunk */
	ENV_ECRYPTO = -7, /* OpenSSL or the CSPRNG failed */
	ENV_ENOMEM = -8,
};

const char *env_strerror(int err);

/* Which key a file is encrypted under. Strings are borrowed. */
struct env_meta {
	const char *key_name;    /* EncryptionKey name */
	const char *cluster_uid; /* zone: the Cluster's metadata.uid */
	const char *database;    /* zone: the Milvus database */
	uint32_t ezk_version;    /* zone key version */
	uint32_t chunk_size;     /* encrypt: 0 means ENV_CHUNK_DEFAULT */
};

/* Read up to n bytes into p: the count read, 0 at the end of the input,
 * -1 on error. Short reads are fine (the caller loops). */
typedef long (*env_read_fn)(void *ctx, void *p, size_t n);
/* Write all n bytes: 0, or -1 on error. */
typedef int (*env_write_fn)(void *ctx, const void *p, size_t n);

struct env_io {
	env_read_fn read;
	void *rctx;
	env_write_fn write;
	void *wctx;
};

/*
 * Asked by decrypt for the EZK of the header's (key name, cluster UID,
 * database, version). The fields are only claims at this point (the header is
 * authenticated by the unwrap that follows): the callback must look the key
 * up by them and may refuse, e.g. a database other than the one the caller
 * is restoring. Fill ezk and return 0, or return -1 (decrypt then fails with
 * ENV_EKEY and writes nothing). chunk_size is the file's.
 */
typedef int (*env_lookup_fn)(void *ctx, const struct env_meta *claimed, uint8_t ezk[AEAD_KEY_LEN]);

/* Encrypt everything io->read yields to io->write, under a fresh random DEK
 * wrapped by ezk. 0 or an env_err; err (may be NULL) gets a lower-case reason.
 * On failure the output written so far is garbage: the caller deletes it. */
int env_encrypt(const uint8_t ezk[AEAD_KEY_LEN], const struct env_meta *meta,
                const struct env_io *io, char *err, size_t errlen);

/* Decrypt a VWENC stream: read the header, get the EZK from lookup, unwrap
 * the DEK, then verify and write chunk by chunk (see "Release of plaintext"
 * above). 0 only when every chunk up to and including the final one verified
 * and the input ended right after it. */
int env_decrypt(env_lookup_fn lookup, void *lookup_ctx, const struct env_io *io, char *err,
                size_t errlen);

/* The same on stdio streams (nothing is closed; out is flushed). */
int env_encrypt_stream(const uint8_t ezk[AEAD_KEY_LEN], const struct env_meta *meta, FILE *in,
                       FILE *out, char *err, size_t errlen);
int env_decrypt_stream(env_lookup_fn lookup, void *lookup_ctx, FILE *in, FILE *out, char *err,
                       size_t errlen);

/* Size of the VWENC encoding of plaintext_len bytes with this meta (header
 * plus chunks), for callers that preallocate or check quotas. Pure; 0 when
 * meta is invalid. */
uint64_t env_encrypted_size(const struct env_meta *meta, uint64_t plaintext_len);

#endif
