/*
 * Tests for operator/pki: CA and leaf certificates, verification, renewal
 * decisions, CA rotation bundles, and real TLS handshakes over memory BIO
 * pairs with the certificates issued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "unit.h"

/* A fixed "now" for everything that does not go through a real handshake. */
#define T0   ((time_t)1800000000) /* 2027-01-15T08:00:00Z */
#define HOUR ((time_t)3600)
#define DAY  (24 * HOUR)
#define YEAR (365 * DAY)

static const char *const SVC_DNS[] = {"prod", "prod.search", "prod.search.svc",
                                      "prod.search.svc.cluster.local"};
static const char *const SVC_IPS[] = {"10.96.0.12", "::1"};

/* ---- helpers --------------------------------------------------------------- */

static X509 *x509_of(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;

	assert_non_null(b);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *pkey_of(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k;

	assert_non_null(b);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(k);
	return k;
}

static int ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static void ca_new(enum pki_key_alg alg, time_t lifetime, time_t now, struct pki_pair *ca)
{
	char err[256] = "";

	memset(ca, 0, sizeof(*ca));
	if (pki_ca_create("vecward search/prod CA", alg, lifetime, now, ca, err, sizeof(err)) != 0)
		fail_msg("pki_ca_create: %s", err);
}

static void leaf_new(const struct pki_pair *ca, const char *cn, enum pki_usage usage,
                     enum pki_key_alg alg, time_t lifetime, time_t now, struct pki_pair *out)
{
	struct pki_leaf_req req = {
	    .cn = cn,
	    .dns = SVC_DNS,
	    .ndns = 4,
	    .ips = SVC_IPS,
	    .nips = 2,
	    .usage = usage,
	    .alg = alg,
	    .lifetime = lifetime,
	};
	char err[256] = "";

	memset(out, 0, sizeof(*out));
	if (pki_issue(ca->cert_pem, ca->key_pem, &req, now, out, err, sizeof(err)) != 0)
		fail_msg("pki_issue: %s", err);
}

static void server_new(const struct pki_pair *ca, time_t now, struct pki_pair *out)
{
	leaf_new(ca, "prod.search.svc", PKI_USAGE_SERVER, PKI_KEY_ECDSA_P256, 90 * DAY, now, out);
}

static char *concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	assert_non_null(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

static void fingerprint_of(const char *pem, char fp[PKI_FINGERPRINT_LEN])
{
	struct pki_cert_info info;
	char err[256];

	assert_int_equal(pki_cert_info(pem, &info, err, sizeof(err)), 0);
	memcpy(fp, info.fingerprint, PKI_FINGERPRINT_LEN);
	pki_cert_info_free(&info);
}

/* ---- key algorithms ------------------------------------------------------------ */

static void test_key_alg_parse(void **state)
{
	enum pki_key_alg a = PKI_KEY_OTHER;

	assert_int_equal(pki_key_alg_parse("ECDSA-P256", &a), 0);
	assert_int_equal(a, PKI_KEY_ECDSA_P256);
	assert_int_equal(pki_key_alg_parse("RSA-2048", &a), 0);
	assert_int_equal(a, PKI_KEY_RSA_2048);
	assert_int_equal(pki_key_alg_parse("RSA-4096", &a), 0);
	assert_int_equal(a, PKI_KEY_RSA_4096);
	a = PKI_KEY_OTHER;
	assert_int_equal(pki_key_alg_parse(NULL, &a), 0);
	assert_int_equal(a, PKI_KEY_ECDSA_P256);
	a = PKI_KEY_OTHER;
	assert_int_equal(pki_key_alg_parse("", &a), 0);
	assert_int_equal(a, PKI_KEY_ECDSA_P256);

	a = PKI_KEY_RSA_4096;
	assert_int_equal(pki_key_alg_parse("rsa-2048", &a), -1);
	assert_int_equal(pki_key_alg_parse("RSA-1024", &a), -1);
	assert_int_equal(pki_key_alg_parse("ECDSA-P384", &a), -1);
	assert_int_equal(pki_key_alg_parse("ECDSA-P256 ", &a), -1);
	assert_int_equal(a, PKI_KEY_RSA_4096); /* untouched on failure */

	assert_string_equal(pki_key_alg_name(PKI_KEY_ECDSA_P256), "ECDSA-P256");
	assert_string_equal(pki_key_alg_name(PKI_KEY_RSA_2048), "RSA-2048");
	assert_string_equal(pki_key_alg_name(PKI_KEY_RSA_4096), "RSA-4096");
	assert_string_equal(pki_key_alg_name(PKI_KEY_OTHER), "other");
}

/* ---- CA ------------------------------------------------------------------------ */

static void test_ca_properties(void **state)
{
	struct pki_pair ca, ca2;
	struct pki_cert_info info;
	char err[256];
	X509 *x;
	BIGNUM *serial;
	EVP_PKEY *k;
	char group[32];
	size_t glen;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	assert_non_null(strstr(ca.cert_pem, "-----BEGIN CERTIFICATE-----"));
	assert_true(strncmp(ca.key_pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);

	assert_int_equal(pki_cert_info(ca.cert_pem, &info, err, sizeof(err)), 0);
	assert_true(info.is_ca);
	assert_string_equal(info.cn, "vecward search/prod CA");
	assert_int_equal(info.not_before, T0 - PKI_BACKDATE);
	assert_int_equal(info.not_after, T0 + 10 * YEAR);
	assert_int_equal(info.alg, PKI_KEY_ECDSA_P256);
	assert_int_equal(info.key_bits, 256);
	assert_int_equal(info.ndns, 0);
	assert_int_equal(strlen(info.fingerprint), 64);
	pki_cert_info_free(&info);

	x = x509_of(ca.cert_pem);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_true(X509_get_extension_flags(x) & EXFLAG_CA);
	assert_true(X509_get_extension_flags(x) & EXFLAG_SS); /* self-signed */
	assert_int_equal(X509_get_pathlen(x), 0);
	assert_true(ext_critical(x, NID_basic_constraints));
	assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_true(ext_critical(x, NID_key_usage));
	assert_non_null(X509_get0_subject_key_id(x));
	assert_int_equal(
	    ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(x), X509_get0_authority_key_id(x)), 0);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	/* serial: positive, non-zero, at most 128 bits */
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(serial);
	assert_false(BN_is_negative(serial));
	assert_false(BN_is_zero(serial));
	assert_true(BN_num_bits(serial) <= 128);
	BN_free(serial);

	/* the key is a P-256 key and belongs to the certificate */
	k = pkey_of(ca.key_pem);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof(group), &glen), 1);
	assert_string_equal(group, "prime256v1");
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
	EVP_PKEY_free(k);
	X509_free(x);

	/* the CA verifies as its own trust anchor, only while valid */
	assert_int_equal(
	    pki_verify(ca.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_ANY, NULL, err, sizeof(err)), 0);
	assert_int_equal(pki_verify(ca.cert_pem, ca.cert_pem, T0 + 11 * YEAR, PKI_PURPOSE_ANY, NULL,
	                            err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "certificate has expired");

	/* two CAs never share a serial or a key */
	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca2);
	{
		struct pki_cert_info a, b;

		assert_int_equal(pki_cert_info(ca.cert_pem, &a, err, sizeof(err)), 0);
		assert_int_equal(pki_cert_info(ca2.cert_pem, &b, err, sizeof(err)), 0);
		assert_string_not_equal(a.serial, b.serial);
		assert_string_not_equal(a.fingerprint, b.fingerprint);
		pki_cert_info_free(&a);
		pki_cert_info_free(&b);
	}
	assert_int_equal(pki_key_matches(ca.cert_pem, ca2.key_pem, err, sizeof(err)), 0);
	pki_pair_free(&ca2);
	pki_pair_free(&ca);
	assert_null(ca.cert_pem);
	assert_null(ca.key_pem);
}

