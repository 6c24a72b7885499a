/*
 * vecward-crypt: encrypt and decrypt files (backups, exports) in the VWENC
 * format (envelope.h, docs/encryption-format.md) under the zone keys of a
 * vecward Cluster, and show the header of a VWENC file.
 *
 *   encrypt  the newest zone key of --database, from Secret <cluster>-zone-keys,
 *            unwrapped by the KMS of the Cluster's EncryptionKey
 *   decrypt  the zone key the file's header names, refused when the header
 *            names another cluster (or another database than --database)
 *   inspect  the header's claims; no cluster, no key
 *
 * Output: --out is written to a temporary file (mkstemp, mode 0600) in the
 * same directory and renamed into place only when the whole input was
 * processed (decrypt: every chunk authenticated), deleted otherwise and on
 * SIGINT/SIGTERM/SIGHUP; without --out, stdout, which may hold part of the
 * plaintext when decryption fails (the exit status says so).
 *
 * Keys: the zone key is unwrapped into one stack buffer (or straight into
 * the envelope's) and wiped with OPENSSL_cleanse on every path; root keys
 * and credentials stay inside kmsconn/kms, which wipe them. Nothing with a
 * key is written to a file; core dumps are disabled. Messages name objects,
 * never keys, and bytes from a file header are escaped before printing.
 *
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "apply.h"
#include "envelope.h"
#include "json.h"
#include "kms.h"
#include "kmsconn.h"
#include "kube.h"
#include "kubeconfig.h"
#include "log.h"
#include "util.h"
#include "zonekey.h"

_Static_assert(AEAD_KEY_LEN == ZK_KEY_LEN, "a zone key is an envelope key");

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };
enum cmd { CMD_ENCRYPT, CMD_DECRYPT, CMD_INSPECT };

struct opts {
	enum cmd cmd;
	const char *cluster, *ns, *database, *in, *out, *kubeconfig;
	long chunk_size; /* 0: the default */
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: vecward-crypt encrypt --cluster NAME --database DB [--namespace NS]\n"
	        "                             [--in FILE] [--out FILE] [--kubeconfig PATH]\n"
	        "                             [--chunk-size N]\n"
	        "       vecward-crypt decrypt --cluster NAME [--database DB] [--namespace NS]\n"
	        "                             [--in FILE] [--out FILE] [--kubeconfig PATH]\n"
	        "       vecward-crypt inspect [--in FILE]\n"
	        "       vecward-crypt --version | --help\n"
	        "\n"
	        "Encrypt and decrypt files (backups, exports) in the VWENC format under the\n"
	        "zone keys of a vecward Cluster (docs/encryption-format.md).\n"
	        "\n"
	        "  encrypt   under the newest zone key of --database\n"
	        "  decrypt   under the zone key the file names; a file of another cluster, or\n"
	        "            of another database than --database when given, is refused\n"
	        "  inspect   print the header: key name, cluster UID, database, version,\n"
	        "            chunk size (claims of the file, authenticated only by decrypt;\n"
	        "            needs no cluster and no key)\n"
	        "\n"
	        "  --cluster NAME      the Cluster whose zone keys to use\n"
	        "  -n, --namespace NS  its namespace (default: the kubeconfig context's)\n"
	        "  --database DB       the Milvus database (required for encrypt)\n"
	        "  --in FILE           input (default: stdin)\n"
	        "  --out FILE          output (default: stdout), written to a temporary file\n"
	        "                      (mode 0600) in the same directory and renamed into place\n"
	        "                      only when everything succeeded\n"
	        "  --kubeconfig PATH   (default: $KUBECONFIG, then in-cluster)\n"
	        "  --chunk-size N      encrypt: plaintext bytes per chunk, %u..%u\n"
	        "                      (default %u)\n"
	        "  --version, -h, --help\n"
	        "Options may come before or after the command.\n"
	        "\n"
	        "Decrypting to stdout: plaintext is written as each chunk authenticates, so\n"
	        "when decryption fails stdout may already hold part of the file. The exit\n"
	        "status is then non-zero and that output must be discarded; use --out to get\n"
	        "all or nothing.\n"
	        "\n"
	        "It reads the Cluster, its EncryptionKey (spec.encryption.keyRef), Secret\n"
	        "<cluster>-zone-keys and what the key's KMS needs: Secret <key>-root-key\n"
	        "(local), or the credentialsSecretRef Secret or AWS credentials from the\n"
	        "environment (aws-kms). It writes nothing to the cluster.\n"
	        "\n"
	        "Exit status: 0 ok, 1 failure (the reason on stderr), 2 usage error.\n",
	        ENV_CHUNK_MIN, ENV_CHUNK_MAX, ENV_CHUNK_DEFAULT);
}

