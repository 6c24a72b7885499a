/*
 * Tests for operator/crypto/envelope: round trips of 0 bytes, 1 byte, one
 * chunk, exactly one chunk size and many chunks (through callbacks that
 * return short reads, and through stdio streams), and every way of damaging
 * a file: truncation at a chunk boundary and inside a chunk, reordered,
 * duplicated and dropped chunks, trailing data, any flipped header or body
 * bit, a wrong zone key, another database, a spliced chunk from another file.
 * Each failure must produce no plaintext of the failing chunk: the output
 * holds exactly the chunks that authenticated before it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "envelope.h"
#include "unit.h"

#define CS 64u /* a small chunk size keeps "many chunks" small */

static const uint8_t EZK_SALES[32] = {
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,   15,   16};
static const uint8_t EZK_HR[32] = {0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,  7,
                                   8,    9,    10,   11,   12, 13, 14, 15, 16, 17, 18,
                                   19,   20,   21,   22,   23, 24, 25, 26, 27, 28};
static const char UID[] = "5f0c1d7e-9b7a-4c55-8f7e-3c2b1a0d9e8f";

/* ---- memory i/o -------------------------------------------------------- */

struct mem {
	uint8_t *p;
	size_t len, pos, cap;
	size_t step;      /* reads return at most this much (0: unlimited) */
	long fail_writes; /* writes fail once this many succeeded (-1: never) */
	long writes;
};

static void mem_init(struct mem *m, const void *p, size_t len, size_t step)
{
	memset(m, 0, sizeof(*m));
	m->cap = len + 1;
	m->p = malloc(m->cap);
	assert_non_null(m->p);
	if (len)
		memcpy(m->p, p, len);
	m->len = len;
	m->step = step;
	m->fail_writes = -1;
}

static void mem_free(struct mem *m)
{
	free(m->p);
	m->p = NULL;
}

static long mem_read(void *ctx, void *p, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->pos;

	if (k > n)
		k = n;
	if (m->step && k > m->step)
		k = m->step;
	memcpy(p, m->p + m->pos, k);
	m->pos += k;
	return (long)k;
}

