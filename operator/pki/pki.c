/*
 * pki: CA and leaf certificates with OpenSSL 3 (see pki.h for the contract).
 */
#include "pki.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Longest lifetime accepted for anything we issue: 100 years. */
#define PKI_LIFETIME_MAX ((time_t)100 * 366 * 24 * 3600)
/* Most PEM blocks looked at in one input. */
#define PKI_PEM_BLOCKS_MAX 1024

/* ---- errors -------------------------------------------------------------- */

/* Write the message, then ": <openssl reason>" when OpenSSL queued an error.
 * Reason strings are fixed texts: they never carry key material. */
static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;
	unsigned long e;
	const char *reason;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0) {
		err[0] = '\0';
		return;
	}
	e = ERR_peek_last_error();
	reason = e ? ERR_reason_error_string(e) : NULL;
	if (reason && (size_t)n < errlen)
		(void)snprintf(err + n, errlen - (size_t)n, ": %s", reason);
}

/* ---- small helpers --------------------------------------------------------- */

void pki_secret_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void pki_pair_free(struct pki_pair *p)
{
	if (!p)
		return;
	free(p->cert_pem);
	p->cert_pem = NULL;
	pki_secret_free(p->key_pem);
	p->key_pem = NULL;
}

int pki_key_alg_parse(const char *s, enum pki_key_alg *out)
{
	enum pki_key_alg a;

	if (!s || !*s)
		a = PKI_KEY_ECDSA_P256;
	else if (strcmp(s, "ECDSA-P256") == 0)
		a = PKI_KEY_ECDSA_P256;
	else if (strcmp(s, "RSA-2048") == 0)
		a = PKI_KEY_RSA_2048;
	else if (strcmp(s, "RSA-4096") == 0)
		a = PKI_KEY_RSA_4096;
	else
		return -1;
	*out = a;
	return 0;
}

const char *pki_key_alg_name(enum pki_key_alg alg)
{
	switch (alg) {
	case PKI_KEY_ECDSA_P256:
		return "ECDSA-P256";
	case PKI_KEY_RSA_2048:
		return "RSA-2048";
	case PKI_KEY_RSA_4096:
		return "RSA-4096";
	case PKI_KEY_OTHER:
		break;
	}
	return "other";
}

const char *pki_renew_reason_name(enum pki_renew_reason r)
{
	switch (r) {
	case PKI_RENEW_NONE:
		return "UpToDate";
	case PKI_RENEW_MISSING:
		return "Missing";
	case PKI_RENEW_UNPARSABLE:
		return "Unparsable";
	case PKI_RENEW_KEY_MISMATCH:
		return "KeyMismatch";
	case PKI_RENEW_ISSUER_CHANGED:
		return "IssuerChanged";
	case PKI_RENEW_KEY_ALGORITHM_CHANGED:
		return "KeyAlgorithmChanged";
	case PKI_RENEW_USAGE_CHANGED:
		return "UsageChanged";
	case PKI_RENEW_SANS_CHANGED:
		return "SANsChanged";
	case PKI_RENEW_EXPIRING:
		return "Expiring";
	}
	return "Unknown";
}

