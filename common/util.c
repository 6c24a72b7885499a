#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode(const char *s, size_t len, struct buf *out)
{
	unsigned int acc = 0;
	int nbits = 0, pad = 0;
	size_t ndig = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			ndig++;
			continue;
		}
		if (pad)
			goto bad; /* data after padding */
		v = b64val(c);
		if (v < 0)
			goto bad;
		ndig++;
		acc = (acc << 6) | (unsigned int)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (buf_addc(out, (char)((acc >> nbits) & 0xff)))
				return -1;
		}
	}
	if (ndig % 4 != 0 || pad > 2)
		goto bad;
	return 0;
bad:
	if (out->ptr)
		OPENSSL_cleanse(out->ptr, out->cap);
	buf_free(out);
	return -1;
}

int b64_encode(const void *p, size_t n, struct buf *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *u = p;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		char q[4] = {tbl[u[i] >> 2], tbl[((u[i] & 3) << 4) | (u[i + 1] >> 4)],
		             tbl[((u[i + 1] & 15) << 2) | (u[i + 2] >> 6)], tbl[u[i + 2] & 63]};
		if (buf_add(out, q, 4))
			return -1;
	}
	if (i < n) {
		char q[4] = {tbl[u[i] >> 2], 0, '=', '='};
		if (i + 1 < n) {
			q[1] = tbl[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
			q[2] = tbl[(u[i + 1] & 15) << 2];
		} else {
			q[1] = tbl[(u[i] & 3) << 4];
		}
		if (buf_add(out, q, 4))
			return -1;
	}
	return 0;
}

int read_file(const char *path, size_t max, struct buf *out)
{
	char tmp[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = -1;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > max) {
			buf_free_secret(out);
			errno = E2BIG;
			goto out;
		}
		if (buf_add(out, tmp, (size_t)n))
			goto out;
	}
	if (!out->ptr && buf_add(out, "", 0))
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	close(fd);
	return rc;
}

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_duration(const char *s, double *seconds)
{
	double total = 0;
	int any = 0;

	if (!s || !*s)
		return -1;
	while (*s) {
		char *end;
		double v;
		double unit;
		/* digits with an optional fraction only: strtod alone would also
		 * take blanks, signs, exponents, hex, "nan" and "inf" */
		size_t span = strspn(s, "0123456789"), frac;
		if (span == 0)
			return -1;
		if (s[span] == '.') { /* a fraction needs digits: the CRD pattern's form */
			frac = strspn(s + span + 1, "0123456789");
			if (frac == 0)
				return -1;
			span += 1 + frac;
		}
		errno = 0;
		v = strtod(s, &end);
		if (end != s + span || errno || v < 0)
			return -1;
		s = end;
		if (strncmp(s, "ns", 2) == 0) {
			unit = 1e-9;
			s += 2;
		} else if (strncmp(s, "us", 2) == 0) {
			unit = 1e-6;
			s += 2;
		} else if (strncmp(s, "\xc2\xb5s", 3) == 0) {
			unit = 1e-6;
			s += 3;
		} else if (strncmp(s, "ms", 2) == 0) {
			unit = 1e-3;
			s += 2;
		} else if (*s == 's') {
			unit = 1;
			s++;
		} else if (*s == 'm') {
			unit = 60;
			s++;
		} else if (*s == 'h') {
			unit = 3600;
			s++;
		} else {
			return -1;
		}
		total += v * unit;
		if (total > 1e12)
			return -1; /* beyond any certificate lifetime: refuse */
		any = 1;
	}
	if (!any)
		return -1;
	*seconds = total;
	return 0;
}

void sleep_unless(volatile sig_atomic_t *stop, long ms, long step_ms)
{
	while (ms > 0 && !*stop) {
		long step = ms < step_ms ? ms : step_ms;
		struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
