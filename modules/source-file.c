/* source-file.c - layers from the local file system (file:///dir/...).
 *
 * For the demo, for AMIs that bake their layers in, and for tests.  The
 * object is read whole, bounded by BL_LAYER_MAX_SIZE, so a layer is either
 * delivered complete or not at all. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/source.h"

static int file_fetch(const struct bl_config *cfg, const struct bl_instance *inst,
		      const char *url, struct bl_buf *body)
{
	(void)cfg;
	(void)inst;
	const char *path = url + strlen("file://");
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return -BL_ENOTFOUND;
		bl_err("cannot read %s: %s", url, strerror(errno));
		return -BL_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		bl_err("%s is not a regular file", url);
		return -BL_EIO;
	}
	int r = bl_read_file(path, BL_LAYER_MAX_SIZE, body);
	if (r == -BL_ETOOBIG)
		bl_err("%s is larger than the %d byte limit for a layer", url, BL_LAYER_MAX_SIZE);
	else if (r < 0 && r != -BL_ENOTFOUND)
		bl_err("cannot read %s: %s", url, strerror(errno));
	return r;
}

const struct bl_source bl_source_file = {
	.scheme = "file",
	.fetch = file_fetch,
};
