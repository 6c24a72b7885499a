/*
 * Tests for webhook/rules: every rule with a spec that passes beside one that
 * fails, the exact message and ID; the GitOps-order warnings; fail-closed
 * lookups; the defaulting patch; and docs/policies.md listing every rule.
 * JSON in this file is written with ' for " (see J()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "memlookup.h"
#include "rules.h"
#include "unit.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------- */

static yajl_val J(const char *s)
{
	char *t = strdup(s);
	yajl_val v = NULL;
	char err[128];

	assert_non_null(t);
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	if (json_parse(t, strlen(t), 64, 0, &v, err, sizeof(err)) != 0)
		fail_msg("bad test JSON (%s): %s", err, t);
	free(t);
	return v;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	static char bufs[4][8192];
	static int i;
	va_list ap;
	char *b = bufs[i++ % 4];

	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

struct t {
	struct wh_memlookup *m;
	struct wh_lookup lk;
	struct wh_result r;
};

static void add(struct t *t, enum wh_kind k, const char *json)
{
	assert_int_equal(wh_memlookup_take(t->m, k, J(json)), 0);
}

#define NS1   "{'metadata':{'name':'ns1'}}"
#define DEV   "{'metadata':{'name':'dev','labels':{'vecward.io/allow-insecure':'true'}}}"
#define ARN_E "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
#define ARN_W "arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef"
#define PROD_KEY                                                                                   \
	"{'metadata':{'name':'prod-key','namespace':'ns1'},'spec':{'provider':'aws-kms','keyID':"  \
	"'" ARN_E "'}}"
#define PROD_CLUSTER                                                                               \
	"{'metadata':{'name':'prod','namespace':'ns1'},'spec':{'region':'us-east-1',"              \
	"'tls':{'mode':'mutual'},'encryption':{'keyRef':{'name':'prod-key'}},"                     \
	"'roles':[{'name':'reader','privilegeGroups':['CollectionReadOnly']},{'name':'ingest'}]}}"

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->m = wh_memlookup_new();
	assert_non_null(t->m);
	wh_memlookup_bind(t->m, &t->lk);
	add(t, WH_KIND_NAMESPACE, NS1);
	add(t, WH_KIND_NAMESPACE, DEV);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	wh_result_free(&t->r);
	wh_memlookup_free(t->m);
	free(t);
	return 0;
}

/* Evaluate kind/op in ns on obj (a full object) and old (or NULL). */
static struct wh_result *ev_ns(struct t *t, const char *ns, enum wh_kind k, enum wh_op op,
                               const char *obj, const char *old)
{
	struct wh_input in = {k, op, ns, obj ? J(obj) : NULL, old ? J(old) : NULL};

	wh_result_free(&t->r);
	assert_int_equal(wh_evaluate(&in, &t->lk, &t->r), 0);
	yajl_tree_free(in.object);
	yajl_tree_free(in.old);
	return &t->r;
}

static const char *obj_of(enum wh_kind k, const char *ns, const char *name, const char *spec)
{
	return fmt("{'apiVersion':'vecward.io/v1alpha1','kind':'%s','metadata':{'name':'%s',"
	           "'namespace':'%s'},'spec':%s}",
	           wh_kind_name(k), name, ns, spec);
}

/* A Cluster/User/EncryptionKey named c1/u1/k1 in ns1 with this spec, CREATE. */
static struct wh_result *cl(struct t *t, const char *spec)
{
	return ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_CREATE,
	             obj_of(WH_KIND_CLUSTER, "ns1", "c1", spec), NULL);
}

static struct wh_result *us(struct t *t, const char *spec)
{
	return ev_ns(t, "ns1", WH_KIND_USER, WH_OP_CREATE, obj_of(WH_KIND_USER, "ns1", "u1", spec),
	             NULL);
}

static struct wh_result *ky(struct t *t, const char *spec)
{
	return ev_ns(t, "ns1", WH_KIND_ENCRYPTIONKEY, WH_OP_CREATE,
	             obj_of(WH_KIND_ENCRYPTIONKEY, "ns1", "k1", spec), NULL);
}

static void dump(const struct wh_result *r)
{
	for (size_t i = 0; i < r->n_denials; i++)
		print_message("  denial:  %s\n", r->denials[i].msg);
	for (size_t i = 0; i < r->n_warnings; i++)
		print_message("  warning: %s\n", r->warnings[i].msg);
}

static void clean(const struct wh_result *r)
{
	if (r->n_denials || r->n_warnings)
		dump(r);
	assert_int_equal(r->n_denials, 0);
	assert_int_equal(r->n_warnings, 0);
}

/* exactly one denial, this one, and no warning */
static void denied(const struct wh_result *r, const char *id, const char *msg)
{
	if (r->n_denials != 1 || r->n_warnings != 0)
		dump(r);
	assert_int_equal(r->n_denials, 1);
	assert_int_equal(r->n_warnings, 0);
	assert_string_equal(r->denials[0].id, id);
	assert_string_equal(r->denials[0].msg, msg);
}

/* allowed, with exactly this one warning */
static void warned(const struct wh_result *r, const char *id, const char *msg)
{
	if (r->n_denials != 0 || r->n_warnings != 1)
		dump(r);
	assert_int_equal(r->n_denials, 0);
	assert_int_equal(r->n_warnings, 1);
	assert_string_equal(r->warnings[0].id, id);
	assert_string_equal(r->warnings[0].msg, msg);
}

/* ---- pure helpers ------------------------------------------------------------ */

