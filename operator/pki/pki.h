/*
 * pki: the certificate authority of a Cluster, its leaf certificates, and the
 * decisions about when to renew them. OpenSSL 3 EVP/X509 APIs only; no files,
 * no subprocesses: every certificate and key goes in and out as PEM in memory.
 *
 * Invariants and conventions:
 *   - Certificates are X.509 v3, signed with SHA-256, with a random 128-bit
 *     positive serial and notBefore backdated PKI_BACKDATE seconds for clock
 *     skew. Private keys are written as unencrypted PKCS#8 ("PRIVATE KEY").
 *   - Time is always passed in (`now`), never read from the clock, so every
 *     decision here is reproducible in tests.
 *   - Functions return 0 on success and -1 on failure unless stated; out-
 *     parameters are set only on success. Error text goes to the caller's
 *     err/errlen buffer (may be NULL/0), in lower case, naming what failed
 *     ("ca key does not match ca certificate"); callers prefix the object.
 *     No error message ever contains key material.
 *   - Input PEM is capped at PKI_PEM_MAX bytes; an encrypted private key is
 *     rejected (no passphrase prompt ever happens).
 *   - The OpenSSL error queue of the calling thread is left empty on return.
 *   - Thread-safe: no global state.
 *
 * Ownership: strings returned through out-parameters are malloc'd and owned by
 * the caller. Private keys come back in a struct pki_pair: release it with
 * pki_pair_free(), which wipes the key with OPENSSL_cleanse before freeing.
 * Key material is only ever held in OpenSSL secure-memory BIOs while encoded.
 */
#ifndef VW_PKI_H
#define VW_PKI_H

#include <stddef.h>
#include <time.h>

#define PKI_PEM_MAX         (1024u * 1024) /* cap on any PEM input (a Secret's limit) */
#define PKI_BACKDATE        300            /* seconds notBefore lies in the past */
#define PKI_BUNDLE_MAX      4              /* CA certificates kept in a trust bundle */
#define PKI_SANS_MAX        64             /* DNS + IP SANs on one leaf */
#define PKI_CN_MAX          64             /* RFC 5280 ub-common-name; longer CNs are cut */
#define PKI_RFC3339_LEN     21             /* "2006-01-02T15:04:05Z" and its NUL */
#define PKI_FINGERPRINT_LEN 65             /* SHA-256 as lower-case hex and its NUL */
#define PKI_SERIAL_LEN      43             /* up to 20 octets as lower-case hex and NUL */

/* ---- key algorithms ----------------------------------------------------- */

enum pki_key_alg {
	PKI_KEY_ECDSA_P256 = 0, /* the default */
	PKI_KEY_RSA_2048,
	PKI_KEY_RSA_4096,
	PKI_KEY_OTHER, /* only ever reported by pki_cert_info(), never generated */
};

/* Parse the CRD spelling "ECDSA-P256", "RSA-2048", "RSA-4096" (exact case).
 * NULL or "" gives the default ECDSA-P256. 0, or -1 when unknown. */
int pki_key_alg_parse(const char *s, enum pki_key_alg *out);
/* The CRD spelling; "other" for PKI_KEY_OTHER. Static storage. */
const char *pki_key_alg_name(enum pki_key_alg alg);

/* ---- issuing ----------------------------------------------------------- */

/* A certificate and its private key, both PEM, both owned by the holder. */
struct pki_pair {
	char *cert_pem;
	char *key_pem; /* secret: wiped by pki_pair_free() */
};

/* Wipe key_pem, free both, set them to NULL. A zeroed pair is fine. */
void pki_pair_free(struct pki_pair *p);
/* Wipe and free one secret string (for a key PEM taken out of a pair). */
void pki_secret_free(char *s);

/* Create a self-signed CA: subject CN=cn (e.g. "vecward ns/name CA"),
 * basicConstraints critical CA:TRUE pathlen:0, keyUsage critical
 * keyCertSign,cRLSign, subject and authority key identifiers, valid from
 * now - PKI_BACKDATE to now + lifetime seconds. out is set on success. */
int pki_ca_create(const char *cn, enum pki_key_alg alg, time_t lifetime, time_t now,
                  struct pki_pair *out, char *err, size_t errlen);

enum pki_usage {
	PKI_USAGE_SERVER = 1, /* extendedKeyUsage serverAuth */
	PKI_USAGE_CLIENT = 2, /* extendedKeyUsage clientAuth */
	PKI_USAGE_BOTH = 3,   /* both */
};

/* What a leaf should look like. dns[] holds host names (letters, digits, '-',
 * '.', a leading "*." wildcard; at most 253 chars), ips[] IPv4/IPv6 literals;
 * together at most PKI_SANS_MAX. Either list may be empty (n 0, pointer NULL). */
struct pki_leaf_req {
	const char *cn;
	const char *const *dns;
	size_t ndns;
	const char *const *ips;
	size_t nips;
	enum pki_usage usage;
	enum pki_key_alg alg;
	time_t lifetime; /* seconds; notAfter is capped at the CA's notAfter */
};

/* Issue a leaf signed by the CA (ca_cert_pem + ca_key_pem, which must match
 * and must be a CA allowed to sign certificates): the SANs requested, exactly;
 * basicConstraints CA:FALSE; keyUsage critical digitalSignature (plus
 * keyEncipherment for RSA keys); extendedKeyUsage per req->usage; subject and
 * authority key identifiers; a fresh key of req->alg. out is set on success. */
int pki_issue(const char *ca_cert_pem, const char *ca_key_pem, const struct pki_leaf_req *req,
              time_t now, struct pki_pair *out, char *err, size_t errlen);

/* ---- reading ----------------------------------------------------------- */

