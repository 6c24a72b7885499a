/*
 * The "aws-kms" provider: the AWS KMS JSON API (POST / with X-Amz-Target
 * TrentService.<Operation>, application/x-amz-json-1.1), signed with SigV4.
 *
 * The request and response handling is pure (kms_aws_* in kms.h) so that the
 * unit tests and fuzzers reach it without a network; this file adds the HTTP
 * transport (libcurl), credential resolution (static, environment, web
 * identity through STS) and the bounded retry loop.
 *
 * Wiping: the response sink is allocated once at its cap (no realloc leaves
 * copies behind) and wiped after every attempt; request bodies, decoded
 * base64 and parsed trees that held a plaintext or a credential are wiped
 * before they are freed.
 */
#include "kms.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "json.h"
#include "sigv4.h"
#include "util.h"

#ifndef VECWARD_VERSION
#define VECWARD_VERSION "dev"
#endif

#define CONTENT_TYPE   "application/x-amz-json-1.1"
#define MAX_ATTEMPTS   4
#define DEF_CONNECT_MS 2000L
#define DEF_TIMEOUT_MS 5000L
#define DEF_BASE_MS    100L
#define MAX_SLEEP_MS   1000L
#define BODY_MAX       (16u * 1024)
#define JSON_DEPTH     16
#define STS_VERSION    "2011-06-15"
#define STS_DURATION_S 3600
#define STS_REFRESH_S  300
#define TOKEN_FILE_MAX (16u * 1024)

/* ---- small helpers ------------------------------------------------------ */

/* Grow b's allocation to hold n bytes without ever copying contents, so that
 * a secret added afterwards is never left behind by a realloc. */
static int buf_reserve(struct buf *b, size_t n)
{
	static const char zeros[256];

	buf_reset(b);
	while (b->len < n) {
		size_t k = n - b->len < sizeof(zeros) ? n - b->len : sizeof(zeros);
		if (buf_add(b, zeros, k))
			return -1;
	}
	buf_reset(b);
	return 0;
}

static int json_str_add(struct buf *b, const char *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	if (buf_addc(b, '"'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			if (buf_add(b, e, 2))
				return -1;
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hx[c >> 4], hx[c & 15]};
			if (buf_add(b, e, 6))
				return -1;
		} else if (buf_addc(b, (char)c)) {
			return -1;
		}
	}
	return buf_addc(b, '"');
}

static int jstr(struct buf *b, const char *s)
{
	return json_str_add(b, s, strlen(s));
}

/* ---- names and ARNs ----------------------------------------------------- */

const char *kms_aws_target(enum kms_aws_op op)
{
	switch (op) {
	case KMS_AWS_DESCRIBE_KEY:
		return "TrentService.DescribeKey";
	case KMS_AWS_GENERATE_DATA_KEY:
		return "TrentService.GenerateDataKey";
	case KMS_AWS_ENCRYPT:
		return "TrentService.Encrypt";
	case KMS_AWS_DECRYPT:
		return "TrentService.Decrypt";
	}
	return "";
}

const char *kms_aws_op_name(enum kms_aws_op op)
{
	switch (op) {
	case KMS_AWS_DESCRIBE_KEY:
		return "DescribeKey";
	case KMS_AWS_GENERATE_DATA_KEY:
		return "GenerateDataKey";
	case KMS_AWS_ENCRYPT:
		return "Encrypt";
	case KMS_AWS_DECRYPT:
		return "Decrypt";
	}
	return "";
}

/* Split an ARN "arn:partition:kms:region:account:resource" into its parts.
 * 0 or -1. */
static int split_arn(const char *arn, char *partition, size_t plen, char *region, size_t rlen)
{
	const char *f[6];
	size_t fl[6];
	const char *p = arn;

	if (!arn)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *c = i < 5 ? strchr(p, ':') : p + strlen(p);
		if (!c)
			return -1;
		f[i] = p;
		fl[i] = (size_t)(c - p);
		p = c + (i < 5 ? 1 : 0);
	}
	if (fl[0] != 3 || strncmp(f[0], "arn", 3) || fl[2] != 3 || strncmp(f[2], "kms", 3))
		return -1;
	if (fl[1] < 3 || fl[1] >= plen || fl[3] < 1 || fl[3] >= rlen || fl[4] != 12)
		return -1;
	for (size_t i = 0; i < fl[1]; i++)
		if (!islower((unsigned char)f[1][i]) && f[1][i] != '-')
			return -1;
	for (size_t i = 0; i < fl[3]; i++)
		if (!islower((unsigned char)f[3][i]) && !isdigit((unsigned char)f[3][i]) &&
		    f[3][i] != '-')
			return -1;
	for (size_t i = 0; i < 12; i++)
		if (!isdigit((unsigned char)f[4][i]))
			return -1;
	/* resource: key/<id> or alias/<name> */
	{
		const char *r = f[5];
		size_t skip;
		if (!strncmp(r, "key/", 4))
			skip = 4;
		else if (!strncmp(r, "alias/", 6))
			skip = 6;
		else
			return -1;
		if (fl[5] <= skip || fl[5] > 256)
			return -1;
		for (size_t i = skip; i < fl[5]; i++) {
			unsigned char c = (unsigned char)r[i];
			if (!isalnum(c) && c != '-' && c != '_' && c != '/')
				return -1;
		}
	}
	memcpy(partition, f[1], fl[1]);
	partition[fl[1]] = '\0';
	memcpy(region, f[3], fl[3]);
	region[fl[3]] = '\0';
	return 0;
}

int kms_aws_parse_arn(const char *arn, char *region, size_t len, struct kms_error *err)
{
	char part[32], reg[64];

	if (split_arn(arn, part, sizeof(part), reg, sizeof(reg)) || strlen(reg) >= len)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "key id %s is not a kms key or alias arn "
		                "(arn:aws:kms:<region>:<account>:key/<id>)",
		                arn ? arn : "(none)");
	memcpy(region, reg, strlen(reg) + 1);
	return 0;
}

/* ---- request bodies ----------------------------------------------------- */

