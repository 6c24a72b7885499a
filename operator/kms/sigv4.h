/*
 * sigv4: AWS Signature Version 4 request signing (header form), written
 * against the AWS documentation and checked by tests/unit/test_sigv4.c with
 * the published aws-sig-v4-test-suite vectors and the IAM ListUsers example.
 *
 *   canonical request = method \n canonical path \n canonical query \n
 *                       canonical headers \n signed headers \n hex(sha256(body))
 *   string to sign    = "AWS4-HMAC-SHA256" \n amz date \n scope \n hex(sha256(creq))
 *   scope             = yyyymmdd / region / service / "aws4_request"
 *   signing key       = HMAC chain "AWS4" + secret -> date -> region -> service
 *                       -> "aws4_request" (HMAC-SHA256)
 *
 * Canonicalisation as the test suite expects for non-S3 services: the path is
 * normalised (empty and "." segments dropped, ".." resolved, a trailing slash
 * kept) and each segment URI-encoded once (RFC 3986 unreserved characters
 * stay); query parameters are percent-decoded, re-encoded and sorted by name,
 * then value; header names are lower-cased and sorted, values trimmed with
 * inner runs of spaces collapsed, repeated headers joined with ',' in order.
 *
 * The signer adds x-amz-date (and x-amz-security-token when the credentials
 * carry a session token) to the signed headers itself: the caller passes the
 * other headers it sends, Host included, and then sends the X-Amz-Date,
 * X-Amz-Security-Token and Authorization headers it gets back.
 *
 * Pure: no I/O, no clock (the date is a parameter), thread-safe. The secret
 * key and every derived key are wiped before returning; the Authorization
 * value carries the access key id and a signature, never the secret.
 */
#ifndef VW_SIGV4_H
#define VW_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define SIGV4_DATE_LEN    16 /* "20150830T123600Z" */
#define SIGV4_MAX_HEADERS 32
#define SIGV4_ALGORITHM   "AWS4-HMAC-SHA256"

struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;                 /* "GET", "POST" */
	const char *path;                   /* raw (not yet encoded) path; NULL or "" means "/" */
	const char *query;                  /* raw query string without '?', may be NULL */
	const struct sigv4_header *headers; /* what will be sent, Host included */
	size_t nheaders;
	const void *body; /* may be NULL when body_len is 0 */
	size_t body_len;
};

struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" when none */
};

/* amz_date as "yyyymmddThhmmssZ" for t (UTC); out has SIGV4_DATE_LEN + 1 bytes. */
int sigv4_format_date(time_t t, char out[SIGV4_DATE_LEN + 1]);

/* Append the canonical request to creq and the signed-header list
 * ("host;x-amz-date") to signed_headers (may be NULL). session_token may be
 * NULL. 0, or -1 on a malformed request (too many headers, bad date, a
 * header name with characters outside the token set) or when a buffer is
 * full. */
int sigv4_canonical_request(const struct sigv4_request *r, const char *amz_date,
                            const char *session_token, struct buf *creq,
                            struct buf *signed_headers);

/* Append the string to sign for a canonical request. 0 or -1. */
int sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                         const char *creq, size_t creq_len, struct buf *out);

/* The derived signing key for (secret, yyyymmdd, region, service); the caller
 * wipes out. 0 or -1. */
int sigv4_signing_key(const char *secret, const char *date8, const char *region,
                      const char *service, uint8_t out[32]);

/* Sign r: append the Authorization header value
 * ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...") to
 * authorization. creq and sts (may be NULL) get the intermediate canonical
 * request and string to sign, for tests and debugging. 0 or -1. */
int sigv4_sign(const struct sigv4_request *r, const struct sigv4_credentials *cred,
               const char *region, const char *service, const char *amz_date,
               struct buf *authorization, struct buf *creq, struct buf *sts);

/* Lower-case hex SHA-256 of p into out (65 bytes). 0 or -1. */
int sigv4_sha256_hex(const void *p, size_t n, char out[65]);

#endif
