/* source-https.c - layers from any web server (https://host/path/...).
 *
 * A plain GET through the transfer engine: the same size cap, retries and
 * whole-or-nothing delivery as S3, TLS always verified (tls.ca_file for a
 * private CA).  http:// works too, because an operator may point bootlace
 * at a mirror inside the VPC, but every run says that such layers can be
 * altered in transit. */
#include <string.h>

#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/source.h"
#include "bootlace/transfer.h"

static int web_validate(const char *url, char **msg)
{
	const char *host = strstr(url, "://") + 3;
	if (!*host || *host == '/') {
		*msg = bl_strdup_printf("\"%s\": no host name", url);
		return -BL_ECONFIG;
	}
	return 0;
}

static int web_prepare(struct bl_download *d)
{
	d->url = strdup(d->name);
	return d->url ? 0 : -BL_ENOMEM;
}

static const struct bl_download_hooks web_hooks = { .prepare = web_prepare };

static int web_fetch(const struct bl_fetch_context *ctx, struct bl_object *const *objs, size_t n)
{
	struct bl_download *d = calloc(n, sizeof(*d));
	if (!d)
		return -BL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		d[i].hooks = &web_hooks;
		if (strncmp(objs[i]->url, "http://", 7) == 0)
			bl_warn("%s: plain http, not authenticated: the layer can be altered in "
				"transit (use https://)", objs[i]->url);
	}
	int r = bl_source_download(ctx, objs, d, n);
	free(d);
	return r;
}

const struct bl_source bl_source_https = {
	.scheme = "https",
	.validate = web_validate,
	.fetch = web_fetch,
};

const struct bl_source bl_source_http = {
	.scheme = "http",
	.validate = web_validate,
	.fetch = web_fetch,
};