static int add_context(struct buf *b, const struct kms_context *ctx)
{
	if (buf_adds(b, ",\"EncryptionContext\":{"))
		return -1;
	for (size_t i = 0; i < ctx->n; i++)
		if ((i && buf_addc(b, ',')) || jstr(b, ctx->kv[i].key) || buf_addc(b, ':') ||
		    jstr(b, ctx->kv[i].value))
			return -1;
	return buf_addc(b, '}');
}

int kms_aws_request_body(const struct kms_aws_call *c, struct buf *body, struct kms_error *err)
{
	struct buf b = BUF_INIT(BODY_MAX), enc = BUF_INIT(BODY_MAX);
	int rc = -1;

	if (!c || !c->key_id || !*c->key_id || !body)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL, "request: missing key id");
	if (c->op != KMS_AWS_DESCRIBE_KEY && kms_context_check(c->ctx, err))
		return -1;
	if ((c->op == KMS_AWS_ENCRYPT || c->op == KMS_AWS_DECRYPT) &&
	    (!c->data || c->len == 0 ||
	     c->len > (c->op == KMS_AWS_ENCRYPT ? KMS_MAX_PLAINTEXT : KMS_MAX_BLOB)))
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL, "%s: %zu bytes of input",
		                kms_aws_op_name(c->op), c->len);
	if (c->op == KMS_AWS_GENERATE_DATA_KEY && (c->nbytes < 1 || c->nbytes > KMS_MAX_DATA_KEY))
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL, "GenerateDataKey: %zu bytes",
		                c->nbytes);
	/* reserve both: an Encrypt body holds the plaintext in base64 */
	if (buf_reserve(&b, BODY_MAX / 2) || buf_reserve(&enc, BODY_MAX / 2))
		goto oom;
	if (buf_adds(&b, "{\"KeyId\":") || jstr(&b, c->key_id))
		goto oom;
	switch (c->op) {
	case KMS_AWS_DESCRIBE_KEY:
		break;
	case KMS_AWS_GENERATE_DATA_KEY:
		if (buf_printf(&b, ",\"NumberOfBytes\":%zu", c->nbytes) || add_context(&b, c->ctx))
			goto oom;
		break;
	case KMS_AWS_ENCRYPT:
	case KMS_AWS_DECRYPT:
		if (b64_encode(c->data, c->len, &enc) ||
		    buf_adds(&b, c->op == KMS_AWS_ENCRYPT ? ",\"Plaintext\":"
		                                          : ",\"CiphertextBlob\":") ||
		    json_str_add(&b, enc.ptr, enc.len) || add_context(&b, c->ctx))
			goto oom;
		break;
	}
	if (buf_addc(&b, '}'))
		goto oom;
	if (buf_add(body, b.ptr, b.len)) {
		kms_fail(err, KMS_ERR_INVALID, 0, NULL, "%s: request body buffer too small",
		         kms_aws_op_name(c->op));
		goto out;
	}
	rc = 0;
	goto out;
oom:
	kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "%s: request body too large or out of memory",
	         kms_aws_op_name(c->op));
out:
	buf_free_secret(&b);
	buf_free_secret(&enc);
	return rc;
}

int kms_aws_signed_headers(enum kms_aws_op op, const char *host, const char *region,
                           const char *access_key_id, const char *secret_access_key,
                           const char *session_token, const char *amz_date, const void *body,
                           size_t body_len, struct buf *hdrs, size_t *nhdrs)
{
	struct sigv4_header h[3] = {
	    {"Host", host},
	    {"Content-Type", CONTENT_TYPE},
	    {"X-Amz-Target", kms_aws_target(op)},
	};
	struct sigv4_request r = {"POST", "/", NULL, h, 3, body, body_len};
	struct sigv4_credentials cr = {access_key_id, secret_access_key, session_token};
	struct buf auth = BUF_INIT(4096), out = BUF_INIT(64 * 1024);
	size_t n = 0;
	int rc = -1;

	if (!host || !*host || !hdrs || !nhdrs)
		return -1;
	/* no realloc may leave a copy of the session token behind */
	if (buf_reserve(&out, 16 * 1024))
		goto out;
	if (sigv4_sign(&r, &cr, region, "kms", amz_date, &auth, NULL, NULL))
		goto out;
#define LINE(...)                                                                                  \
	do {                                                                                       \
		if (buf_printf(&out, __VA_ARGS__) || buf_add(&out, "", 1))                         \
			goto out;                                                                  \
		n++;                                                                               \
	} while (0)
	LINE("Host: %s", host);
	LINE("Content-Type: %s", CONTENT_TYPE);
	LINE("X-Amz-Target: %s", kms_aws_target(op));
	LINE("X-Amz-Date: %s", amz_date);
	if (session_token && *session_token)
		LINE("X-Amz-Security-Token: %s", session_token);
	LINE("Authorization: %s", auth.ptr);
#undef LINE
	if (buf_add(hdrs, out.ptr, out.len))
		goto out;
	*nhdrs = n;
	rc = 0;
out:
	buf_free(&auth);
	buf_free_secret(&out);
	return rc;
}

/* ---- responses ---------------------------------------------------------- */

struct type_map {
	const char *type;
	enum kms_err_kind kind;
	int retryable;
};