static void test_parse_duration(void **state)
{
	double s;

	assert_int_equal(wh_parse_duration("2160h", &s), 0);
	assert_true(s == 2160.0 * 3600);
	assert_int_equal(wh_parse_duration("1h30m", &s), 0);
	assert_true(s == 5400);
	assert_int_equal(wh_parse_duration("1.5s", &s), 0);
	assert_true(s == 1.5);
	assert_int_equal(wh_parse_duration("10ms", &s), 0);
	assert_true(s > 0.0099 && s < 0.0101);
	assert_int_equal(wh_parse_duration("5\xc2\xb5s", &s), 0);
	assert_int_equal(wh_parse_duration("1m5s", &s), 0);
	assert_true(s == 65);
	/* not Go durations */
	const char *bad[] = {
	    "",     "h",    "90d", "1",   "1.h", ".5h", "-1h",   "+1h",
	    "1e3h", "infh", "1mh", "1h ", " 1h", "1hh", "0x10h", "99999999999999999h"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (wh_parse_duration(bad[i], &s) == 0)
			fail_msg("accepted %s", bad[i]);
}

static void test_parse_cidr(void **state)
{
	char c[80];
	int p;

	assert_int_equal(wh_parse_cidr("10.20.0.0/16", &p, c, sizeof(c)), 0);
	assert_int_equal(p, 16);
	assert_int_equal(wh_parse_cidr("2001:db8::/48", &p, c, sizeof(c)), 0);
	assert_int_equal(wh_parse_cidr("10.1.2.3/32", &p, c, sizeof(c)), 0);
	assert_int_equal(wh_parse_cidr("0.0.0.0/0", &p, c, sizeof(c)), 0);
	assert_int_equal(p, 0);
	assert_int_equal(wh_parse_cidr("10.1.2.3/16", &p, c, sizeof(c)), 1);
	assert_string_equal(c, "10.1.0.0/16");
	assert_int_equal(wh_parse_cidr("2001:DB8::/32", &p, c, sizeof(c)), 1);
	assert_string_equal(c, "2001:db8::/32");
	assert_int_equal(wh_parse_cidr("2001:db8::1/64", &p, c, sizeof(c)), 1);
	assert_string_equal(c, "2001:db8::/64");
	const char *bad[] = {"10.0.0.1",     "office",      "10.0.0.0/33",     "10.0.0.0/",
	                     "/8",           "10.0.0/8",    "010.0.0.0/8",     "10.0.0.0/08",
	                     "10.0.0.0/8/8", "::/129",      "fe80::1%eth0/64", "10.0.0.256/32",
	                     "10.0.0.0/-1",  "1.2.3.4.5/32"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (wh_parse_cidr(bad[i], &p, c, sizeof(c)) != -1)
			fail_msg("accepted %s", bad[i]);
}

static void test_username_and_arn(void **state)
{
	char region[64];

	assert_true(wh_valid_username("a"));
	assert_true(wh_valid_username("app_reader2"));
	assert_true(wh_valid_username("A2345678901234567890123456789012"));
	assert_false(wh_valid_username("A23456789012345678901234567890123"));
	assert_false(wh_valid_username(""));
	assert_false(wh_valid_username("2abc"));
	assert_false(wh_valid_username("_abc"));
	assert_false(wh_valid_username("app-reader"));
	assert_false(wh_valid_username("ab\xc3\xa9"));

	assert_int_equal(wh_parse_kms_arn(ARN_E, region, sizeof(region)), 0);
	assert_string_equal(region, "us-east-1");
	assert_int_equal(wh_parse_kms_arn(ARN_W, region, sizeof(region)), 0);
	assert_string_equal(region, "eu-west-1");
	assert_int_equal(wh_parse_kms_arn("arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/"
	                                  "1234abcd-12ab-34cd-56ef-1234567890ab",
	                                  region, sizeof(region)),
	                 0);
	assert_string_equal(region, "us-gov-west-1");
	const char *bad[] = {
	    "alias/vecward",
	    "1234abcd-12ab-34cd-56ef-1234567890ab",
	    "arn:aws:kms:us-east-1:11112222333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	    "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	    "arn:aws:kms:us-east-1:111122223333:alias/prod",
	    "arn:aws:kms:useast1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	    "arn:aws:kms:us-east-:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	    "arn:aws:kms:us-east-1:111122223333:key/1234ABCD-12ab-34cd-56ef-1234567890ab",
	    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890abc",
	    "arn:aws:kms:us-east-1:111122223333:key/mrk-0123",
	    "arn:aws-xx:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (wh_parse_kms_arn(bad[i], region, sizeof(region)) == 0)
			fail_msg("accepted %s", bad[i]);
}

static void test_password_problem(void **state)
{
	assert_null(wh_password_problem("Correct-Horse-9", 15));
	assert_null(wh_password_problem("correcthorse9!", 14));
	assert_string_equal(wh_password_problem("Sh0rt!", 6), "is shorter than 12 characters");
	assert_string_equal(wh_password_problem("alllowercaseletters", 19),
	                    "uses fewer than 3 of the 4 character classes");
	assert_string_equal(wh_password_problem("LowerAndUpperCase", 17),
	                    "uses fewer than 3 of the 4 character classes");
	char long_pw[80];
	memset(long_pw, 'a', sizeof(long_pw));
	long_pw[0] = 'A';
	long_pw[1] = '1';
	assert_string_equal(wh_password_problem(long_pw, 73),
	                    "is longer than 72 bytes (bcrypt ignores the rest)");
	assert_null(wh_password_problem(long_pw, 72));
	assert_string_equal(wh_password_problem("Abcdefgh123\n", 12),
	                    "contains control characters");
}

/* ---- Cluster ------------------------------------------------------------------- */

static void test_cluster_secure_example(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_ENCRYPTIONKEY, PROD_KEY);
	/* examples/cluster.yaml, as JSON */
	clean(cl(t,
	         "{'version':'v2.6.0','region':'us-east-1','storage':{'size':'50Gi'},"
	         "'tls':{'mode':'mutual'},'network':{'allowedCIDRs':['10.20.0.0/16'],"
	         "'allowedNamespaces':['search-app']},'encryption':{'keyRef':{'name':'prod-key'},"
	         "'databases':['default','embeddings']},'roles':[{'name':'reader',"
	         "'privilegeGroups':['CollectionReadOnly']},{'name':'ingest','privileges':"
	         "[{'name':'Insert','database':'embeddings','collection':'documents'}]}],"
	         "'audit':{'format':'json'}}"));
	/* an empty spec is the whole secure default */
	clean(cl(t, "{}"));
	clean(ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_CREATE,
	            "{'metadata':{'name':'bare','namespace':'ns1'}}", NULL));
}

static void test_vw001_tls_disabled(void **state)
{
	struct t *t = *state;

	clean(cl(t, "{'tls':{'mode':'server'}}"));
	clean(cl(t, "{'tls':{'mode':'mutual'}}"));
	denied(cl(t, "{'tls':{'mode':'disabled'}}"), "VW001",
	       "VW001: spec.tls.mode disabled is refused: passwords and vectors cross the network "
	       "in plaintext; use server (the default) or mutual, or for development only label "
	       "namespace ns1 vecward.io/allow-insecure=true");
	warned(ev_ns(t, "dev", WH_KIND_CLUSTER, WH_OP_CREATE,
	             obj_of(WH_KIND_CLUSTER, "dev", "c1", "{'tls':{'mode':'disabled'}}"), NULL),
	       "VW001",
	       "VW001: spec.tls.mode disabled is allowed only because namespace dev is labelled "
	       "vecward.io/allow-insecure=true: passwords and vectors cross the network in "
	       "plaintext; never use this for real data");
	/* a label with another value does not opt in */
	add(t, WH_KIND_NAMESPACE,
	    "{'metadata':{'name':'half','labels':{'vecward.io/allow-insecure':'yes'}}}");
	struct wh_result *r =
	    ev_ns(t, "half", WH_KIND_CLUSTER, WH_OP_CREATE,
	          obj_of(WH_KIND_CLUSTER, "half", "c1", "{'tls':{'mode':'disabled'}}"), NULL);
	assert_int_equal(r->n_denials, 1);
	assert_string_equal(r->denials[0].id, "VW001");
}

static void test_vw002_internal_tls_off(void **state)
{
	struct t *t = *state;

	clean(cl(t, "{'tls':{'internal':true}}"));
	denied(
	    cl(t, "{'tls':{'internal':false}}"), "VW002",
	    "VW002: spec.tls.internal false is refused: traffic between Milvus components is "
	    "plaintext; remove it (the default is true), or for development only label namespace "
	    "ns1 vecward.io/allow-insecure=true");
	warned(ev_ns(t, "dev", WH_KIND_CLUSTER, WH_OP_CREATE,
	             obj_of(WH_KIND_CLUSTER, "dev", "c1", "{'tls':{'internal':false}}"), NULL),
	       "VW002",
	       "VW002: spec.tls.internal false is allowed only because namespace dev is labelled "
	       "vecward.io/allow-insecure=true: traffic between Milvus components is plaintext; "
	       "never use this for real data");
}

static void test_vw000_namespace_lookup_fails_closed(void **state)
{
	struct t *t = *state;

	wh_memlookup_fail(t->m, WH_KIND_NAMESPACE, "503 ServiceUnavailable: etcd is down");
	/* both rules need the namespace: one lookup, one VW000 */
	denied(
	    cl(t, "{'tls':{'mode':'disabled','internal':false}}"), "VW000",
	    "VW000: cannot decide: reading Namespace ns1 failed (503 ServiceUnavailable: etcd "
	    "is down); denied rather than admitted unchecked, retry when the API server answers");
	/* a spec that needs no lookup does not care */
	clean(cl(t, "{'tls':{'mode':'server'}}"));
	/* no lookup at all: fail closed too */
	struct wh_input in = {
	    WH_KIND_CLUSTER, WH_OP_CREATE, "ns1",
	    J(obj_of(WH_KIND_CLUSTER, "ns1", "c1", "{'tls':{'mode':'disabled'}}")), NULL};
	wh_result_free(&t->r);
	assert_int_equal(wh_evaluate(&in, NULL, &t->r), 0);
	denied(&t->r, "VW000",
	       "VW000: cannot decide: reading Namespace ns1 failed (no lookup available); denied "
	       "rather than admitted unchecked, retry when the API server answers");
	yajl_tree_free(in.object);
}

static void test_vw003_vw004_cidrs(void **state)
{
	struct t *t = *state;

	clean(cl(t, "{'network':{'allowedCIDRs':['10.20.0.0/16','2001:db8::/48','10.1.2.3/32']}}"));
	denied(cl(t, "{'network':{'allowedCIDRs':['10.20.0.0/16','10.0.0.1']}}"), "VW003",
	       "VW003: spec.network.allowedCIDRs[1] \"10.0.0.1\" is not a CIDR; write "
	       "address/prefix-length, e.g. 10.20.0.0/16 or 2001:db8::/48 (a single address needs "
	       "/32 or /128)");
	denied(cl(t, "{'network':{'allowedCIDRs':['10.1.2.3/16']}}"), "VW003",
	       "VW003: spec.network.allowedCIDRs[0] \"10.1.2.3/16\" is not in canonical form (host "
	       "bits set or unusual spelling); write 10.1.0.0/16");
	denied(cl(t, "{'network':{'allowedCIDRs':[42]}}"), "VW003",
	       "VW003: spec.network.allowedCIDRs[0] \"(not a string)\" is not a CIDR; write "
	       "address/prefix-length, e.g. 10.20.0.0/16 or 2001:db8::/48 (a single address needs "
	       "/32 or /128)");
	denied(cl(t, "{'network':{'allowedCIDRs':['0.0.0.0/0']}}"), "VW004",
	       "VW004: spec.network.allowedCIDRs[0] \"0.0.0.0/0\" allows every address on the "
	       "network; list your client networks instead (the Cluster's own namespace always has "
	       "access)");
	denied(cl(t, "{'network':{'allowedCIDRs':['::/0']}}"), "VW004",
	       "VW004: spec.network.allowedCIDRs[0] \"::/0\" allows every address on the network; "
	       "list your client networks instead (the Cluster's own namespace always has access)");
	/* 10.0.0.0/0 has host bits too, but "everyone" is the point */
	assert_string_equal(cl(t, "{'network':{'allowedCIDRs':['10.0.0.0/0']}}")->denials[0].id,
	                    "VW004");
}

static void test_vw005_vw006_durations(void **state)
{
	struct t *t = *state;

	clean(cl(t, "{'tls':{'duration':'2160h','renewBefore':'360h'}}"));
	clean(cl(t, "{'tls':{'duration':'1h','renewBefore':'5m'}}"));
	clean(cl(t, "{'tls':{'duration':'19800h'}}"));
	denied(
	    cl(t, "{'tls':{'duration':'720h','renewBefore':'720h'}}"), "VW005",
	    "VW005: spec.tls.renewBefore (720h) must be shorter than spec.tls.duration (720h), or "
	    "certificates are renewed continuously; e.g. duration 2160h with renewBefore 360h");
	denied(cl(t, "{'tls':{'renewBefore':'3000h'}}"), "VW005",
	       "VW005: spec.tls.renewBefore (3000h) must be shorter than spec.tls.duration (2160h, "
	       "the default), or certificates are renewed continuously; e.g. duration 2160h with "
	       "renewBefore 360h");
	denied(cl(t, "{'tls':{'duration':'300h'}}"), "VW005",
	       "VW005: spec.tls.renewBefore (360h, the default) must be shorter than "
	       "spec.tls.duration (300h), or certificates are renewed continuously; e.g. duration "
	       "2160h with renewBefore 360h");
	denied(cl(t, "{'tls':{'duration':'1h','renewBefore':'1m'}}"), "VW005",
	       "VW005: spec.tls.renewBefore 1m must be at least 5m; the default is 360h");
	denied(
	    cl(t, "{'tls':{'renewBefore':'15d'}}"), "VW005",
	    "VW005: spec.tls.renewBefore \"15d\" is not a duration; write hours such as 360h (the "
	    "default, 15 days)");
	denied(cl(t, "{'tls':{'duration':'30m','renewBefore':'10m'}}"), "VW006",
	       "VW006: spec.tls.duration 30m must be between 1h and 19800h (825 days, the most TLS "
	       "clients accept); the default is 2160h");
	denied(cl(t, "{'tls':{'duration':'20000h'}}"), "VW006",
	       "VW006: spec.tls.duration 20000h must be between 1h and 19800h (825 days, the most "
	       "TLS clients accept); the default is 2160h");
	denied(cl(t, "{'tls':{'duration':'90d'}}"), "VW006",
	       "VW006: spec.tls.duration \"90d\" is not a duration; write hours such as 2160h (the "
	       "default, 90 days)");
}

static const char *enc_cluster(const char *key, const char *dbs)
{
	return fmt("{'region':'us-east-1','encryption':{'keyRef':{'name':'%s'}%s%s}}", key,
	           dbs ? ",'databases':" : "", dbs ? dbs : "");
}

static void test_vw007_vw008_vw009_encryption_immutable(void **state)
{
	struct t *t = *state;
	const char *o, *n;

	add(t, WH_KIND_ENCRYPTIONKEY, PROD_KEY);
	add(t, WH_KIND_ENCRYPTIONKEY,
	    "{'metadata':{'name':'other-key','namespace':'ns1'},"
	    "'spec':{'provider':'local','region':'us-east-1'}}");
	o = strdup(
	    obj_of(WH_KIND_CLUSTER, "ns1", "c1", enc_cluster("prod-key", "['default','emb']")));
	/* growing the database list is fine */
	n = obj_of(WH_KIND_CLUSTER, "ns1", "c1",
	           enc_cluster("prod-key", "['default','emb','more']"));
	clean(ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_UPDATE, n, o));
	n = obj_of(WH_KIND_CLUSTER, "ns1", "c1", enc_cluster("other-key", "['default','emb']"));
	denied(
	    ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_UPDATE, n, o), "VW007",
	    "VW007: spec.encryption.keyRef can not change once set (prod-key -> other-key): the "
	    "data is encrypted under prod-key; to change keys create a new Cluster and restore a "
	    "backup into it");
	n = obj_of(WH_KIND_CLUSTER, "ns1", "c1",
	           "{'region':'us-east-1','storage':{'size':'60Gi'}}");
	denied(ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_UPDATE, n, o), "VW007",
	       "VW007: spec.encryption can not be removed once set: the data is encrypted under "
	       "EncryptionKey prod-key; keep it, or create a new Cluster and restore a backup");
	n = obj_of(WH_KIND_CLUSTER, "ns1", "c1", enc_cluster("prod-key", "['emb']"));
	denied(ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_UPDATE, n, o), "VW009",
	       "VW009: spec.encryption.databases can not drop \"default\": its encryption zone and "
	       "data stay; keep it in the list and add databases instead");
	free((void *)o);
	o = obj_of(WH_KIND_CLUSTER, "ns1", "c1", "{'region':'us-east-1'}");
	o = strdup(o);
	n = obj_of(WH_KIND_CLUSTER, "ns1", "c1", enc_cluster("prod-key", NULL));
	denied(
	    ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_UPDATE, n, o), "VW008",
	    "VW008: spec.encryption can not be added to an existing Cluster: data written before "
	    "would stay unencrypted; create a new Cluster with spec.encryption and restore a "
	    "backup into it");
	free((void *)o);
	/* at CREATE, encryption is welcome */
	clean(cl(t, enc_cluster("prod-key", NULL)));
}

