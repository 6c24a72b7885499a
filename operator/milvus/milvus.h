/*
 * milvus: a client for the Milvus REST API v2, the part vecward needs to
 * manage users, roles, privileges, privilege groups and databases (prefix mv_).
 *
 * Every operation is one POST of a JSON body to
 * <base_url>/v2/vectordb/<group>/<op>. Milvus answers {"code":0,"data":...}
 * on success (older releases say code 200: also success) and
 * {"code":N,"message":"..."} on error, usually with HTTP 200; a request whose
 * credentials fail is refused with HTTP 401 and {"code":1800,...}, and a
 * privilege check may answer HTTP 403 with {"code":1401,...}.
 *
 * Invariants and conventions:
 *   - Functions return an enum mv_status (MV_OK is 0, errors are negative).
 *     Out-parameters are set only on MV_OK. Every function taking a
 *     struct mv_error fills it (err may be NULL): on success status MV_OK;
 *     on failure the status, the HTTP status (0 when no answer came), the
 *     Milvus code (0 when there was none) and a one-line lower-case message
 *     naming the operation ("users/create: user already exists"). A message
 *     never contains a request body or a credential: Milvus' own text has
 *     every password of the request replaced by "***", and is cut to
 *     printable ASCII.
 *   - An HTTP status other than 200 is MV_ERR_TRANSPORT, unless its body is a
 *     Milvus error ({"code":N != 0}), which is reported as MV_ERR_MILVUS with
 *     http_status kept: that is how Milvus reports a wrong password (401,
 *     code 1800), and mv_error_is_auth() and mv_authenticate() must see it.
 *   - Input from the network is capped: response bodies at MV_MAX_RESPONSE
 *     bytes (checked as they are read), JSON nesting at MV_MAX_DEPTH.
 *   - Arguments are checked before anything is sent: names must be non-empty,
 *     valid UTF-8, at most MV_MAX_ARG bytes; a bad one gives MV_ERR_INVALID.
 *   - Transport: TLS peer and host verification always on, against ca_pem
 *     only (never the system store), TLS 1.2 at least, HTTP/1.1 (Milvus
 *     shares its port with gRPC and routes HTTP/2 there); plain http only
 *     when base_url says http:// (tests). Never follows redirects, never uses
 *     a proxy from the environment, never retries, never logs.
 *   - Secrets (password, key PEM, the Authorization header, request bodies
 *     carrying a password) are wiped with OPENSSL_cleanse when released.
 *     libcurl keeps short-lived copies of headers and small bodies in its own
 *     buffers while a request is on the wire; those we cannot wipe.
 *   - A client owns one curl handle, so connections are reused across calls;
 *     it must be used by one thread at a time. Different clients are
 *     independent. The pure functions (mv_build_body, mv_parse_*,
 *     mv_error_*) do no I/O and are thread-safe.
 *
 * Ownership: struct mv_names / mv_grants / mv_groups / mv_database filled by a call belong
 * to the caller, released with the matching _free(), which leaves them empty
 * (and may be called again, or on a zeroed struct).
 */
#ifndef VW_MILVUS_H
#define VW_MILVUS_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#define MV_MAX_RESPONSE       (4u * 1024 * 1024) /* cap on a response body, bytes */
#define MV_MAX_DEPTH          32                 /* cap on response JSON nesting */
#define MV_MAX_ARG            4096               /* cap on one string argument, bytes */
#define MV_MAX_PRIVILEGES     1024               /* cap on privileges in one group call */
#define MV_MAX_PROPERTIES     64                 /* cap on properties in one database call */
#define MV_DEFAULT_TIMEOUT_MS 10000L

/* Milvus error codes the operator acts on. */
#define MV_CODE_DATABASE_NOT_FOUND 800
#define MV_CODE_INVALID_PARAMETER  1100  /* also "database already exist: <name>" */
#define MV_CODE_NOT_AUTHENTICATED  1400  /* wrong password */
#define MV_CODE_NOT_PERMITTED      1401  /* authenticated, but lacks the privilege */
#define MV_CODE_NEED_AUTHENTICATE  1800  /* missing or garbled credentials */
#define MV_CODE_GENERIC            65535 /* also "cipher plugin is missing" */

