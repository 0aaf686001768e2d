/* ec2.c - EC2 DescribeTags over the Query API (ec2.h).
 *
 * The fallback for instances launched without instance metadata tags: the
 * tags then live only behind the EC2 API, so the instance role needs
 * ec2:DescribeTags.  One small request per page; errors name the API's
 * error code, since that is what an operator searches for. */
#include "bootlace/ec2.h"

#include <string.h>

#include "bootlace/error.h"
#include "bootlace/http.h"
#include "bootlace/log.h"
#include "bootlace/sigv4.h"
#include "bootlace/xml.h"

#define EC2_API_VERSION "2016-11-15"
#define EC2_MAX_ATTEMPTS 5
#define EC2_BACKOFF_BASE_S 0.1
#define EC2_BACKOFF_CAP_S 5.0
#define EC2_CONNECT_TIMEOUT_MS 5000
#define EC2_TIMEOUT_MS 30000
#define EC2_MAX_BODY (1024 * 1024)
#define EC2_MAX_PAGES 100
#define FORM_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

static unsigned requests_sent;

unsigned bl_ec2_request_count(void)
{
	return requests_sent;
}

static int form_add(struct bl_buf *form, const char *name, const char *value)
{
	int r = bl_buf_printf(form, "%s%s=", form->len ? "&" : "", name);
	return r < 0 ? r : bl_sigv4_uri_encode(form, value, strlen(value), false);
}

/* The form of one DescribeTags page. */
static int build_form(struct bl_buf *form, const char *instance_id, const char *const *keys,
		      size_t n_keys, const char *next_token)
{
	int r = form_add(form, "Action", "DescribeTags");
	if (r == 0)
		r = form_add(form, "Version", EC2_API_VERSION);
	if (r == 0)
		r = form_add(form, "Filter.1.Name", "resource-id");
	if (r == 0)
		r = form_add(form, "Filter.1.Value.1", instance_id);
	if (r == 0 && n_keys)
		r = form_add(form, "Filter.2.Name", "key");
	for (size_t i = 0; r == 0 && i < n_keys; i++) {
		char name[48];
		snprintf(name, sizeof(name), "Filter.2.Value.%zu", i + 1);
		r = form_add(form, name, keys[i]);
	}
	if (r == 0 && next_token)
		r = form_add(form, "NextToken", next_token);
	return r;
}