struct pki_cert_info {
	time_t not_before;
	time_t not_after;
	char cn[PKI_CN_MAX * 4 + 1]; /* subject CN as UTF-8, "" when absent */
	char **dns;                  /* DNS SANs in certificate order */
	size_t ndns;
	char **ips; /* IP SANs as text ("10.0.0.1", "::1") */
	size_t nips;
	int is_ca; /* basicConstraints CA:TRUE */
	enum pki_key_alg alg;
	int key_bits;
	char fingerprint[PKI_FINGERPRINT_LEN]; /* SHA-256 of the DER, lower-case hex */
	char serial[PKI_SERIAL_LEN];           /* lower-case hex, no leading zeros */
};

/* Parse the first certificate in pem. On success *out is filled (release it
 * with pki_cert_info_free()); on failure *out is untouched. */
int pki_cert_info(const char *pem, struct pki_cert_info *out, char *err, size_t errlen);
/* Free the SAN lists; the struct itself belongs to the caller. */
void pki_cert_info_free(struct pki_cert_info *info);

enum pki_purpose {
	PKI_PURPOSE_ANY = 0, /* chain and validity only */
	PKI_PURPOSE_SERVER,  /* also: usable as a TLS server certificate */
	PKI_PURPOSE_CLIENT,  /* also: usable as a TLS client certificate */
};

/* Verify the first certificate of leaf_pem (further certificates there are
 * untrusted intermediates) against the CA certificates of bundle_pem at time
 * `at`, for the purpose given, and, when host is not NULL, for that host name
 * or IP literal. 0 when it verifies; -1 with OpenSSL's verification error
 * ("certificate has expired", "hostname mismatch", ...) or a parse error in err. */
int pki_verify(const char *leaf_pem, const char *bundle_pem, time_t at, enum pki_purpose purpose,
               const char *host, char *err, size_t errlen);

/* 1 when the private key in key_pem belongs to the certificate in cert_pem,
 * 0 when it does not, -1 when either does not parse (err says which). */
int pki_key_matches(const char *cert_pem, const char *key_pem, char *err, size_t errlen);

/* ---- renewal (pure decisions) ------------------------------------------ */

/* Why a certificate must be (re)issued. Checked in this order; the first
 * that applies is returned. */
enum pki_renew_reason {
	PKI_RENEW_NONE = 0,
	PKI_RENEW_MISSING,        /* no certificate (NULL or "") */
	PKI_RENEW_UNPARSABLE,     /* not a PEM certificate (CA: or not a CA) */
	PKI_RENEW_KEY_MISMATCH,   /* the stored key is not the certificate's key */
	PKI_RENEW_ISSUER_CHANGED, /* not signed by the current CA */
	PKI_RENEW_KEY_ALGORITHM_CHANGED,
	PKI_RENEW_USAGE_CHANGED, /* extendedKeyUsage differs from the wanted usage */
	PKI_RENEW_SANS_CHANGED,  /* DNS or IP SANs differ (as sets, DNS case-blind) */
	PKI_RENEW_EXPIRING,      /* now >= renewal time */
};

/* CamelCase name for condition reasons and Events ("Expiring", ...). */
const char *pki_renew_reason_name(enum pki_renew_reason r);

/* What the leaf should be. key_pem may be NULL (no key check); usage may be
 * 0 (no usage check). */
struct pki_renew_want {
	const char *key_pem;
	const char *const *dns;
	size_t ndns;
	const char *const *ips;
	size_t nips;
	enum pki_usage usage;
	enum pki_key_alg alg;
	time_t renew_before; /* seconds before notAfter */
};

/* Decide whether the leaf in leaf_pem must be re-issued. ca_pem is the
 * current CA certificate (NULL: issuer not checked; unparsable: counts as
 * ISSUER_CHANGED). When the leaf parses, *renewal_time (may be NULL) is set
 * to notAfter - renew_before, or, when renew_before is not shorter than the
 * leaf's actual lifetime (a leaf capped by its CA), to notAfter minus a third
 * of that lifetime, so a re-issued leaf is never due at once. */
enum pki_renew_reason pki_renewal_due(const char *leaf_pem, const char *ca_pem,
                                      const struct pki_renew_want *want, time_t now,
                                      time_t *renewal_time);

/* The same decision for a CA: MISSING, UNPARSABLE (also: not a CA), EXPIRING
 * or NONE, with *renewal_time computed as for leaves. */
enum pki_renew_reason pki_ca_renewal_due(const char *ca_pem, time_t now, time_t renew_before,
                                         time_t *renewal_time);

/* ---- CA rotation ------------------------------------------------------- */

/* Build the trust bundle clients get (ca.crt) so a CA rotation cuts no client
 * off: the current CA first, then every CA certificate of prev_bundle_pem
 * (may be NULL or "") that is unexpired at `now` and distinct from those
 * already taken (by SHA-256 fingerprint), in their previous order, up to
 * PKI_BUNDLE_MAX certificates. Blocks of prev_bundle_pem that do not parse,
 * are not CA certificates, or are expired are dropped. On success *out is a
 * malloc'd PEM string owned by the caller. Fails only when ca_pem is not a CA
 * certificate or on out of memory. */
int pki_bundle_build(const char *ca_pem, const char *prev_bundle_pem, time_t now, char **out,
                     char *err, size_t errlen);

/* Number of certificates in a PEM bundle that parse; -1 when none does. */
int pki_bundle_count(const char *bundle_pem);

/* ---- time -------------------------------------------------------------- */

/* Format t as RFC 3339 UTC ("2026-05-01T12:00:00Z") for status fields.
 * out needs PKI_RFC3339_LEN bytes. 0, or -1 when it does not fit. */
int pki_time_rfc3339(time_t t, char *out, size_t outlen);

#endif