static void test_vw010_vw011_key_region(void **state)
{
	struct t *t = *state;

	denied(cl(t, "{'encryption':{'keyRef':{'name':'prod-key'}}}"), "VW010",
	       "VW010: spec.region is required when spec.encryption is set: it must equal the "
	       "EncryptionKey's region (seed 002); set e.g. region: us-east-1");
	/* GitOps order: the key is not there yet */
	warned(
	    cl(t, enc_cluster("prod-key", NULL)), "VW011",
	    "VW011: EncryptionKey prod-key (spec.encryption.keyRef) does not exist yet; admitted, "
	    "the operator waits for it and checks its region then");
	add(t, WH_KIND_ENCRYPTIONKEY, PROD_KEY);
	clean(cl(t, enc_cluster("prod-key", NULL)));
	denied(cl(t, "{'region':'us-west-2','encryption':{'keyRef':{'name':'prod-key'}}}"), "VW011",
	       "VW011: spec.region us-west-2 does not match region us-east-1 of EncryptionKey "
	       "prod-key (spec.encryption.keyRef): a key must be in its cluster's region (seed "
	       "002); use a key in us-west-2 or set spec.region: us-east-1");
	/* a local key carries its region in spec.region */
	add(t, WH_KIND_ENCRYPTIONKEY,
	    "{'metadata':{'name':'dev-key','namespace':'ns1'},"
	    "'spec':{'provider':'local','region':'eu-west-1'}}");
	assert_string_equal(cl(t, enc_cluster("dev-key", NULL))->denials[0].id, "VW011");
	/* the key lookup failing is no reason to admit */
	wh_memlookup_fail(t->m, WH_KIND_ENCRYPTIONKEY, "Get \"https://apiserver\": timeout");
	denied(cl(t, enc_cluster("prod-key", NULL)), "VW000",
	       "VW000: cannot decide: reading EncryptionKey ns1/prod-key failed (Get "
	       "\"https://apiserver\": timeout); denied rather than admitted unchecked, retry when "
	       "the API server answers");
}

static void test_vw011_key_after_cluster(void **state)
{
	struct t *t = *state;

	/* the Cluster came first (GitOps), then its key arrives in another region */
	add(t, WH_KIND_CLUSTER,
	    "{'metadata':{'name':'prod','namespace':'ns1'},'spec':{'region':"
	    "'us-east-1','encryption':{'keyRef':{'name':'k1'}}}}");
	denied(ky(t, "{'provider':'aws-kms','keyID':'" ARN_W "'}"), "VW011",
	       "VW011: this key is in region eu-west-1 but Cluster prod, which uses it "
	       "(spec.encryption.keyRef), is in us-east-1: a key must be in its cluster's region "
	       "(seed 002); create the key in us-east-1");
	clean(ky(t, "{'provider':'aws-kms','keyID':'" ARN_E "'}"));
}

