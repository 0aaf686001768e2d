/* instance.h - what bootlace knows about the machine it runs on.
 *
 * A datasource (nocloud, ec2) fills one record; templates, the runner's
 * environment and context.json read it. */
#ifndef BOOTLACE_INSTANCE_H
#define BOOTLACE_INSTANCE_H

#include <stddef.h>
#include "util.h"

struct bl_aws;

struct bl_tag {
	char *key;
	char *value;
};

struct bl_instance {
	const char *datasource;   /* name of the datasource that filled it (static) */
	char *instance_id;
	char *region;             /* may be NULL */
	char *availability_zone;  /* may be NULL */
	struct bl_tag *tags;
	size_t n_tags;
	struct bl_buf user_data;  /* raw, as the datasource returned it; never logged */
	bool has_user_data;
	/* AWS access as this instance (region, credentials, endpoints): set by
	 * the ec2 datasource, or by the agent when a layer source needs AWS.
	 * Owned by the record. */
	struct bl_aws *aws;
};

/* Adds or replaces a tag (copies key and value). */
int bl_instance_set_tag(struct bl_instance *inst, const char *key, const char *value);
/* Forgets every tag, for a datasource that reads them again. */
void bl_instance_clear_tags(struct bl_instance *inst);
/* Tag value or NULL. */
const char *bl_instance_tag(const struct bl_instance *inst, const char *key);
void bl_instance_free(struct bl_instance *inst);

/* Fills the instance id, region and availability zone that inst lacks from
 * an EC2 instance identity document (the JSON of IMDS
 * dynamic/instance-identity/document, len bytes); a field that is missing
 * or not a non-empty string is left unset.  -BL_EDATASOURCE (logged) when
 * text is not a JSON object, -BL_ENOMEM.  Here rather than in the ec2
 * datasource so that tests/fuzz can reach it without an IMDS. */
int bl_instance_parse_identity(const char *text, size_t len, struct bl_instance *inst);

#endif