static void test_ca_create_rejects_bad_input(void **state)
{
	struct pki_pair ca = {NULL, NULL};
	char err[256];
	char longcn[200];
	struct pki_cert_info info;

	assert_int_equal(pki_ca_create("", PKI_KEY_ECDSA_P256, YEAR, T0, &ca, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "ca common name is empty");
	assert_int_equal(pki_ca_create("x", PKI_KEY_OTHER, YEAR, T0, &ca, err, sizeof(err)), -1);
	assert_string_equal(err, "ca key algorithm is not supported");
	assert_int_equal(pki_ca_create("x", PKI_KEY_ECDSA_P256, 0, T0, &ca, err, sizeof(err)), -1);
	assert_string_equal(err, "ca lifetime 0 s is out of range");
	assert_int_equal(pki_ca_create("x", PKI_KEY_ECDSA_P256, -5, T0, &ca, err, sizeof(err)), -1);
	assert_null(ca.cert_pem);
	assert_null(ca.key_pem);
	/* a tiny error buffer is truncated, never overrun */
	assert_int_equal(pki_ca_create("", PKI_KEY_ECDSA_P256, YEAR, T0, &ca, err, 4), -1);
	assert_string_equal(err, "ca ");
	assert_int_equal(pki_ca_create("", PKI_KEY_ECDSA_P256, YEAR, T0, &ca, NULL, 0), -1);

	/* a common name past 64 characters is cut at 64 (RFC 5280 upper bound) */
	memset(longcn, 'n', sizeof(longcn) - 1);
	longcn[sizeof(longcn) - 1] = '\0';
	assert_int_equal(pki_ca_create(longcn, PKI_KEY_ECDSA_P256, YEAR, T0, &ca, err, sizeof(err)),
	                 0);
	assert_int_equal(pki_cert_info(ca.cert_pem, &info, err, sizeof(err)), 0);
	assert_int_equal(strlen(info.cn), PKI_CN_MAX);
	pki_cert_info_free(&info);
	pki_pair_free(&ca);
}

/* ---- leaves -------------------------------------------------------------------- */

static void test_leaf_chains_to_ca_only(void **state)
{
	struct pki_pair ca, other, leaf;
	char err[256];
	X509 *xl, *xc;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &other);
	server_new(&ca, T0, &leaf);

	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0 + HOUR, PKI_PURPOSE_SERVER,
	                            "prod.search.svc", err, sizeof(err)),
	                 0);
	/* an unrelated CA, even with the very same name, does not verify it */
	assert_int_equal(pki_verify(leaf.cert_pem, other.cert_pem, T0 + HOUR, PKI_PURPOSE_ANY, NULL,
	                            err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "unable to get local issuer certificate");
	/* a bundle holding both does */
	{
		char *both = concat(other.cert_pem, ca.cert_pem);

		assert_int_equal(pki_verify(leaf.cert_pem, both, T0 + HOUR, PKI_PURPOSE_SERVER,
		                            NULL, err, sizeof(err)),
		                 0);
		free(both);
	}
	/* the leaf itself is no trust anchor for anything it signs: it cannot sign */
	assert_int_equal(
	    pki_verify(leaf.cert_pem, "not pem", T0, PKI_PURPOSE_ANY, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "trust bundle holds no pem certificate");
	assert_int_equal(
	    pki_verify("garbage", ca.cert_pem, T0, PKI_PURPOSE_ANY, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "certificate is not a pem certificate");

	/* the leaf's extensions */
	xl = x509_of(leaf.cert_pem);
	xc = x509_of(ca.cert_pem);
	assert_false(X509_get_extension_flags(xl) & EXFLAG_CA);
	assert_int_equal(X509_get_extension_flags(xl) & EXFLAG_BCONS, EXFLAG_BCONS);
	assert_true(ext_critical(xl, NID_basic_constraints));
	assert_int_equal(X509_get_key_usage(xl), KU_DIGITAL_SIGNATURE);
	assert_true(ext_critical(xl, NID_key_usage));
	assert_int_equal(X509_get_extended_key_usage(xl), XKU_SSL_SERVER);
	assert_false(ext_critical(xl, NID_ext_key_usage));
	assert_non_null(X509_get0_subject_key_id(xl));
	assert_int_equal(
	    ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(xl), X509_get0_subject_key_id(xc)), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(xl), X509_get_subject_name(xc)), 0);
	assert_int_equal(X509_get_signature_nid(xl), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_check_issued(xc, xl), X509_V_OK);
	X509_free(xl);
	X509_free(xc);

	pki_pair_free(&leaf);
	pki_pair_free(&other);
	pki_pair_free(&ca);
}

static void test_sans_exactly_as_requested(void **state)
{
	struct pki_pair ca, leaf;
	struct pki_cert_info info;
	char err[256];
	size_t i;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	server_new(&ca, T0, &leaf);
	assert_int_equal(pki_cert_info(leaf.cert_pem, &info, err, sizeof(err)), 0);
	assert_string_equal(info.cn, "prod.search.svc");
	assert_false(info.is_ca);
	assert_int_equal(info.ndns, 4);
	for (i = 0; i < 4; i++)
		assert_string_equal(info.dns[i], SVC_DNS[i]);
	assert_int_equal(info.nips, 2);
	assert_string_equal(info.ips[0], "10.96.0.12");
	assert_string_equal(info.ips[1], "::1");
	assert_int_equal(info.not_before, T0 - PKI_BACKDATE);
	assert_int_equal(info.not_after, T0 + 90 * DAY);
	pki_cert_info_free(&info);
	pki_pair_free(&leaf);

	/* no SANs at all: no subjectAltName extension */
	{
		struct pki_leaf_req req = {.cn = "milvus-client",
		                           .usage = PKI_USAGE_CLIENT,
		                           .alg = PKI_KEY_ECDSA_P256,
		                           .lifetime = DAY};
		X509 *x;

		assert_int_equal(
		    pki_issue(ca.cert_pem, ca.key_pem, &req, T0, &leaf, err, sizeof(err)), 0);
		x = x509_of(leaf.cert_pem);
		assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), -1);
		X509_free(x);
		assert_int_equal(pki_cert_info(leaf.cert_pem, &info, err, sizeof(err)), 0);
		assert_int_equal(info.ndns, 0);
		assert_int_equal(info.nips, 0);
		assert_null(info.dns);
		pki_cert_info_free(&info);
		pki_pair_free(&leaf);
	}
	pki_pair_free(&ca);
}