static void test_vw012_builtin_roles(void **state)
{
	struct t *t = *state;

	clean(cl(t, "{'roles':[{'name':'reader','privilegeGroups':['CollectionReadOnly']}]}"));
	denied(
	    cl(t, "{'roles':[{'name':'admin','privilegeGroups':['ClusterReadOnly']}]}"), "VW012",
	    "VW012: spec.roles[0].name admin is a Milvus built-in role and always exists; choose "
	    "another name");
	denied(
	    cl(t, "{'roles':[{'name':'r'},{'name':'public'}]}"), "VW012",
	    "VW012: spec.roles[1].name public is a Milvus built-in role and always exists; choose "
	    "another name");
}

static void test_vw013_free_form_config(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);

	denied(
	    cl(t, "{'config':{'common':{'security':{'authorizationEnabled':false}}}}"), "VW013",
	    "VW013: spec.config is not a field of vecward.io/v1alpha1 Cluster: free-form "
	    "configuration is refused because it could turn off authentication, TLS or the access "
	    "log; use the typed fields (kubectl explain)");
	denied(
	    us(t, "{'clusterRef':{'name':'prod'},'username':'ok_user','superuser':true}"), "VW013",
	    "VW013: spec.superuser is not a field of vecward.io/v1alpha1 User: free-form "
	    "configuration is refused because it could turn off authentication, TLS or the access "
	    "log; use the typed fields (kubectl explain)");
	denied(cl(t, "'plaintext'"), "VW013",
	       "VW013: spec must be an object of the vecward.io/v1alpha1 Cluster API");
}

static void test_cluster_warnings(void **state)
{
	struct t *t = *state;

	clean(cl(t, "{'audit':{'enabled':true},'deletion':{'recycleBinDays':7},"
	            "'image':'registry.example/milvus@sha256:0123'}"));
	warned(
	    cl(t, "{'audit':{'enabled':false}}"), "VW014",
	    "VW014: spec.audit.enabled false turns the Milvus access log off: who did what can not "
	    "be investigated after an incident; remove it to keep the default (on)");
	warned(cl(t, "{'deletion':{'recycleBinDays':0}}"), "VW015",
	       "VW015: spec.deletion.recycleBinDays 0 purges data and key material as soon as the "
	       "Cluster is deleted, with no way to undo it; the default keeps them 30 days");
	warned(
	    cl(t, "{'roles':[{'name':'ops','privilegeGroups':['ClusterAdmin']}]}"), "VW016",
	    "VW016: spec.roles[0] (ops) grants every privilege (ClusterAdmin or * on database *); "
	    "grant only what the role needs (least privilege, seed 004)");
	warned(cl(t, "{'roles':[{'name':'x','privileges':[{'name':'*','database':'*','collection':'"
	             "*'}]}]}"),
	       "VW016",
	       "VW016: spec.roles[0] (x) grants every privilege (ClusterAdmin or * on database *); "
	       "grant only what the role needs (least privilege, seed 004)");
	clean(cl(t, "{'roles':[{'name':'x','privileges':[{'name':'*','database':'emb','collection':"
	            "'docs'}]}]}"));
	warned(cl(t, "{'image':'milvusdb/milvus:v2.6.0'}"), "VW019",
	       "VW019: spec.image milvusdb/milvus:v2.6.0 is not pinned by digest; use "
	       "repo@sha256:<digest> so the image can not change under you");
}

static const char *secret(const char *name, const char *key, const char *pw)
{
	struct buf b = BUF_INIT(1024);
	static char out[2048];

	assert_int_equal(b64_encode(pw, strlen(pw), &b), 0);
	snprintf(out, sizeof(out),
	         "{'metadata':{'name':'%s','namespace':'ns1'},'data':{'%s':'%s'}}", name, key,
	         buf_str(&b));
	buf_free(&b);
	return out;
}

static void test_vw017_root_password(void **state)
{
	struct t *t = *state;
	const char *spec = "{'authentication':{'rootPasswordSecretRef':{'name':'root-pw'}}}";

	warned(
	    cl(t, spec), "VW017",
	    "VW017: Secret root-pw (spec.authentication.rootPasswordSecretRef) does not exist yet; "
	    "admitted, the operator waits for it and checks the password then (12-72 characters, "
	    "3 of 4 classes)");
	add(t, WH_KIND_SECRET, secret("root-pw", "other", "x"));
	warned(cl(t, spec), "VW017",
	       "VW017: Secret root-pw has no key password yet "
	       "(spec.authentication.rootPasswordSecretRef); admitted, the operator waits for it");
	add(t, WH_KIND_SECRET, secret("root-pw", "password", "Milvus"));
	denied(
	    cl(t, spec), "VW017",
	    "VW017: the password in Secret root-pw key password "
	    "(spec.authentication.rootPasswordSecretRef) is shorter than 12 characters; use 12-72 "
	    "characters with at least 3 of: lower case, upper case, digits, symbols");
	add(t, WH_KIND_SECRET, secret("root-pw", "password", "s3cure-Enough-pw"));
	clean(cl(t, spec));
	/* the message never carries the password */
	add(t, WH_KIND_SECRET, secret("root-pw", "pw", "onlylowercaseletters"));
	struct wh_result *r =
	    cl(t, "{'authentication':{'rootPasswordSecretRef':{'name':'root-pw','key':'pw'}}}");
	assert_int_equal(r->n_denials, 1);
	assert_null(strstr(r->denials[0].msg, "onlylowercase"));
	assert_non_null(strstr(r->denials[0].msg, "uses fewer than 3 of the 4 character classes"));
}

static void test_vw018_backup_endpoint(void **state)
{
	struct t *t = *state;

	clean(cl(t, "{'backup':{'enabled':true,'schedule':'@daily','objectStore':{'bucket':'b',"
	            "'endpoint':'https://s3.us-east-1.amazonaws.com'}}}"));
	clean(
	    cl(t, "{'backup':{'objectStore':{'bucket':'b','endpoint':'http://127.0.0.1:9000'}}}"));
	clean(cl(t, "{'backup':{'objectStore':{'bucket':'b','endpoint':'http://[::1]:9000/x'}}}"));
	denied(
	    cl(t, "{'backup':{'objectStore':{'bucket':'b','endpoint':'http://s3.example.com'}}}"),
	    "VW018",
	    "VW018: spec.backup.objectStore.endpoint \"http://s3.example.com\" must be an https:// "
	    "URL (http:// only on loopback): keys, credentials and data must not cross the network "
	    "in plaintext");
	denied(
	    cl(t, "{'backup':{'objectStore':{'bucket':'b','endpoint':'https://"
	          "AKIA:secret@s3.example.com'}}}"),
	    "VW018",
	    "VW018: spec.backup.objectStore.endpoint must not carry credentials (user:password@): "
	    "specs are not secret; put them in the Secret named by credentialsSecretRef");
	/* a loopback lookalike is not loopback */
	assert_int_equal(cl(t, "{'backup':{'objectStore':{'bucket':'b','endpoint':"
	                       "'http://127.0.0.1.evil.example'}}}")
	                     ->n_denials,
	                 1);
}

static void test_update_metadata_only_and_deleting(void **state)
{
	struct t *t = *state;
	const char *o = obj_of(WH_KIND_CLUSTER, "ns1", "c1", "{'tls':{'mode':'disabled'}}");
	char *old = strdup(o);

	/* the namespace lost its opt-in label, but a finalizer update must pass */
	clean(
	    ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_UPDATE,
	          "{'metadata':{'name':'c1','namespace':'ns1','finalizers':['vecward.io/cleanup']},"
	          "'spec':{'tls':{'mode':'disabled'}}}",
	          old));
	clean(ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_UPDATE,
	            "{'metadata':{'name':'c1','namespace':'ns1','deletionTimestamp':'2026-01-01T00:"
	            "00:00Z'},"
	            "'spec':{'tls':{'mode':'disabled','internal':false}}}",
	            old));
	/* any spec change re-runs the rules */
	assert_int_equal(ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_UPDATE,
	                       obj_of(WH_KIND_CLUSTER, "ns1", "c1",
	                              "{'tls':{'mode':'disabled'},'storage':{'size':'20Gi'}}"),
	                       old)
	                     ->n_denials,
	                 1);
	assert_int_equal(wh_memlookup_calls(t->m), 1);
	free(old);
}