int pki_time_rfc3339(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (!out || outlen == 0)
		return -1;
	if (!gmtime_r(&t, &tm) || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

static int asn1_time_to_time_t(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!a || ASN1_TIME_to_tm(a, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* A read-only memory BIO over pem, or NULL when pem is NULL or too long. */
static BIO *pem_bio(const char *pem)
{
	size_t n;

	if (!pem)
		return NULL;
	n = strnlen(pem, (size_t)PKI_PEM_MAX + 1);
	if (n > PKI_PEM_MAX)
		return NULL;
	return BIO_new_mem_buf(pem, (int)n);
}

static int pem_too_long(const char *pem)
{
	return pem && strnlen(pem, (size_t)PKI_PEM_MAX + 1) > PKI_PEM_MAX;
}

/* The first certificate in pem (other PEM blocks before it are skipped). */
static X509 *cert_read(const char *pem)
{
	BIO *b = pem_bio(pem);
	X509 *x = NULL;

	if (b)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/* Every certificate in pem, in order. strict: a block that fails to parse
 * fails the whole read; otherwise it is skipped. NULL when nothing was read
 * (or on a strict failure). */
static STACK_OF(X509) * certs_read(const char *pem, int strict)
{
	BIO *b = pem_bio(pem);
	STACK_OF(X509) *sk = NULL;
	int i;

	if (!b)
		return NULL;
	sk = sk_X509_new_null();
	if (!sk)
		goto fail;
	for (i = 0; i < PKI_PEM_BLOCKS_MAX; i++) {
		unsigned long e;
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

		if (x) {
			if (!sk_X509_push(sk, x)) {
				X509_free(x);
				goto fail;
			}
			continue;
		}
		e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
			ERR_clear_error(); /* the normal end of input */
			break;
		}
		if (strict)
			goto fail;
		ERR_clear_error();
	}
	BIO_free(b);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
fail:
	BIO_free(b);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

/* Never prompt for a passphrase: an encrypted key simply fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static EVP_PKEY *key_read(const char *pem)
{
	BIO *b = pem_bio(pem);
	EVP_PKEY *k = NULL;

	if (b)
		k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	return k;
}

/* Copy a memory BIO's contents into a malloc'd NUL-terminated string. */
static char *bio_strdup(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	char *s;

	if (n < 0 || !data)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x) == 1)
		s = bio_strdup(b);
	BIO_free(b);
	return s;
}

/* PKCS#8, unencrypted. Encoded in a secure-memory BIO (wiped when freed);
 * the returned copy is wiped by pki_secret_free(). */
static char *key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *s = NULL;

	if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1)
		s = bio_strdup(b);
	BIO_free(b);
	return s;
}

/* Sign x with signer, then hand out the certificate and key (the pair's key)
 * as PEM in out; what names the certificate in errors. 0 or -1. */
static int sign_export(X509 *x, EVP_PKEY *signer, EVP_PKEY *key, const char *what,
                       struct pki_pair *out, char *err, size_t errlen)
{
	char *cert, *kp;

	if (X509_sign(x, signer, EVP_sha256()) <= 0) {
		seterr(err, errlen, "signing %s failed", what);
		return -1;
	}
	cert = cert_pem(x);
	kp = key_pem(key);
	if (!cert || !kp) {
		free(cert);
		pki_secret_free(kp);
		seterr(err, errlen, "encoding %s or key failed", what);
		return -1;
	}
	out->cert_pem = cert;
	out->key_pem = kp;
	return 0;
}

static EVP_PKEY *keygen(enum pki_key_alg alg)
{
	switch (alg) {
	case PKI_KEY_ECDSA_P256:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case PKI_KEY_RSA_2048:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case PKI_KEY_RSA_4096:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	case PKI_KEY_OTHER:
		break;
	}
	return NULL;
}

static int alg_valid(enum pki_key_alg alg)
{
	return alg == PKI_KEY_ECDSA_P256 || alg == PKI_KEY_RSA_2048 || alg == PKI_KEY_RSA_4096;
}

static enum pki_key_alg key_alg_of(const EVP_PKEY *k, int *bits)
{
	char group[64];
	size_t glen = 0;
	int b;

	if (!k) {
		if (bits)
			*bits = 0;
		return PKI_KEY_OTHER;
	}
	b = EVP_PKEY_get_bits(k);
	if (bits)
		*bits = b;
	if (EVP_PKEY_is_a(k, "EC")) {
		if (EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) == 1 &&
		    (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
			return PKI_KEY_ECDSA_P256;
		return PKI_KEY_OTHER;
	}
	if (EVP_PKEY_is_a(k, "RSA")) {
		if (b == 2048)
			return PKI_KEY_RSA_2048;
		if (b == 4096)
			return PKI_KEY_RSA_4096;
	}
	return PKI_KEY_OTHER;
}

static int is_rsa(const EVP_PKEY *k)
{
	return EVP_PKEY_is_a(k, "RSA");
}

static int cert_is_ca(X509 *x)
{
	return (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
}

/* A random positive serial of up to 128 bits (never zero). */
static int set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int rc = -1;

	if (!bn)
		return -1;
	do {
		if (BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
			goto out;
	} while (BN_is_zero(bn));
	if (!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/* Add CN=cn to name, cut at PKI_CN_MAX UTF-8 characters. */
static int name_set_cn(X509_NAME *name, const char *cn)
{
	size_t i, chars = 0;

	for (i = 0; cn[i]; i++) {
		if (((unsigned char)cn[i] & 0xC0) != 0x80) {
			if (chars == PKI_CN_MAX)
				break;
			chars++;
		}
	}
	if (i == 0 || i > INT32_MAX)
		return -1;
	return X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                                  (const unsigned char *)cn, (int)i, -1, 0) == 1
	           ? 0
	           : -1;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok;

	if (!e)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok == 1 ? 0 : -1;
}

/* A host name for a DNS SAN: labels of letters, digits and '-' (not at either
 * end), 1-63 chars each, at most 253 in all; "*" allowed as the first label. */
static int dns_name_valid(const char *s)
{
	size_t len, label = 0, i;

	if (!s)
		return 0;
	len = strlen(s);
	if (len == 0 || len > 253)
		return 0;
	if (s[0] == '*') {
		if (s[1] != '.' || s[2] == '\0')
			return 0;
		s += 2;
		len -= 2;
	}
	for (i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9'))) {
			return 0;
		}
		label++;
	}
	return 1;
}

/* The subjectAltName list of a request; NULL with err set when a name is
 * not acceptable. */
static GENERAL_NAMES *sans_build(const struct pki_leaf_req *req, char *err, size_t errlen)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = NULL;
	size_t i;

	if (!gens)
		goto oom;
	for (i = 0; i < req->ndns; i++) {
		ASN1_IA5STRING *s;

		if (!dns_name_valid(req->dns[i])) {
			seterr(err, errlen, "dns name %zu is not a valid host name", i);
			goto fail;
		}
		g = GENERAL_NAME_new();
		s = ASN1_IA5STRING_new();
		if (!g || !s || ASN1_STRING_set(s, req->dns[i], (int)strlen(req->dns[i])) != 1) {
			ASN1_IA5STRING_free(s);
			goto oom;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(gens, g))
			goto oom;
		g = NULL;
	}
	for (i = 0; i < req->nips; i++) {
		ASN1_OCTET_STRING *ip = req->ips[i] ? a2i_IPADDRESS(req->ips[i]) : NULL;

		if (!ip) {
			ERR_clear_error();
			seterr(err, errlen, "ip address %zu is not an ipv4 or ipv6 literal", i);
			goto fail;
		}
		g = GENERAL_NAME_new();
		if (!g) {
			ASN1_OCTET_STRING_free(ip);
			goto oom;
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
		if (!sk_GENERAL_NAME_push(gens, g))
			goto oom;
		g = NULL;
	}
	return gens;
oom:
	seterr(err, errlen, "out of memory building subject alternative names");
fail:
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return NULL;
}

/* A new v3 certificate for key with subject CN=cn, a random serial and the
 * validity [not_before, not_after]. Issuer and extensions are left to the
 * caller. */
static X509 *cert_new(const char *cn, EVP_PKEY *key, time_t not_before, time_t not_after)
{
	X509 *x = X509_new();

	if (!x)
		return NULL;
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) != 0 ||
	    name_set_cn(X509_get_subject_name(x), cn) != 0 || X509_set_pubkey(x, key) != 1 ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), not_after)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int lifetime_valid(time_t lifetime, time_t now)
{
	return lifetime > 0 && lifetime <= PKI_LIFETIME_MAX && now > PKI_BACKDATE &&
	       now < INT64_MAX - PKI_LIFETIME_MAX;
}

/* ---- issuing ----------------------------------------------------------------- */

int pki_ca_create(const char *cn, enum pki_key_alg alg, time_t lifetime, time_t now,
                  struct pki_pair *out, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509V3_CTX ctx;
	int rc = -1;

	ERR_clear_error();
	if (!out || !cn || !*cn) {
		seterr(err, errlen, "ca common name is empty");
		goto out;
	}
	if (!alg_valid(alg)) {
		seterr(err, errlen, "ca key algorithm is not supported");
		goto out;
	}
	if (!lifetime_valid(lifetime, now)) {
		seterr(err, errlen, "ca lifetime %lld s is out of range", (long long)lifetime);
		goto out;
	}
	key = keygen(alg);
	if (!key) {
		seterr(err, errlen, "generating %s ca key failed", pki_key_alg_name(alg));
		goto out;
	}
	x = cert_new(cn, key, now - PKI_BACKDATE, now + lifetime);
	if (!x || X509_set_issuer_name(x, X509_get_subject_name(x)) != 1) {
		seterr(err, errlen, "building ca certificate failed");
		goto out;
	}
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") != 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0) {
		seterr(err, errlen, "adding ca certificate extensions failed");
		goto out;
	}
	rc = sign_export(x, key, key, "ca certificate", out, err, errlen);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

int pki_issue(const char *ca_cert_pem, const char *ca_key_pem, const struct pki_leaf_req *req,
              time_t now, struct pki_pair *out, char *err, size_t errlen)
{
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	GENERAL_NAMES *gens = NULL;
	X509V3_CTX ctx;
	time_t ca_not_after, not_after;
	const char *eku;
	int rc = -1;

	ERR_clear_error();
	if (!out || !req) {
		seterr(err, errlen, "no certificate request");
		goto out;
	}
	if (!req->cn || !*req->cn) {
		seterr(err, errlen, "certificate common name is empty");
		goto out;
	}
	if (!alg_valid(req->alg)) {
		seterr(err, errlen, "certificate key algorithm is not supported");
		goto out;
	}
	switch (req->usage) {
	case PKI_USAGE_SERVER:
		eku = "serverAuth";
		break;
	case PKI_USAGE_CLIENT:
		eku = "clientAuth";
		break;
	case PKI_USAGE_BOTH:
		eku = "serverAuth,clientAuth";
		break;
	default:
		seterr(err, errlen, "certificate usage is not server, client or both");
		goto out;
	}
	if (!lifetime_valid(req->lifetime, now)) {
		seterr(err, errlen, "certificate lifetime %lld s is out of range",
		       (long long)req->lifetime);
		goto out;
	}
	if ((req->ndns && !req->dns) || (req->nips && !req->ips) || req->ndns > PKI_SANS_MAX ||
	    req->nips > PKI_SANS_MAX - req->ndns) {
		seterr(err, errlen, "certificate has more than %d subject alternative names",
		       PKI_SANS_MAX);
		goto out;
	}
	if (pem_too_long(ca_cert_pem) || !(ca = cert_read(ca_cert_pem))) {
		seterr(err, errlen, "ca certificate is not a pem certificate");
		goto out;
	}
	if (pem_too_long(ca_key_pem) || !(ca_key = key_read(ca_key_pem))) {
		ERR_clear_error(); /* nothing about a key's content goes into err */
		seterr(err, errlen, "ca key is not an unencrypted pem private key");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(ca), ca_key) != 1) {
		ERR_clear_error();
		seterr(err, errlen, "ca key does not match ca certificate");
		goto out;
	}
	if (!cert_is_ca(ca) || !(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN)) {
		seterr(err, errlen, "ca certificate is not a ca allowed to sign certificates");
		goto out;
	}
	if (asn1_time_to_time_t(X509_get0_notAfter(ca), &ca_not_after) != 0) {
		seterr(err, errlen, "ca certificate has an unreadable notAfter");
		goto out;
	}
	not_after = now + req->lifetime;
	if (not_after > ca_not_after)
		not_after = ca_not_after;
	if (not_after <= now) {
		seterr(err, errlen, "ca certificate has expired");
		goto out;
	}
	gens = sans_build(req, err, errlen);
	if (!gens)
		goto out;
	key = keygen(req->alg);
	if (!key) {
		seterr(err, errlen, "generating %s key failed", pki_key_alg_name(req->alg));
		goto out;
	}
	x = cert_new(req->cn, key, now - PKI_BACKDATE, not_after);
	if (!x || X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1) {
		seterr(err, errlen, "building certificate failed");
		goto out;
	}
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(x, &ctx, NID_key_usage,
	            is_rsa(key) ? "critical,digitalSignature,keyEncipherment"
	                        : "critical,digitalSignature") != 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, eku) != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    (X509_get0_subject_key_id(ca) &&
	     add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0) ||
	    (sk_GENERAL_NAME_num(gens) > 0 &&
	     X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)) {
		seterr(err, errlen, "adding certificate extensions failed");
		goto out;
	}
	rc = sign_export(x, ca_key, key, "certificate", out, err, errlen);
