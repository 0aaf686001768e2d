/* instance.c - the instance record a datasource fills (instance.h). */
#include "bootlace/instance.h"

#include <string.h>

#include "bootlace/aws.h"
#include "bootlace/error.h"

int bl_instance_set_tag(struct bl_instance *inst, const char *key, const char *value)
{
	char *v = strdup(value);
	if (!v)
		return -BL_ENOMEM;
	for (size_t i = 0; i < inst->n_tags; i++) {
		if (strcmp(inst->tags[i].key, key) == 0) {
			free(inst->tags[i].value);
			inst->tags[i].value = v;
			return 0;
		}
	}
	char *k = strdup(key);
	struct bl_tag *tags = reallocarray(inst->tags, inst->n_tags + 1, sizeof(*tags));
	if (!k || !tags) {
		free(k);
		free(v);
		if (tags)
			inst->tags = tags;
		return -BL_ENOMEM;
	}
	inst->tags = tags;
	inst->tags[inst->n_tags++] = (struct bl_tag){ .key = k, .value = v };
	return 0;
}

const char *bl_instance_tag(const struct bl_instance *inst, const char *key)
{
	for (size_t i = 0; i < inst->n_tags; i++)
		if (strcmp(inst->tags[i].key, key) == 0)
			return inst->tags[i].value;
	return NULL;
}

void bl_instance_clear_tags(struct bl_instance *inst)
{
	for (size_t i = 0; i < inst->n_tags; i++) {
		free(inst->tags[i].key);
		free(inst->tags[i].value);
	}
	free(inst->tags);
	inst->tags = NULL;
	inst->n_tags = 0;
}

void bl_instance_free(struct bl_instance *inst)
{
	bl_instance_clear_tags(inst);
	free(inst->instance_id);
	free(inst->region);
	free(inst->availability_zone);
	bl_buf_free(&inst->user_data);
	bl_aws_free(inst->aws);
	*inst = (struct bl_instance){0};
}
