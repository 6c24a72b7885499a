/*
 * milvusd: a TEST DOUBLE of the documented Milvus REST API v2 contract for users, roles,
 * privilege groups and databases. It is NOT Milvus: it has no collections, no data and no
 * cluster, and it encrypts nothing.
 * It follows Milvus's own validation rules, error codes and authorization model (read from
 * the Milvus sources: proxy/httpserver handler_v2.go and request_v2.go, proxy/util.go,
 * proxy/impl.go, proxy/privilege_interceptor.go, rootcoord/meta_table.go and
 * root_coord.go, pkg/util/merr, pkg/util/constant.go; for databases handler_v2.go's
 * createDatabase/describeDatabase/listDatabases, rootcoord's CheckIfDatabaseCreatable and
 * internal/util/hookutil/cipher.go's TidyDBCipherProperties). The end-to-end tests use it
 * because Milvus cannot run here; see tests/milvusd/README.md for what it covers.
 *
 *   milvusd --cert FILE --key FILE [--listen 127.0.0.1:PORT] [--port-file FILE]
 *           [--client-ca FILE] [--root-password-file FILE] [--super-users a,b]
 *           [--max-users N] [--max-roles N] [--max-databases N] [--state-file FILE]
 *           [--log-file FILE] [--cipher-plugin [--cipher-default-key ARN]]
 *
 * Databases: "default" always exists (ID 1). Without --cipher-plugin the double is an
 * open-source Milvus: a create with cipher.enabled=true fails as Milvus does without the
 * plugin (code 65535, "... cipher plugin is missing"). With it, such a database gets
 * cipher.ezID = its database ID (Milvus uses the dbID as ezID), IDs only ever increase.
 *
 * Passwords are kept only as bcrypt hashes (libxcrypt, "$2b$", cost 10); after one
 * successful bcrypt check a user's SHA-256(password || username) is cached, as the Milvus
 * proxy's credential cache does, and compared with CRYPTO_memcmp. The request log and the
 * state file never hold a password or a request body.
 */
#include <crypt.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "jgen.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define MD_MAX_BODY      (64 * 1024) /* request bodies */
#define MD_JSON_DEPTH    8           /* request documents are two levels deep */
#define MD_MAX_STATE     (16 * 1024 * 1024)
#define MD_MAX_USERNAME  32   /* proxy.maxUsernameLength */
#define MD_MAX_NAME      255  /* proxy.maxNameLength */
#define MD_MIN_PASSWORD  6    /* common.security.minPasswordLength */
#define MD_MAX_PASSWORD  256  /* common.security.maxPasswordLength */
#define MD_BCRYPT_MAX    72   /* x/crypto/bcrypt refuses longer passwords */
#define MD_BCRYPT_COST   10   /* bcrypt.DefaultCost, as Milvus uses */
#define MD_MAX_GRANTS    1024 /* per role: a bound for the double, not Milvus */
#define MD_MAX_GROUPS    256  /* custom privilege groups: likewise */
#define MD_MAX_ROOT_PW   4096
#define MD_MAX_DATABASES 64  /* rootCoord.maxDatabaseNum */
#define MD_MAX_DB_PROPS  64  /* per database: a bound for the double, not Milvus */
#define MD_DEFAULT_DB_ID 1LL /* util.DefaultDBID */
/* Milvus allocates database IDs from its TSO-based allocator: int64s far beyond 2^53, so
 * a client that reads JSON numbers as doubles loses them. The double does the same. */
#define MD_FIRST_DB_ID 458000000000000001LL

/* merr codes (pkg/util/merr/errors.go) */
enum {
	C_OK = 0,
	C_DB_NOT_FOUND = 800,   /* ErrDatabaseNotFound */
	C_DB_LIMIT = 801,       /* ErrDatabaseNumLimitExceeded */
	C_DB_NAME = 802,        /* ErrDatabaseInvalidName */
	C_PARAM = 1100,         /* ErrParameterInvalid */
	C_NOT_AUTHN = 1400,     /* ErrPrivilegeNotAuthenticated */
	C_NOT_PERMITTED = 1401, /* ErrPrivilegeNotPermitted */
	C_GROUP_NAME = 1402,    /* ErrPrivilegeGroupInvalidName */
	C_NEED_AUTH = 1800,     /* ErrNeedAuthenticate */
	C_JSON = 1801,          /* ErrIncorrectParameterFormat */
	C_MISSING = 1802,       /* ErrMissingRequiredParameters */
	C_UNEXPECTED = 65535,   /* any error that is not a merr error */
};

#define MSG_JSON      "can only accept json format request"
#define MSG_NEED_AUTH "user hasn't authenticated"
#define MSG_NO_ROLE   "not found the role, maybe the role isn't existed or internal system error"
#define MSG_NO_USER   "not found the user, maybe the user isn't existed or internal system error"
/* hookutil.ErrCipherPluginMissing, wrapped by rootcoord's broadcastCreateDatabase; not a
 * merr error, so merr.Code gives it 65535 */
#define MSG_NO_CIPHER "failed to tidy database cipher properties: cipher plugin is missing"
#define MSG_NO_CIPHER_KEY                                                                          \
	"failed to tidy database cipher properties: encryption enabled but no key provided and "   \
	"no default key configured"
#define P_ENABLED "cipher.enabled" /* hookutil/common EncryptionEnabledKey */
#define P_EZID    "cipher.ezID"    /* EncryptionEzIDKey */
#define P_KEY     "cipher.key"     /* EncryptionRootKeyKey */

/* ---- privilege catalogue (commonpb.ObjectPrivilege, API spelling) ------------ */

static const char *const known_privileges[] = {
    "All",
    "CreateCollection",
    "DropCollection",
    "DescribeCollection",
    "ShowCollections",
    "Load",
    "Release",
    "Compaction",
    "Insert",
    "Delete",
    "GetStatistics",
    "CreateIndex",
    "IndexDetail",
    "DropIndex",
    "Search",
    "Flush",
    "Query",
    "LoadBalance",
    "Import",
    "CreateOwnership",
    "UpdateUser",
    "DropOwnership",
    "SelectOwnership",
    "ManageOwnership",
    "SelectUser",
    "Upsert",
    "CreateResourceGroup",
    "DropResourceGroup",
    "DescribeResourceGroup",
    "ListResourceGroups",
    "TransferNode",
    "TransferReplica",
    "GetLoadingProgress",
    "GetLoadState",
    "RenameCollection",
    "CreateDatabase",
    "DropDatabase",
    "ListDatabases",
    "FlushAll",
    "CreatePartition",
    "DropPartition",
    "ShowPartitions",
    "HasPartition",
    "GetFlushState",
    "CreateAlias",
    "DropAlias",
    "DescribeAlias",
    "ListAliases",
    "UpdateResourceGroups",
    "AlterDatabase",
    "DescribeDatabase",
    "BackupRBAC",
    "RestoreRBAC",
    "CreatePrivilegeGroup",
    "DropPrivilegeGroup",
    "ListPrivilegeGroups",
    "OperatePrivilegeGroup",
    "GetImportProgress",
    "ListImport",
    "AddCollectionField",
    NULL,
};

/* the privileges of util.ObjectPrivileges["Collection"] and ["User"]: every other
 * privilege (and every group) is reported with objectType "Global" (util.GetObjectType) */
static const char *const collection_object_privileges[] = {
    "Load",         "Release",         "Compaction",    "Insert",
    "Delete",       "Upsert",          "GetStatistics", "CreateIndex",
    "IndexDetail",  "DropIndex",       "Search",        "Flush",
    "Query",        "LoadBalance",     "Import",        "GetLoadingProgress",
    "GetLoadState", "CreatePartition", "DropPartition", "ShowPartitions",
    "HasPartition", "GetFlushState",   "ReadOnly",      "ReadWrite",
    NULL,
};
static const char *const user_object_privileges[] = {"UpdateUser", "SelectUser", NULL};

#define COLL_RO                                                                                    \
	"Query", "Search", "IndexDetail", "GetFlushState", "GetLoadState", "GetLoadingProgress",   \
	    "HasPartition", "ShowPartitions", "DescribeCollection", "DescribeAlias",               \
	    "GetStatistics", "ListAliases"
#define COLL_RW                                                                                    \
	COLL_RO, "Load", "Release", "Insert", "Delete", "Upsert", "Import", "Flush", "Compaction", \
	    "LoadBalance", "CreateIndex", "DropIndex", "CreatePartition", "DropPartition"
#define COLL_ADMIN COLL_RW, "CreateAlias", "DropAlias"
#define DB_RO      "ShowCollections", "DescribeDatabase"
#define DB_RW      DB_RO, "AlterDatabase"
#define DB_ADMIN   DB_RW, "CreateCollection", "DropCollection"
#define CL_RO                                                                                      \
	"ListDatabases", "SelectOwnership", "SelectUser", "DescribeResourceGroup",                 \
	    "ListResourceGroups", "ListPrivilegeGroups"
#define CL_RW CL_RO, "FlushAll", "TransferNode", "TransferReplica", "UpdateResourceGroups"
#define CL_ADMIN                                                                                   \
	CL_RW, "BackupRBAC", "RestoreRBAC", "CreateDatabase", "DropDatabase", "CreateOwnership",   \
	    "DropOwnership", "ManageOwnership", "CreateResourceGroup", "DropResourceGroup",        \
	    "UpdateUser", "RenameCollection", "CreatePrivilegeGroup", "DropPrivilegeGroup",        \
	    "OperatePrivilegeGroup"
/* the rbac v1 groups (util.ReadOnlyPrivilegeGroup, ReadWrite..., Admin...) */
#define V1_RO                                                                                      \
	"Query", "Search", "IndexDetail", "GetFlushState", "GetLoadState", "GetLoadingProgress",   \
	    "HasPartition", "ShowPartitions", "ShowCollections", "ListAliases", "ListDatabases",   \
	    "DescribeCollection", "DescribeDatabase", "DescribeAlias", "GetStatistics"
#define V1_RW                                                                                      \
	V1_RO, "CreateIndex", "DropIndex", "CreatePartition", "DropPartition", "Load", "Release",  \
	    "Insert", "Delete", "Upsert", "Import", "Flush", "Compaction", "LoadBalance",          \
	    "RenameCollection", "CreateAlias", "DropAlias"
#define V1_ADMIN                                                                                   \
	V1_RW, "CreateCollection", "DropCollection", "CreateOwnership", "DropOwnership",           \
	    "SelectOwnership", "ManageOwnership", "SelectUser", "UpdateUser", "BackupRBAC",        \
	    "RestoreRBAC", "CreateResourceGroup", "UpdateResourceGroups", "DropResourceGroup",     \
	    "DescribeResourceGroup", "ListResourceGroups", "TransferReplica", "TransferNode",      \
	    "CreateDatabase", "DropDatabase", "AlterDatabase"

static const char *const g_coll_ro[] = {COLL_RO, NULL};
static const char *const g_coll_rw[] = {COLL_RW, NULL};
static const char *const g_coll_admin[] = {COLL_ADMIN, NULL};
static const char *const g_db_ro[] = {DB_RO, NULL};
static const char *const g_db_rw[] = {DB_RW, NULL};
static const char *const g_db_admin[] = {DB_ADMIN, NULL};
static const char *const g_cl_ro[] = {CL_RO, NULL};
static const char *const g_cl_rw[] = {CL_RW, NULL};
static const char *const g_cl_admin[] = {CL_ADMIN, NULL};
static const char *const g_v1_ro[] = {V1_RO, NULL};
static const char *const g_v1_rw[] = {V1_RW, NULL};
static const char *const g_v1_admin[] = {V1_ADMIN, NULL};

enum level { LVL_NONE = 0, LVL_CLUSTER, LVL_DATABASE, LVL_COLLECTION };

struct builtin_group {
	const char *name;
	const char *const *privs;
	int is_default; /* one of the 9 rbac v2 groups: dbName/collectionName are checked */
};

static const struct builtin_group builtin_groups[] = {
    {"ClusterReadOnly", g_cl_ro, 1},
    {"ClusterReadWrite", g_cl_rw, 1},
    {"ClusterAdmin", g_cl_admin, 1},
    {"DatabaseReadOnly", g_db_ro, 1},
    {"DatabaseReadWrite", g_db_rw, 1},
    {"DatabaseAdmin", g_db_admin, 1},
    {"CollectionReadOnly", g_coll_ro, 1},
    {"CollectionReadWrite", g_coll_rw, 1},
    {"CollectionAdmin", g_coll_admin, 1},
    {"ReadOnly", g_v1_ro, 0},
    {"ReadWrite", g_v1_rw, 0},
    {"Admin", g_v1_admin, 0},
};
#define N_BUILTIN_GROUPS (sizeof(builtin_groups) / sizeof(builtin_groups[0]))

