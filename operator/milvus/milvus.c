#include "milvus.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "jgen.h"
#include "json.h"

#ifndef VECWARD_VERSION
#define VECWARD_VERSION "dev"
#endif

#define API_PREFIX "/v2/vectordb/"

static atomic_ulong g_requests;

struct sink {
	struct buf b;
	int overflow;
};

struct mv_client {
	CURL *curl;
	struct curl_slist *connect_to;
	char *url_prefix; /* "<base>/v2/vectordb/" */
	char *ca, *cert, *key;
	size_t ca_len, cert_len, key_len; /* key: secret */
	char *user, *password;            /* password: secret; user NULL: no auth */
	long timeout_ms;
	int https;
	char errbuf[CURL_ERROR_SIZE];
	struct sink sink;
};

/* ---- errors ------------------------------------------------------------------ */

static void err_reset(struct mv_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

__attribute__((format(printf, 3, 4))) static int fail(struct mv_error *err, int status,
                                                      const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return status;
	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return status;
}

/* Prefix err->message with the operation's path: "users/create: ...". */
static void err_prefix(struct mv_error *err, const char *path)
{
	char m[sizeof(err->message)];

	if (!err)
		return;
	/* cut when too long: the end of a long message is the least useful part */
	if (snprintf(m, sizeof(m), "%s: %s", path, err->message) < 0)
		return;
	memcpy(err->message, m, sizeof(m));
}

/* Printable ASCII only, cut to fit: control characters become blanks, other
 * bytes '?', so the text is safe in a log line or a Kubernetes condition. */
static void copy_printable(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	for (; src && *src && n + 1 < cap; src++) {
		unsigned char ch = (unsigned char)*src;
		if (ch >= 0x20 && ch < 0x7f)
			dst[n++] = (char)ch;
		else
			dst[n++] = ch < 0x20 || ch == 0x7f ? ' ' : '?';
	}
	dst[n] = '\0';
}

/* Copy s into out with every occurrence of a non-empty secret replaced by
 * "***" (the longest secret that matches at a position wins, so a password
 * that extends another is not left half shown). */
static int redact(struct buf *out, const char *s, const char *const *secrets, size_t nsecrets)
{
	while (*s) {
		size_t skip = 0;
		for (size_t i = 0; i < nsecrets; i++) {
			size_t l = secrets[i] ? strlen(secrets[i]) : 0;
			if (l > skip && strncmp(s, secrets[i], l) == 0)
				skip = l;
		}
		if (skip) {
			if (buf_adds(out, "***"))
				return -1;
			s += skip;
		} else {
			if (buf_addc(out, *s))
				return -1;
			s++;
		}
	}
	return 0;
}

static void set_milvus_message(struct mv_error *err, const char *msg, const char *const *secrets,
                               size_t nsecrets)
{
	struct buf b = BUF_INIT(MV_MAX_RESPONSE);

	if (!msg || !*msg) {
		snprintf(err->message, sizeof(err->message), "milvus error code %d", err->code);
		return;
	}
	if (nsecrets && redact(&b, msg, secrets, nsecrets) == 0) {
		copy_printable(err->message, sizeof(err->message), buf_str(&b));
	} else if (nsecrets) {
		/* out of memory: say nothing rather than risk a secret */
		snprintf(err->message, sizeof(err->message), "milvus error code %d", err->code);
	} else {
		copy_printable(err->message, sizeof(err->message), msg);
	}
	buf_free_secret(&b);
}

const char *mv_error_reason(const struct mv_error *err)
{
	if (!err || err->status == MV_OK)
		return "";
	if (err->status == MV_ERR_TRANSPORT)
		return "MilvusUnreachable";
	if (err->status == MV_ERR_MILVUS) {
		switch (err->code) {
		case MV_CODE_NOT_AUTHENTICATED:
		case MV_CODE_NEED_AUTHENTICATE:
			return "MilvusAuthenticationFailed";
		case MV_CODE_NOT_PERMITTED:
			return "MilvusPermissionDenied";
		case MV_CODE_INVALID_PARAMETER:
			return "MilvusInvalidParameter";
		}
	}
	return "MilvusError";
}

const char *mv_error_hint(const struct mv_error *err)
{
	if (!err || err->status == MV_OK)
		return "";
	switch (err->status) {
	case MV_ERR_TRANSPORT:
		return "check that the Milvus proxy is running and reachable and that its "
		       "certificate is signed by the cluster CA";
	case MV_ERR_NOMEM:
		return "the operator ran out of memory";
	case MV_ERR_INVALID:
		return "the request was not sent: an argument is empty, too long or not UTF-8";
	}
	switch (err->code) {
	case MV_CODE_NOT_AUTHENTICATED:
	case MV_CODE_NEED_AUTHENTICATE:
		return "Milvus refused the user name or password: the secret and the password "
		       "stored in Milvus differ";
	case MV_CODE_NOT_PERMITTED:
		return "the Milvus user lacks the privilege for this call";
	case MV_CODE_INVALID_PARAMETER:
		return "Milvus rejected a name or value in the request";
	}
	return "Milvus reported an error; see the message";
}

int mv_error_is_auth(const struct mv_error *err)
{
	return err && err->status == MV_ERR_MILVUS &&
	       (err->code == MV_CODE_NOT_AUTHENTICATED || err->code == MV_CODE_NEED_AUTHENTICATE);
}

/* ---- result sets --------------------------------------------------------------- */

void mv_names_free(struct mv_names *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

int mv_names_has(const struct mv_names *n, const char *s)
{
	if (!n || !s)
		return 0;
	for (size_t i = 0; i < n->n; i++)
		if (n->v[i] && strcmp(n->v[i], s) == 0)
			return 1;
	return 0;
}

static void grant_free(struct mv_grant *g)
{
	free(g->object_type);
	free(g->object_name);
	free(g->privilege);
	free(g->db_name);
	free(g->grantor);
}

void mv_grants_free(struct mv_grants *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		grant_free(&g->v[i]);
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

void mv_groups_free(struct mv_groups *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].name);
		mv_names_free(&g->v[i].privileges);
	}
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

/* Append a copy of s[0..len) to names (whose array has room). */
static int names_push(struct mv_names *names, const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return -1;
	memcpy(p, s, len);
	p[len] = '\0';
	names->v[names->n++] = p;
	return 0;
}

int mv_split_privileges(const char *s, struct mv_names *out)
{
	struct mv_names r = {NULL, 0};
	size_t commas = 0;
	const char *p;

	if (!s || !*s) {
		*out = r;
		return MV_OK;
	}
	for (p = s; *p; p++)
		commas += *p == ',';
	r.v = calloc(commas + 1, sizeof(*r.v));
	if (!r.v)
		return MV_ERR_NOMEM;
	p = s;
	for (;;) {
		const char *end = strchr(p, ',');
		const char *b = p, *e = end ? end : p + strlen(p);
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b && names_push(&r, b, (size_t)(e - b))) {
			mv_names_free(&r);
			return MV_ERR_NOMEM;
		}
		if (!end)
			break;
		p = end + 1;
	}
	*out = r;
	return MV_OK;
}

