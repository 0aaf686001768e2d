/* source-file.c - layers from the local file system (file:///dir/...).
 *
 * For the demo, for AMIs that bake their layers in, and for tests.  The
 * object is read whole, bounded by s3.max_object_size like every layer, and
 * copied into a temp file, so a later change to the original cannot change
 * what runs. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "bootlace/error.h"
#include "bootlace/source.h"

static int file_validate(const char *url, char **msg)
{
	if (url[strlen("file://")] != '/') {
		*msg = bl_strdup_printf("\"%s\": a file:// URL needs an absolute path (file:///dir/)",
					url);
		return -BL_ECONFIG;
	}
	return 0;
}

static void file_fetch_one(const struct bl_fetch_context *ctx, struct bl_object *obj)
{
	const char *path = obj->url + strlen("file://");
	size_t max = ctx->cfg->s3_max_object_size;
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			bl_object_fail(obj, -BL_ENOTFOUND, "%s: no such file", obj->url);
		else
			bl_object_fail(obj, -BL_EIO, "cannot read %s: %s", obj->url, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		bl_object_fail(obj, -BL_EIO, "%s is not a regular file", obj->url);
		return;
	}
	struct bl_buf body = {0};
	int r = bl_read_file(path, max, &body);
	if (r == -BL_ETOOBIG)
		bl_object_fail(obj, r, "%s is larger than the %zu byte limit for a layer "
			       "(s3.max_object_size)", obj->url, max);
	else if (r == -BL_ENOTFOUND)
		bl_object_fail(obj, r, "%s: no such file", obj->url);
	else if (r < 0)
		bl_object_fail(obj, r, "cannot read %s: %s", obj->url, strerror(errno));
	else
		bl_object_set_data(obj, ctx->tmp_dir, body.data, body.len);
	bl_buf_free(&body);
}

static int file_fetch(const struct bl_fetch_context *ctx, struct bl_object *const *objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		file_fetch_one(ctx, objs[i]);
	return 0;
}

const struct bl_source bl_source_file = {
	.scheme = "file",
	.validate = file_validate,
	.fetch = file_fetch,
};
