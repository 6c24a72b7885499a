/*
 * kms: the root-key providers behind one interface (DESIGN.md, EncryptionKey).
 *
 *   local    a 32-byte root key the caller holds (from a Secret; development
 *            only): AES-256-GCM via aead, the encryption context as AAD.
 *   aws-kms  the AWS KMS JSON API over HTTPS, signed with SigV4 (sigv4.h).
 *
 * Encryption context: every generate/encrypt/decrypt call takes a non-empty
 * context, a small list of key/value strings kept sorted by key (use
 * kms_context_add). It is authenticated, not secret: a blob decrypts only with
 * exactly the context it was made with, which binds a wrapped zone key to its
 * cluster, database and version. A call with an empty or malformed context
 * fails with KMS_ERR_INVALID before any I/O.
 *
 * Errors: every call fills the caller's struct kms_error: a category (what a
 * reconciler acts on), the AWS error type when the service sent one, the HTTP
 * status, whether a retry may help, and a message that starts with the
 * operation ("Decrypt: ...", "local: decrypt: ..."). Messages never contain key material,
 * plaintext, ciphertext or credentials: what the service says is passed through kms_redact(), which
 * removes anything that looks like an access key id, a token or a base64
 * blob. kms_err_reason() gives the CamelCase reason for a Kubernetes
 * condition.
 *
 * Ownership: out-parameters are set only on success. Plaintext keys go to
 * caller buffers and are the caller's to wipe (OPENSSL_cleanse); every buffer
 * of this module that held one (request and response bodies, decoded base64,
 * parsed JSON, header lines with a session token) is wiped before it is
 * freed, and sized up front so that no realloc leaves a copy behind. Not
 * wiped, because not ours: libcurl's and OpenSSL's internal transfer buffers
 * (and yajl's decode buffer, used only for strings with JSON escapes, which
 * base64 from AWS does not contain).
 *
 * Threads: a struct kms may be shared; calls on one aws-kms provider are
 * serialised on its connection (a mutex), local is lock-free. kms_aws_new
 * initialises libcurl once (pthread_once), as kube_client_new does.
 */
#ifndef VW_KMS_H
#define VW_KMS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define KMS_CONTEXT_MAX     8
#define KMS_CONTEXT_STR_MAX 256  /* longest context key or value */
#define KMS_MAX_PLAINTEXT   4096 /* AWS KMS Encrypt limit */
#define KMS_MAX_DATA_KEY    1024 /* AWS KMS GenerateDataKey NumberOfBytes limit */
#define KMS_MAX_BLOB        6144 /* AWS KMS CiphertextBlob limit */
#define KMS_MAX_RESPONSE    (64u * 1024)
#define KMS_ROOT_KEY_LEN    32

#define KMS_PROVIDER_LOCAL "local"
#define KMS_PROVIDER_AWS   "aws-kms"

/* ---- errors ------------------------------------------------------------- */

enum kms_err_kind {
	KMS_OK = 0,
	KMS_ERR_UNREACHABLE,        /* network, TLS, DNS, timeouts, 5xx "unavailable" */
	KMS_ERR_THROTTLED,          /* ThrottlingException / HTTP 429 after retries */
	KMS_ERR_ACCESS_DENIED,      /* IAM / key policy / bad or expired credentials */
	KMS_ERR_KEY_DISABLED,       /* Disabled, PendingDeletion, other unusable states */
	KMS_ERR_NOT_FOUND,          /* no such key or alias */
	KMS_ERR_INVALID_CIPHERTEXT, /* tampered blob, wrong key or wrong context */
	KMS_ERR_INVALID,            /* bad request: configuration, context, sizes */
	KMS_ERR_INTERNAL,           /* the service or this client failed otherwise */
};

struct kms_error {
	enum kms_err_kind kind;
	long http;         /* HTTP status, 0 when there was no response */
	int retryable;     /* 1 when the same call may succeed later */
	int attempts;      /* HTTP attempts made (aws-kms) */
	char aws_type[64]; /* "AccessDeniedException", "" when none */
	char message[320]; /* "<operation>: <what went wrong>", redacted */
};