static int in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

static const struct builtin_group *builtin_group(const char *name)
{
	for (size_t i = 0; i < N_BUILTIN_GROUPS; i++)
		if (strcmp(builtin_groups[i].name, name) == 0)
			return &builtin_groups[i];
	return NULL;
}

/* util.IsPrivilegeNameDefined: a built-in privilege or a built-in group */
static int privilege_defined(const char *name)
{
	return in_list(known_privileges, name) || builtin_group(name) != NULL;
}

/* util.GetPrivilegeLevel */
static enum level privilege_level(const char *name)
{
	if (in_list(g_cl_admin, name))
		return LVL_CLUSTER;
	if (in_list(g_db_admin, name))
		return LVL_DATABASE;
	if (in_list(g_coll_admin, name))
		return LVL_COLLECTION;
	return LVL_NONE;
}

/* util.GetObjectType */
static const char *object_type_of(const char *priv)
{
	if (in_list(collection_object_privileges, priv))
		return "Collection";
	if (in_list(user_object_privileges, priv))
		return "User";
	return "Global";
}

/* ---- state ---------------------------------------------------------------------- */

struct strv {
	char **v;
	size_t n;
};

static int strv_find(const struct strv *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return (int)i;
	return -1;
}

static int strv_add(struct strv *s, const char *x)
{
	char **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	char *d;

	if (!nv)
		return -1;
	s->v = nv;
	d = strdup(x);
	if (!d)
		return -1;
	s->v[s->n++] = d;
	return 0;
}