int mv_parse_names(yajl_val data, struct mv_names *out, struct mv_error *err)
{
	struct mv_names r = {NULL, 0};
	size_t n;

	err_reset(err);
	if (!data || data->type == yajl_t_null) {
		*out = r;
		return MV_OK;
	}
	if (data->type != yajl_t_array)
		return fail(err, MV_ERR_TRANSPORT, "unexpected data: expected a list of names");
	n = data->u.array.len;
	for (size_t i = 0; i < n; i++)
		if (!json_str(data->u.array.values[i]))
			return fail(err, MV_ERR_TRANSPORT,
			            "unexpected data: item %zu is not a string", i);
	if (n) {
		r.v = calloc(n, sizeof(*r.v));
		if (!r.v)
			return fail(err, MV_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = json_str(data->u.array.values[i]);
		if (names_push(&r, s, strlen(s))) {
			mv_names_free(&r);
			return fail(err, MV_ERR_NOMEM, "out of memory");
		}
	}
	*out = r;
	return MV_OK;
}

static char *dup_field(yajl_val obj, const char *key)
{
	const char *s = json_get_str(obj, key, NULL);
	return strdup(s ? s : "");
}

int mv_parse_grants(yajl_val data, struct mv_grants *out, struct mv_error *err)
{
	struct mv_grants r = {NULL, 0};
	size_t n;

	err_reset(err);
	if (!data || data->type == yajl_t_null) {
		*out = r;
		return MV_OK;
	}
	if (data->type != yajl_t_array)
		return fail(err, MV_ERR_TRANSPORT, "unexpected data: expected a list of grants");
	n = data->u.array.len;
	for (size_t i = 0; i < n; i++) {
		yajl_val g = data->u.array.values[i];
		if (!g || g->type != yajl_t_object)
			return fail(err, MV_ERR_TRANSPORT,
			            "unexpected data: grant %zu is not an object", i);
	}
	if (n) {
		r.v = calloc(n, sizeof(*r.v));
		if (!r.v)
			return fail(err, MV_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		yajl_val g = data->u.array.values[i];
		struct mv_grant *d = &r.v[r.n++];
		d->object_type = dup_field(g, "objectType");
		d->object_name = dup_field(g, "objectName");
		d->privilege = dup_field(g, "privilege");
		d->db_name = dup_field(g, "dbName");
		d->grantor = dup_field(g, "grantor");
		if (!d->object_type || !d->object_name || !d->privilege || !d->db_name ||
		    !d->grantor) {
			mv_grants_free(&r);
			return fail(err, MV_ERR_NOMEM, "out of memory");
		}
	}
	*out = r;
	return MV_OK;
}

int mv_parse_groups(yajl_val data, struct mv_groups *out, struct mv_error *err)
{
	struct mv_groups r = {NULL, 0};
	yajl_val list;
	size_t n;
	int rc;

	err_reset(err);
	if (!data || data->type == yajl_t_null) {
		*out = r;
		return MV_OK;
	}
	if (data->type != yajl_t_object)
		return fail(err, MV_ERR_TRANSPORT, "unexpected data: expected an object");
	list = json_get(data, "privilegeGroups", NULL);
	if (!list || list->type == yajl_t_null) {
		*out = r;
		return MV_OK;
	}
	if (list->type != yajl_t_array)
		return fail(err, MV_ERR_TRANSPORT,
		            "unexpected data: privilegeGroups is not a list");
	n = list->u.array.len;
	for (size_t i = 0; i < n; i++) {
		yajl_val g = list->u.array.values[i];
		yajl_val p = json_get(g, "privileges", NULL);
		if (!g || g->type != yajl_t_object || !json_get_str(g, "privilegeGroupName", NULL))
			return fail(err, MV_ERR_TRANSPORT,
			            "unexpected data: privilege group %zu has no name", i);
		if (p && p->type != yajl_t_string && p->type != yajl_t_array &&
		    p->type != yajl_t_null)
			return fail(err, MV_ERR_TRANSPORT,
			            "unexpected data: privileges of group %zu", i);
	}
	if (n) {
		r.v = calloc(n, sizeof(*r.v));
		if (!r.v)
			return fail(err, MV_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		yajl_val g = list->u.array.values[i];
		yajl_val p = json_get(g, "privileges", NULL);
		struct mv_group *d = &r.v[r.n++];

		d->name = strdup(json_get_str(g, "privilegeGroupName", NULL));
		if (!d->name) {
			rc = fail(err, MV_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (p && p->type == yajl_t_array)
			rc = mv_parse_names(p, &d->privileges, err);
		else
			rc = mv_split_privileges(json_str(p), &d->privileges);
		if (rc) {
			if (rc == MV_ERR_NOMEM)
				fail(err, MV_ERR_NOMEM, "out of memory");
			else
				fail(err, rc, "unexpected data: privileges of group %zu", i);
			goto out;
		}
	}
	*out = r;
	return MV_OK;
out:
	mv_groups_free(&r);
	return rc;
}

void mv_database_free(struct mv_database *d)
{
	if (!d)
		return;
	free(d->name);
	for (size_t i = 0; i < d->nprops; i++) {
		free(d->props[i].key);
		free(d->props[i].value);
	}
	free(d->props);
	memset(d, 0, sizeof(*d));
}

const char *mv_database_property(const struct mv_database *d, const char *key)
{
	if (!d || !key)
		return NULL;
	for (size_t i = 0; i < d->nprops; i++)
		if (d->props[i].key && strcmp(d->props[i].key, key) == 0)
			return d->props[i].value;
	return NULL;
}

/* A string member of obj: absent or null is "" (protobuf's omitempty), another
 * type is an error (-1). */
static int opt_str(yajl_val obj, const char *key, const char **out)
{
	yajl_val v = json_get(obj, key, NULL);

	if (!v || v->type == yajl_t_null) {
		*out = "";
		return 0;
	}
	if (v->type != yajl_t_string)
		return -1;
	*out = v->u.string;
	return 0;
}

/* dbID: an integer, or a string of digits (protojson writes int64 so) */
static int parse_id(yajl_val v, long long *out)
{
	if (!v || v->type == yajl_t_null) {
		*out = 0;
		return 0;
	}
	if (v->type == yajl_t_number && (v->u.number.flags & YAJL_NUMBER_INT_VALID)) {
		*out = v->u.number.i;
		return 0;
	}
	if (v->type == yajl_t_string) {
		const char *s = v->u.string;
		long long n = 0;
		if (!*s || strlen(s) > 19)
			return -1;
		for (; *s; s++) {
			if (*s < '0' || *s > '9' || n > (LLONG_MAX - (*s - '0')) / 10)
				return -1;
			n = n * 10 + (*s - '0');
		}
		*out = n;
		return 0;
	}
	return -1;
}

int mv_parse_database(yajl_val data, struct mv_database *out, struct mv_error *err)
{
	struct mv_database r;
	yajl_val props;
	const char *name;
	size_t n = 0;

	err_reset(err);
	memset(&r, 0, sizeof(r));
	if (!data || data->type != yajl_t_object)
		return fail(err, MV_ERR_TRANSPORT, "unexpected data: expected a database object");
	if (opt_str(data, "dbName", &name))
		return fail(err, MV_ERR_TRANSPORT, "unexpected data: dbName is not a string");
	if (parse_id(json_get(data, "dbID", NULL), &r.id))
		return fail(err, MV_ERR_TRANSPORT, "unexpected data: dbID is not an integer");
	props = json_get(data, "properties", NULL);
	if (props && props->type != yajl_t_null) {
		if (props->type != yajl_t_array)
			return fail(err, MV_ERR_TRANSPORT,
			            "unexpected data: properties is not a list");
		n = props->u.array.len;
		for (size_t i = 0; i < n; i++) {
			yajl_val kv = props->u.array.values[i];
			const char *k, *v;
			if (!kv || kv->type != yajl_t_object || opt_str(kv, "key", &k) ||
			    opt_str(kv, "value", &v))
				return fail(
				    err, MV_ERR_TRANSPORT,
				    "unexpected data: property %zu is not {key, value} strings", i);
		}
	}
	r.name = strdup(name);
	if (!r.name)
		goto nomem;
	if (n) {
		r.props = calloc(n, sizeof(*r.props));
		if (!r.props)
			goto nomem;
	}
	for (size_t i = 0; i < n; i++) {
		yajl_val kv = props->u.array.values[i];
		const char *k = "", *v = "";
		opt_str(kv, "key", &k);
		opt_str(kv, "value", &v);
		r.props[i].key = strdup(k);
		r.props[i].value = strdup(v);
		r.nprops++;
		if (!r.props[i].key || !r.props[i].value)
			goto nomem;
	}
	*out = r;
	return MV_OK;
nomem:
	mv_database_free(&r);
	return fail(err, MV_ERR_NOMEM, "out of memory");
}

/* ---- request bodies -------------------------------------------------------------- */

enum field {
	F_END = 0,
	F_USER,
	F_PASSWORD,
	F_NEW_PASSWORD,
	F_ROLE,
	F_DB,
	F_COLLECTION,
	F_PRIVILEGE,
	F_GROUP,
	F_PRIVILEGES,
	F_PROPERTIES, /* optional: left out when there are none */
};

struct opdef {
	const char *path;
	unsigned char fields[5]; /* in body order, F_END-terminated */
	int secret;              /* the body carries a password */
	int db_optional;         /* dbName may be NULL: left out */
};

static const struct opdef ops[MV_OP_COUNT_] = {
    [MV_OP_USER_LIST] = {"users/list", {F_END}, 0, 0},
    [MV_OP_USER_DESCRIBE] = {"users/describe", {F_USER}, 0, 0},
    [MV_OP_USER_CREATE] = {"users/create", {F_USER, F_PASSWORD}, 1, 0},
    [MV_OP_USER_UPDATE_PASSWORD] = {"users/update_password",
                                    {F_USER, F_PASSWORD, F_NEW_PASSWORD},
                                    1,
                                    0},
    [MV_OP_USER_DROP] = {"users/drop", {F_USER}, 0, 0},
    [MV_OP_USER_GRANT_ROLE] = {"users/grant_role", {F_USER, F_ROLE}, 0, 0},
    [MV_OP_USER_REVOKE_ROLE] = {"users/revoke_role", {F_USER, F_ROLE}, 0, 0},
    [MV_OP_ROLE_LIST] = {"roles/list", {F_END}, 0, 0},
    [MV_OP_ROLE_CREATE] = {"roles/create", {F_ROLE}, 0, 0},
    [MV_OP_ROLE_DROP] = {"roles/drop", {F_ROLE}, 0, 0},
    [MV_OP_ROLE_DESCRIBE] = {"roles/describe", {F_ROLE, F_DB}, 0, 1},
    [MV_OP_ROLE_GRANT_PRIVILEGE_V2] = {"roles/grant_privilege_v2",
                                       {F_ROLE, F_PRIVILEGE, F_DB, F_COLLECTION},
                                       0,
                                       0},
    [MV_OP_ROLE_REVOKE_PRIVILEGE_V2] = {"roles/revoke_privilege_v2",
                                        {F_ROLE, F_PRIVILEGE, F_DB, F_COLLECTION},
                                        0,
                                        0},
    [MV_OP_PRIVILEGE_GROUP_LIST] = {"privilege_groups/list", {F_END}, 0, 0},
    [MV_OP_PRIVILEGE_GROUP_CREATE] = {"privilege_groups/create", {F_GROUP}, 0, 0},
    [MV_OP_PRIVILEGE_GROUP_DROP] = {"privilege_groups/drop", {F_GROUP}, 0, 0},
    [MV_OP_PRIVILEGE_GROUP_ADD] = {"privilege_groups/add_privileges_to_group",
                                   {F_GROUP, F_PRIVILEGES},
                                   0,
                                   0},
    [MV_OP_PRIVILEGE_GROUP_REMOVE] = {"privilege_groups/remove_privileges_from_group",
                                      {F_GROUP, F_PRIVILEGES},
                                      0,
                                      0},
    [MV_OP_DATABASE_LIST] = {"databases/list", {F_END}, 0, 0},
    [MV_OP_DATABASE_DESCRIBE] = {"databases/describe", {F_DB}, 0, 0},
    [MV_OP_DATABASE_CREATE] = {"databases/create", {F_DB, F_PROPERTIES}, 0, 0},
};

const char *mv_op_path(enum mv_op op)
{
	return (unsigned)op < MV_OP_COUNT_ ? ops[op].path : NULL;
}

int mv_op_has_secret(enum mv_op op)
{
	return (unsigned)op < MV_OP_COUNT_ ? ops[op].secret : 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned char c = *s;
		size_t n;
		unsigned long cp;

		if (c < 0x80) {
			s++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07u;
		} else {
			return 0;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		s += n + 1;
	}
	return 1;
}

static int arg_ok(const char *s, int may_be_empty)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	return (n || may_be_empty) && n <= MV_MAX_ARG && utf8_ok(s);
}

static const char *field_key(enum field f)
{
	switch (f) {
	case F_USER:
		return "userName";
	case F_PASSWORD:
		return "password";
	case F_NEW_PASSWORD:
		return "newPassword";
	case F_ROLE:
		return "roleName";
	case F_DB:
		return "dbName";
	case F_COLLECTION:
		return "collectionName";
	case F_PRIVILEGE:
		return "privilege";
	case F_GROUP:
		return "privilegeGroupName";
	case F_PRIVILEGES:
		return "privileges";
	case F_PROPERTIES:
		return "properties";
	case F_END:
		break;
	}
	return NULL;
}

static const char *field_val(enum field f, const struct mv_args *a)
{
	switch (f) {
	case F_USER:
		return a->user;
	case F_PASSWORD:
		return a->password;
	case F_NEW_PASSWORD:
		return a->new_password;
	case F_ROLE:
		return a->role;
	case F_DB:
		return a->db;
	case F_COLLECTION:
		return a->collection;
	case F_PRIVILEGE:
		return a->privilege;
	case F_GROUP:
		return a->group;
	case F_PRIVILEGES:
	case F_PROPERTIES:
	case F_END:
		break;
	}
	return NULL;
}

/* properties: 0..MV_MAX_PROPERTIES pairs, keys non-empty and distinct,
 * values possibly empty */
static int properties_ok(const struct mv_args *a)
{
	if (a->n_properties == 0)
		return 1;
	if (a->n_properties > MV_MAX_PROPERTIES || !a->prop_keys || !a->prop_values)
		return 0;
	for (size_t i = 0; i < a->n_properties; i++) {
		if (!arg_ok(a->prop_keys[i], 0) || !arg_ok(a->prop_values[i], 1))
			return 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->prop_keys[i], a->prop_keys[j]) == 0)
				return 0;
	}
	return 1;
}

static int args_ok(const struct opdef *d, const struct mv_args *a)
{
	for (const unsigned char *f = d->fields; *f != F_END; f++) {
		if (*f == F_PRIVILEGES) {
			if (!a->privileges || a->n_privileges == 0 ||
			    a->n_privileges > MV_MAX_PRIVILEGES)
				return 0;
			for (size_t i = 0; i < a->n_privileges; i++)
				if (!arg_ok(a->privileges[i], 0))
					return 0;
		} else if (*f == F_PROPERTIES) {
			if (!properties_ok(a))
				return 0;
		} else if (*f == F_DB && d->db_optional && !a->db) {
			continue;
		} else if (!arg_ok(field_val((enum field) * f, a),
		                   *f == F_PASSWORD || *f == F_NEW_PASSWORD)) {
			return 0;
		}
	}
	return 1;
}

/*
 * yajl_gen allocations that wipe themselves: the generator's buffer holds the
 * body, password included, and yajl would free (and realloc away from) it
 * unwiped. Each block carries its size in a header so free can wipe it all.
 */
#define WIPE_HDR sizeof(max_align_t)

static void *wipe_malloc(void *ctx, size_t n)
{
	unsigned char *p;

	(void)ctx;
	if (n > SIZE_MAX - WIPE_HDR)
		return NULL;
	p = malloc(WIPE_HDR + n);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + WIPE_HDR;
}

static void wipe_free(void *ctx, void *ptr)
{
	unsigned char *p;
	size_t n;

	(void)ctx;
	if (!ptr)
		return;
	p = (unsigned char *)ptr - WIPE_HDR;
	memcpy(&n, p, sizeof(n));
	OPENSSL_cleanse(p, WIPE_HDR + n);
	free(p);
}

static void *wipe_realloc(void *ctx, void *ptr, size_t n)
{
	unsigned char *q;
	size_t old;

	if (!ptr)
		return wipe_malloc(ctx, n);
	q = wipe_malloc(ctx, n);
	if (!q)
		return NULL;
	memcpy(&old, (unsigned char *)ptr - WIPE_HDR, sizeof(old));
	memcpy(q, ptr, old < n ? old : n);
	wipe_free(ctx, ptr);
	return q;
}

static yajl_alloc_funcs wipe_funcs = {wipe_malloc, wipe_realloc, wipe_free, NULL};

int mv_build_body(enum mv_op op, const struct mv_args *a, char **out)
{
	const struct opdef *d;
	yajl_gen g;
	char *s;

	if ((unsigned)op >= MV_OP_COUNT_ || !a || !out)
		return MV_ERR_INVALID;
	d = &ops[op];
	if (!args_ok(d, a))
		return MV_ERR_INVALID;
	g = yajl_gen_alloc(&wipe_funcs);
	if (!g)
		return MV_ERR_NOMEM;
	jo(g);
	for (const unsigned char *f = d->fields; *f != F_END; f++) {
		if (*f == F_PRIVILEGES) {
			jka(g, field_key(F_PRIVILEGES));
			for (size_t i = 0; i < a->n_privileges; i++)
				js(g, a->privileges[i]);
			jac(g);
		} else if (*f == F_PROPERTIES) {
			if (!a->n_properties)
				continue;
			jko(g, field_key(F_PROPERTIES));
			for (size_t i = 0; i < a->n_properties; i++)
				jkv(g, a->prop_keys[i], a->prop_values[i]);
			jc(g);
		} else if (*f != F_DB || a->db) {
			jkv(g, field_key((enum field) * f), field_val((enum field) * f, a));
		}
	}
	jc(g);
	s = jgen_finish(g); /* frees g through wipe_free */
	if (!s)
		return MV_ERR_NOMEM;
	*out = s;
	return MV_OK;
}

static void body_free(char *s, int secret)
{
	if (s && secret)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* ---- responses -------------------------------------------------------------------- */

/* mv_parse_response with the request's secrets, to redact from Milvus' text. */
static int parse_envelope(const char *body, size_t len, yajl_val *data_out,
                          const char *const *secrets, size_t nsecrets, struct mv_error *err)
{
	char jerr[128];
	yajl_val v = NULL, code;
	long long c;
	int rc;

	if (len > MV_MAX_RESPONSE)
		return fail(err, MV_ERR_TRANSPORT, "response larger than %u bytes",
		            MV_MAX_RESPONSE);
	if (!body && len)
		return fail(err, MV_ERR_INVALID, "no body");
	rc = json_parse(body ? body : "", len, MV_MAX_DEPTH, MV_MAX_RESPONSE, &v, jerr,
	                sizeof(jerr));
	if (rc == JSON_ENOMEM)
		return fail(err, MV_ERR_NOMEM, "out of memory");
	if (rc != JSON_OK)
		return fail(err, MV_ERR_TRANSPORT, "garbled response: %s", jerr);
	if (v->type != yajl_t_object) {
		rc = fail(err, MV_ERR_TRANSPORT, "garbled response: not a json object");
		goto out;
	}
	code = json_get(v, "code", NULL);
	if (!code || code->type != yajl_t_number ||
	    !(code->u.number.flags & YAJL_NUMBER_INT_VALID) || code->u.number.i < INT_MIN ||
	    code->u.number.i > INT_MAX) {
		rc = fail(err, MV_ERR_TRANSPORT, "garbled response: no integer code");
		goto out;
	}
	c = code->u.number.i;
	if (c != 0 && c != 200) {
		if (err) {
			err->status = MV_ERR_MILVUS;
			err->code = (int)c;
			set_milvus_message(err, json_get_str(v, "message", NULL), secrets,
			                   nsecrets);
		}
		rc = MV_ERR_MILVUS;
		goto out;
	}
	if (data_out) {
		yajl_val data = NULL;
		for (size_t i = 0; i < v->u.object.len; i++) {
			if (strcmp(v->u.object.keys[i], "data") == 0) {
				data = v->u.object.values[i];
				v->u.object.values[i] = NULL; /* detached: yajl skips NULL */
				break;
			}
		}
		*data_out = data;
	}
	rc = MV_OK;
out:
	yajl_tree_free(v);
	return rc;
}

int mv_parse_response(const char *body, size_t len, yajl_val *data_out, struct mv_error *err)
{
	err_reset(err);
	return parse_envelope(body, len, data_out, NULL, 0, err);
}

/* ---- the client ---------------------------------------------------------------------- */

static int curl_global_ok;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

unsigned long mv_requests_total(void)
{
	return atomic_load_explicit(&g_requests, memory_order_relaxed);
}

static size_t write_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (buf_add(&s->b, p, n)) {
		s->overflow = 1;
		return 0; /* CURLE_WRITE_ERROR ends the transfer */
	}
	return n;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 1;
	return 0;
}

static int creds_ok(const char *user, const char *password)
{
	if (!user)
		return 1;
	if (!*user || strlen(user) > MV_MAX_ARG || strchr(user, ':') || has_ctl(user) ||
	    !utf8_ok(user))
		return 0;
	return !password || (strlen(password) <= MV_MAX_ARG && !has_ctl(password));
}

static char *secret_dup(const char *s)
{
	return strdup(s ? s : "");
}

static void secret_free(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* "host:port" with a port of 1..5 digits, no blanks or control characters. */
static int connect_to_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t digits;

	if (!colon || colon == s || has_ctl(s) || strchr(s, ' '))
		return 0;
	digits = strspn(colon + 1, "0123456789");
	return digits >= 1 && digits <= 5 && colon[1 + digits] == '\0';
}

/* Check base_url and return the length to keep (trailing slashes dropped);
 * 0 when it is unusable. */
static size_t base_url_len(const char *u, int *https)
{
	size_t n, host_start, i;

	if (strncasecmp(u, "https://", 8) == 0) {
		*https = 1;
		host_start = 8;
	} else if (strncasecmp(u, "http://", 7) == 0) {
		*https = 0;
		host_start = 7;
	} else {
		return 0;
	}
	n = strlen(u);
	if (n > 2048 || has_ctl(u) || strpbrk(u, " ?#"))
		return 0;
	/* the authority: a host, no user info */
	for (i = host_start; i < n && u[i] != '/'; i++)
		if (u[i] == '@')
			return 0;
	if (i == host_start || u[host_start] == ':')
		return 0;
	while (n > host_start && u[n - 1] == '/')
		n--;
	return n;
}

static char *mem_dup(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n + 1);
		*len = n;
	}
	return p;
}