static void test_issue_rejects_bad_input(void **state)
{
	static const struct {
		const char *dns;
		const char *ip;
		const char *err;
	} bad[] = {
	    {"has space.svc", NULL, "dns name 0 is not a valid host name"},
	    {"-lead.svc", NULL, "dns name 0 is not a valid host name"},
	    {"trail-.svc", NULL, "dns name 0 is not a valid host name"},
	    {"a..b", NULL, "dns name 0 is not a valid host name"},
	    {"a.b.", NULL, "dns name 0 is not a valid host name"},
	    {"*.*.svc", NULL, "dns name 0 is not a valid host name"},
	    {"a.*.svc", NULL, "dns name 0 is not a valid host name"},
	    {"x,DNS:evil.com", NULL, "dns name 0 is not a valid host name"},
	    {"", NULL, "dns name 0 is not a valid host name"},
	    {NULL, "300.1.1.1", "ip address 0 is not an ipv4 or ipv6 literal"},
	    {NULL, "prod.svc", "ip address 0 is not an ipv4 or ipv6 literal"},
	};
	struct pki_pair ca, other, leaf = {NULL, NULL};
	char err[256];
	size_t i;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &other);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pki_leaf_req req = {.cn = "x",
		                           .dns = &bad[i].dns,
		                           .ndns = bad[i].dns ? 1 : 0,
		                           .ips = &bad[i].ip,
		                           .nips = bad[i].ip ? 1 : 0,
		                           .usage = PKI_USAGE_SERVER,
		                           .alg = PKI_KEY_ECDSA_P256,
		                           .lifetime = DAY};

		err[0] = '\0';
		assert_int_equal(
		    pki_issue(ca.cert_pem, ca.key_pem, &req, T0, &leaf, err, sizeof(err)), -1);
		assert_string_equal(err, bad[i].err);
		assert_null(leaf.cert_pem);
		assert_null(leaf.key_pem);
	}
	{
		/* a valid wildcard and a long but valid name are fine */
		const char *ok[] = {"*.prod.search.svc", "a-b.c-d.e0"};
		struct pki_leaf_req req = {.cn = "x",
		                           .dns = ok,
		                           .ndns = 2,
		                           .usage = PKI_USAGE_SERVER,
		                           .alg = PKI_KEY_ECDSA_P256,
		                           .lifetime = DAY};

		assert_int_equal(
		    pki_issue(ca.cert_pem, ca.key_pem, &req, T0, &leaf, err, sizeof(err)), 0);
		assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER,
		                            "milvus.prod.search.svc", err, sizeof(err)),
		                 0);
		pki_pair_free(&leaf);
	}
	{
		struct pki_leaf_req req = {.cn = "x",
		                           .usage = PKI_USAGE_SERVER,
		                           .alg = PKI_KEY_ECDSA_P256,
		                           .lifetime = DAY};

		/* the CA key must be the CA certificate's key */
		assert_int_equal(
		    pki_issue(ca.cert_pem, other.key_pem, &req, T0, &leaf, err, sizeof(err)), -1);
		assert_string_equal(err, "ca key does not match ca certificate");
		assert_int_equal(pki_issue(ca.cert_pem, "nope", &req, T0, &leaf, err, sizeof(err)),
		                 -1);
		assert_string_equal(err, "ca key is not an unencrypted pem private key");
		assert_int_equal(pki_issue("nope", ca.key_pem, &req, T0, &leaf, err, sizeof(err)),
		                 -1);
		assert_string_equal(err, "ca certificate is not a pem certificate: no start line");
		/* an expired CA signs nothing */
		assert_int_equal(pki_issue(ca.cert_pem, ca.key_pem, &req, T0 + 11 * YEAR, &leaf,
		                           err, sizeof(err)),
		                 -1);
		assert_string_equal(err, "ca certificate has expired");
		req.usage = 0;
		assert_int_equal(
		    pki_issue(ca.cert_pem, ca.key_pem, &req, T0, &leaf, err, sizeof(err)), -1);
		assert_string_equal(err, "certificate usage is not server, client or both");
		req.usage = PKI_USAGE_SERVER;
		req.cn = "";
		assert_int_equal(
		    pki_issue(ca.cert_pem, ca.key_pem, &req, T0, &leaf, err, sizeof(err)), -1);
		assert_string_equal(err, "certificate common name is empty");
		req.cn = "x";
		req.ndns = PKI_SANS_MAX + 1;
		req.dns = SVC_DNS; /* never read: the count is checked first */
		assert_int_equal(
		    pki_issue(ca.cert_pem, ca.key_pem, &req, T0, &leaf, err, sizeof(err)), -1);
		assert_string_equal(err, "certificate has more than 64 subject alternative names");
		assert_null(leaf.cert_pem);
	}
	{
		/* a leaf cannot act as a CA */
		struct pki_pair l2;
		struct pki_leaf_req req = {.cn = "x",
		                           .usage = PKI_USAGE_SERVER,
		                           .alg = PKI_KEY_ECDSA_P256,
		                           .lifetime = DAY};

		server_new(&ca, T0, &l2);
		assert_int_equal(
		    pki_issue(l2.cert_pem, l2.key_pem, &req, T0, &leaf, err, sizeof(err)), -1);
		assert_string_equal(err, "ca certificate is not a ca allowed to sign certificates");
		pki_pair_free(&l2);
	}
	pki_pair_free(&other);
	pki_pair_free(&ca);
}

static void test_purpose_enforced(void **state)
{
	struct pki_pair ca, srv, cli, both;
	char err[256];
	X509 *x;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	leaf_new(&ca, "srv", PKI_USAGE_SERVER, PKI_KEY_ECDSA_P256, DAY, T0, &srv);
	leaf_new(&ca, "cli", PKI_USAGE_CLIENT, PKI_KEY_ECDSA_P256, DAY, T0, &cli);
	leaf_new(&ca, "both", PKI_USAGE_BOTH, PKI_KEY_ECDSA_P256, DAY, T0, &both);

	x = x509_of(cli.cert_pem);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	X509_free(x);
	x = x509_of(both.cert_pem);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	X509_free(x);

	assert_int_equal(
	    pki_verify(srv.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER, NULL, err, sizeof(err)),
	    0);
	assert_int_equal(
	    pki_verify(srv.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_CLIENT, NULL, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "unsuitable certificate purpose");
	assert_int_equal(
	    pki_verify(cli.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_CLIENT, NULL, err, sizeof(err)),
	    0);
	assert_int_equal(
	    pki_verify(cli.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER, NULL, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "unsuitable certificate purpose");
	assert_int_equal(
	    pki_verify(both.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER, NULL, err, sizeof(err)),
	    0);
	assert_int_equal(
	    pki_verify(both.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_CLIENT, NULL, err, sizeof(err)),
	    0);
	pki_pair_free(&both);
	pki_pair_free(&cli);
	pki_pair_free(&srv);
	pki_pair_free(&ca);
}

static void test_hostname_check(void **state)
{
	struct pki_pair ca, leaf;
	char err[256];
	size_t i;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	server_new(&ca, T0, &leaf);
	for (i = 0; i < 4; i++)
		assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER,
		                            SVC_DNS[i], err, sizeof(err)),
		                 0);
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER,
	                            "PROD.Search.SVC", err, sizeof(err)),
	                 0);
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER,
	                            "other.search.svc", err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "hostname mismatch");
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER,
	                            "prod.search.svc.evil.com", err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "hostname mismatch");
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER,
	                            "10.96.0.12", err, sizeof(err)),
	                 0);
	assert_int_equal(
	    pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER, "::1", err, sizeof(err)),
	    0);
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER,
	                            "10.96.0.13", err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "IP address mismatch");
	pki_pair_free(&leaf);
	pki_pair_free(&ca);
}

