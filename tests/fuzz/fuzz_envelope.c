/*
 * libFuzzer harness for env_decrypt (operator/crypto/envelope.c): a VWENC
 * stream from a backup or an export is untrusted input.
 *
 * The first byte holds flags: bit 0 makes the lookup callback refuse, bits 1-3
 * cap the size of each read (0: no cap, k: 2^(k-1) bytes), bit 4 makes every
 * write after the first fail. The rest is the stream; the lookup callback
 * returns FUZZ_EZK, the key the seed corpus was encrypted with. Properties (a
 * failure traps):
 *   - the return value is ENV_OK or a valid env_err (never EINVAL: the
 *     arguments are valid), with a NUL-terminated reason on failure;
 *   - lookup is called at most once, with NUL-terminated claims of 1..253
 *     bytes and a chunk size in range; nothing is written before it answers,
 *     and nothing at all when it refuses (ENV_EKEY);
 *   - no write is longer than the chunk size, and all output together is at
 *     most the input length;
 *   - ENV_OK consumed the whole input, and the input was exactly the header,
 *     the plaintext and one tag per chunk (one write per chunk);
 *   - ENV_EIO only when a write failed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "envelope.h"

/* The seed corpus was made with this key (and chunk size 16 or the default). */
static const uint8_t FUZZ_EZK[AEAD_KEY_LEN] = {
    0x76, 0x65, 0x63, 0x77, 0x61, 0x72, 0x64, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x65, 0x7a, 0x6b,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

#define FIXED_LEN (ENV_MAGIC_LEN + 1 + 4)

static void check(int ok)
{
	if (!ok)
		__builtin_trap();
}

struct state {
	const uint8_t *in;
	size_t len, pos, step;
	int refuse, fail_writes;
	int lookups;
	size_t hlen;    /* header length, from the claims */
	uint32_t chunk; /* chunk size, from the claims */
	size_t out;     /* bytes written */
	long writes;    /* successful writes */
	int write_failed;
	uint8_t sum; /* touches every byte written */
};

static long mem_read(void *ctx, void *p, size_t n)
{
	struct state *s = ctx;
	size_t k = s->len - s->pos;

	if (k > n)
		k = n;
	if (s->step && k > s->step)
		k = s->step;
	memcpy(p, s->in + s->pos, k);
	s->pos += k;
	return (long)k;
}

static int mem_write(void *ctx, const void *p, size_t n)
{
	struct state *s = ctx;
	const uint8_t *u = p;

	check(s->lookups == 1);
	check(n <= s->chunk);
	if (s->fail_writes && s->writes >= 1) {
		s->write_failed = 1;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		s->sum ^= u[i];
	s->out += n;
	s->writes++;
	return 0;
}

static size_t claim_len(const char *c)
{
	size_t n;

	check(c != NULL);
	n = strnlen(c, ENV_FIELD_MAX + 1);
	check(n >= 1 && n <= ENV_FIELD_MAX);
	return n;
}

static int lookup(void *ctx, const struct env_meta *m, uint8_t ezk[AEAD_KEY_LEN])
{
	struct state *s = ctx;

	s->lookups++;
	check(s->lookups == 1);
	check(m->chunk_size >= ENV_CHUNK_MIN && m->chunk_size <= ENV_CHUNK_MAX);
	s->chunk = m->chunk_size;
	s->hlen = FIXED_LEN + 2 + claim_len(m->key_name) + 2 + claim_len(m->cluster_uid) + 2 +
	          claim_len(m->database) + 4 + ENV_NONCE_PREFIX_LEN + ENV_WRAPPED_DEK_LEN;
	/* the header, and nothing after it, was read before the lookup */
	check(s->pos == s->hlen);
	if (s->refuse)
		return -1;
	memcpy(ezk, FUZZ_EZK, AEAD_KEY_LEN);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state s;
	struct env_io io = {mem_read, &s, mem_write, &s};
	char err[256];
	unsigned k;
	int rc;

	if (size < 1)
		return 0;
	memset(&s, 0, sizeof(s));
	s.in = data + 1;
	s.len = size - 1;
	s.refuse = data[0] & 1;
	k = (data[0] >> 1) & 7;
	s.step = k ? (size_t)1 << (k - 1) : 0;
	s.fail_writes = (data[0] >> 4) & 1;
	memset(err, 0x5a, sizeof(err));

	rc = env_decrypt(lookup, &s, &io, err, sizeof(err));

	check(rc <= ENV_OK && rc >= ENV_ENOMEM && rc != ENV_EINVAL);
	check(strcmp(env_strerror(rc), "unknown error") != 0);
	if (rc != ENV_OK)
		check(strnlen(err, sizeof(err)) < sizeof(err) && err[0] != '\0');
	check(s.out <= s.len);
	check(s.lookups <= 1);
	if (s.lookups == 0)
		check(rc == ENV_EFORMAT && s.writes == 0);
	if (s.refuse && s.lookups)
		check(rc == ENV_EKEY && s.writes == 0 && s.out == 0);
	if (rc == ENV_EIO)
		check(s.write_failed);
	if (rc == ENV_OK) {
		check(!s.refuse && s.lookups == 1 && s.writes >= 1);
		check(s.pos == s.len);
		check(s.len == s.hlen + s.out + (size_t)s.writes * AEAD_TAG_LEN);
	}
	return 0;
}
