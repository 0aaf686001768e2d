/* http.h - the one HTTP client bootlace uses (IMDS, S3, EC2), on libcurl.
 *
 * A client keeps one curl handle so that consecutive requests to the same
 * host reuse their connection.  It never follows redirects, speaks only
 * http and https, and caps every response body: a body is delivered whole
 * or the request fails. */
#ifndef BOOTLACE_HTTP_H
#define BOOTLACE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct bl_http;

struct bl_http_request {
	const char *method;          /* "GET", "PUT", "POST" */
	const char *url;
	const char *const *headers;  /* "Name: value" strings, NULL-terminated, or NULL */
	const void *body;            /* request body (PUT/POST), may be NULL */
	size_t body_len;
	long connect_timeout_ms;     /* 0 = libcurl's default */
	long timeout_ms;             /* whole request; 0 = none */
	size_t max_body;             /* response bodies larger than this fail */
	bool no_proxy;               /* never through a proxy (IMDS is link-local) */
	const char *ca_file;         /* CAs trusted besides the system's (PEM); NULL = none */
};

struct bl_http_response {
	long status;
	struct bl_buf body;
	char *etag;                  /* ETag header, if any */
};

/* Checks an endpoint URL (IMDS, S3, EC2 overrides): http(s)://host[:port]
 * [/path] and nothing else (no user, query or fragment), the path made only
 * of characters that encode as themselves, so that it signs as sent.  0, or
 * -BL_ECONFIG with *msg (malloc'd) saying what is wrong, never echoing a
 * password. */
int bl_http_validate_endpoint(const char *url, char **msg);

/* The CA bundle for TLS when tls.ca_file is set: the system's bundle and
 * ca_file's certificates as one PEM blob (for CURLOPT_CAINFO_BLOB).
 * CURLOPT_CAINFO would replace the system's bundle, so that naming a
 * private CA would cut an instance off from S3.  -BL_EIO when ca_file
 * cannot be read (logged). */
int bl_http_load_ca_bundle(const char *ca_file, struct bl_buf *out);

int bl_http_new(struct bl_http **out);
void bl_http_free(struct bl_http *http);

/* 0 when a response arrived, whatever its status.  -BL_ENETWORK when none
 * did (connection refused or reset, DNS, TLS), -BL_ETIMEOUT when it took too
 * long, -BL_ETOOBIG when the body passed max_body.  The URL is not logged
 * by this function: callers name what they asked for. */
int bl_http_perform(struct bl_http *http, const struct bl_http_request *req,
		    struct bl_http_response *resp);
void bl_http_response_free(struct bl_http_response *resp);

/* libcurl's text for the last failed perform ("Connection refused"). */
const char *bl_http_last_error(const struct bl_http *http);

#endif