/* ---- User ------------------------------------------------------------------------ */

static void test_user_secure_example(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	/* examples/user.yaml */
	clean(ev_ns(t, "ns1", WH_KIND_USER, WH_OP_CREATE,
	            "{'metadata':{'name':'app-reader','namespace':'ns1'},'spec':{'clusterRef':"
	            "{'name':'prod'},'username':'app_reader','roles':['reader'],'tls':"
	            "{'clientCertificate':true},'passwordRotation':{'period':'720h'}}}",
	            NULL));
	/* the username defaults to a valid metadata.name */
	clean(ev_ns(t, "ns1", WH_KIND_USER, WH_OP_CREATE,
	            "{'metadata':{'name':'reader1','namespace':'ns1'},'spec':{'clusterRef':"
	            "{'name':'prod'},'roles':['public','ingest']}}",
	            NULL));
}

static void test_vw020_username(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	denied(us(t, "{'clusterRef':{'name':'prod'},'username':'2abc!'}"), "VW020",
	       "VW020: spec.username \"2abc!\" is not a valid Milvus user name: 1-32 characters, a "
	       "letter first, then letters, digits or _; e.g. u2abc_");
	denied(
	    us(t, "{'clusterRef':{'name':'prod'},'username':'a23456789012345678901234567890123'}"),
	    "VW020",
	    "VW020: spec.username \"a23456789012345678901234567890123\" is not a valid Milvus user "
	    "name: 1-32 characters, a letter first, then letters, digits or _; e.g. "
	    "a2345678901234567890123456789012");
	denied(
	    ev_ns(t, "ns1", WH_KIND_USER, WH_OP_CREATE,
	          "{'metadata':{'name':'app-writer','namespace':'ns1'},'spec':{'clusterRef':"
	          "{'name':'prod'}}}",
	          NULL),
	    "VW020",
	    "VW020: metadata.name \"app-writer\" is not a valid Milvus user name and spec.username "
	    "is not set; set spec.username, e.g. app_writer (1-32 characters, a letter first, then "
	    "letters, digits or _)");
	denied(ev_ns(t, "ns1", WH_KIND_USER, WH_OP_CREATE,
	             "{'metadata':{'generateName':'u-','namespace':'ns1'},'spec':{'clusterRef':"
	             "{'name':'prod'}}}",
	             NULL),
	       "VW020",
	       "VW020: spec.username is required when metadata.name is generated: it is the Milvus "
	       "identity; set e.g. spec.username: app_reader");
	clean(ev_ns(t, "ns1", WH_KIND_USER, WH_OP_CREATE,
	            "{'metadata':{'generateName':'u-','namespace':'ns1'},'spec':{'clusterRef':"
	            "{'name':'prod'},'username':'gen_user'}}",
	            NULL));
}

static void test_vw021_reserved(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	denied(
	    us(t, "{'clusterRef':{'name':'prod'},'username':'root'}"), "VW021",
	    "VW021: spec.username root is reserved: root is the Cluster's superuser, managed "
	    "through spec.authentication.rootPasswordSecretRef; choose another name and grant it "
	    "roles");
	assert_string_equal(
	    us(t, "{'clusterRef':{'name':'prod'},'username':'Root'}")->denials[0].id, "VW021");
	denied(
	    ev_ns(t, "ns1", WH_KIND_USER, WH_OP_CREATE,
	          "{'metadata':{'name':'root','namespace':'ns1'},'spec':{'clusterRef':{'name':'"
	          "prod'}}}",
	          NULL),
	    "VW021",
	    "VW021: metadata.name root is reserved: root is the Cluster's superuser, managed "
	    "through spec.authentication.rootPasswordSecretRef; choose another name and grant it "
	    "roles");
	denied(
	    us(t, "{'clusterRef':{'name':'prod'},'username':'admin'}"), "VW021",
	    "VW021: spec.username admin is reserved: it is the name of a Milvus built-in role, and "
	    "a user of that name makes grants and audit logs ambiguous; choose another name");
	clean(us(t, "{'clusterRef':{'name':'prod'},'username':'rooted'}"));
}

static void test_vw022_vw023_immutable(void **state)
{
	struct t *t = *state;
	char *o;

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	add(t, WH_KIND_CLUSTER, "{'metadata':{'name':'other','namespace':'ns1'},'spec':{}}");
	o = strdup(obj_of(WH_KIND_USER, "ns1", "u1",
	                  "{'clusterRef':{'name':'prod'},'username':'app_reader'}"));
	clean(ev_ns(
	    t, "ns1", WH_KIND_USER, WH_OP_UPDATE,
	    obj_of(WH_KIND_USER, "ns1", "u1",
	           "{'clusterRef':{'name':'prod'},'username':'app_reader','roles':['reader']}"),
	    o));
	denied(
	    ev_ns(t, "ns1", WH_KIND_USER, WH_OP_UPDATE,
	          obj_of(WH_KIND_USER, "ns1", "u1",
	                 "{'clusterRef':{'name':'prod'},'username':'app_reader2'}"),
	          o),
	    "VW022",
	    "VW022: spec.username is immutable (app_reader -> app_reader2): it is the Milvus "
	    "identity that owns grants and audit history; delete this User and create a new one to "
	    "rename it");
	/* removing it falls back to metadata.name, another identity */
	denied(
	    ev_ns(t, "ns1", WH_KIND_USER, WH_OP_UPDATE,
	          obj_of(WH_KIND_USER, "ns1", "u1", "{'clusterRef':{'name':'prod'}}"), o),
	    "VW022",
	    "VW022: spec.username is immutable (app_reader -> u1): it is the Milvus identity that "
	    "owns grants and audit history; delete this User and create a new one to rename it");
	denied(
	    ev_ns(t, "ns1", WH_KIND_USER, WH_OP_UPDATE,
	          obj_of(WH_KIND_USER, "ns1", "u1",
	                 "{'clusterRef':{'name':'other'},'username':'app_reader'}"),
	          o),
	    "VW023",
	    "VW023: spec.clusterRef is immutable (prod -> other): a User belongs to one Cluster; "
	    "create a new User for the other Cluster");
	free(o);
	denied(us(t, "{'username':'lonely'}"), "VW023",
	       "VW023: spec.clusterRef.name is required: the Cluster, in this namespace, the user "
	       "belongs to; e.g. clusterRef: {name: prod}");
}

static void test_vw024_duplicate_username(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	add(t, WH_KIND_USER,
	    "{'metadata':{'name':'first','namespace':'ns1','creationTimestamp':"
	    "'2026-01-01T00:00:00Z'},'spec':{'clusterRef':{'name':'prod'},"
	    "'username':'app_reader'}}");
	denied(us(t, "{'clusterRef':{'name':'prod'},'username':'app_reader'}"), "VW024",
	       "VW024: spec.username app_reader is already used by User first of Cluster prod; "
	       "Milvus user names are unique per cluster: choose another username");
	/* the same name in another Cluster, or another name, is fine */
	add(t, WH_KIND_CLUSTER, "{'metadata':{'name':'other','namespace':'ns1'},'spec':{}}");
	clean(us(t, "{'clusterRef':{'name':'other'},'username':'app_reader'}"));
	clean(us(t, "{'clusterRef':{'name':'prod'},'username':'app_writer'}"));
	/* the defaulted username (metadata.name) counts too */
	add(t, WH_KIND_USER,
	    "{'metadata':{'name':'bob','namespace':'ns1'},'spec':{'clusterRef':"
	    "{'name':'prod'}}}");
	assert_string_equal(us(t, "{'clusterRef':{'name':'prod'},'username':'bob'}")->denials[0].id,
	                    "VW024");
	/* named carol, Milvus user dave: dave is taken, carol is not (the lookup is
	 * asked for the two field selectors, as the API server would answer them) */
	add(t, WH_KIND_USER,
	    "{'metadata':{'name':'carol','namespace':'ns1'},'spec':{'clusterRef':"
	    "{'name':'prod'},'username':'dave'}}");
	assert_string_equal(
	    us(t, "{'clusterRef':{'name':'prod'},'username':'dave'}")->denials[0].id, "VW024");
	clean(us(t, "{'clusterRef':{'name':'prod'},'username':'carol'}"));
	/* reconcile: the older of two duplicates is fine, the newer one is not */
	clean(ev_ns(t, "ns1", WH_KIND_USER, WH_OP_RECONCILE,
	            "{'metadata':{'name':'first','namespace':'ns1','creationTimestamp':"
	            "'2026-01-01T00:00:00Z'},'spec':{'clusterRef':{'name':'prod'},'username':'app_"
	            "reader'}}",
	            NULL));
	add(t, WH_KIND_USER,
	    "{'metadata':{'name':'second','namespace':'ns1','creationTimestamp':"
	    "'2026-02-01T00:00:00Z'},'spec':{'clusterRef':{'name':'prod'},"
	    "'username':'app_reader'}}");
	assert_int_equal(ev_ns(t, "ns1", WH_KIND_USER, WH_OP_RECONCILE,
	                       "{'metadata':{'name':'second','namespace':'ns1','creationTimestamp':"
	                       "'2026-02-01T00:00:00Z'},'spec':{'clusterRef':{'name':'prod'},"
	                       "'username':'app_reader'}}",
	                       NULL)
	                     ->n_denials,
	                 1);
	wh_memlookup_fail(t->m, WH_KIND_USER, "403 Forbidden: users.vecward.io is forbidden");
	denied(
	    us(t, "{'clusterRef':{'name':'prod'},'username':'app_x'}"), "VW000",
	    "VW000: cannot decide: reading User ns1/* failed (403 Forbidden: users.vecward.io is "
	    "forbidden); denied rather than admitted unchecked, retry when the API server answers");
}

