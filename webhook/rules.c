/*
 * rules: the vecward admission policy (see rules.h and docs/policies.md).
 * Pure: every other object comes through struct wh_lookup.
 */
#include "rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "json.h"
#include "util.h"

const struct wh_rule WH_RULES[] = {
    {"VW000", "Cluster, User, EncryptionKey",
     "a lookup needed for the decision failed: denied, never admitted unchecked"},
    {"VW001", "Cluster", "spec.tls.mode disabled (warning in an opted-in namespace)"},
    {"VW002", "Cluster", "spec.tls.internal false (warning in an opted-in namespace)"},
    {"VW003", "Cluster", "spec.network.allowedCIDRs entry not a canonical CIDR"},
    {"VW004", "Cluster", "spec.network.allowedCIDRs entry open to every address"},
    {"VW005", "Cluster", "spec.tls.renewBefore malformed, under 5m or not shorter than duration"},
    {"VW006", "Cluster", "spec.tls.duration malformed, under 1h or over 19800h (825 days)"},
    {"VW007", "Cluster", "spec.encryption or its keyRef changed or removed once set"},
    {"VW008", "Cluster", "spec.encryption added to an existing Cluster"},
    {"VW009", "Cluster", "spec.encryption.databases entry removed"},
    {"VW010", "Cluster", "spec.encryption set without spec.region"},
    {"VW011", "Cluster, EncryptionKey",
     "Cluster and its EncryptionKey in different regions (warning while the key is missing)"},
    {"VW012", "Cluster", "spec.roles redefines a built-in role (admin, public)"},
    {"VW013", "Cluster, User, EncryptionKey",
     "spec field outside the API (free-form configuration)"},
    {"VW014", "Cluster", "spec.audit.enabled false (warning)"},
    {"VW015", "Cluster", "spec.deletion.recycleBinDays 0 (warning)"},
    {"VW016", "Cluster", "a custom role grants every privilege (warning)"},
    {"VW017", "Cluster",
     "weak root password in rootPasswordSecretRef (warning while the Secret is missing)"},
    {"VW018", "Cluster", "spec.backup.objectStore.endpoint not https or carrying credentials"},
    {"VW019", "Cluster", "spec.image not pinned by digest (warning)"},
    {"VW020", "User", "invalid Milvus user name"},
    {"VW021", "User", "reserved user name (root, admin, public)"},
    {"VW022", "User", "spec.username changed"},
    {"VW023", "User", "spec.clusterRef missing or changed"},
    {"VW024", "User", "the same username twice in one Cluster"},
    {"VW025", "User",
     "a role neither built in nor defined by the Cluster (warning while the Cluster is missing)"},
    {"VW026", "User", "client certificate for a Cluster whose tls.mode is not mutual"},
    {"VW027", "User", "admin role granted (least-privilege warning)"},
    {"VW028", "User", "weak password in passwordSecretRef (warning while the Secret is missing)"},
    {"VW030", "EncryptionKey", "spec.provider/spec.keyID: not a KMS key ARN, or keyID on local"},
    {"VW031", "EncryptionKey", "spec.region missing (local) or not the ARN's region"},
    {"VW032", "EncryptionKey", "the same provider and keyID twice in a namespace"},
    {"VW033", "EncryptionKey", "more than 20 EncryptionKeys in a namespace"},
    {"VW034", "EncryptionKey",
     "deleting a key a Cluster still uses (warning with the crypto-shredding annotation)"},
    {"VW035", "EncryptionKey", "provider local (warning in an opted-in namespace)"},
    {"VW036", "EncryptionKey", "spec.endpoint not https, carrying credentials, or set for local"},
    {NULL, NULL, NULL},
};

/* ---- small pure helpers ----------------------------------------------- */

static const char *const KIND_NAMES[] = {"Cluster", "User", "EncryptionKey", "Namespace", "Secret"};

const char *wh_kind_name(enum wh_kind k)
{
	return (unsigned)k < sizeof(KIND_NAMES) / sizeof(KIND_NAMES[0]) ? KIND_NAMES[k] : "?";
}

int wh_kind_parse(const char *kind, enum wh_kind *out)
{
	for (int k = WH_KIND_CLUSTER; k <= WH_KIND_ENCRYPTIONKEY; k++)
		if (kind && strcmp(kind, KIND_NAMES[k]) == 0) {
			*out = (enum wh_kind)k;
			return 0;
		}
	return -1;
}

int wh_op_parse(const char *s, enum wh_op *out)
{
	static const char *const ops[] = {"CREATE", "UPDATE", "DELETE"};
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, ops[i]) == 0) {
			*out = (enum wh_op)i;
			return 0;
		}
	return -1;
}

int wh_parse_duration(const char *s, double *seconds)
{
	return parse_duration(s, seconds);
}

/* IPv4 dotted quad without leading zeros (what Go's netip accepts). */
static int parse_ipv4(const char *s, size_t len, unsigned char out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t start = i;
		while (i < len && isdigit((unsigned char)s[i]) && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return -1;
		out[part] = (unsigned char)v;
		if (part < 3) {
			if (i >= len || s[i] != '.')
				return -1;
			i++;
		}
	}
	return i == len ? 0 : -1;
}

int wh_parse_cidr(const char *s, int *prefix, char *canon, size_t canonlen)
{
	unsigned char a[16];
	char addr[64], text[INET6_ADDRSTRLEN];
	const char *slash;
	size_t alen;
	int v6, bits, p = 0, n;

	if (!s || !(slash = strchr(s, '/')) || strchr(slash + 1, '/'))
		return -1;
	alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	v6 = strchr(addr, ':') != NULL;
	bits = v6 ? 128 : 32;
	if (v6 ? inet_pton(AF_INET6, addr, a) != 1 : parse_ipv4(addr, alen, a) != 0)
		return -1;
	/* prefix: decimal, no sign, no leading zero */
	slash++;
	if (!*slash || strlen(slash) > 3 || (slash[0] == '0' && slash[1]))
		return -1;
	for (const char *q = slash; *q; q++) {
		if (!isdigit((unsigned char)*q))
			return -1;
		p = p * 10 + (*q - '0');
	}
	if (p > bits)
		return -1;
	for (int i = p; i < bits; i++)
		a[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, a, text, sizeof(text)))
		return -1;
	*prefix = p;
	n = snprintf(canon, canonlen, "%s/%d", text, p);
	if (n < 0 || (size_t)n >= canonlen)
		return -1;
	return strcmp(canon, s) == 0 ? 0 : 1;
}

int wh_valid_username(const char *s)
{
	size_t n;

	if (!s || !isalpha((unsigned char)s[0]) || (unsigned char)s[0] > 0x7f)
		return 0;
	n = strlen(s);
	if (n > 32)
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c > 0x7f || !(isalnum(c) || c == '_'))
			return 0;
	}
	return 1;
}

static int all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return 0;
	return 1;
}