out:
	GENERAL_NAMES_free(gens);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	ERR_clear_error();
	return rc;
}

/* ---- reading ----------------------------------------------------------------- */

static void hex_lower(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int cert_fingerprint(X509 *x, unsigned char md[EVP_MAX_MD_SIZE])
{
	unsigned int n = 0;

	return X509_digest(x, EVP_sha256(), md, &n) == 1 && n == 32 ? 0 : -1;
}

static void strv_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Text of an IP SAN; -1 when it is neither 4 nor 16 octets. */
static int ip_text(const ASN1_OCTET_STRING *o, char *out, size_t outlen)
{
	int len = ASN1_STRING_length(o);
	const unsigned char *p = ASN1_STRING_get0_data(o);

	if (len == 4)
		return inet_ntop(AF_INET, p, out, (socklen_t)outlen) ? 0 : -1;
	if (len == 16)
		return inet_ntop(AF_INET6, p, out, (socklen_t)outlen) ? 0 : -1;
	return -1;
}

int pki_cert_info(const char *pem, struct pki_cert_info *out, char *err, size_t errlen)
{
	struct pki_cert_info info;
	X509 *x = NULL;
	GENERAL_NAMES *gens = NULL;
	X509_NAME *subj;
	unsigned char md[EVP_MAX_MD_SIZE];
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int i, n, rc = -1;

	ERR_clear_error();
	memset(&info, 0, sizeof(info));
	if (!out || pem_too_long(pem) || !(x = cert_read(pem))) {
		seterr(err, errlen, "not a pem certificate");
		goto out;
	}
	if (asn1_time_to_time_t(X509_get0_notBefore(x), &info.not_before) != 0 ||
	    asn1_time_to_time_t(X509_get0_notAfter(x), &info.not_after) != 0) {
		seterr(err, errlen, "certificate validity is unreadable");
		goto out;
	}
	subj = X509_get_subject_name(x);
	i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (i >= 0) {
		unsigned char *utf8 = NULL;
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));

		n = ASN1_STRING_to_UTF8(&utf8, d);
		if (n < 0) {
			seterr(err, errlen, "certificate common name is unreadable");
			goto out;
		}
		if ((size_t)n >= sizeof(info.cn))
			n = (int)sizeof(info.cn) - 1;
		memcpy(info.cn, utf8, (size_t)n);
		info.cn[n] = '\0';
		OPENSSL_free(utf8);
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	n = gens ? sk_GENERAL_NAME_num(gens) : 0;
	if (n > 0) {
		info.dns = calloc((size_t)n, sizeof(char *));
		info.ips = calloc((size_t)n, sizeof(char *));
		if (!info.dns || !info.ips) {
			seterr(err, errlen, "out of memory reading subject alternative names");
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ipbuf[INET6_ADDRSTRLEN];
		char *s = NULL;

		if (g->type == GEN_DNS) {
			const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
			int len = ASN1_STRING_length(g->d.dNSName);

			if (len < 0 || memchr(p, '\0', (size_t)len))
				continue; /* an embedded NUL is never a host name */
			s = strndup((const char *)p, (size_t)len);
			if (!s)
				goto oom;
			info.dns[info.ndns++] = s;
		} else if (g->type == GEN_IPADD) {
			if (ip_text(g->d.iPAddress, ipbuf, sizeof(ipbuf)) != 0)
				continue;
			s = strdup(ipbuf);
			if (!s)
				goto oom;
			info.ips[info.nips++] = s;
		}
	}
	info.is_ca = cert_is_ca(x);
	info.alg = key_alg_of(X509_get0_pubkey(x), &info.key_bits);
	if (cert_fingerprint(x, md) != 0) {
		seterr(err, errlen, "computing certificate fingerprint failed");
		goto out;
	}
	hex_lower(md, 32, info.fingerprint);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	if (!hex) {
		seterr(err, errlen, "certificate serial number is unreadable");
		goto out;
	}
	{
		size_t j, k = 0;

		/* BN_bn2hex gives upper case, "0" for zero, and a leading '-' */
		for (j = 0; hex[j] && k + 1 < sizeof(info.serial); j++) {
			char c = hex[j];

			if (c == '0' && (k == 0 || (k == 1 && info.serial[0] == '-')) && hex[j + 1])
				continue;
			info.serial[k++] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
		}
		info.serial[k] = '\0';
	}
	*out = info;
	memset(&info, 0, sizeof(info));
	rc = 0;
	goto out;
oom:
	seterr(err, errlen, "out of memory reading subject alternative names");
out:
	pki_cert_info_free(&info);
	OPENSSL_free(hex);
	BN_free(bn);
	GENERAL_NAMES_free(gens);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

void pki_cert_info_free(struct pki_cert_info *info)
{
	if (!info)
		return;
	strv_free(info->dns, info->ndns);
	info->dns = NULL;
	info->ndns = 0;
	strv_free(info->ips, info->nips);
	info->ips = NULL;
	info->nips = 0;
}

int pki_verify(const char *leaf_pem, const char *bundle_pem, time_t at, enum pki_purpose purpose,
               const char *host, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL, *trust = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	ASN1_OCTET_STRING *ip = NULL;
	int i, rc = -1;

	ERR_clear_error();
	if (pem_too_long(leaf_pem) || !(chain = certs_read(leaf_pem, 1))) {
		seterr(err, errlen, "certificate is not a pem certificate");
		goto out;
	}
	if (pem_too_long(bundle_pem) || !(trust = certs_read(bundle_pem, 1))) {
		seterr(err, errlen, "trust bundle holds no pem certificate");
		goto out;
	}
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (!store || !ctx) {
		seterr(err, errlen, "out of memory verifying certificate");
		goto out;
	}
	for (i = 0; i < sk_X509_num(trust); i++) {
		if (X509_STORE_add_cert(store, sk_X509_value(trust, i)) != 1) {
			seterr(err, errlen, "adding trust bundle certificate %d failed", i);
			goto out;
		}
	}
	if (X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), chain) != 1) {
		seterr(err, errlen, "setting up certificate verification failed");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, at); /* also sets X509_V_FLAG_USE_CHECK_TIME */
	if (purpose == PKI_PURPOSE_SERVER || purpose == PKI_PURPOSE_CLIENT) {
		int p = purpose == PKI_PURPOSE_SERVER ? X509_PURPOSE_SSL_SERVER
		                                      : X509_PURPOSE_SSL_CLIENT;

		if (X509_STORE_CTX_set_purpose(ctx, p) != 1) {
			seterr(err, errlen, "setting verification purpose failed");
			goto out;
		}
	}
	if (host) {
		int ok;

		ip = a2i_IPADDRESS(host);
		ERR_clear_error();
		if (ip)
			ok = X509_VERIFY_PARAM_set1_ip(param, ASN1_STRING_get0_data(ip),
			                               (size_t)ASN1_STRING_length(ip));
		else
			ok = X509_VERIFY_PARAM_set1_host(param, host, 0);
		if (ok != 1) {
			seterr(err, errlen, "host name to verify is not acceptable");
			goto out;
		}
		X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	if (X509_verify_cert(ctx) != 1) {
		ERR_clear_error();
		seterr(err, errlen, "%s",
		       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	rc = 0;
out:
	ASN1_OCTET_STRING_free(ip);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(trust, X509_free);
	sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
	return rc;
}

int pki_key_matches(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int rc = -1;

	ERR_clear_error();
	if (pem_too_long(cert_pem) || !(x = cert_read(cert_pem))) {
		seterr(err, errlen, "certificate is not a pem certificate");
		goto out;
	}
	if (pem_too_long(key_pem) || !(k = key_read(key_pem))) {
		ERR_clear_error();
		seterr(err, errlen, "key is not an unencrypted pem private key");
		goto out;
	}
	rc = EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1 ? 1 : 0;
out:
	EVP_PKEY_free(k);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

/* ---- renewal ------------------------------------------------------------------- */

static time_t renewal_time_of(time_t not_before, time_t not_after, time_t renew_before)
{
	time_t life = not_after - not_before;

	if (renew_before < 0)
		renew_before = 0;
	if (life > 0 && renew_before >= life)
		renew_before = life / 3;
	return not_after - renew_before;
}

/* x is signed by ca: names and key identifiers chain, and the signature
 * verifies with ca's key. */
static int signed_by(X509 *x, X509 *ca)
{
	EVP_PKEY *k = X509_get0_pubkey(ca);

	return k && X509_check_issued(ca, x) == X509_V_OK && X509_verify(x, k) == 1;
}

/* EKU of a certificate as a pki_usage bit set (no EKU: usable for both). */
static int usage_of(X509 *x)
{
	uint32_t xku = X509_get_extended_key_usage(x);
	int u = 0;

	if (xku & XKU_SSL_SERVER)
		u |= PKI_USAGE_SERVER;
	if (xku & XKU_SSL_CLIENT)
		u |= PKI_USAGE_CLIENT;
	return u;
}

static int dns_in(const char *name, size_t len, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] && strlen(v[i]) == len && strncasecmp(v[i], name, len) == 0)
			return 1;
	return 0;
}

/* The certificate's SANs equal the wanted ones, as sets. */
static int sans_equal(X509 *x, const struct pki_renew_want *w)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ASN1_OCTET_STRING **want_ips = NULL;
	int i, n = gens ? sk_GENERAL_NAME_num(gens) : 0;
	size_t j, k;
	int eq = 0;

	if ((w->ndns && !w->dns) || (w->nips && !w->ips))
		goto out;
	if (w->nips) {
		want_ips = calloc(w->nips, sizeof(*want_ips));
		if (!want_ips)
			goto out;
		for (j = 0; j < w->nips; j++) {
			want_ips[j] = w->ips[j] ? a2i_IPADDRESS(w->ips[j]) : NULL;
			if (!want_ips[j])
				goto out; /* never matches: re-issuing reports the bad address */
		}
	}
	/* every name in the certificate is wanted */
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS) {
			if (!dns_in((const char *)ASN1_STRING_get0_data(g->d.dNSName),
			            (size_t)ASN1_STRING_length(g->d.dNSName), w->dns, w->ndns))
				goto out;
		} else if (g->type == GEN_IPADD) {
			for (j = 0; j < w->nips; j++)
				if (ASN1_OCTET_STRING_cmp(g->d.iPAddress, want_ips[j]) == 0)
					break;
			if (j == w->nips)
				goto out;
		}
	}
	/* every wanted name is in the certificate */
	for (j = 0; j < w->ndns; j++) {
		for (i = 0; i < n; i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			const char *d = w->dns[j];

			if (d && g->type == GEN_DNS &&
			    (size_t)ASN1_STRING_length(g->d.dNSName) == strlen(d) &&
			    strncasecmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), d,
			                strlen(d)) == 0)
				break;
		}
		if (i == n)
			goto out;
	}
	for (j = 0; j < w->nips; j++) {
		for (i = 0; i < n; i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

			if (g->type == GEN_IPADD &&
			    ASN1_OCTET_STRING_cmp(g->d.iPAddress, want_ips[j]) == 0)
				break;
		}
		if (i == n)
			goto out;
	}
	eq = 1;
