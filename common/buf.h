/*
 * buf: one bounded, growable byte buffer (after curl's dynbuf).
 *
 * Invariants:
 *   - ptr is NULL or points to len bytes followed by a NUL, so a buf is always
 *     usable as a C string once something was added;
 *   - len never exceeds max, fixed at buf_init: input from the network is
 *     capped where it is read;
 *   - a failed add frees the buffer and reports, so callers never keep a
 *     half-written value (the buffer is then empty but still initialised).
 * Ownership: the buf owns ptr; buf_take() hands it to the caller, who frees it.
 * buf_free_secret() wipes before freeing: use it for anything holding a secret.
 */
#ifndef VW_BUF_H
#define VW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *ptr;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_INIT(m)                                                                                \
	{                                                                                          \
		NULL, 0, 0, (m)                                                                    \
	}

void buf_init(struct buf *b, size_t max);
/* 0 on success; -1 when out of memory or past max (buffer freed). */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Append s percent-encoded for a URL query value or path segment. */
int buf_add_urlenc(struct buf *b, const char *s);
/* Keep the allocation, drop the contents. */
void buf_reset(struct buf *b);
/* Returns the contents (never NULL: "" when empty) and leaves b empty. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);
/* OPENSSL_cleanse the whole allocation, then free. */
void buf_free_secret(struct buf *b);
/* A read-only view: "" when nothing was added. */
const char *buf_str(const struct buf *b);

#endif