/* "KMSUnreachable", "KMSThrottled", "KMSAccessDenied", "KMSKeyDisabled",
 * "KMSKeyNotFound", "KMSInvalidCiphertext", "KMSInvalidRequest",
 * "KMSInternalError"; "KMSAvailable" for KMS_OK. Static storage. */
const char *kms_err_reason(enum kms_err_kind kind);
/* "KMS_ERR_KEY_DISABLED" and so on, "KMS_OK". Static storage. */
const char *kms_err_name(enum kms_err_kind kind);
/* "KMSKeyDisabled (DisabledException): <message>" into buf; returns buf. */
const char *kms_strerror(const struct kms_error *err, char *buf, size_t len);

/* Copy s into out (outlen bytes, always terminated), replacing what could be
 * a secret with "[redacted]": runs of 32 or more base64 characters
 * [A-Za-z0-9+/=] (blobs, tokens, secret keys) and access key ids (AKIA/ASIA
 * followed by 12 or more letters or digits). Everything from "The Canonical
 * String" on (AWS echoes the canonical request there) is dropped. Pure. */
void kms_redact(const char *s, char *out, size_t outlen);

/* ---- encryption context ------------------------------------------------- */

struct kms_kv {
	const char *key;
	const char *value;
};

/* Strings are borrowed; they must outlive every call the context is used in. */
struct kms_context {
	size_t n;
	struct kms_kv kv[KMS_CONTEXT_MAX];
};

void kms_context_init(struct kms_context *c);
/* Insert key=value keeping kv sorted by key (strcmp). 0, or -1 when full,
 * when key or value is empty or longer than KMS_CONTEXT_STR_MAX, or when key
 * is already present. */
int kms_context_add(struct kms_context *c, const char *key, const char *value);
/* 0 when c is non-empty, sorted by key, without duplicates and within the
 * size limits; otherwise -1 with err set (KMS_ERR_INVALID). */
int kms_context_check(const struct kms_context *c, struct kms_error *err);
/* The canonical encoding (the local provider's AAD): "vwkms1", then for
 * every pair in order a 4-byte big-endian length and the bytes of the key,
 * then the same for the value. Appended to out. 0 or -1. Pure. */
int kms_context_serialize(const struct kms_context *c, struct buf *out);

/* ---- keys --------------------------------------------------------------- */

struct kms_key_info {
	char arn[256];    /* key ARN ("local:<fingerprint>" for local) */
	char key_id[128]; /* key id (uuid), or the local fingerprint */
	char state[32];   /* "Enabled", "Disabled", "PendingDeletion", ... */
	char region[32];  /* "us-east-1", "local" */
	char usage[32];   /* "ENCRYPT_DECRYPT", ... */
	char spec[32];    /* "SYMMETRIC_DEFAULT", ... */
	int enabled;      /* the Enabled flag */
};

/* 1 when the key can wrap zone keys: Enabled, ENCRYPT_DECRYPT,
 * SYMMETRIC_DEFAULT. Pure. */
int kms_key_usable(const struct kms_key_info *ki);

/* ---- providers ---------------------------------------------------------- */

struct kms;

/* The local provider: root_key (KMS_ROOT_KEY_LEN bytes) is copied and the
 * copy wiped by kms_free. 0, or -1 with err set. */
int kms_local_new(const uint8_t *root_key, size_t root_key_len, struct kms **out,
                  struct kms_error *err);