/* Database properties of Milvus' encryption (internal/util/hookutil): a
 * database created with cipher.enabled "true" and cipher.key <KMS key ARN>
 * is an encryption zone; Milvus adds cipher.ezID itself. A Milvus without a
 * cipher plugin refuses such a create (code 65535, "... cipher plugin is
 * missing"); cipher properties can never be altered afterwards. */
#define MV_PROP_CIPHER_ENABLED "cipher.enabled"
#define MV_PROP_CIPHER_KEY     "cipher.key"
#define MV_PROP_CIPHER_EZID    "cipher.ezID"

struct mv_config {
	const char *base_url;           /* "https://prod.ns.svc:19530"; a path prefix is kept,
	                                 * trailing slashes are not needed; no user info,
	                                 * query or fragment */
	const char *connect_to;         /* optional "127.0.0.1:PORT": TCP goes there while TLS
	                                 * still verifies the host of base_url
	                                 * (CURLOPT_CONNECT_TO); test-only */
	const char *ca_pem;             /* trust bundle PEM (CURLOPT_CAINFO_BLOB); required for
	                                 * https; the only roots trusted */
	const char *cert_pem, *key_pem; /* optional client certificate (mutual TLS),
	                                 * both or neither */
	const char *user, *password;    /* bearer credentials; user NULL: no
	                                 * Authorization header (Milvus without auth);
	                                 * password NULL is "" */
	long timeout_ms;                /* whole-request timeout; 0 = MV_DEFAULT_TIMEOUT_MS */
};

enum mv_status {
	MV_OK = 0,
	MV_ERR_TRANSPORT = -1, /* connect/TLS/timeout/non-200/garbled or oversize body */
	MV_ERR_MILVUS = -2,    /* Milvus answered with code != 0 (see err->code) */
	MV_ERR_NOMEM = -3,
	MV_ERR_INVALID = -4, /* bad argument; nothing was sent */
};

struct mv_error {
	int status;       /* enum mv_status */
	long http_status; /* 0 when no HTTP answer came */
	int code;         /* Milvus code, 0 if none */
	char message[256];
};

/* ---- client ---------------------------------------------------------------- */

struct mv_client;

/* Create a client: checks cfg (MV_ERR_INVALID: base_url not http(s)://host...,
 * https without ca_pem, a certificate without its key, a user name that is
 * empty or holds ':' or control characters, control characters in the
 * password, a malformed connect_to, a negative timeout) and copies every
 * string, so cfg may be released at once. Nothing is sent. *out is set on
 * success and released with mv_client_free(). */
int mv_client_new(const struct mv_config *cfg, struct mv_client **out, struct mv_error *err);
/* Close the connection, wipe the password and key copies, free. NULL is fine. */
void mv_client_free(struct mv_client *c);
/* Switch the bearer credentials (e.g. to verify a user's password): copies
 * them and wipes the old. user NULL removes the Authorization header. Same
 * checks as mv_client_new; on error the client keeps its old credentials.
 * MV_OK, MV_ERR_INVALID or MV_ERR_NOMEM. */
int mv_client_set_credentials(struct mv_client *c, const char *user, const char *password);
/* Process-wide count of HTTP requests attempted by every client (one per
 * call that got past argument checks, whether or not it connected). Atomic. */
unsigned long mv_requests_total(void);

/* ---- results ----------------------------------------------------------------- */

struct mv_names {
	char **v; /* n strings, each owned */
	size_t n;
};
void mv_names_free(struct mv_names *n);
/* 1 when s is one of the names (exact, case-sensitive), else 0. NULL-safe. */
int mv_names_has(const struct mv_names *n, const char *s);