static void test_vw025_roles_and_gitops_order(void **state)
{
	struct t *t = *state;

	/* GitOps order: the Cluster is not there yet */
	warned(us(t, "{'clusterRef':{'name':'prod'},'username':'app','roles':['reader','nosuch']}"),
	       "VW025",
	       "VW025: Cluster prod (spec.clusterRef) does not exist yet; admitted, the operator "
	       "creates the user once it appears and checks roles and TLS then");
	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	clean(us(t, "{'clusterRef':{'name':'prod'},'username':'app','roles':['reader','ingest','"
	            "public']}"));
	denied(us(t, "{'clusterRef':{'name':'prod'},'username':'app','roles':['reader','writer']}"),
	       "VW025",
	       "VW025: spec.roles: role writer is neither built in (admin, public) nor defined in "
	       "Cluster prod spec.roles; define it there or remove it here");
	wh_memlookup_fail(t->m, WH_KIND_CLUSTER, "context deadline exceeded");
	/* once undecided, no further lookups: one VW000, whatever else needed one */
	unsigned long calls = wh_memlookup_calls(t->m);
	denied(
	    us(t,
	       "{'clusterRef':{'name':'prod'},'username':'app','passwordSecretRef':{'name':'pw'}}"),
	    "VW000",
	    "VW000: cannot decide: reading Cluster ns1/prod failed (context deadline exceeded); "
	    "denied rather than admitted unchecked, retry when the API server answers");
	assert_int_equal(wh_memlookup_calls(t->m), calls + 1);
}

static void test_vw026_client_certificate(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	add(t, WH_KIND_CLUSTER, "{'metadata':{'name':'srv','namespace':'ns1'},'spec':{}}");
	clean(us(
	    t, "{'clusterRef':{'name':'prod'},'username':'app','tls':{'clientCertificate':true}}"));
	clean(us(
	    t, "{'clusterRef':{'name':'srv'},'username':'app','tls':{'clientCertificate':false}}"));
	denied(
	    us(t,
	       "{'clusterRef':{'name':'srv'},'username':'app','tls':{'clientCertificate':true}}"),
	    "VW026",
	    "VW026: spec.tls.clientCertificate true needs a Cluster with spec.tls.mode mutual, but "
	    "Cluster srv uses server; set the Cluster's tls.mode: mutual or remove "
	    "clientCertificate");
}

static void test_vw027_admin_warning(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	warned(
	    us(t, "{'clusterRef':{'name':'prod'},'username':'ops','roles':['admin']}"), "VW027",
	    "VW027: spec.roles grants admin: full control of every database, user and role in "
	    "Cluster prod; prefer a custom role with only the privileges needed (least privilege, "
	    "seed 004)");
}

static void test_vw028_user_password(void **state)
{
	struct t *t = *state;
	const char *spec = "{'clusterRef':{'name':'prod'},'username':'app','passwordSecretRef':"
	                   "{'name':'app-pw','key':'pw'}}";

	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	warned(us(t, spec), "VW028",
	       "VW028: Secret app-pw (spec.passwordSecretRef) does not exist yet; admitted, the "
	       "operator waits for it and checks the password then (12-72 characters, 3 of 4 "
	       "classes)");
	add(t, WH_KIND_SECRET, secret("app-pw", "pw", "password"));
	denied(
	    us(t, spec), "VW028",
	    "VW028: the password in Secret app-pw key pw (spec.passwordSecretRef) is shorter than "
	    "12 characters; use 12-72 characters with at least 3 of: lower case, upper case, "
	    "digits, symbols");
	add(t, WH_KIND_SECRET, secret("app-pw", "pw", "Tr0ub4dor&3-horse"));
	clean(us(t, spec));
}

/* ---- EncryptionKey ------------------------------------------------------------------- */

static void test_key_secure_examples(void **state)
{
	struct t *t = *state;

	/* examples/encryptionkey-aws.yaml */
	clean(ky(t, "{'provider':'aws-kms','keyID':'" ARN_E "','rotationPeriod':'4380h'}"));
	clean(ky(t, "{'provider':'aws-kms','keyID':'" ARN_W "','region':'eu-west-1',"
	            "'endpoint':'http://127.0.0.1:5000'}"));
	/* examples/encryptionkey-local.yaml, in an opted-in namespace */
	warned(
	    ev_ns(t, "dev", WH_KIND_ENCRYPTIONKEY, WH_OP_CREATE,
	          obj_of(WH_KIND_ENCRYPTIONKEY, "dev", "dev-key",
	                 "{'provider':'local','region':'us-east-1'}"),
	          NULL),
	    "VW035",
	    "VW035: spec.provider local is allowed only because namespace dev is labelled "
	    "vecward.io/allow-insecure=true: the root key sits in a Secret, so anyone who can read "
	    "Secrets here can decrypt the zone keys; never use this for real data");
}

static void test_vw030_vw031_key_spec(void **state)
{
	struct t *t = *state;
	struct wh_result *r;

	denied(ky(t, "{'provider':'aws-kms','keyID':'alias/vecward'}"), "VW030",
	       "VW030: spec.keyID \"alias/vecward\" is not a KMS key ARN; use "
	       "arn:aws:kms:<region>:<12-digit account>:key/<key-id> (an alias can be repointed to "
	       "another key, so it is not accepted)");
	denied(ky(t, "{'provider':'aws-kms'}"), "VW030",
	       "VW030: spec.keyID is required for provider aws-kms: the KMS key ARN, "
	       "arn:aws:kms:<region>:<12-digit account>:key/<key-id>");
	denied(
	    ky(t, "{'provider':'gcp-kms'}"), "VW030",
	    "VW030: spec.provider must be aws-kms (a key in AWS KMS) or local (development only)");
	/* in an opted-in namespace: the VW035 warning comes with it */
	r = ev_ns(t, "dev", WH_KIND_ENCRYPTIONKEY, WH_OP_CREATE,
	          obj_of(WH_KIND_ENCRYPTIONKEY, "dev", "k1",
	                 "{'provider':'local','region':'us-east-1','keyID':'my-key'}"),
	          NULL);
	assert_int_equal(r->n_denials, 1);
	assert_int_equal(r->n_warnings, 1);
	assert_string_equal(r->warnings[0].id, "VW035");
	assert_string_equal(
	    r->denials[0].msg,
	    "VW030: spec.keyID is only for provider aws-kms: a local root key is generated by the "
	    "operator into Secret <name>-root-key; remove spec.keyID");
	denied(
	    ky(t, "{'provider':'aws-kms','keyID':'" ARN_E "','region':'eu-west-1'}"), "VW031",
	    "VW031: spec.region eu-west-1 does not match region us-east-1 of the spec.keyID ARN; "
	    "remove spec.region (it is taken from the ARN) or fix it");
	r = ev_ns(t, "dev", WH_KIND_ENCRYPTIONKEY, WH_OP_CREATE,
	          obj_of(WH_KIND_ENCRYPTIONKEY, "dev", "k1", "{'provider':'local'}"), NULL);
	assert_int_equal(r->n_denials, 1);
	assert_string_equal(
	    r->denials[0].msg,
	    "VW031: spec.region is required for provider local: a Cluster can only use "
	    "a key in its own region; set e.g. region: us-east-1");
}