/* Write s to f with every byte outside printable ASCII as \xNN: names and
 * messages may hold bytes from a file header. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char m[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	fputs("vecward-crypt: ", stderr);
	put_escaped(stderr, m);
	fputc('\n', stderr);
}

/* ---- output: a temporary file renamed into place, or stdout ---------------- */

/* The temporary file, for the signal handler: set before it exists, live
 * while it does. */
static char g_tmp[PATH_MAX];
static volatile sig_atomic_t g_tmp_live;

static void on_signal(int sig)
{
	if (g_tmp_live)
		unlink(g_tmp); /* async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

struct out_file {
	FILE *f;
	const char *path; /* NULL: stdout */
};

static int out_open(struct out_file *o, const char *path)
{
	const char *slash, *base;
	int n, fd;

	o->path = path;
	if (!path) {
		o->f = stdout;
		return 0;
	}
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	if (slash)
		n = snprintf(g_tmp, sizeof(g_tmp), "%.*s/.%s.vwcrypt-XXXXXX", (int)(slash - path),
		             path, base);
	else
		n = snprintf(g_tmp, sizeof(g_tmp), ".%s.vwcrypt-XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof(g_tmp)) {
		say("%s: path too long", path);
		return -1;
	}
	fd = mkstemp(g_tmp); /* 0600 */
	if (fd < 0) {
		say("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
		return -1;
	}
	g_tmp_live = 1;
	o->f = fdopen(fd, "wb");
	if (!o->f) {
		say("%s: %s", path, strerror(errno));
		close(fd);
		unlink(g_tmp);
		g_tmp_live = 0;
		return -1;
	}
	return 0;
}

/* ok: keep the output (rename it into place); otherwise delete it. 0 when
 * the output is complete and in place. */
static int out_close(struct out_file *o, int ok)
{
	int rc = 0;

	if (!o->f)
		return -1;
	if (!o->path) {
		o->f = NULL;
		if (fflush(stdout) != 0) {
			say("stdout: %s", strerror(errno));
			return -1;
		}
		return ok ? 0 : -1;
	}
	if (ok && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)) {
		say("%s: %s", o->path, strerror(errno));
		ok = 0;
	}
	if (fclose(o->f) != 0 && ok) {
		say("%s: %s", o->path, strerror(errno));
		ok = 0;
	}
	o->f = NULL;
	if (ok && rename(g_tmp, o->path) != 0) {
		say("%s: cannot rename the temporary file into place: %s", o->path,
		    strerror(errno));
		ok = 0;
	}
	if (!ok) {
		unlink(g_tmp);
		rc = -1;
	}
	g_tmp_live = 0;
	return rc;
}

static FILE *in_open(const char *path)
{
	FILE *f;

	if (!path)
		return stdin;
	f = fopen(path, "rb");
	if (!f)
		say("%s: %s", path, strerror(errno));
	return f;
}

static void in_close(FILE *f)
{
	if (f && f != stdin)
		fclose(f);
}

/* ---- the Cluster, its EncryptionKey and zone keys ---------------------------- */

struct zone {
	struct kube_client *kc;
	const char *ns, *cluster, *uid, *key_name;
	const char *want_db;  /* decrypt: refuse other databases (NULL: any) */
	yajl_val cluster_obj; /* the Cluster (borrowed) */
	yajl_val secret;      /* Secret <cluster>-zone-keys */
	char secret_name[300];
	struct kms *kms;
	char msg[1024]; /* decrypt: why the lookup refused, "" when it did not */
};

static int get_obj(struct kube_client *kc, const struct kube_kind *kind, const char *what,
                   const char *ns, const char *name, yajl_val *out)
{
	struct kube_error kerr;
	int r = apply_get(kc, kind, ns, name, out, &kerr);

	if (r < 0) {
		char eb[700];
		kube_strerror(&kerr, eb, sizeof(eb));
		say("cannot read %s %s/%s: %s", what, ns, name, eb);
	}
	return r;
}

/* Entry "<db>.v<version>" of the zone-keys Secret into e (initialised by
 * the caller). The entry must describe that zone: its JSON names the
 * database and version the KMS context is built from, so a value copied
 * under another name is refused here. 0, or -1 with the reason in msg. */
