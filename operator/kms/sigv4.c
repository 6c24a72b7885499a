#include "sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define PART_MAX (32u * 1024) /* cap of any intermediate string */

static const char hexd[] = "0123456789abcdef";
static const char zeros[8192];

static void to_hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[p[i] >> 4];
		out[2 * i + 1] = hexd[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
	uint8_t md[32];
	unsigned int len = 0;

	if (EVP_Digest(n ? p : "", n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -1;
	to_hex(md, 32, out);
	return 0;
}

static int hmac(const void *key, size_t keylen, const void *msg, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	if (keylen > 1024)
		return -1;
	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) || len != 32)
		return -1;
	return 0;
}

int sigv4_format_date(time_t t, char out[SIGV4_DATE_LEN + 1])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return -1;
	return strftime(out, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) == SIGV4_DATE_LEN ? 0 : -1;
}

static int date_ok(const char *d)
{
	if (!d || strlen(d) != SIGV4_DATE_LEN || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return 0;
	return 1;
}

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* RFC 3986 encoding as SigV4 wants it: unreserved kept, the rest %XX upper. */
static int uri_encode(struct buf *b, const char *s, size_t n)
{
	static const char up[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c)) {
			if (buf_addc(b, (char)c))
				return -1;
		} else {
			char e[3] = {'%', up[c >> 4], up[c & 15]};
			if (buf_add(b, e, 3))
				return -1;
		}
	}
	return 0;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode s[0..n) then encode it canonically. */
static int reencode(struct buf *b, const char *s, size_t n)
{
	struct buf raw = BUF_INIT(PART_MAX);
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			c = (char)(hexval((unsigned char)s[i + 1]) << 4 |
			           hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		if (buf_addc(&raw, c))
			goto out;
	}
	rc = uri_encode(b, buf_str(&raw), raw.len);
out:
	buf_free(&raw);
	return rc;
}

/* Normalised, encoded path: drop "" and "." segments, resolve "..". */
static int canonical_path(struct buf *b, const char *path)
{
	const char *segs[256];
	size_t lens[256], nseg = 0, plen;
	const char *p = path && *path ? path : "/";
	int trailing;

	plen = strlen(p);
	trailing = plen > 0 && p[plen - 1] == '/';
	while (*p) {
		const char *e;
		size_t n;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg)
				nseg--;
		} else {
			if (nseg == sizeof(segs) / sizeof(segs[0]))
				return -1;
			segs[nseg] = p;
			lens[nseg++] = n;
		}
		p += n;
	}
	if (buf_addc(b, '/'))
		return -1;
	for (size_t i = 0; i < nseg; i++) {
		if (i && buf_addc(b, '/'))
			return -1;
		if (uri_encode(b, segs[i], lens[i]))
			return -1;
	}
	if (nseg && trailing && buf_addc(b, '/'))
		return -1;
	return 0;
}

struct qparam {
	char *k, *v;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

static int canonical_query(struct buf *b, const char *q)
{
	struct qparam ps[128] = {{NULL, NULL}};
	size_t n = 0;
	int rc = -1;

	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		if (len) {
			const char *eq = memchr(q, '=', len);
			size_t klen = eq ? (size_t)(eq - q) : len;
			struct buf k = BUF_INIT(PART_MAX), v = BUF_INIT(PART_MAX);
			if (n == sizeof(ps) / sizeof(ps[0]) || reencode(&k, q, klen) ||
			    (eq && reencode(&v, eq + 1, len - klen - 1))) {
				buf_free(&k);
				buf_free(&v);
				goto out;
			}
			ps[n].k = buf_take(&k);
			ps[n].v = buf_take(&v);
			n++;
			if (!ps[n - 1].k || !ps[n - 1].v)
				goto out;
		}
		q += len + (amp ? 1 : 0);
	}
	qsort(ps, n, sizeof(ps[0]), qparam_cmp);
	for (size_t i = 0; i < n; i++)
		if ((i && buf_addc(b, '&')) || buf_adds(b, ps[i].k) || buf_addc(b, '=') ||
		    buf_adds(b, ps[i].v))
			goto out;
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		free(ps[i].k);
		free(ps[i].v);
	}
	return rc;
}