/* One row of roles/describe. Fields are never NULL ("" when Milvus left one out). */
struct mv_grant {
	char *object_type, *object_name, *privilege, *db_name, *grantor;
};
struct mv_grants {
	struct mv_grant *v;
	size_t n;
};
void mv_grants_free(struct mv_grants *g);

/* A privilege group and its privileges (Milvus sends them as "a,b": split at
 * commas, blanks around names dropped, empty names skipped). */
struct mv_group {
	char *name;
	struct mv_names privileges;
};
struct mv_groups {
	struct mv_group *v;
	size_t n;
};
void mv_groups_free(struct mv_groups *g);

/* One database, from databases/describe. Strings are never NULL ("" when
 * Milvus left one out). Properties keep Milvus' order. */
struct mv_property {
	char *key, *value;
};
struct mv_database {
	char *name;   /* dbName */
	long long id; /* dbID; 0 when absent */
	struct mv_property *props;
	size_t nprops;
};
void mv_database_free(struct mv_database *d);
/* The value of property key, or NULL when the database has none (the first
 * one when Milvus repeats a key). NULL-safe. */
const char *mv_database_property(const struct mv_database *d, const char *key);

/* ---- operations ------------------------------------------------------------ */

/* All of these send exactly one request (none when an argument is invalid)
 * and return MV_OK or an error as described at the top. The _list and
 * _describe calls fill their out-parameter only on MV_OK; "data" missing or
 * null in a successful answer gives an empty result. */

/* users/list {} -> every user name. */
int mv_user_list(struct mv_client *c, struct mv_names *out, struct mv_error *err);
/* users/describe {userName} -> the roles granted to user. */
int mv_user_describe(struct mv_client *c, const char *user, struct mv_names *roles,
                     struct mv_error *err);
/* users/create {userName,password}. The body is wiped after the call. */
int mv_user_create(struct mv_client *c, const char *user, const char *password,
                   struct mv_error *err);
/* users/update_password {userName,password: old_pw,newPassword: new_pw}.
 * The body is wiped after the call. */
int mv_user_update_password(struct mv_client *c, const char *user, const char *old_pw,
                            const char *new_pw, struct mv_error *err);
/* users/drop {userName}. */
int mv_user_drop(struct mv_client *c, const char *user, struct mv_error *err);
/* users/grant_role, users/revoke_role {userName,roleName}. */
int mv_user_grant_role(struct mv_client *c, const char *user, const char *role,
                       struct mv_error *err);
int mv_user_revoke_role(struct mv_client *c, const char *user, const char *role,
                        struct mv_error *err);

/* roles/list {} -> every role name. */
int mv_role_list(struct mv_client *c, struct mv_names *out, struct mv_error *err);
/* roles/create, roles/drop {roleName}. */
int mv_role_create(struct mv_client *c, const char *role, struct mv_error *err);
int mv_role_drop(struct mv_client *c, const char *role, struct mv_error *err);
/* roles/describe {roleName,dbName} -> the role's grants in db. db NULL leaves
 * dbName out (Milvus then uses "default"). */
int mv_role_describe(struct mv_client *c, const char *role, const char *db, struct mv_grants *out,
                     struct mv_error *err);
/* roles/grant_privilege_v2, roles/revoke_privilege_v2
 * {roleName,privilege,dbName,collectionName}: all four required ("*" is
 * Milvus' wildcard for db and collection). privilege may name a privilege
 * group. */
int mv_role_grant_privilege_v2(struct mv_client *c, const char *role, const char *privilege,
                               const char *db, const char *collection, struct mv_error *err);
int mv_role_revoke_privilege_v2(struct mv_client *c, const char *role, const char *privilege,
                                const char *db, const char *collection, struct mv_error *err);

