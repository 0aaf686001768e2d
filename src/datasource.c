/* datasource.c - choosing where the instance record comes from
 * (datasource.h).
 *
 * "auto" is ds-identify done without guessing: a platform is chosen only
 * when the machine itself says so (DMI, hypervisor uuid) or the operator
 * named its endpoint, so no metadata address is ever probed on a machine
 * that is not that cloud. */
#include "bootlace/datasource.h"

#include <stdlib.h>
#include <string.h>

#include "bootlace/error.h"
#include "bootlace/log.h"

static const struct bl_datasource *const datasources[] = {
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

/* First line of a small sysfs file, or NULL. */
static char *read_sysfs_line(const char *rel)
{
	_cleanup_free_ char *path = bl_strdup_printf("%s%s", bl_sysfs_root(), rel);
	struct bl_buf b = {0};
	if (!path || bl_read_file(path, 4096, &b) < 0)
		return NULL;
	b.data[strcspn(b.data, "\n")] = '\0';
	return b.data;
}

/* Whether this machine says it is EC2; why says what matched.  The ec2
 * datasource (next) uses the same evidence. */
static bool platform_is_ec2(char **why)
{
	static const char *const vendor_files[] = {
		"/sys/class/dmi/id/sys_vendor",
		"/sys/class/dmi/id/board_vendor",
	};
	for (size_t i = 0; i < ARRAY_SIZE(vendor_files); i++) {
		_cleanup_free_ char *vendor = read_sysfs_line(vendor_files[i]);
		if (vendor && strcmp(vendor, "Amazon EC2") == 0) {
			*why = bl_strdup_printf("%s is \"Amazon EC2\"", vendor_files[i]);
			return true;
		}
	}
	_cleanup_free_ char *uuid = read_sysfs_line("/sys/hypervisor/uuid");
	if (uuid && strncasecmp(uuid, "ec2", 3) == 0) {
		*why = strdup("/sys/hypervisor/uuid starts with \"ec2\"");
		return true;
	}
	const char *endpoint = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (endpoint && *endpoint) {
		*why = strdup("AWS_EC2_METADATA_SERVICE_ENDPOINT is set");
		return true;
	}
	return false;
}

int bl_datasource_select(const struct bl_config *cfg, const struct bl_datasource **out)
{
	_cleanup_free_ char *why = NULL;
	*out = NULL;
	if (strcmp(cfg->datasource, "auto") != 0) {
		*out = bl_datasource_find(cfg->datasource);
		if (!*out) {
			bl_err("datasource \"%s\" is not available in this build", cfg->datasource);
			return -BL_EDATASOURCE;
		}
		return 0;
	}
	if (platform_is_ec2(&why)) {
		*out = bl_datasource_find("ec2");
		if (!*out) {
			bl_err("this machine is EC2 (%s) but this build has no ec2 datasource",
			       why ? why : "detected");
			return -BL_EDATASOURCE;
		}
		bl_info("datasource ec2: %s", why ? why : "detected");
		return 0;
	}
	const struct bl_datasource *nocloud = bl_datasource_find("nocloud");
	free(why);
	why = NULL;
	if (nocloud->detect(cfg, &why)) {
		bl_info("datasource nocloud: %s", why ? why : "seed found");
		*out = nocloud;
		return 0;
	}
	bl_err("no datasource found: not EC2 (DMI vendor, /sys/hypervisor/uuid, "
	       "AWS_EC2_METADATA_SERVICE_ENDPOINT checked) and no nocloud seed at %s",
	       cfg->datasource_dir);
	return -BL_EDATASOURCE;
}
