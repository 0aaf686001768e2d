/* imds.c - IMDSv2 client (imds.h).
 *
 * At boot IMDS may not answer for a while, and an agent that gives up on the
 * first refused connection leaves the instance unconfigured; one that
 * retries in lockstep with a thousand others hammers it.  So: retry what is
 * transient (no response, 5xx, 429) with exponential backoff and full
 * jitter, give up on what is not (other 4xx), and say once how long it took. */
#include "bootlace/imds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bootlace/error.h"
#include "bootlace/http.h"
#include "bootlace/log.h"

#define CONNECT_TIMEOUT_MS 1000
#define REQUEST_TIMEOUT_MS 5000
#define BACKOFF_BASE_S 0.05
#define BACKOFF_CAP_S 2.0
/* A token is renewed this long before IMDS would stop accepting it. */
#define TOKEN_MARGIN_S 60.0
#define TOKEN_MAX 4096

struct bl_imds {
	struct bl_http *http;
	char *endpoint;
	bool allow_v1;
	bool v1;                /* the token PUT was refused and v1 is allowed */
	unsigned wait;
	unsigned token_ttl;
	char *token;
	double token_expires;   /* monotonic */
	bool reachable;         /* the "reachable after" line was logged */
	unsigned requests;
};

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && strcasecmp(v, "true") == 0;
}

int bl_imds_resolve_endpoint(const char *config_endpoint, const char *config_mode,
			     char **out)
{
	*out = NULL;
	if (env_true("AWS_EC2_METADATA_DISABLED")) {
		bl_err("IMDS is disabled by AWS_EC2_METADATA_DISABLED=true");
		return -BL_EDATASOURCE;
	}
	const char *endpoint = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!endpoint || !*endpoint)
		endpoint = config_endpoint;
	if (endpoint && *endpoint) {
		_cleanup_free_ char *msg = NULL;
		if (bl_http_validate_endpoint(endpoint, &msg) < 0) {
			bl_err("IMDS endpoint %s", msg ? msg : endpoint);
			return -BL_ECONFIG;
		}
		size_t n = strlen(endpoint);
		while (n > 0 && endpoint[n - 1] == '/')
			n--;
		*out = strndup(endpoint, n);
		return *out ? 0 : -BL_ENOMEM;
	}
	const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	if (!mode || !*mode)
		mode = config_mode;
	if (!mode || strcasecmp(mode, "IPv4") == 0)
		*out = strdup(BL_IMDS_ENDPOINT_IPV4);
	else if (strcasecmp(mode, "IPv6") == 0)
		*out = strdup(BL_IMDS_ENDPOINT_IPV6);
	else {
		bl_err("IMDS endpoint mode \"%s\" is neither IPv4 nor IPv6", mode);
		return -BL_ECONFIG;
	}
	return *out ? 0 : -BL_ENOMEM;
}

int bl_imds_new(const struct bl_imds_options *opts, struct bl_imds **out)
{
	struct bl_imds *imds = calloc(1, sizeof(*imds));
	*out = NULL;
	if (!imds)
		return -BL_ENOMEM;
	imds->endpoint = strdup(opts->endpoint);
	imds->allow_v1 = opts->allow_v1;
	imds->wait = opts->wait;
	imds->token_ttl = opts->token_ttl ? opts->token_ttl : BL_IMDS_TOKEN_TTL;
	int r = imds->endpoint ? bl_http_new(&imds->http) : -BL_ENOMEM;
	if (r < 0) {
		bl_imds_free(imds);
		return r;
	}
	*out = imds;
	return 0;
}

static void drop_token(struct bl_imds *imds)
{
	if (imds->token)
		OPENSSL_cleanse(imds->token, strlen(imds->token));
	free(imds->token);
	imds->token = NULL;
}

void bl_imds_free(struct bl_imds *imds)
{
	if (!imds)
		return;
	drop_token(imds);
	bl_http_free(imds->http);
	free(imds->endpoint);
	free(imds);
}

unsigned bl_imds_request_count(const struct bl_imds *imds)
{
	return imds->requests;
}

static bool transient(int r, long status)
{
	return r == -BL_ENETWORK || r == -BL_ETIMEOUT || (r == 0 && (status >= 500 || status == 429));
}

