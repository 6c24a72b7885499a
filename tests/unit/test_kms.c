/*
 * Tests for operator/kms: the encryption context, error reasons and
 * redaction, the local provider, and the aws-kms provider's request building,
 * signing and response/error parsing as pure functions. Then the aws-kms
 * transport against a tiny HTTP server on 127.0.0.1 in a thread: throttled
 * twice then served (retried), 400 AccessDeniedException (not retried), 500
 * every time (bounded attempts), a closed port, and an empty context (no
 * request at all). The server re-derives each request's signature from the
 * bytes it received, so what curl sends is what was signed. No timing
 * assertions: backoff is made tiny and only attempts are counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "json.h"
#include "kms.h"
#include "sigv4.h"
#include "unit.h"
#include "util.h"

#define ARN    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE   "20150830T123600Z"

static const uint8_t ROOT[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5,  4,
                                 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 42, 43};

static void zone_ctx(struct kms_context *c, const char *db)
{
	kms_context_init(c);
	assert_int_equal(kms_context_add(c, "vecward.io/version", "3"), 0);
	assert_int_equal(kms_context_add(c, "vecward.io/cluster", "5f0c1d7e"), 0);
	assert_int_equal(kms_context_add(c, "vecward.io/database", db), 0);
}

/* ---- context, errors, redaction ----------------------------------------- */