void mv_client_free(struct mv_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl); /* before the blobs it points to go */
	curl_slist_free_all(c->connect_to);
	free(c->url_prefix);
	free(c->ca);
	free(c->cert);
	if (c->key) {
		OPENSSL_cleanse(c->key, c->key_len);
		free(c->key);
	}
	free(c->user);
	secret_free(c->password);
	buf_free(&c->sink.b);
	free(c);
}

int mv_client_set_credentials(struct mv_client *c, const char *user, const char *password)
{
	char *u = NULL, *p = NULL;

	if (!c || !creds_ok(user, password))
		return MV_ERR_INVALID;
	if (user) {
		u = strdup(user);
		p = secret_dup(password);
		if (!u || !p) {
			free(u);
			secret_free(p);
			return MV_ERR_NOMEM;
		}
	}
	free(c->user);
	secret_free(c->password);
	c->user = u;
	c->password = p;
	return MV_OK;
}

/* The options that stay for the client's life. 0, or -1 when libcurl refuses one. */
static int setup_handle(struct mv_client *c)
{
	CURL *h = c->curl;
	const char *proto = c->https ? "https" : "http";
	const long http11 = CURL_HTTP_VERSION_1_1, tls12 = CURL_SSLVERSION_TLSv1_2;
	int ok = 1;

	/* only the scheme of base_url, and no redirects to leave it */
	ok = ok && curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, proto) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_HTTP_VERSION, http11) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_USERAGENT, "vecward/" VECWARD_VERSION) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->sink) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) == CURLE_OK;
	if (c->connect_to)
		ok = ok && curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to) == CURLE_OK;
	if (!c->https)
		return ok ? 0 : -1;
	ok = ok && curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_SSLVERSION, tls12) == CURLE_OK;
	/* trust ca_pem alone: no default bundle file or directory */
	ok = ok && curl_easy_setopt(h, CURLOPT_CAINFO, NULL) == CURLE_OK;
	ok = ok && curl_easy_setopt(h, CURLOPT_CAPATH, NULL) == CURLE_OK;
	if (ok) {
		struct curl_blob blob = {c->ca, c->ca_len, CURL_BLOB_NOCOPY};
		ok = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob) == CURLE_OK;
	}
	if (ok && c->cert) {
		struct curl_blob cb = {c->cert, c->cert_len, CURL_BLOB_NOCOPY};
		struct curl_blob kb = {c->key, c->key_len, CURL_BLOB_NOCOPY};
		ok = curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK &&
		     curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb) == CURLE_OK &&
		     curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK &&
		     curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb) == CURLE_OK;
	}
	return ok ? 0 : -1;
}