static int load_entry(const struct zone *z, const char *db, uint32_t version, struct zk_entry *e,
                      char *msg, size_t msglen)
{
	struct buf val = BUF_INIT(ZK_ENTRY_MAX);
	char dk[300], perr[300];
	int rc = -1;

	if (zk_data_key(db, version, dk, sizeof(dk))) {
		snprintf(msg, msglen,
		         "the file names zone key version %u of database %s, which no zone key "
		         "can have: the header is damaged",
		         (unsigned)version, db);
		return -1;
	}
	if (!json_get_str(z->secret, "data", dk, NULL)) {
		snprintf(msg, msglen,
		         "Secret %s/%s has no zone key %s: the key this file was encrypted with "
		         "is gone, or the file's header is damaged",
		         z->ns, z->secret_name, dk);
		goto out;
	}
	if (secret_data(z->secret, dk, &val)) {
		snprintf(msg, msglen, "Secret %s/%s: entry %s is not base64 of at most %d bytes",
		         z->ns, z->secret_name, dk, ZK_ENTRY_MAX);
		goto out;
	}
	if (zk_entry_parse(val.ptr ? val.ptr : "", val.len, e, perr, sizeof(perr))) {
		snprintf(msg, msglen, "Secret %s/%s: entry %s: %s", z->ns, z->secret_name, dk,
		         perr);
		goto out;
	}
	if (strcmp(e->database, db) != 0 || e->version != version) {
		snprintf(msg, msglen, "Secret %s/%s: entry %s describes zone key %s.v%u", z->ns,
		         z->secret_name, dk, e->database, (unsigned)e->version);
		goto out;
	}
	rc = 0;
out:
	buf_free(&val);
	return rc;
}

/* Unwrap entry e of this cluster into ezk. 0, or -1 with the reason in msg. */
static int unwrap(const struct zone *z, const struct zk_entry *e, const char *uid,
                  uint8_t ezk[ZK_KEY_LEN], char *msg, size_t msglen)
{
	struct kms_error kerr;
	char eb[600];

	if (kmsconn_unwrap_zone(z->kms, e, uid, ezk, &kerr) == 0)
		return 0;
	kms_strerror(&kerr, eb, sizeof(eb));
	snprintf(msg, msglen, "zone key %s.v%u of Cluster %s/%s: EncryptionKey %s: %s", e->database,
	         (unsigned)e->version, z->ns, z->cluster, z->key_name, eb);
	return -1;
}

/* env_lookup_fn for decrypt. The header's fields are claims: they only pick
 * the entry; the KMS context and the DEK's AAD authenticate them. */
static int lookup(void *ctx, const struct env_meta *m, uint8_t ezk[AEAD_KEY_LEN])
{
	struct zone *z = ctx;
	struct zk_entry e;
	int rc;

	if (z->want_db && strcmp(m->database, z->want_db) != 0) {
		snprintf(z->msg, sizeof(z->msg),
		         "the file holds database %s, not %s (--database): refusing to decrypt it",
		         m->database, z->want_db);
		return -1;
	}
	zk_entry_init(&e);
	rc = load_entry(z, m->database, m->ezk_version, &e, z->msg, sizeof(z->msg));
	/* a file of an earlier incarnation of this Cluster (re-created from the
	 * recycle bin, which kept its zone keys) names that incarnation's UID:
	 * its entry is bound to the same UID, and the KMS checks the binding */
	if (rc == 0 && strcmp(m->cluster_uid, e.cluster_uid) != 0) {
		snprintf(z->msg, sizeof(z->msg),
		         "the file was encrypted for the cluster with UID %s, not Cluster %s/%s "
		         "(UID %s): decrypt it with the --cluster it came from",
		         m->cluster_uid, z->ns, z->cluster, z->uid);
		rc = -1;
	}
	if (rc == 0)
		rc = unwrap(z, &e, m->cluster_uid, ezk, z->msg, sizeof(z->msg));
	zk_entry_free(&e);
	return rc;
}

/* ---- commands -------------------------------------------------------------- */

/* 1 when db is one of the Cluster's encrypted databases (spec.encryption.
 * databases, default [default]). */
static int db_listed(yajl_val cluster, const char *db)
{
	yajl_val list = json_get(cluster, "spec", "encryption", "databases", NULL);

	if (!YAJL_IS_ARRAY(list))
		return !strcmp(db, "default");
	for (size_t i = 0; i < json_array_len(list); i++) {
		const char *s = json_str(json_array_at(list, i));
		if (s && !strcmp(s, db))
			return 1;
	}
	return 0;
}

