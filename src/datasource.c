/* datasource.c - choosing where the instance record comes from
 * (datasource.h).
 *
 * "auto" is ds-identify done without guessing: each datasource's detect()
 * looks only at local evidence, in order (ec2, then nocloud), so no metadata
 * address is ever probed on a machine that is not that cloud. */
#include "bootlace/datasource.h"

#include <stdlib.h>
#include <string.h>

#include "bootlace/error.h"
#include "bootlace/log.h"

static const struct bl_datasource *const datasources[] = {
	&bl_datasource_ec2,
	&bl_datasource_nocloud,
};

const char *bl_sysfs_root(void)
{
	const char *root = getenv("BOOTLACE_SYSFS_ROOT");
	return root ? root : "";
}

const struct bl_datasource *bl_datasource_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(datasources); i++)
		if (strcmp(datasources[i]->name, name) == 0)
			return datasources[i];
	return NULL;
}

int bl_datasource_select(const struct bl_config *cfg, const struct bl_datasource **out)
{
	*out = NULL;
	if (strcmp(cfg->datasource, "auto") != 0) {
		*out = bl_datasource_find(cfg->datasource);
		if (!*out) {
			bl_err("datasource \"%s\" is not available in this build", cfg->datasource);
			return -BL_EDATASOURCE;
		}
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(datasources); i++) {
		_cleanup_free_ char *why = NULL;
		if (datasources[i]->detect(cfg, &why)) {
			bl_info("datasource %s: %s", datasources[i]->name, why ? why : "detected");
			*out = datasources[i];
			return 0;
		}
	}
	bl_err("no datasource found: not EC2 (DMI vendor, /sys/hypervisor/uuid, "
	       "AWS_EC2_METADATA_SERVICE_ENDPOINT, imds.endpoint checked) and no nocloud seed at %s",
	       cfg->datasource_dir);
	return -BL_EDATASOURCE;
}