int mv_client_new(const struct mv_config *cfg, struct mv_client **out, struct mv_error *err)
{
	struct mv_client *c = NULL;
	struct buf b = BUF_INIT(4096);
	size_t blen;
	int https = 0, rc;

	err_reset(err);
	if (!cfg || !out || !cfg->base_url)
		return fail(err, MV_ERR_INVALID, "milvus client: no base url");
	blen = base_url_len(cfg->base_url, &https);
	if (!blen)
		return fail(err, MV_ERR_INVALID,
		            "milvus client: base url must be http(s)://host[:port][/path] "
		            "without user info, query or fragment");
	if (https && (!cfg->ca_pem || !*cfg->ca_pem))
		return fail(err, MV_ERR_INVALID, "milvus client: https needs a ca bundle");
	if (!cfg->cert_pem != !cfg->key_pem ||
	    (cfg->cert_pem && (!*cfg->cert_pem || !*cfg->key_pem)))
		return fail(err, MV_ERR_INVALID,
		            "milvus client: a client certificate needs its key and vice versa");
	if (cfg->connect_to && !connect_to_ok(cfg->connect_to))
		return fail(err, MV_ERR_INVALID, "milvus client: connect_to must be HOST:PORT");
	if (cfg->timeout_ms < 0)
		return fail(err, MV_ERR_INVALID, "milvus client: negative timeout");
	if (!creds_ok(cfg->user, cfg->password))
		return fail(err, MV_ERR_INVALID,
		            "milvus client: user name empty or with ':' or control characters, "
		            "or password with control characters");
	pthread_once(&curl_once, curl_init_once);
	if (!curl_global_ok)
		return fail(err, MV_ERR_TRANSPORT, "milvus client: libcurl failed to initialise");

	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(err, MV_ERR_NOMEM, "milvus client: out of memory");
	buf_init(&c->sink.b, MV_MAX_RESPONSE);
	c->https = https;
	c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : MV_DEFAULT_TIMEOUT_MS;
	if (buf_add(&b, cfg->base_url, blen) || buf_adds(&b, API_PREFIX))
		goto nomem;
	c->url_prefix = buf_take(&b);
	if (!c->url_prefix)
		goto nomem;
	if (https && !(c->ca = mem_dup(cfg->ca_pem, &c->ca_len)))
		goto nomem;
	if (https && cfg->cert_pem) {
		c->cert = mem_dup(cfg->cert_pem, &c->cert_len);
		c->key = mem_dup(cfg->key_pem, &c->key_len);
		if (!c->cert || !c->key)
			goto nomem;
	}
	if (cfg->connect_to) {
		if (buf_adds(&b, "::") || buf_adds(&b, cfg->connect_to))
			goto nomem;
		c->connect_to = curl_slist_append(NULL, buf_str(&b));
		buf_free(&b);
		if (!c->connect_to)
			goto nomem;
	}
	if (mv_client_set_credentials(c, cfg->user, cfg->password))
		goto nomem; /* checked above: only memory can fail */
	c->curl = curl_easy_init();
	if (!c->curl)
		goto nomem;
	if (setup_handle(c)) {
		rc = fail(err, MV_ERR_TRANSPORT,
		          "milvus client: libcurl lacks a required feature (tls blobs, "
		          "protocols_str or connect_to)");
		goto out;
	}
	*out = c;
	return MV_OK;
nomem:
	rc = fail(err, MV_ERR_NOMEM, "milvus client: out of memory");
out:
	buf_free(&b);
	mv_client_free(c);
	return rc;
}