/* ---- key types ----------------------------------------------------------------- */

static void test_ecdsa_p256_leaf(void **state)
{
	struct pki_pair ca, leaf;
	struct pki_cert_info info;
	char err[256], group[32];
	size_t glen;
	EVP_PKEY *k;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	server_new(&ca, T0, &leaf);
	k = pkey_of(leaf.key_pem);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(k), 256);
	assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof(group), &glen), 1);
	assert_string_equal(group, "prime256v1");
	EVP_PKEY_free(k);
	assert_int_equal(pki_cert_info(leaf.cert_pem, &info, err, sizeof(err)), 0);
	assert_int_equal(info.alg, PKI_KEY_ECDSA_P256);
	assert_int_equal(info.key_bits, 256);
	pki_cert_info_free(&info);
	pki_pair_free(&leaf);
	pki_pair_free(&ca);
}

static void test_rsa2048_leaf_and_ca(void **state)
{
	struct pki_pair ca, leaf;
	struct pki_cert_info info;
	char err[256];
	EVP_PKEY *k;
	X509 *x;

	/* an RSA-2048 CA signs with sha256WithRSAEncryption */
	ca_new(PKI_KEY_RSA_2048, 10 * YEAR, T0, &ca);
	x = x509_of(ca.cert_pem);
	assert_int_equal(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
	X509_free(x);
	assert_int_equal(pki_cert_info(ca.cert_pem, &info, err, sizeof(err)), 0);
	assert_int_equal(info.alg, PKI_KEY_RSA_2048);
	assert_int_equal(info.key_bits, 2048);
	pki_cert_info_free(&info);

	leaf_new(&ca, "prod.search.svc", PKI_USAGE_SERVER, PKI_KEY_RSA_2048, DAY, T0, &leaf);
	k = pkey_of(leaf.key_pem);
	assert_true(EVP_PKEY_is_a(k, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(k), 2048);
	EVP_PKEY_free(k);
	x = x509_of(leaf.cert_pem);
	/* RSA leaves also allow keyEncipherment */
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_int_equal(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
	X509_free(x);
	assert_int_equal(pki_cert_info(leaf.cert_pem, &info, err, sizeof(err)), 0);
	assert_int_equal(info.alg, PKI_KEY_RSA_2048);
	pki_cert_info_free(&info);
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0, PKI_PURPOSE_SERVER,
	                            "prod.search", err, sizeof(err)),
	                 0);
	assert_int_equal(pki_key_matches(leaf.cert_pem, leaf.key_pem, err, sizeof(err)), 1);
	pki_pair_free(&leaf);
	pki_pair_free(&ca);
}

/* The one RSA-4096 generation of the suite (it is slow). */
static void test_rsa4096_leaf(void **state)
{
	struct pki_pair ca, leaf;
	struct pki_cert_info info;
	char err[256];
	EVP_PKEY *k;
	time_t rt;
	struct pki_renew_want want = {.dns = SVC_DNS,
	                              .ndns = 4,
	                              .ips = SVC_IPS,
	                              .nips = 2,
	                              .alg = PKI_KEY_RSA_4096,
	                              .renew_before = 15 * DAY};

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	leaf_new(&ca, "prod.search.svc", PKI_USAGE_SERVER, PKI_KEY_RSA_4096, 90 * DAY, T0, &leaf);
	k = pkey_of(leaf.key_pem);
	assert_true(EVP_PKEY_is_a(k, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(k), 4096);
	EVP_PKEY_free(k);
	assert_int_equal(pki_cert_info(leaf.cert_pem, &info, err, sizeof(err)), 0);
	assert_int_equal(info.alg, PKI_KEY_RSA_4096);
	assert_int_equal(info.key_bits, 4096);
	pki_cert_info_free(&info);
	/* the renewal decision tells the RSA sizes apart */
	want.key_pem = leaf.key_pem;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &want, T0, &rt),
	                 PKI_RENEW_NONE);
	want.alg = PKI_KEY_RSA_2048;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &want, T0, &rt),
	                 PKI_RENEW_KEY_ALGORITHM_CHANGED);
	pki_pair_free(&leaf);
	pki_pair_free(&ca);
}

/* ---- validity ------------------------------------------------------------------ */

static void test_expiry(void **state)
{
	struct pki_pair ca, leaf, shortca;
	struct pki_cert_info info;
	char err[256];

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	leaf_new(&ca, "x", PKI_USAGE_SERVER, PKI_KEY_ECDSA_P256, HOUR, T0, &leaf);
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0 + HOUR / 2, PKI_PURPOSE_SERVER,
	                            NULL, err, sizeof(err)),
	                 0);
	/* backdated for clock skew: valid a minute before issuance */
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0 - 60, PKI_PURPOSE_SERVER, NULL,
	                            err, sizeof(err)),
	                 0);
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0 + HOUR + 1, PKI_PURPOSE_SERVER,
	                            NULL, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "certificate has expired");
	assert_int_equal(pki_verify(leaf.cert_pem, ca.cert_pem, T0 - HOUR, PKI_PURPOSE_SERVER, NULL,
	                            err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "certificate is not yet valid");
	pki_pair_free(&leaf);

	/* a leaf never outlives its CA */
	ca_new(PKI_KEY_ECDSA_P256, DAY, T0, &shortca);
	leaf_new(&shortca, "x", PKI_USAGE_SERVER, PKI_KEY_ECDSA_P256, 90 * DAY, T0, &leaf);
	assert_int_equal(pki_cert_info(leaf.cert_pem, &info, err, sizeof(err)), 0);
	assert_int_equal(info.not_after, T0 + DAY);
	pki_cert_info_free(&info);
	pki_pair_free(&leaf);
	pki_pair_free(&shortca);
	pki_pair_free(&ca);
}

/* ---- keys ---------------------------------------------------------------------- */