/* privilege_groups/list {} -> every privilege group with its privileges. */
int mv_privilege_group_list(struct mv_client *c, struct mv_groups *out, struct mv_error *err);
/* privilege_groups/create, privilege_groups/drop {privilegeGroupName}. */
int mv_privilege_group_create(struct mv_client *c, const char *name, struct mv_error *err);
int mv_privilege_group_drop(struct mv_client *c, const char *name, struct mv_error *err);
/* privilege_groups/add_privileges_to_group, remove_privileges_from_group
 * {privilegeGroupName,privileges:[...]}: n in 1..MV_MAX_PRIVILEGES (callers
 * skip the call when there is nothing to change). */
int mv_privilege_group_add(struct mv_client *c, const char *name, const char *const *privileges,
                           size_t n, struct mv_error *err);
int mv_privilege_group_remove(struct mv_client *c, const char *name, const char *const *privileges,
                              size_t n, struct mv_error *err);

/* databases/list {} -> every database name the caller may see ("default"
 * always exists). */
int mv_database_list(struct mv_client *c, struct mv_names *out, struct mv_error *err);
/* databases/describe {dbName} -> name, ID and properties. A database that
 * does not exist is MV_ERR_MILVUS with code MV_CODE_DATABASE_NOT_FOUND. */
int mv_database_describe(struct mv_client *c, const char *db, struct mv_database *out,
                         struct mv_error *err);
/* databases/create {dbName, properties: {keys[i]: values[i]}}: n in
 * 0..MV_MAX_PROPERTIES (0 leaves "properties" out); keys non-empty and
 * distinct. An existing database is MV_ERR_MILVUS, code 1100 ("database
 * already exist"). */
int mv_database_create(struct mv_client *c, const char *db, const char *const *keys,
                       const char *const *values, size_t n, struct mv_error *err);

/* Check the client's own credentials: POST users/describe {userName: <own
 * user>}. MV_OK when authenticated (code 0, or 1401, which proves
 * authentication succeeded); MV_ERR_MILVUS with code 1400/1800 when the
 * password is wrong (mv_error_is_auth()); MV_ERR_INVALID when the client has
 * no user. A Milvus running without authorization accepts any password:
 * there this proves nothing. */
int mv_authenticate(struct mv_client *c, struct mv_error *err);

/* ---- pure parts (no I/O; exposed for tests and fuzzing) ---------------------- */

enum mv_op {
	MV_OP_USER_LIST = 0,
	MV_OP_USER_DESCRIBE,
	MV_OP_USER_CREATE,
	MV_OP_USER_UPDATE_PASSWORD,
	MV_OP_USER_DROP,
	MV_OP_USER_GRANT_ROLE,
	MV_OP_USER_REVOKE_ROLE,
	MV_OP_ROLE_LIST,
	MV_OP_ROLE_CREATE,
	MV_OP_ROLE_DROP,
	MV_OP_ROLE_DESCRIBE,
	MV_OP_ROLE_GRANT_PRIVILEGE_V2,
	MV_OP_ROLE_REVOKE_PRIVILEGE_V2,
	MV_OP_PRIVILEGE_GROUP_LIST,
	MV_OP_PRIVILEGE_GROUP_CREATE,
	MV_OP_PRIVILEGE_GROUP_DROP,
	MV_OP_PRIVILEGE_GROUP_ADD,
	MV_OP_PRIVILEGE_GROUP_REMOVE,
	MV_OP_DATABASE_LIST,
	MV_OP_DATABASE_DESCRIBE,
	MV_OP_DATABASE_CREATE,
	MV_OP_COUNT_ /* not an op */
};

/* The arguments of any op; each op reads only its own fields:
 *   user: userName; password: password (create: the new user's; update:
 *   the old one); new_password: newPassword; role: roleName; db: dbName;
 *   collection: collectionName; privilege: privilege; group:
 *   privilegeGroupName; privileges[0..n_privileges): privileges;
 *   prop_keys/prop_values[0..n_properties): properties, an object of
 *   strings (left out when n_properties is 0). */