static const struct type_map types[] = {
    {"ThrottlingException", KMS_ERR_THROTTLED, 1},
    {"Throttling", KMS_ERR_THROTTLED, 1},
    {"RequestLimitExceeded", KMS_ERR_THROTTLED, 1},
    {"TooManyRequestsException", KMS_ERR_THROTTLED, 1},
    {"AccessDeniedException", KMS_ERR_ACCESS_DENIED, 0},
    {"AccessDenied", KMS_ERR_ACCESS_DENIED, 0},
    {"UnrecognizedClientException", KMS_ERR_ACCESS_DENIED, 0},
    {"InvalidSignatureException", KMS_ERR_ACCESS_DENIED, 0},
    {"SignatureDoesNotMatch", KMS_ERR_ACCESS_DENIED, 0},
    {"IncompleteSignature", KMS_ERR_ACCESS_DENIED, 0},
    {"IncompleteSignatureException", KMS_ERR_ACCESS_DENIED, 0},
    {"MissingAuthenticationToken", KMS_ERR_ACCESS_DENIED, 0},
    {"MissingAuthenticationTokenException", KMS_ERR_ACCESS_DENIED, 0},
    {"ExpiredTokenException", KMS_ERR_ACCESS_DENIED, 0},
    {"ExpiredToken", KMS_ERR_ACCESS_DENIED, 0},
    {"InvalidClientTokenId", KMS_ERR_ACCESS_DENIED, 0},
    {"InvalidIdentityToken", KMS_ERR_ACCESS_DENIED, 0},
    {"NotAuthorized", KMS_ERR_ACCESS_DENIED, 0},
    {"DisabledException", KMS_ERR_KEY_DISABLED, 0},
    {"KMSInvalidStateException", KMS_ERR_KEY_DISABLED, 0},
    {"NotFoundException", KMS_ERR_NOT_FOUND, 0},
    {"InvalidCiphertextException", KMS_ERR_INVALID_CIPHERTEXT, 0},
    {"IncorrectKeyException", KMS_ERR_INVALID_CIPHERTEXT, 0},
    {"KeyUnavailableException", KMS_ERR_UNREACHABLE, 1},
    {"DependencyTimeoutException", KMS_ERR_UNREACHABLE, 1},
    {"ServiceUnavailable", KMS_ERR_UNREACHABLE, 1},
    {"ServiceUnavailableException", KMS_ERR_UNREACHABLE, 1},
    {"KMSInternalException", KMS_ERR_INTERNAL, 1},
    {"InternalFailure", KMS_ERR_INTERNAL, 1},
    {"InternalServerError", KMS_ERR_INTERNAL, 1},
    {"ValidationException", KMS_ERR_INVALID, 0},
    {"InvalidKeyUsageException", KMS_ERR_INVALID, 0},
    {"InvalidArnException", KMS_ERR_INVALID, 0},
    {"InvalidGrantTokenException", KMS_ERR_INVALID, 0},
    {"SerializationException", KMS_ERR_INVALID, 0},
    {"UnsupportedOperationException", KMS_ERR_INVALID, 0},
    {"LimitExceededException", KMS_ERR_INVALID, 0},
};

/* "com.amazonaws.kms#NotFoundException" or "NotFoundException:http://..."
 * to "NotFoundException" in out. */
static void short_type(const char *t, char *out, size_t len)
{
	const char *h = strrchr(t, '#');
	size_t n;

	if (h)
		t = h + 1;
	n = strcspn(t, ":");
	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = isalnum((unsigned char)t[i]) || t[i] == '.' || t[i] == '_' ? t[i] : '_';
	out[n] = '\0';
}

static void classify(enum kms_aws_op op, long http, const char *type, const char *msg,
                     struct kms_error *err)
{
	enum kms_err_kind kind;
	int retry = 0, known = 0;

	for (size_t i = 0; type && *type && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i].type, type)) {
			kind = types[i].kind;
			retry = types[i].retryable;
			known = 1;
			break;
		}
	if (!known) {
		if (http == 429) {
			kind = KMS_ERR_THROTTLED;
			retry = 1;
		} else if (http >= 500) {
			kind = http == 502 || http == 503 || http == 504 ? KMS_ERR_UNREACHABLE
			                                                 : KMS_ERR_INTERNAL;
			retry = 1;
		} else if (http == 401 || http == 403) {
			kind = KMS_ERR_ACCESS_DENIED;
		} else if (http == 404) {
			kind = KMS_ERR_NOT_FOUND;
		} else if (http >= 400) {
			kind = KMS_ERR_INVALID;
		} else {
			kind = KMS_ERR_INTERNAL;
		}
	}
	if (http >= 500 || http == 429)
		retry = 1;
	if (!err)
		return;
	if (msg && *msg)
		kms_fail(err, kind, http, type && *type ? type : NULL, "%s: %s",
		         kms_aws_op_name(op), msg);
	else
		kms_fail(err, kind, http, type && *type ? type : NULL, "%s: http %ld",
		         kms_aws_op_name(op), http);
	err->retryable = retry;
}

void kms_aws_error_from_response(enum kms_aws_op op, long http, const char *body, size_t len,
                                 struct kms_error *err)
{
	yajl_val v = NULL;
	char type[64] = "";
	const char *t = NULL, *m = NULL;

	if (body && len && json_parse(body, len, JSON_DEPTH, KMS_MAX_RESPONSE, &v, NULL, 0) == 0) {
		t = json_get_str(v, "__type", NULL);
		if (!t)
			t = json_get_str(v, "code", NULL);
		m = json_get_str(v, "message", NULL);
		if (!m)
			m = json_get_str(v, "Message", NULL);
	}
	if (t)
		short_type(t, type, sizeof(type));
	classify(op, http, type, m, err);
	if (v)
		json_free_secret(v);
}

static int bad_response(enum kms_aws_op op, const char *what, struct kms_error *err)
{
	return kms_fail(err, KMS_ERR_INTERNAL, 200, NULL, "%s: malformed response: %s",
	                kms_aws_op_name(op), what);
}

static int parse_body(enum kms_aws_op op, const char *body, size_t len, yajl_val *out,
                      struct kms_error *err)
{
	if (!body || !len ||
	    json_parse(body, len, JSON_DEPTH, KMS_MAX_RESPONSE, out, NULL, 0) != JSON_OK)
		return bad_response(op, "not json", err);
	if (!YAJL_IS_OBJECT(*out)) {
		json_free_secret(*out);
		*out = NULL;
		return bad_response(op, "not an object", err);
	}
	return 0;
}