static void free_headers(struct curl_slist *hdrs)
{
	for (struct curl_slist *p = hdrs; p; p = p->next)
		if (p->data && strncmp(p->data, "Authorization:", 14) == 0)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(hdrs);
}

static struct curl_slist *add_header(struct curl_slist *list, const char *h, int *ok)
{
	struct curl_slist *n;

	if (!*ok)
		return list;
	n = curl_slist_append(list, h);
	if (!n) {
		*ok = 0;
		return list;
	}
	return n;
}

/*
 * One request: build the body, POST it, read the answer. On MV_OK *data_out
 * (may be NULL) gets the answer's data (caller frees). err is filled either
 * way, its message prefixed with the op's path.
 */
static int call(struct mv_client *c, enum mv_op op, const struct mv_args *a, yajl_val *data_out,
                struct mv_error *err)
{
	const char *path = mv_op_path(op);
	const char *secrets[3];
	struct curl_slist *hdrs = NULL;
	struct buf url = BUF_INIT(8192), auth = BUF_INIT(2 * MV_MAX_ARG + 64);
	char *body = NULL;
	struct mv_error local;
	long http = 0;
	CURLcode cc;
	int rc, ok = 1;

	if (!err)
		err = &local;
	err_reset(err);
	if (!c || !path)
		return fail(err, MV_ERR_INVALID, "%s: no client", path ? path : "?");
	rc = mv_build_body(op, a, &body);
	if (rc) {
		fail(err, rc, "%s",
		     rc == MV_ERR_NOMEM ? "out of memory"
		                        : "invalid argument: a name is empty, "
		                          "too long or not utf-8");
		goto out;
	}
	if (buf_adds(&url, c->url_prefix) || buf_adds(&url, path)) {
		rc = fail(err, MV_ERR_NOMEM, "out of memory");
		goto out;
	}
	hdrs = add_header(hdrs, "Content-Type: application/json", &ok);
	hdrs = add_header(hdrs, "Accept: application/json", &ok);
	hdrs = add_header(hdrs, "Expect:", &ok); /* no 100-continue round trip */
	if (c->user) {
		if (buf_adds(&auth, "Authorization: Bearer ") || buf_adds(&auth, c->user) ||
		    buf_addc(&auth, ':') || buf_adds(&auth, c->password))
			ok = 0;
		else
			hdrs = add_header(hdrs, auth.ptr, &ok);
		buf_free_secret(&auth);
	}
	if (!ok) {
		rc = fail(err, MV_ERR_NOMEM, "out of memory");
		goto out;
	}
	buf_init(&c->sink.b, MV_MAX_RESPONSE);
	c->sink.overflow = 0;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url.ptr);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	atomic_fetch_add_explicit(&g_requests, 1, memory_order_relaxed);
	cc = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	if (cc != CURLE_OK) {
		if (c->sink.overflow)
			rc = fail(err, MV_ERR_TRANSPORT, "response larger than %u bytes",
			          MV_MAX_RESPONSE);
		else
			rc = fail(err, MV_ERR_TRANSPORT, "%s",
			          c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &http);
	secrets[0] = c->password;
	secrets[1] = a->password;
	secrets[2] = a->new_password;
	rc = parse_envelope(c->sink.b.ptr, c->sink.b.len, http == 200 ? data_out : NULL, secrets, 3,
	                    err);
	if (http != 200 && rc != MV_ERR_MILVUS && rc != MV_ERR_NOMEM) {
		/* not a Milvus answer (a proxy page, a 404 from a wrong path) */
		err_reset(err);
		rc = fail(err, MV_ERR_TRANSPORT, "http status %ld", http);
	}
	err->http_status = http;
out:
	if (rc != MV_OK)
		err_prefix(err, path);
	free_headers(hdrs);
	body_free(body, mv_op_has_secret(op));
	buf_free(&url);
	buf_free_secret(&auth);
	buf_free(&c->sink.b);
	return rc;
}

