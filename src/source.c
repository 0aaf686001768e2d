/* source.c - picks the fetcher for a layer URL by its scheme (source.h).
 * New schemes (s3://, https://) join the table below. */
#include "bootlace/source.h"

#include <string.h>

#include "bootlace/error.h"

static const struct bl_source *const sources[] = {
	&bl_source_file,
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
	if (strncmp(url, "file://", 7) == 0 && url[7] != '/') {
		*msg = bl_strdup_printf("\"%s\": a file:// URL needs an absolute path (file:///dir/)", url);
		return -BL_ECONFIG;
	}
	return 0;
}