/* One request, retried while IMDS is not ready, within the wait budget. */
static int imds_request(struct bl_imds *imds, const char *method, const char *path,
			const char *const *headers, size_t max, struct bl_http_response *resp)
{
	_cleanup_free_ char *url = bl_strdup_printf("%s/latest/%s", imds->endpoint, path);
	if (!url)
		return -BL_ENOMEM;
	struct bl_http_request req = {
		.method = method, .url = url, .headers = headers,
		.connect_timeout_ms = CONNECT_TIMEOUT_MS, .timeout_ms = REQUEST_TIMEOUT_MS,
		.max_body = max, .no_proxy = true,
	};
	double start = bl_now_monotonic();
	for (unsigned attempt = 0;; attempt++) {
		imds->requests++;
		int r = bl_http_perform(imds->http, &req, resp);
		if (!transient(r, resp->status)) {
			if (!imds->reachable && r == 0) {
				imds->reachable = true;
				bl_info("IMDS at %s answered after %.2fs", imds->endpoint,
					bl_now_monotonic() - start);
			}
			if (r == -BL_ETOOBIG)
				bl_err("IMDS %s: response larger than %zu bytes", path, max);
			return r;
		}
		double pause = bl_backoff_jitter(attempt, BACKOFF_BASE_S, BACKOFF_CAP_S);
		if (bl_now_monotonic() + pause - start > (double)imds->wait) {
			if (r == 0)
				bl_err("IMDS %s: HTTP %ld for %.0fs, giving up", path, resp->status,
				       bl_now_monotonic() - start);
			else
				bl_err("IMDS at %s not reachable after %.0fs: %s", imds->endpoint,
				       bl_now_monotonic() - start, bl_http_last_error(imds->http));
			bl_http_response_free(resp);
			return -BL_EDATASOURCE;
		}
		bl_http_response_free(resp);
		bl_keepalive();
		bl_sleep(pause);
	}
}

static int fetch_token(struct bl_imds *imds)
{
	char ttl[64];
	snprintf(ttl, sizeof(ttl), "X-aws-ec2-metadata-token-ttl-seconds: %u", imds->token_ttl);
	const char *const headers[] = { ttl, NULL };
	struct bl_http_response resp;
	drop_token(imds);
	double asked = bl_now_monotonic();
	int r = imds_request(imds, "PUT", "api/token", headers, TOKEN_MAX, &resp);
	if (r < 0)
		return r == -BL_ETOOBIG ? -BL_EDATASOURCE : r;
	if (resp.status == 200 && resp.body.len > 0) {
		imds->token = resp.body.data;  /* taken over; wiped by drop_token */
		resp.body = (struct bl_buf){0};
		imds->token_expires = asked + imds->token_ttl;
		r = 0;
	} else if (imds->allow_v1 && (resp.status == 403 || resp.status == 404 ||
				      resp.status == 405)) {
		bl_warn("IMDS refused a session token (HTTP %ld); using IMDSv1 as imds.allow_v1 permits",
			resp.status);
		imds->v1 = true;
		r = 0;
	} else {
		bl_err("IMDS refused a session token: HTTP %ld%s", resp.status,
		       imds->allow_v1 ? "" : " (IMDSv1 fallback is off: imds.allow_v1)");
		r = -BL_EDATASOURCE;
	}
	bl_http_response_free(&resp);
	return r;
}

static bool token_fresh(const struct bl_imds *imds)
{
	return imds->token && bl_now_monotonic() + TOKEN_MARGIN_S < imds->token_expires;
}

int bl_imds_get(struct bl_imds *imds, const char *path, size_t max, struct bl_buf *out)
{
	struct bl_http_response resp = {0};
	int r = 0;
	/* A 401 means the token expired or IMDS restarted: one new token, once. */
	for (int tries = 0; tries < 2; tries++) {
		if (!imds->v1 && (tries > 0 || !token_fresh(imds)) && (r = fetch_token(imds)) < 0)
			return r;
		_cleanup_free_ char *auth = imds->token
			? bl_strdup_printf("X-aws-ec2-metadata-token: %s", imds->token) : NULL;
		if (imds->token && !auth)
			return -BL_ENOMEM;
		const char *const headers[] = { auth, NULL };
		r = imds_request(imds, "GET", path, headers, max, &resp);
		if (auth)
			OPENSSL_cleanse(auth, strlen(auth));
		if (r < 0)
			return r;
		if (resp.status != 401 || imds->v1)
			break;
		bl_http_response_free(&resp);
	}
	switch (resp.status) {
	case 200:
		bl_buf_move(out, &resp.body);
		r = 0;
		break;
	case 404:
		r = -BL_ENOTFOUND;
		break;
	default:
		bl_err("IMDS %s: HTTP %ld", path, resp.status);
		r = -BL_EDATASOURCE;
		break;
	}
	bl_http_response_free(&resp);
	return r;
}