/* call() when the answer carries nothing the caller needs. */
static int call0(struct mv_client *c, enum mv_op op, const struct mv_args *a, struct mv_error *err)
{
	return call(c, op, a, NULL, err);
}

typedef int (*decode_fn)(yajl_val data, void *out, struct mv_error *err);

static int dec_names(yajl_val d, void *out, struct mv_error *err)
{
	return mv_parse_names(d, out, err);
}

static int dec_grants(yajl_val d, void *out, struct mv_error *err)
{
	return mv_parse_grants(d, out, err);
}

static int dec_groups(yajl_val d, void *out, struct mv_error *err)
{
	return mv_parse_groups(d, out, err);
}

static int dec_database(yajl_val d, void *out, struct mv_error *err)
{
	return mv_parse_database(d, out, err);
}

/* call() and decode its data into out. */
static int call_decode(struct mv_client *c, enum mv_op op, const struct mv_args *a, decode_fn dec,
                       void *out, struct mv_error *err)
{
	struct mv_error local;
	yajl_val data = NULL;
	long http;
	int rc;

	if (!err)
		err = &local;
	if (!out) {
		err_reset(err);
		return fail(err, MV_ERR_INVALID, "%s: no result to fill", mv_op_path(op));
	}
	rc = call(c, op, a, &data, err);
	if (rc)
		return rc;
	http = err->http_status;
	rc = dec(data, out, err);
	yajl_tree_free(data);
	err->http_status = http;
	if (rc)
		err_prefix(err, mv_op_path(op));
	return rc;
}

