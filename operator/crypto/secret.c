#include "secret.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789" SECRET_SYMBOLS;

int secret_classes(const char *s)
{
	int m = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 'a' && c <= 'z')
			m |= 1;
		else if (c >= 'A' && c <= 'Z')
			m |= 2;
		else if (c >= '0' && c <= '9')
			m |= 4;
		else
			m |= 8;
	}
	return m;
}

int secret_class_count(const char *s)
{
	int m = secret_classes(s), n = 0;
	for (; m; m >>= 1)
		n += m & 1;
	return n;
}

/* A uniform index below n, by rejection of the biased top of the byte range. */
static int uniform(unsigned n, unsigned *out)
{
	unsigned char b;
	unsigned limit = 256 - (256 % n);

	do {
		if (RAND_bytes(&b, 1) != 1)
			return -1;
	} while (b >= limit);
	*out = b % n;
	return 0;
}

int secret_password(char *out, size_t len)
{
	const unsigned n = (unsigned)(sizeof(alphabet) - 1);

	if (len < 4)
		return -1;
	/* redraw until all four classes are present: for 32 characters this
	 * needs more than one draw about 1% of the time, and the result stays
	 * uniform over all passwords that have every class */
	for (int attempt = 0; attempt < 1000; attempt++) {
		for (size_t i = 0; i < len; i++) {
			unsigned idx;
			if (uniform(n, &idx)) {
				OPENSSL_cleanse(out, len + 1);
				return -1;
			}
			out[i] = alphabet[idx];
		}
		out[len] = '\0';
		if (secret_classes(out) == 15)
			return 0;
	}
	OPENSSL_cleanse(out, len + 1);
	return -1;
}