int wh_parse_kms_arn(const char *arn, char *region, size_t regionlen)
{
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
	static const char hex[] = "0123456789abcdef";
	static const char digits[] = "0123456789";
	const char *p = arn, *r, *end;
	size_t rlen;
	int parts = 0;

	if (!p || strncmp(p, "arn:aws", 7) != 0)
		return -1;
	p += 7;
	if (strncmp(p, "-cn:", 4) == 0)
		p += 3;
	else if (strncmp(p, "-us-gov:", 8) == 0)
		p += 7;
	if (strncmp(p, ":kms:", 5) != 0)
		return -1;
	p += 5;
	/* region: [a-z]{2}(-[a-z]+)+-[0-9]+ */
	r = p;
	end = strchr(r, ':');
	if (!end)
		return -1;
	rlen = (size_t)(end - r);
	if (rlen == 0 || rlen >= regionlen || rlen > 63)
		return -1;
	for (const char *q = r; q < end; parts++) {
		const char *dash = memchr(q, '-', (size_t)(end - q));
		size_t plen = (size_t)((dash ? dash : end) - q);
		if (plen == 0)
			return -1;
		if (parts == 0 && !(plen == 2 && all_of(q, plen, lower)))
			return -1;
		if (parts > 0 && !dash && !all_of(q, plen, digits))
			return -1;
		if (parts > 0 && dash && !all_of(q, plen, lower))
			return -1;
		q = dash ? dash + 1 : end;
		if (dash && q == end)
			return -1;
	}
	if (parts < 3)
		return -1;
	p = end + 1;
	if (!all_of(p, 12, digits) || strncmp(p + 12, ":key/", 5) != 0)
		return -1;
	p += 17;
	if (strncmp(p, "mrk-", 4) == 0) {
		if (strlen(p + 4) != 32 || !all_of(p + 4, 32, hex))
			return -1;
	} else {
		static const size_t groups[] = {8, 4, 4, 4, 12};
		if (strlen(p) != 36)
			return -1;
		for (int g = 0; g < 5; g++) {
			if (!all_of(p, groups[g], hex))
				return -1;
			p += groups[g];
			if (g < 4 && *p++ != '-')
				return -1;
		}
	}
	memcpy(region, r, rlen);
	region[rlen] = '\0';
	return 0;
}

const char *wh_password_problem(const char *pw, size_t len)
{
	int lower = 0, upper = 0, digit = 0, other = 0;

	if (len < 12)
		return "is shorter than 12 characters";
	if (len > 72)
		return "is longer than 72 bytes (bcrypt ignores the rest)";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];
		if (c < 0x20 || c == 0x7f)
			return "contains control characters";
		if (c >= 'a' && c <= 'z')
			lower = 1;
		else if (c >= 'A' && c <= 'Z')
			upper = 1;
		else if (c >= '0' && c <= '9')
			digit = 1;
		else
			other = 1;
	}
	if (lower + upper + digit + other < 3)
		return "uses fewer than 3 of the 4 character classes";
	return NULL;
}

/* 0: https (or http on loopback), no credentials; 1: plaintext; 2: userinfo. */
static int check_url(const char *u)
{
	const char *sep = strstr(u, "://"), *host, *hend;
	size_t slen, hlen;
	char h[256];

	if (!sep)
		return 1;
	slen = (size_t)(sep - u);
	host = sep + 3;
	hend = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(hend - host)))
		return 2;
	if (slen == 5 && strncasecmp(u, "https", 5) == 0)
		return hend > host ? 0 : 1;
	if (!(slen == 4 && strncasecmp(u, "http", 4) == 0))
		return 1;
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(hend - host));
		if (!rb)
			return 1;
		host++;
		hlen = (size_t)(rb - host);
	} else {
		const char *colon = memchr(host, ':', (size_t)(hend - host));
		hlen = (size_t)((colon ? colon : hend) - host);
	}
	if (hlen >= sizeof(h))
		return 1;
	memcpy(h, host, hlen);
	h[hlen] = '\0';
	if (strcmp(h, "127.0.0.1") == 0 || strcmp(h, "::1") == 0 || strcasecmp(h, "localhost") == 0)
		return 0;
	return 1;
}

static yajl_val obj_or_null(yajl_val v)
{
	return v && v->type == yajl_t_object ? v : NULL;
}

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* ---- evaluation context -------------------------------------------------- */

struct ev {
	const struct wh_input *in;
	const struct wh_lookup *lk;
	struct wh_result *res;
	const char *ns;
	const char *name; /* the object's name, or "" (generateName) */
	int oom;
	int undecided;
	/* the namespace, fetched at most once: -1 unknown/failed, else 0/1 */
	int ns_fetched;
	int ns_insecure;
	int ns_terminating;
};

static int push(struct ev *e, struct wh_finding **arr, size_t *n, const char *id, const char *msg)
{
	struct wh_finding *f;

	if (*n >= WH_MAX_FINDINGS)
		return 0;
	f = realloc(*arr, (*n + 1) * sizeof(**arr));
	if (!f) {
		e->oom = 1;
		return -1;
	}
	*arr = f;
	snprintf(f[*n].id, sizeof(f[*n].id), "%s", id);
	if (*n == WH_MAX_FINDINGS - 1) {
		char last[64];
		snprintf(last, sizeof(last), "%s: further findings omitted", id);
		f[*n].msg = strdup(last);
	} else {
		f[*n].msg = strdup(msg);
	}
	if (!f[*n].msg) {
		e->oom = 1;
		return -1;
	}
	(*n)++;
	return 0;
}

