#include "kms.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct kms {
	const struct kms_ops *ops;
	void *impl;
};

/* ---- errors ------------------------------------------------------------- */

const char *kms_err_reason(enum kms_err_kind kind)
{
	switch (kind) {
	case KMS_OK:
		return "KMSAvailable";
	case KMS_ERR_UNREACHABLE:
		return "KMSUnreachable";
	case KMS_ERR_THROTTLED:
		return "KMSThrottled";
	case KMS_ERR_ACCESS_DENIED:
		return "KMSAccessDenied";
	case KMS_ERR_KEY_DISABLED:
		return "KMSKeyDisabled";
	case KMS_ERR_NOT_FOUND:
		return "KMSKeyNotFound";
	case KMS_ERR_INVALID_CIPHERTEXT:
		return "KMSInvalidCiphertext";
	case KMS_ERR_INVALID:
		return "KMSInvalidRequest";
	case KMS_ERR_INTERNAL:
		return "KMSInternalError";
	}
	return "KMSInternalError";
}

const char *kms_err_name(enum kms_err_kind kind)
{
	switch (kind) {
	case KMS_OK:
		return "KMS_OK";
	case KMS_ERR_UNREACHABLE:
		return "KMS_ERR_UNREACHABLE";
	case KMS_ERR_THROTTLED:
		return "KMS_ERR_THROTTLED";
	case KMS_ERR_ACCESS_DENIED:
		return "KMS_ERR_ACCESS_DENIED";
	case KMS_ERR_KEY_DISABLED:
		return "KMS_ERR_KEY_DISABLED";
	case KMS_ERR_NOT_FOUND:
		return "KMS_ERR_NOT_FOUND";
	case KMS_ERR_INVALID_CIPHERTEXT:
		return "KMS_ERR_INVALID_CIPHERTEXT";
	case KMS_ERR_INVALID:
		return "KMS_ERR_INVALID";
	case KMS_ERR_INTERNAL:
		return "KMS_ERR_INTERNAL";
	}
	return "KMS_ERR_INTERNAL";
}

const char *kms_strerror(const struct kms_error *err, char *buf, size_t len)
{
	if (!buf || !len)
		return "";
	if (!err) {
		snprintf(buf, len, "%s", kms_err_reason(KMS_ERR_INTERNAL));
		return buf;
	}
	if (err->aws_type[0])
		snprintf(buf, len, "%s (%s): %s", kms_err_reason(err->kind), err->aws_type,
		         err->message);
	else
		snprintf(buf, len, "%s: %s", kms_err_reason(err->kind), err->message);
	return buf;
}

static int b64char(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/' || c == '=';
}

void kms_redact(const char *s, char *out, size_t outlen)
{
	static const char red[] = "[redacted]";
	const char *cut;
	size_t o = 0, end;

	if (!out || !outlen)
		return;
	out[0] = '\0';
	if (!s)
		return;
	cut = strstr(s, "The Canonical String");
	end = cut ? (size_t)(cut - s) : strlen(s);
	for (size_t i = 0; i < end && o + 1 < outlen;) {
		size_t run = 0;
		int akid = 0;
		/* a run of base64 characters starting here (at a run boundary) */
		if (b64char((unsigned char)s[i]) && (i == 0 || !b64char((unsigned char)s[i - 1]))) {
			while (i + run < end && b64char((unsigned char)s[i + run]))
				run++;
			if (run >= 16 &&
			    (!strncmp(s + i, "AKIA", 4) || !strncmp(s + i, "ASIA", 4))) {
				size_t a = 4;
				while (a < run && isalnum((unsigned char)s[i + a]))
					a++;
				akid = a >= 16;
			}
		}
		if (run >= 32 || akid) {
			for (size_t r = 0; red[r] && o + 1 < outlen; r++)
				out[o++] = red[r];
			i += run;
			continue;
		}
		/* keep printable text only: no control characters in conditions */
		out[o++] = isprint((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80 ? s[i] : ' ';
		i++;
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

int kms_fail(struct kms_error *err, enum kms_err_kind kind, long http, const char *aws_type,
             const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	if (!err)
		return -1;
	memset(err, 0, sizeof(*err));
	err->kind = kind;
	err->http = http;
	if (aws_type)
		snprintf(err->aws_type, sizeof(err->aws_type), "%s", aws_type);
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	kms_redact(tmp, err->message, sizeof(err->message));
	return -1;
}

static void ok(struct kms_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

/* ---- encryption context ------------------------------------------------- */

void kms_context_init(struct kms_context *c)
{
	memset(c, 0, sizeof(*c));
}

static int str_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= KMS_CONTEXT_STR_MAX;
}

int kms_context_add(struct kms_context *c, const char *key, const char *value)
{
	size_t i;

	if (!c || c->n >= KMS_CONTEXT_MAX || !str_ok(key) || !str_ok(value))
		return -1;
	for (i = 0; i < c->n; i++) {
		int d = strcmp(key, c->kv[i].key);
		if (d == 0)
			return -1;
		if (d < 0)
			break;
	}
	memmove(&c->kv[i + 1], &c->kv[i], (c->n - i) * sizeof(c->kv[0]));
	c->kv[i].key = key;
	c->kv[i].value = value;
	c->n++;
	return 0;
}

int kms_context_check(const struct kms_context *c, struct kms_error *err)
{
	if (!c || c->n == 0)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "an encryption context is required on every call");
	if (c->n > KMS_CONTEXT_MAX)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "encryption context has more than %d pairs", KMS_CONTEXT_MAX);
	for (size_t i = 0; i < c->n; i++) {
		if (!str_ok(c->kv[i].key) || !str_ok(c->kv[i].value))
			return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
			                "encryption context pair %zu: key and value must be 1..%d "
			                "bytes",
			                i, KMS_CONTEXT_STR_MAX);
		if (i && strcmp(c->kv[i - 1].key, c->kv[i].key) >= 0)
			return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
			                "encryption context keys must be unique and sorted");
	}
	return 0;
}