static bool code_is(const char *code, const char *const *codes, size_t n)
{
	for (size_t i = 0; code && i < n; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/* Judges a non-200 answer: 1 = retry (*busy: what EC2 said, for the
 * log), else the error to return (logged). */
static int judge_error(struct bl_aws *aws, const struct bl_http_response *resp, char *busy,
		       size_t busy_len)
{
	static const char *const transient[] = {
		"RequestLimitExceeded", "Throttling", "InternalError", "Unavailable",
		"ServiceUnavailable", "InsufficientInstanceCapacity",
	};
	static const char *const refused[] = {
		"AuthFailure", "SignatureDoesNotMatch", "InvalidClientTokenId", "RequestExpired",
		"IncompleteSignature", "ExpiredToken", "MissingAuthenticationToken",
		"OptInRequired", "Blocked",
	};
	_cleanup_free_ char *code = NULL;
	_cleanup_free_ char *message = NULL;
	bl_xml_aws_error(resp->body.data, resp->body.len, &code, &message);
	const char *why = message ? message : "";
	if (resp->status >= 500 || resp->status == 429 ||
	    code_is(code, transient, ARRAY_SIZE(transient))) {
		snprintf(busy, busy_len, "HTTP %ld%s%s", resp->status, code ? " " : "",
			 code ? code : "");
		return 1;
	}
	if (code && strcmp(code, "UnauthorizedOperation") == 0) {
		bl_err("EC2 DescribeTags: the instance role lacks ec2:DescribeTags "
		       "(UnauthorizedOperation); grant it, or turn on instance metadata tags "
		       "and set tags.source: imds");
		return -BL_EDENIED;
	}
	if (code_is(code, refused, ARRAY_SIZE(refused))) {
		bl_err("EC2 DescribeTags: EC2 refused the credentials from %s (%s: %s)%s",
		       bl_aws_credentials_origin(aws), code, why,
		       strcmp(code, "RequestExpired") == 0 ? "; is the system clock right?" : "");
		return -BL_EDENIED;
	}
	bl_err("EC2 DescribeTags: HTTP %ld%s%s%s%s", resp->status, code ? " " : "",
	       code ? code : "", *why ? ": " : "", why);
	return resp->status == 403 ? -BL_EDENIED : -BL_ENETWORK;
}

/* One page, retried while EC2 is busy or unreachable.  *resp holds a 200. */
static int post_page(struct bl_aws *aws, struct bl_http *http, const char *url,
		     const struct bl_buf *form, struct bl_http_response *resp)
{
	static const struct bl_sigv4_header content_type = { "Content-Type", FORM_CONTENT_TYPE };
	struct bl_sigv4_request sreq = {
		.method = "POST", .url = url, .headers = &content_type, .n_headers = 1,
		.payload = form->data, .payload_len = form->len,
	};
	for (unsigned attempt = 0;; attempt++) {
		struct bl_sigv4_signed sig = {0};
		int r = bl_aws_sign(aws, &sreq, "ec2", NULL, &sig);
		if (r < 0)
			return r;
		const char *headers[BL_SIGV4_MAX_HEADERS + 2] = { "Content-Type: " FORM_CONTENT_TYPE };
		for (size_t i = 0; sig.headers[i]; i++)
			headers[i + 1] = sig.headers[i];
		struct bl_http_request req = {
			.method = "POST", .url = url, .headers = headers,
			.body = form->data, .body_len = form->len,
			.connect_timeout_ms = EC2_CONNECT_TIMEOUT_MS, .timeout_ms = EC2_TIMEOUT_MS,
			.max_body = EC2_MAX_BODY, .ca_file = bl_aws_ca_file(aws),
		};
		requests_sent++;
		r = bl_http_perform(http, &req, resp);
		bl_sigv4_signed_free(&sig);
		if (r == 0 && resp->status == 200)
			return 0;
		if (r == -BL_ETOOBIG) {
			bl_err("EC2 DescribeTags: answer larger than %d bytes", EC2_MAX_BODY);
			return r;
		}
		/* What went wrong, for the log: curl's words or EC2's code. */
		char busy[128];
		snprintf(busy, sizeof(busy), "%s", r < 0 ? bl_http_last_error(http) : "");
		int verdict = r < 0 ? 1 : judge_error(aws, resp, busy, sizeof(busy));
		bool last = attempt + 1 >= EC2_MAX_ATTEMPTS;
		if (verdict == 1 && last)
			bl_err("EC2 DescribeTags at %s: %s, giving up after %u attempts", url, busy,
			       EC2_MAX_ATTEMPTS);
		if (verdict != 1 || last) {
			bl_http_response_free(resp);
			return verdict != 1 ? verdict : r < 0 ? r : -BL_ENETWORK;
		}
		double pause = bl_backoff_jitter(attempt, EC2_BACKOFF_BASE_S, EC2_BACKOFF_CAP_S);
		bl_warn("EC2 DescribeTags: %s, retrying in %.2fs", busy, pause);
		bl_http_response_free(resp);
		bl_keepalive();
		bl_sleep(pause);
	}
}

int bl_ec2_parse_tags(const char *text, size_t len, const char *instance_id,
		      struct bl_instance *inst, char **next_token)
{
	struct bl_xml_node *root = NULL;
	_cleanup_free_ char *error = NULL;
	int r = bl_xml_parse(text, len, &root, &error);
	if (r == 0 && strcmp(root->name, "DescribeTagsResponse") != 0) {
		error = bl_strdup_printf("<%s> instead of <DescribeTagsResponse>", root->name);
		r = -BL_EFORMAT;
	}
	if (r < 0) {
		bl_err("EC2 DescribeTags: malformed answer: %s", error ? error : bl_strerror(r));
		bl_xml_free(root);
		return r;
	}
	const struct bl_xml_node *set = bl_xml_child(root, "tagSet");
	for (const struct bl_xml_node *item = set ? set->children : NULL; r == 0 && item;
	     item = item->next) {
		const char *key = bl_xml_find_text(item, "key");
		const char *value = bl_xml_find_text(item, "value");
		const char *resource = bl_xml_find_text(item, "resourceId");
		if (strcmp(item->name, "item") != 0 || (resource && strcmp(resource, instance_id) != 0))
			continue;
		if (!key || !*key) {
			bl_err("EC2 DescribeTags: malformed answer: a tag without a key");
			r = -BL_EFORMAT;
		} else {
			r = bl_instance_set_tag(inst, key, value ? value : "");
		}
	}
	const char *token = bl_xml_find_text(root, "nextToken");
	if (r == 0 && token && *token && !(*next_token = strdup(token)))
		r = -BL_ENOMEM;
	bl_xml_free(root);
	return r;
}

int bl_ec2_describe_tags(struct bl_aws *aws, const char *instance_id,
			 const char *const *keys, size_t n_keys, struct bl_instance *inst)
{
	_cleanup_free_ char *error = NULL;
	_cleanup_free_ char *endpoint = bl_aws_ec2_url(aws, &error);
	if (!endpoint) {
		bl_err("EC2 DescribeTags: %s", error ? error : bl_strerror(-BL_ENOMEM));
		return error ? -BL_ECONFIG : -BL_ENOMEM;
	}
	_cleanup_free_ char *url = bl_strdup_printf("%s/", endpoint);
	struct bl_http *http = NULL;
	int r = url ? bl_http_new(&http) : -BL_ENOMEM;
	char *next_token = NULL;
	unsigned pages = 0;
	do {
		struct bl_buf form = {0};
		struct bl_http_response resp = {0};
		char *token = next_token;
		next_token = NULL;
		if (r == 0)
			r = build_form(&form, instance_id, keys, n_keys, token);
		if (r == 0)
			r = post_page(aws, http, url, &form, &resp);
		if (r == 0)
			r = bl_ec2_parse_tags(resp.body.data, resp.body.len, instance_id, inst,
					      &next_token);
		free(token);
		bl_buf_free(&form);
		bl_http_response_free(&resp);
		if (r == 0 && next_token && ++pages >= EC2_MAX_PAGES) {
			bl_err("EC2 DescribeTags: more than %d pages of tags, giving up", EC2_MAX_PAGES);
			r = -BL_EFORMAT;
		}
	} while (r == 0 && next_token);
	free(next_token);
	bl_http_free(http);
	if (r == 0)
		bl_debug("EC2 DescribeTags: %zu tags for %s", inst->n_tags, instance_id);
	return r;
}