out:
	if (want_ips) {
		for (k = 0; k < w->nips; k++)
			ASN1_OCTET_STRING_free(want_ips[k]);
		free(want_ips);
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return eq;
}

enum pki_renew_reason pki_renewal_due(const char *leaf_pem, const char *ca_pem,
                                      const struct pki_renew_want *want, time_t now,
                                      time_t *renewal_time)
{
	static const struct pki_renew_want none = {0};
	enum pki_renew_reason r;
	X509 *x = NULL, *ca = NULL;
	EVP_PKEY *k = NULL;
	time_t nb, na, rt;

	ERR_clear_error();
	if (!want)
		want = &none;
	if (!leaf_pem || !*leaf_pem)
		return PKI_RENEW_MISSING;
	x = pem_too_long(leaf_pem) ? NULL : cert_read(leaf_pem);
	if (!x || asn1_time_to_time_t(X509_get0_notBefore(x), &nb) != 0 ||
	    asn1_time_to_time_t(X509_get0_notAfter(x), &na) != 0) {
		r = PKI_RENEW_UNPARSABLE;
		goto out;
	}
	rt = renewal_time_of(nb, na, want->renew_before);
	if (renewal_time)
		*renewal_time = rt;
	if (want->key_pem) {
		k = pem_too_long(want->key_pem) ? NULL : key_read(want->key_pem);
		if (!k || EVP_PKEY_eq(X509_get0_pubkey(x), k) != 1) {
			r = PKI_RENEW_KEY_MISMATCH;
			goto out;
		}
	}
	if (ca_pem) {
		ca = pem_too_long(ca_pem) ? NULL : cert_read(ca_pem);
		if (!ca || !signed_by(x, ca)) {
			r = PKI_RENEW_ISSUER_CHANGED;
			goto out;
		}
	}
	if (key_alg_of(X509_get0_pubkey(x), NULL) != want->alg) {
		r = PKI_RENEW_KEY_ALGORITHM_CHANGED;
		goto out;
	}
	if (want->usage && usage_of(x) != (int)want->usage) {
		r = PKI_RENEW_USAGE_CHANGED;
		goto out;
	}
	if (!sans_equal(x, want)) {
		r = PKI_RENEW_SANS_CHANGED;
		goto out;
	}
	r = now >= rt ? PKI_RENEW_EXPIRING : PKI_RENEW_NONE;
out:
	EVP_PKEY_free(k);
	X509_free(ca);
	X509_free(x);
	ERR_clear_error();
	return r;
}