/*
 * The aws-kms provider. key_id is a key ARN
 * (arn:<partition>:kms:<region>:<account>:key/<id>) or an alias ARN
 * (...:alias/<name>); the region comes from it. endpoint NULL means
 * https://kms.<region>.amazonaws.com (amazonaws.com.cn in aws-cn); an
 * override may be http:// only on a loopback address (test emulators).
 *
 * Credentials: access_key_id + secret_access_key (+ optional session_token)
 * when given (all copied, wiped by kms_free); otherwise "ambient": the
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN environment
 * variables, or else web identity (IRSA): AWS_WEB_IDENTITY_TOKEN_FILE and
 * AWS_ROLE_ARN exchanged with STS AssumeRoleWithWebIdentity (endpoint
 * sts_endpoint, else AWS_ENDPOINT_URL_STS, else https://sts.<region>.amazonaws.com),
 * cached until five minutes before they expire. Ambient credentials are
 * resolved on each call, so rotated ones are picked up.
 *
 * Retries: at most max_attempts HTTP attempts (default and maximum 4) within
 * timeout_ms for the whole call (default 5000), on throttling (HTTP 429,
 * ThrottlingException), 5xx and connection errors; exponential backoff from
 * backoff_base_ms (default 100) with jitter, each sleep at most 1 s. Other 4xx
 * answers are final.
 */
struct kms_aws_config {
	const char *key_id;
	const char *endpoint;
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	const char *sts_endpoint;
	long connect_timeout_ms; /* 0: 2000 */
	long timeout_ms;         /* 0: 5000 */
	int max_attempts;        /* 0: 4 */
	long backoff_base_ms;    /* 0: 100 */
};

int kms_aws_new(const struct kms_aws_config *cfg, struct kms **out, struct kms_error *err);

/* "local" or "aws-kms". */
const char *kms_provider(const struct kms *k);

/* Describe the root key: state, region, ARN, usage. */
int kms_describe(struct kms *k, struct kms_key_info *out, struct kms_error *err);

/* A new random data key of nbytes (1..KMS_MAX_DATA_KEY): its plaintext goes
 * to plaintext (nbytes bytes; the caller wipes it), the blob that decrypts
 * back to it under the same context is appended to blob. */
int kms_generate_data_key(struct kms *k, const struct kms_context *ctx, size_t nbytes,
                          uint8_t *plaintext, struct buf *blob, struct kms_error *err);

/* Encrypt ptlen (1..KMS_MAX_PLAINTEXT) bytes; the blob is appended to blob. */
int kms_encrypt(struct kms *k, const struct kms_context *ctx, const void *pt, size_t ptlen,
                struct buf *blob, struct kms_error *err);

/* Decrypt a blob made under the same root key and context into pt (ptcap
 * bytes); *ptlen gets its length. A wrong context, a blob of another key or
 * a tampered blob fail with KMS_ERR_INVALID_CIPHERTEXT. */
int kms_decrypt(struct kms *k, const struct kms_context *ctx, const void *blob, size_t bloblen,
                uint8_t *pt, size_t ptcap, size_t *ptlen, struct kms_error *err);

void kms_free(struct kms *k);

/* ---- for providers only (kms_local.c, kms_aws.c) ------------------------ */

struct kms_ops {
	const char *name;
	int (*describe)(void *impl, struct kms_key_info *out, struct kms_error *err);
	int (*generate_data_key)(void *impl, const struct kms_context *ctx, size_t nbytes,
	                         uint8_t *plaintext, struct buf *blob, struct kms_error *err);
	int (*encrypt)(void *impl, const struct kms_context *ctx, const void *pt, size_t ptlen,
	               struct buf *blob, struct kms_error *err);
	int (*decrypt)(void *impl, const struct kms_context *ctx, const void *blob, size_t bloblen,
	               uint8_t *pt, size_t ptcap, size_t *ptlen, struct kms_error *err);
	void (*free)(void *impl);
};

