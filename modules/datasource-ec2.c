/* datasource-ec2.c - the instance record from the EC2 instance metadata
 * service (IMDSv2).
 *
 * Detection reads only local evidence (DMI, the hypervisor uuid, an
 * explicitly configured endpoint), so bootlace never sends a packet to the
 * link-local metadata address of a machine that is not EC2.  Tags come from
 * IMDS's tags/instance/ (when "instance metadata tags" is on for the
 * instance; EC2 then allows no spaces or "/" in tag keys), else from EC2
 * DescribeTags with the instance role's credentials. */
#include <string.h>
#include <strings.h>

#include "bootlace/aws.h"
#include "bootlace/datasource.h"
#include "bootlace/ec2.h"
#include "bootlace/error.h"
#include "bootlace/imds.h"
#include "bootlace/log.h"
#include "bootlace/sigv4.h"
#include "bootlace/template.h"

#define SMALL_MAX 4096
#define LIST_MAX (64 * 1024)
#define USER_DATA_MAX (64 * 1024)

/* First line of a small sysfs file under bl_sysfs_root(), or NULL. */
static char *read_sysfs_line(const char *rel)
{
	_cleanup_free_ char *path = bl_strdup_printf("%s%s", bl_sysfs_root(), rel);
	struct bl_buf b = {0};
	if (!path || bl_read_file(path, 4096, &b) < 0)
		return NULL;
	b.data[strcspn(b.data, "\n")] = '\0';
	return b.data;
}

static bool ec2_detect(const struct bl_config *cfg, char **why)
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
	if (cfg->imds_endpoint) {
		*why = strdup("imds.endpoint is configured");
		return true;
	}
	return false;
}

/* GETs a metadata item as a string; *out NULL when IMDS has none (404). */
static int imds_string(struct bl_imds *imds, const char *path, size_t max, char **out)
{
	struct bl_buf b = {0};
	*out = NULL;
	int r = bl_imds_get(imds, path, max, &b);
	if (r == -BL_ENOTFOUND)
		return 0;
	if (r < 0)
		return r;
	*out = b.data;
	return 0;
}

/* Instance id, region and zone from the identity document: one request
 * for what would take three meta-data items.  A document that is missing
 * leaves them unset (the items are asked then); one that is not JSON is an
 * error, as IMDS answering garbage is. */
static int read_identity(struct bl_imds *imds, struct bl_instance *inst)
{
	struct bl_buf doc = {0};
	int r = bl_imds_get(imds, "dynamic/instance-identity/document", LIST_MAX, &doc);
	if (r == 0)
		r = bl_instance_parse_identity(doc.data, doc.len, inst);
	bl_buf_free(&doc);
	return r == -BL_ENOTFOUND ? 0 : r;
}

/* Tags from IMDS's tags/instance/.  *listed is false when IMDS exposes
 * none (instance metadata tags off, or no tags at all). */
static int read_imds_tags(struct bl_imds *imds, struct bl_instance *inst, bool *listed)
{
	_cleanup_free_ char *keys = NULL;
	int r = imds_string(imds, "meta-data/tags/instance", LIST_MAX, &keys);
	*listed = r == 0 && keys && keys[strspn(keys, "\n")];
	if (r < 0 || !*listed)
		return r;
	char *save = NULL;
	for (char *key = strtok_r(keys, "\n", &save); key; key = strtok_r(NULL, "\n", &save)) {
		struct bl_buf path = {0};
		_cleanup_free_ char *value = NULL;
		r = bl_buf_printf(&path, "meta-data/tags/instance/");
		if (r == 0)
			r = bl_sigv4_uri_encode(&path, key, strlen(key), false);
		if (r == 0)
			r = imds_string(imds, path.data, SMALL_MAX, &value);
		bl_buf_free(&path);
		if (r == 0 && !value)
			bl_warn("IMDS lists tag \"%s\" but has no value for it", bl_printable(key));
		else if (r == 0)
			r = bl_instance_set_tag(inst, key, value);
		if (r < 0)
			return r;
	}
	return 0;
}

