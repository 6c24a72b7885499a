/*
 * libFuzzer harness for the aws-kms response handling (operator/kms): whatever
 * AWS KMS or STS (or something pretending to be one) answers goes through the
 * pure parsers of kms.h, and every service message through kms_redact.
 *
 * The first byte picks the function (low three bits: describe, data key,
 * encrypt, decrypt, error, sts, arn, redact) and a parameter (the next three
 * bits: an HTTP status, or the size of the output buffer, allocated at exactly
 * that size so that an overflow is caught); the rest is the body. Properties
 * (a failure traps):
 *   - a failure fills the kms_error: a known kind, NUL-terminated printable
 *     message and aws_type; out-parameters are untouched on failure;
 *   - on success the parsed strings are NUL-terminated in their arrays, a
 *     data key or blob is 1..its limit bytes, and a decrypt gives
 *     1 <= *ptlen <= ptcap;
 *   - an error answer is never KMS_OK, names its operation, and 429 and 5xx
 *     are retryable;
 *   - kms_redact's output is NUL-terminated within its buffer, printable, and
 *     never longer than the input before "The Canonical String", and holds
 *     no run of 32 base64 characters.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kms.h"

#define SENTINEL 0xa5

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_str(const char *s, size_t cap)
{
	check(strnlen(s, cap) < cap);
}

/* printable text only: what kms_redact lets through */
static void check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	check(n < cap);
	for (size_t i = 0; i < n; i++)
		check(isprint((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80);
}

static void check_err(const struct kms_error *e)
{
	check(e->kind > KMS_OK && e->kind <= KMS_ERR_INTERNAL);
	check(e->retryable == 0 || e->retryable == 1);
	check_text(e->aws_type, sizeof(e->aws_type));
	check_text(e->message, sizeof(e->message));
}

static int all(const void *p, int c, size_t n)
{
	const uint8_t *u = p;

	for (size_t i = 0; i < n; i++)
		if (u[i] != (uint8_t)c)
			return 0;
	return 1;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	check(p != NULL);
	return p;
}

static void fuzz_describe(const char *body, size_t len)
{
	struct kms_key_info ki;
	struct kms_error err;

	memset(&ki, SENTINEL, sizeof(ki));
	memset(&err, SENTINEL, sizeof(err));
	if (kms_aws_parse_describe(body, len, &ki, &err) != 0) {
		check_err(&err);
		check(all(&ki, SENTINEL, sizeof(ki)));
		return;
	}
	check_str(ki.arn, sizeof(ki.arn));
	check_str(ki.key_id, sizeof(ki.key_id));
	check_str(ki.state, sizeof(ki.state));
	check_str(ki.region, sizeof(ki.region));
	check_str(ki.usage, sizeof(ki.usage));
	check_str(ki.spec, sizeof(ki.spec));
	check(ki.enabled == 0 || ki.enabled == 1);
	(void)kms_key_usable(&ki);
}

static void fuzz_data_key(const char *body, size_t len, size_t blobmax)
{
	const size_t nbytes = 32;
	struct buf blob = BUF_INIT(blobmax);
	struct kms_error err;
	uint8_t *pt = xmalloc(nbytes);

	memset(pt, SENTINEL, nbytes);
	memset(&err, SENTINEL, sizeof(err));
	if (kms_aws_parse_data_key(body, len, pt, nbytes, &blob, &err) != 0) {
		check_err(&err);
		check(all(pt, SENTINEL, nbytes));
		check(blob.len == 0);
	} else {
		check(blob.len >= 1 && blob.len <= KMS_MAX_BLOB && blob.len <= blobmax);
	}
	buf_free(&blob);
	free(pt);
}

static void fuzz_encrypt(const char *body, size_t len, size_t blobmax)
{
	struct buf blob = BUF_INIT(blobmax);
	struct kms_error err;

	memset(&err, SENTINEL, sizeof(err));
	if (kms_aws_parse_encrypt(body, len, &blob, &err) != 0) {
		check_err(&err);
		check(blob.len == 0);
	} else {
		check(blob.len >= 1 && blob.len <= KMS_MAX_BLOB && blob.len <= blobmax);
	}
	buf_free(&blob);
}

static void fuzz_decrypt(const char *body, size_t len, size_t ptcap)
{
	struct kms_error err;
	uint8_t *pt = xmalloc(ptcap);
	size_t ptlen = (size_t)-1;

	memset(pt, SENTINEL, ptcap);
	memset(&err, SENTINEL, sizeof(err));
	if (kms_aws_parse_decrypt(body, len, pt, ptcap, &ptlen, &err) != 0) {
		check_err(&err);
		check(ptlen == (size_t)-1);
		check(all(pt, SENTINEL, ptcap));
	} else {
		check(ptlen >= 1 && ptlen <= ptcap && ptlen <= KMS_MAX_PLAINTEXT);
	}
	free(pt);
}

static void fuzz_error(const char *body, size_t len, long http)
{
	for (int op = KMS_AWS_DESCRIBE_KEY; op <= KMS_AWS_DECRYPT; op++) {
		const char *name = kms_aws_op_name((enum kms_aws_op)op);
		struct kms_error err;

		memset(&err, SENTINEL, sizeof(err));
		kms_aws_error_from_response((enum kms_aws_op)op, http, len ? body : NULL, len,
		                            &err);
		check_err(&err);
		check(err.http == http);
		check(strncmp(err.message, name, strlen(name)) == 0);
		for (const char *t = err.aws_type; *t; t++)
			check(isalnum((unsigned char)*t) || *t == '.' || *t == '_');
		if (http == 429 || http >= 500)
			check(err.retryable == 1);
	}
}

static void fuzz_sts(const char *body, size_t len)
{
	struct kms_aws_creds c = {NULL, NULL, NULL, -7};
	struct kms_error err;

	memset(&err, SENTINEL, sizeof(err));
	if (kms_aws_parse_sts(body, len, &c, &err) != 0) {
		check_err(&err);
		check(!c.access_key_id && !c.secret_access_key && !c.session_token &&
		      c.expires == -7);
		return;
	}
	check(c.access_key_id && *c.access_key_id);
	check(c.secret_access_key && *c.secret_access_key);
	check(c.session_token && *c.session_token);
	check(c.expires >= 0);
	kms_aws_creds_clear(&c);
	check(!c.access_key_id && !c.secret_access_key && !c.session_token && c.expires == 0);
}

static void fuzz_arn(const char *s, size_t regionlen)
{
	struct kms_error err;
	char *region = xmalloc(regionlen);

	memset(region, SENTINEL, regionlen);
	memset(&err, SENTINEL, sizeof(err));
	if (kms_aws_parse_arn(s, region, regionlen, &err) != 0) {
		check_err(&err);
		check(all(region, SENTINEL, regionlen));
	} else {
		size_t n = strnlen(region, regionlen);
		check(n >= 1 && n < regionlen);
		for (size_t i = 0; i < n; i++)
			check(islower((unsigned char)region[i]) ||
			      isdigit((unsigned char)region[i]) || region[i] == '-');
	}
	free(region);
}

static int b64char(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/' || c == '=';
}

static void fuzz_redact(const char *s, size_t outlen)
{
	char *out = xmalloc(outlen);
	const char *cut = strstr(s, "The Canonical String");
	size_t run = 0, n;

	memset(out, SENTINEL, outlen);
	kms_redact(s, out, outlen);
	check_text(out, outlen);
	n = strlen(out);
	/* one output character per input character before the cut at most:
	 * "[redacted]" replaces 16 or more, and nothing from the cut on is kept */
	check(n <= (cut ? (size_t)(cut - s) : strlen(s)));
	for (size_t i = 0; i < n; i++) {
		run = b64char((unsigned char)out[i]) ? run + 1 : 0;
		check(run < 32);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long http[8] = {0, 400, 401, 403, 404, 429, 500, 503};
	static const size_t caps[8] = {0, 1, 5, 16, 31, 32, 1024, KMS_MAX_PLAINTEXT};
	static const size_t outlens[8] = {1, 2, 11, 12, 33, 64, 320, 4096};
	const char *body;
	size_t len;
	unsigned sel, arg;
	char *s;

	if (size < 1)
		return 0;
	sel = data[0] & 7;
	arg = (data[0] >> 3) & 7;
	body = (const char *)data + 1;
	len = size - 1;
	switch (sel) {
	case 0:
		fuzz_describe(body, len);
		break;
	case 1:
		fuzz_data_key(body, len, arg & 1 ? 8 : KMS_MAX_BLOB);
		break;
	case 2:
		fuzz_encrypt(body, len, arg & 1 ? 8 : KMS_MAX_BLOB);
		break;
	case 3:
		fuzz_decrypt(body, len, caps[arg]);
		break;
	case 4:
		fuzz_error(body, len, http[arg]);
		break;
	case 5:
		fuzz_sts(body, len);
		break;
	default:
		/* the string functions take a C string: a NUL-terminated copy */
		s = xmalloc(len + 1);
		memcpy(s, body, len);
		s[len] = '\0';
		if (sel == 6)
			fuzz_arn(s, outlens[arg]);
		else
			fuzz_redact(s, outlens[arg]);
		free(s);
		break;
	}
	return 0;
}
