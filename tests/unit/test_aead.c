/*
 * Tests for operator/crypto/aead: AES-256-GCM against the known-answer
 * vectors of the GCM specification (McGrew and Viega, "The Galois/Counter
 * Mode of Operation", test cases 13 to 16, the AES-256 ones), and the wrap
 * format: round trips, and failure on every single-byte change, every
 * truncation, a wrong AAD and a wrong key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "unit.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

struct kat {
	const char *name, *key, *iv, *pt, *aad, *ct, *tag;
};

/* The GCM specification, appendix B: AES-256 cases with 96-bit IVs. */
static const struct kat kats[] = {
    {"test case 13", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"test case 14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"test case 15", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"test case 16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void test_gcm_known_answers(void **state)
{
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		const struct kat *k = &kats[i];
		uint8_t key[32], iv[12], pt[64], aad[32], ct[64], tag[16], out[64], got_tag[16];
		size_t kl = unhex(k->key, key, sizeof(key)), il = unhex(k->iv, iv, sizeof(iv));
		size_t pl = unhex(k->pt, pt, sizeof(pt)), al = unhex(k->aad, aad, sizeof(aad));
		size_t cl = unhex(k->ct, ct, sizeof(ct));

		unhex(k->tag, tag, sizeof(tag));
		assert_int_equal(kl, 32);
		assert_int_equal(il, 12);
		assert_int_equal(cl, pl);
		assert_int_equal(aead_seal(key, iv, aad, al, pt, pl, out, got_tag), AEAD_OK);
		if (pl)
			assert_memory_equal(out, ct, pl);
		assert_memory_equal(got_tag, tag, 16);

		memset(out, 0xAA, sizeof(out));
		assert_int_equal(aead_open(key, iv, aad, al, ct, cl, tag, out), AEAD_OK);
		if (pl)
			assert_memory_equal(out, pt, pl);

		/* one bit of the tag off: refused, and the output wiped */
		tag[15] ^= 1;
		memset(out, 0xAA, sizeof(out));
		assert_int_equal(aead_open(key, iv, aad, al, ct, cl, tag, out), AEAD_EAUTH);
		for (size_t j = 0; j < cl; j++)
			assert_int_equal(out[j], 0);
	}
}

static void test_gcm_in_place(void **state)
{
	const struct kat *k = &kats[3];
	uint8_t key[32], iv[12], buf[64], aad[32], ct[64], tag[16], want[64];
	size_t pl, al;

	unhex(k->key, key, sizeof(key));
	unhex(k->iv, iv, sizeof(iv));
	pl = unhex(k->pt, buf, sizeof(buf));
	memcpy(want, buf, pl);
	al = unhex(k->aad, aad, sizeof(aad));
	unhex(k->ct, ct, sizeof(ct));
	assert_int_equal(aead_seal(key, iv, aad, al, buf, pl, buf, tag), AEAD_OK);
	assert_memory_equal(buf, ct, pl);
	assert_int_equal(aead_open(key, iv, aad, al, buf, pl, tag, buf), AEAD_OK);
	assert_memory_equal(buf, want, pl);
}

static const uint8_t KEK[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const char AAD[] = "cluster=5f0c;database=sales;version=3";

static void test_wrap_round_trip_and_layout(void **state)
{
	uint8_t dek[32], w[AEAD_WRAP_LEN(32)], w2[AEAD_WRAP_LEN(32)], out[64];
	size_t wl = 0, wl2 = 0, ol = 0;

	for (int i = 0; i < 32; i++)
		dek[i] = (uint8_t)(0xA0 + i);
	assert_int_equal(aead_wrap(KEK, dek, 32, AAD, strlen(AAD), w, sizeof(w), &wl), AEAD_OK);
	assert_int_equal(wl, 1 + 12 + 32 + 16);
	assert_int_equal(w[0], AEAD_WRAP_VERSION);
	assert_memory_not_equal(w + 13, dek, 32); /* encrypted */
	assert_int_equal(aead_unwrap(KEK, w, wl, AAD, strlen(AAD), out, sizeof(out), &ol), AEAD_OK);
	assert_int_equal(ol, 32);
	assert_memory_equal(out, dek, 32);

	/* a second wrap of the same key draws another nonce */
	assert_int_equal(aead_wrap(KEK, dek, 32, AAD, strlen(AAD), w2, sizeof(w2), &wl2), AEAD_OK);
	assert_memory_not_equal(w + 1, w2 + 1, 12);
	assert_memory_not_equal(w + 13, w2 + 13, 32);

	/* no AAD at all is allowed, and differs from any AAD */
	assert_int_equal(aead_wrap(KEK, dek, 32, NULL, 0, w, sizeof(w), &wl), AEAD_OK);
	assert_int_equal(aead_unwrap(KEK, w, wl, NULL, 0, out, sizeof(out), &ol), AEAD_OK);
	assert_int_equal(aead_unwrap(KEK, w, wl, "", 1, out, sizeof(out), &ol), AEAD_EAUTH);
}

static void test_wrap_sizes(void **state)
{
	static uint8_t big[AEAD_WRAP_MAX + 1], w[AEAD_WRAP_LEN(AEAD_WRAP_MAX + 1)],
	    out[AEAD_WRAP_MAX + 1];
	size_t wl = 0, ol = 0;

	memset(big, 0x5c, sizeof(big));
	assert_int_equal(aead_wrap(KEK, big, 1, AAD, 3, w, sizeof(w), &wl), AEAD_OK);
	assert_int_equal(wl, AEAD_WRAP_OVERHEAD + 1);
	assert_int_equal(aead_unwrap(KEK, w, wl, AAD, 3, out, 1, &ol), AEAD_OK);
	assert_int_equal(ol, 1);
	assert_int_equal(aead_wrap(KEK, big, AEAD_WRAP_MAX, AAD, 3, w, sizeof(w), &wl), AEAD_OK);
	assert_int_equal(aead_unwrap(KEK, w, wl, AAD, 3, out, sizeof(out), &ol), AEAD_OK);
	assert_memory_equal(out, big, AEAD_WRAP_MAX);
	/* too small an output buffer for the plaintext */
	assert_int_equal(aead_unwrap(KEK, w, wl, AAD, 3, out, AEAD_WRAP_MAX - 1, &ol), AEAD_EINVAL);

	assert_int_equal(aead_wrap(KEK, big, 0, AAD, 3, w, sizeof(w), &wl), AEAD_EINVAL);
	assert_int_equal(aead_wrap(KEK, big, AEAD_WRAP_MAX + 1, AAD, 3, w, sizeof(w), &wl),
	                 AEAD_EINVAL);
	assert_int_equal(aead_wrap(KEK, big, 32, AAD, 3, w, AEAD_WRAP_LEN(32) - 1, &wl),
	                 AEAD_EINVAL);
	assert_int_equal(aead_wrap(NULL, big, 32, AAD, 3, w, sizeof(w), &wl), AEAD_EINVAL);
}

/* Every single-byte change anywhere in a wrapped key fails, and so does every
 * truncation and extension; nothing of the plaintext is left in the output. */
static void test_unwrap_every_tamper_fails(void **state)
{
	uint8_t dek[32], w[AEAD_WRAP_LEN(32) + 1], t[AEAD_WRAP_LEN(32) + 1], out[64];
	size_t wl = 0, ol = 12345;

	memset(dek, 0x42, sizeof(dek));
	assert_int_equal(aead_wrap(KEK, dek, 32, AAD, strlen(AAD), w, sizeof(w), &wl), AEAD_OK);
	for (size_t i = 0; i < wl; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc;
			memcpy(t, w, wl);
			t[i] ^= (uint8_t)(1u << bit);
			memset(out, 0x42, sizeof(out));
			rc = aead_unwrap(KEK, t, wl, AAD, strlen(AAD), out, sizeof(out), &ol);
			/* the version byte changes the format, the rest the tag */
			assert_int_equal(rc, i == 0 ? AEAD_EFORMAT : AEAD_EAUTH);
			assert_int_equal(ol, 12345);
			for (size_t j = 0; j < sizeof(out); j++)
				assert_int_equal(out[j], 0);
		}
	}
	for (size_t n = 0; n < wl; n++)
		assert_int_not_equal(
		    aead_unwrap(KEK, w, n, AAD, strlen(AAD), out, sizeof(out), &ol), AEAD_OK);
	memcpy(t, w, wl);
	t[wl] = 0;
	assert_int_equal(aead_unwrap(KEK, t, wl + 1, AAD, strlen(AAD), out, sizeof(out), &ol),
	                 AEAD_EAUTH);
	assert_int_equal(ol, 12345);
}

static void test_unwrap_wrong_aad_or_key(void **state)
{
	uint8_t dek[32], w[AEAD_WRAP_LEN(32)], out[64], other[32];
	size_t wl = 0, ol = 0;
	char aad2[sizeof(AAD)];

	memset(dek, 7, sizeof(dek));
	assert_int_equal(aead_wrap(KEK, dek, 32, AAD, strlen(AAD), w, sizeof(w), &wl), AEAD_OK);

	/* another database in the context */
	assert_int_equal(aead_unwrap(KEK, w, wl, "cluster=5f0c;database=sales;version=4",
	                             strlen(AAD), out, sizeof(out), &ol),
	                 AEAD_EAUTH);
	/* every single bit of the AAD matters, and its length */
	for (size_t i = 0; i < strlen(AAD); i++) {
		memcpy(aad2, AAD, sizeof(AAD));
		aad2[i] ^= 0x01;
		assert_int_equal(aead_unwrap(KEK, w, wl, aad2, strlen(AAD), out, sizeof(out), &ol),
		                 AEAD_EAUTH);
	}
	assert_int_equal(aead_unwrap(KEK, w, wl, AAD, strlen(AAD) - 1, out, sizeof(out), &ol),
	                 AEAD_EAUTH);
	/* another key, including one a single bit away */
	for (int i = 0; i < 32; i++) {
		memcpy(other, KEK, 32);
		other[i] ^= 0x80;
		assert_int_equal(aead_unwrap(other, w, wl, AAD, strlen(AAD), out, sizeof(out), &ol),
		                 AEAD_EAUTH);
	}
	assert_string_not_equal(aead_strerror(AEAD_EAUTH), aead_strerror(AEAD_EFORMAT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gcm_known_answers),
	    cmocka_unit_test(test_gcm_in_place),
	    cmocka_unit_test(test_wrap_round_trip_and_layout),
	    cmocka_unit_test(test_wrap_sizes),
	    cmocka_unit_test(test_unwrap_every_tamper_fails),
	    cmocka_unit_test(test_unwrap_wrong_aad_or_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