static void strv_del(struct strv *s, size_t i)
{
	free(s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

struct user {
	char *name;
	char *hash;            /* bcrypt; the only form a password is kept in */
	unsigned char sha[32]; /* SHA-256(password || name) once a login verified */
	int has_sha;
	struct strv roles;
};

struct grant {
	char *type;   /* objectType: Global, Collection or User */
	char *object; /* objectName: a collection name or "*" */
	char *db;     /* dbName: a database name or "*" */
	char *priv;   /* privilege or privilege group, API spelling */
	char *grantor;
};

struct role {
	char *name;
	struct grant *g;
	size_t ng;
};

struct group {
	char *name;
	struct strv privs;
};

struct prop {
	char *key, *value;
};

struct database {
	char *name;
	long long id;
	struct prop *props;
	size_t nprops;
};

#define N_ENDPOINTS 21

struct md {
	long max_users, max_roles;
	struct strv supers;
	const char *state_file;
	FILE *logf;

	struct user *users;
	size_t nusers;
	struct role *roles;
	size_t nroles;
	struct group *groups;
	size_t ngroups;
	struct database *dbs; /* creation order; dbs[0] is "default" */
	size_t ndbs;
	long long next_db_id;
	long max_databases;
	int cipher_plugin;              /* --cipher-plugin: a Milvus build with the plugin */
	const char *cipher_default_key; /* cipherPlugin.kms.defaultKey */

	/* --slow PATH=MS: fault injection for crash tests */
	char slow_path[128];
	long slow_ms;

	unsigned long long requests, auth_failures;
	unsigned long long hits[N_ENDPOINTS + 1]; /* the last slot: any other path */

	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *ctx;
	int port;
};

static void user_clear(struct user *u)
{
	free(u->name);
	free(u->hash);
	strv_free(&u->roles);
	OPENSSL_cleanse(u->sha, sizeof(u->sha));
	memset(u, 0, sizeof(*u));
}

static void grant_clear(struct grant *g)
{
	free(g->type);
	free(g->object);
	free(g->db);
	free(g->priv);
	free(g->grantor);
	memset(g, 0, sizeof(*g));
}

static void role_clear(struct role *r)
{
	for (size_t i = 0; i < r->ng; i++)
		grant_clear(&r->g[i]);
	free(r->g);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

static void group_clear(struct group *g)
{
	free(g->name);
	strv_free(&g->privs);
	memset(g, 0, sizeof(*g));
}

static void db_clear(struct database *d)
{
	for (size_t i = 0; i < d->nprops; i++) {
		free(d->props[i].key);
		free(d->props[i].value);
	}
	free(d->props);
	free(d->name);
	memset(d, 0, sizeof(*d));
}

static struct database *db_find(struct md *m, const char *name)
{
	for (size_t i = 0; i < m->ndbs; i++)
		if (strcmp(m->dbs[i].name, name) == 0)
			return &m->dbs[i];
	return NULL;
}

/* A new database without properties, or NULL when out of memory. */
static struct database *db_add(struct md *m, const char *name, long long id)
{
	struct database *nd = realloc(m->dbs, (m->ndbs + 1) * sizeof(*nd));
	struct database *d;

	if (!nd)
		return NULL;
	m->dbs = nd;
	d = &m->dbs[m->ndbs];
	memset(d, 0, sizeof(*d));
	d->name = strdup(name);
	if (!d->name)
		return NULL;
	d->id = id;
	m->ndbs++;
	if (id >= m->next_db_id)
		m->next_db_id = id + 1;
	return d;
}

static int db_prop_add(struct database *d, const char *key, const char *value)
{
	struct prop *np = realloc(d->props, (d->nprops + 1) * sizeof(*np));

	if (!np)
		return -1;
	d->props = np;
	np[d->nprops].key = strdup(key);
	np[d->nprops].value = strdup(value);
	if (!np[d->nprops].key || !np[d->nprops].value) {
		free(np[d->nprops].key);
		free(np[d->nprops].value);
		return -1;
	}
	d->nprops++;
	return 0;
}

static struct user *user_find(struct md *m, const char *name)
{
	for (size_t i = 0; i < m->nusers; i++)
		if (strcmp(m->users[i].name, name) == 0)
			return &m->users[i];
	return NULL;
}

static struct role *role_find(struct md *m, const char *name)
{
	for (size_t i = 0; i < m->nroles; i++)
		if (strcmp(m->roles[i].name, name) == 0)
			return &m->roles[i];
	return NULL;
}

static struct group *group_find(struct md *m, const char *name)
{
	for (size_t i = 0; i < m->ngroups; i++)
		if (strcmp(m->groups[i].name, name) == 0)
			return &m->groups[i];
	return NULL;
}

/* A new zeroed user named name, or NULL when out of memory. */
static struct user *user_add(struct md *m, const char *name)
{
	struct user *nu = realloc(m->users, (m->nusers + 1) * sizeof(*nu));
	struct user *u;

	if (!nu)
		return NULL;
	m->users = nu;
	u = &m->users[m->nusers];
	memset(u, 0, sizeof(*u));
	u->name = strdup(name);
	if (!u->name)
		return NULL;
	m->nusers++;
	return u;
}

static void user_remove(struct md *m, struct user *u)
{
	size_t i = (size_t)(u - m->users);

	user_clear(u);
	memmove(&m->users[i], &m->users[i + 1], (m->nusers - i - 1) * sizeof(*u));
	m->nusers--;
}

static struct role *role_add(struct md *m, const char *name)
{
	struct role *nr = realloc(m->roles, (m->nroles + 1) * sizeof(*nr));
	struct role *r;

	if (!nr)
		return NULL;
	m->roles = nr;
	r = &m->roles[m->nroles];
	memset(r, 0, sizeof(*r));
	r->name = strdup(name);
	if (!r->name)
		return NULL;
	m->nroles++;
	return r;
}

static void role_remove(struct md *m, struct role *r)
{
	size_t i = (size_t)(r - m->roles);

	/* the catalogue drops the role's user bindings with it (kv_catalog DropRole) */
	for (size_t k = 0; k < m->nusers; k++) {
		int j = strv_find(&m->users[k].roles, r->name);
		if (j >= 0)
			strv_del(&m->users[k].roles, (size_t)j);
	}
	role_clear(r);
	memmove(&m->roles[i], &m->roles[i + 1], (m->nroles - i - 1) * sizeof(*r));
	m->nroles--;
}

static struct group *group_add(struct md *m, const char *name)
{
	struct group *ng = realloc(m->groups, (m->ngroups + 1) * sizeof(*ng));
	struct group *g;

	if (!ng)
		return NULL;
	m->groups = ng;
	g = &m->groups[m->ngroups];
	memset(g, 0, sizeof(*g));
	g->name = strdup(name);
	if (!g->name)
		return NULL;
	m->ngroups++;
	return g;
}

static void group_remove(struct md *m, struct group *g)
{
	size_t i = (size_t)(g - m->groups);

	group_clear(g);
	memmove(&m->groups[i], &m->groups[i + 1], (m->ngroups - i - 1) * sizeof(*g));
	m->ngroups--;
}

static struct grant *grant_find(struct role *r, const char *type, const char *db,
                                const char *object, const char *priv)
{
	for (size_t i = 0; i < r->ng; i++) {
		struct grant *g = &r->g[i];
		if (!strcmp(g->type, type) && !strcmp(g->db, db) && !strcmp(g->object, object) &&
		    !strcmp(g->priv, priv))
			return g;
	}
	return NULL;
}

static int grant_add(struct role *r, const char *type, const char *db, const char *object,
                     const char *priv, const char *grantor)
{
	struct grant *ng = realloc(r->g, (r->ng + 1) * sizeof(*ng));
	struct grant *g;

	if (!ng)
		return -1;
	r->g = ng;
	g = &r->g[r->ng];
	g->type = strdup(type);
	g->db = strdup(db);
	g->object = strdup(object);
	g->priv = strdup(priv);
	g->grantor = strdup(grantor);
	if (!g->type || !g->db || !g->object || !g->priv || !g->grantor) {
		grant_clear(g);
		return -1;
	}
	r->ng++;
	return 0;
}

static void grant_remove(struct role *r, struct grant *g)
{
	size_t i = (size_t)(g - r->g);

	grant_clear(g);
	memmove(&r->g[i], &r->g[i + 1], (r->ng - i - 1) * sizeof(*g));
	r->ng--;
}

static void state_free(struct md *m)
{
	for (size_t i = 0; i < m->nusers; i++)
		user_clear(&m->users[i]);
	for (size_t i = 0; i < m->nroles; i++)
		role_clear(&m->roles[i]);
	for (size_t i = 0; i < m->ngroups; i++)
		group_clear(&m->groups[i]);
	for (size_t i = 0; i < m->ndbs; i++)
		db_clear(&m->dbs[i]);
	free(m->users);
	free(m->roles);
	free(m->groups);
	free(m->dbs);
	m->users = NULL;
	m->roles = NULL;
	m->groups = NULL;
	m->dbs = NULL;
	m->nusers = m->nroles = m->ngroups = m->ndbs = 0;
}

/* ---- passwords -------------------------------------------------------------------- */

/* A new bcrypt hash of pw (caller frees), or NULL. */
static char *bcrypt_hash(const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;
	char *out = NULL;

	if (!cd)
		return NULL;
	if (!crypt_gensalt_rn("$2b$", MD_BCRYPT_COST, NULL, 0, salt, (int)sizeof(salt)))
		goto out;
	h = crypt_rn(pw, salt, cd, (int)sizeof(*cd));
	if (h && h[0] == '$')
		out = strdup(h);
out:
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return out;
}

static int bcrypt_verify(const char *pw, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;
	int ok = 0;

	if (!cd)
		return 0;
	h = crypt_rn(pw, hash, cd, (int)sizeof(*cd));
	if (h && h[0] == '$' && strlen(h) == strlen(hash))
		ok = CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* crypto.SHA256(password, username) of the Milvus proxy's credential cache */
static int pw_sha(const char *pw, const char *name, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (!ctx)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, pw, strlen(pw)) == 1 &&
	     EVP_DigestUpdate(ctx, name, strlen(name)) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* proxy passwordVerify: the cached SHA-256 when there is one, else bcrypt (then cache) */
static int password_verify(struct md *m, const char *name, const char *pw)
{
	struct user *u = user_find(m, name);
	unsigned char sha[32];
	int ok = 0;

	if (!u || pw_sha(pw, u->name, sha))
		return 0;
	if (u->has_sha) {
		ok = CRYPTO_memcmp(sha, u->sha, sizeof(sha)) == 0;
	} else if (bcrypt_verify(pw, u->hash)) {
		memcpy(u->sha, sha, sizeof(sha));
		u->has_sha = 1;
		ok = 1;
	}
	OPENSSL_cleanse(sha, sizeof(sha));
	return ok;
}

/* Replace u's password: a fresh hash and a fresh cache entry. 0 or -1. */
static int user_set_password(struct user *u, const char *pw)
{
	char *h = bcrypt_hash(pw);

	if (!h)
		return -1;
	free(u->hash);
	u->hash = h;
	u->has_sha = pw_sha(pw, u->name, u->sha) == 0;
	return 0;
}

static int is_super(struct md *m, const char *user)
{
	return strv_find(&m->supers, user) >= 0;
}

/* ---- one request ------------------------------------------------------------------ */

enum ftype { F_STR, F_STRV, F_MAP };

struct field {
	const char *key;
	enum ftype type;
	int required;
};

struct call;
typedef int (*handler_fn)(struct md *m, struct call *c);

struct endpoint {
	const char *path;
	const char *go_type; /* the request struct, for Milvus-shaped messages */
	struct field fields[4];
	int has_db;             /* the request names its database in dbName */
	const char *obj_type;   /* what the privilege interceptor checks ... */
	const char *priv;       /* ... and which privilege */
	const char *self_field; /* User objects: the field naming the user */
	handler_fn fn;
};

struct call {
	const struct endpoint *ep;
	yajl_val body;
	const char *user; /* the authenticated caller */
	char db[MD_MAX_NAME + 1];
	int code;
	struct buf msg;
	char *data; /* the "data" value on success (owned); NULL means {} */
	int changed;
};

static int fail(struct call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct call *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (!c)
		return -1;
	c->code = code;
	buf_reset(&c->msg);
	va_start(ap, fmt);
	if (buf_vprintf(&c->msg, fmt, ap))
		buf_adds(&c->msg, "error");
	va_end(ap);
	return -1;
}

static int fail_oom(struct call *c)
{
	return fail(c, C_UNEXPECTED, "out of memory in the milvus test double");
}

/* The member key of obj; an exact match first, then any case, as encoding/json does. */
static yajl_val member(yajl_val obj, const char *key)
{
	if (!obj || obj->type != yajl_t_object)
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (strcasecmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	return NULL;
}

/* A string field of the (already type-checked) body, "" when absent. */
static const char *fstr(struct call *c, const char *key)
{
	const char *s = json_str(member(c->body, key));
	return s ? s : "";
}

static const char *kind_of(yajl_val v)
{
	switch (v->type) {
	case yajl_t_string:
		return "string";
	case yajl_t_number:
		return "number";
	case yajl_t_object:
		return "object";
	case yajl_t_array:
		return "array";
	case yajl_t_true:
	case yajl_t_false:
		return "bool";
	default:
		return "null";
	}
}

/* gin's ShouldBindBodyWith: type errors are 1801, empty required fields are 1802. */
static int bind_body(struct call *c)
{
	const struct endpoint *ep = c->ep;
	struct buf miss = BUF_INIT(4096);
	int rc = 0;

	if (c->body->type != yajl_t_object && c->body->type != yajl_t_null)
		return fail(c, C_JSON,
		            MSG_JSON ", error: json: cannot unmarshal %s into Go value of type "
		                     "httpserver.%s",
		            kind_of(c->body), ep->go_type);
	for (size_t i = 0; i < 4 && ep->fields[i].key; i++) {
		const struct field *f = &ep->fields[i];
		yajl_val v = member(c->body, f->key);
		int empty = !v || v->type == yajl_t_null;

		if (!empty && f->type == F_STR && v->type != yajl_t_string)
			return fail(c, C_JSON,
			            MSG_JSON
			            ", error: json: cannot unmarshal %s into Go struct field "
			            "%s.%s of type string",
			            kind_of(v), ep->go_type, f->key);
		if (!empty && f->type == F_MAP && v->type != yajl_t_object)
			return fail(c, C_JSON,
			            MSG_JSON
			            ", error: json: cannot unmarshal %s into Go struct field "
			            "%s.%s of type map[string]interface {}",
			            kind_of(v), ep->go_type, f->key);
		if (!empty && f->type == F_STRV) {
			if (v->type != yajl_t_array)
				return fail(c, C_JSON,
				            MSG_JSON
				            ", error: json: cannot unmarshal %s into Go struct "
				            "field %s.%s of type []string",
				            kind_of(v), ep->go_type, f->key);
			for (size_t k = 0; k < v->u.array.len; k++) {
				yajl_val e = v->u.array.values[k];
				if (e->type != yajl_t_string && e->type != yajl_t_null)
					return fail(c, C_JSON,
					            MSG_JSON
					            ", error: json: cannot unmarshal %s into Go "
					            "struct field %s.%s of type string",
					            kind_of(e), ep->go_type, f->key);
			}
		}
		if (f->required && (empty || (f->type == F_STR && !v->u.string[0]))) {
			char go_field[64];
			snprintf(go_field, sizeof(go_field), "%s", f->key);
			go_field[0] = (char)(go_field[0] - 'a' + 'A');
			if (buf_printf(
			        &miss,
			        "%sKey: '%s.%s' Error:Field validation for '%s' failed on the "
			        "'required' tag",
			        miss.len ? "\n" : "", ep->go_type, go_field, go_field))
				rc = fail_oom(c);
		}
	}
	if (!rc && miss.len)
		rc = fail(c, C_MISSING, "missing required parameters, error: %s", miss.ptr);
	buf_free(&miss);
	return rc;
}

/* ---- Milvus's name rules (proxy/util.go) ---------------------------------------------- */

static int is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* s without leading and trailing white space, copied into out (cap bytes); s itself when
 * it does not fit (such a name is invalid and can never match a stored one). */
static const char *trimmed(const char *s, char *out, size_t cap)
{
	size_t n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n && is_space(s[n - 1]))
		n--;
	if (n >= cap)
		return s;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

/* ValidateUsername (on the trimmed name) */
static int check_username(struct call *c, const char *raw)
{
	char tb[MD_MAX_USERNAME + 2];
	const char *s = trimmed(raw, tb, sizeof(tb));
	size_t n = strlen(s);

	if (n == 0)
		return fail(c, C_PARAM, "username must be not empty: invalid parameter");
	if (n > MD_MAX_USERNAME)
		return fail(c, C_PARAM,
		            "invalid username %s with length %zu, the length of username must be "
		            "less than %d: invalid parameter",
		            s, n, MD_MAX_USERNAME);
	if (!is_alpha(s[0]))
		return fail(c, C_PARAM,
		            "invalid user name %s, the first character must be a letter, but got "
		            "%c: invalid parameter",
		            s, s[0]);
	for (size_t i = 1; i < n; i++)
		if (s[i] != '_' && !is_alpha(s[i]) && !is_digit(s[i]))
			return fail(c, C_PARAM,
			            "invalid user name %s, username must contain only numbers, "
			            "letters and underscores, but got %c: invalid parameter",
			            s, s[i]);
	return 0;
}

/* ValidatePassword */
static int check_password(struct call *c, const char *pw)
{
	size_t n = strlen(pw);

	if (n < MD_MIN_PASSWORD || n > MD_MAX_PASSWORD)
		return fail(c, C_PARAM,
		            "invalid password length: invalid parameter[%zu out of range %d <= "
		            "value <= %d]",
		            n, MD_MIN_PASSWORD, MD_MAX_PASSWORD);
	return 0;
}

/* crypto.PasswordEncrypt: a password that passed ValidatePassword but that Milvus's
 * bcrypt (golang.org/x/crypto) refuses to hash */
static int check_bcrypt_len(struct call *c, const char *pw)
{
	if (strlen(pw) > MD_BCRYPT_MAX)
		return fail(c, C_UNEXPECTED,
		            "encrypt password failed: bcrypt: password length exceeds 72 bytes");
	return 0;
}

/* validateName: role names, collection names, privilege names */
static int check_name(struct call *c, const char *raw, const char *what)
{
	char tb[MD_MAX_NAME + 2];
	const char *s = trimmed(raw, tb, sizeof(tb));
	size_t n = strlen(s);

	if (n == 0)
		return fail(
		    c, C_PARAM,
		    "%s should be not empty: invalid parameter[expected=not empty][actual=]", what);
	if (n > MD_MAX_NAME)
		return fail(
		    c, C_PARAM,
		    "the length of %s must be not greater than limit: invalid parameter[%zu "
		    "out of range 0 <= value <= %d]",
		    what, n, MD_MAX_NAME);
	if (s[0] != '_' && !is_alpha(s[0]))
		return fail(c, C_PARAM,
		            "the first character of %s must be an underscore or letter: invalid "
		            "parameter[expected=95][actual=%d]",
		            what, (unsigned char)s[0]);
	for (size_t i = 1; i < n; i++)
		if (s[i] != '_' && s[i] != '$' && !is_alpha(s[i]) && !is_digit(s[i]))
			return fail(
			    c, C_PARAM,
			    "%s can only contain numbers, letters, dollars and underscores, "
			    "found %c at %zu: invalid parameter",
			    what, s[i], i);
	return 0;
}

static int check_role_name(struct call *c, const char *raw)
{
	return check_name(c, raw, "role name");
}

/* ValidateDatabaseName */
static int check_db_name(struct call *c, const char *s)
{
	size_t n = strlen(s);

	if (n > MD_MAX_NAME)
		return fail(
		    c, C_DB_NAME,
		    "the length of a database name must be less than %d characters: invalid "
		    "database name[database=%s]",
		    MD_MAX_NAME, s);
	if (n == 0 || (s[0] != '_' && !is_alpha(s[0])))
		return fail(c, C_DB_NAME,
		            "the first character of a database name must be an underscore or "
		            "letter: invalid database name[database=%s]",
		            s);
	for (size_t i = 1; i < n; i++)
		if (s[i] != '_' && !is_alpha(s[i]) && !is_digit(s[i]))
			return fail(c, C_DB_NAME,
			            "database name can only contain numbers, letters and "
			            "underscores: invalid database name[database=%s]",
			            s);
	return 0;
}

/* ValidatePrivilegeGroupName: 1402, except for a bad later character (1100, as Milvus) */
static int check_group_name(struct call *c, const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return fail(c, C_GROUP_NAME,
		            "privilege group name should not be empty: invalid privilege group "
		            "name[privilegeGroup=]");
	if (n > MD_MAX_NAME)
		return fail(c, C_GROUP_NAME,
		            "the length of a privilege group name must be less than %d characters: "
		            "invalid privilege group name[privilegeGroup=%.64s...]",
		            MD_MAX_NAME, s);
	if (s[0] != '_' && !is_alpha(s[0]))
		return fail(
		    c, C_GROUP_NAME,
		    "the first character of a privilege group name %s must be an underscore "
		    "or letter: invalid privilege group name[privilegeGroup=%s]",
		    s, s);
	for (size_t i = 1; i < n; i++)
		if (s[i] != '_' && !is_alpha(s[i]) && !is_digit(s[i]))
			return fail(c, C_PARAM,
			            "privilege group name %s can only contain numbers, letters and "
			            "underscores: invalid parameter",
			            s);
	return 0;
}

/* ---- authorization (proxy PrivilegeInterceptor + its casbin model) ------------------- */

static int glob1(const char *pattern, const char *s)
{
	return strcmp(pattern, "*") == 0 || strcmp(pattern, s) == 0;
}

/* Does a grant of privilege `granted` cover `want`? Groups are expanded one level, as
 * rootcoord expands them into the proxy's policy cache. */
static int privilege_covers(struct md *m, const char *granted, const char *want)
{
	const struct builtin_group *bg;
	const struct group *g;

	if (strcmp(granted, "*") == 0 || strcmp(granted, want) == 0)
		return 1;
	bg = builtin_group(granted);
	if (bg)
		return in_list(bg->privs, want);
	g = group_find(m, granted);
	return g && strv_find(&g->privs, want) >= 0;
}

static int role_permits(struct md *m, const char *role, const char *type, const char *db,
                        const char *object, const char *priv)
{
	struct role *r;

	if (strcmp(role, "admin") == 0)
		return 1;
	r = role_find(m, role);
	if (!r)
		return 0;
	for (size_t i = 0; i < r->ng; i++) {
		const struct grant *g = &r->g[i];
		/* p.act == "PrivilegeAll" with a matching database allows anything there */
		if (strcmp(g->priv, "All") == 0 && strcmp(g->db, db) == 0)
			return 1;
		if (strcmp(g->type, type) != 0 || !glob1(g->db, db) || !glob1(g->object, object))
			continue;
		if (privilege_covers(m, g->priv, priv))
			return 1;
	}
	return 0;
}

/* 0 when the caller may call c->ep; else -1 with the 1401 message set. */
static int authorize(struct md *m, struct call *c)
{
	const struct endpoint *ep = c->ep;
	const char *object = "*";
	const struct user *u;

	if (!ep->priv) /* no check at the REST layer (the handler filters) */
		return 0;
	if (strcmp(c->user, "root") == 0 || is_super(m, c->user))
		return 0;
	if (ep->self_field) {
		object = fstr(c, ep->self_field);
		/* isCurUserObject: users may describe themselves and change their password */
		if (strcmp(object, c->user) == 0)
			return 0;
	}
	u = user_find(m, c->user);
	if (u)
		for (size_t i = 0; i < u->roles.n; i++)
			if (role_permits(m, u->roles.v[i], ep->obj_type, c->db, object, ep->priv))
				return 0;
	if (role_permits(m, "public", ep->obj_type, c->db, object, ep->priv))
		return 0;
	return fail(c, C_NOT_PERMITTED,
	            "Privilege%s: permission deny to %s in the `%s` database: privilege not "
	            "permitted",
	            ep->priv, c->user, c->db);
}

/* ---- JSON output ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* c->data = the strings as a sorted JSON array */
static int data_sorted_list(struct call *c, const char **v, size_t n)
{
	yajl_gen g = jgen_new();

	if (!g)
		return fail_oom(c);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	jao(g);
	for (size_t i = 0; i < n; i++)
		js(g, v[i]);
	jac(g);
	c->data = jgen_finish(g);
	return c->data ? 0 : fail_oom(c);
}

/* ---- users ------------------------------------------------------------------------- */

static int h_user_create(struct md *m, struct call *c)
{
	char nb[MD_MAX_USERNAME + 2];
	const char *raw = fstr(c, "userName"), *pw = fstr(c, "password"), *name;
	struct user *u;

	if (check_username(c, raw) || check_password(c, pw) || check_bcrypt_len(c, pw))
		return -1;
	name = trimmed(raw, nb, sizeof(nb));
	if (user_find(m, name))
		return fail(c, C_UNEXPECTED, "user already exists: %s", name);
	if ((long)m->nusers >= m->max_users)
		return fail(c, C_UNEXPECTED,
		            "unable to add user because the number of users has reached the limit");
	u = user_add(m, name);
	if (!u)
		return fail_oom(c);
	if (user_set_password(u, pw)) {
		user_remove(m, u);
		return fail(c, C_UNEXPECTED, "encrypt password failed");
	}
	c->changed = 1;
	return 0;
}

static int h_user_password(struct md *m, struct call *c)
{
	const char *name = fstr(c, "userName"), *old = fstr(c, "password");
	const char *pw = fstr(c, "newPassword");
	struct user *u;

	if (check_password(c, pw))
		return -1;
	/* UpdateCredential: only the caller's membership of superUsers skips the check */
	if (!is_super(m, c->user) && !password_verify(m, name, old))
		return fail(c, C_NOT_AUTHN, "old password not correct for %s: not authenticated",
		            name);
	if (check_bcrypt_len(c, pw))
		return -1;
	u = user_find(m, name);
	if (!u)
		return fail(c, C_UNEXPECTED, "user not found: %s", name);
	if (user_set_password(u, pw))
		return fail(c, C_UNEXPECTED, "encrypt password failed");
	c->changed = 1;
	return 0;
}

static int h_user_drop(struct md *m, struct call *c)
{
	char nb[MD_MAX_USERNAME + 2];
	const char *raw = fstr(c, "userName"), *name;
	struct user *u;

	if (strcmp(raw, "root") == 0)
		return fail(c, C_NOT_PERMITTED,
		            "root user cannot be deleted: privilege not permitted");
	name = trimmed(raw, nb, sizeof(nb));
	u = user_find(m, name);
	if (!u)
		return fail(c, C_UNEXPECTED, "user not found: %s", name);
	user_remove(m, u); /* with its role bindings and its cached credential */
	c->changed = 1;
	return 0;
}

static int h_user_describe(struct md *m, struct call *c)
{
	char nb[MD_MAX_USERNAME + 2];
	const char *raw = fstr(c, "userName");
	const struct user *u;
	const char **v;
	int rc;

	if (check_username(c, raw))
		return -1;
	u = user_find(m, trimmed(raw, nb, sizeof(nb)));
	if (!u) /* SelectUser answers an unknown user with an empty success */
		return data_sorted_list(c, NULL, 0);
	v = calloc(u->roles.n + 1, sizeof(*v));
	if (!v)
		return fail_oom(c);
	for (size_t i = 0; i < u->roles.n; i++)
		v[i] = u->roles.v[i];
	rc = data_sorted_list(c, v, u->roles.n);
	free(v);
	return rc;
}

static int h_user_list(struct md *m, struct call *c)
{
	const char **v = calloc(m->nusers + 1, sizeof(*v));
	int rc;

	if (!v)
		return fail_oom(c);
	for (size_t i = 0; i < m->nusers; i++)
		v[i] = m->users[i].name;
	rc = data_sorted_list(c, v, m->nusers);
	free(v);
	return rc;
}

static int user_role_op(struct md *m, struct call *c, int grant)
{
	char nb[MD_MAX_USERNAME + 2], rb[MD_MAX_NAME + 2];
	const char *uraw = fstr(c, "userName"), *rraw = fstr(c, "roleName");
	const char *name, *role;
	struct user *u;
	int i;

	if (check_username(c, uraw) || check_role_name(c, rraw))
		return -1;
	name = trimmed(uraw, nb, sizeof(nb));
	role = trimmed(rraw, rb, sizeof(rb));
	if (!role_find(m, role))
		return fail(c, C_UNEXPECTED, MSG_NO_ROLE);
	u = user_find(m, name);
	if (grant) {
		if (!u)
			return fail(c, C_UNEXPECTED, MSG_NO_USER);
		if (strv_find(&u->roles, role) >= 0)
			return 0; /* already bound: the catalogue saves the same key again */
		if (strv_add(&u->roles, role))
			return fail_oom(c);
		c->changed = 1;
		return 0;
	}
	if (u && (i = strv_find(&u->roles, role)) >= 0) {
		strv_del(&u->roles, (size_t)i);
		c->changed = 1;
	}
	return 0; /* revoking a binding that does not exist succeeds */
}

static int h_user_grant(struct md *m, struct call *c)
{
	return user_role_op(m, c, 1);
}

static int h_user_revoke(struct md *m, struct call *c)
{
	return user_role_op(m, c, 0);
}

/* ---- roles ------------------------------------------------------------------------- */

static int h_role_create(struct md *m, struct call *c)
{
	char rb[MD_MAX_NAME + 2];
	const char *raw = fstr(c, "roleName"), *name;

	if (check_role_name(c, raw))
		return -1;
	name = trimmed(raw, rb, sizeof(rb));
	if (role_find(m, name))
		return fail(c, C_UNEXPECTED, "role [%s] already exists", name);
	/* the built-in admin and public count: they are ordinary catalogue entries */
	if ((long)m->nroles >= m->max_roles)
		return fail(
		    c, C_UNEXPECTED,
		    "unable to create role because the number of roles has reached the limit");
	if (!role_add(m, name))
		return fail_oom(c);
	c->changed = 1;
	return 0;
}

static int h_role_drop(struct md *m, struct call *c)
{
	char rb[MD_MAX_NAME + 2];
	const char *raw = fstr(c, "roleName"), *name;
	struct role *r;

	if (check_role_name(c, raw))
		return -1;
	name = trimmed(raw, rb, sizeof(rb));
	if (strcmp(name, "admin") == 0 || strcmp(name, "public") == 0)
		return fail(c, C_NOT_PERMITTED,
		            "the role[%s] is a default role, which can't be dropped: privilege not "
		            "permitted",
		            name);
	r = role_find(m, name);
	if (!r)
		return fail(c, C_UNEXPECTED, MSG_NO_ROLE);
	/* REST has no forceDrop: a role that still holds grants is refused; users bound to
	 * it are not a reason to refuse, their bindings go with the role */
	if (r->ng)
		return fail(
		    c, C_UNEXPECTED,
		    "fail to drop the role that it has privileges. Use REVOKE API to revoke "
		    "privileges");
	role_remove(m, r);
	c->changed = 1;
	return 0;
}

static int h_role_list(struct md *m, struct call *c)
{
	const char **v = calloc(m->nroles + 1, sizeof(*v));
	int rc;

	if (!v)
		return fail_oom(c);
	for (size_t i = 0; i < m->nroles; i++)
		v[i] = m->roles[i].name;
	rc = data_sorted_list(c, v, m->nroles);
	free(v);
	return rc;
}

static int cmp_grant(const void *a, const void *b)
{
	const struct grant *x = *(const struct grant *const *)a;
	const struct grant *y = *(const struct grant *const *)b;
	int d = strcmp(x->type, y->type);

	if (!d)
		d = strcmp(x->db, y->db);
	if (!d)
		d = strcmp(x->object, y->object);
	if (!d)
		d = strcmp(x->priv, y->priv);
	return d;
}

static int h_role_describe(struct md *m, struct call *c)
{
	char rb[MD_MAX_NAME + 2];
	const char *raw = fstr(c, "roleName");
	const struct grant **v;
	struct role *r;
	size_t n = 0;
	yajl_gen g;

	if (check_role_name(c, raw))
		return -1;
	r = role_find(m, trimmed(raw, rb, sizeof(rb)));
	if (!r)
		return fail(c, C_UNEXPECTED, MSG_NO_ROLE);
	v = calloc(r->ng + 1, sizeof(*v));
	g = jgen_new();
	if (!v || !g) {
		free(v);
		if (g)
			yajl_gen_free(g);
		return fail_oom(c);
	}
	/* ListGrant: the grants on the request's database, on "*", or all for "*" */
	for (size_t i = 0; i < r->ng; i++)
		if (glob1(r->g[i].db, c->db) || strcmp(c->db, "*") == 0)
			v[n++] = &r->g[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_grant);
	jao(g);
	for (size_t i = 0; i < n; i++) {
		jo(g);
		jkv(g, "objectType", v[i]->type);
		jkv(g, "objectName", v[i]->object);
		jkv(g, "privilege", v[i]->priv);
		jkv(g, "dbName", v[i]->db);
		jkv(g, "grantor", v[i]->grantor);
		jc(g);
	}
	jac(g);
	free(v);
	c->data = jgen_finish(g);
	return c->data ? 0 : fail_oom(c);
}

/* rootcoord validatePrivilegeGroupParams */
static int check_group_scope(struct md *m, struct call *c, const char *priv, const char *db,
                             const char *coll)
{
	const struct builtin_group *bg = builtin_group(priv);
	const struct group *g = group_find(m, priv);
	const char *first;

	if (bg && bg->is_default)
		first = bg->privs[0];
	else if (g && g->privs.n)
		first = g->privs.v[0];
	else
		return 0; /* a privilege: no constraint on dbName/collectionName */
	switch (privilege_level(first)) {
	case LVL_CLUSTER:
		if (strcmp(db, "*") || strcmp(coll, "*"))
			return fail(c, C_PARAM,
			            "dbName and collectionName should be * for the cluster level "
			            "privilege: %s: invalid parameter",
			            priv);
		return 0;
	case LVL_DATABASE:
		if (coll[0] && strcmp(coll, "*"))
			return fail(c, C_PARAM,
			            "collectionName should be * for the database level privilege: "
			            "%s: invalid parameter",
			            priv);
		return 0;
	case LVL_COLLECTION:
		if (!strcmp(db, "*") && strcmp(coll, "*") && coll[0])
			return fail(
			    c, C_PARAM,
			    "please specify database name for the collection level privilege: "
			    "%s: invalid parameter",
			    priv);
		return 0;
	default:
		return fail(c, C_UNEXPECTED, "not found the privilege level");
	}
}

static int privilege_op(struct md *m, struct call *c, int grant)
{
	char rb[MD_MAX_NAME + 2];
	const char *rraw = fstr(c, "roleName"), *priv = fstr(c, "privilege");
	const char *dbraw = fstr(c, "dbName"), *coll = fstr(c, "collectionName");
	const char *db = dbraw[0] ? dbraw : "default", *type;
	struct role *r;
	struct grant *g;

	/* proxy: validateOperatePrivilegeV2Params */
	if (check_role_name(c, rraw))
		return -1;
	if (strcmp(priv, "*") && check_name(c, priv, "Privilege"))
		return -1;
	if (dbraw[0] && strcmp(dbraw, "*") && check_db_name(c, dbraw))
		return -1;
	if (strcmp(coll, "*") && check_name(c, coll, "collection name"))
		return -1;
	/* rootcoord: OperatePrivilege, version v2 */
	r = role_find(m, trimmed(rraw, rb, sizeof(rb)));
	if (!r)
		return fail(c, C_UNEXPECTED, MSG_NO_ROLE);
	if (strcmp(priv, "*") && !group_find(m, priv) && !privilege_defined(priv))
		return fail(c, C_UNEXPECTED, "not found the privilege name[%s]", priv);
	if (check_group_scope(m, c, priv, db, coll))
		return -1;
	type = object_type_of(priv);
	g = grant_find(r, type, db, coll, priv);
	if (grant) {
		if (g)
			return 0; /* "has been granted": an ignorable error, so success */
		if (r->ng >= MD_MAX_GRANTS)
			return fail(c, C_UNEXPECTED,
			            "too many grants for role %s in the test double", r->name);
		if (grant_add(r, type, db, coll, priv, c->user))
			return fail_oom(c);
		c->changed = 1;
	} else if (g) {
		grant_remove(r, g);
		c->changed = 1;
	}
	return 0; /* revoking a grant that does not exist succeeds */
}

static int h_grant_v2(struct md *m, struct call *c)
{
	return privilege_op(m, c, 1);
}

static int h_revoke_v2(struct md *m, struct call *c)
{
	return privilege_op(m, c, 0);
}

/* ---- privilege groups -------------------------------------------------------------- */

static int h_group_create(struct md *m, struct call *c)
{
	const char *name = fstr(c, "privilegeGroupName");

	if (check_group_name(c, name))
		return -1;
	if (group_find(m, name) || privilege_defined(name))
		return fail(c, C_PARAM,
		            "privilege group name [%s] is defined by built in privileges or "
		            "privilege groups in system: invalid parameter",
		            name);
	if (m->ngroups >= MD_MAX_GROUPS)
		return fail(c, C_UNEXPECTED, "too many privilege groups in the test double");
	if (!group_add(m, name))
		return fail_oom(c);
	c->changed = 1;
	return 0;
}

static int h_group_drop(struct md *m, struct call *c)
{
	const char *name = fstr(c, "privilegeGroupName");
	struct group *g;

	if (check_group_name(c, name))
		return -1;
	if (builtin_group(name))
		return fail(c, C_PARAM,
		            "the privilege group name [%s] is defined by built in privilege groups "
		            "in system: invalid parameter",
		            name);
	for (size_t i = 0; i < m->nroles; i++)
		for (size_t k = 0; k < m->roles[i].ng; k++)
			if (strcmp(m->roles[i].g[k].priv, name) == 0)
				return fail(c, C_UNEXPECTED,
				            "privilege group [%s] is used by role [%s], Use REVOKE "
				            "API to revoke it first",
				            name, m->roles[i].name);
	g = group_find(m, name);
	if (g) { /* dropping a group that does not exist succeeds */
		group_remove(m, g);
		c->changed = 1;
	}
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	return strcmp((*(const struct group *const *)a)->name,
	              (*(const struct group *const *)b)->name);
}

static int h_group_list(struct md *m, struct call *c)
{
	const struct group **v = calloc(m->ngroups + 1, sizeof(*v));
	struct buf privs = BUF_INIT(64 * 1024);
	yajl_gen g = jgen_new();
	int rc = 0;

	if (!v || !g) {
		free(v);
		if (g)
			yajl_gen_free(g);
		return fail_oom(c);
	}
	for (size_t i = 0; i < m->ngroups; i++)
		v[i] = &m->groups[i];
	if (m->ngroups > 1)
		qsort(v, m->ngroups, sizeof(*v), cmp_group);
	jo(g);
	jka(g, "privilegeGroups");
	for (size_t i = 0; i < m->ngroups; i++) {
		buf_reset(&privs);
		for (size_t k = 0; k < v[i]->privs.n; k++)
			if (buf_printf(&privs, "%s%s", k ? "," : "", v[i]->privs.v[k]))
				rc = -1;
		jo(g);
		jkv(g, "privilegeGroupName", v[i]->name);
		jkv(g, "privileges", buf_str(&privs));
		jc(g);
	}
	jac(g);
	jc(g);
	free(v);
	buf_free(&privs);
	c->data = jgen_finish(g);
	return c->data && !rc ? 0 : fail_oom(c);
}

static int group_op(struct md *m, struct call *c, int add)
{
	const char *name = fstr(c, "privilegeGroupName");
	yajl_val list = member(c->body, "privileges");
	size_t n = json_array_len(list);
	struct group *g;

	if (check_group_name(c, name))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *p = json_str(json_array_at(list, i));
		if (strcmp(p ? p : "", "*") && check_name(c, p ? p : "", "Privilege"))
			return -1;
	}
	if (builtin_group(name))
		return fail(c, C_PARAM,
		            "the privilege group name [%s] is defined by built in privilege groups "
		            "in system: invalid parameter",
		            name);
	g = group_find(m, name);
	if (!g)
		return fail(c, C_PARAM,
		            "there is no privilege group name [%s] defined in system to operate: "
		            "invalid parameter",
		            name);
	if (n == 0)
		return fail(
		    c, C_PARAM,
		    "privileges is empty when alter the privilege group: invalid parameter");
	for (size_t i = 0; i < n; i++) {
		const char *p = json_str(json_array_at(list, i));
		if (!privilege_defined(p))
			return fail(
			    c, C_PARAM,
			    "there is no privilege name or privilege group name [%s] defined "
			    "in system to operate: invalid parameter",
			    p);
	}
	if (add) {
		/* all privileges of a group share one privilege level */
		enum level lvl = LVL_NONE;
		int have = 0;
		for (size_t i = 0; i < g->privs.n + n; i++) {
			const char *p = i < g->privs.n
			                    ? g->privs.v[i]
			                    : json_str(json_array_at(list, i - g->privs.n));
			enum level l = privilege_level(p);
			if (have && l != lvl)
				return fail(c, C_UNEXPECTED,
				            "privileges are not the same privilege level");
			lvl = l;
			have = 1;
		}
		for (size_t i = 0; i < n; i++) {
			const char *p = json_str(json_array_at(list, i));
			if (strv_find(&g->privs, p) >= 0)
				continue;
			if (strv_add(&g->privs, p))
				return fail_oom(c);
			c->changed = 1;
		}
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int k = strv_find(&g->privs, json_str(json_array_at(list, i)));
		if (k >= 0) {
			strv_del(&g->privs, (size_t)k);
			c->changed = 1;
		}
	}
	return 0;
}

static int h_group_add(struct md *m, struct call *c)
{
	return group_op(m, c, 1);
}

static int h_group_remove(struct md *m, struct call *c)
{
	return group_op(m, c, 0);
}

/* ---- databases ---------------------------------------------------------------------- */

/* May user see database db in databases/list? As rootcoord's listDatabaseTask: root sees
 * every database, and so does a member of admin; anyone else (superusers included) the
 * databases where one of their roles other than public holds a grant, all of them when a
 * grant is on "*". */
static int db_visible(struct md *m, const char *user, const char *db)
{
	const struct user *u = user_find(m, user);

	if (strcmp(user, "root") == 0)
		return 1;
	for (size_t i = 0; u && i < u->roles.n; i++) {
		const struct role *r;
		if (strcmp(u->roles.v[i], "admin") == 0)
			return 1;
		if (strcmp(u->roles.v[i], "public") == 0)
			continue;
		r = role_find(m, u->roles.v[i]);
		for (size_t k = 0; r && k < r->ng; k++)
			if (strcmp(r->g[k].db, "*") == 0 || strcmp(r->g[k].db, db) == 0)
				return 1;
	}
	return 0;
}

static int h_db_list(struct md *m, struct call *c)
{
	const char **v = calloc(m->ndbs + 1, sizeof(*v));
	size_t n = 0;
	int rc;

	if (!v)
		return fail_oom(c);
	for (size_t i = 0; i < m->ndbs; i++)
		if (db_visible(m, c->user, m->dbs[i].name))
			v[n++] = m->dbs[i].name;
	rc = data_sorted_list(c, v, n);
	free(v);
	return rc;
}

/* describeDatabase: {"dbID":N,"dbName":"d","properties":[{"key":"k","value":"v"}]}, keys
 * in encoding/json's map order; an empty key or value is left out (protobuf omitempty) */
static int h_db_describe(struct md *m, struct call *c)
{
	const char *name = fstr(c, "dbName");
	const struct database *d = db_find(m, name);
	yajl_gen g;

	if (!d)
		return fail(c, C_DB_NOT_FOUND, "database not found[database=%s]", name);
	g = jgen_new();
	if (!g)
		return fail_oom(c);
	jo(g);
	jki(g, "dbID", d->id);
	jkv(g, "dbName", d->name);
	jka(g, "properties");
	for (size_t i = 0; i < d->nprops; i++) {
		jo(g);
		if (d->props[i].key[0])
			jkv(g, "key", d->props[i].key);
		if (d->props[i].value[0])
			jkv(g, "value", d->props[i].value);
		jc(g);
	}
	jac(g);
	jc(g);
	c->data = jgen_finish(g);
	return c->data ? 0 : fail_oom(c);
}

/* fmt.Sprintf("%v", value) of a decoded JSON value, near enough: strings as they are,
 * booleans and numbers as written, null as <nil>; objects and arrays as their JSON text
 * (Go would print map[...] / [...]). Caller frees; NULL when out of memory. */
static char *prop_value(yajl_val v)
{
	switch (v ? v->type : yajl_t_null) {
	case yajl_t_string:
		return strdup(v->u.string);
	case yajl_t_true:
		return strdup("true");
	case yajl_t_false:
		return strdup("false");
	case yajl_t_number:
		return strdup(v->u.number.r);
	case yajl_t_null:
		return strdup("<nil>");
	default:
		return json_dump(v);
	}
}

static int h_db_create(struct md *m, struct call *c)
{
	const char *name = fstr(c, "dbName");
	yajl_val props = member(c->body, "properties");
	size_t np = props && props->type == yajl_t_object ? props->u.object.len : 0;
	char **vals = NULL;
	const char *user_key = "";
	int enabled = 0, disabled = 0, encrypt, rc = -1;
	struct database *d;
	long long id;
	char ez[32];

	/* proxy: createDatabaseTask.PreExecute */
	if (check_db_name(c, name))
		return -1;
	if (np > MD_MAX_DB_PROPS)
		return fail(c, C_PARAM,
		            "more than %d properties (a bound of the milvus test "
		            "double): invalid parameter",
		            MD_MAX_DB_PROPS);
	/* rootcoord: CheckIfDatabaseCreatable */
	if (db_find(m, name))
		return fail(c, C_PARAM, "database already exist: %s: invalid parameter", name);
	if ((long)m->ndbs >= m->max_databases)
		return fail(c, C_DB_LIMIT, "exceeded the limit number of database[limit=%ld]",
		            m->max_databases);
	id = m->next_db_id++; /* idAllocator.AllocOne, before the cipher check */
	vals = calloc(np + 1, sizeof(*vals));
	if (!vals)
		return fail_oom(c);
	for (size_t i = 0; i < np; i++) {
		const char *k = props->u.object.keys[i];
		vals[i] = prop_value(props->u.object.values[i]);
		if (!vals[i]) {
			fail_oom(c);
			goto out;
		}
		if (strcmp(k, P_ENABLED) == 0) {
			enabled = strcasecmp(vals[i], "true") == 0;
			disabled = strcasecmp(vals[i], "false") == 0;
		} else if (strcmp(k, P_KEY) == 0) {
			user_key = vals[i];
		}
	}
	/* hookutil.TidyDBCipherProperties */
	if (!m->cipher_plugin) {
		if (enabled) {
			fail(c, C_UNEXPECTED, MSG_NO_CIPHER);
			goto out;
		}
		encrypt = 0; /* the properties stay as given, cipher.* included */
	} else {
		encrypt = !disabled && (enabled || m->cipher_default_key);
		if (encrypt && !*user_key && !m->cipher_default_key) {
			fail(c, C_UNEXPECTED, MSG_NO_CIPHER_KEY);
			goto out;
		}
	}
	d = db_add(m, name, id);
	if (!d) {
		fail_oom(c);
		goto out;
	}
	for (size_t i = 0; i < np; i++) {
		const char *k = props->u.object.keys[i];
		if (m->cipher_plugin &&
		    (strcmp(k, P_ENABLED) == 0 || strcmp(k, P_EZID) == 0 || strcmp(k, P_KEY) == 0))
			continue; /* replaced below, or dropped: a plain database has none */
		if (db_prop_add(d, k, vals[i]))
			goto oom;
	}
	snprintf(ez, sizeof(ez), "%lld", id);
	if (encrypt && (db_prop_add(d, P_ENABLED, "true") || db_prop_add(d, P_EZID, ez) ||
	                db_prop_add(d, P_KEY, *user_key ? user_key : m->cipher_default_key)))
		goto oom;
	c->changed = 1;
	rc = 0;
	goto out;
oom:
	/* keep no half-made database */
	db_clear(d);
	m->ndbs--;
	fail_oom(c);
out:
	for (size_t i = 0; i < np; i++)
		free(vals[i]);
	free(vals);
	return rc;
}

/* ---- routing table ----------------------------------------------------------------- */

#define V2 "/v2/vectordb"
#define F_USER                                                                                     \
	{                                                                                          \
		"userName", F_STR, 1                                                               \
	}
#define F_ROLE                                                                                     \
	{                                                                                          \
		"roleName", F_STR, 1                                                               \
	}
#define F_DB                                                                                       \
	{                                                                                          \
		"dbName", F_STR, 0                                                                 \
	}
#define F_GROUP                                                                                    \
	{"privilegeGroupName", F_STR, 1},                                                          \
	{                                                                                          \
		"privileges", F_STRV, 0                                                            \
	}

static const struct endpoint endpoints[N_ENDPOINTS] = {
    {V2 "/users/create",
     "PasswordReq",
     {F_USER, {"password", F_STR, 1}},
     0,
     "Global",
     "CreateOwnership",
     NULL,
     h_user_create},
    {V2 "/users/update_password",
     "NewPasswordReq",
     {F_USER, {"password", F_STR, 1}, {"newPassword", F_STR, 1}},
     0,
     "User",
     "UpdateUser",
     "userName",
     h_user_password},
    {V2 "/users/drop", "UserReq", {F_USER}, 0, "Global", "DropOwnership", NULL, h_user_drop},
    {V2 "/users/describe",
     "UserReq",
     {F_USER},
     0,
     "User",
     "SelectUser",
     "userName",
     h_user_describe},
    {V2 "/users/list", "DatabaseReq", {F_DB}, 1, "Global", "SelectOwnership", NULL, h_user_list},
    {V2 "/users/grant_role",
     "UserRoleReq",
     {F_USER, F_ROLE},
     0,
     "Global",
     "ManageOwnership",
     NULL,
     h_user_grant},
    {V2 "/users/revoke_role",
     "UserRoleReq",
     {F_USER, F_ROLE},
     0,
     "Global",
     "ManageOwnership",
     NULL,
     h_user_revoke},
    {V2 "/roles/create",
     "RoleReq",
     {F_DB, F_ROLE},
     1,
     "Global",
     "CreateOwnership",
     NULL,
     h_role_create},
    {V2 "/roles/drop", "RoleReq", {F_DB, F_ROLE}, 1, "Global", "DropOwnership", NULL, h_role_drop},
    {V2 "/roles/list", "DatabaseReq", {F_DB}, 1, "Global", "SelectOwnership", NULL, h_role_list},
    {V2 "/roles/describe",
     "RoleReq",
     {F_DB, F_ROLE},
     1,
     "Global",
     "SelectOwnership",
     NULL,
     h_role_describe},
    {V2 "/roles/grant_privilege_v2",
     "GrantV2Req",
     {F_ROLE, F_DB, {"collectionName", F_STR, 0}, {"privilege", F_STR, 1}},
     0,
     "Global",
     "ManageOwnership",
     NULL,
     h_grant_v2},
    {V2 "/roles/revoke_privilege_v2",
     "GrantV2Req",
     {F_ROLE, F_DB, {"collectionName", F_STR, 0}, {"privilege", F_STR, 1}},
     0,
     "Global",
     "ManageOwnership",
     NULL,
     h_revoke_v2},
    {V2 "/privilege_groups/create",
     "PrivilegeGroupReq",
     {F_GROUP},
     0,
     "Global",
     "CreatePrivilegeGroup",
     NULL,
     h_group_create},
    {V2 "/privilege_groups/drop",
     "PrivilegeGroupReq",
     {F_GROUP},
     0,
     "Global",
     "DropPrivilegeGroup",
     NULL,
     h_group_drop},
    {V2 "/privilege_groups/list",
     "DatabaseReq",
     {F_DB},
     1,
     "Global",
     "ListPrivilegeGroups",
     NULL,
     h_group_list},
    {V2 "/privilege_groups/add_privileges_to_group",
     "PrivilegeGroupReq",
     {F_GROUP},
     0,
     "Global",
     "OperatePrivilegeGroup",
     NULL,
     h_group_add},
    {V2 "/privilege_groups/remove_privileges_from_group",
     "PrivilegeGroupReq",
     {F_GROUP},
     0,
     "Global",
     "OperatePrivilegeGroup",
     NULL,
     h_group_remove},
    /* listDatabases: wrapperProxy without checkAuth; the proxy filters by privilege */
    {V2 "/databases/list", "EmptyReq", {{NULL, F_STR, 0}}, 0, "Global", NULL, NULL, h_db_list},
    {V2 "/databases/describe",
     "DatabaseReqRequiredName",
     {{"dbName", F_STR, 1}},
     1,
     "Global",
     "DescribeDatabase",
     NULL,
     h_db_describe},
    {V2 "/databases/create",
     "DatabaseReqWithProperties",
     {{"dbName", F_STR, 1}, {"properties", F_MAP, 0}},
     1,
     "Global",
     "CreateDatabase",
     NULL,
     h_db_create},
};

static int endpoint_index(const char *path)
{
	for (int i = 0; i < N_ENDPOINTS; i++)
		if (strcmp(endpoints[i].path, path) == 0)
			return i;
	return -1;
}

/* ---- persistence ------------------------------------------------------------------- */

/* Write data to path atomically: a 0600 temporary file beside it, fsync, rename. */
static int write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	size_t off = 0;
	int fd, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	return rc;
}

static int state_save(struct md *m)
{
	yajl_gen g;
	char *doc;
	int rc;

	if (!m->state_file)
		return 0;
	g = jgen_new();
	if (!g)
		return -1;
	jo(g);
	jki(g, "version", 1);
	jka(g, "users");
	for (size_t i = 0; i < m->nusers; i++) {
		jo(g);
		jkv(g, "name", m->users[i].name);
		jkv(g, "hash", m->users[i].hash); /* bcrypt only, never the password */
		jka(g, "roles");
		for (size_t k = 0; k < m->users[i].roles.n; k++)
			js(g, m->users[i].roles.v[k]);
		jac(g);
		jc(g);
	}
	jac(g);
	jka(g, "roles");
	for (size_t i = 0; i < m->nroles; i++) {
		jo(g);
		jkv(g, "name", m->roles[i].name);
		jka(g, "grants");
		for (size_t k = 0; k < m->roles[i].ng; k++) {
			const struct grant *gr = &m->roles[i].g[k];
			jo(g);
			jkv(g, "objectType", gr->type);
			jkv(g, "objectName", gr->object);
			jkv(g, "dbName", gr->db);
			jkv(g, "privilege", gr->priv);
			jkv(g, "grantor", gr->grantor);
			jc(g);
		}
		jac(g);
		jc(g);
	}
	jac(g);
	jka(g, "privilegeGroups");
	for (size_t i = 0; i < m->ngroups; i++) {
		jo(g);
		jkv(g, "name", m->groups[i].name);
		jka(g, "privileges");
		for (size_t k = 0; k < m->groups[i].privs.n; k++)
			js(g, m->groups[i].privs.v[k]);
		jac(g);
		jc(g);
	}
	jac(g);
	jka(g, "databases");
	for (size_t i = 0; i < m->ndbs; i++) {
		const struct database *d = &m->dbs[i];
		jo(g);
		jkv(g, "name", d->name);
		jki(g, "id", d->id);
		jka(g, "properties");
		for (size_t k = 0; k < d->nprops; k++) {
			jo(g);
			jkv(g, "key", d->props[k].key);
			jkv(g, "value", d->props[k].value);
			jc(g);
		}
		jac(g);
		jc(g);
	}
	jac(g);
	jki(g, "nextDatabaseID", m->next_db_id);
	jc(g);
	doc = jgen_finish(g);
	if (!doc)
		return -1;
	rc = write_atomic(m->state_file, doc, strlen(doc));
	free(doc);
	if (rc)
		log_warn(NULL, "state file %s: cannot write", m->state_file);
	return rc;
}

static int state_load_roles(struct md *m, yajl_val roles, char *err, size_t errlen)
{
	for (size_t i = 0; i < json_array_len(roles); i++) {
		yajl_val jr = json_array_at(roles, i), grants = json_get(jr, "grants", NULL);
		const char *name = json_get_str(jr, "name", NULL);
		struct role *r;

		if (!name || check_role_name(NULL, name) || role_find(m, name)) {
			snprintf(err, errlen, "role %zu: missing, invalid or duplicate name", i);
			return -1;
		}
		r = role_add(m, name);
		if (!r)
			goto oom;
		for (size_t k = 0; k < json_array_len(grants); k++) {
			yajl_val jg = json_array_at(grants, k);
			const char *t = json_get_str(jg, "objectType", NULL);
			const char *o = json_get_str(jg, "objectName", NULL);
			const char *d = json_get_str(jg, "dbName", NULL);
			const char *p = json_get_str(jg, "privilege", NULL);
			const char *who = json_get_str(jg, "grantor", NULL);
			if (!t || !o || !d || !p || !who || k >= MD_MAX_GRANTS) {
				snprintf(err, errlen, "role %s: grant %zu is incomplete", name, k);
				return -1;
			}
			if (grant_add(r, t, d, o, p, who))
				goto oom;
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int state_load_dbs(struct md *m, yajl_val dbs, char *err, size_t errlen)
{
	for (size_t i = 0; i < json_array_len(dbs); i++) {
		yajl_val jd = json_array_at(dbs, i), props = json_get(jd, "properties", NULL);
		const char *name = json_get_str(jd, "name", NULL);
		long long id = json_get_int(jd, 0, "id", NULL);
		struct database *d;

		if (!name || check_db_name(NULL, name) || db_find(m, name) || id <= 0 ||
		    (long)m->ndbs >= m->max_databases || json_array_len(props) > MD_MAX_DB_PROPS) {
			snprintf(err, errlen, "database %zu: missing, invalid or duplicate", i);
			return -1;
		}
		for (size_t k = 0; k < m->ndbs; k++)
			if (m->dbs[k].id == id) {
				snprintf(err, errlen, "database %s: duplicate id %lld", name, id);
				return -1;
			}
		d = db_add(m, name, id);
		if (!d)
			goto oom;
		for (size_t k = 0; k < json_array_len(props); k++) {
			yajl_val jp = json_array_at(props, k);
			const char *key = json_get_str(jp, "key", NULL);
			const char *val = json_get_str(jp, "value", NULL);
			if (!key || !val) {
				snprintf(err, errlen, "database %s: property %zu is incomplete",
				         name, k);
				return -1;
			}
			if (db_prop_add(d, key, val))
				goto oom;
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int state_load(struct md *m, const char *path, char *err, size_t errlen)
{
	struct buf b = BUF_INIT(MD_MAX_STATE);
	yajl_val doc = NULL, users, groups;
	char perr[256];
	int rc = -1;

	if (read_file(path, MD_MAX_STATE, &b) != 0) {
		if (errno == ENOENT)
			return 0; /* a first start: nothing to load */
		snprintf(err, errlen, "state file %s: %s", path, strerror(errno));
		return -1;
	}
	if (json_parse(b.ptr, b.len, MD_JSON_DEPTH, MD_MAX_STATE, &doc, perr, sizeof(perr))) {
		snprintf(err, errlen, "state file %s: %s", path, perr);
		goto out;
	}
	if (json_get_int(doc, 0, "version", NULL) != 1) {
		snprintf(err, errlen, "state file %s: not version 1", path);
		goto out;
	}
	groups = json_get(doc, "privilegeGroups", NULL);
	for (size_t i = 0; i < json_array_len(groups); i++) {
		yajl_val jg = json_array_at(groups, i), privs = json_get(jg, "privileges", NULL);
		const char *name = json_get_str(jg, "name", NULL);
		struct group *g;
		if (!name || check_group_name(NULL, name) || group_find(m, name) ||
		    m->ngroups >= MD_MAX_GROUPS) {
			snprintf(err, errlen, "state file %s: privilege group %zu is invalid", path,
			         i);
			goto out;
		}
		g = group_add(m, name);
		if (!g)
			goto oom;
		for (size_t k = 0; k < json_array_len(privs); k++) {
			const char *p = json_str(json_array_at(privs, k));
			if (!p || !privilege_defined(p)) {
				snprintf(err, errlen, "state file %s: group %s: bad privilege",
				         path, name);
				goto out;
			}
			if (strv_find(&g->privs, p) < 0 && strv_add(&g->privs, p))
				goto oom;
		}
	}
	if (state_load_roles(m, json_get(doc, "roles", NULL), err, errlen))
		goto out;
	if (state_load_dbs(m, json_get(doc, "databases", NULL), perr, sizeof(perr))) {
		snprintf(err, errlen, "state file %s: %s", path, perr);
		goto out;
	}
	{
		long long next = json_get_int(doc, 0, "nextDatabaseID", NULL);
		if (next > m->next_db_id)
			m->next_db_id = next;
	}
	users = json_get(doc, "users", NULL);
	for (size_t i = 0; i < json_array_len(users); i++) {
		yajl_val ju = json_array_at(users, i), roles = json_get(ju, "roles", NULL);
		const char *name = json_get_str(ju, "name", NULL);
		const char *hash = json_get_str(ju, "hash", NULL);
		struct user *u;
		if (!name || check_username(NULL, name) || user_find(m, name) || !hash ||
		    strncmp(hash, "$2", 2) != 0 || strlen(hash) > 128) {
			snprintf(err, errlen, "state file %s: user %zu is invalid", path, i);
			goto out;
		}
		u = user_add(m, name);
		if (!u)
			goto oom;
		u->hash = strdup(hash);
		if (!u->hash)
			goto oom;
		for (size_t k = 0; k < json_array_len(roles); k++) {
			const char *r = json_str(json_array_at(roles, k));
			/* a binding to a role that is gone went with the role */
			if (r && role_find(m, r) && strv_find(&u->roles, r) < 0 &&
			    strv_add(&u->roles, r))
				goto oom;
		}
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (doc)
		yajl_tree_free(doc);
	buf_free(&b);
	return rc;
}

/* Built-in roles admin and public, root and the database "default" exist from the first
 * start on. */
static int state_init(struct md *m, const char *root_pw, int *changed)
{
	static const char *const builtin_roles[] = {"admin", "public"};
	struct user *u;

	if (m->next_db_id < MD_FIRST_DB_ID)
		m->next_db_id = MD_FIRST_DB_ID;
	if (!db_find(m, "default")) {
		/* MetaTable.createDefaultDb: with a cipher plugin and a default key the default
		 * database is an encryption zone from the first start (its ezID is a fresh ID) */
		struct database *d = db_add(m, "default", MD_DEFAULT_DB_ID);
		char ez[32];
		if (!d)
			return -1;
		if (m->cipher_plugin && m->cipher_default_key) {
			snprintf(ez, sizeof(ez), "%lld", m->next_db_id++);
			if (db_prop_add(d, P_ENABLED, "true") || db_prop_add(d, P_EZID, ez) ||
			    db_prop_add(d, P_KEY, m->cipher_default_key))
				return -1;
		}
		if (m->ndbs > 1) { /* keep "default" first */
			struct database t = m->dbs[m->ndbs - 1];
			memmove(&m->dbs[1], &m->dbs[0], (m->ndbs - 1) * sizeof(t));
			m->dbs[0] = t;
		}
		*changed = 1;
	}

	for (size_t i = 0; i < 2; i++) {
		if (role_find(m, builtin_roles[i]))
			continue;
		if (!role_add(m, builtin_roles[i]))
			return -1;
		*changed = 1;
	}
	if (user_find(m, "root"))
		return 0; /* as Milvus InitCredential: an existing root keeps its password */
	u = user_add(m, "root");
	if (!u)
		return -1;
	if (user_set_password(u, root_pw)) {
		user_remove(m, u);
		return -1;
	}
	u->has_sha = 0; /* the cache fills on the first login, like a restarted proxy */
	*changed = 1;
	return 0;
}

/* ---- HTTP -------------------------------------------------------------------------- */

static const char *reason_of(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	default:
		return "Internal Server Error";
	}
}

static void send_body(struct evhttp_request *req, int status, const char *ctype, const char *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *ob = evbuffer_new();

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (!ob) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evbuffer_add(ob, body, strlen(body));
	evhttp_send_reply(req, status, reason_of(status), ob);
	evbuffer_free(ob);
}

/* {"code":N,"message":...} or {"code":0,"data":...} */
static void send_envelope(struct evhttp_request *req, int status, int code, const char *msg,
                          const char *data)
{
	struct buf b = BUF_INIT(4 * 1024 * 1024);
	char *doc = NULL;

	if (code == C_OK) {
		if (buf_printf(&b, "{\"code\":0,\"data\":%s}", data ? data : "{}") == 0)
			doc = buf_take(&b);
	} else {
		yajl_gen g = jgen_new();
		if (g) {
			jo(g);
			jki(g, "code", code);
			jkv(g, "message", msg ? msg : "");
			jc(g);
			doc = jgen_finish(g);
		}
	}
	buf_free(&b);
	if (!doc) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	send_body(req, status, "application/json; charset=utf-8", doc);
	free(doc);
}

static const char *method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	default:
		return "OTHER";
	}
}

/* One line per request: time method path caller milvus-code http-status. Never a
 * password, a header or a body; the path is cut and stripped to printable ASCII. */
static void log_request(struct md *m, struct evhttp_request *req, const char *path,
                        const char *user, int code, int status)
{
	char p[129], ts[32], cb[16];
	struct tm tm;
	time_t now = time(NULL);
	size_t i;

	if (!m->logf)
		return;
	for (i = 0; path && path[i] && i < sizeof(p) - 1; i++)
		p[i] = path[i] > ' ' && path[i] < 0x7f ? path[i] : '?';
	p[i] = '\0';
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (code >= 0)
		snprintf(cb, sizeof(cb), "%d", code);
	else
		snprintf(cb, sizeof(cb), "-");
	fprintf(m->logf, "%s %s %s %s %s %d\n", ts, method_name(req), i ? p : "-",
	        user ? user : "-", cb, status);
	fflush(m->logf);
}

static int peer_is_loopback(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (!evcon)
		return 0;
	evhttp_connection_get_peer(evcon, &addr, &port);
	return addr && (strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0);
}

static void on_double(struct md *m, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int is_stats = strcmp(path, "/_double/stats") == 0;
	int is_reset = strcmp(path, "/_double/reset_stats") == 0;
	yajl_gen g;
	char *doc;

	if (!peer_is_loopback(req)) {
		send_body(req, 403, "text/plain; charset=utf-8", "loopback only\n");
		return;
	}
	if (!is_stats && !is_reset) {
		send_body(req, 404, "text/plain; charset=utf-8", "404 page not found");
		return;
	}
	if ((is_stats && cmd != EVHTTP_REQ_GET) || (is_reset && cmd != EVHTTP_REQ_POST)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
		                  is_stats ? "GET" : "POST");
		send_body(req, 405, "text/plain; charset=utf-8", "method not allowed\n");
		return;
	}
	if (is_reset) {
		m->requests = m->auth_failures = 0;
		memset(m->hits, 0, sizeof(m->hits));
	}
	g = jgen_new();
	if (!g) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	jo(g);
	jki(g, "requests", (long long)m->requests);
	jko(g, "by_path");
	for (int i = 0; i <= N_ENDPOINTS; i++)
		if (m->hits[i])
			jki(g, i < N_ENDPOINTS ? endpoints[i].path : "(other)",
			    (long long)m->hits[i]);
	jc(g);
	jki(g, "auth_failures", (long long)m->auth_failures);
	jc(g);
	doc = jgen_finish(g);
	if (!doc) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	send_body(req, 200, "application/json; charset=utf-8", doc);
	free(doc);
}

/* The caller named by the Authorization header when its password verifies, as the REST
 * server's authenticate middleware: Basic, "Bearer user:password" or bare "user:password".
 * 0 with the name copied to out, or -1. */
static int authenticate(struct md *m, struct evhttp_request *req, char *out, size_t outlen)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	struct buf cred = BUF_INIT(8192);
	const char *tok, *colon;
	char *name = NULL;
	int rc = -1;

	if (!h)
		return -1;
	if (strncasecmp(h, "Basic ", 6) == 0 && b64_decode(h + 6, strlen(h + 6), &cred) == 0 &&
	    cred.ptr && memchr(cred.ptr, '\0', cred.len) == NULL && strchr(cred.ptr, ':')) {
		tok = cred.ptr;
	} else {
		buf_free_secret(&cred);
		tok = strncmp(h, "Bearer ", 7) == 0 ? h + 7 : h;
	}
	colon = strchr(tok, ':');
	if (!colon || colon == tok || !colon[1])
		goto out;
	name = strndup(tok, (size_t)(colon - tok));
	if (!name || strlen(name) >= outlen)
		goto out;
	if (password_verify(m, name, colon + 1)) {
		memcpy(out, name, strlen(name) + 1);
		rc = 0;
	}
out:
	free(name);
	buf_free_secret(&cred);
	return rc;
}

static int body_is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(s[i]))
			return 0;
	return 1;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct md *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct call c;
	char user[MD_MAX_USERNAME + 1];
	struct evbuffer *in;
	char perr[256];
	size_t len;
	char *body;
	int ep, status = 200;

	if (!path || !*path)
		path = "/";
	if (strncmp(path, "/_double/", 9) == 0) {
		on_double(m, req, path);
		return;
	}
	memset(&c, 0, sizeof(c));
	buf_init(&c.msg, 8192);
	ep = endpoint_index(path);
	m->requests++;
	m->hits[ep >= 0 ? ep : N_ENDPOINTS]++;

	/* authenticate runs as middleware, before routing */
	if (authenticate(m, req, user, sizeof(user)) != 0) {
		m->auth_failures++;
		send_envelope(req, 401, C_NEED_AUTH, MSG_NEED_AUTH, NULL);
		log_request(m, req, path, NULL, C_NEED_AUTH, 401);
		goto out;
	}
	c.user = user;
	if (ep < 0 || evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		send_body(req, 404, "text/plain; charset=utf-8", "404 page not found");
		log_request(m, req, path, user, -1, 404);
		goto out;
	}
	c.ep = &endpoints[ep];

	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (len > MD_MAX_BODY) { /* evhttp enforces it too */
		send_body(req, 413, "text/plain; charset=utf-8", "request body too large\n");
		log_request(m, req, path, user, -1, 413);
		goto out;
	}
	body = len ? (char *)evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (len && !body) {
		fail_oom(&c);
	} else if (!len || body_is_blank(body, len)) {
		fail(&c, C_JSON, MSG_JSON ", the request body should be nil, however {} is valid");
	} else if (json_parse(body, len, MD_JSON_DEPTH, MD_MAX_BODY, &c.body, perr, sizeof(perr))) {
		fail(&c, C_JSON, MSG_JSON ", error: %s", perr);
	}
	if (body)
		OPENSSL_cleanse(body, len); /* it may hold passwords */
	if (c.code)
		goto reply;
	if (bind_body(&c))
		goto reply;
	snprintf(c.db, sizeof(c.db), "%s", "default");
	if (c.ep->has_db && fstr(&c, "dbName")[0])
		snprintf(c.db, sizeof(c.db), "%s", fstr(&c, "dbName"));
	if (authorize(m, &c)) {
		status = 403; /* checkAuthorizationV2 */
		goto reply;
	}
	if (c.ep->fn(m, &c) == 0 && c.changed)
		state_save(m);
	if (m->slow_ms > 0 && strcmp(path, m->slow_path) == 0) {
		/* the change is made (and saved); the answer comes late. The loop is
		 * blocked meanwhile: a crash test does nothing else during it. */
		log_request(m, req, path, user, c.code, status);
		if (m->logf)
			fflush(m->logf);
		usleep((useconds_t)m->slow_ms * 1000);
		send_envelope(req, status, c.code, buf_str(&c.msg), c.data);
		goto out;
	}
reply:
	send_envelope(req, status, c.code, buf_str(&c.msg), c.data);
	log_request(m, req, path, user, c.code, status);
out:
	if (c.body)
		json_free_secret(c.body);
	free(c.data);
	buf_free(&c.msg);
	OPENSSL_cleanse(user, sizeof(user));
}

/* ---- TLS --------------------------------------------------------------------------- */

#define TLS12_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(err, errlen, "%s %s: %s", what, file, reason);
}

static SSL_CTX *tls_ctx(const char *cert, const char *key, const char *client_ca, char *err,
                        size_t errlen)
{
	static const unsigned char sid[] = "milvusd";
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	if (!c) {
		ssl_err(err, errlen, "cannot create a TLS context for", cert);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                           SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(c, sid, sizeof(sid) - 1);
	if (SSL_CTX_set_cipher_list(c, TLS12_CIPHERS) != 1) {
		ssl_err(err, errlen, "cannot set the TLS 1.2 ciphers for", cert);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		ssl_err(err, errlen, "cannot load the certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
		ssl_err(err, errlen, "cannot load the private key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(c) != 1) {
		ssl_err(err, errlen, "the private key does not match the certificate", cert);
		goto fail;
	}
	if (client_ca) { /* Milvus tlsMode 2: a verified client certificate is required */
		STACK_OF(X509_NAME) * names;
		if (SSL_CTX_load_verify_locations(c, client_ca, NULL) != 1) {
			ssl_err(err, errlen, "cannot load the client CA", client_ca);
			goto fail;
		}
		names = SSL_load_client_CA_file(client_ca);
		if (names)
			SSL_CTX_set_client_CA_list(c, names);
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return c;
fail:
	SSL_CTX_free(c);
	return NULL;
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
	struct md *m = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(m->ctx);

	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* ---- main -------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: milvusd --cert FILE --key FILE [options]\n"
	       "A TEST DOUBLE of the Milvus REST API v2 (users, roles, privilege groups, "
	       "databases); not Milvus.\n"
	       "  --listen 127.0.0.1:PORT   where to serve HTTPS (default 127.0.0.1:19530; 0 picks "
	       "a port)\n"
	       "  --port-file FILE          write the port there once listening (atomically)\n"
	       "  --cert FILE, --key FILE   serving certificate chain and key (PEM)\n"
	       "  --client-ca FILE          require client certificates signed by this CA\n"
	       "  --root-password-file FILE root's first password (default Milvus)\n"
	       "  --super-users a,b         common.security.superUsers\n"
	       "  --max-users N             proxy.maxUserNum, root included (default 100)\n"
	       "  --max-roles N             proxy.maxRoleNum, admin and public included (default "
	       "10)\n"
	       "  --max-databases N         rootCoord.maxDatabaseNum, default included (default "
	       "64)\n"
	       "  --cipher-plugin           act as a Milvus build with a cipher plugin (default: "
	       "open\n"
	       "                            source Milvus, which refuses cipher.enabled=true)\n"
	       "  --cipher-default-key ARN  cipherPlugin.kms.defaultKey: encrypts \"default\" at "
	       "the\n"
	       "                            first start and every database not created with\n"
	       "                            cipher.enabled=false (needs --cipher-plugin)\n"
	       "  --state-file FILE         load at start, save after every change (bcrypt hashes "
	       "only)\n"
	       "  --log-file FILE           one line per request: time method path caller code "
	       "status\n"
	       "  --slow PATH=MS            fault injection: make the change, then answer PATH\n"
	       "                            MS later (the whole server waits; crash tests)\n"
	       "  --help\n");
}

static int split_listen(const char *l, long *port)
{
	const char *colon = strrchr(l, ':');

	if (!colon || (size_t)(colon - l) != strlen("127.0.0.1") ||
	    strncmp(l, "127.0.0.1", (size_t)(colon - l)) != 0)
		return -1;
	return parse_long(colon + 1, 0, 65535, port);
}

static int read_root_password(const char *file, struct buf *pw, char *err, size_t errlen)
{
	if (!file)
		return buf_adds(pw, "Milvus");
	if (read_file(file, MD_MAX_ROOT_PW, pw) != 0) {
		snprintf(err, errlen, "--root-password-file %s: %s", file, strerror(errno));
		return -1;
	}
	while (pw->len && (pw->ptr[pw->len - 1] == '\n' || pw->ptr[pw->len - 1] == '\r'))
		pw->ptr[--pw->len] = '\0';
	if (pw->len == 0 || pw->len > MD_BCRYPT_MAX || memchr(pw->ptr, '\0', pw->len)) {
		snprintf(err, errlen,
		         "--root-password-file %s: need 1 to %d bytes on one line (bcrypt's limit)",
		         file, MD_BCRYPT_MAX);
		return -1;
	}
	return 0;
}

static int parse_supers(struct md *m, const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char tb[MD_MAX_USERNAME + 2];
		const char *s = trimmed(tok, tb, sizeof(tb));
		if (*s && strv_find(&m->supers, s) < 0 && strv_add(&m->supers, s))
			rc = -1;
	}
	free(copy);
	return rc;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct md *m = arg;

	log_info(NULL, "signal %d: shutting down", (int)sig);
	event_base_loopexit(m->base, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"port-file", required_argument, NULL, 'p'},
	    {"cert", required_argument, NULL, 'c'},
	    {"key", required_argument, NULL, 'k'},
	    {"client-ca", required_argument, NULL, 'a'},
	    {"root-password-file", required_argument, NULL, 'r'},
	    {"slow", required_argument, NULL, 'W'},
	    {"super-users", required_argument, NULL, 's'},
	    {"max-users", required_argument, NULL, 'U'},
	    {"max-roles", required_argument, NULL, 'R'},
	    {"max-databases", required_argument, NULL, 'D'},
	    {"cipher-plugin", no_argument, NULL, 'C'},
	    {"cipher-default-key", required_argument, NULL, 'K'},
	    {"state-file", required_argument, NULL, 'S'},
	    {"log-file", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *listen = "127.0.0.1:19530", *port_file = NULL, *cert = NULL, *key = NULL;
	const char *client_ca = NULL, *root_file = NULL, *supers = NULL, *log_file = NULL;
	struct buf root_pw = BUF_INIT(MD_MAX_ROOT_PW + 1);
	struct event *ev_term = NULL, *ev_int = NULL;
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct md m;
	char err[512];
	long port;
	int ch, rc = 1, changed = 0;

	memset(&m, 0, sizeof(m));
	m.max_users = 100;
	m.max_roles = 10;
	m.max_databases = MD_MAX_DATABASES;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'a':
			client_ca = optarg;
			break;
		case 'r':
			root_file = optarg;
			break;
		case 's':
			supers = optarg;
			break;
		case 'W': {
			const char *eq = strchr(optarg, '=');
			if (!eq || (size_t)(eq - optarg) >= sizeof(m.slow_path) ||
			    parse_long(eq + 1, 1, 60000, &m.slow_ms)) {
				fprintf(stderr, "milvusd: --slow must be PATH=MS (1..60000)\n");
				return 2;
			}
			memcpy(m.slow_path, optarg, (size_t)(eq - optarg));
			break;
		}
		case 'S':
			m.state_file = optarg;
			break;
		case 'L':
			log_file = optarg;
			break;
		case 'U':
			if (parse_long(optarg, 1, 100000, &m.max_users)) {
				fprintf(stderr, "milvusd: --max-users: 1 to 100000\n");
				return 2;
			}
			break;
		case 'R':
			if (parse_long(optarg, 0, 100000, &m.max_roles)) {
				fprintf(stderr, "milvusd: --max-roles: 0 to 100000\n");
				return 2;
			}
			break;
		case 'D':
			if (parse_long(optarg, 1, 100000, &m.max_databases)) {
				fprintf(stderr, "milvusd: --max-databases: 1 to 100000\n");
				return 2;
			}
			break;
		case 'C':
			m.cipher_plugin = 1;
			break;
		case 'K':
			if (!*optarg) {
				fprintf(stderr, "milvusd: --cipher-default-key: a KMS key ARN\n");
				return 2;
			}
			m.cipher_default_key = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (m.cipher_default_key && !m.cipher_plugin) {
		fprintf(stderr, "milvusd: --cipher-default-key needs --cipher-plugin\n");
		return 2;
	}
	if (optind < argc || !cert || !key) {
		fprintf(stderr, "milvusd: --cert and --key are required\n");
		usage(stderr);
		return 2;
	}
	if (split_listen(listen, &port)) {
		fprintf(stderr, "milvusd: --listen %s: expected 127.0.0.1:PORT (loopback only)\n",
		        listen);
		return 2;
	}
	log_init(LOG_JSON, LOG_INFO);
	signal(SIGPIPE, SIG_IGN);

	if (read_root_password(root_file, &root_pw, err, sizeof(err))) {
		log_errorx(NULL, "%s", err);
		goto out;
	}
	if (supers && parse_supers(&m, supers)) {
		log_errorx(NULL, "out of memory");
		goto out;
	}
	if (log_file) {
		m.logf = fopen(log_file, "a");
		if (!m.logf) {
			log_warn(NULL, "--log-file %s", log_file);
			goto out;
		}
	}
	if (m.state_file && state_load(&m, m.state_file, err, sizeof(err))) {
		log_errorx(NULL, "%s", err);
		goto out;
	}
	if (state_init(&m, buf_str(&root_pw), &changed)) {
		log_errorx(NULL, "cannot create root and the built-in roles");
		goto out;
	}
	buf_free_secret(&root_pw);
	if (changed && m.state_file && state_save(&m))
		goto out;

	m.ctx = tls_ctx(cert, key, client_ca, err, sizeof(err));
	if (!m.ctx) {
		log_errorx(NULL, "%s", err);
		goto out;
	}
	m.base = event_base_new();
	m.http = m.base ? evhttp_new(m.base) : NULL;
	if (!m.http) {
		log_errorx(NULL, "cannot create the HTTP server");
		goto out;
	}
	evhttp_set_bevcb(m.http, bevcb, &m);
	evhttp_set_max_body_size(m.http, MD_MAX_BODY);
	evhttp_set_max_headers_size(m.http, 64 * 1024);
	evhttp_set_timeout(m.http, 30);
	evhttp_set_allowed_methods(m.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                       EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(m.http, on_request, &m);
	bound = evhttp_bind_socket_with_handle(m.http, "127.0.0.1", (ev_uint16_t)port);
	if (!bound) {
		log_errorx(NULL, "cannot listen on %s: %s", listen, strerror(errno));
		goto out;
	}
	/* as the webhook: without it each reply's second TLS record waits for the
	 * client's delayed ACK (~40 ms a request); accepted sockets inherit it */
	if (setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &(int){1},
	               sizeof(int)) != 0)
		log_warn(NULL, "cannot set TCP_NODELAY on %s", listen);
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0)
		m.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (port_file) {
		char pb[16];
		snprintf(pb, sizeof(pb), "%d\n", m.port);
		if (write_atomic(port_file, pb, strlen(pb))) {
			log_warn(NULL, "--port-file %s", port_file);
			goto out;
		}
	}
	ev_term = evsignal_new(m.base, SIGTERM, on_stop, &m);
	ev_int = evsignal_new(m.base, SIGINT, on_stop, &m);
	if (!ev_term || !ev_int || event_add(ev_term, NULL) || event_add(ev_int, NULL)) {
		log_errorx(NULL, "cannot install signal handlers");
		goto out;
	}
	{
		char ps[16], nu[16];
		const char *kv[] = {"port",
		                    ps,
		                    "users",
		                    nu,
		                    "mtls",
		                    client_ca ? "on" : "off",
		                    "cipher_plugin",
		                    m.cipher_plugin ? "on" : "off",
		                    NULL};
		snprintf(ps, sizeof(ps), "%d", m.port);
		snprintf(nu, sizeof(nu), "%zu", m.nusers);
		log_kv(LOG_INFO, NULL, "milvus test double serving", kv);
	}
	if (event_base_dispatch(m.base) < 0) {
		log_errorx(NULL, "event loop failed");
		goto out;
	}
	log_info(NULL, "stopped");
	rc = 0;
out:
	buf_free_secret(&root_pw);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (m.http)
		evhttp_free(m.http);
	if (m.base)
		event_base_free(m.base);
	SSL_CTX_free(m.ctx);
	if (m.logf)
		fclose(m.logf);
	state_free(&m);
	strv_free(&m.supers);
	return rc;
}
