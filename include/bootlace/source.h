/* source.h - where layer scripts come from.
 *
 * The config's `source` is a base URL; a layer's resolved path is appended to
 * it and the scheme picks a fetcher (file:// here; s3:// and https:// plug in
 * the same way).  A fetcher delivers the whole object or an error, never a
 * partial body. */
#ifndef BOOTLACE_SOURCE_H
#define BOOTLACE_SOURCE_H

#include "config.h"
#include "instance.h"
#include "util.h"

/* Objects larger than this are refused (-BL_ETOOBIG). */
#define BL_LAYER_MAX_SIZE (16 * 1024 * 1024)

struct bl_source {
	const char *scheme; /* "file" */
	/* Fetches url into body.  -BL_ENOTFOUND when the object does not exist,
	 * -BL_ETOOBIG over BL_LAYER_MAX_SIZE, -BL_ENETWORK/-BL_EIO otherwise. */
	int (*fetch)(const struct bl_config *cfg, const struct bl_instance *inst,
		     const char *url, struct bl_buf *body);
};

extern const struct bl_source bl_source_file;

/* Fetcher for url's scheme, or NULL. */
const struct bl_source *bl_source_for_url(const char *url);

/* Joins base and path with exactly one '/'; malloc'd or NULL. */
char *bl_source_join(const char *base, const char *path);

/* Checks a source base URL: known scheme, well formed.  *msg on error. */
int bl_source_validate(const char *url, char **msg);

#endif
