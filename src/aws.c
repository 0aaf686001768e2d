/* aws.c - region, credentials and endpoints for AWS calls (aws.h).
 *
 * The rules follow the AWS SDKs, so that an instance behaves the same under
 * bootlace as under the AWS CLI: environment credentials before the
 * instance role, AWS_ENDPOINT_URL_<SERVICE> before AWS_ENDPOINT_URL before
 * the config, and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS to switch the
 * overrides off.  What ends up in a host name (region, bucket, endpoint) is
 * checked first: it comes from the environment, IMDS or a redirect. */
#include "bootlace/aws.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "bootlace/error.h"
#include "bootlace/http.h"
#include "bootlace/log.h"

#define REGION_MAX 32
#define BUCKET_DNS_MIN 3
#define BUCKET_DNS_MAX 63
#define ROLE_NAME_MAX 64
#define ROLE_LIST_MAX 4096
#define ROLE_DOC_MAX (64 * 1024)
#define ROLE_PATH "meta-data/iam/security-credentials/"
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* The services bootlace signs for, each with its own derived key. */
static const char *const key_services[] = { "s3", "ec2" };

/* An endpoint override: scheme://host[:port][/prefix], no trailing '/'. */
struct endpoint {
	char *url;
	const char *source;   /* the variable or config key it came from */
	size_t host;          /* offset of the host in url */
};

struct bl_aws {
	char *region;
	struct endpoint s3, ec2;
	enum bl_s3_addressing addressing;
	char *ca_file;
	struct bl_imds *imds;

	struct bl_aws_credentials creds;
	bool have_creds;
	bool env_creds;       /* from the environment: they never expire */
	char *role_origin;    /* "instance role NAME" */
	struct bl_sigv4_key_cache keys[ARRAY_SIZE(key_services)];
};

/* jansson copies every string it parses (the secret key, the token) into
 * blocks of its own; this makes freeing them wipe them too. */