static int mem_write(void *ctx, const void *p, size_t n)
{
	struct mem *m = ctx;

	if (m->fail_writes >= 0 && m->writes >= m->fail_writes)
		return -1;
	m->writes++;
	if (m->len + n + 1 > m->cap) {
		size_t nc = (m->len + n + 1) * 2;
		uint8_t *np = realloc(m->p, nc);
		assert_non_null(np);
		m->p = np;
		m->cap = nc;
	}
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

/* ---- key lookup -------------------------------------------------------- */

struct lookup {
	int calls;
	struct env_meta seen;
	char key_name[64], uid[64], db[64];
	const char *only_db;  /* refuse any other database (NULL: accept all) */
	const uint8_t *force; /* return this key whatever is asked */
};

static int lookup(void *ctx, const struct env_meta *m, uint8_t ezk[32])
{
	struct lookup *l = ctx;

	l->calls++;
	l->seen = *m;
	snprintf(l->key_name, sizeof(l->key_name), "%s", m->key_name);
	snprintf(l->uid, sizeof(l->uid), "%s", m->cluster_uid);
	snprintf(l->db, sizeof(l->db), "%s", m->database);
	if (l->only_db && strcmp(l->only_db, m->database) != 0)
		return -1;
	if (l->force) {
		memcpy(ezk, l->force, 32);
		return 0;
	}
	if (strcmp(m->key_name, "prod-key") || strcmp(m->cluster_uid, UID) || m->ezk_version != 3)
		return -1;
	if (!strcmp(m->database, "sales"))
		memcpy(ezk, EZK_SALES, 32);
	else if (!strcmp(m->database, "hr"))
		memcpy(ezk, EZK_HR, 32);
	else
		return -1;
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct env_meta meta(const char *db, uint32_t cs)
{
	struct env_meta m = {"prod-key", UID, db, 3, cs};
	return m;
}

static uint8_t *random_bytes(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	if (n)
		assert_int_equal(RAND_bytes(p, (int)n), 1);
	return p;
}

/* Encrypt pt under EZK_SALES (or ezk) into *out. */
static void seal(const uint8_t *ezk, const char *db, uint32_t cs, const uint8_t *pt, size_t n,
                 struct mem *out)
{
	struct env_meta m = meta(db, cs);
	struct mem in;
	struct env_io io;
	char err[256] = "";

	mem_init(&in, pt, n, 13); /* short reads on purpose */
	mem_init(out, NULL, 0, 0);
	io = (struct env_io){mem_read, &in, mem_write, out};
	if (env_encrypt(ezk, &m, &io, err, sizeof(err)) != ENV_OK)
		fail_msg("env_encrypt: %s", err);
	assert_int_equal(out->len, env_encrypted_size(&m, n));
	mem_free(&in);
}

/* Decrypt enc[0..n) with l; the plaintext lands in *out. */
static int open_(const uint8_t *enc, size_t n, struct lookup *l, struct mem *out, char *err,
                 size_t errlen)
{
	struct mem in;
	struct env_io io;
	int rc;

	mem_init(&in, enc, n, 29);
	mem_init(out, NULL, 0, 0);
	io = (struct env_io){mem_read, &in, mem_write, out};
	rc = env_decrypt(lookup, l, &io, err, errlen);
	mem_free(&in);
	return rc;
}

static size_t header_len(const char *db)
{
	return 5 + 1 + 4 + 2 + strlen("prod-key") + 2 + strlen(UID) + 2 + strlen(db) + 4 + 8 +
	       ENV_WRAPPED_DEK_LEN;
}

/* ---- tests -------------------------------------------------------------- */

static void round_trip(size_t n, uint32_t cs)
{
	uint8_t *pt = random_bytes(n);
	struct mem enc, dec;
	struct lookup l = {0};
	char err[256] = "";

	seal(EZK_SALES, "sales", cs, pt, n, &enc);
	if (open_(enc.p, enc.len, &l, &dec, err, sizeof(err)) != ENV_OK)
		fail_msg("%zu bytes, chunk %u: %s", n, cs, err);
	assert_int_equal(dec.len, n);
	if (n)
		assert_memory_equal(dec.p, pt, n);
	assert_int_equal(l.calls, 1);
	mem_free(&enc);
	mem_free(&dec);
	free(pt);
}

static void test_round_trips(void **state)
{
	const size_t sizes[] = {0, 1, CS - 1, CS, CS + 1, 2 * CS, 7 * CS + 5, 100 * CS};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		round_trip(sizes[i], CS);
	/* the default chunk size: exactly one chunk, and several */
	round_trip(ENV_CHUNK_DEFAULT, 0);
	round_trip(3 * ENV_CHUNK_DEFAULT + 12345, 0);
}

static void test_layout_and_lookup_claims(void **state)
{
	uint8_t pt[3 * CS + 10];
	struct mem enc, dec;
	struct lookup l = {0};
	size_t h = header_len("sales");
	char err[256];

	memset(pt, 'x', sizeof(pt));
	seal(EZK_SALES, "sales", CS, pt, sizeof(pt), &enc);
	assert_memory_equal(enc.p, "VWENC\x01", 6);
	assert_memory_equal(enc.p + 6, "\x00\x00\x00\x40", 4); /* chunk size 64 */
	assert_memory_equal(enc.p + 10, "\x00\x08prod-key", 10);
	/* header, three full chunks, a final chunk of 10 bytes, each with a tag */
	assert_int_equal(enc.len, h + 3 * (CS + 16) + 10 + 16);
	/* the plaintext appears nowhere */
	assert_null(memmem(enc.p, enc.len, "xxxxxxxx", 8));

	assert_int_equal(open_(enc.p, enc.len, &l, &dec, err, sizeof(err)), ENV_OK);
	assert_string_equal(l.key_name, "prod-key");
	assert_string_equal(l.uid, UID);
	assert_string_equal(l.db, "sales");
	assert_int_equal(l.seen.ezk_version, 3);
	assert_int_equal(l.seen.chunk_size, CS);
	mem_free(&enc);
	mem_free(&dec);

	/* a file that is exactly one chunk gets an empty final chunk */
	seal(EZK_SALES, "sales", CS, pt, CS, &enc);
	assert_int_equal(enc.len, h + (CS + 16) + 16);
	mem_free(&enc);
	/* an empty file is a header and one empty final chunk */
	seal(EZK_SALES, "sales", CS, pt, 0, &enc);
	assert_int_equal(enc.len, h + 16);
	mem_free(&enc);
}

/* A damaged file: decrypting it fails with want, and the output holds exactly
 * the first good_chunks chunks of pt. */
static void expect_fail(const uint8_t *enc, size_t n, int want, const uint8_t *pt,
                        size_t good_chunks, const char *what)
{
	struct mem dec;
	struct lookup l = {0};
	char err[256] = "";
	int rc = open_(enc, n, &l, &dec, err, sizeof(err));

	if (rc != want)
		fail_msg("%s: got %d (%s), want %d", what, rc, err, want);
	if (dec.len != good_chunks * CS)
		fail_msg("%s: %zu bytes of output, want %zu", what, dec.len, good_chunks * CS);
	if (dec.len)
		assert_memory_equal(dec.p, pt, dec.len);
	assert_true(err[0] != '\0');
	mem_free(&dec);
}

static void test_truncation(void **state)
{
	const size_t n = 4 * CS + 10; /* chunks 0..3 full, 4 final (10 bytes) */
	uint8_t *pt = random_bytes(n);
	struct mem enc;
	size_t h = header_len("sales"), c = CS + 16;

	seal(EZK_SALES, "sales", CS, pt, n, &enc);
	/* at chunk boundaries: the final chunk is missing */
	expect_fail(enc.p, h + 4 * c, ENV_ETRUNC, pt, 4, "final chunk dropped");
	expect_fail(enc.p, h + 2 * c, ENV_ETRUNC, pt, 2, "cut after chunk 1");
	expect_fail(enc.p, h, ENV_ETRUNC, pt, 0, "header only");
	/* inside a chunk: that chunk does not authenticate as a final one */
	expect_fail(enc.p, h + 2 * c + 30, ENV_EAUTH, pt, 2, "cut inside chunk 2");
	expect_fail(enc.p, h + 2 * c + 5, ENV_ETRUNC, pt, 2, "cut inside chunk 2's first bytes");
	expect_fail(enc.p, h + 4 * c + 20, ENV_EAUTH, pt, 4, "cut inside the final chunk");
	expect_fail(enc.p, enc.len - 1, ENV_EAUTH, pt, 4, "last byte missing");
	/* inside the header */
	for (size_t cut = 0; cut < h; cut += 7)
		expect_fail(enc.p, cut, ENV_EFORMAT, pt, 0, "cut inside the header");
	mem_free(&enc);
	free(pt);
}

static void test_reorder_duplicate_drop_append(void **state)
{
	const size_t n = 4 * CS + 10;
	uint8_t *pt = random_bytes(n), *t;
	struct mem enc;
	size_t h = header_len("sales"), c = CS + 16;

	seal(EZK_SALES, "sales", CS, pt, n, &enc);
	t = malloc(enc.len + 2 * c);
	assert_non_null(t);

	/* chunks 1 and 2 swapped */
	memcpy(t, enc.p, enc.len);
	memcpy(t + h + 1 * c, enc.p + h + 2 * c, c);
	memcpy(t + h + 2 * c, enc.p + h + 1 * c, c);
	expect_fail(t, enc.len, ENV_EAUTH, pt, 1, "chunks 1 and 2 swapped");

	/* chunk 1 twice (0 1 1 2 3 4) */
	memcpy(t, enc.p, h + 2 * c);
	memcpy(t + h + 2 * c, enc.p + h + 1 * c, enc.len - (h + 1 * c));
	expect_fail(t, enc.len + c, ENV_EAUTH, pt, 2, "chunk 1 duplicated");

	/* chunk 2 dropped (0 1 3 4) */
	memcpy(t, enc.p, h + 2 * c);
	memcpy(t + h + 2 * c, enc.p + h + 3 * c, enc.len - (h + 3 * c));
	expect_fail(t, enc.len - c, ENV_EAUTH, pt, 2, "chunk 2 dropped");

	/* the final chunk moved first */
	memcpy(t, enc.p, h);
	memcpy(t + h, enc.p + h + 4 * c, 26);
	expect_fail(t, h + 26, ENV_EAUTH, pt, 0, "only the final chunk");

	/* data after the final chunk */
	memcpy(t, enc.p, enc.len);
	memcpy(t + enc.len, "more", 4);
	expect_fail(t, enc.len + 4, ENV_EAUTH, pt, 4, "trailing bytes");
	/* a whole extra chunk after the final one */
	memcpy(t + enc.len, enc.p + h, c);
	expect_fail(t, enc.len + c, ENV_EAUTH, pt, 4, "a chunk after the final one");
	free(t);
	mem_free(&enc);
	free(pt);
}

static void test_every_flipped_bit(void **state)
{
	const size_t n = 2 * CS + 3;
	uint8_t *pt = random_bytes(n), *t;
	struct mem enc;
	size_t h = header_len("sales"), c = CS + 16;

	seal(EZK_SALES, "sales", CS, pt, n, &enc);
	t = malloc(enc.len);
	assert_non_null(t);
	for (size_t i = 0; i < enc.len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			struct mem dec;
			struct lookup l = {.force = EZK_SALES}; /* authenticity, not lookup */
			char err[256];
			int rc;
			memcpy(t, enc.p, enc.len);
			t[i] ^= (uint8_t)(1u << bit);
			rc = open_(t, enc.len, &l, &dec, err, sizeof(err));
			if (rc == ENV_OK)
				fail_msg("bit %d of byte %zu flipped: decrypted", bit, i);
			if (i < h) {
				/* a header change: nothing at all is released */
				assert_int_equal(dec.len, 0);
			} else {
				size_t bad = (i - h) / c;
				assert_int_equal(rc, ENV_EAUTH);
				assert_int_equal(dec.len, bad * CS);
				if (dec.len)
					assert_memory_equal(dec.p, pt, dec.len);
			}
			mem_free(&dec);
		}
	}
	free(t);
	mem_free(&enc);
	free(pt);
}

static void test_wrong_key_and_database(void **state)
{
	const size_t n = 3 * CS;
	uint8_t *pt = random_bytes(n), *t;
	struct mem enc, dec, other;
	struct lookup l = {0};
	size_t h = header_len("sales");
	char err[256] = "";
	uint8_t wrong[32];

	seal(EZK_SALES, "sales", CS, pt, n, &enc);

	/* a wrong zone key */
	memcpy(wrong, EZK_SALES, 32);
	wrong[31] ^= 1;
	l.force = wrong;
	assert_int_equal(open_(enc.p, enc.len, &l, &dec, err, sizeof(err)), ENV_EAUTH);
	assert_int_equal(dec.len, 0);
	mem_free(&dec);

	/* the caller restores into database hr only: refused before any key is used */
	memset(&l, 0, sizeof(l));
	l.only_db = "hr";
	assert_int_equal(open_(enc.p, enc.len, &l, &dec, err, sizeof(err)), ENV_EKEY);
	assert_int_equal(dec.len, 0);
	assert_non_null(strstr(err, "database sales"));
	mem_free(&dec);

	/* the lookup hands out the hr zone key for a sales file */
	memset(&l, 0, sizeof(l));
	l.force = EZK_HR;
	assert_int_equal(open_(enc.p, enc.len, &l, &dec, err, sizeof(err)), ENV_EAUTH);
	assert_int_equal(dec.len, 0);
	mem_free(&dec);

	/* the header edited to claim database "hr" (a field of another length, so
	 * rebuilt): the lookup gives hr's key, which did not wrap this DEK */
	{
		size_t off = 10 + 2 + 8 + 2 + strlen(UID); /* the database length field */
		size_t tail = enc.len - (off + 2 + 5);
		t = malloc(enc.len);
		assert_non_null(t);
		memcpy(t, enc.p, off);
		memcpy(t + off, "\x00\x02hr", 4);
		memcpy(t + off + 4, enc.p + off + 2 + 5, tail);
		memset(&l, 0, sizeof(l));
		assert_int_equal(open_(t, off + 4 + tail, &l, &dec, err, sizeof(err)), ENV_EAUTH);
		assert_string_equal(l.db, "hr");
		assert_int_equal(dec.len, 0);
		mem_free(&dec);
		/* and with the right (sales) key, the edited header still fails */
		l.force = EZK_SALES;
		assert_int_equal(open_(t, off + 4 + tail, &l, &dec, err, sizeof(err)), ENV_EAUTH);
		assert_int_equal(dec.len, 0);
		mem_free(&dec);
		free(t);
	}

	/* a chunk spliced in from another file under the same zone key */
	seal(EZK_SALES, "sales", CS, pt, n, &other);
	t = malloc(enc.len);
	assert_non_null(t);
	memcpy(t, enc.p, enc.len);
	memcpy(t + h + (CS + 16), other.p + h + (CS + 16), CS + 16);
	memset(&l, 0, sizeof(l));
	assert_int_equal(open_(t, enc.len, &l, &dec, err, sizeof(err)), ENV_EAUTH);
	assert_int_equal(dec.len, CS);
	mem_free(&dec);
	free(t);
	mem_free(&other);
	mem_free(&enc);
	free(pt);
}

static void test_not_an_envelope(void **state)
{
	static const uint8_t junk[] = "PK\x03\x04 definitely a zip file, not a VWENC one at all";
	uint8_t pt[10] = {0};
	struct mem enc, dec;
	struct lookup l = {0};
	char err[256];

	assert_int_equal(open_(junk, sizeof(junk), &l, &dec, err, sizeof(err)), ENV_EFORMAT);
	assert_int_equal(l.calls, 0);
	mem_free(&dec);
	seal(EZK_SALES, "sales", CS, pt, sizeof(pt), &enc);
	enc.p[5] = 2; /* a future format version */
	assert_int_equal(open_(enc.p, enc.len, &l, &dec, err, sizeof(err)), ENV_EFORMAT);
	assert_non_null(strstr(err, "version 2"));
	assert_int_equal(dec.len, 0);
	mem_free(&dec);
	mem_free(&enc);
}

static void test_bad_arguments_and_io_errors(void **state)
{
	uint8_t pt[300];
	struct env_meta m = meta("sales", CS);
	struct mem in, out;
	struct env_io io = {mem_read, &in, mem_write, &out};
	char err[256];

	memset(pt, 1, sizeof(pt));
	mem_init(&in, pt, sizeof(pt), 0);
	mem_init(&out, NULL, 0, 0);
	m.database = "";
	assert_int_equal(env_encrypt(EZK_SALES, &m, &io, err, sizeof(err)), ENV_EINVAL);
	m = meta("sales", 8);
	assert_int_equal(env_encrypt(EZK_SALES, &m, &io, err, sizeof(err)), ENV_EINVAL);
	m = meta("sales", ENV_CHUNK_MAX + 1);
	assert_int_equal(env_encrypt(EZK_SALES, &m, &io, err, sizeof(err)), ENV_EINVAL);
	assert_int_equal(env_encrypted_size(&m, 10), 0);
	m = meta("sales", CS);
	out.fail_writes = 2; /* header and chunk 0 go through, chunk 1 does not */
	assert_int_equal(env_encrypt(EZK_SALES, &m, &io, err, sizeof(err)), ENV_EIO);
	assert_int_equal(env_decrypt(NULL, NULL, &io, err, sizeof(err)), ENV_EINVAL);
	mem_free(&in);
	mem_free(&out);
}

/* The stdio variants on memory streams (no files: test data stays in memory). */
static void test_stdio_streams(void **state)
{
	const size_t n = 2 * ENV_CHUNK_DEFAULT + 777;
	uint8_t *pt = random_bytes(n);
	struct env_meta m = meta("sales", 0);
	struct lookup l = {0};
	char *ebuf = NULL, *dbuf = NULL, err[256] = "";
	size_t elen = 0, dlen = 0;
	FILE *in, *out;

	in = fmemopen(pt, n, "rb");
	out = open_memstream(&ebuf, &elen);
	assert_non_null(in);
	assert_non_null(out);
	if (env_encrypt_stream(EZK_SALES, &m, in, out, err, sizeof(err)) != ENV_OK)
		fail_msg("env_encrypt_stream: %s", err);
	fclose(in);
	fclose(out);
	assert_int_equal(elen, env_encrypted_size(&m, n));

	in = fmemopen(ebuf, elen, "rb");
	out = open_memstream(&dbuf, &dlen);
	if (env_decrypt_stream(lookup, &l, in, out, err, sizeof(err)) != ENV_OK)
		fail_msg("env_decrypt_stream: %s", err);
	fclose(in);
	fclose(out);
	assert_int_equal(dlen, n);
	assert_memory_equal(dbuf, pt, n);
	free(ebuf);
	free(dbuf);
	free(pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_layout_and_lookup_claims),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_reorder_duplicate_drop_append),
	    cmocka_unit_test(test_every_flipped_bit),
	    cmocka_unit_test(test_wrong_key_and_database),
	    cmocka_unit_test(test_not_an_envelope),
	    cmocka_unit_test(test_bad_arguments_and_io_errors),
	    cmocka_unit_test(test_stdio_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
