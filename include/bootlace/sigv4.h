/* sigv4.h - AWS Signature Version 4, the header form, for the S3 GetObject
 * and EC2 Query API calls bootlace makes without an AWS SDK.
 *
 * Pure computation: canonical request -> string to sign -> signature ->
 * the headers to add.  No I/O and no logging.  Credentials, the derived
 * signing keys and every buffer that held them are wiped when freed.
 *
 * The URL is the one sent on the wire (what curl gets), percent-encoded
 * with bl_sigv4_uri_encode() so that what is signed is what the service
 * sees.  Its host[:port] becomes the Host header (a default port dropped,
 * as curl does) unless the caller signs a Host header of its own. */
#ifndef BOOTLACE_SIGV4_H
#define BOOTLACE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util.h"

struct bl_aws_credentials {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;     /* NULL for long-term keys */
	time_t expiration;       /* 0 = none; for the caller's refresh decision */
};

/* Wipes and frees the strings; c is left zeroed. */
void bl_aws_credentials_clear(struct bl_aws_credentials *c);

struct bl_sigv4_header {
	const char *name;
	const char *value;       /* may hold line breaks: folded like spaces */
};

/* A derived signing key kept for reuse while its scope (date, region,
 * service) and the secret it came from stay the same: deriving it costs four
 * HMACs per request otherwise.  A scope that does not fit scope[], or whose
 * region or service holds a '/', is derived every time.  Zero-initialize;
 * wipe with bl_sigv4_key_cache_clear(). */
struct bl_sigv4_key_cache {
	char scope[128];              /* "20150830/us-east-1/iam" */
	unsigned char secret_id[32];  /* SHA-256 of the secret key it was derived from */
	unsigned char key[32];
	bool valid;
};

void bl_sigv4_key_cache_clear(struct bl_sigv4_key_cache *cache);

struct bl_sigv4_request {
	const char *method;      /* "GET", "POST" */
	const char *url;         /* http(s)://host[:port]/path?query, as sent */
	/* Extra headers to sign (Range, Content-Type, Host), which the caller
	 * sends itself.  The signer owns Authorization, X-Amz-Date,
	 * X-Amz-Security-Token and X-Amz-Content-SHA256: naming one here is
	 * -BL_EFORMAT.  Repeated names are joined with ',' in this order. */
	const struct bl_sigv4_header *headers;
	size_t n_headers;
	const void *payload;
	size_t payload_len;
	/* NULL: the hex SHA-256 of payload; or e.g. "UNSIGNED-PAYLOAD". */
	const char *payload_hash;
	/* S3 rules: the path is not normalized and is encoded once, and
	 * X-Amz-Content-SHA256 is signed and sent. */
	bool s3;
	/* NULL: derive the signing key for this request only. */
	struct bl_sigv4_key_cache *key_cache;
};

/* Authorization, X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-SHA256. */
#define BL_SIGV4_MAX_HEADERS 4

struct bl_sigv4_signed {
	/* "Name: value" lines to add to the request, NULL-terminated:
	 * Authorization and X-Amz-Date, then X-Amz-Security-Token when there
	 * is a session token and X-Amz-Content-SHA256 for S3. */
	char *headers[BL_SIGV4_MAX_HEADERS + 1];
	const char *authorization;   /* the Authorization value, inside headers[0] */
	char *canonical_request;     /* the stages, for tests */
	char *string_to_sign;
};

/* Signs req for region and service ("s3", "ec2") at time now.  0, or
 * -BL_EFORMAT for a malformed URL, a missing credential, a header the
 * signer owns, or a control character in a value that would be sent;
 * -BL_ENOMEM.  On error *out is left empty. */
int bl_sigv4_sign(const struct bl_sigv4_request *req, const struct bl_aws_credentials *creds,
		  const char *region, const char *service, time_t now,
		  struct bl_sigv4_signed *out);

/* Wipes (a session token is in them) and frees; s is left zeroed. */
void bl_sigv4_signed_free(struct bl_sigv4_signed *s);

/* Appends len bytes of s percent-encoded the SigV4 way: A-Z a-z 0-9 - . _ ~
 * kept, every other byte %XX in uppercase hex (a space is %20, never '+'),
 * '/' kept when keep_slash.  For building URLs that sign as sent: S3 keys
 * (keep_slash) and query names and values (not). */
int bl_sigv4_uri_encode(struct bl_buf *out, const char *s, size_t len, bool keep_slash);

#endif