static void wiping_free(void *p)
{
	if (p)
		OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

static const char *getenv_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* "eu-west-1": it becomes part of host names and the signing scope. */
static bool valid_region(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > REGION_MAX || !(s[0] >= 'a' && s[0] <= 'z') || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* Whether the bucket can be the first label of a TLS-verified host name. */
static bool bucket_dns_safe(const char *b)
{
	size_t n = strlen(b);
	if (n < BUCKET_DNS_MIN || n > BUCKET_DNS_MAX || !is_lower_alnum(b[0]) ||
	    !is_lower_alnum(b[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(b[i]) && b[i] != '-')
			return false;
	return true;
}

static const char *domain_for(const char *region)
{
	return strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
}

/* Checks url (bl_http_validate_endpoint) and fills e with a copy minus
 * trailing '/'. */
static int parse_endpoint(const char *url, struct endpoint *e)
{
	_cleanup_free_ char *msg = NULL;
	int r = bl_http_validate_endpoint(url, &msg);
	if (r < 0) {
		bl_err("%s: %s", e->source, msg ? msg : bl_strerror(r));
		return r;
	}
	size_t len = strlen(url);
	while (url[len - 1] == '/')
		len--;
	e->url = strndup(url, len);
	e->host = strstr(url, "://") + 3 - url;
	return e->url ? 0 : -BL_ENOMEM;
}

/* The override for a service, if one is in effect: e->url NULL if not. */
static int resolve_endpoint(const char *service_env, const char *config_value,
			    const char *config_key, struct endpoint *e)
{
	const char *ignore = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (ignore && strcasecmp(ignore, "true") == 0)
		return 0;
	const char *url = getenv_set(service_env);
	e->source = service_env;
	if (!url && (url = getenv_set("AWS_ENDPOINT_URL")))
		e->source = "AWS_ENDPOINT_URL";
	if (!url && (url = config_value))
		e->source = config_key;
	if (!url)
		return 0;
	int r = parse_endpoint(url, e);
	if (r == 0)
		bl_info("AWS endpoint %s (from %s)", e->url, e->source);
	return r;
}

static int resolve_region(const char *given, char **out)
{
	const char *source = "the instance's region";
	const char *region = given && *given ? given : NULL;
	if (!region && (region = getenv_set("AWS_REGION")))
		source = "AWS_REGION";
	if (!region && (region = getenv_set("AWS_DEFAULT_REGION")))
		source = "AWS_DEFAULT_REGION";
	if (!region)
		return 0;
	if (!valid_region(region)) {
		bl_err("%s \"%s\" is not an AWS region name (like eu-west-1)", source, region);
		return region == given ? -BL_EDATASOURCE : -BL_ECONFIG;
	}
	*out = strdup(region);
	return *out ? 0 : -BL_ENOMEM;
}

int bl_aws_new(const struct bl_config *cfg, const char *region, struct bl_imds *imds,
	       struct bl_aws **out)
{
	*out = NULL;
	struct bl_aws *aws = calloc(1, sizeof(*aws));
	if (!aws) {
		bl_imds_free(imds);
		return -BL_ENOMEM;
	}
	aws->imds = imds;
	const char *style = cfg->s3_addressing_style ? cfg->s3_addressing_style : "auto";
	aws->addressing = strcmp(style, "path") == 0 ? BL_S3_ADDRESSING_PATH :
			  strcmp(style, "virtual") == 0 ? BL_S3_ADDRESSING_VIRTUAL :
			  BL_S3_ADDRESSING_AUTO;
	int r = resolve_region(region, &aws->region);
	if (r == 0)
		r = resolve_endpoint("AWS_ENDPOINT_URL_S3", cfg->s3_endpoint, "s3.endpoint",
				     &aws->s3);
	if (r == 0)
		r = resolve_endpoint("AWS_ENDPOINT_URL_EC2", cfg->ec2_endpoint, "ec2.endpoint",
				     &aws->ec2);
	if (r == 0 && cfg->tls_ca_file && !(aws->ca_file = strdup(cfg->tls_ca_file)))
		r = -BL_ENOMEM;
	if (r < 0) {
		bl_aws_free(aws);
		return r;
	}
	*out = aws;
	return 0;
}

void bl_aws_free(struct bl_aws *aws)
{
	if (!aws)
		return;
	bl_aws_credentials_clear(&aws->creds);
	for (size_t i = 0; i < ARRAY_SIZE(aws->keys); i++)
		bl_sigv4_key_cache_clear(&aws->keys[i]);
	bl_imds_free(aws->imds);
	free(aws->region);
	free(aws->s3.url);
	free(aws->ec2.url);
	free(aws->ca_file);
	free(aws->role_origin);
	free(aws);
}

struct bl_imds *bl_aws_imds(struct bl_aws *aws)
{
	return aws ? aws->imds : NULL;
}

const char *bl_aws_region(const struct bl_aws *aws)
{
	return aws->region;
}

const char *bl_aws_ca_file(const struct bl_aws *aws)
{
	return aws->ca_file;
}

bool bl_aws_endpoint_overridden(const struct bl_aws *aws, const char *service)
{
	if (strcmp(service, "s3") == 0)
		return aws->s3.url != NULL;
	if (strcmp(service, "ec2") == 0)
		return aws->ec2.url != NULL;
	return false;
}

const char *bl_aws_credentials_origin(const struct bl_aws *aws)
{
	if (!aws->have_creds)
		return "none yet";
	return aws->env_creds ? "environment" : aws->role_origin;
}

/* Environment credentials: 0 with *found false when none are set. */
static int env_credentials(struct bl_aws_credentials *c, bool *found)
{
	const char *id = getenv_set("AWS_ACCESS_KEY_ID");
	const char *secret = getenv_set("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv_set("AWS_SESSION_TOKEN");
	*found = id || secret;
	if (!*found)
		return 0;
	if (!id || !secret) {
		bl_err("AWS credentials in the environment are incomplete: %s is set but %s is not",
		       id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		       id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -BL_ECREDENTIALS;
	}
	c->access_key_id = strdup(id);
	c->secret_access_key = strdup(secret);
	c->session_token = token ? strdup(token) : NULL;
	if (!c->access_key_id || !c->secret_access_key || (token && !c->session_token)) {
		bl_aws_credentials_clear(c);
		return -BL_ENOMEM;
	}
	return 0;
}

/* Expiration as IMDS writes it, "2026-11-22T12:00:00Z", and nothing else:
 * the time written back the same way must be the same text, so that
 * out-of-range fields (timegm would carry Feb 30 into March) and any other
 * form are refused. */
static int parse_utc(const char *s, time_t *out)
{
	struct tm tm = {0};
	char back[32];
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -BL_EFORMAT;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	bl_format_utc(*out, back, sizeof(back));
	return strcmp(back, s) == 0 ? 0 : -BL_EFORMAT;
}

/* IAM role names: 1..64 of [A-Za-z0-9+=,.@_-]; one goes into an IMDS path. */
static bool valid_role(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= ROLE_NAME_MAX &&
	       strspn(s, ALNUM "+=,.@_-") == n;
}

static int imds_error(int r)
{
	return r == -BL_ETOOBIG ? -BL_EDATASOURCE : r;
}

/* The instance profile's role, the first line IMDS lists. */
static int role_name(struct bl_imds *imds, char **out)
{
	struct bl_buf list = {0};
	int r = bl_imds_get(imds, ROLE_PATH, ROLE_LIST_MAX, &list);
	if (r == -BL_ENOTFOUND || (r == 0 && list.data[strspn(list.data, "\r\n")] == '\0')) {
		bl_err("no AWS credentials: AWS_ACCESS_KEY_ID is not set and the instance has no "
		       "IAM role (no instance profile attached)");
		r = -BL_ECREDENTIALS;
	} else if (r == 0) {
		char *name = list.data + strspn(list.data, "\r\n");
		name[strcspn(name, "\r\n")] = '\0';
		if (!valid_role(name)) {
			_cleanup_free_ char *shown = bl_printable(strdup(name));
			bl_err("IMDS %s: \"%s\" is not an IAM role name", ROLE_PATH,
			       shown ? shown : "");
			r = -BL_EDATASOURCE;
		} else if (!(*out = strdup(name))) {
			r = -BL_ENOMEM;
		}
	}
	bl_buf_free(&list);
	return imds_error(r);
}

/* A string field of the credentials document, copied; never logged. */
static int secret_field(json_t *doc, const char *role, const char *name, char **out)
{
	json_t *v = json_object_get(doc, name);
	if (!json_is_string(v) || json_string_length(v) == 0) {
		bl_err("IMDS %s%s: %s is %s", ROLE_PATH, role, name,
		       v ? "not a non-empty string" : "missing");
		return -BL_ECREDENTIALS;
	}
	*out = strdup(json_string_value(v));
	return *out ? 0 : -BL_ENOMEM;
}

/* Only Code, Message (when Code says it failed) and Expiration are named in
 * messages; jansson's own error text quotes the input, so it is not. */
int bl_aws_parse_credentials(const char *text, size_t len, const char *role,
			     struct bl_aws_credentials *c)
{
	/* Before jansson holds the first secret. */
	static bool wiping_json;
	if (!wiping_json) {
		json_set_alloc_funcs(malloc, wiping_free);
		wiping_json = true;
	}
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, 0, &jerr);
	if (!doc)
		bl_err("IMDS %s%s:%d:%d: malformed JSON", ROLE_PATH, role, jerr.line, jerr.column);
	else if (!json_is_object(doc))
		bl_err("IMDS %s%s: not a JSON object", ROLE_PATH, role);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return -BL_ECREDENTIALS;
	}
	const char *code = json_string_value(json_object_get(doc, "Code"));
	const char *message = json_string_value(json_object_get(doc, "Message"));
	const char *expiration = json_string_value(json_object_get(doc, "Expiration"));
	int r = 0;
	if (!code || strcmp(code, "Success") != 0) {
		/* Input: none of its control characters may reach the log. */
		_cleanup_free_ char *shown_code = code ? bl_printable(strdup(code)) : NULL;
		_cleanup_free_ char *shown_message = message ? bl_printable(strdup(message)) : NULL;
		bl_err("IMDS has no credentials for instance role %s: Code %s%s%s", role,
		       shown_code ? shown_code : "missing", shown_message ? ": " : "",
		       shown_message ? shown_message : "");
		r = -BL_ECREDENTIALS;
	}
	if (r == 0)
		r = secret_field(doc, role, "AccessKeyId", &c->access_key_id);
	if (r == 0)
		r = secret_field(doc, role, "SecretAccessKey", &c->secret_access_key);
	if (r == 0)
		r = secret_field(doc, role, "Token", &c->session_token);
	if (r == 0 && !expiration) {
		bl_err("IMDS %s%s: Expiration is missing or not a string", ROLE_PATH, role);
		r = -BL_ECREDENTIALS;
	} else if (r == 0 && parse_utc(expiration, &c->expiration) < 0) {
		_cleanup_free_ char *shown = bl_printable(strdup(expiration));
		bl_err("IMDS %s%s: Expiration \"%s\" is not a UTC time like 2026-11-22T12:00:00Z",
		       ROLE_PATH, role, shown ? shown : "");
		r = -BL_ECREDENTIALS;
	} else if (r == 0 && c->expiration <= time(NULL)) {
		bl_err("IMDS gave expired credentials for instance role %s (Expiration %s); is "
		       "the system clock right?", role, expiration);
		r = -BL_ECREDENTIALS;
	}
	json_decref(doc);
	if (r < 0)
		bl_aws_credentials_clear(c);
	return r;
}

/* The instance role's current credentials from IMDS; *role malloc'd. */
static int role_credentials(struct bl_imds *imds, struct bl_aws_credentials *c, char **role)
{
	int r = role_name(imds, role);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = bl_strdup_printf("%s%s", ROLE_PATH, *role);
	struct bl_buf body = {0};
	r = path ? bl_imds_get(imds, path, ROLE_DOC_MAX, &body) : -BL_ENOMEM;
	if (r == -BL_ENOTFOUND) {
		bl_err("IMDS lists instance role %s but has no credentials for it (%s)", *role,
		       path);
		r = -BL_ECREDENTIALS;
	}
	if (r == 0)
		r = bl_aws_parse_credentials(body.data, body.len, *role, c);
	bl_buf_free(&body);
	return imds_error(r);
}

/* Fetches the role's credentials again; keeps the current ones, if still
 * valid, when that fails: IMDS may be busy for a moment. */
static int refresh_role(struct bl_aws *aws)
{
	struct bl_aws_credentials fresh = {0};
	_cleanup_free_ char *role = NULL;
	int r = role_credentials(aws->imds, &fresh, &role);
	if (r < 0) {
		if (!aws->have_creds || aws->creds.expiration <= time(NULL))
			return r;
		char until[32];
		bl_format_utc(aws->creds.expiration, until, sizeof(until));
		bl_warn("cannot refresh the credentials of %s; using the current ones, valid until %s",
			aws->role_origin, until);
		return 0;
	}
	char *origin = bl_strdup_printf("instance role %s", role);
	if (!origin) {
		bl_aws_credentials_clear(&fresh);
		return -BL_ENOMEM;
	}
	char until[32];
	bl_format_utc(fresh.expiration, until, sizeof(until));
	bl_info("AWS credentials of instance role %s loaded, valid until %s", role, until);
	bl_aws_credentials_clear(&aws->creds);
	aws->creds = fresh;
	free(aws->role_origin);
	aws->role_origin = origin;
	aws->have_creds = true;
	return 0;
}

int bl_aws_credentials(struct bl_aws *aws, const struct bl_aws_credentials **out)
{
	*out = NULL;
	if (aws->have_creds &&
	    (aws->env_creds || aws->creds.expiration - time(NULL) >= BL_AWS_CREDENTIALS_REFRESH)) {
		*out = &aws->creds;
		return 0;
	}
	if (!aws->have_creds) {
		bool found;
		int r = env_credentials(&aws->creds, &found);
		if (r < 0)
			return r;
		if (found) {
			bl_debug("AWS credentials from the environment (AWS_ACCESS_KEY_ID)");
			aws->have_creds = aws->env_creds = true;
			*out = &aws->creds;
			return 0;
		}
	}
	if (!aws->imds) {
		bl_err("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, "
		       "and there is no EC2 instance metadata service to ask for an instance role's");
		return -BL_ECREDENTIALS;
	}
	int r = refresh_role(aws);
	if (r == 0)
		*out = &aws->creds;
	return r;
}

/* region, else the instance's; *error when neither is usable. */
static const char *pick_region(const struct bl_aws *aws, const char *region, char **error)
{
	if (region && !valid_region(region)) {
		*error = bl_strdup_printf("\"%s\" is not an AWS region name (like eu-west-1)", region);
		return NULL;
	}
	if (!region && !(region = aws->region))
		*error = strdup("no AWS region known: set AWS_REGION (or AWS_DEFAULT_REGION)");
	return region;
}

static struct bl_sigv4_key_cache *key_cache_for(struct bl_aws *aws, const char *service)
{
	for (size_t i = 0; i < ARRAY_SIZE(key_services); i++)
		if (strcmp(service, key_services[i]) == 0)
			return &aws->keys[i];
	return NULL;
}

int bl_aws_sign(struct bl_aws *aws, const struct bl_sigv4_request *req, const char *service,
		const char *region, struct bl_sigv4_signed *out)
{
	*out = (struct bl_sigv4_signed){0};
	_cleanup_free_ char *error = NULL;
	region = pick_region(aws, region, &error);
	if (!region) {
		bl_err("cannot sign the %s request to %s: %s", service, req->url,
		       error ? error : bl_strerror(-BL_ENOMEM));
		return error ? -BL_ECONFIG : -BL_ENOMEM;
	}
	const struct bl_aws_credentials *creds;
	int r = bl_aws_credentials(aws, &creds);
	if (r < 0)
		return r;
	struct bl_sigv4_request signed_req = *req;
	if (!signed_req.key_cache)
		signed_req.key_cache = key_cache_for(aws, service);
	r = bl_sigv4_sign(&signed_req, creds, region, service, time(NULL), out);
	if (r == -BL_EFORMAT)
		bl_err("cannot sign the %s request to %s: a malformed URL or header, or credentials "
		       "from %s with a character that cannot be sent", service, req->url,
		       bl_aws_credentials_origin(aws));
	return r;
}

/* An IP address cannot carry a bucket as its first label. */
static bool host_is_ip(const struct endpoint *e)
{
	const char *h = e->url + e->host;
	size_t n = strcspn(h, ":/");
	return h[0] == '[' || strspn(h, "0123456789.") == n;
}

char *bl_aws_s3_object_url(const struct bl_aws *aws, const char *bucket, const char *key,
			   const char *region, char **error)
{
	*error = NULL;
	bool dns_safe = bucket_dns_safe(bucket);
	bool path = aws->addressing == BL_S3_ADDRESSING_PATH ||
		    (aws->addressing == BL_S3_ADDRESSING_AUTO && (aws->s3.url || !dns_safe));
	if (!path && !dns_safe) {
		*error = bl_strdup_printf("bucket \"%s\" cannot be addressed virtual-hosted style "
					  "(s3.addressing_style: virtual): it is not 3 to 63 "
					  "characters of a-z 0-9 -", bucket);
		return NULL;
	}
	if (!path && aws->s3.url && host_is_ip(&aws->s3)) {
		*error = bl_strdup_printf("s3.addressing_style is virtual but the S3 endpoint %s "
					  "(%s) is an IP address", aws->s3.url, aws->s3.source);
		return NULL;
	}
	if (!aws->s3.url && !(region = pick_region(aws, region, error)))
		return NULL;

	struct bl_buf url = {0};
	int r;
	if (aws->s3.url && path)
		r = bl_buf_printf(&url, "%s/", aws->s3.url);
	else if (aws->s3.url)
		r = bl_buf_printf(&url, "%.*s%s.%s/", (int)aws->s3.host, aws->s3.url, bucket,
				  aws->s3.url + aws->s3.host);
	else if (path)
		r = bl_buf_printf(&url, "https://s3.%s.%s/", region, domain_for(region));
	else
		r = bl_buf_printf(&url, "https://%s.s3.%s.%s/", bucket, region, domain_for(region));
	if (r == 0 && path)
		r = bl_sigv4_uri_encode(&url, bucket, strlen(bucket), false);
	if (r == 0 && path)
		r = bl_buf_append(&url, "/", 1);
	if (r == 0)
		r = bl_sigv4_uri_encode(&url, key, strlen(key), true);
	if (r < 0) {
		bl_buf_free(&url);
		return NULL;
	}
	return url.data;
}

char *bl_aws_ec2_url(const struct bl_aws *aws, char **error)
{
	*error = NULL;
	if (aws->ec2.url)
		return strdup(aws->ec2.url);
	const char *region = pick_region(aws, NULL, error);
	return region ? bl_strdup_printf("https://ec2.%s.%s", region, domain_for(region)) : NULL;
}
