/* source.h - where layer scripts come from.
 *
 * The config's `source` is a base URL; a layer's resolved path is appended to
 * it and the scheme picks a fetcher: file:// (local), s3:// (GetObject signed
 * with the instance's credentials) and https:// (plain GET; http:// too,
 * with a warning, when an operator asks for it).  A fetcher
 * delivers each object whole, in a temp file, or not at all: never a partial
 * body, so nothing half-downloaded can ever run. */
#ifndef BOOTLACE_SOURCE_H
#define BOOTLACE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "config.h"
#include "util.h"

/* One object to fetch, and what became of it. */
struct bl_object {
	const char *url;        /* in: "s3://bucket/key", "https://...", "file:///..." */
	const char *if_none_match; /* in: the ETag of the copy held, or NULL */
	int result;             /* 0, -BL_ENOTFOUND (no such object), or the failure */
	bool unchanged;         /* result 0 and the server said 304 Not Modified to
				 * if_none_match: nothing was downloaded, no path */
	char *error;            /* why it failed, naming the object (malloc'd) */
	char *path;             /* result 0: temp file holding the whole object, 0600 */
	char sha256[65];
	size_t size;
	char *etag;             /* the server's ETag, when it has one */
};

/* What fetchers share for one run. */
struct bl_fetch_context {
	const struct bl_config *cfg;
	struct bl_aws *aws;     /* credentials and endpoints; needed by s3:// */
	const char *tmp_dir;    /* temp files go here, on the file system the
				 * caller renames them within */
};

struct bl_source {
	const char *scheme;     /* "file", "s3", "https" */
	bool needs_aws;         /* fetch uses ctx->aws */
	/* Checks a base URL of this scheme; *msg (malloc'd) says what is wrong. */
	int (*validate)(const char *url, char **msg);
	/* Fetches every object in objs (all of this scheme) and sets each
	 * one's result.  Returns 0, or -BL_ENOMEM / -BL_EIO when it could not
	 * try at all. */
	int (*fetch)(const struct bl_fetch_context *ctx, struct bl_object *const *objs, size_t n);
};

extern const struct bl_source bl_source_file;
extern const struct bl_source bl_source_s3;
extern const struct bl_source bl_source_https;
extern const struct bl_source bl_source_http;

/* Fetcher for url's scheme, or NULL. */
const struct bl_source *bl_source_for_url(const char *url);

/* Fetches every object, each by its scheme's fetcher, all at once. */
int bl_source_fetch_all(const struct bl_fetch_context *ctx, struct bl_object *const *objs,
			size_t n);

struct bl_download;

/* Runs downloads d[i] for objs[i] (the caller set their hooks and opaque)
 * with the transfer engine under the run's caps and TLS settings, and moves
 * each result into its object.  The downloads are cleared. */
int bl_source_download(const struct bl_fetch_context *ctx, struct bl_object *const *objs,
		       struct bl_download *d, size_t n);

/* Stores len bytes of data in a new temp file under tmp_dir as obj's
 * result (path, sha256, size): for sources that read whole objects. */
int bl_object_set_data(struct bl_object *obj, const char *tmp_dir, const void *data, size_t len);

/* Sets obj's result to err with a message (printf-style). */
void bl_object_fail(struct bl_object *obj, int err, const char *fmt, ...) _printf_(3, 4);

/* Frees what obj holds and unlinks its temp file if still there; url stays. */
void bl_object_clear(struct bl_object *obj);

/* Joins base and path with exactly one '/'; malloc'd or NULL. */
char *bl_source_join(const char *base, const char *path);

/* Checks a source base URL: known scheme, well formed.  *msg on error. */
int bl_source_validate(const char *url, char **msg);

#endif
