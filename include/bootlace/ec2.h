/* ec2.h - the one EC2 API call bootlace makes: DescribeTags, for instances
 * whose tags are not exposed in IMDS ("instance metadata tags" off).
 *
 * Query API, version 2016-11-15, sent as a form-encoded POST signed with
 * SigV4 (as the SDKs send it), paged by NextToken, the XML answer parsed with
 * expat.  Throttling (RequestLimitExceeded), 5xx and network errors are
 * retried with jittered backoff; an API error becomes a message naming its
 * code and what to do about it. */
#ifndef BOOTLACE_EC2_H
#define BOOTLACE_EC2_H

#include <stddef.h>

#include "aws.h"
#include "instance.h"

/* Adds the instance's tags (all of them, or only those named in keys when
 * n_keys > 0) to inst.  -BL_EDENIED when the role may not call it or the
 * credentials are refused, -BL_ENETWORK / -BL_ETIMEOUT when EC2 cannot be
 * reached, -BL_EFORMAT for an answer that is not DescribeTags XML. */
int bl_ec2_describe_tags(struct bl_aws *aws, const char *instance_id,
			 const char *const *keys, size_t n_keys, struct bl_instance *inst);

/* Adds the tags of one DescribeTags answer page (len bytes of XML) to
 * inst, skipping items of another resource than instance_id; *next_token
 * (malloc'd) when there are more pages.  -BL_EFORMAT (logged) for a
 * malformed answer or a tag without a key, -BL_ENOMEM.  Public so that
 * tests/fuzz can reach it without an EC2 endpoint. */
int bl_ec2_parse_tags(const char *text, size_t len, const char *instance_id,
		      struct bl_instance *inst, char **next_token);

/* Requests sent by this process (for tests and the benchmark). */
unsigned bl_ec2_request_count(void);

#endif