static void test_context(void **state)
{
	struct kms_context c;
	struct kms_error err;
	struct buf b = BUF_INIT(1024);

	kms_context_init(&c);
	assert_int_equal(kms_context_check(&c, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);
	assert_non_null(strstr(err.message, "encryption context is required"));

	assert_int_equal(kms_context_add(&c, "database", "sales"), 0);
	assert_int_equal(kms_context_add(&c, "cluster", "u1"), 0);
	assert_int_equal(kms_context_add(&c, "cluster", "u2"), -1); /* duplicate */
	assert_int_equal(kms_context_add(&c, "", "x"), -1);
	assert_int_equal(kms_context_add(&c, "x", ""), -1);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.kv[0].key, "cluster"); /* kept sorted */
	assert_int_equal(kms_context_check(&c, &err), 0);

	assert_int_equal(kms_context_serialize(&c, &b), 0);
	assert_int_equal(b.len, 6 + 4 + 7 + 4 + 2 + 4 + 8 + 4 + 5);
	assert_memory_equal(b.ptr,
	                    "vwkms1"
	                    "\0\0\0\x07"
	                    "cluster"
	                    "\0\0\0\x02"
	                    "u1"
	                    "\0\0\0\x08"
	                    "database"
	                    "\0\0\0\x05"
	                    "sales",
	                    b.len);
	buf_free(&b);

	/* filled by hand out of order: refused */
	c.kv[0].key = "z";
	assert_int_equal(kms_context_check(&c, &err), -1);
	assert_non_null(strstr(err.message, "sorted"));

	kms_context_init(&c);
	for (int i = 0; i < KMS_CONTEXT_MAX; i++) {
		static const char *const keys[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
		assert_int_equal(kms_context_add(&c, keys[i], "v"), 0);
	}
	assert_int_equal(kms_context_add(&c, "i", "v"), -1); /* full */
}

static void test_reasons(void **state)
{
	assert_string_equal(kms_err_reason(KMS_ERR_UNREACHABLE), "KMSUnreachable");
	assert_string_equal(kms_err_reason(KMS_ERR_THROTTLED), "KMSThrottled");
	assert_string_equal(kms_err_reason(KMS_ERR_ACCESS_DENIED), "KMSAccessDenied");
	assert_string_equal(kms_err_reason(KMS_ERR_KEY_DISABLED), "KMSKeyDisabled");
	assert_string_equal(kms_err_reason(KMS_ERR_NOT_FOUND), "KMSKeyNotFound");
	assert_string_equal(kms_err_reason(KMS_ERR_INVALID_CIPHERTEXT), "KMSInvalidCiphertext");
	assert_string_equal(kms_err_reason(KMS_ERR_INVALID), "KMSInvalidRequest");
	assert_string_equal(kms_err_reason(KMS_ERR_INTERNAL), "KMSInternalError");
	assert_string_equal(kms_err_name(KMS_ERR_KEY_DISABLED), "KMS_ERR_KEY_DISABLED");
}

static void test_redact(void **state)
{
	char out[512];

	kms_redact("User: arn:aws:iam::111122223333:user/ops is not authorized to perform: "
	           "kms:Decrypt on resource: " ARN,
	           out, sizeof(out));
	assert_string_equal(out, "User: arn:aws:iam::111122223333:user/ops is not authorized "
	                         "to perform: kms:Decrypt on resource: " ARN);
	kms_redact("The security token AKIAIOSFODNN7EXAMPLE is invalid", out, sizeof(out));
	assert_string_equal(out, "The security token [redacted] is invalid");
	kms_redact("blob AQICAHhFo2XBk4oXJ8lZNXQ0tFvoW7mq2i8v+hdX/ABCDEFGH== rejected", out,
	           sizeof(out));
	assert_string_equal(out, "blob [redacted] rejected");
	kms_redact("Check your AWS Secret Access Key and signing method. The Canonical String "
	           "for this request should have been 'POST / x-amz-security-token:IQoJb3'",
	           out, sizeof(out));
	assert_string_equal(out, "Check your AWS Secret Access Key and signing method.");
	kms_redact("a\nb\tc", out, sizeof(out));
	assert_string_equal(out, "a b c");
	kms_redact(SECRET, out, 8);
	assert_string_equal(out, "[redact");
}

/* ---- local provider ----------------------------------------------------- */

static void test_local_round_trips(void **state)
{
	struct kms *k = NULL;
	struct kms_error err;
	struct kms_context ctx;
	struct kms_key_info ki;
	struct buf blob = BUF_INIT(KMS_MAX_BLOB), blob2 = BUF_INIT(KMS_MAX_BLOB);
	uint8_t dek[32], out[64];
	size_t n = 0;

	assert_int_equal(kms_local_new(ROOT, sizeof(ROOT), &k, &err), 0);
	assert_string_equal(kms_provider(k), "local");
	assert_int_equal(kms_describe(k, &ki, &err), 0);
	assert_string_equal(ki.state, "Enabled");
	assert_string_equal(ki.region, "local");
	assert_int_equal(strlen(ki.key_id), 16);
	assert_true(kms_key_usable(&ki));

	zone_ctx(&ctx, "sales");
	assert_int_equal(kms_generate_data_key(k, &ctx, 32, dek, &blob, &err), 0);
	assert_int_equal(blob.len, 1 + 12 + 32 + 16);
	assert_int_equal(kms_decrypt(k, &ctx, blob.ptr, blob.len, out, sizeof(out), &n, &err), 0);
	assert_int_equal(n, 32);
	assert_memory_equal(out, dek, 32);

	assert_int_equal(kms_encrypt(k, &ctx, "hello", 5, &blob2, &err), 0);
	assert_int_equal(kms_decrypt(k, &ctx, blob2.ptr, blob2.len, out, sizeof(out), &n, &err), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);

	/* a second instance with the same root key decrypts too */
	{
		struct kms *k2 = NULL;
		struct kms_key_info ki2;
		assert_int_equal(kms_local_new(ROOT, sizeof(ROOT), &k2, &err), 0);
		assert_int_equal(
		    kms_decrypt(k2, &ctx, blob.ptr, blob.len, out, sizeof(out), &n, &err), 0);
		assert_int_equal(kms_describe(k2, &ki2, &err), 0);
		assert_string_equal(ki2.key_id, ki.key_id);
		kms_free(k2);
	}
	OPENSSL_cleanse(dek, sizeof(dek));
	buf_free(&blob);
	buf_free(&blob2);
	kms_free(k);
}

static void test_local_context_required_and_binding(void **state)
{
	struct kms *k = NULL, *other = NULL;
	struct kms_error err;
	struct kms_context ctx, hr, empty;
	struct buf blob = BUF_INIT(KMS_MAX_BLOB);
	uint8_t dek[32], out[64], root2[32];
	size_t n = 0;

	assert_int_equal(kms_local_new(ROOT, sizeof(ROOT), &k, &err), 0);
	kms_context_init(&empty);
	assert_int_equal(kms_generate_data_key(k, &empty, 32, dek, &blob, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);
	assert_int_equal(blob.len, 0);
	assert_int_equal(kms_generate_data_key(k, NULL, 32, dek, &blob, &err), -1);
	assert_int_equal(kms_encrypt(k, &empty, "x", 1, &blob, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);

	zone_ctx(&ctx, "sales");
	zone_ctx(&hr, "hr");
	assert_int_equal(kms_generate_data_key(k, &ctx, 32, dek, &blob, &err), 0);
	assert_int_equal(kms_decrypt(k, &empty, blob.ptr, blob.len, out, sizeof(out), &n, &err),
	                 -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);
	/* another database in the context */
	assert_int_equal(kms_decrypt(k, &hr, blob.ptr, blob.len, out, sizeof(out), &n, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID_CIPHERTEXT);
	assert_string_equal(kms_err_reason(err.kind), "KMSInvalidCiphertext");
	/* a context with one more pair */
	assert_int_equal(kms_context_add(&hr, "extra", "1"), 0);
	assert_int_equal(kms_decrypt(k, &hr, blob.ptr, blob.len, out, sizeof(out), &n, &err), -1);
	/* every flipped byte */
	for (size_t i = 0; i < blob.len; i++) {
		blob.ptr[i] ^= 0x10;
		assert_int_equal(
		    kms_decrypt(k, &ctx, blob.ptr, blob.len, out, sizeof(out), &n, &err), -1);
		assert_int_equal(err.kind, KMS_ERR_INVALID_CIPHERTEXT);
		blob.ptr[i] ^= 0x10;
	}
	/* another root key */
	memcpy(root2, ROOT, 32);
	root2[0] ^= 1;
	assert_int_equal(kms_local_new(root2, 32, &other, &err), 0);
	assert_int_equal(kms_decrypt(other, &ctx, blob.ptr, blob.len, out, sizeof(out), &n, &err),
	                 -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID_CIPHERTEXT);
	/* sizes */
	assert_int_equal(kms_generate_data_key(k, &ctx, 0, dek, &blob, &err), -1);
	assert_int_equal(kms_generate_data_key(k, &ctx, KMS_MAX_DATA_KEY + 1, dek, &blob, &err),
	                 -1);
	assert_int_equal(kms_local_new(ROOT, 16, &other, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);
	OPENSSL_cleanse(dek, sizeof(dek));
	buf_free(&blob);
	kms_free(other);
	kms_free(k);
}

/* ---- aws-kms, pure parts ------------------------------------------------- */

static void test_aws_arn(void **state)
{
	char region[32];
	struct kms_error err;

	assert_int_equal(kms_aws_parse_arn(ARN, region, sizeof(region), &err), 0);
	assert_string_equal(region, "us-east-1");
	assert_int_equal(kms_aws_parse_arn("arn:aws:kms:eu-west-3:111122223333:alias/vecward/prod",
	                                   region, sizeof(region), &err),
	                 0);
	assert_string_equal(region, "eu-west-3");
	assert_int_equal(kms_aws_parse_arn("arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1a2b",
	                                   region, sizeof(region), &err),
	                 0);
	assert_string_equal(region, "cn-north-1");

	static const char *const bad[] = {
	    "1234abcd-12ab-34cd-56ef-1234567890ab",
	    "alias/prod",
	    "arn:aws:s3:us-east-1:111122223333:key/abc",
	    "arn:aws:kms::111122223333:key/abc",
	    "arn:aws:kms:us-east-1:1111:key/abc",
	    "arn:aws:kms:us-east-1:111122223333:user/abc",
	    "arn:aws:kms:us-east-1:111122223333:key/",
	    "arn:aws:kms:US-EAST-1:111122223333:key/abc",
	    "arn:aws:kms:us-east-1:111122223333:key/abc def",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kms_aws_parse_arn(bad[i], region, sizeof(region), &err), -1);
		assert_int_equal(err.kind, KMS_ERR_INVALID);
	}
	assert_int_equal(kms_aws_parse_arn(NULL, region, sizeof(region), &err), -1);
}

static void test_aws_request_bodies(void **state)
{
	struct kms_context ctx;
	struct kms_error err;
	struct buf b = BUF_INIT(16384);
	struct kms_aws_call c = {KMS_AWS_DESCRIBE_KEY, ARN, NULL, 0, NULL, 0};

	assert_int_equal(kms_aws_request_body(&c, &b, &err), 0);
	assert_string_equal(b.ptr, "{\"KeyId\":\"" ARN "\"}");

	kms_context_init(&ctx);
	assert_int_equal(kms_context_add(&ctx, "database", "sa\"les\\\n"), 0);
	assert_int_equal(kms_context_add(&ctx, "cluster", "u1"), 0);
	buf_reset(&b);
	c = (struct kms_aws_call){KMS_AWS_GENERATE_DATA_KEY, ARN, &ctx, 32, NULL, 0};
	assert_int_equal(kms_aws_request_body(&c, &b, &err), 0);
	assert_string_equal(b.ptr, "{\"KeyId\":\"" ARN "\",\"NumberOfBytes\":32,"
	                           "\"EncryptionContext\":{\"cluster\":\"u1\","
	                           "\"database\":\"sa\\\"les\\\\\\u000a\"}}");
	/* the body is valid JSON with the context as sent */
	{
		yajl_val v = NULL;
		assert_int_equal(json_parse(b.ptr, b.len, 8, 0, &v, NULL, 0), 0);
		assert_string_equal(json_get_str(v, "EncryptionContext", "database", NULL),
		                    "sa\"les\\\n");
		yajl_tree_free(v);
	}

	buf_reset(&b);
	c = (struct kms_aws_call){KMS_AWS_ENCRYPT, ARN, &ctx, 0, "hi!", 3};
	assert_int_equal(kms_aws_request_body(&c, &b, &err), 0);
	assert_non_null(strstr(b.ptr, "\"Plaintext\":\"aGkh\""));
	buf_reset(&b);
	c = (struct kms_aws_call){KMS_AWS_DECRYPT, ARN, &ctx, 0, "\x01\x02\x03", 3};
	assert_int_equal(kms_aws_request_body(&c, &b, &err), 0);
	assert_string_equal(b.ptr, "{\"KeyId\":\"" ARN "\",\"CiphertextBlob\":\"AQID\","
	                           "\"EncryptionContext\":{\"cluster\":\"u1\","
	                           "\"database\":\"sa\\\"les\\\\\\u000a\"}}");

	/* no context, no request */
	kms_context_init(&ctx);
	buf_reset(&b);
	c = (struct kms_aws_call){KMS_AWS_DECRYPT, ARN, &ctx, 0, "\x01", 1};
	assert_int_equal(kms_aws_request_body(&c, &b, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);
	assert_int_equal(b.len, 0);
	buf_free_secret(&b);
}

/* Cross-checked with botocore's SigV4Auth for the same request and date. */
static void test_aws_signed_headers(void **state)
{
	static const char body[] = "{\"KeyId\":\"" ARN "\"}";
	struct buf h = BUF_INIT(8192);
	size_t n = 0;
	const char *p;

	assert_int_equal(kms_aws_signed_headers(KMS_AWS_DESCRIBE_KEY, "kms.us-east-1.amazonaws.com",
	                                        "us-east-1", AKID, SECRET, NULL, DATE, body,
	                                        strlen(body), &h, &n),
	                 0);
	assert_int_equal(n, 5);
	p = h.ptr;
	assert_string_equal(p, "Host: kms.us-east-1.amazonaws.com");
	p += strlen(p) + 1;
	assert_string_equal(p, "Content-Type: application/x-amz-json-1.1");
	p += strlen(p) + 1;
	assert_string_equal(p, "X-Amz-Target: TrentService.DescribeKey");
	p += strlen(p) + 1;
	assert_string_equal(p, "X-Amz-Date: " DATE);
	p += strlen(p) + 1;
	assert_string_equal(
	    p, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/"
	       "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
	       "Signature=210629a49d2c28442f2cae2a9828b68c77eda57985f0812811baa19a822f06d2");

	buf_reset(&h);
	assert_int_equal(kms_aws_signed_headers(KMS_AWS_DESCRIBE_KEY, "127.0.0.1:4566", "us-east-1",
	                                        AKID, SECRET, "session-token-example", DATE, body,
	                                        strlen(body), &h, &n),
	                 0);
	assert_int_equal(n, 6);
	p = h.ptr;
	for (int i = 0; i < 4; i++)
		p += strlen(p) + 1;
	assert_string_equal(p, "X-Amz-Security-Token: session-token-example");
	p += strlen(p) + 1;
	assert_string_equal(
	    p, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/"
	       "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;"
	       "x-amz-target, "
	       "Signature=944b250804882428635126bc63ca29427b3b5f47ef894caec74b1e027029b35f");
	buf_free_secret(&h);
}

struct err_case {
	long http;
	const char *body;
	enum kms_err_kind kind;
	const char *type;
	int retryable;
};

static void test_aws_errors(void **state)
{
	static const struct err_case cases[] = {
	    {400, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}",
	     KMS_ERR_THROTTLED, "ThrottlingException", 1},
	    {429, NULL, KMS_ERR_THROTTLED, "", 1},
	    {400, "{\"__type\":\"AccessDeniedException\",\"Message\":\"not authorized\"}",
	     KMS_ERR_ACCESS_DENIED, "AccessDeniedException", 0},
	    {400, "{\"__type\":\"UnrecognizedClientException\",\"message\":\"bad token\"}",
	     KMS_ERR_ACCESS_DENIED, "UnrecognizedClientException", 0},
	    {400, "{\"__type\":\"DisabledException\",\"message\":\"" ARN " is disabled.\"}",
	     KMS_ERR_KEY_DISABLED, "DisabledException", 0},
	    {400, "{\"__type\":\"KMSInvalidStateException\",\"message\":\"pending deletion\"}",
	     KMS_ERR_KEY_DISABLED, "KMSInvalidStateException", 0},
	    {400, "{\"__type\":\"com.amazonaws.kms#NotFoundException\",\"message\":\"x\"}",
	     KMS_ERR_NOT_FOUND, "NotFoundException", 0},
	    {400, "{\"__type\":\"InvalidCiphertextException\"}", KMS_ERR_INVALID_CIPHERTEXT,
	     "InvalidCiphertextException", 0},
	    {400, "{\"__type\":\"ValidationException\",\"message\":\"bad\"}", KMS_ERR_INVALID,
	     "ValidationException", 0},
	    {500, "{\"__type\":\"KMSInternalException\"}", KMS_ERR_INTERNAL, "KMSInternalException",
	     1},
	    {500, "{\"__type\":\"DependencyTimeoutException\"}", KMS_ERR_UNREACHABLE,
	     "DependencyTimeoutException", 1},
	    {503, "<html>Service Unavailable</html>", KMS_ERR_UNREACHABLE, "", 1},
	    {502, NULL, KMS_ERR_UNREACHABLE, "", 1},
	    {403, "not json", KMS_ERR_ACCESS_DENIED, "", 0},
	    {404, "", KMS_ERR_NOT_FOUND, "", 0},
	    {400, "{\"__type\":\"SomethingNewException\"}", KMS_ERR_INVALID,
	     "SomethingNewException", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct err_case *c = &cases[i];
		struct kms_error err;
		kms_aws_error_from_response(KMS_AWS_DECRYPT, c->http, c->body,
		                            c->body ? strlen(c->body) : 0, &err);
		if (err.kind != c->kind || strcmp(err.aws_type, c->type) ||
		    err.retryable != c->retryable)
			fail_msg("case %zu: kind %s type '%s' retry %d", i, kms_err_name(err.kind),
			         err.aws_type, err.retryable);
		assert_int_equal(err.http, c->http);
		assert_true(strncmp(err.message, "Decrypt: ", 9) == 0);
	}
	/* what the service says is redacted */
	{
		static const char leak[] = "{\"__type\":\"InvalidSignatureException\",\"message\":"
		                           "\"Signature expired for AKIAIOSFODNN7EXAMPLE. The "
		                           "Canonical String for this request should have been "
		                           "'x-amz-security-token:IQoJb3JpZ2luX2VjEJr'\"}";
		struct kms_error err;
		char s[512];
		kms_aws_error_from_response(KMS_AWS_DESCRIBE_KEY, 400, leak, strlen(leak), &err);
		assert_int_equal(err.kind, KMS_ERR_ACCESS_DENIED);
		assert_string_equal(err.message, "DescribeKey: Signature expired for [redacted].");
		assert_string_equal(kms_strerror(&err, s, sizeof(s)),
		                    "KMSAccessDenied (InvalidSignatureException): DescribeKey: "
		                    "Signature expired for [redacted].");
	}
}

static void test_aws_parse_responses(void **state)
{
	static const char describe[] =
	    "{\"KeyMetadata\":{\"AWSAccountId\":\"111122223333\",\"Arn\":\"" ARN "\","
	    "\"CreationDate\":1.4409381E9,\"Enabled\":false,\"KeyId\":"
	    "\"1234abcd-12ab-34cd-56ef-1234567890ab\",\"KeyManager\":\"CUSTOMER\","
	    "\"KeySpec\":\"SYMMETRIC_DEFAULT\",\"KeyState\":\"Disabled\","
	    "\"KeyUsage\":\"ENCRYPT_DECRYPT\",\"Origin\":\"AWS_KMS\"}}";
	/* Plaintext: 32 bytes 0x00..0x1f; blob: "blob" */
	static const char datakey[] =
	    "{\"CiphertextBlob\":\"YmxvYg==\",\"KeyId\":\"" ARN "\","
	    "\"Plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}";
	struct kms_key_info ki;
	struct kms_error err;
	struct buf blob = BUF_INIT(KMS_MAX_BLOB);
	uint8_t pt[64];
	size_t n = 0;

	assert_int_equal(kms_aws_parse_describe(describe, strlen(describe), &ki, &err), 0);
	assert_string_equal(ki.arn, ARN);
	assert_string_equal(ki.key_id, "1234abcd-12ab-34cd-56ef-1234567890ab");
	assert_string_equal(ki.state, "Disabled");
	assert_string_equal(ki.region, "us-east-1");
	assert_string_equal(ki.usage, "ENCRYPT_DECRYPT");
	assert_string_equal(ki.spec, "SYMMETRIC_DEFAULT");
	assert_int_equal(ki.enabled, 0);
	assert_false(kms_key_usable(&ki));
	assert_int_equal(kms_aws_parse_describe("{\"KeyMetadata\":{}}", 18, &ki, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INTERNAL);
	assert_int_equal(kms_aws_parse_describe("[1,2]", 5, &ki, &err), -1);

	assert_int_equal(kms_aws_parse_data_key(datakey, strlen(datakey), pt, 32, &blob, &err), 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(pt[i], i);
	assert_int_equal(blob.len, 4);
	assert_memory_equal(blob.ptr, "blob", 4);
	/* a key of another length than asked for */
	buf_reset(&blob);
	assert_int_equal(kms_aws_parse_data_key(datakey, strlen(datakey), pt, 16, &blob, &err), -1);
	assert_int_equal(blob.len, 0);
	assert_int_equal(kms_aws_parse_data_key("{\"CiphertextBlob\":\"YmxvYg==\","
	                                        "\"Plaintext\":\"not base64!\"}",
	                                        52, pt, 32, &blob, &err),
	                 -1);
	assert_null(strstr(err.message, "not base64!"));
	assert_int_equal(kms_aws_parse_data_key("{\"Plaintext\":\"AAEC\"}", 20, pt, 3, &blob, &err),
	                 -1);

	assert_int_equal(kms_aws_parse_encrypt("{\"CiphertextBlob\":\"AQID\"}", 25, &blob, &err),
	                 0);
	assert_int_equal(blob.len, 3);

	assert_int_equal(kms_aws_parse_decrypt("{\"Plaintext\":\"aGVsbG8=\",\"KeyId\":\"x\"}", 36,
	                                       pt, sizeof(pt), &n, &err),
	                 0);
	assert_int_equal(n, 5);
	assert_memory_equal(pt, "hello", 5);
	assert_int_equal(kms_aws_parse_decrypt("{\"Plaintext\":\"aGVsbG8=\"}", 24, pt, 4, &n, &err),
	                 -1);
	assert_int_equal(kms_aws_parse_decrypt("{\"Plaintext\":\"\"}", 16, pt, 4, &n, &err), -1);
	/* nesting deeper than the cap */
	{
		char deep[200];
		memset(deep, '[', 100);
		memset(deep + 100, ']', 100);
		assert_int_equal(kms_aws_parse_decrypt(deep, sizeof(deep), pt, 4, &n, &err), -1);
	}
	buf_free(&blob);
}

static void test_aws_backoff(void **state)
{
	assert_int_equal(kms_aws_backoff_ms(1, 100, 1000, 0), 50);
	assert_int_equal(kms_aws_backoff_ms(1, 100, 1000, 50), 100);
	assert_int_equal(kms_aws_backoff_ms(1, 100, 1000, 51), 50);
	assert_int_equal(kms_aws_backoff_ms(2, 100, 1000, 0), 100);
	assert_int_equal(kms_aws_backoff_ms(3, 100, 1000, 200), 400);
	assert_int_equal(kms_aws_backoff_ms(9, 100, 1000, 0), 500);
	for (uint32_t r = 0; r < 5000; r += 97) {
		long d = kms_aws_backoff_ms(30, 100, 1000, r);
		assert_true(d >= 500 && d <= 1000);
	}
	/* the worst case of three sleeps stays far below the 5 s budget */
	assert_true(kms_aws_backoff_ms(1, 100, 1000, UINT32_MAX) +
	                kms_aws_backoff_ms(2, 100, 1000, UINT32_MAX) +
	                kms_aws_backoff_ms(3, 100, 1000, UINT32_MAX) <=
	            700);
}

static void test_aws_parse_sts(void **state)
{
	static const char ok[] =
	    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
	    "2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials>"
	    "<AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>"
	    "<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>"
	    "<SessionToken>AQoEXAMPLEH4aoAH0gNCAPy&amp;more</SessionToken>"
	    "<Expiration>2014-10-24T23:00:23Z</Expiration></Credentials>"
	    "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
	struct kms_aws_creds c = {0};
	struct kms_error err;

	assert_int_equal(kms_aws_parse_sts(ok, strlen(ok), &c, &err), 0);
	assert_string_equal(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
	assert_string_equal(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
	assert_string_equal(c.session_token, "AQoEXAMPLEH4aoAH0gNCAPy&more");
	assert_int_equal(c.expires, 1414191623LL);
	kms_aws_creds_clear(&c);
	assert_null(c.access_key_id);
	assert_int_equal(kms_aws_parse_sts("<Credentials></Credentials>", 27, &c, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INTERNAL);
}

static void test_aws_config_errors(void **state)
{
	struct kms *k = NULL;
	struct kms_error err;
	struct kms_aws_config cfg = {.key_id = "alias/prod"};

	assert_int_equal(kms_aws_new(&cfg, &k, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);
	cfg.key_id = ARN;
	cfg.endpoint = "http://kms.example.com";
	assert_int_equal(kms_aws_new(&cfg, &k, &err), -1);
	assert_non_null(strstr(err.message, "loopback"));
	cfg.endpoint = "https://kms.example.com/some/path";
	assert_int_equal(kms_aws_new(&cfg, &k, &err), -1);
	cfg.endpoint = "ftp://kms.example.com";
	assert_int_equal(kms_aws_new(&cfg, &k, &err), -1);
	cfg.endpoint = NULL;
	cfg.access_key_id = AKID; /* without its secret */
	assert_int_equal(kms_aws_new(&cfg, &k, &err), -1);
	cfg.secret_access_key = SECRET;
	assert_int_equal(kms_aws_new(&cfg, &k, &err), 0);
	assert_string_equal(kms_provider(k), "aws-kms");
	kms_free(k);
}

/* ---- aws-kms against a local HTTP server -------------------------------- */

struct reply {
	int status;
	const char *body;
};

struct srv {
	int fd, port;
	pthread_t th;
	volatile int stop;
	const struct reply *script;
	int nscript;
	int served;
	int bad_signatures;
	char target[128];
	char body[8192];
};

static char *find_header(char *head, const char *name)
{
	size_t n = strlen(name);

	for (char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
		char *s = l + 2;
		if (!strncasecmp(s, name, n) && s[n] == ':') {
			s += n + 1;
			while (*s == ' ')
				s++;
			return s;
		}
	}
	return NULL;
}

static void copy_line(char *dst, size_t len, const char *src)
{
	size_t n = src ? strcspn(src, "\r\n") : 0;

	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Re-sign the received request from its own headers and body; 1 if the
 * Authorization header matches. */
static int signature_matches(char *head, const char *body, size_t blen)
{
	char host[256], ct[128], target[128], date[32], auth[512];
	struct sigv4_header h[3] = {{"Host", host}, {"Content-Type", ct}, {"X-Amz-Target", target}};
	struct sigv4_request r = {"POST", "/", NULL, h, 3, body, blen};
	struct sigv4_credentials cr = {AKID, SECRET, NULL};
	struct buf a = BUF_INIT(1024);
	int ok;

	copy_line(host, sizeof(host), find_header(head, "Host"));
	copy_line(ct, sizeof(ct), find_header(head, "Content-Type"));
	copy_line(target, sizeof(target), find_header(head, "X-Amz-Target"));
	copy_line(date, sizeof(date), find_header(head, "X-Amz-Date"));
	copy_line(auth, sizeof(auth), find_header(head, "Authorization"));
	ok = sigv4_sign(&r, &cr, "us-east-1", "kms", date, &a, NULL, NULL) == 0 &&
	     strcmp(a.ptr, auth) == 0;
	buf_free(&a);
	return ok;
}

static void serve_one(struct srv *s, int c)
{
	char req[16384];
	size_t got = 0;
	char *end = NULL, *cl;
	long blen = 0;
	const struct reply *r;
	char resp[1024];
	int n;

	while (got < sizeof(req) - 1) {
		ssize_t k = read(c, req + got, sizeof(req) - 1 - got);
		if (k <= 0)
			return;
		got += (size_t)k;
		req[got] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (end) {
			cl = find_header(req, "Content-Length");
			blen = cl ? strtol(cl, NULL, 10) : 0;
			if (got >= (size_t)(end + 4 - req) + (size_t)blen)
				break;
		}
	}
	if (!end)
		return;
	end[2] = '\0'; /* headers end with their last CRLF */
	copy_line(s->target, sizeof(s->target), find_header(req, "X-Amz-Target"));
	if (blen > 0 && (size_t)blen < sizeof(s->body)) {
		memcpy(s->body, end + 4, (size_t)blen);
		s->body[blen] = '\0';
	}
	if (!signature_matches(req, end + 4, (size_t)blen))
		s->bad_signatures++;
	r = &s->script[s->served < s->nscript ? s->served : s->nscript - 1];
	s->served++;
	n = snprintf(resp, sizeof(resp),
	             "HTTP/1.1 %d X\r\nContent-Type: application/x-amz-json-1.1\r\n"
	             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	             r->status, strlen(r->body), r->body);
	if (write(c, resp, (size_t)n) != n)
		return;
}

static void *srv_loop(void *arg)
{
	struct srv *s = arg;

	while (!s->stop) {
		struct pollfd p = {s->fd, POLLIN, 0};
		int c;
		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve_one(s, c);
		close(c);
	}
	return NULL;
}

static void srv_start(struct srv *s, const struct reply *script, int n)
{
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->script = script;
	s->nscript = n;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0;
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, srv_loop, s), 0);
}

static void srv_stop(struct srv *s)
{
	s->stop = 1;
	pthread_join(s->th, NULL);
	close(s->fd);
}

static struct kms *aws_for(int port)
{
	char ep[64];
	struct kms *k = NULL;
	struct kms_error err;
	struct kms_aws_config cfg = {
	    .key_id = ARN,
	    .endpoint = ep,
	    .access_key_id = AKID,
	    .secret_access_key = SECRET,
	    .backoff_base_ms = 1,
	    .timeout_ms = 20000,
	};

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
	if (kms_aws_new(&cfg, &k, &err))
		fail_msg("kms_aws_new: %s", err.message);
	return k;
}

#define THROTTLE                                                                                   \
	{                                                                                          \
		400, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}"          \
	}

static void test_aws_retries_throttling(void **state)
{
	static const struct reply script[] = {
	    THROTTLE,
	    THROTTLE,
	    {200, "{\"CiphertextBlob\":\"YmxvYg==\",\"KeyId\":\"" ARN "\","
	          "\"Plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}"},
	};
	struct srv s;
	struct kms *k;
	struct kms_context ctx;
	struct kms_error err;
	struct buf blob = BUF_INIT(KMS_MAX_BLOB);
	uint8_t dek[32];

	srv_start(&s, script, 3);
	k = aws_for(s.port);
	zone_ctx(&ctx, "sales");
	if (kms_generate_data_key(k, &ctx, 32, dek, &blob, &err))
		fail_msg("generate: %s", err.message);
	assert_int_equal(s.served, 3);
	assert_int_equal(err.kind, KMS_OK);
	assert_int_equal(dek[31], 31);
	assert_int_equal(blob.len, 4);
	assert_int_equal(s.bad_signatures, 0);
	assert_string_equal(s.target, "TrentService.GenerateDataKey");
	assert_non_null(strstr(s.body,
	                       "\"EncryptionContext\":{\"vecward.io/cluster\":\"5f0c1d7e\","
	                       "\"vecward.io/database\":\"sales\",\"vecward.io/version\":\"3\"}"));
	assert_non_null(strstr(s.body, "\"NumberOfBytes\":32"));
	OPENSSL_cleanse(dek, sizeof(dek));
	buf_free(&blob);
	kms_free(k);
	srv_stop(&s);
}

static void test_aws_no_retry_on_access_denied(void **state)
{
	static const struct reply script[] = {
	    {400, "{\"__type\":\"AccessDeniedException\",\"message\":\"User: arn:aws:iam::"
	          "111122223333:role/x is not authorized to perform: kms:Decrypt\"}"},
	    {200, "{\"Plaintext\":\"aGVsbG8=\"}"},
	};
	struct srv s;
	struct kms *k;
	struct kms_context ctx;
	struct kms_error err;
	uint8_t pt[64];
	size_t n = 0;

	srv_start(&s, script, 2);
	k = aws_for(s.port);
	zone_ctx(&ctx, "sales");
	assert_int_equal(kms_decrypt(k, &ctx, "blob", 4, pt, sizeof(pt), &n, &err), -1);
	assert_int_equal(s.served, 1);
	assert_int_equal(err.attempts, 1);
	assert_int_equal(err.kind, KMS_ERR_ACCESS_DENIED);
	assert_string_equal(err.aws_type, "AccessDeniedException");
	assert_string_equal(kms_err_reason(err.kind), "KMSAccessDenied");
	assert_int_equal(err.http, 400);
	assert_string_equal(s.target, "TrentService.Decrypt");
	/* KeyId and the context go with Decrypt too */
	assert_non_null(strstr(s.body, "\"KeyId\":\"" ARN "\""));
	assert_non_null(strstr(s.body, "\"CiphertextBlob\":\"YmxvYg==\""));
	assert_non_null(strstr(s.body, "\"EncryptionContext\":{"));
	assert_int_equal(s.bad_signatures, 0);
	kms_free(k);
	srv_stop(&s);
}

static void test_aws_bounded_attempts(void **state)
{
	static const struct reply script[] = {
	    {500, "{\"__type\":\"KMSInternalException\"}"},
	};
	struct srv s;
	struct kms *k;
	struct kms_key_info ki;
	struct kms_error err;

	srv_start(&s, script, 1);
	k = aws_for(s.port);
	assert_int_equal(kms_describe(k, &ki, &err), -1);
	assert_int_equal(s.served, 4);
	assert_int_equal(err.attempts, 4);
	assert_int_equal(err.kind, KMS_ERR_INTERNAL);
	assert_int_equal(err.retryable, 1);
	kms_free(k);
	srv_stop(&s);
}

static void test_aws_describe_and_disabled(void **state)
{
	static const struct reply script[] = {
	    {200, "{\"KeyMetadata\":{\"Arn\":\"" ARN "\",\"KeyId\":\"1234\","
	          "\"KeyState\":\"Enabled\",\"Enabled\":true,\"KeyUsage\":\"ENCRYPT_DECRYPT\","
	          "\"KeySpec\":\"SYMMETRIC_DEFAULT\"}}"},
	    {400, "{\"__type\":\"DisabledException\",\"message\":\"" ARN " is disabled.\"}"},
	};
	struct srv s;
	struct kms *k;
	struct kms_key_info ki;
	struct kms_context ctx;
	struct kms_error err;
	struct buf blob = BUF_INIT(KMS_MAX_BLOB);

	srv_start(&s, script, 2);
	k = aws_for(s.port);
	assert_int_equal(kms_describe(k, &ki, &err), 0);
	assert_string_equal(s.target, "TrentService.DescribeKey");
	assert_string_equal(s.body, "{\"KeyId\":\"" ARN "\"}");
	assert_true(kms_key_usable(&ki));
	assert_string_equal(ki.region, "us-east-1");
	zone_ctx(&ctx, "sales");
	assert_int_equal(kms_encrypt(k, &ctx, "x", 1, &blob, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_KEY_DISABLED);
	assert_int_equal(err.attempts, 1);
	assert_string_equal(kms_err_reason(err.kind), "KMSKeyDisabled");
	assert_int_equal(blob.len, 0);
	assert_int_equal(s.bad_signatures, 0);
	buf_free(&blob);
	kms_free(k);
	srv_stop(&s);
}

static void test_aws_context_required_before_io(void **state)
{
	static const struct reply script[] = {{200, "{}"}};
	struct srv s;
	struct kms *k;
	struct kms_context empty;
	struct kms_error err;
	struct buf blob = BUF_INIT(KMS_MAX_BLOB);
	uint8_t dek[32];

	srv_start(&s, script, 1);
	k = aws_for(s.port);
	kms_context_init(&empty);
	assert_int_equal(kms_generate_data_key(k, &empty, 32, dek, &blob, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_INVALID);
	assert_int_equal(kms_encrypt(k, NULL, "x", 1, &blob, &err), -1);
	assert_int_equal(s.served, 0);
	kms_free(k);
	srv_stop(&s);
}

static void test_aws_unreachable(void **state)
{
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	struct kms *k;
	struct kms_key_info ki;
	struct kms_error err;

	/* a port that was free a moment ago and has nobody listening */
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);
	k = aws_for(port);
	assert_int_equal(kms_describe(k, &ki, &err), -1);
	assert_int_equal(err.kind, KMS_ERR_UNREACHABLE);
	assert_int_equal(err.retryable, 1);
	assert_int_equal(err.attempts, 4);
	assert_int_equal(err.http, 0);
	assert_string_equal(kms_err_reason(err.kind), "KMSUnreachable");
	kms_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_context),
	    cmocka_unit_test(test_reasons),
	    cmocka_unit_test(test_redact),
	    cmocka_unit_test(test_local_round_trips),
	    cmocka_unit_test(test_local_context_required_and_binding),
	    cmocka_unit_test(test_aws_arn),
	    cmocka_unit_test(test_aws_request_bodies),
	    cmocka_unit_test(test_aws_signed_headers),
	    cmocka_unit_test(test_aws_errors),
	    cmocka_unit_test(test_aws_parse_responses),
	    cmocka_unit_test(test_aws_backoff),
	    cmocka_unit_test(test_aws_parse_sts),
	    cmocka_unit_test(test_aws_config_errors),
	    cmocka_unit_test(test_aws_retries_throttling),
	    cmocka_unit_test(test_aws_no_retry_on_access_denied),
	    cmocka_unit_test(test_aws_bounded_attempts),
	    cmocka_unit_test(test_aws_describe_and_disabled),
	    cmocka_unit_test(test_aws_context_required_before_io),
	    cmocka_unit_test(test_aws_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