/* tags.source: imds, api (EC2 DescribeTags), or auto: IMDS, else the API. */
static int read_tags(const struct bl_config *cfg, struct bl_imds *imds, struct bl_instance *inst)
{
	bool listed = false;
	if (strcmp(cfg->tags_source, "api") != 0) {
		int r = read_imds_tags(imds, inst, &listed);
		if (r < 0 || listed)
			return r;
	}
	if (strcmp(cfg->tags_source, "imds") == 0) {
		bl_warn("IMDS has no instance tags: turn on \"instance metadata tags\" for this "
			"instance (InstanceMetadataTags=enabled), or set tags.source to auto or api "
			"to read them with EC2 DescribeTags");
		return 0;
	}
	if (strcmp(cfg->tags_source, "auto") == 0)
		bl_info("IMDS has no instance tags (instance metadata tags off); asking EC2 "
			"DescribeTags");
	int r = bl_ec2_describe_tags(inst->aws, inst->instance_id, NULL, 0, inst);
	return r == -BL_ENOMEM || r == -BL_ECONFIG ? r : r < 0 ? -BL_EDATASOURCE : 0;
}

/* Who the instance is and its user data.  The meta-data items stand in
 * for whatever the identity document lacks. */
static int ec2_read(struct bl_imds *imds, struct bl_instance *inst)
{
	int r = read_identity(imds, inst);
	if (r == 0 && !inst->instance_id)
		r = imds_string(imds, "meta-data/instance-id", SMALL_MAX, &inst->instance_id);
	if (r == 0 && !inst->instance_id) {
		bl_err("IMDS has no meta-data/instance-id");
		return -BL_EDATASOURCE;
	}
	/* The instance id names a directory in the state dir. */
	if (r == 0 && !bl_is_safe_name(inst->instance_id, BL_TAG_VALUE_MAX)) {
		bl_err("IMDS meta-data/instance-id is not a valid instance id");
		return -BL_EDATASOURCE;
	}
	if (r == 0 && !inst->region)
		r = imds_string(imds, "meta-data/placement/region", SMALL_MAX, &inst->region);
	if (r == 0 && !inst->availability_zone)
		r = imds_string(imds, "meta-data/placement/availability-zone", SMALL_MAX,
				&inst->availability_zone);
	if (r == 0) {
		r = bl_imds_get(imds, "user-data", USER_DATA_MAX, &inst->user_data);
		inst->has_user_data = r == 0;
		if (r == -BL_ENOTFOUND)
			r = 0;
	}
	return r;
}

static int ec2_load(const struct bl_config *cfg, struct bl_instance *inst)
{
	_cleanup_free_ char *endpoint = NULL;
	struct bl_imds *imds = NULL;
	int r = bl_imds_resolve_endpoint(cfg->imds_endpoint, cfg->imds_mode, &endpoint);
	if (r < 0)
		return r;
	struct bl_imds_options opts = { .endpoint = endpoint, .allow_v1 = cfg->imds_allow_v1,
					.wait = cfg->imds_wait };
	r = bl_imds_new(&opts, &imds);
	inst->datasource = "ec2";
	if (r == 0)
		r = ec2_read(imds, inst);
	/* The IMDS client stays with the AWS access: the role's credentials
	 * come through it, now and when they are refreshed. */
	struct bl_imds *borrowed = imds;
	if (r == 0) {
		imds = NULL;  /* owned by inst->aws now, or freed by a failing bl_aws_new */
		r = bl_aws_new(cfg, inst->region, borrowed, &inst->aws);
	}
	if (r == 0)
		r = read_tags(cfg, borrowed, inst);
	if (r == 0)
		bl_debug("IMDS: %u requests", bl_imds_request_count(borrowed));
	bl_imds_free(imds);
	return r;
}

/* Tags are all that can change while an instance runs (its id, placement
 * and user data cannot), and the IMDS client keeps its token: a daemon's
 * cycle costs the tag requests alone. */
static int ec2_refresh(const struct bl_config *cfg, struct bl_instance *inst)
{
	/* load() filled inst, so it holds the IMDS session (datasource.h). */
	bl_instance_clear_tags(inst);
	return read_tags(cfg, bl_aws_imds(inst->aws), inst);
}

const struct bl_datasource bl_datasource_ec2 = {
	.name = "ec2",
	.detect = ec2_detect,
	.load = ec2_load,
	.refresh = ec2_refresh,
};