enum pki_renew_reason pki_ca_renewal_due(const char *ca_pem, time_t now, time_t renew_before,
                                         time_t *renewal_time)
{
	enum pki_renew_reason r;
	X509 *x = NULL;
	time_t nb, na, rt;

	ERR_clear_error();
	if (!ca_pem || !*ca_pem)
		return PKI_RENEW_MISSING;
	x = pem_too_long(ca_pem) ? NULL : cert_read(ca_pem);
	if (!x || !cert_is_ca(x) || asn1_time_to_time_t(X509_get0_notBefore(x), &nb) != 0 ||
	    asn1_time_to_time_t(X509_get0_notAfter(x), &na) != 0) {
		r = PKI_RENEW_UNPARSABLE;
		goto out;
	}
	rt = renewal_time_of(nb, na, renew_before);
	if (renewal_time)
		*renewal_time = rt;
	r = now >= rt ? PKI_RENEW_EXPIRING : PKI_RENEW_NONE;
out:
	X509_free(x);
	ERR_clear_error();
	return r;
}

/* ---- CA rotation ----------------------------------------------------------------- */

int pki_bundle_build(const char *ca_pem, const char *prev_bundle_pem, time_t now, char **out,
                     char *err, size_t errlen)
{
	unsigned char fps[PKI_BUNDLE_MAX][EVP_MAX_MD_SIZE];
	X509 *ca = NULL;
	STACK_OF(X509) *prev = NULL;
	BIO *b = NULL;
	char *s = NULL;
	int i, j, count = 0, rc = -1;

	ERR_clear_error();
	if (!out || pem_too_long(ca_pem) || !(ca = cert_read(ca_pem))) {
		seterr(err, errlen, "ca certificate is not a pem certificate");
		goto out;
	}
	if (!cert_is_ca(ca)) {
		seterr(err, errlen, "ca certificate is not a ca");
		goto out;
	}
	b = BIO_new(BIO_s_mem());
	if (!b || cert_fingerprint(ca, fps[0]) != 0 || PEM_write_bio_X509(b, ca) != 1) {
		seterr(err, errlen, "encoding trust bundle failed");
		goto out;
	}
	count = 1;
	if (prev_bundle_pem && *prev_bundle_pem && !pem_too_long(prev_bundle_pem))
		prev = certs_read(prev_bundle_pem, 0);
	for (i = 0; prev && i < sk_X509_num(prev) && count < PKI_BUNDLE_MAX; i++) {
		X509 *x = sk_X509_value(prev, i);
		time_t na;

		if (!cert_is_ca(x) || asn1_time_to_time_t(X509_get0_notAfter(x), &na) != 0 ||
		    now >= na)
			continue;
		if (cert_fingerprint(x, fps[count]) != 0) {
			seterr(err, errlen, "computing certificate fingerprint failed");
			goto out;
		}
		for (j = 0; j < count; j++)
			if (memcmp(fps[j], fps[count], 32) == 0)
				break;
		if (j < count)
			continue;
		if (PEM_write_bio_X509(b, x) != 1) {
			seterr(err, errlen, "encoding trust bundle failed");
			goto out;
		}
		count++;
	}
	s = bio_strdup(b);
	if (!s) {
		seterr(err, errlen, "out of memory encoding trust bundle");
		goto out;
	}
	*out = s;
	rc = 0;
out:
	BIO_free(b);
	sk_X509_pop_free(prev, X509_free);
	X509_free(ca);
	ERR_clear_error();
	return rc;
}

int pki_bundle_count(const char *bundle_pem)
{
	STACK_OF(X509) * sk;
	int n;

	ERR_clear_error();
	sk = certs_read(bundle_pem, 0);
	n = sk ? sk_X509_num(sk) : -1;
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return n;
}