static void copy_str(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

int kms_aws_parse_describe(const char *body, size_t len, struct kms_key_info *out,
                           struct kms_error *err)
{
	struct kms_key_info ki;
	yajl_val v = NULL, md;
	const char *arn, *state, *spec;
	int rc = -1;

	if (parse_body(KMS_AWS_DESCRIBE_KEY, body, len, &v, err))
		return -1;
	md = json_get(v, "KeyMetadata", NULL);
	arn = json_get_str(md, "Arn", NULL);
	state = json_get_str(md, "KeyState", NULL);
	if (!md || !arn || !arn[0] || !state || !state[0]) {
		bad_response(KMS_AWS_DESCRIBE_KEY, "no KeyMetadata.Arn or KeyState", err);
		goto out;
	}
	memset(&ki, 0, sizeof(ki));
	copy_str(ki.arn, sizeof(ki.arn), arn);
	copy_str(ki.key_id, sizeof(ki.key_id), json_get_str(md, "KeyId", NULL));
	copy_str(ki.state, sizeof(ki.state), state);
	copy_str(ki.usage, sizeof(ki.usage), json_get_str(md, "KeyUsage", NULL));
	spec = json_get_str(md, "KeySpec", NULL);
	if (!spec)
		spec = json_get_str(md, "CustomerMasterKeySpec", NULL);
	copy_str(ki.spec, sizeof(ki.spec), spec);
	ki.enabled = json_get_bool(md, 0, "Enabled", NULL);
	if (kms_aws_parse_arn(arn, ki.region, sizeof(ki.region), NULL))
		copy_str(ki.region, sizeof(ki.region), "");
	*out = ki;
	rc = 0;
out:
	json_free_secret(v);
	return rc;
}

/* Decode the base64 string at key into out (reserved first, wiped on error). */
static int b64_field(enum kms_aws_op op, yajl_val v, const char *key, size_t max, struct buf *out,
                     struct kms_error *err)
{
	const char *s = json_get_str(v, key, NULL);
	size_t n;

	if (!s)
		return kms_fail(err, KMS_ERR_INTERNAL, 200, NULL, "%s: malformed response: no %s",
		                kms_aws_op_name(op), key);
	n = strlen(s);
	if (n / 4 * 3 > max + 3)
		return kms_fail(err, KMS_ERR_INTERNAL, 200, NULL,
		                "%s: malformed response: %s longer than %zu bytes",
		                kms_aws_op_name(op), key, max);
	if (buf_reserve(out, n / 4 * 3 + 4) || b64_decode(s, n, out) || out->len > max) {
		buf_free_secret(out);
		return kms_fail(err, KMS_ERR_INTERNAL, 200, NULL,
		                "%s: malformed response: %s is not base64 of 1..%zu bytes",
		                kms_aws_op_name(op), key, max);
	}
	if (out->len == 0) {
		buf_free_secret(out);
		return kms_fail(err, KMS_ERR_INTERNAL, 200, NULL,
		                "%s: malformed response: empty %s", kms_aws_op_name(op), key);
	}
	return 0;
}

int kms_aws_parse_data_key(const char *body, size_t len, uint8_t *plaintext, size_t nbytes,
                           struct buf *blob, struct kms_error *err)
{
	struct buf pt = BUF_INIT(KMS_MAX_DATA_KEY), ct = BUF_INIT(KMS_MAX_BLOB);
	yajl_val v = NULL;
	int rc = -1;

	if (parse_body(KMS_AWS_GENERATE_DATA_KEY, body, len, &v, err))
		return -1;
	if (b64_field(KMS_AWS_GENERATE_DATA_KEY, v, "CiphertextBlob", KMS_MAX_BLOB, &ct, err) ||
	    b64_field(KMS_AWS_GENERATE_DATA_KEY, v, "Plaintext", KMS_MAX_DATA_KEY, &pt, err))
		goto out;
	if (pt.len != nbytes) {
		bad_response(KMS_AWS_GENERATE_DATA_KEY, "data key of another length", err);
		goto out;
	}
	if (buf_add(blob, ct.ptr, ct.len)) {
		kms_fail(err, KMS_ERR_INVALID, 0, NULL, "GenerateDataKey: blob buffer too small");
		goto out;
	}
	memcpy(plaintext, pt.ptr, nbytes);
	rc = 0;
out:
	buf_free_secret(&pt);
	buf_free(&ct);
	json_free_secret(v);
	return rc;
}

int kms_aws_parse_encrypt(const char *body, size_t len, struct buf *blob, struct kms_error *err)
{
	struct buf ct = BUF_INIT(KMS_MAX_BLOB);
	yajl_val v = NULL;
	int rc = -1;

	if (parse_body(KMS_AWS_ENCRYPT, body, len, &v, err))
		return -1;
	if (b64_field(KMS_AWS_ENCRYPT, v, "CiphertextBlob", KMS_MAX_BLOB, &ct, err))
		goto out;
	if (buf_add(blob, ct.ptr, ct.len)) {
		kms_fail(err, KMS_ERR_INVALID, 0, NULL, "Encrypt: blob buffer too small");
		goto out;
	}
	rc = 0;
out:
	buf_free(&ct);
	json_free_secret(v);
	return rc;
}

int kms_aws_parse_decrypt(const char *body, size_t len, uint8_t *pt, size_t ptcap, size_t *ptlen,
                          struct kms_error *err)
{
	struct buf p = BUF_INIT(KMS_MAX_PLAINTEXT);
	yajl_val v = NULL;
	int rc = -1;

	if (parse_body(KMS_AWS_DECRYPT, body, len, &v, err))
		return -1;
	if (b64_field(KMS_AWS_DECRYPT, v, "Plaintext", KMS_MAX_PLAINTEXT, &p, err))
		goto out;
	if (p.len > ptcap) {
		kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		         "Decrypt: %zu-byte plaintext, buffer of %zu", p.len, ptcap);
		goto out;
	}
	memcpy(pt, p.ptr, p.len);
	*ptlen = p.len;
	rc = 0;
out:
	buf_free_secret(&p);
	json_free_secret(v);
	return rc;
}