int mv_user_list(struct mv_client *c, struct mv_names *out, struct mv_error *err)
{
	struct mv_args a = {0};
	return call_decode(c, MV_OP_USER_LIST, &a, dec_names, out, err);
}

int mv_user_describe(struct mv_client *c, const char *user, struct mv_names *roles,
                     struct mv_error *err)
{
	struct mv_args a = {.user = user};
	return call_decode(c, MV_OP_USER_DESCRIBE, &a, dec_names, roles, err);
}

int mv_user_create(struct mv_client *c, const char *user, const char *password,
                   struct mv_error *err)
{
	struct mv_args a = {.user = user, .password = password};
	return call0(c, MV_OP_USER_CREATE, &a, err);
}

int mv_user_update_password(struct mv_client *c, const char *user, const char *old_pw,
                            const char *new_pw, struct mv_error *err)
{
	struct mv_args a = {.user = user, .password = old_pw, .new_password = new_pw};
	return call0(c, MV_OP_USER_UPDATE_PASSWORD, &a, err);
}

int mv_user_drop(struct mv_client *c, const char *user, struct mv_error *err)
{
	struct mv_args a = {.user = user};
	return call0(c, MV_OP_USER_DROP, &a, err);
}

int mv_user_grant_role(struct mv_client *c, const char *user, const char *role,
                       struct mv_error *err)
{
	struct mv_args a = {.user = user, .role = role};
	return call0(c, MV_OP_USER_GRANT_ROLE, &a, err);
}

