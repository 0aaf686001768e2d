/* http.c - bootlace's HTTP client on libcurl (http.h).
 *
 * Everything bootlace downloads ends up executed as root, so the transport
 * is deliberately narrow: no redirects, http/https only, a body cap that is
 * enforced while receiving, and one reusable handle per client so that the
 * handful of requests of a boot share their connections. */
#include "bootlace/http.h"

#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "bootlace/error.h"
#include "bootlace/log.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define PORT_DIGITS_MAX 5

#define CA_BUNDLE_MAX (16 * 1024 * 1024)

struct bl_http {
	CURL *curl;
	char *ca_file;          /* the file ca_bundle was built with */
	struct bl_buf ca_bundle;
	char error[CURL_ERROR_SIZE];
};

struct transfer {
	struct bl_http_response *resp;
	size_t max_body;
	bool too_big;
};

int bl_http_validate_endpoint(const char *url, char **msg)
{
	size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 :
			strncmp(url, "http://", 7) == 0 ? 7 : 0;
	const char *host = url + scheme;
	const char *p = host;
	*msg = NULL;
	if (*p == '[') {
		size_t n = strspn(p + 1, "0123456789abcdefABCDEF:.");
		p = n > 0 && p[n + 1] == ']' ? p + n + 2 : host;
	} else {
		p += strspn(p, ALNUM ".-_");
	}
	bool ok = scheme && p > host;
	if (ok && *p == ':') {
		size_t n = strspn(p + 1, "0123456789");
		long port = n > 0 && n <= PORT_DIGITS_MAX ? strtol(p + 1, NULL, 10) : 0;
		ok = port > 0 && port <= 65535;
		p += n + 1;
	}
	if (ok && *p == '/')
		p += strspn(p, ALNUM "-._~/");
	if (ok && !*p)
		return 0;
	if (!scheme)
		*msg = bl_strdup_printf("\"%s\" is not an http:// or https:// URL", url);
	else if (strchr(url, '@'))  /* a user:password@ would be a secret: not echoed */
		*msg = strdup("an endpoint URL cannot hold a user name or password");
	else
		*msg = bl_strdup_printf("\"%s\" is not an endpoint URL of the form "
					"http(s)://host[:port][/path] (path characters: "
					"A-Z a-z 0-9 - . _ ~ /)", url);
	return -BL_ECONFIG;
}

int bl_http_load_ca_bundle(const char *ca_file, struct bl_buf *out)
{
	struct bl_buf extra = {0};
	char *system_bundle = NULL;
	CURL *c = curl_easy_init();
	int r = 0;
	if (!c)
		return -BL_ENOMEM;
	if (curl_easy_getinfo(c, CURLINFO_CAINFO, &system_bundle) == CURLE_OK && system_bundle) {
		r = bl_read_file(system_bundle, CA_BUNDLE_MAX, out);
		if (r == -BL_ENOTFOUND)
			r = 0;
		else if (r < 0)
			bl_err("%s: %s", system_bundle, bl_strerror(r));
	}
	if (r == 0 && (r = bl_read_file(ca_file, CA_BUNDLE_MAX, &extra)) < 0) {
		bl_err("tls.ca_file %s: %s", ca_file, r == -BL_ENOTFOUND ? "no such file" : bl_strerror(r));
		r = -BL_EIO;
	}
	if (r == 0 && (r = bl_buf_append(out, "\n", 1)) == 0)
		r = bl_buf_append(out, extra.data, extra.len);
	bl_buf_free(&extra);
	curl_easy_cleanup(c);
	return r;
}

/* Builds (once per file) the bundle for req->ca_file. */
static int use_ca_file(struct bl_http *http, const char *ca_file)
{
	if (http->ca_file && strcmp(http->ca_file, ca_file) == 0)
		return 0;
	free(http->ca_file);
	bl_buf_free(&http->ca_bundle);
	http->ca_file = strdup(ca_file);
	if (!http->ca_file)
		return -BL_ENOMEM;
	int r = bl_http_load_ca_bundle(ca_file, &http->ca_bundle);
	if (r < 0) {
		free(http->ca_file);
		http->ca_file = NULL;
	}
	return r;
}