long kms_aws_backoff_ms(int retry, long base_ms, long cap_ms, uint32_t rnd)
{
	long d = base_ms > 0 ? base_ms : DEF_BASE_MS, half;

	for (int i = 1; i < retry && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	half = d / 2;
	return half + (half > 0 ? (long)(rnd % (uint32_t)(d - half + 1)) : 0);
}

/* ---- STS web identity, pure part ---------------------------------------- */

/* The text of the first <tag>...</tag> in s[0..len), XML entities decoded,
 * as a new string; NULL when absent. */
static char *xml_text(const char *s, size_t len, const char *tag)
{
	char open[64], close[64];
	const char *a, *b, *end = s + len;
	struct buf out = BUF_INIT(TOKEN_FILE_MAX);

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = memmem(s, len, open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b)
		return NULL;
	if (buf_reserve(&out, (size_t)(b - a) + 1))
		return NULL;
	while (a < b) {
		static const struct {
			const char *e;
			char c;
		} ents[] = {{"&amp;", '&'},
		            {"&lt;", '<'},
		            {"&gt;", '>'},
		            {"&quot;", '"'},
		            {"&apos;", '\''}};
		char c = *a;
		size_t adv = 1;
		if (c == '&')
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t el = strlen(ents[i].e);
				if ((size_t)(b - a) >= el && !memcmp(a, ents[i].e, el)) {
					c = ents[i].c;
					adv = el;
					break;
				}
			}
		if (buf_addc(&out, c)) {
			buf_free_secret(&out);
			return NULL;
		}
		a += adv;
	}
	return buf_take(&out);
}

static void free_secret_str(char **s)
{
	if (*s) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void kms_aws_creds_clear(struct kms_aws_creds *c)
{
	if (!c)
		return;
	free_secret_str(&c->access_key_id);
	free_secret_str(&c->secret_access_key);
	free_secret_str(&c->session_token);
	c->expires = 0;
}

/* "2015-08-30T12:36:00Z" or with fractional seconds; -1 when malformed. */
static long long parse_iso8601(const char *s)
{
	struct tm tm;
	const char *e;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!e)
		return -1;
	if (*e == '.')
		for (e++; isdigit((unsigned char)*e); e++)
			;
	if (*e != 'Z' && strcmp(e, "+00:00") != 0)
		return -1;
	return (long long)timegm(&tm);
}

int kms_aws_parse_sts(const char *body, size_t len, struct kms_aws_creds *out,
                      struct kms_error *err)
{
	struct kms_aws_creds c = {0};
	char *exp = NULL;
	int rc = -1;

	if (!body || !out)
		return kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "sts: empty response");
	c.access_key_id = xml_text(body, len, "AccessKeyId");
	c.secret_access_key = xml_text(body, len, "SecretAccessKey");
	c.session_token = xml_text(body, len, "SessionToken");
	exp = xml_text(body, len, "Expiration");
	if (!c.access_key_id || !*c.access_key_id || !c.secret_access_key ||
	    !*c.secret_access_key || !c.session_token || !*c.session_token) {
		kms_fail(err, KMS_ERR_INTERNAL, 200, NULL,
		         "sts AssumeRoleWithWebIdentity: malformed response: no credentials");
		goto out;
	}
	c.expires = exp ? parse_iso8601(exp) : 0;
	if (c.expires < 0) {
		kms_fail(err, KMS_ERR_INTERNAL, 200, NULL,
		         "sts AssumeRoleWithWebIdentity: malformed response: bad Expiration");
		goto out;
	}
	*out = c;
	memset(&c, 0, sizeof(c));
	rc = 0;
out:
	kms_aws_creds_clear(&c);
	free(exp);
	return rc;
}

/* ---- the provider ------------------------------------------------------- */

struct aws {
	pthread_mutex_t mu;
	CURL *curl;
	char *key_id;
	char region[64];
	char partition[32];
	char *url;  /* endpoint URL */
	char *host; /* its authority: the Host header */
	int plain_http;
	char *sts_url;              /* NULL: derive at use */
	struct kms_aws_creds fixed; /* static credentials, or all NULL */
	struct kms_aws_creds sts;   /* web identity cache */
	long connect_ms, timeout_ms, base_ms;
	int max_attempts;
	char *resp;      /* KMS_MAX_RESPONSE + 1 bytes, allocated once */
	size_t resp_len; /* bytes received in the current attempt */
	int overflow;
};

static size_t sink(char *p, size_t size, size_t nmemb, void *ud)
{
	struct aws *a = ud;
	size_t n = size * nmemb;

	if (n > KMS_MAX_RESPONSE - a->resp_len) {
		a->overflow = 1;
		return 0;
	}
	memcpy(a->resp + a->resp_len, p, n);
	a->resp_len += n;
	a->resp[a->resp_len] = '\0';
	return n;
}

static void wipe_resp(struct aws *a)
{
	OPENSSL_cleanse(a->resp, a->resp_len + 1);
	a->resp_len = 0;
	a->overflow = 0;
}

static int loopback_host(const char *h, size_t n)
{
	return (n >= 4 && !strncmp(h, "127.", 4)) || (n == 9 && !strncmp(h, "localhost", 9)) ||
	       (n == 5 && !strncmp(h, "[::1]", 5));
}

/* Check an endpoint URL: https://authority[/] or http:// on loopback. The
 * authority (host[:port]) goes to *host (new string). 0 or -1. */
static int parse_endpoint(const char *url, char **host, int *plain, struct kms_error *err)
{
	const char *a, *slash;
	size_t n, hn;

	if (!strncmp(url, "https://", 8)) {
		a = url + 8;
		*plain = 0;
	} else if (!strncmp(url, "http://", 7)) {
		a = url + 7;
		*plain = 1;
	} else {
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "endpoint %s: must be an https:// url", url);
	}
	slash = strchr(a, '/');
	n = slash ? (size_t)(slash - a) : strlen(a);
	if (n == 0 || n > 253 || (slash && strcmp(slash, "/") != 0) || memchr(a, '@', n) ||
	    strpbrk(url, " \t\r\n?#"))
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "endpoint %s: expected scheme://host[:port] with no path", url);
	/* host part without the port, to check for loopback */
	hn = a[0] == '[' ? (size_t)(strchr(a, ']') ? strchr(a, ']') - a + 1 : 0) : strcspn(a, ":/");
	if (*plain && !loopback_host(a, hn))
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "endpoint %s: plain http is allowed on loopback only", url);
	*host = strndup(a, n);
	if (!*host)
		return kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "out of memory");
	return 0;
}

