/*
 * user_render: the view of a User and the Secrets rendered for it. Pure: no
 * I/O, no clock, no randomness.
 *
 * user_view_parse() reads a User with the design defaults applied (username
 * defaults to metadata.name, passwordSecretRef.key to "password") and checks
 * what the reconciler relies on. Strings in the view borrow from the tree.
 */
#ifndef VW_USER_RENDER_H
#define VW_USER_RENDER_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#define USER_FINALIZER "vecward.io/milvus-user"
/* Annotation asking for a password rotation now: any new value (a timestamp
 * is customary) rotates once; the value handled is kept in the status. */
#define USER_ROTATE_ANNOTATION "vecward.io/rotate-password"
/* Annotation allowing the operator to take over a Milvus user of the same name
 * that it did not create (its password is reset): "true". */
#define USER_ADOPT_ANNOTATION "vecward.io/adopt-existing-user"
#define USER_MAX_ROLES        32

struct user_view {
	const char *name, *ns, *uid;
	long long generation;
	const char *username; /* Milvus user name */
	const char *cluster;  /* spec.clusterRef.name */
	const char *roles[USER_MAX_ROLES];
	size_t nroles;            /* sorted, unique */
	const char *pw_secret;    /* passwordSecretRef.name, or NULL: generated */
	const char *pw_key;       /* its key */
	int client_cert;          /* tls.clientCertificate */
	double rotation_s;        /* passwordRotation.period in seconds; 0: off */
	const char *rotate_token; /* the rotate annotation, or NULL */
	int adopt;                /* the adopt annotation is "true" */
};

/* 0, or -1 with err naming the field at fault. */
int user_view_parse(yajl_val obj, struct user_view *v, char *err, size_t errlen);

/* "<user>-<suffix>" into out; 0 or -1 if too long. */
int user_obj_name(const struct user_view *v, const char *suffix, char *out, size_t outlen);

/* 1 when role is one of the view's roles. */
int user_has_role(const struct user_view *v, const char *role);

/* Password policy for supplied passwords: 12-72 characters (bcrypt uses 72
 * bytes) from at least 3 of lower, upper, digit, symbol. 0 when it passes. */
int user_password_ok(const char *pw);

/* What goes into the credentials Secret. */
struct user_creds {
	const char *password;
	const char *uri;     /* e.g. https://prod.ns.svc:19530 */
	const char *ca_pem;  /* trust bundle, or NULL */
	const char *tls_crt; /* client certificate, or NULL */
	const char *tls_key;
};

/* The credentials Secret <user>-credentials, owned by the User (controller),
 * labelled with the cluster and user: username, password, token
 * (user:password), uri, ca.crt, tls.crt/tls.key when given. Holds secrets:
 * free with user_free_secret_json. NULL on out of memory. */
char *user_render_credentials(const struct user_view *v, const struct user_creds *c);

/* The pending-password Secret <user>-password-pending (key "password"), owned
 * by the User: written before Milvus is told a new password, deleted once
 * the credentials Secret has it, so a crash in between is recovered. */
char *user_render_pending(const struct user_view *v, const char *password);

void user_free_secret_json(char *json);

#endif
