/* fuzz-config.c - the config loader and the YAML layer under it
 * (src/config.c, src/yaml.c): the input is merged as a configuration file,
 * then again as "#bootlace" user data over the result, as a boot does.
 * Whatever a document says, the merged config must stay within its schema,
 * and user data must leave the security keys as the file set them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootlace/config.h"
#include "bootlace/error.h"
#include "bootlace/template.h"
#include "fuzz.h"

static FILE *devnull;

static bool abs_path(const char *s)
{
	return s && s[0] == '/';
}

static bool in(unsigned v, unsigned min, unsigned max)
{
	return v >= min && v <= max;
}

/* The ranges are the schema's (src/config.c key tables). */
static void check_config(const struct bl_config *cfg)
{
	FUZZ_ASSERT(cfg->n_layers > 0);
	for (size_t i = 0; i < cfg->n_layers; i++) {
		char *msg = NULL;
		int col;
		FUZZ_ASSERT(bl_template_validate(cfg->layers[i].path, &msg, &col) == 0);
		free(msg);
	}
	FUZZ_ASSERT(abs_path(cfg->state_dir) && abs_path(cfg->datasource_dir) &&
		    abs_path(cfg->trusted_keys));
	FUZZ_ASSERT(!cfg->tls_ca_file || abs_path(cfg->tls_ca_file));
	FUZZ_ASSERT(*cfg->tag_role && *cfg->tag_environment);
	FUZZ_ASSERT(in(cfg->run_timeout, 1, 604800) && in(cfg->run_kill_grace, 0, 3600));
	FUZZ_ASSERT(in(cfg->imds_wait, 0, 3600));
	FUZZ_ASSERT(in(cfg->s3_max_object_size, 1, 1024u * 1024 * 1024));
	FUZZ_ASSERT(in(cfg->converge_interval, 1, 604800) && in(cfg->converge_splay, 0, 86400));
	FUZZ_ASSERT(in(cfg->shutdown_timeout, 1, 86400));
	FUZZ_ASSERT(cfg->on_failure == BL_ON_FAILURE_STOP ||
		    cfg->on_failure == BL_ON_FAILURE_CONTINUE);
}

/* Merges text as name; checks the result and what was said about it. */
static void merge(struct bl_config *cfg, const char *name, const uint8_t *data, size_t size)
{
	struct bl_config_diags diags = {0};
	int r = strcmp(name, "user-data") == 0 ?
		bl_config_merge_user_data(cfg, (const char *)data, size, &diags) :
		bl_config_merge_text(cfg, name, (const char *)data, size, &diags);
	FUZZ_ASSERT(r == 0 || r == -BL_ECONFIG || r == -BL_ENOMEM);
	if (r != -BL_ENOMEM)
		FUZZ_ASSERT((r == -BL_ECONFIG) == (diags.n > 0));
	for (size_t i = 0; i < diags.n; i++) {
		const struct bl_config_diag *d = &diags.items[i];
		FUZZ_ASSERT(strcmp(d->file, name) == 0 && *d->message);
		FUZZ_ASSERT(d->line >= 0 && d->col >= 0);
		/* Printed as one line to stderr, the console at first boot. */
		FUZZ_ASSERT(!fuzz_has_control(d->message));
	}
	bl_config_diags_print(&diags, devnull);
	bl_config_diags_free(&diags);
	check_config(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	struct bl_config cfg;
	if (bl_config_init(&cfg) < 0)
		return 0;
	merge(&cfg, "/etc/bootlace/bootlace.yaml", data, size);
	bool require_signature = cfg.require_signature;
	bool require_signed_user_data = cfg.require_signed_user_data;
	char *trusted_keys = strdup(cfg.trusted_keys);
	if (trusted_keys) {
		merge(&cfg, "user-data", data, size);
		FUZZ_ASSERT(cfg.require_signature == require_signature);
		FUZZ_ASSERT(cfg.require_signed_user_data == require_signed_user_data);
		FUZZ_ASSERT(strcmp(cfg.trusted_keys, trusted_keys) == 0);
	}
	free(trusted_keys);
	bl_config_free(&cfg);
	return 0;
}