static void no_zone_key(const struct zone *z, const char *db)
{
	if (db_listed(z->cluster_obj, db))
		say("EncryptionKey %s has not created a zone key for database %s of cluster %s "
		    "yet: check kubectl get vwkey %s",
		    z->key_name, db, z->cluster, z->key_name);
	else
		say("EncryptionKey %s has not created a zone key for database %s of cluster %s "
		    "yet: check kubectl get vwkey %s (%s is not in spec.encryption.databases "
		    "of Cluster %s/%s: add it there first)",
		    z->key_name, db, z->cluster, z->key_name, db, z->ns, z->cluster);
}

static int do_encrypt(const struct opts *o, struct zone *z, FILE *in, struct out_file *out)
{
	struct env_meta meta = {0};
	struct zk_entry e;
	uint8_t ezk[ZK_KEY_LEN];
	char msg[1200], err[300];
	uint32_t version = 0;
	int rc = -1, erc;

	zk_entry_init(&e);
	if (zk_latest_version(z->secret, o->database, &version) != 0) {
		no_zone_key(z, o->database);
		goto out;
	}
	if (load_entry(z, o->database, version, &e, msg, sizeof(msg)) ||
	    unwrap(z, &e, z->uid, ezk, msg, sizeof(msg))) {
		say("%s", msg);
		goto out;
	}
	meta.key_name = z->key_name;
	meta.cluster_uid = z->uid;
	meta.database = o->database;
	meta.ezk_version = version;
	meta.chunk_size = (uint32_t)o->chunk_size;
	erc = env_encrypt_stream(ezk, &meta, in, out->f, err, sizeof(err));
	if (erc != ENV_OK) {
		say("encrypt %s: %s (%s)", o->in ? o->in : "stdin", env_strerror(erc), err);
		if (!out->path)
			say("the output on stdout is incomplete: discard it");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(ezk, sizeof(ezk));
	zk_entry_free(&e);
	return rc;
}

static int do_decrypt(const struct opts *o, struct zone *z, FILE *in, struct out_file *out)
{
	char err[600];
	int erc;

	z->want_db = o->database;
	z->msg[0] = '\0';
	erc = env_decrypt_stream(lookup, z, in, out->f, err, sizeof(err));
	if (erc == ENV_OK)
		return 0;
	if (erc == ENV_EKEY && z->msg[0])
		say("%s: %s", o->in ? o->in : "stdin", z->msg);
	else
		say("decrypt %s: %s (%s)", o->in ? o->in : "stdin", env_strerror(erc), err);
	/* chunks that authenticated before the failure may be on stdout already */
	if (!out->path && erc != ENV_EKEY && erc != ENV_EFORMAT)
		say("the output on stdout is incomplete: discard it");
	return -1;
}

/* Open the zone: Cluster, EncryptionKey, zone-keys Secret, KMS. On success
 * z holds the objects (freed by zone_free); strings point into them. */
static int zone_open(const struct opts *o, struct zone *z, yajl_val *cluster, yajl_val *key)
{
	char reason[64], msg[1200];
	int r;

	r = get_obj(z->kc, &KUBE_VW_CLUSTER, "Cluster", z->ns, o->cluster, cluster);
	if (r == 1)
		say("Cluster %s/%s not found", z->ns, o->cluster);
	if (r != 0)
		return -1;
	z->cluster = o->cluster;
	z->cluster_obj = *cluster;
	z->uid = json_get_str(*cluster, "metadata", "uid", NULL);
	z->key_name = json_get_str(*cluster, "spec", "encryption", "keyRef", "name", NULL);
	if (!z->uid || !z->uid[0]) {
		say("Cluster %s/%s has no metadata.uid", z->ns, o->cluster);
		return -1;
	}
	if (!z->key_name || !z->key_name[0]) {
		say("Cluster %s/%s has no spec.encryption.keyRef: it is not encrypted, so it has "
		    "no zone keys",
		    z->ns, o->cluster);
		return -1;
	}
	r = get_obj(z->kc, &KUBE_VW_ENCRYPTIONKEY, "EncryptionKey", z->ns, z->key_name, key);
	if (r == 1)
		say("EncryptionKey %s/%s (spec.encryption.keyRef of Cluster %s) not found", z->ns,
		    z->key_name, o->cluster);
	if (r != 0)
		return -1;
	if (zk_secret_name(o->cluster, z->secret_name, sizeof(z->secret_name))) {
		say("Cluster %s/%s: name too long for a zone-keys Secret", z->ns, o->cluster);
		return -1;
	}
	r = get_obj(z->kc, &KUBE_SECRET, "Secret", z->ns, z->secret_name, &z->secret);
	if (r == 1) {
		if (o->cmd == CMD_ENCRYPT)
			no_zone_key(z, o->database);
		else
			say("Cluster %s/%s has no zone keys yet (Secret %s not found), so no file "
			    "can have been encrypted under them",
			    z->ns, o->cluster, z->secret_name);
	}
	if (r != 0)
		return -1;
	r = kmsconn_open(z->kc, *key, &z->kms, reason, sizeof(reason), msg, sizeof(msg));
	if (r != 0) {
		say("EncryptionKey %s/%s: %s (%s)", z->ns, z->key_name, msg, reason);
		return -1;
	}
	return 0;
}

static int run_keyed(const struct opts *o)
{
	struct kube_config *cfg = NULL;
	struct zone z = {0};
	struct out_file out = {0};
	yajl_val cluster = NULL, key = NULL;
	FILE *in = NULL;
	char err[512];
	int rc = EXIT_FAIL, ok = 0;

	in = in_open(o->in);
	if (!in)
		goto out;
	if (out_open(&out, o->out))
		goto out;
	if (kube_config_load_default(o->kubeconfig, &cfg, err, sizeof(err))) {
		say("%s", err);
		goto out;
	}
	z.ns = o->ns ? o->ns : cfg->namespace;
	z.kc = kube_client_new(cfg);
	if (!z.kc) {
		say("out of memory");
		goto out;
	}
	if (zone_open(o, &z, &cluster, &key))
		goto out;
	if (o->cmd == CMD_ENCRYPT)
		ok = do_encrypt(o, &z, in, &out) == 0;
	else
		ok = do_decrypt(o, &z, in, &out) == 0;
out:
	if (out.f && out_close(&out, ok) == 0 && ok)
		rc = EXIT_OK;
	in_close(in);
	kms_free(z.kms);
	json_free_secret(z.secret);
	yajl_tree_free(cluster);
	yajl_tree_free(key);
	kube_client_free(z.kc);
	kube_config_free(cfg);
	return rc;
}

/* inspect: decrypt's header parser, with a lookup that records the claims
 * and refuses, so nothing is decrypted and no key is needed. */
struct claims {
	int seen;
	char key_name[ENV_FIELD_MAX + 1], cluster_uid[ENV_FIELD_MAX + 1],
	    database[ENV_FIELD_MAX + 1];
	uint32_t version, chunk_size;
};

static int record(void *ctx, const struct env_meta *m, uint8_t ezk[AEAD_KEY_LEN])
{
	struct claims *c = ctx;

	snprintf(c->key_name, sizeof(c->key_name), "%s", m->key_name);
	snprintf(c->cluster_uid, sizeof(c->cluster_uid), "%s", m->cluster_uid);
	snprintf(c->database, sizeof(c->database), "%s", m->database);
	c->version = m->ezk_version;
	c->chunk_size = m->chunk_size;
	c->seen = 1;
	return -1;
}

static long read_in(void *ctx, void *p, size_t n)
{
	FILE *f = ctx;
	size_t r = fread(p, 1, n, f);

	return r == 0 && ferror(f) ? -1 : (long)r;
}

static int write_none(void *ctx, const void *p, size_t n)
{
	return -1;
}

static int run_inspect(const struct opts *o)
{
	struct claims c = {0};
	FILE *in = in_open(o->in);
	struct env_io io = {read_in, in, write_none, NULL};
	char err[600];
	int erc;

	if (!in)
		return EXIT_FAIL;
	erc = env_decrypt(record, &c, &io, err, sizeof(err));
	in_close(in);
	if (!c.seen) {
		say("%s: %s (%s)", o->in ? o->in : "stdin", env_strerror(erc), err);
		return EXIT_FAIL;
	}
	fputs("key name:    ", stdout);
	put_escaped(stdout, c.key_name);
	fputs("\ncluster UID: ", stdout);
	put_escaped(stdout, c.cluster_uid);
	fputs("\ndatabase:    ", stdout);
	put_escaped(stdout, c.database);
	printf("\nversion:     %u\nchunk size:  %u\n", (unsigned)c.version, (unsigned)c.chunk_size);
	if (fflush(stdout) != 0) {
		say("stdout: %s", strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* ---- arguments ---------------------------------------------------------------- */

/* A Kubernetes object name: DNS subdomain characters, 1..253. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	char m[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	say("%s (see vecward-crypt --help)", m);
	return EXIT_USAGE;
}

/* Options may come before or after the command (getopt permutes), so
 * "vecward-crypt --kubeconfig K decrypt -n NS ..." works as kubectl users
 * expect. *done 0 and o filled, or *done 1 and the exit status. */
static int parse_args(int argc, char **argv, struct opts *o, int *done)
{
	static const struct option opts[] = {
	    {"cluster", required_argument, NULL, 'c'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"database", required_argument, NULL, 'd'},
	    {"in", required_argument, NULL, 'i'},
	    {"out", required_argument, NULL, 'o'},
	    {"kubeconfig", required_argument, NULL, 'k'},
	    {"chunk-size", required_argument, NULL, 's'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd;
	int c, help = 0, version = 0;

	*done = 1;
	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->cluster = optarg;
			break;
		case 'n':
			o->ns = optarg;
			break;
		case 'd':
			o->database = optarg;
			break;
		case 'i':
			o->in = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'k':
			o->kubeconfig = optarg;
			break;
		case 's':
			if (parse_long(optarg, ENV_CHUNK_MIN, ENV_CHUNK_MAX, &o->chunk_size))
				return usage_error("--chunk-size must be %u..%u bytes",
				                   ENV_CHUNK_MIN, ENV_CHUNK_MAX);
			break;
		case 'V':
			version = 1;
			break;
		case 'h':
			help = 1;
			break;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (help) {
		usage(stdout);
		return EXIT_OK;
	}
	if (version) {
		printf("vecward-crypt %s\n", VECWARD_VERSION);
		return EXIT_OK;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	if (!strcmp(cmd, "encrypt"))
		o->cmd = CMD_ENCRYPT;
	else if (!strcmp(cmd, "decrypt"))
		o->cmd = CMD_DECRYPT;
	else if (!strcmp(cmd, "inspect"))
		o->cmd = CMD_INSPECT;
	else if (!strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	} else
		return usage_error("unknown command %s: encrypt, decrypt or inspect", cmd);
	if (optind + 1 < argc)
		return usage_error("unexpected argument %s", argv[optind + 1]);

	if (o->cmd == CMD_INSPECT) {
		/* --kubeconfig and --namespace are global: accepted, not needed */
		if (o->cluster || o->database || o->out || o->chunk_size)
			return usage_error("inspect takes only --in: it reads no cluster and "
			                   "no key");
	} else {
		if (!o->cluster)
			return usage_error("%s needs --cluster", cmd);
		if (!name_ok(o->cluster))
			return usage_error("--cluster %s is not a Kubernetes object name",
			                   o->cluster);
		if (o->ns && !name_ok(o->ns))
			return usage_error("--namespace %s is not a namespace name", o->ns);
		if (o->cmd == CMD_ENCRYPT && !o->database)
			return usage_error("encrypt needs --database");
		if (o->database && !zk_database_ok(o->database))
			return usage_error("--database %s is not a Milvus database name "
			                   "([A-Za-z_][A-Za-z0-9_]*, at most %d characters)",
			                   o->database, ZK_DATABASE_MAX);
		if (o->cmd == CMD_DECRYPT && o->chunk_size)
			return usage_error("--chunk-size is for encrypt: decrypt reads it from "
			                   "the file");
	}
	if (o->in && !o->in[0])
		return usage_error("--in needs a file name");
	if (o->out) {
		const char *slash = strrchr(o->out, '/');
		const char *base = slash ? slash + 1 : o->out;
		if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
			return usage_error("--out %s is not a file name", o->out);
	}
	if (o->cmd == CMD_ENCRYPT && !o->out && isatty(STDOUT_FILENO))
		return usage_error("refusing to write encrypted data to a terminal: use --out "
		                   "FILE or redirect stdout");
	*done = 0;
	return 0;
}

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct rlimit nocore = {0, 0};
	struct sigaction sa;
	struct opts o;
	int done, rc;

	rc = parse_args(argc, argv, &o, &done);
	if (done)
		return rc;

	setrlimit(RLIMIT_CORE, &nocore); /* no key in a core file */
	signal(SIGPIPE, SIG_IGN);        /* a closed pipe is a write error */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	log_init(LOG_HUMAN, LOG_ERROR);

	if (o.cmd == CMD_INSPECT)
		return run_inspect(&o);
	return run_keyed(&o);
}