/* Wrap a provider's state; on failure ops->free(impl) is called. */
struct kms *kms_new_provider(const struct kms_ops *ops, void *impl);
/* Fill err; the formatted message goes through kms_redact(). -1, always. */
int kms_fail(struct kms_error *err, enum kms_err_kind kind, long http, const char *aws_type,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- aws-kms request and response handling, pure (for tests and fuzzing) */

enum kms_aws_op {
	KMS_AWS_DESCRIBE_KEY,
	KMS_AWS_GENERATE_DATA_KEY,
	KMS_AWS_ENCRYPT,
	KMS_AWS_DECRYPT,
};

/* "TrentService.DescribeKey" etc. (the X-Amz-Target header value). */
const char *kms_aws_target(enum kms_aws_op op);
/* "DescribeKey" etc. */
const char *kms_aws_op_name(enum kms_aws_op op);

/* The region of a key or alias ARN into region (len bytes). 0, or -1 with
 * err set (KMS_ERR_INVALID) when arn is not a KMS key/alias ARN. */
int kms_aws_parse_arn(const char *arn, char *region, size_t len, struct kms_error *err);

struct kms_aws_call {
	enum kms_aws_op op;
	const char *key_id;
	const struct kms_context *ctx; /* not for DescribeKey */
	size_t nbytes;                 /* GenerateDataKey */
	const void *data;              /* Encrypt: plaintext; Decrypt: blob */
	size_t len;
};

/* The JSON request body of a call, appended to body (which the caller frees
 * with buf_free_secret: an Encrypt body holds the plaintext). 0 or -1. */
int kms_aws_request_body(const struct kms_aws_call *c, struct buf *body, struct kms_error *err);

/*
 * The headers of a signed request, appended to hdrs as NUL-terminated
 * "Name: value" lines one after another (count in *nhdrs): Host,
 * Content-Type, X-Amz-Target, X-Amz-Date, optional X-Amz-Security-Token and
 * Authorization. host is what the Host header says ("kms.us-east-1.amazonaws.com",
 * "127.0.0.1:4566"); amz_date as sigv4_format_date. The caller wipes hdrs
 * (buf_free_secret): it holds the session token. 0 or -1.
 */
int kms_aws_signed_headers(enum kms_aws_op op, const char *host, const char *region,
                           const char *access_key_id, const char *secret_access_key,
                           const char *session_token, const char *amz_date, const void *body,
                           size_t body_len, struct buf *hdrs, size_t *nhdrs);

/* Classify a non-2xx answer (body may be NULL): kind, aws_type, retryable,
 * and a redacted message "<op>: <service message>". */
void kms_aws_error_from_response(enum kms_aws_op op, long http, const char *body, size_t len,
                                 struct kms_error *err);

/* Parse a 2xx body. The plaintext (GenerateDataKey, Decrypt) is decoded into
 * the caller's buffer and wiped from every intermediate buffer. */
int kms_aws_parse_describe(const char *body, size_t len, struct kms_key_info *out,
                           struct kms_error *err);
int kms_aws_parse_data_key(const char *body, size_t len, uint8_t *plaintext, size_t nbytes,
                           struct buf *blob, struct kms_error *err);
int kms_aws_parse_encrypt(const char *body, size_t len, struct buf *blob, struct kms_error *err);
int kms_aws_parse_decrypt(const char *body, size_t len, uint8_t *pt, size_t ptcap, size_t *ptlen,
                          struct kms_error *err);

/* The sleep before retry number `retry` (1 = after the first attempt):
 * base * 2^(retry-1) capped at cap_ms, then "equal jitter": half of it plus
 * rnd modulo the other half. Pure. */
long kms_aws_backoff_ms(int retry, long base_ms, long cap_ms, uint32_t rnd);

/* From an AssumeRoleWithWebIdentity XML answer: the three credential strings
 * (new allocations: release them with kms_aws_creds_clear) and the expiry as
 * a Unix time. 0, or -1 with err set (out untouched). Pure. */
struct kms_aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;
	long long expires; /* Unix seconds, 0 when they do not expire */
};
int kms_aws_parse_sts(const char *body, size_t len, struct kms_aws_creds *out,
                      struct kms_error *err);
/* Wipe and free the strings of c (c itself is the caller's). */
void kms_aws_creds_clear(struct kms_aws_creds *c);

#endif