static void finding(struct ev *e, int deny, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finding(struct ev *e, int deny, const char *id, const char *fmt, ...)
{
	char msg[WH_MAX_MESSAGE];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s: ", id);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one printable ASCII line, whatever the object held */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	if (deny)
		push(e, &e->res->denials, &e->res->n_denials, id, msg);
	else
		push(e, &e->res->warnings, &e->res->n_warnings, id, msg);
}

#define deny(e, id, ...) finding(e, 1, id, __VA_ARGS__)
#define warn(e, id, ...) finding(e, 0, id, __VA_ARGS__)

static void undecided(struct ev *e, enum wh_kind k, const char *name, const char *err)
{
	char what[200];

	e->undecided = 1;
	if (k == WH_KIND_NAMESPACE)
		snprintf(what, sizeof(what), "%.64s", e->ns);
	else
		snprintf(what, sizeof(what), "%.64s/%.64s", e->ns, name);
	deny(e, "VW000",
	     "cannot decide: reading %s %s failed (%.160s); denied rather than admitted unchecked, "
	     "retry when the API server answers",
	     wh_kind_name(k), what, err && *err ? err : "no reason given");
}

/* FOUND (with *out), NOT_FOUND, or ERROR (VW000 already recorded). */
static int get(struct ev *e, enum wh_kind k, const char *name, yajl_val *out)
{
	char err[256] = "";
	yajl_val v = NULL;
	int rc;

	*out = NULL;
	if (e->undecided)
		return WH_LOOKUP_ERROR; /* one VW000 per request is enough */
	if (!e->lk || !e->lk->get) {
		undecided(e, k, name, "no lookup available");
		return WH_LOOKUP_ERROR;
	}
	rc = e->lk->get(e->lk->ctx, k, k == WH_KIND_NAMESPACE ? NULL : e->ns, name, &v, err,
	                sizeof(err));
	if (rc == WH_LOOKUP_FOUND && v) {
		*out = v;
		return rc;
	}
	if (v)
		yajl_tree_free(v);
	if (rc == WH_LOOKUP_NOT_FOUND)
		return rc;
	undecided(e, k, name, rc == WH_LOOKUP_FOUND ? "lookup returned no object" : err);
	return WH_LOOKUP_ERROR;
}

static int list_any(struct ev *e, enum wh_kind k, const char *const *any_of, wh_item_fn fn,
                    void *arg)
{
	char err[256] = "";
	int rc;

	if (e->undecided)
		return WH_LOOKUP_ERROR;
	if (!e->lk || !e->lk->list) {
		undecided(e, k, "*", "no lookup available");
		return WH_LOOKUP_ERROR;
	}
	rc = e->lk->list(e->lk->ctx, k, e->ns, any_of, fn, arg, err, sizeof(err));
	if (rc == WH_LOOKUP_FOUND)
		return rc;
	undecided(e, k, "*", err);
	return WH_LOOKUP_ERROR;
}

static int list(struct ev *e, enum wh_kind k, wh_item_fn fn, void *arg)
{
	return list_any(e, k, NULL, fn, arg);
}

/* 1 when the namespace opted in to insecure development use, 0 when not, -1
 * when it can not be told (VW000 recorded once). */
static int ns_insecure(struct ev *e)
{
	yajl_val ns = NULL;
	int rc;

	if (e->ns_fetched)
		return e->ns_insecure;
	e->ns_fetched = 1;
	rc = get(e, WH_KIND_NAMESPACE, e->ns, &ns);
	if (rc == WH_LOOKUP_ERROR) {
		e->ns_insecure = -1;
		return -1;
	}
	e->ns_insecure = streq(
	    json_get_str(ns, "metadata", "labels", WH_LABEL_ALLOW_INSECURE, (char *)NULL), "true");
	e->ns_terminating =
	    streq(json_get_str(ns, "status", "phase", (char *)NULL), "Terminating") ||
	    json_get(ns, "metadata", "deletionTimestamp", (char *)NULL) != NULL;
	yajl_tree_free(ns);
	return e->ns_insecure;
}

/* "older" ordering for limits and duplicates: other counts against self when
 * self is new (no creationTimestamp) or other was created first. */
static int counts_before(yajl_val other, yajl_val self)
{
	const char *st = json_get_str(self, "metadata", "creationTimestamp", (char *)NULL);
	const char *ot = json_get_str(other, "metadata", "creationTimestamp", (char *)NULL);
	const char *on = json_get_str(other, "metadata", "name", (char *)NULL);
	const char *sn = json_get_str(self, "metadata", "name", (char *)NULL);
	int c;

	if (!st)
		return 1;
	if (!ot)
		return 0;
	c = strcmp(ot, st);
	if (c)
		return c < 0;
	return on && sn && strcmp(on, sn) < 0;
}

static int is_self(struct ev *e, yajl_val item)
{
	return e->name[0] && streq(json_get_str(item, "metadata", "name", (char *)NULL), e->name);
}

/* The region a key is in: spec.region, else the ARN's region. */
static const char *key_region(yajl_val key, char *buf, size_t len)
{
	const char *r = json_get_str(key, "spec", "region", (char *)NULL);
	const char *arn;

	if (r)
		return r;
	arn = json_get_str(key, "spec", "keyID", (char *)NULL);
	if (streq(json_get_str(key, "spec", "provider", (char *)NULL), "aws-kms") && arn &&
	    wh_parse_kms_arn(arn, buf, len) == 0)
		return buf;
	return json_get_str(key, "status", "region", (char *)NULL);
}

/* ---- shared rules --------------------------------------------------------- */

static void unknown_fields(struct ev *e, yajl_val spec, const char *const *known)
{
	if (!spec)
		return;
	if (spec->type != yajl_t_object) {
		deny(e, "VW013", "spec must be an object of the vecward.io/v1alpha1 %s API",
		     wh_kind_name(e->in->kind));
		return;
	}
	for (size_t i = 0; i < spec->u.object.len; i++) {
		const char *k = spec->u.object.keys[i];
		int ok = 0;
		for (const char *const *p = known; *p && !ok; p++)
			ok = strcmp(*p, k) == 0;
		if (!ok)
			deny(e, "VW013",
			     "spec.%.64s is not a field of vecward.io/v1alpha1 %s: free-form "
			     "configuration is refused because it could turn off authentication, "
			     "TLS "
			     "or the access log; use the typed fields (kubectl explain)",
			     k, wh_kind_name(e->in->kind));
	}
}

/* A password Secret brought by the user (rule id, the field that names it). */
static void password_secret(struct ev *e, const char *id, const char *field, yajl_val ref)
{
	const char *name = json_get_str(ref, "name", (char *)NULL);
	const char *key = json_get_str(ref, "key", (char *)NULL);
	const char *b64, *problem;
	yajl_val sec = NULL, data;
	struct buf pw = BUF_INIT(4096);
	int rc;

	if (!name)
		return;
	if (!key)
		key = "password";
	rc = get(e, WH_KIND_SECRET, name, &sec);
	if (rc == WH_LOOKUP_ERROR)
		return;
	if (rc == WH_LOOKUP_NOT_FOUND) {
		warn(
		    e, id,
		    "Secret %.64s (%s) does not exist yet; admitted, the operator waits for it and "
		    "checks the password then (12-72 characters, 3 of 4 classes)",
		    name, field);
		return;
	}
	b64 = json_get_str(sec, "data", key, (char *)NULL);
	if (!b64) {
		warn(e, id,
		     "Secret %.64s has no key %.64s yet (%s); admitted, the operator waits for it",
		     name, key, field);
	} else if (b64_decode(b64, strlen(b64), &pw) != 0) {
		deny(e, id, "Secret %.64s key %.64s (%s) is not valid base64; rewrite the Secret",
		     name, key, field);
	} else if ((problem = wh_password_problem(pw.ptr ? pw.ptr : "", pw.len)) != NULL) {
		deny(e, id,
		     "the password in Secret %.64s key %.64s (%s) %s; use 12-72 characters with at "
		     "least 3 of: lower case, upper case, digits, symbols",
		     name, key, field, problem);
	}
	buf_free_secret(&pw);
	/* the tree held the Secret's data: wipe every value before freeing */
	data = obj_or_null(json_get(sec, "data", (char *)NULL));
	for (size_t i = 0; data && i < data->u.object.len; i++) {
		yajl_val v = data->u.object.values[i];
		if (v && v->type == yajl_t_string)
			OPENSSL_cleanse(v->u.string, strlen(v->u.string));
	}
	yajl_tree_free(sec);
}

static void endpoint_rule(struct ev *e, const char *id, const char *field, yajl_val v)
{
	const char *u = json_str(v);
	int r;

	if (!v)
		return;
	r = u ? check_url(u) : 1;
	if (r == 2)
		deny(e, id,
		     "%s must not carry credentials (user:password@): specs are not secret; put "
		     "them "
		     "in the Secret named by credentialsSecretRef",
		     field);
	else if (r)
		deny(e, id,
		     "%s \"%.64s\" must be an https:// URL (http:// only on loopback): keys, "
		     "credentials and data must not cross the network in plaintext",
		     field, u ? u : "(not a string)");
}

/* tls.mode disabled, tls.internal false, provider local: an opt-in. */
static void insecure_opt_in(struct ev *e, const char *id, const char *what, const char *why,
                            const char *fix)
{
	int r = ns_insecure(e);

	if (r < 0)
		return;
	if (r)
		warn(e, id,
		     "%s is allowed only because namespace %s is labelled %s=true: %s; never use "
		     "this for real data",
		     what, e->ns, WH_LABEL_ALLOW_INSECURE, why);
	else
		deny(e, id,
		     "%s is refused: %s; %s, or for development only label namespace %s %s=true",
		     what, why, fix, e->ns, WH_LABEL_ALLOW_INSECURE);
}

/* ---- Cluster --------------------------------------------------------------- */

static const char *const CLUSTER_FIELDS[] = {
    "version", "image",          "mode",   "replicas", "region",
    "storage", "authentication", "tls",    "network",  "encryption",
    "roles",   "audit",          "backup", "deletion", NULL};

static void cluster_durations(struct ev *e, yajl_val tls)
{
	const char *ds = json_get_str(tls, "duration", (char *)NULL);
	const char *rs = json_get_str(tls, "renewBefore", (char *)NULL);
	double d = 2160.0 * 3600, r = 360.0 * 3600;
	int dok = 1, rok = 1;

	if (ds) {
		if (wh_parse_duration(ds, &d) != 0) {
			deny(e, "VW006",
			     "spec.tls.duration \"%.32s\" is not a duration; write hours such as "
			     "2160h (the default, 90 days)",
			     ds);
			dok = 0;
		} else if (d < 3600 || d > 19800.0 * 3600) {
			deny(e, "VW006",
			     "spec.tls.duration %.32s must be between 1h and 19800h (825 days, the "
			     "most TLS clients accept); the default is 2160h",
			     ds);
		}
	}
	if (rs) {
		if (wh_parse_duration(rs, &r) != 0) {
			deny(
			    e, "VW005",
			    "spec.tls.renewBefore \"%.32s\" is not a duration; write hours such as "
			    "360h (the default, 15 days)",
			    rs);
			rok = 0;
		} else if (r < 300) {
			deny(e, "VW005",
			     "spec.tls.renewBefore %.32s must be at least 5m; the default is 360h",
			     rs);
			rok = 0;
		}
	}
	if (dok && rok && r >= d)
		deny(e, "VW005",
		     "spec.tls.renewBefore (%.32s) must be shorter than spec.tls.duration (%.32s), "
		     "or "
		     "certificates are renewed continuously; e.g. duration 2160h with renewBefore "
		     "360h",
		     rs ? rs : "360h, the default", ds ? ds : "2160h, the default");
}

static void cluster_cidrs(struct ev *e, yajl_val cidrs)
{
	for (size_t i = 0; i < json_array_len(cidrs); i++) {
		const char *c = json_str(json_array_at(cidrs, i));
		char canon[80];
		int prefix = -1, r;

		r = c ? wh_parse_cidr(c, &prefix, canon, sizeof(canon)) : -1;
		if (r < 0)
			deny(e, "VW003",
			     "spec.network.allowedCIDRs[%zu] \"%.64s\" is not a CIDR; write "
			     "address/prefix-length, e.g. 10.20.0.0/16 or 2001:db8::/48 (a single "
			     "address needs /32 or /128)",
			     i, c ? c : "(not a string)");
		else if (prefix == 0)
			deny(e, "VW004",
			     "spec.network.allowedCIDRs[%zu] \"%.64s\" allows every address on the "
			     "network; list your client networks instead (the Cluster's own "
			     "namespace "
			     "always has access)",
			     i, c);
		else if (r == 1)
			deny(e, "VW003",
			     "spec.network.allowedCIDRs[%zu] \"%.64s\" is not in canonical form "
			     "(host "
			     "bits set or unusual spelling); write %s",
			     i, c, canon);
	}
}

static void cluster_update(struct ev *e, yajl_val spec, yajl_val ospec)
{
	yajl_val oenc = obj_or_null(json_get(ospec, "encryption", (char *)NULL));
	yajl_val nenc = obj_or_null(json_get(spec, "encryption", (char *)NULL));
	const char *okey, *nkey;
	yajl_val odbs, ndbs;

	if (!oenc) {
		if (nenc)
			deny(
			    e, "VW008",
			    "spec.encryption can not be added to an existing Cluster: data written "
			    "before would stay unencrypted; create a new Cluster with "
			    "spec.encryption and restore a backup into it");
		return;
	}
	okey = json_get_str(oenc, "keyRef", "name", (char *)NULL);
	if (!nenc) {
		deny(e, "VW007",
		     "spec.encryption can not be removed once set: the data is encrypted under "
		     "EncryptionKey %.64s; keep it, or create a new Cluster and restore a backup",
		     okey ? okey : "(unnamed)");
		return;
	}
	nkey = json_get_str(nenc, "keyRef", "name", (char *)NULL);
	if (okey && !streq(okey, nkey))
		deny(e, "VW007",
		     "spec.encryption.keyRef can not change once set (%.64s -> %.64s): the data is "
		     "encrypted under %.64s; to change keys create a new Cluster and restore a "
		     "backup into it",
		     okey, nkey ? nkey : "(none)", okey);
	odbs = json_get(oenc, "databases", (char *)NULL);
	ndbs = json_get(nenc, "databases", (char *)NULL);
	for (size_t i = 0; i < json_array_len(odbs); i++) {
		const char *db = json_str(json_array_at(odbs, i));
		int found = 0;
		if (!db)
			continue;
		if (!ndbs && strcmp(db, "default") == 0)
			continue; /* absent means the default, [default] */
		for (size_t j = 0; j < json_array_len(ndbs) && !found; j++)
			found = streq(db, json_str(json_array_at(ndbs, j)));
		if (!found)
			deny(
			    e, "VW009",
			    "spec.encryption.databases can not drop \"%.64s\": its encryption zone "
			    "and data stay; keep it in the list and add databases instead",
			    db);
	}
}

static void cluster_key(struct ev *e, yajl_val spec)
{
	yajl_val enc = obj_or_null(json_get(spec, "encryption", (char *)NULL));
	const char *region = json_get_str(spec, "region", (char *)NULL);
	const char *kname, *kregion;
	char buf[64];
	yajl_val key = NULL;
	int rc;

	if (!enc)
		return;
	if (!region) {
		deny(e, "VW010",
		     "spec.region is required when spec.encryption is set: it must equal the "
		     "EncryptionKey's region (seed 002); set e.g. region: us-east-1");
		return;
	}
	kname = json_get_str(enc, "keyRef", "name", (char *)NULL);
	if (!kname)
		return;
	rc = get(e, WH_KIND_ENCRYPTIONKEY, kname, &key);
	if (rc == WH_LOOKUP_ERROR)
		return;
	if (rc == WH_LOOKUP_NOT_FOUND) {
		warn(e, "VW011",
		     "EncryptionKey %.64s (spec.encryption.keyRef) does not exist yet; admitted, "
		     "the "
		     "operator waits for it and checks its region then",
		     kname);
		return;
	}
	kregion = key_region(key, buf, sizeof(buf));
	if (kregion && strcmp(kregion, region) != 0)
		deny(e, "VW011",
		     "spec.region %.63s does not match region %.63s of EncryptionKey %.64s "
		     "(spec.encryption.keyRef): a key must be in its cluster's region (seed 002); "
		     "use a key in %.63s or set spec.region: %.63s",
		     region, kregion, kname, region, kregion);
	yajl_tree_free(key);
}

static void cluster_roles(struct ev *e, yajl_val roles)
{
	for (size_t i = 0; i < json_array_len(roles); i++) {
		yajl_val r = json_array_at(roles, i);
		const char *name = json_get_str(r, "name", (char *)NULL);
		yajl_val groups = json_get(r, "privilegeGroups", (char *)NULL);
		yajl_val privs = json_get(r, "privileges", (char *)NULL);
		int all = 0;

		if (streq(name, "admin") || streq(name, "public"))
			deny(e, "VW012",
			     "spec.roles[%zu].name %s is a Milvus built-in role and always exists; "
			     "choose another name",
			     i, name);
		for (size_t j = 0; j < json_array_len(groups); j++)
			all |= streq(json_str(json_array_at(groups, j)), "ClusterAdmin");
		for (size_t j = 0; j < json_array_len(privs); j++) {
			yajl_val p = json_array_at(privs, j);
			all |= streq(json_get_str(p, "name", (char *)NULL), "*") &&
			       streq(json_get_str(p, "database", (char *)NULL), "*");
		}
		if (all)
			warn(e, "VW016",
			     "spec.roles[%zu] (%.64s) grants every privilege (ClusterAdmin or * on "
			     "database *); grant only what the role needs (least privilege, seed "
			     "004)",
			     i, name ? name : "unnamed");
	}
}

static void cluster_rules(struct ev *e, yajl_val obj, yajl_val old)
{
	yajl_val spec = json_get(obj, "spec", (char *)NULL);
	yajl_val tls, ref, ep;
	const char *mode, *image;

	unknown_fields(e, spec, CLUSTER_FIELDS);
	spec = obj_or_null(spec);
	tls = obj_or_null(json_get(spec, "tls", (char *)NULL));
	mode = json_get_str(tls, "mode", (char *)NULL);
	if (streq(mode, "disabled"))
		insecure_opt_in(e, "VW001", "spec.tls.mode disabled",
		                "passwords and vectors cross the network in plaintext",
		                "use server (the default) or mutual");
	if (json_get_bool(tls, -1, "internal", (char *)NULL) == 0)
		insecure_opt_in(e, "VW002", "spec.tls.internal false",
		                "traffic between Milvus components is plaintext",
		                "remove it (the default is true)");
	cluster_cidrs(e, json_get(spec, "network", "allowedCIDRs", (char *)NULL));
	cluster_durations(e, tls);
	if (old)
		cluster_update(e, spec, obj_or_null(json_get(old, "spec", (char *)NULL)));
	cluster_roles(e, json_get(spec, "roles", (char *)NULL));
	if (json_get_bool(spec, -1, "audit", "enabled", (char *)NULL) == 0)
		warn(e, "VW014",
		     "spec.audit.enabled false turns the Milvus access log off: who did what can "
		     "not "
		     "be investigated after an incident; remove it to keep the default (on)");
	if (json_get_int(spec, -1, "deletion", "recycleBinDays", (char *)NULL) == 0)
		warn(e, "VW015",
		     "spec.deletion.recycleBinDays 0 purges data and key material as soon as the "
		     "Cluster is deleted, with no way to undo it; the default keeps them 30 days");
	ep = json_get(spec, "backup", "objectStore", "endpoint", (char *)NULL);
	endpoint_rule(e, "VW018", "spec.backup.objectStore.endpoint", ep);
	image = json_get_str(spec, "image", (char *)NULL);
	if (image && !strstr(image, "@sha256:"))
		warn(e, "VW019",
		     "spec.image %.96s is not pinned by digest; use repo@sha256:<digest> so the "
		     "image "
		     "can not change under you",
		     image);
	/* cross-object rules last: single-object findings come first */
	cluster_key(e, spec);
	ref = obj_or_null(json_get(spec, "authentication", "rootPasswordSecretRef", (char *)NULL));
	if (ref)
		password_secret(e, "VW017", "spec.authentication.rootPasswordSecretRef", ref);
}

/* ---- User ------------------------------------------------------------------ */

static const char *const USER_FIELDS[] = {
    "clusterRef", "username", "passwordSecretRef", "roles", "tls", "passwordRotation", NULL};

static const char *username_of(yajl_val user)
{
	const char *u = json_get_str(user, "spec", "username", (char *)NULL);
	return u ? u : json_get_str(user, "metadata", "name", (char *)NULL);
}

struct dup_scan {
	struct ev *e;
	yajl_val self;
	const char *cluster, *username;
	char other[254];
};

static int dup_user(yajl_val item, void *arg)
{
	struct dup_scan *d = arg;

	if (is_self(d->e, item) || !counts_before(item, d->self))
		return 0;
	if (!streq(json_get_str(item, "spec", "clusterRef", "name", (char *)NULL), d->cluster) ||
	    !streq(username_of(item), d->username))
		return 0;
	snprintf(d->other, sizeof(d->other), "%s",
	         json_get_str(item, "metadata", "name", (char *)NULL) ?: "?");
	return 1;
}

static int suggest_username(const char *from, char *out, size_t len)
{
	size_t n = 0;

	if (len < 34 || !from)
		return -1;
	if (!isalpha((unsigned char)from[0]) || (unsigned char)from[0] > 0x7f)
		out[n++] = 'u';
	for (const char *p = from; *p && n < 32; p++) {
		unsigned char c = (unsigned char)*p;
		out[n++] = (c < 0x80 && isalnum(c)) ? (char)c : '_';
	}
	out[n] = '\0';
	return 0;
}

static void user_cluster(struct ev *e, yajl_val spec, const char *cname)
{
	yajl_val cl = NULL, roles = json_get(spec, "roles", (char *)NULL), defined;
	const char *mode;
	int rc;

	rc = get(e, WH_KIND_CLUSTER, cname, &cl);
	if (rc == WH_LOOKUP_ERROR)
		return;
	if (rc == WH_LOOKUP_NOT_FOUND) {
		warn(e, "VW025",
		     "Cluster %.64s (spec.clusterRef) does not exist yet; admitted, the operator "
		     "creates the user once it appears and checks roles and TLS then",
		     cname);
		return;
	}
	defined = json_get(cl, "spec", "roles", (char *)NULL);
	for (size_t i = 0; i < json_array_len(roles); i++) {
		const char *r = json_str(json_array_at(roles, i));
		int found = streq(r, "admin") || streq(r, "public");
		for (size_t j = 0; j < json_array_len(defined) && !found; j++)
			found =
			    streq(r, json_get_str(json_array_at(defined, j), "name", (char *)NULL));
		if (!found)
			deny(e, "VW025",
			     "spec.roles: role %.64s is neither built in (admin, public) nor "
			     "defined in "
			     "Cluster %.64s spec.roles; define it there or remove it here",
			     r ? r : "(not a string)", cname);
	}
	mode = json_get_str(cl, "spec", "tls", "mode", (char *)NULL);
	if (!mode)
		mode = "server";
	if (json_get_bool(spec, 0, "tls", "clientCertificate", (char *)NULL) == 1 &&
	    strcmp(mode, "mutual") != 0)
		deny(e, "VW026",
		     "spec.tls.clientCertificate true needs a Cluster with spec.tls.mode mutual, "
		     "but "
		     "Cluster %.64s uses %.16s; set the Cluster's tls.mode: mutual or remove "
		     "clientCertificate",
		     cname, mode);
	yajl_tree_free(cl);
}

static void user_rules(struct ev *e, yajl_val obj, yajl_val old)
{
	yajl_val spec = json_get(obj, "spec", (char *)NULL), roles, ref;
	const char *explicit_name, *uname, *cname;
	char sugg[40];

	unknown_fields(e, spec, USER_FIELDS);
	spec = obj_or_null(spec);
	explicit_name = json_get_str(spec, "username", (char *)NULL);
	uname = explicit_name ? explicit_name : (e->name[0] ? e->name : NULL);
	if (!uname) {
		deny(e, "VW020",
		     "spec.username is required when metadata.name is generated: it is the Milvus "
		     "identity; set e.g. spec.username: app_reader");
	} else if (!wh_valid_username(uname)) {
		suggest_username(uname, sugg, sizeof(sugg));
		if (explicit_name)
			deny(e, "VW020",
			     "spec.username \"%.64s\" is not a valid Milvus user name: 1-32 "
			     "characters, a letter first, then letters, digits or _; e.g. %s",
			     uname, sugg);
		else
			deny(e, "VW020",
			     "metadata.name \"%.64s\" is not a valid Milvus user name and "
			     "spec.username is not set; set spec.username, e.g. %s (1-32 "
			     "characters, "
			     "a letter first, then letters, digits or _)",
			     uname, sugg);
	} else if (strcasecmp(uname, "root") == 0) {
		deny(e, "VW021",
		     "%s %s is reserved: root is the Cluster's superuser, managed through "
		     "spec.authentication.rootPasswordSecretRef; choose another name and grant it "
		     "roles",
		     explicit_name ? "spec.username" : "metadata.name", uname);
	} else if (strcmp(uname, "admin") == 0 || strcmp(uname, "public") == 0) {
		deny(e, "VW021",
		     "%s %s is reserved: it is the name of a Milvus built-in role, and a user of "
		     "that name makes grants and audit logs ambiguous; choose another name",
		     explicit_name ? "spec.username" : "metadata.name", uname);
	}
	cname = json_get_str(spec, "clusterRef", "name", (char *)NULL);
	if (old) {
		const char *ou = username_of(old);
		const char *oc = json_get_str(old, "spec", "clusterRef", "name", (char *)NULL);
		if (ou && !streq(ou, uname))
			deny(
			    e, "VW022",
			    "spec.username is immutable (%.32s -> %.32s): it is the Milvus "
			    "identity "
			    "that owns grants and audit history; delete this User and create a new "
			    "one to rename it",
			    ou, uname ? uname : "(none)");
		if (oc && !streq(oc, cname))
			deny(e, "VW023",
			     "spec.clusterRef is immutable (%.64s -> %.64s): a User belongs to one "
			     "Cluster; create a new User for the other Cluster",
			     oc, cname ? cname : "(none)");
	}
	if (!cname) {
		deny(e, "VW023",
		     "spec.clusterRef.name is required: the Cluster, in this namespace, the user "
		     "belongs to; e.g. clusterRef: {name: prod}");
	}
	roles = json_get(spec, "roles", (char *)NULL);
	for (size_t i = 0; i < json_array_len(roles); i++)
		if (streq(json_str(json_array_at(roles, i)), "admin")) {
			warn(e, "VW027",
			     "spec.roles grants admin: full control of every database, user and "
			     "role "
			     "in Cluster %.64s; prefer a custom role with only the privileges "
			     "needed "
			     "(least privilege, seed 004)",
			     cname ? cname : "?");
			break;
		}
	/* cross-object rules */
	if (cname) {
		user_cluster(e, spec, cname);
		if (uname && wh_valid_username(uname) && !e->undecided) {
			/* the Users of this Cluster with this username, named or by
			 * default (their name): two small LISTs where the CRD makes
			 * the fields selectable (crds/vecward.io_users.yaml), not all
			 * the namespace's Users. A name with a character a selector
			 * would need escaped (refused elsewhere) lists them all. */
			char by_field[400], by_name[400];
			const char *any_of[] = {by_field, by_name, NULL};
			int plain = !strpbrk(cname, ",=!\\ ") && !strpbrk(uname, ",=!\\ ");
			struct dup_scan d = {e, obj, cname, uname, ""};
			snprintf(by_field, sizeof(by_field),
			         "spec.clusterRef.name=%s,spec.username=%s", cname, uname);
			snprintf(by_name, sizeof(by_name),
			         "spec.clusterRef.name=%s,metadata.name=%s", cname, uname);
			if (list_any(e, WH_KIND_USER, plain ? any_of : NULL, dup_user, &d) ==
			        WH_LOOKUP_FOUND &&
			    d.other[0])
				deny(e, "VW024",
				     "spec.username %.32s is already used by User %.64s of Cluster "
				     "%.64s; Milvus user names are unique per cluster: choose "
				     "another "
				     "username",
				     uname, d.other, cname);
		}
	}
	ref = obj_or_null(json_get(spec, "passwordSecretRef", (char *)NULL));
	if (ref)
		password_secret(e, "VW028", "spec.passwordSecretRef", ref);
}

/* ---- EncryptionKey --------------------------------------------------------- */

static const char *const KEY_FIELDS[] = {
    "provider", "keyID", "region", "endpoint", "credentialsSecretRef", "rotationPeriod", NULL};

struct key_scan {
	struct ev *e;
	yajl_val self;
	const char *provider, *keyid;
	size_t count;
	char dup[254];
};

static int scan_keys(yajl_val item, void *arg)
{
	struct key_scan *k = arg;

	if (is_self(k->e, item) || !counts_before(item, k->self))
		return 0;
	k->count++;
	if (!k->dup[0] && k->keyid &&
	    streq(json_get_str(item, "spec", "provider", (char *)NULL), k->provider) &&
	    streq(json_get_str(item, "spec", "keyID", (char *)NULL), k->keyid))
		snprintf(k->dup, sizeof(k->dup), "%s",
		         json_get_str(item, "metadata", "name", (char *)NULL) ?: "?");
	return 0;
}

struct users_of_key {
	const char *key;
	const char *region; /* NULL: collect every user; else only region mismatches */
	struct buf names;
	size_t n;
	char mismatch_region[64];
};

static int scan_clusters(yajl_val item, void *arg)
{
	struct users_of_key *u = arg;
	const char *r = json_get_str(item, "spec", "region", (char *)NULL);
	const char *name = json_get_str(item, "metadata", "name", (char *)NULL);

	if (!streq(json_get_str(item, "spec", "encryption", "keyRef", "name", (char *)NULL),
	           u->key))
		return 0;
	if (u->region && (!r || strcmp(r, u->region) == 0))
		return 0;
	if (u->region && !u->mismatch_region[0])
		snprintf(u->mismatch_region, sizeof(u->mismatch_region), "%s", r);
	u->n++;
	if (u->n <= 3)
		buf_printf(&u->names, "%s%.64s", u->n > 1 ? ", " : "", name ? name : "?");
	else if (u->n == 4)
		buf_adds(&u->names, ", ...");
	return 0;
}

static void key_delete(struct ev *e, yajl_val old)
{
	struct users_of_key u = {e->name, NULL, BUF_INIT(1024), 0, ""};
	const char *shred =
	    json_get_str(old, "metadata", "annotations", WH_ANNOTATION_CRYPTO_SHRED, (char *)NULL);

	if (list(e, WH_KIND_CLUSTER, scan_clusters, &u) != WH_LOOKUP_FOUND || u.n == 0)
		goto out;
	if (streq(shred, "true")) {
		warn(
		    e, "VW034",
		    "deleting EncryptionKey %.64s, still used by Cluster %s, on purpose (%s=true): "
		    "their encrypted data becomes unreadable (crypto-shredding)",
		    e->name, buf_str(&u.names), WH_ANNOTATION_CRYPTO_SHRED);
		goto out;
	}
	if (ns_insecure(e) < 0)
		goto out;
	if (e->ns_terminating) {
		warn(e, "VW034",
		     "namespace %s is being deleted: EncryptionKey %.64s goes with Cluster %s, "
		     "whose "
		     "encrypted data becomes unreadable",
		     e->ns, e->name, buf_str(&u.names));
		goto out;
	}
	deny(e, "VW034",
	     "EncryptionKey %.64s is used by Cluster %s (spec.encryption.keyRef): deleting it "
	     "makes their data unreadable; delete those Clusters first, or annotate the key "
	     "%s=true to crypto-shred on purpose",
	     e->name, buf_str(&u.names), WH_ANNOTATION_CRYPTO_SHRED);
out:
	buf_free(&u.names);
}

static void key_rules(struct ev *e, yajl_val obj, int created)
{
	yajl_val spec = json_get(obj, "spec", (char *)NULL);
	const char *provider, *keyid, *region, *kregion = NULL;
	char arn_region[64];

	unknown_fields(e, spec, KEY_FIELDS);
	spec = obj_or_null(spec);
	provider = json_get_str(spec, "provider", (char *)NULL);
	keyid = json_get_str(spec, "keyID", (char *)NULL);
	region = json_get_str(spec, "region", (char *)NULL);
	if (streq(provider, "aws-kms")) {
		if (!keyid)
			deny(e, "VW030",
			     "spec.keyID is required for provider aws-kms: the KMS key ARN, "
			     "arn:aws:kms:<region>:<12-digit account>:key/<key-id>");
		else if (wh_parse_kms_arn(keyid, arn_region, sizeof(arn_region)) != 0)
			deny(
			    e, "VW030",
			    "spec.keyID \"%.96s\" is not a KMS key ARN; use "
			    "arn:aws:kms:<region>:<12-digit account>:key/<key-id> (an alias can be "
			    "repointed to another key, so it is not accepted)",
			    keyid);
		else if (region && strcmp(region, arn_region) != 0)
			deny(e, "VW031",
			     "spec.region %.63s does not match region %s of the spec.keyID ARN; "
			     "remove "
			     "spec.region (it is taken from the ARN) or fix it",
			     region, arn_region);
		else
			kregion = arn_region;
		endpoint_rule(e, "VW036", "spec.endpoint",
		              json_get(spec, "endpoint", (char *)NULL));
	} else if (streq(provider, "local")) {
		if (keyid)
			deny(e, "VW030",
			     "spec.keyID is only for provider aws-kms: a local root key is "
			     "generated "
			     "by the operator into Secret <name>-root-key; remove spec.keyID");
		if (!region)
			deny(e, "VW031",
			     "spec.region is required for provider local: a Cluster can only use a "
			     "key in its own region; set e.g. region: us-east-1");
		else
			kregion = region;
		if (json_get(spec, "endpoint", (char *)NULL) ||
		    json_get(spec, "credentialsSecretRef", (char *)NULL))
			deny(e, "VW036",
			     "spec.endpoint and spec.credentialsSecretRef are only for provider "
			     "aws-kms; remove them for provider local");
		insecure_opt_in(
		    e, "VW035", "spec.provider local",
		    "the root key sits in a Secret, so anyone who can read Secrets here "
		    "can decrypt the zone keys",
		    "use aws-kms");
	} else {
		deny(
		    e, "VW030",
		    "spec.provider must be aws-kms (a key in AWS KMS) or local (development only)");
	}
	if (e->undecided)
		return;
	/* cross-object: limits and duplicates (seed 002) when the key is new */
	if (created) {
		struct key_scan k = {e, obj, provider, keyid, 0, ""};
		if (list(e, WH_KIND_ENCRYPTIONKEY, scan_keys, &k) != WH_LOOKUP_FOUND)
			return;
		if (k.dup[0])
			deny(e, "VW032",
			     "EncryptionKey %.64s already uses %s key %.96s; seed 002 forbids "
			     "adding "
			     "the same key twice: reference %.64s from the Cluster instead",
			     k.dup, provider, keyid, k.dup);
		if (k.count >= WH_MAX_KEYS_PER_NAMESPACE)
			deny(e, "VW033",
			     "namespace %s already has %zu EncryptionKeys, and seed 002 allows at "
			     "most "
			     "%d per project (a namespace here); delete an unused key or use "
			     "another "
			     "namespace",
			     e->ns, k.count, WH_MAX_KEYS_PER_NAMESPACE);
	}
	/* a Cluster that arrived first and names this key must be in its region */
	if (kregion && e->name[0]) {
		struct users_of_key u = {e->name, kregion, BUF_INIT(1024), 0, ""};
		if (list(e, WH_KIND_CLUSTER, scan_clusters, &u) == WH_LOOKUP_FOUND && u.n)
			deny(
			    e, "VW011",
			    "this key is in region %.63s but Cluster %s, which uses it "
			    "(spec.encryption.keyRef), is in %.63s: a key must be in its cluster's "
			    "region (seed 002); create the key in %.63s",
			    kregion, buf_str(&u.names), u.mismatch_region, u.mismatch_region);
		buf_free(&u.names);
	}
}

/* ---- entry points ---------------------------------------------------------- */

int wh_evaluate(const struct wh_input *in, const struct wh_lookup *lk, struct wh_result *res)
{
	struct ev e;
	yajl_val obj, old;

	memset(res, 0, sizeof(*res));
	memset(&e, 0, sizeof(e));
	e.in = in;
	e.lk = lk;
	e.res = res;
	e.ns = in->ns ? in->ns : "";
	if (!in->ns || !*in->ns || in->kind > WH_KIND_ENCRYPTIONKEY)
		return -1;
	obj = obj_or_null(in->object);
	old = obj_or_null(in->old);
	switch (in->op) {
	case WH_OP_DELETE:
		if (!old)
			return -1;
		e.name = json_get_str(old, "metadata", "name", (char *)NULL) ?: "";
		if (in->kind == WH_KIND_ENCRYPTIONKEY && e.name[0])
			key_delete(&e, old);
		return e.oom ? -1 : 0;
	case WH_OP_UPDATE:
		if (!obj || !old)
			return -1;
		/* metadata-only updates and objects on their way out always pass */
		if (json_get(obj, "metadata", "deletionTimestamp", (char *)NULL) ||
		    json_equal(json_get(obj, "spec", (char *)NULL),
		               json_get(old, "spec", (char *)NULL)))
			return 0;
		break;
	case WH_OP_CREATE:
	case WH_OP_RECONCILE:
		if (!obj)
			return -1;
		old = NULL;
		break;
	default:
		return -1;
	}
	e.name = json_get_str(obj, "metadata", "name", (char *)NULL) ?: "";
	switch (in->kind) {
	case WH_KIND_CLUSTER:
		cluster_rules(&e, obj, old);
		break;
	case WH_KIND_USER:
		user_rules(&e, obj, old);
		break;
	case WH_KIND_ENCRYPTIONKEY:
		key_rules(&e, obj, in->op != WH_OP_UPDATE);
		break;
	default:
		return -1;
	}
	return e.oom ? -1 : 0;
}

void wh_result_free(struct wh_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_denials; i++)
		free(res->denials[i].msg);
	for (size_t i = 0; i < res->n_warnings; i++)
		free(res->warnings[i].msg);
	free(res->denials);
	free(res->warnings);
	memset(res, 0, sizeof(*res));
}