static int is_transient_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/*
 * One HTTP POST of body to url with the header lines given (NUL-separated in
 * hdrs). On a response: 0 and *http set, the body in a->resp. On transport
 * failure: -1 with err filled (KMS_ERR_UNREACHABLE, retryable if transient).
 */
static int post(struct aws *a, const char *what, const char *url, const struct buf *hdrs,
                size_t nhdrs, const char *body, size_t body_len, long budget_ms, long *http,
                struct kms_error *err)
{
	struct curl_slist *sl = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	const char *p = hdrs->ptr;
	CURLcode cc;
	int rc = -1;

	for (size_t i = 0; i < nhdrs; i++) {
		struct curl_slist *t = curl_slist_append(sl, p);
		if (!t) {
			kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "%s: out of memory", what);
			goto out;
		}
		sl = t;
		p += strlen(p) + 1;
	}
	{
		struct curl_slist *t = curl_slist_append(sl, "Expect:");
		if (t)
			sl = t;
	}
	wipe_resp(a);
	curl_easy_reset(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, a->plain_http ? "http,https" : "https");
	curl_easy_setopt(a->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(a->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(a->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(a->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS,
	                 a->connect_ms < budget_ms ? a->connect_ms : budget_ms);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, budget_ms);
	curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "vecward/" VECWARD_VERSION);
	curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, ebuf);
	if (a->plain_http)
		curl_easy_setopt(a->curl, CURLOPT_NOPROXY, "*");
	cc = curl_easy_perform(a->curl);
	if (cc != CURLE_OK) {
		if (a->overflow) {
			kms_fail(err, KMS_ERR_INTERNAL, 0, NULL,
			         "%s: response larger than %u bytes", what, KMS_MAX_RESPONSE);
		} else {
			kms_fail(err, KMS_ERR_UNREACHABLE, 0, NULL, "%s: %s", what,
			         ebuf[0] ? ebuf : curl_easy_strerror(cc));
			err->retryable = is_transient_curl(cc);
		}
		goto out;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, http);
	rc = 0;
out:
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, NULL);
	for (struct curl_slist *s = sl; s; s = s->next)
		OPENSSL_cleanse(s->data, strlen(s->data));
	curl_slist_free_all(sl);
	return rc;
}

static int add_form(struct buf *b, const char *k, const char *v)
{
	return (b->len && buf_addc(b, '&')) || buf_adds(b, k) || buf_addc(b, '=') ||
	               buf_add_urlenc(b, v)
	           ? -1
	           : 0;
}

/* Exchange the web identity token for credentials with STS (one attempt). */
static int sts_fetch(struct aws *a, const char *token_file, const char *role_arn, long budget_ms,
                     struct kms_error *err)
{
	struct buf tok = BUF_INIT(TOKEN_FILE_MAX), body = BUF_INIT(4 * TOKEN_FILE_MAX);
	struct buf hdrs = BUF_INIT(1024), url = BUF_INIT(1024);
	const char *sess = getenv("AWS_ROLE_SESSION_NAME");
	const char *ep = a->sts_url ? a->sts_url : getenv("AWS_ENDPOINT_URL_STS");
	struct kms_aws_creds c = {0};
	char *host = NULL;
	int plain = 0, rc = -1, saved_plain = a->plain_http;
	long http = 0;
	size_t nh = 0;

	if (ep && *ep) {
		if (buf_adds(&url, ep))
			goto oom;
	} else if (buf_printf(&url, "https://sts.%s.amazonaws.com%s/", a->region,
	                      !strcmp(a->partition, "aws-cn") ? ".cn" : "")) {
		goto oom;
	}
	if (parse_endpoint(url.ptr, &host, &plain, err))
		goto out;
	if (read_file(token_file, TOKEN_FILE_MAX, &tok)) {
		kms_fail(err, KMS_ERR_ACCESS_DENIED, 0, NULL,
		         "web identity: cannot read AWS_WEB_IDENTITY_TOKEN_FILE %s: %s", token_file,
		         strerror(errno));
		goto out;
	}
	while (tok.len && isspace((unsigned char)tok.ptr[tok.len - 1]))
		tok.ptr[--tok.len] = '\0';
	if (buf_reserve(&body, tok.len * 3 + 1024) ||
	    add_form(&body, "Action", "AssumeRoleWithWebIdentity") ||
	    add_form(&body, "Version", STS_VERSION) || add_form(&body, "RoleArn", role_arn) ||
	    add_form(&body, "RoleSessionName", sess && *sess ? sess : "vecward-operator") ||
	    buf_printf(&body, "&DurationSeconds=%d", STS_DURATION_S) ||
	    add_form(&body, "WebIdentityToken", tok.ptr ? tok.ptr : ""))
		goto oom;
	if (buf_printf(&hdrs, "Host: %s", host) || buf_add(&hdrs, "", 1) ||
	    buf_adds(&hdrs, "Content-Type: application/x-www-form-urlencoded; charset=utf-8") ||
	    buf_add(&hdrs, "", 1) || buf_adds(&hdrs, "Accept: text/xml") || buf_add(&hdrs, "", 1))
		goto oom;
	nh = 3;
	a->plain_http = plain;
	rc = post(a, "sts AssumeRoleWithWebIdentity", url.ptr, &hdrs, nh, body.ptr, body.len,
	          budget_ms, &http, err);
	a->plain_http = saved_plain;
	if (rc)
		goto out;
	rc = -1;
	if (http < 200 || http > 299) {
		char *code = xml_text(a->resp, a->resp_len, "Code");
		char *msg = xml_text(a->resp, a->resp_len, "Message");
		char type[64] = "";
		if (code)
			short_type(code, type, sizeof(type));
		classify(KMS_AWS_DESCRIBE_KEY, http, type, msg, err);
		/* classify names a KMS operation: say it was STS */
		kms_fail(err, err->kind, http, type[0] ? type : NULL,
		         "sts AssumeRoleWithWebIdentity for role %s: %s", role_arn,
		         msg ? msg : "request failed");
		err->retryable = http >= 500 || http == 429 || !strcmp(type, "Throttling") ||
		                 !strcmp(type, "IDPCommunicationError");
		free(code);
		free(msg);
		goto out;
	}
	if (kms_aws_parse_sts(a->resp, a->resp_len, &c, err))
		goto out;
	kms_aws_creds_clear(&a->sts);
	a->sts = c;
	rc = 0;
	goto out;
oom:
	kms_fail(err, KMS_ERR_INTERNAL, 0, NULL,
	         "web identity: request too large or out of memory");
out:
	wipe_resp(a);
	free(host);
	buf_free_secret(&tok);
	buf_free_secret(&body);
	buf_free(&hdrs);
	buf_free(&url);
	return rc;
}