static void test_key_matches(void **state)
{
	struct pki_pair ca, a, b;
	char err[256];
	EVP_PKEY *k;
	BIO *bio;
	char *enc = NULL;
	long n;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	server_new(&ca, T0, &a);
	server_new(&ca, T0, &b);
	assert_int_equal(pki_key_matches(a.cert_pem, a.key_pem, err, sizeof(err)), 1);
	assert_int_equal(pki_key_matches(b.cert_pem, b.key_pem, err, sizeof(err)), 1);
	assert_int_equal(pki_key_matches(a.cert_pem, b.key_pem, err, sizeof(err)), 0);
	assert_int_equal(pki_key_matches(a.cert_pem, ca.key_pem, err, sizeof(err)), 0);
	assert_int_equal(pki_key_matches(a.cert_pem, "junk", err, sizeof(err)), -1);
	assert_string_equal(err, "key is not an unencrypted pem private key");
	assert_int_equal(pki_key_matches("junk", a.key_pem, err, sizeof(err)), -1);
	assert_string_equal(err, "certificate is not a pem certificate: no start line");
	/* a key PEM passed where a certificate belongs is not taken for one */
	assert_int_equal(pki_key_matches(a.key_pem, a.key_pem, err, sizeof(err)), -1);

	/* an encrypted key is refused without ever prompting for a passphrase */
	k = pkey_of(a.key_pem);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(
	    PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(), "pass", 4, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &enc);
	assert_true(n > 0);
	{
		char *s = strndup(enc, (size_t)n);

		assert_non_null(strstr(s, "ENCRYPTED PRIVATE KEY"));
		assert_int_equal(pki_key_matches(a.cert_pem, s, err, sizeof(err)), -1);
		free(s);
	}
	BIO_free(bio);
	EVP_PKEY_free(k);
	pki_pair_free(&b);
	pki_pair_free(&a);
	pki_pair_free(&ca);
}

/* ---- renewal ------------------------------------------------------------------- */

static void test_renewal_reasons(void **state)
{
	struct pki_pair ca, ca_renewed, leaf, other;
	const char *dns_more[] = {"prod", "prod.search", "prod.search.svc",
	                          "prod.search.svc.cluster.local", "prod-internal"};
	const char *dns_fewer[] = {"prod", "prod.search"};
	const char *dns_shuffled[] = {"PROD.search.svc.cluster.local", "prod.search", "prod",
	                              "prod.search.svc", "prod"};
	const char *ips_other[] = {"10.96.0.13", "::1"};
	const char *ips_shuffled[] = {"0:0:0:0:0:0:0:1", "10.96.0.12"};
	struct pki_renew_want want = {.dns = SVC_DNS,
	                              .ndns = 4,
	                              .ips = SVC_IPS,
	                              .nips = 2,
	                              .usage = PKI_USAGE_SERVER,
	                              .alg = PKI_KEY_ECDSA_P256,
	                              .renew_before = 15 * DAY};
	struct pki_renew_want w;
	time_t rt = 0, na = T0 + 90 * DAY;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0 + YEAR, &ca_renewed); /* same CN, new key */
	server_new(&ca, T0, &leaf);
	server_new(&ca, T0, &other);
	want.key_pem = leaf.key_pem;

	assert_int_equal(pki_renewal_due(NULL, ca.cert_pem, &want, T0, &rt), PKI_RENEW_MISSING);
	assert_int_equal(pki_renewal_due("", ca.cert_pem, &want, T0, &rt), PKI_RENEW_MISSING);
	assert_int_equal(rt, 0); /* untouched when there is no certificate */
	assert_int_equal(pki_renewal_due("-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
	                                 "CERTIFICATE-----\n",
	                                 ca.cert_pem, &want, T0, &rt),
	                 PKI_RENEW_UNPARSABLE);
	assert_int_equal(pki_renewal_due(leaf.key_pem, ca.cert_pem, &want, T0, &rt),
	                 PKI_RENEW_UNPARSABLE);

	/* up to date; renewal time is notAfter - renewBefore, exactly */
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &want, T0, &rt),
	                 PKI_RENEW_NONE);
	assert_int_equal(rt, na - 15 * DAY);
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &want, rt - 1, NULL),
	                 PKI_RENEW_NONE);
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &want, rt, NULL),
	                 PKI_RENEW_EXPIRING);
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &want, na + DAY, NULL),
	                 PKI_RENEW_EXPIRING);

	/* the stored key is another certificate's */
	w = want;
	w.key_pem = other.key_pem;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt),
	                 PKI_RENEW_KEY_MISMATCH);
	w.key_pem = "not a key";
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt),
	                 PKI_RENEW_KEY_MISMATCH);
	w.key_pem = NULL; /* not checked */
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt), PKI_RENEW_NONE);

	/* the CA was renewed (same name, new key), or is another one, or is broken */
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca_renewed.cert_pem, &want, T0, &rt),
	                 PKI_RENEW_ISSUER_CHANGED);
	assert_int_equal(pki_renewal_due(leaf.cert_pem, "garbage", &want, T0, &rt),
	                 PKI_RENEW_ISSUER_CHANGED);
	assert_int_equal(pki_renewal_due(leaf.cert_pem, NULL, &want, T0, &rt), PKI_RENEW_NONE);
	/* and it beats expiry as the reason */
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca_renewed.cert_pem, &want, na, &rt),
	                 PKI_RENEW_ISSUER_CHANGED);

	w = want;
	w.alg = PKI_KEY_RSA_2048;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt),
	                 PKI_RENEW_KEY_ALGORITHM_CHANGED);

	w = want;
	w.usage = PKI_USAGE_BOTH;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt),
	                 PKI_RENEW_USAGE_CHANGED);
	w.usage = 0;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt), PKI_RENEW_NONE);

	/* SANs compared as sets: order, case and repeats do not matter */
	w = want;
	w.dns = dns_shuffled;
	w.ndns = 5;
	w.ips = ips_shuffled;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt), PKI_RENEW_NONE);
	w = want;
	w.dns = dns_more;
	w.ndns = 5;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt),
	                 PKI_RENEW_SANS_CHANGED);
	w.dns = dns_fewer;
	w.ndns = 2;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt),
	                 PKI_RENEW_SANS_CHANGED);
	w = want;
	w.ips = ips_other;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt),
	                 PKI_RENEW_SANS_CHANGED);
	w.nips = 0;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt),
	                 PKI_RENEW_SANS_CHANGED);

	/* renewBefore not shorter than the lifetime: a third of the lifetime instead,
	 * so a freshly issued leaf is not due at once */
	w = want;
	w.renew_before = 365 * DAY;
	assert_int_equal(pki_renewal_due(leaf.cert_pem, ca.cert_pem, &w, T0, &rt), PKI_RENEW_NONE);
	assert_int_equal(rt, na - (90 * DAY + PKI_BACKDATE) / 3);

	assert_string_equal(pki_renew_reason_name(PKI_RENEW_NONE), "UpToDate");
	assert_string_equal(pki_renew_reason_name(PKI_RENEW_MISSING), "Missing");
	assert_string_equal(pki_renew_reason_name(PKI_RENEW_EXPIRING), "Expiring");
	assert_string_equal(pki_renew_reason_name(PKI_RENEW_SANS_CHANGED), "SANsChanged");
	assert_string_equal(pki_renew_reason_name(PKI_RENEW_ISSUER_CHANGED), "IssuerChanged");
	assert_string_equal(pki_renew_reason_name(PKI_RENEW_KEY_ALGORITHM_CHANGED),
	                    "KeyAlgorithmChanged");

	pki_pair_free(&other);
	pki_pair_free(&leaf);
	pki_pair_free(&ca_renewed);
	pki_pair_free(&ca);
}