int bl_http_new(struct bl_http **out)
{
	static bool global_done;
	*out = NULL;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -BL_ENOMEM;
		global_done = true;
	}
	struct bl_http *http = calloc(1, sizeof(*http));
	if (!http || !(http->curl = curl_easy_init())) {
		free(http);
		return -BL_ENOMEM;
	}
	*out = http;
	return 0;
}

void bl_http_free(struct bl_http *http)
{
	if (!http)
		return;
	curl_easy_cleanup(http->curl);
	free(http->ca_file);
	bl_buf_free(&http->ca_bundle);
	free(http);
}

const char *bl_http_last_error(const struct bl_http *http)
{
	return http->error;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * n;
	if (t->resp->body.len + len > t->max_body) {
		t->too_big = true;
		return 0; /* aborts the transfer */
	}
	return bl_buf_append(&t->resp->body, data, len) < 0 ? 0 : len;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * n;
	if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
		const char *v = data + 5;
		const char *end = data + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(t->resp->etag);
		t->resp->etag = strndup(v, (size_t)(end - v));
	}
	return len;
}

static int set_options(struct bl_http *http, const struct bl_http_request *req,
		       struct curl_slist *headers, struct transfer *t)
{
	CURL *c = http->curl;
	curl_easy_reset(c);
	bool ok = curl_easy_setopt(c, CURLOPT_URL, req->url) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, http->error) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_WRITEDATA, t) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_HEADERDATA, t) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body) == CURLE_OK;
	if (ok && req->ca_file) {
		struct curl_blob blob = { .data = http->ca_bundle.data, .len = http->ca_bundle.len,
					  .flags = CURL_BLOB_NOCOPY };
		ok = curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob) == CURLE_OK;
	}
	if (ok && req->no_proxy)
		ok = curl_easy_setopt(c, CURLOPT_NOPROXY, "*") == CURLE_OK;
	if (ok && strcmp(req->method, "GET") != 0) {
		ok = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method) == CURLE_OK &&
		     curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "") == CURLE_OK &&
		     curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)req->body_len) == CURLE_OK;
	}
	return ok ? 0 : -BL_EUNSUPPORTED;
}

int bl_http_perform(struct bl_http *http, const struct bl_http_request *req,
		    struct bl_http_response *resp)
{
	struct curl_slist *headers = NULL;
	struct transfer t = { .resp = resp, .max_body = req->max_body };
	*resp = (struct bl_http_response){0};
	http->error[0] = '\0';
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		struct curl_slist *next = curl_slist_append(headers, req->headers[i]);
		if (!next) {
			curl_slist_free_all(headers);
			return -BL_ENOMEM;
		}
		headers = next;
	}
	int r = req->ca_file ? use_ca_file(http, req->ca_file) : 0;
	if (r == 0)
		r = set_options(http, req, headers, &t);
	CURLcode rc = r == 0 ? curl_easy_perform(http->curl) : CURLE_OK;
	/* Request headers may carry a token or a signature. */
	for (struct curl_slist *h = headers; h; h = h->next)
		OPENSSL_cleanse(h->data, strlen(h->data));
	curl_slist_free_all(headers);
	if (r < 0)
		return r;
	if (t.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		r = -BL_ETOOBIG;
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		r = -BL_ETIMEOUT;
	else if (rc != CURLE_OK)
		r = -BL_ENETWORK;
	if (r == 0)
		curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (r == 0 && !resp->body.data)
		r = bl_buf_append(&resp->body, "", 0);
	if (r < 0)
		bl_http_response_free(resp);
	return r;
}

void bl_http_response_free(struct bl_http_response *resp)
{
	bl_buf_free(&resp->body);
	free(resp->etag);
	*resp = (struct bl_http_response){0};
}