/* The credentials for this attempt: borrowed pointers valid until unlock. */
static int resolve_creds(struct aws *a, const char **akid, const char **secret, const char **token,
                         long budget_ms, struct kms_error *err)
{
	const char *ek = getenv("AWS_ACCESS_KEY_ID"), *es = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tf = getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = getenv("AWS_ROLE_ARN");

	if (a->fixed.access_key_id) {
		*akid = a->fixed.access_key_id;
		*secret = a->fixed.secret_access_key;
		*token = a->fixed.session_token;
		return 0;
	}
	if (ek && *ek && es && *es) {
		*akid = ek;
		*secret = es;
		*token = getenv("AWS_SESSION_TOKEN");
		return 0;
	}
	if (tf && *tf && role && *role) {
		long long now = (long long)time(NULL);
		if (!a->sts.access_key_id ||
		    (a->sts.expires && a->sts.expires - STS_REFRESH_S <= now)) {
			if (sts_fetch(a, tf, role, budget_ms, err))
				return -1;
		}
		*akid = a->sts.access_key_id;
		*secret = a->sts.secret_access_key;
		*token = a->sts.session_token;
		return 0;
	}
	return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
	                "no aws credentials: give a credentials secret, or set "
	                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or AWS_WEB_IDENTITY_TOKEN_FILE "
	                "and AWS_ROLE_ARN");
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

typedef int (*parse_fn)(struct aws *a, void *out, struct kms_error *err);

/* Build, sign, send with retries, and hand a 2xx body to parse. */
static int call(struct aws *a, const struct kms_aws_call *c, parse_fn parse, void *pout,
                struct kms_error *err)
{
	struct buf body = BUF_INIT(BODY_MAX), hdrs = BUF_INIT(64 * 1024);
	long long deadline = now_ms() + a->timeout_ms;
	int attempt = 0, rc = -1;

	pthread_mutex_lock(&a->mu);
	if (buf_reserve(&hdrs, 16 * 1024)) {
		kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "%s: out of memory",
		         kms_aws_op_name(c->op));
		goto out;
	}
	if (kms_aws_request_body(c, &body, err))
		goto out;
	for (;;) {
		const char *akid = NULL, *secret = NULL, *token = NULL;
		char date[SIGV4_DATE_LEN + 1];
		long long left = deadline - now_ms();
		long http = 0, pause;
		uint32_t rnd = 0;
		size_t nh = 0;

		attempt++;
		if (left <= 0) {
			kms_fail(err, KMS_ERR_UNREACHABLE, 0, NULL, "%s: no answer within %ld ms",
			         kms_aws_op_name(c->op), a->timeout_ms);
			err->retryable = 1;
			break;
		}
		if (resolve_creds(a, &akid, &secret, &token, (long)left, err))
			goto retry;
		buf_reset(&hdrs);
		if (sigv4_format_date(time(NULL), date) ||
		    kms_aws_signed_headers(c->op, a->host, a->region, akid, secret, token, date,
		                           body.ptr, body.len, &hdrs, &nh)) {
			buf_free_secret(&hdrs);
			kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "%s: cannot sign the request",
			         kms_aws_op_name(c->op));
			break;
		}
		left = deadline - now_ms();
		if (left <= 0)
			left = 1;
		if (post(a, kms_aws_op_name(c->op), a->url, &hdrs, nh, body.ptr, body.len,
		         (long)left, &http, err))
			goto retry;
		if (http >= 200 && http <= 299) {
			rc = parse(a, pout, err);
			break;
		}
		kms_aws_error_from_response(c->op, http, a->resp, a->resp_len, err);
	retry:
		wipe_resp(a);
		if (!err->retryable || attempt >= a->max_attempts)
			break;
		if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
			rnd = 0;
		pause = kms_aws_backoff_ms(attempt, a->base_ms, MAX_SLEEP_MS, rnd);
		if (now_ms() + pause >= deadline)
			break;
		sleep_ms(pause);
	}
out:
	if (err)
		err->attempts = attempt;
	wipe_resp(a);
	buf_free_secret(&hdrs);
	buf_free_secret(&body);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

static int parse_describe(struct aws *a, void *out, struct kms_error *err)
{
	return kms_aws_parse_describe(a->resp, a->resp_len, out, err);
}

struct dk_out {
	uint8_t *pt;
	size_t nbytes;
	struct buf *blob;
};

static int parse_data_key(struct aws *a, void *out, struct kms_error *err)
{
	struct dk_out *o = out;
	return kms_aws_parse_data_key(a->resp, a->resp_len, o->pt, o->nbytes, o->blob, err);
}

static int parse_encrypt(struct aws *a, void *out, struct kms_error *err)
{
	return kms_aws_parse_encrypt(a->resp, a->resp_len, out, err);
}

struct dec_out {
	uint8_t *pt;
	size_t cap;
	size_t *len;
};

static int parse_decrypt(struct aws *a, void *out, struct kms_error *err)
{
	struct dec_out *o = out;
	return kms_aws_parse_decrypt(a->resp, a->resp_len, o->pt, o->cap, o->len, err);
}