static void test_vw032_vw033_limits(void **state)
{
	struct t *t = *state;

	add(t, WH_KIND_ENCRYPTIONKEY,
	    "{'metadata':{'name':'prod-key','namespace':'ns1'},"
	    "'spec':{'provider':'aws-kms','keyID':'" ARN_E "'}}");
	denied(ky(t, "{'provider':'aws-kms','keyID':'" ARN_E "'}"), "VW032",
	       "VW032: EncryptionKey prod-key already uses aws-kms key " ARN_E "; seed 002 forbids "
	       "adding the same key twice: reference prod-key from the Cluster instead");
	/* the same key in another namespace is another project */
	add(t, WH_KIND_NAMESPACE, "{'metadata':{'name':'ns2'}}");
	clean(ev_ns(t, "ns2", WH_KIND_ENCRYPTIONKEY, WH_OP_CREATE,
	            obj_of(WH_KIND_ENCRYPTIONKEY, "ns2", "k1",
	                   "{'provider':'aws-kms','keyID':'" ARN_E "'}"),
	            NULL));
	/* 19 more keys: 20 in all, the next one is the 21st */
	for (int i = 0; i < 18; i++)
		add(t, WH_KIND_ENCRYPTIONKEY,
		    fmt("{'metadata':{'name':'k%02d','namespace':'ns1'},'spec':{'provider':'aws-"
		        "kms',"
		        "'keyID':'arn:aws:kms:us-east-1:111122223333:key/mrk-%032d'}}",
		        i, i));
	clean(ky(t, "{'provider':'aws-kms','keyID':'" ARN_W "'}")); /* the 20th */
	add(t, WH_KIND_ENCRYPTIONKEY,
	    "{'metadata':{'name':'k20th','namespace':'ns1'},"
	    "'spec':{'provider':'aws-kms','keyID':'" ARN_W "'}}");
	denied(ky(t, "{'provider':'aws-kms','keyID':'arn:aws:kms:us-east-1:111122223333:key/"
	             "mrk-ffffffffffffffffffffffffffffffff'}"),
	       "VW033",
	       "VW033: namespace ns1 already has 20 EncryptionKeys, and seed 002 allows at most 20 "
	       "per project (a namespace here); delete an unused key or use another namespace");
	/* updating an existing key is not adding one */
	const char *k = "{'metadata':{'name':'k20th','namespace':'ns1'},'spec':{'provider':"
	                "'aws-kms','keyID':'" ARN_W "'}}";
	char *old = strdup(k);
	clean(ev_ns(t, "ns1", WH_KIND_ENCRYPTIONKEY, WH_OP_UPDATE,
	            "{'metadata':{'name':'k20th','namespace':'ns1'},'spec':{'provider':'aws-kms',"
	            "'keyID':'" ARN_W "','rotationPeriod':'720h'}}",
	            old));
	free(old);
	wh_memlookup_fail(t->m, WH_KIND_ENCRYPTIONKEY, "500 InternalError");
	denied(
	    ky(t, "{'provider':'aws-kms','keyID':'" ARN_E "'}"), "VW000",
	    "VW000: cannot decide: reading EncryptionKey ns1/* failed (500 InternalError); denied "
	    "rather than admitted unchecked, retry when the API server answers");
}

static void test_vw034_delete_key_in_use(void **state)
{
	struct t *t = *state;
	const char *key = PROD_KEY;
	const char *shred = "{'metadata':{'name':'prod-key','namespace':'ns1','annotations':"
	                    "{'vecward.io/allow-crypto-shredding':'true'}},'spec':{'provider':"
	                    "'aws-kms','keyID':'" ARN_E "'}}";

	clean(ev_ns(t, "ns1", WH_KIND_ENCRYPTIONKEY, WH_OP_DELETE, NULL, key));
	add(t, WH_KIND_CLUSTER, PROD_CLUSTER);
	denied(
	    ev_ns(t, "ns1", WH_KIND_ENCRYPTIONKEY, WH_OP_DELETE, NULL, key), "VW034",
	    "VW034: EncryptionKey prod-key is used by Cluster prod (spec.encryption.keyRef): "
	    "deleting it makes their data unreadable; delete those Clusters first, or annotate the "
	    "key vecward.io/allow-crypto-shredding=true to crypto-shred on purpose");
	warned(ev_ns(t, "ns1", WH_KIND_ENCRYPTIONKEY, WH_OP_DELETE, NULL, shred), "VW034",
	       "VW034: deleting EncryptionKey prod-key, still used by Cluster prod, on purpose "
	       "(vecward.io/allow-crypto-shredding=true): their encrypted data becomes unreadable "
	       "(crypto-shredding)");
	add(t, WH_KIND_NAMESPACE,
	    "{'metadata':{'name':'ns1','deletionTimestamp':"
	    "'2026-01-01T00:00:00Z'},'status':{'phase':'Terminating'}}");
	warned(
	    ev_ns(t, "ns1", WH_KIND_ENCRYPTIONKEY, WH_OP_DELETE, NULL, key), "VW034",
	    "VW034: namespace ns1 is being deleted: EncryptionKey prod-key goes with Cluster prod, "
	    "whose encrypted data becomes unreadable");
	/* deleting other kinds is never checked */
	clean(ev_ns(t, "ns1", WH_KIND_CLUSTER, WH_OP_DELETE, NULL, PROD_CLUSTER));
	wh_memlookup_fail(t->m, WH_KIND_CLUSTER, "connection refused");
	denied(ev_ns(t, "ns1", WH_KIND_ENCRYPTIONKEY, WH_OP_DELETE, NULL, key), "VW000",
	       "VW000: cannot decide: reading Cluster ns1/* failed (connection refused); denied "
	       "rather than admitted unchecked, retry when the API server answers");
}

static void test_vw035_vw036_local_and_endpoint(void **state)
{
	struct t *t = *state;

	denied(
	    ky(t, "{'provider':'local','region':'us-east-1'}"), "VW035",
	    "VW035: spec.provider local is refused: the root key sits in a Secret, so anyone who "
	    "can read Secrets here can decrypt the zone keys; use aws-kms, or for development "
	    "only label namespace ns1 vecward.io/allow-insecure=true");
	denied(
	    ky(t, "{'provider':'aws-kms','keyID':'" ARN_E "','endpoint':'http://kms.example.com'}"),
	    "VW036",
	    "VW036: spec.endpoint \"http://kms.example.com\" must be an https:// URL (http:// only "
	    "on loopback): keys, credentials and data must not cross the network in plaintext");
	denied(ky(t, "{'provider':'aws-kms','keyID':'" ARN_E
	             "','endpoint':'https://a:b@kms.example.com'}"),
	       "VW036",
	       "VW036: spec.endpoint must not carry credentials (user:password@): specs are not "
	       "secret; put them in the Secret named by credentialsSecretRef");
	struct wh_result *r = ev_ns(t, "dev", WH_KIND_ENCRYPTIONKEY, WH_OP_CREATE,
	                            obj_of(WH_KIND_ENCRYPTIONKEY, "dev", "k1",
	                                   "{'provider':'local','region':'us-east-1','endpoint':"
	                                   "'https://kms.example.com'}"),
	                            NULL);
	assert_int_equal(r->n_denials, 1);
	assert_string_equal(
	    r->denials[0].msg,
	    "VW036: spec.endpoint and spec.credentialsSecretRef are only for provider "
	    "aws-kms; remove them for provider local");
}

static void test_findings_are_capped_and_printable(void **state)
{
	struct t *t = *state;
	struct buf spec = BUF_INIT(1 << 20);

	buf_adds(&spec, "{'network':{'allowedCIDRs':[");
	for (int i = 0; i < 100; i++)
		buf_printf(&spec, "%s'bad\\u0001%d'", i ? "," : "", i);
	buf_adds(&spec, "]}}");
	struct wh_result *r = cl(t, buf_str(&spec));
	assert_int_equal(r->n_denials, WH_MAX_FINDINGS);
	assert_string_equal(r->denials[WH_MAX_FINDINGS - 1].msg, "VW003: further findings omitted");
	assert_non_null(strstr(r->denials[0].msg, "\"bad?0\""));
	buf_free(&spec);
}

/* ---- mutation ---------------------------------------------------------------------- */