int wh_result_message(const struct wh_result *res, struct buf *out)
{
	for (size_t i = 0; i < res->n_denials; i++)
		if ((i && buf_adds(out, "; ")) || buf_adds(out, res->denials[i].msg))
			return -1;
	return 0;
}

/* ---- mutation --------------------------------------------------------------- */

struct patch {
	struct buf *out;
	size_t n;
	int err;
};

/* value is JSON text (trusted: built here from constants or validated names) */
static void op_add(struct patch *p, const char *path, const char *value)
{
	if (p->err)
		return;
	if (buf_printf(p->out, "%s{\"op\":\"add\",\"path\":\"%s\",\"value\":%s}", p->n ? "," : "",
	               path, value))
		p->err = 1;
	p->n++;
}

struct dflt {
	const char *key;
	const char *json;
};

/* parent absent: add it whole; an object: add each missing leaf; else leave it */
static void fill(struct patch *p, yajl_val spec, const char *group, const struct dflt *d)
{
	yajl_val g = json_get(spec, group, (char *)NULL);
	char path[128], whole[512];
	size_t n = 0;

	if (!g) {
		n += (size_t)snprintf(whole + n, sizeof(whole) - n, "{");
		for (const struct dflt *x = d; x->key; x++)
			n += (size_t)snprintf(whole + n, sizeof(whole) - n, "%s\"%s\":%s",
			                      x == d ? "" : ",", x->key, x->json);
		snprintf(whole + n, sizeof(whole) - n, "}");
		snprintf(path, sizeof(path), "/spec/%s", group);
		op_add(p, path, whole);
		return;
	}
	if (g->type != yajl_t_object)
		return;
	for (const struct dflt *x = d; x->key; x++)
		if (!json_get(g, x->key, (char *)NULL)) {
			snprintf(path, sizeof(path), "/spec/%s/%s", group, x->key);
			op_add(p, path, x->json);
		}
}

