/*
 * util: small helpers shared by the operator, the webhook and the tools:
 * base64, bounded whole-file reads, and checked number parsing.
 */
#ifndef VW_UTIL_H
#define VW_UTIL_H

#include <signal.h>
#include <stddef.h>

#include "buf.h"

/* Decode standard base64 (padding required, whitespace skipped) into out
 * (appended). 0, or -1 on malformed input (out left empty). */
int b64_decode(const char *s, size_t len, struct buf *out);
/* Append the standard base64 encoding of p to out. */
int b64_encode(const void *p, size_t n, struct buf *out);

/* Read a whole file (at most max bytes) into out. 0, or -1 with errno set
 * (E2BIG when larger than max). */
int read_file(const char *path, size_t max, struct buf *out);

/* Parse a decimal long in [min,max]; 0 or -1. */
int parse_long(const char *s, long min, long max, long *out);

/* Parse a Go-style duration ("90s", "1h30m", "2160h"); 0 or -1. */
int parse_duration(const char *s, double *seconds);

/* Sleep up to ms in steps of step_ms, returning early once *stop is set. */
void sleep_unless(volatile sig_atomic_t *stop, long ms, long step_ms);

/* Monotonic clock in milliseconds. */
long long now_ms(void);

#endif
