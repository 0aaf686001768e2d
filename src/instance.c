/* instance.c - the instance record a datasource fills (instance.h). */
#include "bootlace/instance.h"

#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "bootlace/aws.h"
#include "bootlace/error.h"
#include "bootlace/log.h"

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

int bl_instance_parse_identity(const char *text, size_t len, struct bl_instance *inst)
{
	json_error_t err;
	json_t *doc = json_loadb(text, len, 0, &err);
	/* Not jansson's text: it quotes the input, control characters and all. */
	if (!doc)
		bl_err("IMDS dynamic/instance-identity/document:%d:%d: malformed JSON", err.line,
		       err.column);
	else if (!json_is_object(doc))
		bl_err("IMDS dynamic/instance-identity/document: not a JSON object");
	if (!json_is_object(doc)) {
		json_decref(doc);
		return -BL_EDATASOURCE;
	}
	static const struct { const char *field; size_t offset; } fields[] = {
		{ "instanceId", offsetof(struct bl_instance, instance_id) },
		{ "region", offsetof(struct bl_instance, region) },
		{ "availabilityZone", offsetof(struct bl_instance, availability_zone) },
	};
	int r = 0;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(fields); i++) {
		const char *value = json_string_value(json_object_get(doc, fields[i].field));
		char **slot = (char **)((char *)inst + fields[i].offset);
		if (value && *value && !*slot && !(*slot = strdup(value)))
			r = -BL_ENOMEM;
	}
	json_decref(doc);
	return r;
}
