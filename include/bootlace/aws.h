/* aws.h - what bootlace needs to call AWS as this instance: the region, the
 * credentials and the service endpoints.
 *
 * Credentials come from the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) when set, else from the
 * instance role through IMDS (meta-data/iam/security-credentials/ROLE).
 * Role credentials are checked (Code "Success", every field present, an
 * Expiration in the future) and fetched again when under five minutes
 * remain.  They are secrets: never logged, never written anywhere, wiped
 * when replaced or freed.
 *
 * Endpoints: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_EC2, else
 * AWS_ENDPOINT_URL, else the config's s3.endpoint / ec2.endpoint, else
 * AWS's public endpoint for the region.  An endpoint that is set explicitly
 * may be http:// (a local emulator, a VPC proxy); AWS's own are https. */
#ifndef BOOTLACE_AWS_H
#define BOOTLACE_AWS_H

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "imds.h"
#include "sigv4.h"
#include "util.h"

/* Role credentials with less than this left are fetched again. */
#define BL_AWS_CREDENTIALS_REFRESH 300

struct bl_aws;

enum bl_s3_addressing { BL_S3_ADDRESSING_AUTO, BL_S3_ADDRESSING_PATH, BL_S3_ADDRESSING_VIRTUAL };

/* region: the instance's (may be NULL: then AWS_REGION, else
 * AWS_DEFAULT_REGION; calls that need one fail clearly without).
 * imds: the client the datasource used, taken over (freed with aws); NULL
 * when there is no IMDS, so only environment credentials can be used.
 * On error imds is freed too. */
int bl_aws_new(const struct bl_config *cfg, const char *region, struct bl_imds *imds,
	       struct bl_aws **out);
void bl_aws_free(struct bl_aws *aws);

/* The IMDS client handed to bl_aws_new(), or NULL: the datasource reads
 * the instance's tags through it again, on the same token. */
struct bl_imds *bl_aws_imds(struct bl_aws *aws);

/* The region, or NULL when none is known. */
const char *bl_aws_region(const struct bl_aws *aws);

/* Current credentials, fetched or refreshed as needed; valid until the
 * next call.  -BL_ECREDENTIALS (logged: what was tried) when there are
 * none; -BL_EDATASOURCE when IMDS fails. */
int bl_aws_credentials(struct bl_aws *aws, const struct bl_aws_credentials **out);

/* Checks an instance role's credentials document (the body of IMDS
 * meta-data/iam/security-credentials/ROLE, len bytes; role names it in
 * messages) and copies the credentials into c, which must be empty: Code
 * "Success", AccessKeyId, SecretAccessKey and Token non-empty strings,
 * Expiration "YYYY-MM-DDTHH:MM:SSZ" in the future.  -BL_ECREDENTIALS
 * (logged, no secret in the message) or -BL_ENOMEM leave c empty.
 * Public so that tests/fuzz can reach it without an IMDS. */
int bl_aws_parse_credentials(const char *text, size_t len, const char *role,
			     struct bl_aws_credentials *c);

/* Where the credentials come from: "environment", "instance role NAME", or
 * "none yet".  For messages. */
const char *bl_aws_credentials_origin(const struct bl_aws *aws);

/* Signs req for service in region (NULL = the instance's) with the current
 * credentials, now, reusing the derived signing key while it is valid. */
int bl_aws_sign(struct bl_aws *aws, const struct bl_sigv4_request *req, const char *service,
		const char *region, struct bl_sigv4_signed *out);

/* The URL of an S3 object, key percent-encoded as it will be signed:
 * https://BUCKET.s3.REGION.amazonaws.com/KEY (virtual-hosted), or
 * ENDPOINT/BUCKET/KEY (path style: with an endpoint override, with
 * s3.addressing_style: path, or for bucket names that are not DNS-safe).
 * region NULL = the instance's.  malloc'd, or NULL with *error set. */
char *bl_aws_s3_object_url(const struct bl_aws *aws, const char *bucket, const char *key,
			   const char *region, char **error);

/* The EC2 Query API endpoint URL (no trailing slash).  malloc'd, or NULL
 * with *error set (no region). */
char *bl_aws_ec2_url(const struct bl_aws *aws, char **error);

/* The extra CA bundle from tls.ca_file, or NULL. */
const char *bl_aws_ca_file(const struct bl_aws *aws);

/* Whether an endpoint override (environment or config) is in effect for
 * "s3" or "ec2"; such endpoints may use http://. */
bool bl_aws_endpoint_overridden(const struct bl_aws *aws, const char *service);

#endif