struct chdr {
	char name[128];
	const char *value;
	size_t order;
};

static int chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int token_char(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Trimmed value with inner whitespace runs collapsed to one space. */
static int add_value(struct buf *b, const char *v)
{
	int space = 0, any = 0;

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = any;
			continue;
		}
		if (space && buf_addc(b, ' '))
			return -1;
		space = 0;
		any = 1;
		if (buf_addc(b, (char)c))
			return -1;
	}
	return 0;
}

int sigv4_canonical_request(const struct sigv4_request *r, const char *amz_date,
                            const char *session_token, struct buf *creq, struct buf *signed_headers)
{
	struct chdr h[SIGV4_MAX_HEADERS + 2];
	struct buf sh = BUF_INIT(PART_MAX), out = BUF_INIT(PART_MAX);
	char hash[65];
	size_t n = 0;
	int rc = -1;

	if (!r || !r->method || !*r->method || !date_ok(amz_date) || !creq ||
	    r->nheaders > SIGV4_MAX_HEADERS || (r->nheaders && !r->headers) ||
	    (r->body_len && !r->body))
		return -1;
	for (size_t i = 0; i < r->nheaders; i++) {
		const char *nm = r->headers[i].name;
		size_t len = nm ? strlen(nm) : 0;
		if (len == 0 || len >= sizeof(h[0].name) || !r->headers[i].value)
			return -1;
		for (size_t j = 0; j < len; j++) {
			if (!token_char((unsigned char)nm[j]))
				return -1;
			h[n].name[j] = (char)tolower((unsigned char)nm[j]);
		}
		h[n].name[len] = '\0';
		/* the signer owns these three */
		if (!strcmp(h[n].name, "x-amz-date") || !strcmp(h[n].name, "authorization") ||
		    !strcmp(h[n].name, "x-amz-security-token"))
			return -1;
		h[n].value = r->headers[i].value;
		h[n].order = n;
		n++;
	}
	snprintf(h[n].name, sizeof(h[n].name), "x-amz-date");
	h[n].value = amz_date;
	h[n].order = n;
	n++;
	if (session_token && *session_token) {
		snprintf(h[n].name, sizeof(h[n].name), "x-amz-security-token");
		h[n].value = session_token;
		h[n].order = n;
		n++;
	}
	qsort(h, n, sizeof(h[0]), chdr_cmp);

	/* grow once up front: the canonical request can hold the session token,
	 * and a realloc while it is being built would leave copies behind */
	if (buf_add(&out, "", 0) || buf_add(&out, zeros, sizeof(zeros)))
		goto out;
	buf_reset(&out);
	if (buf_adds(&out, r->method) || buf_addc(&out, '\n') || canonical_path(&out, r->path) ||
	    buf_addc(&out, '\n') || canonical_query(&out, r->query) || buf_addc(&out, '\n'))
		goto out;
	for (size_t i = 0; i < n; i++) {
		int same = i && !strcmp(h[i].name, h[i - 1].name);
		if (same) {
			if (buf_addc(&out, ','))
				goto out;
		} else {
			if ((i && buf_addc(&out, '\n')) || buf_adds(&out, h[i].name) ||
			    buf_addc(&out, ':'))
				goto out;
			if ((sh.len && buf_addc(&sh, ';')) || buf_adds(&sh, h[i].name))
				goto out;
		}
		if (add_value(&out, h[i].value))
			goto out;
	}
	if (sigv4_sha256_hex(r->body, r->body_len, hash))
		goto out;
	if (buf_adds(&out, "\n\n") || buf_add(&out, sh.ptr, sh.len) || buf_addc(&out, '\n') ||
	    buf_adds(&out, hash))
		goto out;
	if (buf_add(creq, out.ptr, out.len))
		goto out;
	if (signed_headers && buf_add(signed_headers, sh.ptr, sh.len))
		goto out;
	rc = 0;
out:
	buf_free(&sh);
	/* the canonical request can hold the session token */
	buf_free_secret(&out);
	return rc;
}

