/* datasource-nocloud.c - the instance record from a local seed directory.
 *
 * NoCloud-style: <datasource_dir>/meta-data is YAML with instance-id,
 * region, availability-zone and a tags map; <datasource_dir>/user-data is
 * optional.  It lets bootlace do a real first boot with no cloud at all
 * (the demo, tests, bare metal, images built for other clouds). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "bootlace/datasource.h"
#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/template.h"
#include "bootlace/yaml.h"

#define META_DATA_MAX (64 * 1024)
#define USER_DATA_MAX (1024 * 1024)

static bool nocloud_detect(const struct bl_config *cfg, char **why)
{
	_cleanup_free_ char *meta = bl_strdup_printf("%s/meta-data", cfg->datasource_dir);
	struct stat st;
	if (!meta || stat(meta, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	*why = bl_strdup_printf("seed %s", cfg->datasource_dir);
	return true;
}

static int seed_error(const char *file, const struct bl_yaml_node *n, const char *what)
{
	bl_err("%s:%d:%d: %s", file, n ? n->line : 0, n ? n->col : 0, what);
	return -BL_EDATASOURCE;
}

/* Copies the scalar at key (NULL if absent) into *out. */
static int seed_string(const char *file, const struct bl_yaml_node *root, const char *key,
		       char **out)
{
	const struct bl_yaml_node *n = bl_yaml_get(root, key);
	if (!n)
		return 0;
	if (n->kind != BL_YAML_SCALAR || bl_yaml_is_null(n)) {
		_cleanup_free_ char *what = bl_strdup_printf("%s: expected a string", key);
		return seed_error(file, n, what ? what : key);
	}
	*out = strdup(n->scalar);
	return *out ? 0 : -BL_ENOMEM;
}

static int seed_tags(const char *file, const struct bl_yaml_node *tags,
		     struct bl_instance *inst)
{
	if (!tags || bl_yaml_is_null(tags))
		return 0;
	if (tags->kind != BL_YAML_MAP)
		return seed_error(file, tags, "tags: expected a mapping of tag key to value");
	for (size_t i = 0; i < tags->n; i++) {
		const struct bl_yaml_node *v = tags->values[i];
		if (v->kind != BL_YAML_SCALAR) {
			_cleanup_free_ char *what = bl_strdup_printf(
				"tags.%s: expected a string value", tags->keys[i]->scalar);
			return seed_error(file, v, what ? what : "tags");
		}
		int r = bl_instance_set_tag(inst, tags->keys[i]->scalar, v->scalar);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_meta_data(const char *file, const struct bl_buf *text,
			   struct bl_instance *inst)
{
	static const char *const known[] = { "instance-id", "local-hostname", "region",
					     "availability-zone", "tags" };
	struct bl_yaml_node *root = NULL;
	int line = 0, col = 0;
	_cleanup_free_ char *msg = NULL;
	int r = bl_yaml_parse(text->data, text->len, &root, &line, &col, &msg);
	if (r < 0) {
		bl_err("%s:%d:%d: %s", file, line, col, msg ? msg : "invalid YAML");
		return -BL_EDATASOURCE;
	}
	if (!root || root->kind != BL_YAML_MAP) {
		r = seed_error(file, root, "meta-data must be a mapping with instance-id");
		goto out;
	}
	for (size_t i = 0; i < root->n; i++) {
		bool ok = false;
		for (size_t k = 0; k < ARRAY_SIZE(known); k++)
			ok = ok || strcmp(root->keys[i]->scalar, known[k]) == 0;
		if (!ok)
			bl_warn("%s:%d:%d: ignoring unknown meta-data key \"%s\"", file,
				root->keys[i]->line, root->keys[i]->col, root->keys[i]->scalar);
	}
	if ((r = seed_string(file, root, "instance-id", &inst->instance_id)) < 0 ||
	    (r = seed_string(file, root, "region", &inst->region)) < 0 ||
	    (r = seed_string(file, root, "availability-zone", &inst->availability_zone)) < 0 ||
	    (r = seed_tags(file, bl_yaml_get(root, "tags"), inst)) < 0)
		goto out;
	if (!inst->instance_id) {
		r = seed_error(file, root, "instance-id is required");
		goto out;
	}
	/* The instance id names a directory in the state dir. */
	if (!bl_is_safe_name(inst->instance_id, BL_TAG_VALUE_MAX)) {
		r = seed_error(file, bl_yaml_get(root, "instance-id"),
			       "instance-id must match [A-Za-z0-9._-]{1,128}");
		goto out;
	}
out:
	bl_yaml_free(root);
	return r;
}

static int nocloud_load(const struct bl_config *cfg, struct bl_instance *inst)
{
	_cleanup_free_ char *meta = bl_strdup_printf("%s/meta-data", cfg->datasource_dir);
	_cleanup_free_ char *user = bl_strdup_printf("%s/user-data", cfg->datasource_dir);
	struct bl_buf text = {0};
	if (!meta || !user)
		return -BL_ENOMEM;
	int r = bl_read_file(meta, META_DATA_MAX, &text);
	if (r < 0) {
		bl_err("cannot read %s: %s", meta,
		       r == -BL_ETOOBIG ? "larger than 64 KiB" : strerror(errno));
		return -BL_EDATASOURCE;
	}
	inst->datasource = "nocloud";
	r = parse_meta_data(meta, &text, inst);
	bl_buf_free(&text);
	if (r < 0)
		return r;
	r = bl_read_file(user, USER_DATA_MAX, &inst->user_data);
	if (r == -BL_ENOTFOUND)
		return 0;
	if (r < 0) {
		bl_err("cannot read %s: %s", user,
		       r == -BL_ETOOBIG ? "larger than 1 MiB" : strerror(errno));
		return -BL_EDATASOURCE;
	}
	inst->has_user_data = true;
	return 0;
}

const struct bl_datasource bl_datasource_nocloud = {
	.name = "nocloud",
	.detect = nocloud_detect,
	.load = nocloud_load,
};
