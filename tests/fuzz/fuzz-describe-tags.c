/* fuzz-describe-tags.c - an EC2 DescribeTags answer page through
 * bl_ec2_parse_tags (src/ec2.c, over src/xml.c): what it adds to the
 * instance is a set of tags with keys, and a next page token only when
 * the page parsed. */
#include <stdlib.h>
#include <string.h>

#include "bootlace/ec2.h"
#include "bootlace/error.h"
#include "bootlace/instance.h"
#include "fuzz.h"

#define INSTANCE_ID "i-1234567890abcdef0"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bl_instance inst = {0};
	char *next = NULL;
	int r = bl_ec2_parse_tags((const char *)data, size, INSTANCE_ID, &inst, &next);
	FUZZ_ASSERT(r == 0 || r == -BL_EFORMAT || r == -BL_ENOMEM);
	FUZZ_ASSERT(r == 0 || !next);
	FUZZ_ASSERT(!next || *next);
	for (size_t i = 0; i < inst.n_tags; i++) {
		FUZZ_ASSERT(*inst.tags[i].key && inst.tags[i].value);
		for (size_t j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(inst.tags[i].key, inst.tags[j].key) != 0);
	}
	/* The same page again (a retried request): same tags, none added. */
	size_t n_tags = inst.n_tags;
	char *again = NULL;
	if (r == 0 && bl_ec2_parse_tags((const char *)data, size, INSTANCE_ID, &inst, &again) == 0)
		FUZZ_ASSERT(inst.n_tags == n_tags);
	free(again);
	free(next);
	bl_instance_free(&inst);
	return 0;
}
