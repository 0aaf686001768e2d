/* transfer.h - downloads of layer objects.
 *
 * All objects of a run are fetched at once over libcurl's multi interface
 * (in parallel, connections reused), each streamed to a temp file under a
 * size cap and hashed on the way.  Transient failures (connection errors and
 * resets, 5xx, 429, a body cut short of its Content-Length, a stall, a body
 * that does not match the SHA-256 or CRC the server declared) are retried with
 * exponential backoff and full jitter.  An object is delivered whole and
 * checked, or not at all: a download that did not verify leaves no file.
 *
 * The caller's hooks make the requests (an S3 fetcher signs each attempt)
 * and judge responses that are not a success.
 *
 * TLS is always verified.  tls.ca_file adds to the system's CA bundle, it
 * does not replace it (libcurl's CURLOPT_CAINFO would): the engine hands
 * libcurl the system bundle and the extra file as one CAINFO_BLOB, so that
 * a private CA for one source never cuts an instance off from S3. */
#ifndef BOOTLACE_TRANSFER_H
#define BOOTLACE_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Bytes of a non-2xx body kept for the hooks (an AWS error document). */
#define BL_DOWNLOAD_ERROR_BODY_MAX (64 * 1024)

struct bl_download;

enum bl_download_verdict {
	BL_DOWNLOAD_DONE,   /* final: result and error are set */
	BL_DOWNLOAD_RETRY,  /* transient: try again after a backoff, if attempts remain */
	BL_DOWNLOAD_AGAIN,  /* try again now with a new request (a redirect to the
			     * bucket's region); counts as an attempt */
};

struct bl_download_hooks {
	/* Sets d->url and d->headers for the next attempt.  0, or a negative
	 * code (with d->error set) that ends this download. */
	int (*prepare)(struct bl_download *d);
	/* Judges a response whose status is not 2xx; sets d->result and
	 * d->error when it returns BL_DOWNLOAD_DONE (result 0 there, e.g. for
	 * a 304, ends the download without a file).  With RETRY or AGAIN it may
	 * set d->error (logged with the retry) and d->result (what stands if no
	 * attempt is left; default -BL_ENETWORK).  NULL: 5xx and 429 are
	 * retried, 404 is -BL_ENOTFOUND, 401/403 -BL_EDENIED, others
	 * -BL_ENETWORK; d->error is "HTTP <status>". */
	enum bl_download_verdict (*classify)(struct bl_download *d);
};

struct bl_download {
	/* Set by the caller. */
	const char *name;            /* what messages call it: "s3://bucket/key" */
	const struct bl_download_hooks *hooks;
	void *opaque;                /* for the hooks */
	size_t max_size;             /* larger bodies fail with -BL_ETOOBIG */
	const char *if_none_match;   /* an ETag held: sent as If-None-Match, and a 304
				      * ends the download with result 0, status 304
				      * and no file (hooks are not asked) */

	/* Set by prepare for each attempt; freed by the engine. */
	char *url;
	char **headers;              /* "Name: value", malloc'd, NULL-terminated */

	/* Results. */
	int result;                  /* 0 or a negative code */
	char *error;                 /* why it failed, for the log (malloc'd);
				      * the caller prefixes name */
	long status;                 /* HTTP status of the last response, 0 if none */
	char *path;                  /* on success: the temp file with the body (0600,
				      * fsynced); the caller renames or unlinks it */
	char sha256[65];             /* hex SHA-256 of the body */
	size_t size;
	char *etag;                  /* headers of the last response, or NULL */
	char *checksum_sha256;       /* x-amz-checksum-sha256 (base64) */
	char *bucket_region;         /* x-amz-bucket-region */
	struct bl_buf error_body;    /* a non-2xx response's body, capped */
	unsigned attempts;           /* requests made */
};

struct bl_transfer_options {
	const char *tmp_dir;         /* temp files go here (same file system as
				      * where the caller renames them) */
	const char *ca_file;         /* CAs trusted besides the system's (see
				      * the top); NULL = the system's only */
	unsigned max_attempts;       /* per object; 0 = as many as retry_for
				      * allows */
	unsigned retry_for;          /* seconds after an object's first attempt
				      * during which a transient failure (503
				      * SlowDown, 5xx, a reset, a short body) is
				      * retried: a throttled fleet waits its
				      * turn; 0 = 120 */
	unsigned max_parallel;       /* 0 = 8 */
	long connect_timeout_ms;     /* 0 = 5000 */
	unsigned stall_timeout;      /* seconds without a byte; 0 = 30 (curl
				      * averages the speed over ~5 s, so a stall
				      * mid-body is seen up to ~5 s later) */
	unsigned backoff_base_ms;    /* first backoff ceiling; 0 = 100 */
	unsigned backoff_cap_ms;     /* 0 = 5000 */
};

/* Runs every download to its end.  0 when all ran (each has its own
 * result); -BL_ENOMEM or -BL_EIO when the engine itself failed. */
int bl_transfer_run(struct bl_download *downloads, size_t n,
		    const struct bl_transfer_options *opts);

/* Frees what a download holds and unlinks its temp file, if still there. */
void bl_download_clear(struct bl_download *d);

#endif