static int aws_describe(void *impl, struct kms_key_info *out, struct kms_error *err)
{
	struct aws *a = impl;
	struct kms_aws_call c = {KMS_AWS_DESCRIBE_KEY, a->key_id, NULL, 0, NULL, 0};

	return call(a, &c, parse_describe, out, err);
}

static int aws_generate(void *impl, const struct kms_context *ctx, size_t nbytes,
                        uint8_t *plaintext, struct buf *blob, struct kms_error *err)
{
	struct aws *a = impl;
	struct kms_aws_call c = {KMS_AWS_GENERATE_DATA_KEY, a->key_id, ctx, nbytes, NULL, 0};
	struct dk_out o = {plaintext, nbytes, blob};

	return call(a, &c, parse_data_key, &o, err);
}

static int aws_encrypt(void *impl, const struct kms_context *ctx, const void *pt, size_t ptlen,
                       struct buf *blob, struct kms_error *err)
{
	struct aws *a = impl;
	struct kms_aws_call c = {KMS_AWS_ENCRYPT, a->key_id, ctx, 0, pt, ptlen};

	return call(a, &c, parse_encrypt, blob, err);
}

static int aws_decrypt(void *impl, const struct kms_context *ctx, const void *blob, size_t bloblen,
                       uint8_t *pt, size_t ptcap, size_t *ptlen, struct kms_error *err)
{
	struct aws *a = impl;
	struct kms_aws_call c = {KMS_AWS_DECRYPT, a->key_id, ctx, 0, blob, bloblen};
	struct dec_out o = {pt, ptcap, ptlen};

	return call(a, &c, parse_decrypt, &o, err);
}

static void aws_free(void *impl)
{
	struct aws *a = impl;

	if (!a)
		return;
	if (a->curl)
		curl_easy_cleanup(a->curl);
	pthread_mutex_destroy(&a->mu);
	kms_aws_creds_clear(&a->fixed);
	kms_aws_creds_clear(&a->sts);
	if (a->resp)
		OPENSSL_cleanse(a->resp, KMS_MAX_RESPONSE + 1);
	free(a->resp);
	free(a->key_id);
	free(a->url);
	free(a->host);
	free(a->sts_url);
	free(a);
}

static const struct kms_ops aws_ops = {
    .name = KMS_PROVIDER_AWS,
    .describe = aws_describe,
    .generate_data_key = aws_generate,
    .encrypt = aws_encrypt,
    .decrypt = aws_decrypt,
    .free = aws_free,
};

static int curl_global_ok = 0;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static char *dup_secret(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int kms_aws_new(const struct kms_aws_config *cfg, struct kms **out, struct kms_error *err)
{
	struct aws *a = NULL;
	struct kms *k;
	struct buf url = BUF_INIT(1024);
	int rc = -1;

	if (!cfg || !out)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL, "aws-kms: missing configuration");
	pthread_once(&curl_once, curl_init_once);
	if (!curl_global_ok)
		return kms_fail(err, KMS_ERR_INTERNAL, 0, NULL,
		                "aws-kms: libcurl did not initialise");
	a = calloc(1, sizeof(*a));
	if (!a)
		return kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "aws-kms: out of memory");
	pthread_mutex_init(&a->mu, NULL);
	if (split_arn(cfg->key_id, a->partition, sizeof(a->partition), a->region,
	              sizeof(a->region))) {
		kms_aws_parse_arn(cfg->key_id, a->region, sizeof(a->region), err);
		goto out;
	}
	if ((cfg->access_key_id && *cfg->access_key_id) !=
	    (cfg->secret_access_key && *cfg->secret_access_key)) {
		kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		         "aws-kms: give both the access key id and the secret access key, or "
		         "neither");
		goto out;
	}
	if (cfg->endpoint && *cfg->endpoint) {
		if (buf_adds(&url, cfg->endpoint))
			goto oom;
	} else if (buf_printf(&url, "https://kms.%s.amazonaws.com%s/", a->region,
	                      !strcmp(a->partition, "aws-cn") ? ".cn" : "")) {
		goto oom;
	}
	if (parse_endpoint(url.ptr, &a->host, &a->plain_http, err))
		goto out;
	if (cfg->sts_endpoint && *cfg->sts_endpoint) {
		char *h = NULL;
		int plain;
		if (parse_endpoint(cfg->sts_endpoint, &h, &plain, err))
			goto out;
		free(h);
		a->sts_url = strdup(cfg->sts_endpoint);
		if (!a->sts_url)
			goto oom;
	}
	a->url = buf_take(&url);
	a->key_id = strdup(cfg->key_id);
	a->resp = malloc(KMS_MAX_RESPONSE + 1);
	a->curl = curl_easy_init();
	if (!a->url || !a->key_id || !a->resp || !a->curl)
		goto oom;
	a->resp[0] = '\0';
	if (cfg->access_key_id && *cfg->access_key_id) {
		a->fixed.access_key_id = dup_secret(cfg->access_key_id);
		a->fixed.secret_access_key = dup_secret(cfg->secret_access_key);
		a->fixed.session_token = dup_secret(cfg->session_token);
		if (!a->fixed.access_key_id || !a->fixed.secret_access_key ||
		    (cfg->session_token && *cfg->session_token && !a->fixed.session_token))
			goto oom;
	}
	a->connect_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEF_CONNECT_MS;
	a->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEF_TIMEOUT_MS;
	a->base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : DEF_BASE_MS;
	a->max_attempts = cfg->max_attempts > 0 && cfg->max_attempts < MAX_ATTEMPTS
	                      ? cfg->max_attempts
	                      : MAX_ATTEMPTS;
	k = kms_new_provider(&aws_ops, a);
	a = NULL;
	if (!k)
		goto oom;
	*out = k;
	if (err)
		memset(err, 0, sizeof(*err));
	rc = 0;
	goto out;
oom:
	kms_fail(err, KMS_ERR_INTERNAL, 0, NULL, "aws-kms: out of memory");
out:
	buf_free(&url);
	aws_free(a);
	return rc;
}