static int add_lp(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                      (unsigned char)(n >> 8), (unsigned char)n};
	return buf_add(b, l, 4) || buf_add(b, s, n) ? -1 : 0;
}

int kms_context_serialize(const struct kms_context *c, struct buf *out)
{
	if (kms_context_check(c, NULL))
		return -1;
	if (buf_add(out, "vwkms1", 6))
		return -1;
	for (size_t i = 0; i < c->n; i++)
		if (add_lp(out, c->kv[i].key) || add_lp(out, c->kv[i].value))
			return -1;
	return 0;
}

/* ---- keys --------------------------------------------------------------- */

int kms_key_usable(const struct kms_key_info *ki)
{
	return ki && !strcmp(ki->state, "Enabled") && !strcmp(ki->usage, "ENCRYPT_DECRYPT") &&
	       !strcmp(ki->spec, "SYMMETRIC_DEFAULT");
}

/* ---- the interface ------------------------------------------------------ */

struct kms *kms_new_provider(const struct kms_ops *ops, void *impl)
{
	struct kms *k = calloc(1, sizeof(*k));

	if (!k) {
		ops->free(impl);
		return NULL;
	}
	k->ops = ops;
	k->impl = impl;
	return k;
}

const char *kms_provider(const struct kms *k)
{
	return k ? k->ops->name : "";
}

int kms_describe(struct kms *k, struct kms_key_info *out, struct kms_error *err)
{
	struct kms_error scratch;
	struct kms_key_info ki;

	if (!err)
		err = &scratch;

	if (!k || !out)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL, "describe: missing argument");
	memset(&ki, 0, sizeof(ki));
	if (k->ops->describe(k->impl, &ki, err))
		return -1;
	*out = ki;
	ok(err);
	return 0;
}

int kms_generate_data_key(struct kms *k, const struct kms_context *ctx, size_t nbytes,
                          uint8_t *plaintext, struct buf *blob, struct kms_error *err)
{
	struct kms_error scratch;

	if (!err)
		err = &scratch;
	if (!k || !plaintext || !blob)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "generate data key: missing argument");
	if (kms_context_check(ctx, err))
		return -1;
	if (nbytes < 1 || nbytes > KMS_MAX_DATA_KEY)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "generate data key: %zu bytes requested, 1..%d allowed", nbytes,
		                KMS_MAX_DATA_KEY);
	if (k->ops->generate_data_key(k->impl, ctx, nbytes, plaintext, blob, err))
		return -1;
	ok(err);
	return 0;
}

int kms_encrypt(struct kms *k, const struct kms_context *ctx, const void *pt, size_t ptlen,
                struct buf *blob, struct kms_error *err)
{
	struct kms_error scratch;

	if (!err)
		err = &scratch;
	if (!k || !pt || !blob)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL, "encrypt: missing argument");
	if (kms_context_check(ctx, err))
		return -1;
	if (ptlen < 1 || ptlen > KMS_MAX_PLAINTEXT)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL,
		                "encrypt: %zu bytes of plaintext, 1..%d allowed", ptlen,
		                KMS_MAX_PLAINTEXT);
	if (k->ops->encrypt(k->impl, ctx, pt, ptlen, blob, err))
		return -1;
	ok(err);
	return 0;
}

int kms_decrypt(struct kms *k, const struct kms_context *ctx, const void *blob, size_t bloblen,
                uint8_t *pt, size_t ptcap, size_t *ptlen, struct kms_error *err)
{
	struct kms_error scratch;

	if (!err)
		err = &scratch;
	if (!k || !blob || !pt || !ptlen)
		return kms_fail(err, KMS_ERR_INVALID, 0, NULL, "decrypt: missing argument");
	if (kms_context_check(ctx, err))
		return -1;
	if (bloblen < 1 || bloblen > KMS_MAX_BLOB)
		return kms_fail(err, KMS_ERR_INVALID_CIPHERTEXT, 0, NULL,
		                "decrypt: a %zu-byte blob, 1..%d allowed", bloblen, KMS_MAX_BLOB);
	if (k->ops->decrypt(k->impl, ctx, blob, bloblen, pt, ptcap, ptlen, err))
		return -1;
	ok(err);
	return 0;
}

void kms_free(struct kms *k)
{
	if (!k)
		return;
	k->ops->free(k->impl);
	free(k);
}
