/* source-s3.c - layers from S3 (s3://bucket/prefix/...).
 *
 * GetObject signed with SigV4 and the instance's credentials, every layer
 * at once through the transfer engine.  Each attempt is signed afresh (the
 * signature carries the time).  S3's answers are mapped to what an operator
 * can act on: NoSuchKey means the layer has no script for this event; a 403
 * names the object and the IAM permission that is usually missing; a bucket
 * in another region is followed once (301 with x-amz-bucket-region);
 * SlowDown, RequestTimeout and 5xx are retried. */
#include <string.h>

#include "bootlace/aws.h"
#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/source.h"
#include "bootlace/transfer.h"
#include "bootlace/xml.h"

#define S3_BUCKET_MIN 3
#define S3_BUCKET_MAX 63

/* One object's request state, the download's opaque. */
struct s3_get {
	struct bl_aws *aws;
	char *bucket;
	const char *key;       /* inside bucket */
	char *region;          /* NULL = the instance's; the bucket's after a redirect */
	bool redirected;
};

/* Bucket names as S3 accepts them today: 3..63 of [a-z0-9.-]. */
static bool valid_bucket(const char *b, size_t len)
{
	if (len < S3_BUCKET_MIN || len > S3_BUCKET_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789.-", b[i]))
			return false;
	return true;
}

/* s3://BUCKET[/KEY]: *key points into url. */
static int split_url(const char *url, char **bucket, const char **key, char **msg)
{
	const char *b = url + strlen("s3://");
	size_t len = strcspn(b, "/");
	if (!valid_bucket(b, len)) {
		*msg = bl_strdup_printf("\"%s\": \"%.*s\" is not a valid S3 bucket name (3 to 63 "
					"characters: a-z 0-9 . -)", url, (int)len, b);
		return -BL_ECONFIG;
	}
	*bucket = strndup(b, len);
	*key = b[len] ? b + len + 1 : "";
	return *bucket ? 0 : -BL_ENOMEM;
}

static int s3_validate(const char *url, char **msg)
{
	char *bucket = NULL;
	const char *key;
	int r = split_url(url, &bucket, &key, msg);
	free(bucket);
	return r;
}

static int s3_prepare(struct bl_download *d)
{
	struct s3_get *g = d->opaque;
	_cleanup_free_ char *error = NULL;
	d->url = bl_aws_s3_object_url(g->aws, g->bucket, g->key, g->region, &error);
	if (!d->url) {
		free(d->error);
		d->error = strdup(error ? error : "out of memory");
		return error ? -BL_ECONFIG : -BL_ENOMEM;
	}
	/* Asks S3 for the object's SHA-256 when it was stored with one, so the
	 * transfer engine can check what arrived. */
	static const struct bl_sigv4_header checksum_mode = { "x-amz-checksum-mode", "ENABLED" };
	struct bl_sigv4_request req = {
		.method = "GET", .url = d->url, .headers = &checksum_mode, .n_headers = 1, .s3 = true,
	};
	struct bl_sigv4_signed sig = {0};
	int r = bl_aws_sign(g->aws, &req, "s3", g->region, &sig);
	if (r < 0) {
		free(d->error);
		d->error = bl_strdup_printf("cannot sign the request: %s", bl_strerror(r));
		return r;
	}
	size_t n = 0;
	while (sig.headers[n])
		n++;
	d->headers = calloc(n + 2, sizeof(*d->headers));
	if (d->headers) {
		d->headers[0] = strdup("x-amz-checksum-mode: ENABLED");
		for (size_t i = 0; i < n; i++) {
			d->headers[i + 1] = sig.headers[i]; /* taken over */
			sig.headers[i] = NULL;
		}
	}
	bl_sigv4_signed_free(&sig);
	return d->headers && d->headers[0] ? 0 : -BL_ENOMEM;
}

/* Follows S3's word that the bucket lives in another region, once. */
static enum bl_download_verdict follow_region(struct bl_download *d, struct s3_get *g)
{
	const char *current = g->region ? g->region : bl_aws_region(g->aws);
	if (!g->redirected && d->bucket_region &&
	    strcmp(d->bucket_region, current ? current : "") != 0) {
		bl_info("%s: bucket %s is in %s, asking there", d->name, g->bucket, d->bucket_region);
		free(g->region);
		g->region = strdup(d->bucket_region);
		g->redirected = true;
		if (g->region)
			return BL_DOWNLOAD_AGAIN;
		d->result = -BL_ENOMEM;
		return BL_DOWNLOAD_DONE;
	}
	d->result = -BL_ENETWORK;
	d->error = bl_strdup_printf("S3 redirects (HTTP %ld) to %s, again", d->status,
				    d->bucket_region ? d->bucket_region : "an unnamed region");
	return BL_DOWNLOAD_DONE;
}

static bool is_credentials_error(const char *code)
{
	static const char *const codes[] = {
		"SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken",
		"TokenRefreshRequired", "InvalidSecurity", "AuthorizationHeaderMalformed",
	};
	for (size_t i = 0; code && i < ARRAY_SIZE(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

static enum bl_download_verdict s3_classify(struct bl_download *d)
{
	struct s3_get *g = d->opaque;
	_cleanup_free_ char *code = NULL;
	_cleanup_free_ char *message = NULL;
	if (d->error_body.len)
		bl_xml_aws_error(d->error_body.data, d->error_body.len, &code, &message);
	const char *why = message ? message : "";
	free(d->error);
	d->error = NULL;

	if ((d->status == 301 || d->status == 307 || d->status == 400) && d->bucket_region &&
	    (d->status != 400 || (code && strcmp(code, "AuthorizationHeaderMalformed") == 0)))
		return follow_region(d, g);
	if (d->status >= 500 || d->status == 429 ||
	    (code && (strcmp(code, "RequestTimeout") == 0 || strcmp(code, "SlowDown") == 0))) {
		d->error = bl_strdup_printf("HTTP %ld%s%s", d->status, code ? " " : "", code ? code : "");
		return BL_DOWNLOAD_RETRY;
	}
	if (d->status == 404 && code && strcmp(code, "NoSuchBucket") == 0) {
		d->result = -BL_ECONFIG;
		d->error = bl_strdup_printf("bucket %s does not exist (check source)", g->bucket);
	} else if (d->status == 404) {
		d->result = -BL_ENOTFOUND;
		d->error = strdup("no such object");
	} else if (code && strcmp(code, "RequestTimeTooSkewed") == 0) {
		d->result = -BL_EDENIED;
		d->error = bl_strdup_printf("S3 refused the request because this machine's clock "
					    "is off (RequestTimeTooSkewed: %s); fix the time (chrony, "
					    "the Amazon Time Sync Service)", why);
	} else if (is_credentials_error(code)) {
		d->result = -BL_EDENIED;
		d->error = bl_strdup_printf("S3 refused the credentials from %s (%s: %s)",
					    bl_aws_credentials_origin(g->aws), code, why);
	} else if (d->status == 403) {
		d->result = -BL_EDENIED;
		d->error = bl_strdup_printf("access denied (%s%s%s); the instance role needs "
					    "s3:GetObject on it, and without s3:ListBucket on the "
					    "bucket S3 also answers 403 for a key that does not exist",
					    code ? code : "HTTP 403", *why ? ": " : "", why);
	} else {
		d->result = -BL_ENETWORK;
		d->error = bl_strdup_printf("HTTP %ld%s%s%s%s", d->status, code ? " " : "",
					    code ? code : "", *why ? ": " : "", why);
	}
	return BL_DOWNLOAD_DONE;
}

static const struct bl_download_hooks s3_hooks = {
	.prepare = s3_prepare,
	.classify = s3_classify,
};

static int s3_fetch(const struct bl_fetch_context *ctx, struct bl_object *const *objs, size_t n)
{
	struct bl_download *d = calloc(n, sizeof(*d));
	struct s3_get *gets = calloc(n, sizeof(*gets));
	int r = d && gets ? 0 : -BL_ENOMEM;
	size_t m = 0;   /* downloads set up */
	struct bl_object **todo = r == 0 ? calloc(n, sizeof(*todo)) : NULL;
	if (!todo)
		r = -BL_ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		_cleanup_free_ char *msg = NULL;
		struct s3_get *g = &gets[m];
		int s = split_url(objs[i]->url, &g->bucket, &g->key, &msg);
		if (s == -BL_ENOMEM) {
			r = s;
		} else if (s < 0 || !*g->key) {
			bl_object_fail(objs[i], -BL_ECONFIG, "%s", msg ? msg : "no object key");
			free(g->bucket);
			g->bucket = NULL;
		} else {
			g->aws = ctx->aws;
			d[m] = (struct bl_download){ .hooks = &s3_hooks, .opaque = g };
			todo[m++] = objs[i];
		}
	}
	if (r == 0 && m)
		r = bl_source_download(ctx, todo, d, m);
	for (size_t i = 0; gets && i < n; i++) {
		free(gets[i].bucket);
		free(gets[i].region);
	}
	free(gets);
	free(todo);
	free(d);
	return r;
}

const struct bl_source bl_source_s3 = {
	.scheme = "s3",
	.needs_aws = true,
	.validate = s3_validate,
	.fetch = s3_fetch,
};