static void test_ca_renewal_due(void **state)
{
	struct pki_pair ca, leaf;
	time_t rt = 0, na = T0 + 10 * YEAR;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &ca);
	server_new(&ca, T0, &leaf);
	assert_int_equal(pki_ca_renewal_due(ca.cert_pem, T0, YEAR, &rt), PKI_RENEW_NONE);
	assert_int_equal(rt, na - YEAR);
	assert_int_equal(pki_ca_renewal_due(ca.cert_pem, na - YEAR - 1, YEAR, NULL),
	                 PKI_RENEW_NONE);
	assert_int_equal(pki_ca_renewal_due(ca.cert_pem, na - YEAR, YEAR, NULL),
	                 PKI_RENEW_EXPIRING);
	assert_int_equal(pki_ca_renewal_due(NULL, T0, YEAR, NULL), PKI_RENEW_MISSING);
	assert_int_equal(pki_ca_renewal_due("", T0, YEAR, NULL), PKI_RENEW_MISSING);
	assert_int_equal(pki_ca_renewal_due("x", T0, YEAR, NULL), PKI_RENEW_UNPARSABLE);
	/* a leaf is not a CA */
	assert_int_equal(pki_ca_renewal_due(leaf.cert_pem, T0, YEAR, NULL), PKI_RENEW_UNPARSABLE);
	pki_pair_free(&leaf);
	pki_pair_free(&ca);
}

/* ---- CA rotation ---------------------------------------------------------------- */

static void test_bundle_rotation(void **state)
{
	struct pki_pair old_ca, new_ca, short_ca, leaf_old, leaf_new_, extra[5];
	char err[256], fp_new[PKI_FINGERPRINT_LEN], fp_old[PKI_FINGERPRINT_LEN];
	char fp_first[PKI_FINGERPRINT_LEN];
	char *bundle = NULL, *bundle2 = NULL, *prev = NULL;
	const time_t rot = T0 + 5 * YEAR; /* the rotation happens here */
	struct pki_cert_info info;
	size_t i;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, T0, &old_ca);
	ca_new(PKI_KEY_ECDSA_P256, DAY, T0, &short_ca);
	server_new(&old_ca, rot - DAY, &leaf_old);
	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, rot, &new_ca);
	server_new(&new_ca, rot, &leaf_new_);
	fingerprint_of(new_ca.cert_pem, fp_new);
	fingerprint_of(old_ca.cert_pem, fp_old);

	/* first bundle: just the CA */
	assert_int_equal(pki_bundle_build(old_ca.cert_pem, NULL, T0, &bundle, err, sizeof(err)), 0);
	assert_int_equal(pki_bundle_count(bundle), 1);
	assert_string_equal(bundle, old_ca.cert_pem);

	/* rotation: new CA first, old CA kept; the expired short-lived CA, a leaf,
	 * a duplicate and a broken block are dropped */
	{
		char *a = concat(bundle, short_ca.cert_pem);
		char *b = concat(a, leaf_old.cert_pem);
		char *c =
		    concat(b, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");

		prev = concat(c, old_ca.cert_pem);
		free(a);
		free(b);
		free(c);
	}
	free(bundle);
	bundle = NULL;
	assert_int_equal(pki_bundle_build(new_ca.cert_pem, prev, rot, &bundle, err, sizeof(err)),
	                 0);
	assert_int_equal(pki_bundle_count(bundle), 2);
	fingerprint_of(bundle, fp_first);
	assert_string_equal(fp_first, fp_new);
	assert_true(strncmp(bundle, new_ca.cert_pem, strlen(new_ca.cert_pem)) == 0);
	assert_string_equal(bundle + strlen(new_ca.cert_pem), old_ca.cert_pem);

	/* no client is cut off: leaves from either CA verify against the bundle,
	 * and a client holding only the old CA still accepts the old leaf */
	assert_int_equal(pki_verify(leaf_old.cert_pem, bundle, rot, PKI_PURPOSE_SERVER,
	                            "prod.search.svc", err, sizeof(err)),
	                 0);
	assert_int_equal(pki_verify(leaf_new_.cert_pem, bundle, rot, PKI_PURPOSE_SERVER,
	                            "prod.search.svc", err, sizeof(err)),
	                 0);
	assert_int_equal(pki_verify(leaf_new_.cert_pem, old_ca.cert_pem, rot, PKI_PURPOSE_SERVER,
	                            NULL, err, sizeof(err)),
	                 -1);

	/* rebuilding from its own output changes nothing (idempotent) */
	assert_int_equal(
	    pki_bundle_build(new_ca.cert_pem, bundle, rot + DAY, &bundle2, err, sizeof(err)), 0);
	assert_string_equal(bundle2, bundle);
	free(bundle2);
	bundle2 = NULL;

	/* once the old CA has expired it leaves the bundle */
	assert_int_equal(
	    pki_bundle_build(new_ca.cert_pem, bundle, T0 + 10 * YEAR, &bundle2, err, sizeof(err)),
	    0);
	assert_int_equal(pki_bundle_count(bundle2), 1);
	assert_string_equal(bundle2, new_ca.cert_pem);
	free(bundle2);
	bundle2 = NULL;

	/* capped at PKI_BUNDLE_MAX, keeping the newest (first) ones */
	free(prev);
	prev = strdup(bundle);
	assert_non_null(prev);
	for (i = 0; i < 5; i++) {
		char *p;

		ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, rot, &extra[i]);
		p = concat(prev, extra[i].cert_pem);
		free(prev);
		prev = p;
	}
	assert_int_equal(pki_bundle_build(new_ca.cert_pem, prev, rot, &bundle2, err, sizeof(err)),
	                 0);
	assert_int_equal(pki_bundle_count(bundle2), PKI_BUNDLE_MAX);
	assert_non_null(strstr(bundle2, old_ca.cert_pem)); /* the old CA stays in */
	assert_non_null(strstr(bundle2, extra[1].cert_pem));
	assert_null(strstr(bundle2, extra[2].cert_pem));
	for (i = 0; i < 5; i++)
		pki_pair_free(&extra[i]);
	free(bundle2);
	bundle2 = NULL;

	/* the current CA must be a CA */
	assert_int_equal(
	    pki_bundle_build(leaf_old.cert_pem, bundle, rot, &bundle2, err, sizeof(err)), -1);
	assert_string_equal(err, "ca certificate is not a ca");
	assert_int_equal(pki_bundle_build("junk", bundle, rot, &bundle2, err, sizeof(err)), -1);
	assert_string_equal(err, "ca certificate is not a pem certificate: no start line");
	assert_null(bundle2);
	assert_int_equal(pki_bundle_count("junk"), -1);

	/* pki_cert_info reads the first certificate of a bundle */
	assert_int_equal(pki_cert_info(bundle, &info, err, sizeof(err)), 0);
	assert_string_equal(info.fingerprint, fp_new);
	pki_cert_info_free(&info);
	(void)fp_old;

	free(prev);
	free(bundle);
	pki_pair_free(&leaf_new_);
	pki_pair_free(&leaf_old);
	pki_pair_free(&new_ca);
	pki_pair_free(&short_ca);
	pki_pair_free(&old_ca);
}

