/* imds.h - a client of the EC2 instance metadata service, IMDSv2.
 *
 * It owns the session token (fetched with PUT, sent on every GET, fetched
 * again on 401 or before it expires) and the patience early boot needs: a
 * request that finds IMDS not yet answering (connection errors, 5xx, 429) is
 * retried with exponential backoff and full jitter until the wait budget
 * runs out.  The token is a secret: never logged, wiped when freed. */
#ifndef BOOTLACE_IMDS_H
#define BOOTLACE_IMDS_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define BL_IMDS_ENDPOINT_IPV4 "http://169.254.169.254"
#define BL_IMDS_ENDPOINT_IPV6 "http://[fd00:ec2::254]"
#define BL_IMDS_TOKEN_TTL 21600
#define BL_IMDS_DEFAULT_WAIT 120

struct bl_imds_options {
	const char *endpoint;   /* from bl_imds_resolve_endpoint() */
	bool allow_v1;          /* fall back to IMDSv1 when the token PUT is refused */
	unsigned wait;          /* seconds each request keeps retrying an unready IMDS */
	unsigned token_ttl;     /* seconds; 0 = BL_IMDS_TOKEN_TTL */
};

struct bl_imds;

/* The endpoint to use: AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 * config_endpoint, else by mode (AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE,
 * else config_mode: "IPv4" (default) or "IPv6").  -BL_EDATASOURCE when
 * AWS_EC2_METADATA_DISABLED is true, -BL_ECONFIG for a bad mode or URL. */
int bl_imds_resolve_endpoint(const char *config_endpoint, const char *config_mode,
			     char **out);

int bl_imds_new(const struct bl_imds_options *opts, struct bl_imds **out);
void bl_imds_free(struct bl_imds *imds);

/* GETs /latest/<path> ("meta-data/instance-id") into out, at most max bytes.
 * -BL_ENOTFOUND on 404, -BL_EDATASOURCE when IMDS stays unreachable or
 * refuses, -BL_ETOOBIG over max. */
int bl_imds_get(struct bl_imds *imds, const char *path, size_t max, struct bl_buf *out);

/* Requests sent so far (for tests and the benchmark). */
unsigned bl_imds_request_count(const struct bl_imds *imds);

#endif
