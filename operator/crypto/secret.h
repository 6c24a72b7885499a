/*
 * secret: random credentials from the OpenSSL CSPRNG.
 *
 * Passwords are drawn uniformly (rejection sampling, no modulo bias) from
 * letters, digits and a set of symbols that survive shells, URLs, YAML and the
 * "user:password" token form unquoted; every one of the four classes appears at
 * least once. Callers wipe what they get with OPENSSL_cleanse.
 */
#ifndef VW_SECRET_H
#define VW_SECRET_H

#include <stddef.h>

#define SECRET_PASSWORD_LEN 32
#define SECRET_SYMBOLS      "!#%+-.=@^_~"

/* Fill out with len random password characters and a NUL (out has len+1
 * bytes; len >= 4). 0, or -1 if the CSPRNG failed (out is then wiped). */
int secret_password(char *out, size_t len);

/* Which of the classes lower, upper, digit, symbol s contains (bit mask 1,2,4,8).
 * Pure; used to check passwords users bring. */
int secret_classes(const char *s);
int secret_class_count(const char *s);

#endif