/* ---- info and time ------------------------------------------------------------- */

static void test_cert_info_fingerprint_and_serial(void **state)
{
	struct pki_pair ca;
	struct pki_cert_info info;
	char err[256], want[PKI_FINGERPRINT_LEN];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	X509 *x;
	BIGNUM *bn;
	char *hex;

	ca_new(PKI_KEY_ECDSA_P256, YEAR, T0, &ca);
	x = x509_of(ca.cert_pem);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	assert_int_equal(n, 32);
	for (i = 0; i < n; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	assert_int_equal(pki_cert_info(ca.cert_pem, &info, err, sizeof(err)), 0);
	assert_string_equal(info.fingerprint, want);

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = BN_bn2hex(bn);
	/* same number, lower case, no leading zeros */
	{
		char *p = hex;

		while (*p == '0' && p[1])
			p++;
		assert_int_equal(strcasecmp(info.serial, p), 0);
		for (p = info.serial; *p; p++)
			assert_false(*p >= 'A' && *p <= 'F');
		assert_true(info.serial[0] != '0');
	}
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	pki_cert_info_free(&info);

	memset(&info, 0x5a, sizeof(info));
	assert_int_equal(pki_cert_info("no certificate here", &info, err, sizeof(err)), -1);
	assert_string_equal(err, "not a pem certificate: no start line");
	assert_int_equal(info.ndns, (size_t)0x5a5a5a5a5a5a5a5aULL); /* untouched */
	assert_int_equal(pki_cert_info(NULL, &info, err, sizeof(err)), -1);
	pki_pair_free(&ca);
}

static void test_time_rfc3339(void **state)
{
	char buf[PKI_RFC3339_LEN];

	assert_int_equal(pki_time_rfc3339(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(pki_time_rfc3339(T0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2027-01-15T08:00:00Z");
	assert_int_equal(pki_time_rfc3339(T0 + 10 * YEAR + 59, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2037-01-12T08:00:59Z");
	assert_int_equal(pki_time_rfc3339(T0, buf, sizeof(buf) - 1), -1);
	assert_string_equal(buf, "");
}

/* ---- real TLS handshakes over memory BIO pairs ------------------------------------ */

struct tls_result {
	int client_ok, server_ok; /* handshake completed on that side */
	int data_ok;              /* "ping" and "pong" crossed */
	long client_verify;       /* SSL_get_verify_result of the client */
	int server_reason;        /* OpenSSL reason of the server's failure */
	char peer_cn[64];         /* client certificate CN the server saw */
};

static void ctx_use_pair(SSL_CTX *ctx, const struct pki_pair *p)
{
	X509 *x = x509_of(p->cert_pem);
	EVP_PKEY *k = pkey_of(p->key_pem);

	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, k), 1);
	assert_int_equal(SSL_CTX_check_private_key(ctx), 1);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void ctx_trust(SSL_CTX *ctx, const char *bundle, int as_client_ca)
{
	BIO *b = BIO_new_mem_buf(bundle, -1);
	X509 *x;
	int n = 0;

	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x), 1);
		if (as_client_ca)
			assert_int_equal(SSL_CTX_add_client_CA(ctx, x), 1);
		X509_free(x);
		n++;
	}
	ERR_clear_error();
	BIO_free(b);
	assert_true(n > 0);
}

/* One side's handshake step: 1 done, 0 wants more, -1 failed. */
static int hs_step(SSL *s, int *reason)
{
	int r = SSL_do_handshake(s);

	if (r == 1)
		return 1;
	switch (SSL_get_error(s, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		if (reason)
			*reason = ERR_GET_REASON(ERR_peek_last_error());
		ERR_clear_error();
		return -1;
	}
}

/*
 * A TLS client and server in this process, wired by a BIO pair. The client
 * trusts client_trust and checks host; the server presents server; when
 * server_client_ca is set the server requires a client certificate from it
 * (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT). client may be NULL.
 */
static void tls_run(const char *client_trust, const char *host, const struct pki_pair *server,
                    const char *server_client_ca, const struct pki_pair *client, int version,
                    struct tls_result *res)
{
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *s, *c;
	BIO *bs = NULL, *bc = NULL;
	int cst = 0, sst = 0, i;

	memset(res, 0, sizeof(*res));
	assert_non_null(sctx);
	assert_non_null(cctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(sctx, version), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(sctx, version), 1);
	ctx_use_pair(sctx, server);
	if (server_client_ca) {
		ctx_trust(sctx, server_client_ca, 1);
		SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	ctx_trust(cctx, client_trust, 0);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	if (client)
		ctx_use_pair(cctx, client);

	s = SSL_new(sctx);
	c = SSL_new(cctx);
	assert_non_null(s);
	assert_non_null(c);
	assert_int_equal(SSL_set1_host(c, host), 1);
	assert_int_equal(SSL_set_tlsext_host_name(c, host), 1);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);

	for (i = 0; i < 64 && (cst == 0 || sst == 0); i++) {
		if (cst == 0)
			cst = hs_step(c, NULL);
		if (sst == 0)
			sst = hs_step(s, &res->server_reason);
		if (cst != 0 && sst == 0 && cst < 0)
			sst = hs_step(s, &res->server_reason); /* let it read the alert */
	}
	res->client_ok = cst == 1;
	res->server_ok = sst == 1;
	res->client_verify = SSL_get_verify_result(c);
	if (res->server_ok) {
		X509 *peer = SSL_get0_peer_certificate(s);

		if (peer)
			X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
			                          res->peer_cn, sizeof(res->peer_cn));
	}
	if (res->client_ok && res->server_ok) {
		char buf[8];
		int ok = 1;

		/* application data both ways (in TLS 1.3 this also settles the
		 * server's verdict on the client certificate) */
		ok &= SSL_write(c, "ping", 4) == 4;
		ok &= SSL_read(s, buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0;
		ok &= SSL_write(s, "pong", 4) == 4;
		ok &= SSL_read(c, buf, sizeof(buf)) == 4 && memcmp(buf, "pong", 4) == 0;
		res->data_ok = ok;
	} else if (res->client_ok) {
		/* TLS 1.3: the client finished before the server judged its
		 * certificate; the server's alert reaches it on the first read */
		char buf[8];

		if (SSL_read(c, buf, sizeof(buf)) > 0)
			res->data_ok = 1;
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_tls_one_way(void **state)
{
	struct pki_pair ca, other, srv, cli_only;
	struct tls_result r;
	time_t now = time(NULL);
	int v;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, now, &ca);
	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, now, &other);
	server_new(&ca, now, &srv);
	leaf_new(&ca, "client-only", PKI_USAGE_CLIENT, PKI_KEY_ECDSA_P256, DAY, now, &cli_only);

	for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
		tls_run(ca.cert_pem, "prod.search.svc", &srv, NULL, NULL, v, &r);
		assert_true(r.client_ok);
		assert_true(r.server_ok);
		assert_true(r.data_ok);
		assert_int_equal(r.client_verify, X509_V_OK);

		/* a client trusting another CA refuses the server */
		tls_run(other.cert_pem, "prod.search.svc", &srv, NULL, NULL, v, &r);
		assert_false(r.client_ok);
		assert_false(r.data_ok);
		assert_int_equal(r.client_verify, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

		/* the right CA but the wrong name */
		tls_run(ca.cert_pem, "milvus.example.com", &srv, NULL, NULL, v, &r);
		assert_false(r.client_ok);
		assert_false(r.data_ok);
		assert_int_equal(r.client_verify, X509_V_ERR_HOSTNAME_MISMATCH);

		/* a certificate issued for clients only does not serve */
		tls_run(ca.cert_pem, "prod.search.svc", &cli_only, NULL, NULL, v, &r);
		assert_false(r.client_ok);
		assert_int_equal(r.client_verify, X509_V_ERR_INVALID_PURPOSE);
	}
	pki_pair_free(&cli_only);
	pki_pair_free(&srv);
	pki_pair_free(&other);
	pki_pair_free(&ca);
}

static void test_tls_mutual(void **state)
{
	struct pki_pair ca, other, srv, cli, foreign_cli, srv_only;
	struct tls_result r;
	time_t now = time(NULL);
	int v;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, now, &ca);
	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, now, &other);
	server_new(&ca, now, &srv);
	leaf_new(&ca, "milvus-client", PKI_USAGE_CLIENT, PKI_KEY_ECDSA_P256, DAY, now, &cli);
	leaf_new(&other, "intruder", PKI_USAGE_CLIENT, PKI_KEY_ECDSA_P256, DAY, now, &foreign_cli);
	leaf_new(&ca, "server-only", PKI_USAGE_SERVER, PKI_KEY_ECDSA_P256, DAY, now, &srv_only);

	for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
		/* with a client certificate from the CA */
		tls_run(ca.cert_pem, "prod.search.svc", &srv, ca.cert_pem, &cli, v, &r);
		assert_true(r.client_ok);
		assert_true(r.server_ok);
		assert_true(r.data_ok);
		assert_string_equal(r.peer_cn, "milvus-client");

		/* without one: the server refuses */
		tls_run(ca.cert_pem, "prod.search.svc", &srv, ca.cert_pem, NULL, v, &r);
		assert_false(r.server_ok);
		assert_false(r.data_ok);
		assert_int_equal(r.server_reason, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE);

		/* with one from another CA: the server refuses */
		tls_run(ca.cert_pem, "prod.search.svc", &srv, ca.cert_pem, &foreign_cli, v, &r);
		assert_false(r.server_ok);
		assert_false(r.data_ok);
		assert_int_equal(r.server_reason, SSL_R_CERTIFICATE_VERIFY_FAILED);

		/* with a server-only certificate as client certificate: refused */
		tls_run(ca.cert_pem, "prod.search.svc", &srv, ca.cert_pem, &srv_only, v, &r);
		assert_false(r.server_ok);
		assert_false(r.data_ok);
	}
	pki_pair_free(&srv_only);
	pki_pair_free(&foreign_cli);
	pki_pair_free(&cli);
	pki_pair_free(&srv);
	pki_pair_free(&other);
	pki_pair_free(&ca);
}

/* RSA server key (TLS 1.3 signs with RSA-PSS) and a rotated trust bundle. */
static void test_tls_rsa_and_rotated_bundle(void **state)
{
	struct pki_pair old_ca, new_ca, srv_old, srv_new;
	struct tls_result r;
	time_t now = time(NULL);
	char err[256], *bundle = NULL;

	ca_new(PKI_KEY_ECDSA_P256, 10 * YEAR, now - DAY, &old_ca);
	ca_new(PKI_KEY_RSA_2048, 10 * YEAR, now, &new_ca);
	leaf_new(&old_ca, "prod.search.svc", PKI_USAGE_SERVER, PKI_KEY_ECDSA_P256, 90 * DAY,
	         now - DAY, &srv_old);
	leaf_new(&new_ca, "prod.search.svc", PKI_USAGE_SERVER, PKI_KEY_RSA_2048, 90 * DAY, now,
	         &srv_new);
	assert_int_equal(
	    pki_bundle_build(new_ca.cert_pem, old_ca.cert_pem, now, &bundle, err, sizeof(err)), 0);

	/* clients holding the new bundle accept the server before and after its
	 * certificate is re-issued by the new CA */
	tls_run(bundle, "prod.search.svc", &srv_old, NULL, NULL, TLS1_3_VERSION, &r);
	assert_true(r.data_ok);
	tls_run(bundle, "prod.search.svc", &srv_new, NULL, NULL, TLS1_3_VERSION, &r);
	assert_true(r.data_ok);
	tls_run(bundle, "prod.search.svc", &srv_new, NULL, NULL, TLS1_2_VERSION, &r);
	assert_true(r.data_ok);
	/* a client that only ever had the old CA is refused the new certificate */
	tls_run(old_ca.cert_pem, "prod.search.svc", &srv_new, NULL, NULL, TLS1_3_VERSION, &r);
	assert_false(r.client_ok);

	free(bundle);
	pki_pair_free(&srv_new);
	pki_pair_free(&srv_old);
	pki_pair_free(&new_ca);
	pki_pair_free(&old_ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_alg_parse),
	    cmocka_unit_test(test_ca_properties),
	    cmocka_unit_test(test_ca_create_rejects_bad_input),
	    cmocka_unit_test(test_leaf_chains_to_ca_only),
	    cmocka_unit_test(test_sans_exactly_as_requested),
	    cmocka_unit_test(test_issue_rejects_bad_input),
	    cmocka_unit_test(test_purpose_enforced),
	    cmocka_unit_test(test_hostname_check),
	    cmocka_unit_test(test_ecdsa_p256_leaf),
	    cmocka_unit_test(test_rsa2048_leaf_and_ca),
	    cmocka_unit_test(test_rsa4096_leaf),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_key_matches),
	    cmocka_unit_test(test_renewal_reasons),
	    cmocka_unit_test(test_ca_renewal_due),
	    cmocka_unit_test(test_bundle_rotation),
	    cmocka_unit_test(test_cert_info_fingerprint_and_serial),
	    cmocka_unit_test(test_time_rfc3339),
	    cmocka_unit_test(test_tls_one_way),
	    cmocka_unit_test(test_tls_mutual),
	    cmocka_unit_test(test_tls_rsa_and_rotated_bundle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
