/* source.c - picks the fetcher for a layer URL by its scheme (source.h),
 * and the object bookkeeping every fetcher shares. */
#include "bootlace/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/transfer.h"

static const struct bl_source *const sources[] = {
	&bl_source_file,
	&bl_source_s3,
	&bl_source_https,
	&bl_source_http,
};

/* Length of "scheme" in "scheme://...", 0 if url has no such prefix. */
static size_t scheme_length(const char *url)
{
	const char *sep = strstr(url, "://");
	return sep ? (size_t)(sep - url) : 0;
}

const struct bl_source *bl_source_for_url(const char *url)
{
	size_t n = scheme_length(url);
	for (size_t i = 0; n && i < ARRAY_SIZE(sources); i++)
		if (strlen(sources[i]->scheme) == n && strncmp(url, sources[i]->scheme, n) == 0)
			return sources[i];
	return NULL;
}

int bl_source_fetch_all(const struct bl_fetch_context *ctx, struct bl_object *const *objs,
			size_t n)
{
	/* One batch per scheme, so each fetcher runs its objects in parallel. */
	struct bl_object **batch = calloc(n ? n : 1, sizeof(*batch));
	if (!batch)
		return -BL_ENOMEM;
	int r = 0;
	for (size_t s = 0; r == 0 && s < ARRAY_SIZE(sources); s++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (bl_source_for_url(objs[i]->url) == sources[s])
				batch[m++] = objs[i];
		if (m)
			r = sources[s]->fetch(ctx, batch, m);
	}
	free(batch);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (!bl_source_for_url(objs[i]->url))
			bl_object_fail(objs[i], -BL_EUNSUPPORTED, "%s: unsupported scheme", objs[i]->url);
	return r;
}

int bl_source_download(const struct bl_fetch_context *ctx, struct bl_object *const *objs,
		       struct bl_download *d, size_t n)
{
	struct bl_transfer_options opts = {
		.tmp_dir = ctx->tmp_dir,
		.ca_file = ctx->cfg->tls_ca_file,
		.retry_for = ctx->cfg->s3_retry_for,
	};
	for (size_t i = 0; i < n; i++) {
		d[i].name = objs[i]->url;
		d[i].max_size = ctx->cfg->s3_max_object_size;
		d[i].if_none_match = objs[i]->if_none_match;
	}
	int r = bl_transfer_run(d, n, &opts);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct bl_object *obj = objs[i];
		obj->result = d[i].result;
		obj->unchanged = d[i].result == 0 && d[i].status == 304;
		obj->size = d[i].size;
		memcpy(obj->sha256, d[i].sha256, sizeof(obj->sha256));
		/* Taken over: the download no longer owns them. */
		obj->path = d[i].path;
		obj->etag = d[i].etag;
		d[i].path = d[i].etag = NULL;
		if (obj->result < 0)
			bl_object_fail(obj, obj->result, "%s: %s", obj->url,
				       d[i].error ? d[i].error : bl_strerror(obj->result));
	}
	for (size_t i = 0; i < n; i++)
		bl_download_clear(&d[i]);
	return r;
}

int bl_object_set_data(struct bl_object *obj, const char *tmp_dir, const void *data, size_t len)
{
	char *path = bl_strdup_printf("%s/object.XXXXXX", tmp_dir);
	if (!path)
		return -BL_ENOMEM;
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		bl_object_fail(obj, -BL_EIO, "cannot create a temp file in %s: %s", tmp_dir,
			       strerror(errno));
		free(path);
		return obj->result;
	}
	int r = bl_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -BL_EIO;
	if (close(fd) < 0)
		r = -BL_EIO;
	if (r < 0) {
		bl_object_fail(obj, -BL_EIO, "cannot write %s: %s", path, strerror(errno));
		unlink(path);
		free(path);
		return obj->result;
	}
	obj->path = path;
	obj->size = len;
	obj->result = 0;
	bl_sha256_hex(data, len, obj->sha256);
	return 0;
}

void bl_object_fail(struct bl_object *obj, int err, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(obj->error);
	obj->error = msg;
	obj->result = err;
}

void bl_object_clear(struct bl_object *obj)
{
	if (obj->path)
		unlink(obj->path);
	free(obj->path);
	free(obj->error);
	free(obj->etag);
	*obj = (struct bl_object){ .url = obj->url, .if_none_match = obj->if_none_match };
}

char *bl_source_join(const char *base, const char *path)
{
	size_t n = strlen(base);
	/* Trailing slashes go, but not the "//" of "scheme://": the root
	 * "file:///" joins to "file:///x", not "file:/x". */
	size_t scheme = scheme_length(base);
	size_t keep = scheme ? scheme + strlen("://") : 0;
	while (n > keep && base[n - 1] == '/')
		n--;
	while (*path == '/')
		path++;
	return bl_strdup_printf("%.*s/%s", (int)n, base, path);
}

static char *supported_schemes(void)
{
	struct bl_buf b = {0};
	for (size_t i = 0; i < ARRAY_SIZE(sources); i++)
		if (bl_buf_printf(&b, "%s%s://", i ? ", " : "", sources[i]->scheme) < 0)
			break;
	return b.data;
}

int bl_source_validate(const char *url, char **msg)
{
	*msg = NULL;
	if (!scheme_length(url)) {
		*msg = bl_strdup_printf("\"%s\" is not a URL (expected e.g. file:///srv/bootstrap/)", url);
		return -BL_ECONFIG;
	}
	if (!bl_source_for_url(url)) {
		_cleanup_free_ char *schemes = supported_schemes();
		*msg = bl_strdup_printf("scheme %.*s:// is not supported by this build (supported: %s)",
					(int)scheme_length(url), url, schemes ? schemes : "");
		return -BL_ECONFIG;
	}
	const struct bl_source *src = bl_source_for_url(url);
	return src->validate ? src->validate(url, msg) : 0;
}
