/* fuzz-imds-identity.c - the EC2 instance identity document
 * (dynamic/instance-identity/document) through bl_instance_parse_identity,
 * as the ec2 datasource reads it: over an empty record, and over one whose
 * instance id is already known, which it must keep. */
#include <string.h>

#include "bootlace/error.h"
#include "bootlace/instance.h"
#include "fuzz.h"

static void check(const char *field)
{
	FUZZ_ASSERT(!field || *field);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bl_instance inst = {0};
	int r = bl_instance_parse_identity((const char *)data, size, &inst);
	FUZZ_ASSERT(r == 0 || r == -BL_EDATASOURCE || r == -BL_ENOMEM);
	if (r == -BL_EDATASOURCE)
		FUZZ_ASSERT(!inst.instance_id && !inst.region && !inst.availability_zone);
	check(inst.instance_id);
	check(inst.region);
	check(inst.availability_zone);
	bl_instance_free(&inst);

	static const char known[] = "i-0123456789abcdef0";
	inst.instance_id = strdup(known);
	if (inst.instance_id && bl_instance_parse_identity((const char *)data, size, &inst) == 0)
		FUZZ_ASSERT(strcmp(inst.instance_id, known) == 0);
	bl_instance_free(&inst);
	return 0;
}