static void leaf(struct patch *p, yajl_val spec, const char *key, const char *json)
{
	char path[128];

	if (json_get(spec, key, (char *)NULL))
		return;
	snprintf(path, sizeof(path), "/spec/%s", key);
	op_add(p, path, json);
}

static const struct dflt D_STORAGE[] = {{"size", "\"10Gi\""}, {NULL, NULL}};
static const struct dflt D_TLS[] = {{"mode", "\"server\""},
                                    {"internal", "true"},
                                    {"duration", "\"2160h\""},
                                    {"renewBefore", "\"360h\""},
                                    {"keyAlgorithm", "\"ECDSA-P256\""},
                                    {NULL, NULL}};
static const struct dflt D_AUDIT[] = {
    {"enabled", "true"}, {"format", "\"text\""}, {"output", "\"stdout\""}, {NULL, NULL}};
static const struct dflt D_BACKUP[] = {{"enabled", "false"}, {"retentionDays", "7"}, {NULL, NULL}};
static const struct dflt D_DELETION[] = {{"recycleBinDays", "30"}, {NULL, NULL}};
static const struct dflt D_USER_TLS[] = {{"clientCertificate", "false"}, {NULL, NULL}};

static void mutate_cluster(struct patch *p, yajl_val spec)
{
	yajl_val enc, ref;

	leaf(p, spec, "version", "\"v2.6.0\"");
	leaf(p, spec, "mode", "\"standalone\"");
	leaf(p, spec, "replicas", "1");
	fill(p, spec, "storage", D_STORAGE);
	fill(p, spec, "tls", D_TLS);
	fill(p, spec, "audit", D_AUDIT);
	fill(p, spec, "backup", D_BACKUP);
	fill(p, spec, "deletion", D_DELETION);
	enc = obj_or_null(json_get(spec, "encryption", (char *)NULL));
	if (enc && !json_get(enc, "databases", (char *)NULL))
		op_add(p, "/spec/encryption/databases", "[\"default\"]");
	ref = obj_or_null(json_get(spec, "authentication", "rootPasswordSecretRef", (char *)NULL));
	if (ref && !json_get(ref, "key", (char *)NULL))
		op_add(p, "/spec/authentication/rootPasswordSecretRef/key", "\"password\"");
}