static int scope(struct buf *b, const char *amz_date, const char *region, const char *service)
{
	return buf_add(b, amz_date, 8) || buf_addc(b, '/') || buf_adds(b, region) ||
	               buf_addc(b, '/') || buf_adds(b, service) || buf_adds(b, "/aws4_request")
	           ? -1
	           : 0;
}

int sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                         const char *creq, size_t creq_len, struct buf *out)
{
	struct buf s = BUF_INIT(PART_MAX);
	char hash[65];
	int rc = -1;

	if (!date_ok(amz_date) || !region || !*region || !service || !*service || !creq)
		return -1;
	if (sigv4_sha256_hex(creq, creq_len, hash))
		return -1;
	if (buf_adds(&s, SIGV4_ALGORITHM "\n") || buf_adds(&s, amz_date) || buf_addc(&s, '\n') ||
	    scope(&s, amz_date, region, service) || buf_addc(&s, '\n') || buf_adds(&s, hash))
		goto out;
	if (buf_add(out, s.ptr, s.len))
		goto out;
	rc = 0;
out:
	buf_free(&s);
	return rc;
}

int sigv4_signing_key(const char *secret, const char *date8, const char *region,
                      const char *service, uint8_t out[32])
{
	char k0[4 + 256];
	uint8_t k1[32], k2[32], k3[32];
	size_t slen;
	int rc = -1;

	if (!secret || !date8 || strlen(date8) < 8 || !region || !service)
		return -1;
	slen = strlen(secret);
	if (slen > sizeof(k0) - 4)
		return -1;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	if (hmac(k0, 4 + slen, date8, 8, k1) || hmac(k1, 32, region, strlen(region), k2) ||
	    hmac(k2, 32, service, strlen(service), k3) || hmac(k3, 32, "aws4_request", 12, out))
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	if (rc)
		OPENSSL_cleanse(out, 32);
	return rc;
}

int sigv4_sign(const struct sigv4_request *r, const struct sigv4_credentials *cred,
               const char *region, const char *service, const char *amz_date,
               struct buf *authorization, struct buf *creq_out, struct buf *sts_out)
{
	struct buf creq = BUF_INIT(PART_MAX), sh = BUF_INIT(PART_MAX), sts = BUF_INIT(PART_MAX);
	struct buf a = BUF_INIT(PART_MAX);
	uint8_t key[32], sig[32];
	char sighex[65];
	int rc = -1;

	if (!cred || !cred->access_key_id || !*cred->access_key_id || !cred->secret_access_key ||
	    !*cred->secret_access_key || !authorization || !region || !service)
		return -1;
	if (sigv4_canonical_request(r, amz_date, cred->session_token, &creq, &sh) ||
	    sigv4_string_to_sign(amz_date, region, service, creq.ptr, creq.len, &sts) ||
	    sigv4_signing_key(cred->secret_access_key, amz_date, region, service, key))
		goto out;
	if (hmac(key, sizeof(key), sts.ptr, sts.len, sig))
		goto out;
	to_hex(sig, sizeof(sig), sighex);
	if (buf_adds(&a, SIGV4_ALGORITHM " Credential=") || buf_adds(&a, cred->access_key_id) ||
	    buf_addc(&a, '/') || scope(&a, amz_date, region, service) ||
	    buf_adds(&a, ", SignedHeaders=") || buf_add(&a, sh.ptr, sh.len) ||
	    buf_adds(&a, ", Signature=") || buf_adds(&a, sighex))
		goto out;
	if (buf_add(authorization, a.ptr, a.len))
		goto out;
	if (creq_out && buf_add(creq_out, creq.ptr, creq.len))
		goto out;
	if (sts_out && buf_add(sts_out, sts.ptr, sts.len))
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	buf_free_secret(&creq);
	buf_free(&sh);
	buf_free(&sts);
	buf_free(&a);
	return rc;
}