static void patch_is(enum wh_kind k, const char *obj, const char *expected, size_t nops)
{
	struct buf out = BUF_INIT(1 << 20);
	yajl_val v = J(obj);
	char *exp = strdup(expected);
	size_t n = 99;

	for (char *p = exp; *p; p++)
		if (*p == '\'')
			*p = '"';
	assert_int_equal(wh_mutate(k, v, &out, &n), 0);
	assert_string_equal(buf_str(&out), exp);
	assert_int_equal(n, nops);
	/* it is valid JSON */
	yajl_val p = NULL;
	assert_int_equal(json_parse(out.ptr, out.len, 64, 0, &p, NULL, 0), 0);
	assert_int_equal(json_array_len(p), nops);
	yajl_tree_free(p);
	yajl_tree_free(v);
	free(exp);
	buf_free(&out);
}

static void test_mutate_cluster(void **state)
{
	patch_is(WH_KIND_CLUSTER, "{'metadata':{'name':'c'}}",
	         "[{'op':'add','path':'/spec','value':{}},"
	         "{'op':'add','path':'/spec/version','value':'v2.6.0'},"
	         "{'op':'add','path':'/spec/mode','value':'standalone'},"
	         "{'op':'add','path':'/spec/replicas','value':1},"
	         "{'op':'add','path':'/spec/storage','value':{'size':'10Gi'}},"
	         "{'op':'add','path':'/spec/tls','value':{'mode':'server','internal':true,"
	         "'duration':'2160h','renewBefore':'360h','keyAlgorithm':'ECDSA-P256'}},"
	         "{'op':'add','path':'/spec/"
	         "audit','value':{'enabled':true,'format':'text','output':'stdout'}},"
	         "{'op':'add','path':'/spec/backup','value':{'enabled':false,'retentionDays':7}},"
	         "{'op':'add','path':'/spec/deletion','value':{'recycleBinDays':30}}]",
	         9);
	/* present values are kept, even odd ones; only what is missing is added */
	patch_is(
	    WH_KIND_CLUSTER,
	    "{'metadata':{'name':'c'},'spec':{'version':'v2.5.0','mode':'standalone','replicas':1,"
	    "'storage':{'size':'50Gi'},'tls':{'mode':'disabled','duration':'720h'},"
	    "'audit':{'enabled':false},'backup':{'enabled':true,'retentionDays':3},"
	    "'deletion':{'recycleBinDays':0},'encryption':{'keyRef':{'name':'k'}},"
	    "'authentication':{'rootPasswordSecretRef':{'name':'r'}}}}",
	    "[{'op':'add','path':'/spec/tls/internal','value':true},"
	    "{'op':'add','path':'/spec/tls/renewBefore','value':'360h'},"
	    "{'op':'add','path':'/spec/tls/keyAlgorithm','value':'ECDSA-P256'},"
	    "{'op':'add','path':'/spec/audit/format','value':'text'},"
	    "{'op':'add','path':'/spec/audit/output','value':'stdout'},"
	    "{'op':'add','path':'/spec/encryption/databases','value':['default']},"
	    "{'op':'add','path':'/spec/authentication/rootPasswordSecretRef/"
	    "key','value':'password'}]",
	    7);
	/* what the API server stores after its own CRD defaults: nothing left to add */
	patch_is(WH_KIND_CLUSTER,
	         "{'spec':{'version':'v2.6.0','mode':'standalone','replicas':1,'storage':{'size':'"
	         "10Gi'},"
	         "'tls':{'mode':'server','internal':true,'duration':'2160h','renewBefore':'360h',"
	         "'keyAlgorithm':'ECDSA-P256'},'audit':{'enabled':true,'format':'text','output':'"
	         "stdout'},"
	         "'backup':{'enabled':false,'retentionDays':7},'deletion':{'recycleBinDays':30}}}",
	         "[]", 0);
	/* a group of the wrong type is left for validation */
	patch_is(WH_KIND_CLUSTER,
	         "{'spec':{'version':'v2.6.0','mode':'standalone','replicas':1,'storage':'big',"
	         "'tls':[],'audit':1,'backup':null,'deletion':'no'}}",
	         "[]", 0);
}

static void test_mutate_user_and_key(void **state)
{
	patch_is(WH_KIND_USER, "{'metadata':{'name':'reader1'},'spec':{'clusterRef':{'name':'p'}}}",
	         "[{'op':'add','path':'/spec/username','value':'reader1'},"
	         "{'op':'add','path':'/spec/tls','value':{'clientCertificate':false}}]",
	         2);
	/* an invalid metadata.name is not copied (validation asks for spec.username) */
	patch_is(WH_KIND_USER,
	         "{'metadata':{'name':'app-reader'},'spec':{'clusterRef':{'name':'p'},'tls':{},"
	         "'passwordSecretRef':{'name':'s'}}}",
	         "[{'op':'add','path':'/spec/tls/clientCertificate','value':false},"
	         "{'op':'add','path':'/spec/passwordSecretRef/key','value':'password'}]",
	         2);
	patch_is(
	    WH_KIND_USER,
	    "{'metadata':{'name':'u'},'spec':{'username':'x','tls':{'clientCertificate':true}}}",
	    "[]", 0);
	patch_is(WH_KIND_ENCRYPTIONKEY,
	         "{'metadata':{'name':'k'},'spec':{'provider':'aws-kms','keyID':'" ARN_E "'}}",
	         "[{'op':'add','path':'/spec/rotationPeriod','value':'8760h'},"
	         "{'op':'add','path':'/spec/region','value':'us-east-1'}]",
	         2);
	patch_is(WH_KIND_ENCRYPTIONKEY,
	         "{'metadata':{'name':'k'},'spec':{'provider':'aws-kms','keyID':'alias/x',"
	         "'rotationPeriod':'720h'}}",
	         "[]", 0);
	patch_is(WH_KIND_ENCRYPTIONKEY,
	         "{'metadata':{'name':'k'},'spec':{'provider':'local','region':'eu-west-1'}}",
	         "[{'op':'add','path':'/spec/rotationPeriod','value':'8760h'}]", 1);
	/* not an object */
	struct buf out = BUF_INIT(1024);
	yajl_val v = J("[1]");
	assert_int_equal(wh_mutate(WH_KIND_USER, v, &out, NULL), -1);
	yajl_tree_free(v);
	buf_free(&out);
}

/* ---- the catalogue and docs/policies.md ------------------------------------------- */

static void test_catalogue_matches_docs(void **state)
{
	struct buf doc = BUF_INIT(1 << 20);
	long last = -1;

	assert_int_equal(read_file("docs/policies.md", 1 << 20, &doc), 0);
	for (int i = 0; WH_RULES[i].id; i++) {
		char row[16];
		long num = -1;
		assert_int_equal(parse_long(WH_RULES[i].id + 2, 0, 999, &num), 0);
		assert_true(num > last); /* ordered, unique */
		last = num;
		snprintf(row, sizeof(row), "| %s |", WH_RULES[i].id);
		if (!strstr(buf_str(&doc), row))
			fail_msg("docs/policies.md has no row for %s", WH_RULES[i].id);
	}
	/* and no row for a rule the code does not have */
	for (const char *p = buf_str(&doc); (p = strstr(p, "| VW")) != NULL; p += 4) {
		char id[6];
		int found = 0;
		memcpy(id, p + 2, 5);
		id[5] = '\0';
		for (int i = 0; WH_RULES[i].id && !found; i++)
			found = strcmp(WH_RULES[i].id, id) == 0;
		if (!found)
			fail_msg("docs/policies.md has a row for unknown rule %s", id);
	}
	buf_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_cidr),
	    cmocka_unit_test(test_username_and_arn),
	    cmocka_unit_test(test_password_problem),
	    cmocka_unit_test_setup_teardown(test_cluster_secure_example, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw001_tls_disabled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw002_internal_tls_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw000_namespace_lookup_fails_closed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_vw003_vw004_cidrs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw005_vw006_durations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw007_vw008_vw009_encryption_immutable, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_vw010_vw011_key_region, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw011_key_after_cluster, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw012_builtin_roles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw013_free_form_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cluster_warnings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw017_root_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw018_backup_endpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_metadata_only_and_deleting, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_user_secure_example, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw020_username, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw021_reserved, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw022_vw023_immutable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw024_duplicate_username, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw025_roles_and_gitops_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw026_client_certificate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw027_admin_warning, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw028_user_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_secure_examples, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw030_vw031_key_spec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw032_vw033_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw034_delete_key_in_use, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vw035_vw036_local_and_endpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_findings_are_capped_and_printable, setup,
	                                    teardown),
	    cmocka_unit_test(test_mutate_cluster),
	    cmocka_unit_test(test_mutate_user_and_key),
	    cmocka_unit_test(test_catalogue_matches_docs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
