/* fuzz-imds-credentials.c - an instance role's credentials document as
 * IMDS serves it (meta-data/iam/security-credentials/ROLE), through
 * bl_aws_parse_credentials: what it accepts is complete and unexpired,
 * what it refuses leaves nothing behind. */
#include <string.h>
#include <time.h>

#include "bootlace/aws.h"
#include "bootlace/error.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bl_aws_credentials c = {0};
	time_t before = time(NULL);
	int r = bl_aws_parse_credentials((const char *)data, size, "fuzz-role", &c);
	FUZZ_ASSERT(r == 0 || r == -BL_ECREDENTIALS || r == -BL_ENOMEM);
	if (r == 0) {
		FUZZ_ASSERT(c.access_key_id && *c.access_key_id);
		FUZZ_ASSERT(c.secret_access_key && *c.secret_access_key);
		FUZZ_ASSERT(c.session_token && *c.session_token);
		FUZZ_ASSERT(c.expiration > before);
	} else {
		FUZZ_ASSERT(!c.access_key_id && !c.secret_access_key && !c.session_token);
	}
	bl_aws_credentials_clear(&c);
	return 0;
}