int mv_user_revoke_role(struct mv_client *c, const char *user, const char *role,
                        struct mv_error *err)
{
	struct mv_args a = {.user = user, .role = role};
	return call0(c, MV_OP_USER_REVOKE_ROLE, &a, err);
}

int mv_role_list(struct mv_client *c, struct mv_names *out, struct mv_error *err)
{
	struct mv_args a = {0};
	return call_decode(c, MV_OP_ROLE_LIST, &a, dec_names, out, err);
}

int mv_role_create(struct mv_client *c, const char *role, struct mv_error *err)
{
	struct mv_args a = {.role = role};
	return call0(c, MV_OP_ROLE_CREATE, &a, err);
}

int mv_role_drop(struct mv_client *c, const char *role, struct mv_error *err)
{
	struct mv_args a = {.role = role};
	return call0(c, MV_OP_ROLE_DROP, &a, err);
}

int mv_role_describe(struct mv_client *c, const char *role, const char *db, struct mv_grants *out,
                     struct mv_error *err)
{
	struct mv_args a = {.role = role, .db = db};
	return call_decode(c, MV_OP_ROLE_DESCRIBE, &a, dec_grants, out, err);
}

int mv_role_grant_privilege_v2(struct mv_client *c, const char *role, const char *privilege,
                               const char *db, const char *collection, struct mv_error *err)
{
	struct mv_args a = {
	    .role = role, .privilege = privilege, .db = db, .collection = collection};
	return call0(c, MV_OP_ROLE_GRANT_PRIVILEGE_V2, &a, err);
}

int mv_role_revoke_privilege_v2(struct mv_client *c, const char *role, const char *privilege,
                                const char *db, const char *collection, struct mv_error *err)
{
	struct mv_args a = {
	    .role = role, .privilege = privilege, .db = db, .collection = collection};
	return call0(c, MV_OP_ROLE_REVOKE_PRIVILEGE_V2, &a, err);
}

int mv_privilege_group_list(struct mv_client *c, struct mv_groups *out, struct mv_error *err)
{
	struct mv_args a = {0};
	return call_decode(c, MV_OP_PRIVILEGE_GROUP_LIST, &a, dec_groups, out, err);
}

int mv_privilege_group_create(struct mv_client *c, const char *name, struct mv_error *err)
{
	struct mv_args a = {.group = name};
	return call0(c, MV_OP_PRIVILEGE_GROUP_CREATE, &a, err);
}

int mv_privilege_group_drop(struct mv_client *c, const char *name, struct mv_error *err)
{
	struct mv_args a = {.group = name};
	return call0(c, MV_OP_PRIVILEGE_GROUP_DROP, &a, err);
}

int mv_privilege_group_add(struct mv_client *c, const char *name, const char *const *privileges,
                           size_t n, struct mv_error *err)
{
	struct mv_args a = {.group = name, .privileges = privileges, .n_privileges = n};
	return call0(c, MV_OP_PRIVILEGE_GROUP_ADD, &a, err);
}

int mv_privilege_group_remove(struct mv_client *c, const char *name, const char *const *privileges,
                              size_t n, struct mv_error *err)
{
	struct mv_args a = {.group = name, .privileges = privileges, .n_privileges = n};
	return call0(c, MV_OP_PRIVILEGE_GROUP_REMOVE, &a, err);
}

int mv_database_list(struct mv_client *c, struct mv_names *out, struct mv_error *err)
{
	struct mv_args a = {0};
	return call_decode(c, MV_OP_DATABASE_LIST, &a, dec_names, out, err);
}

int mv_database_describe(struct mv_client *c, const char *db, struct mv_database *out,
                         struct mv_error *err)
{
	struct mv_args a = {.db = db};
	return call_decode(c, MV_OP_DATABASE_DESCRIBE, &a, dec_database, out, err);
}

int mv_database_create(struct mv_client *c, const char *db, const char *const *keys,
                       const char *const *values, size_t n, struct mv_error *err)
{
	struct mv_args a = {.db = db, .prop_keys = keys, .prop_values = values, .n_properties = n};
	return call0(c, MV_OP_DATABASE_CREATE, &a, err);
}

int mv_authenticate(struct mv_client *c, struct mv_error *err)
{
	struct mv_error local;
	struct mv_args a = {0};
	long http;
	int rc;

	if (!err)
		err = &local;
	if (!c || !c->user) {
		err_reset(err);
		return fail(err, MV_ERR_INVALID, "users/describe: the client has no user");
	}
	a.user = c->user;
	rc = call0(c, MV_OP_USER_DESCRIBE, &a, err);
	if (rc == MV_ERR_MILVUS && err->code == MV_CODE_NOT_PERMITTED) {
		/* refused for lack of a privilege: the credentials were accepted */
		http = err->http_status;
		err_reset(err);
		err->http_status = http;
		rc = MV_OK;
	}
	return rc;
}