static void mutate_user(struct patch *p, yajl_val obj, yajl_val spec)
{
	const char *name = json_get_str(obj, "metadata", "name", (char *)NULL);
	char v[64];
	yajl_val ref;

	if (!json_get(spec, "username", (char *)NULL) && wh_valid_username(name)) {
		snprintf(v, sizeof(v), "\"%s\"", name); /* letters, digits, _ only */
		op_add(p, "/spec/username", v);
	}
	fill(p, spec, "tls", D_USER_TLS);
	ref = obj_or_null(json_get(spec, "passwordSecretRef", (char *)NULL));
	if (ref && !json_get(ref, "key", (char *)NULL))
		op_add(p, "/spec/passwordSecretRef/key", "\"password\"");
}

static void mutate_key(struct patch *p, yajl_val spec)
{
	const char *keyid = json_get_str(spec, "keyID", (char *)NULL);
	char region[64], v[80];

	leaf(p, spec, "rotationPeriod", "\"8760h\"");
	if (!json_get(spec, "region", (char *)NULL) &&
	    streq(json_get_str(spec, "provider", (char *)NULL), "aws-kms") && keyid &&
	    wh_parse_kms_arn(keyid, region, sizeof(region)) == 0) {
		snprintf(v, sizeof(v), "\"%s\"", region); /* [a-z0-9-] only */
		op_add(p, "/spec/region", v);
	}
}

int wh_mutate(enum wh_kind kind, yajl_val obj, struct buf *out, size_t *n_ops)
{
	struct patch p = {out, 0, 0};
	yajl_val spec;

	if (!obj || obj->type != yajl_t_object || kind > WH_KIND_ENCRYPTIONKEY)
		return -1;
	if (buf_addc(out, '['))
		return -1;
	spec = json_get(obj, "spec", (char *)NULL);
	if (!spec && kind == WH_KIND_CLUSTER) {
		op_add(&p, "/spec", "{}");
		spec = NULL; /* then every group is added whole below */
		mutate_cluster(&p, NULL);
	} else if (spec && spec->type == yajl_t_object) {
		if (kind == WH_KIND_CLUSTER)
			mutate_cluster(&p, spec);
		else if (kind == WH_KIND_USER)
			mutate_user(&p, obj, spec);
		else
			mutate_key(&p, spec);
	}
	if (p.err || buf_addc(out, ']'))
		return -1;
	if (n_ops)
		*n_ops = p.n;
	return 0;
}