struct mv_args {
	const char *user, *password, *new_password;
	const char *role, *db, *collection, *privilege, *group;
	const char *const *privileges;
	size_t n_privileges;
	const char *const *prop_keys, *const *prop_values;
	size_t n_properties;
};

/* "users/create" etc. (the path after /v2/vectordb/); NULL when op is out of
 * range. Static storage. */
const char *mv_op_path(enum mv_op op);
/* 1 when the op's body carries a password (users/create,
 * users/update_password): such bodies must be wiped, else 0. */
int mv_op_has_secret(enum mv_op op);

/* The JSON body of op, keys in the order listed above for each op, compact
 * (yajl's escaping: `"` as \", control characters as \n or \u00XX, no other
 * escapes). On MV_OK *out is a new NUL-terminated string owned by the caller,
 * who wipes it (OPENSSL_cleanse) before free when mv_op_has_secret(op).
 * MV_ERR_INVALID when op is out of range or an argument it needs is missing,
 * empty (passwords may be empty), not UTF-8 or too long; MV_ERR_NOMEM. */
int mv_build_body(enum mv_op op, const struct mv_args *a, char **out);

/* Parse a response body answered with HTTP 200. Caps: len <= MV_MAX_RESPONSE,
 * depth MV_MAX_DEPTH. Code 0 or 200: MV_OK, and *data_out (may be NULL to
 * discard) gets the "data" value, detached, or NULL when absent; the caller
 * frees it with yajl_tree_free. Another integer code: MV_ERR_MILVUS with
 * err->code and err->message (Milvus' text, printable ASCII, cut to fit).
 * Malformed, oversize, not an object, or no integer "code": MV_ERR_TRANSPORT.
 * err->http_status is left 0. */
int mv_parse_response(const char *body, size_t len, yajl_val *data_out, struct mv_error *err);

/* Decode the "data" of a successful answer (NULL: empty result). Shapes:
 *   names:  ["a","b"]                                  (users/list, users/describe,
 *                                                       roles/list)
 *   grants: [{"objectType","objectName","privilege","dbName","grantor"}]
 *   groups: {"privilegeGroups":[{"privilegeGroupName":"g","privileges":"a,b"}]}
 *           (privileges may also come as ["a","b"])
 *   database: {"dbName":"d","dbID":450...,"properties":[{"key":"k","value":"v"}]}
 *           (databases/describe; dbID an integer, or a string of digits;
 *           key or value left out, as protobuf's omitempty does, is "";
 *           properties null or absent: none)
 * Another shape is MV_ERR_TRANSPORT ("unexpected data ..."); MV_ERR_NOMEM.
 * *out is set only on MV_OK. */
int mv_parse_names(yajl_val data, struct mv_names *out, struct mv_error *err);
int mv_parse_grants(yajl_val data, struct mv_grants *out, struct mv_error *err);
int mv_parse_groups(yajl_val data, struct mv_groups *out, struct mv_error *err);
int mv_parse_database(yajl_val data, struct mv_database *out, struct mv_error *err);
/* Split "a, b,,c" into {"a","b","c"} (blanks trimmed, empty names skipped;
 * "" or NULL gives none). *out is set only on MV_OK. */
int mv_split_privileges(const char *s, struct mv_names *out);

/* A Kubernetes condition reason (CamelCase, static storage, never NULL) for an
 * error: code 1400/1800 "MilvusAuthenticationFailed", 1401
 * "MilvusPermissionDenied", 1100 "MilvusInvalidParameter", MV_ERR_TRANSPORT
 * "MilvusUnreachable", any other error "MilvusError"; MV_OK or NULL: "". */
const char *mv_error_reason(const struct mv_error *err);
/* A one-line hint for an operator reading the condition (static storage,
 * never NULL; "" for MV_OK or NULL). */
const char *mv_error_hint(const struct mv_error *err);
/* 1 when Milvus refused the credentials (MV_ERR_MILVUS, code 1400 or 1800). */
int mv_error_is_auth(const struct mv_error *err);

#endif
