/* sigv4.c - AWS Signature Version 4 signing (sigv4.h).
 *
 * Checked byte for byte against AWS's own SigV4 test suite
 * (tests/data/sigv4).  Where services differ it does what botocore does:
 * S3 paths are neither normalized nor encoded twice. */
#include "bootlace/sigv4.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bootlace/error.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define AUTHORIZATION "Authorization"

/* Headers the signer computes; a caller's own copy would be signed twice. */
static const char *const owned_headers[] = {
	"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
};

void bl_aws_credentials_clear(struct bl_aws_credentials *c)
{
	bl_free_secret(c->access_key_id);
	bl_free_secret(c->secret_access_key);
	bl_free_secret(c->session_token);
	*c = (struct bl_aws_credentials){0};
}

void bl_sigv4_signed_free(struct bl_sigv4_signed *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(s->headers); i++)
		bl_free_secret(s->headers[i]);
	bl_free_secret(s->canonical_request);
	bl_free_secret(s->string_to_sign);
	*s = (struct bl_sigv4_signed){0};
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int bl_sigv4_uri_encode(struct bl_buf *out, const char *s, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char escaped[3] = { '%', hex[c >> 4], hex[c & 15] };
		int r = is_unreserved(c) || (keep_slash && c == '/') ?
			bl_buf_append(out, &s[i], 1) : bl_buf_append(out, escaped, 3);
		if (r < 0)
			return r;
	}
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Appends s decoded (%XX) and encoded again: an escaped and an unescaped
 * byte canonicalize alike, and so do %e1 and %E1 - what the service does on
 * its side.  An escaped '/' stays escaped: only a literal one separates
 * path segments.  '+' is a plus, not a space. */
static int uri_reencode(struct bl_buf *out, const char *s, size_t len, bool keep_slash)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool escaped = c == '%' && i + 2 < len &&
			       hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0;
		if (escaped) {
			c = (char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
			i += 2;
		}
		int r = bl_sigv4_uri_encode(out, &c, 1, keep_slash && !escaped);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The canonical URI.  S3 signs the object key as it is, encoded once.
 * Other services sign the path with "." and ".." segments resolved and
 * empty ones dropped, and encode the path as sent once more (so "%"
 * becomes "%25": the AWS "encode twice" rule). */
static int append_canonical_uri(struct bl_buf *out, const char *path, size_t len, bool s3)
{
	if (s3 && len > 0)
		return uri_reencode(out, path, len, true);
	size_t start = out->len;
	for (size_t i = 0; i < len; ) {
		const char *seg = path + i;
		const char *slash = memchr(seg, '/', len - i);
		size_t n = slash ? (size_t)(slash - seg) : len - i;
		i += n + 1;
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			/* Drop the last segment written, with its '/' (segments
			 * are encoded, so a '/' in out is always a separator). */
			while (out->len > start && out->data[--out->len] != '/')
				;
			if (out->data)
				out->data[out->len] = '\0';
			continue;
		}
		int r = bl_buf_append(out, "/", 1);
		if (r == 0)
			r = bl_sigv4_uri_encode(out, seg, n, false);
		if (r < 0)
			return r;
	}
	if (out->len == start || path[len - 1] == '/')
		return bl_buf_append(out, "/", 1);
	return 0;
}

struct query_param {
	char *text;      /* "name=value", both encoded */
	size_t name_len;
};

/* By name, then by value: sorting the "name=value" strings would put
 * "Param-3=" before "Param=". */
static int query_param_cmp(const void *a, const void *b)
{
	const struct query_param *x = a, *y = b;
	int c = memcmp(x->text, y->text, x->name_len < y->name_len ? x->name_len : y->name_len);
	if (c != 0)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return strcmp(x->text + x->name_len, y->text + y->name_len);
}

static int encode_query_param(const char *pair, size_t len, struct query_param *p)
{
	struct bl_buf b = {0};
	const char *eq = memchr(pair, '=', len);
	size_t name_len = eq ? (size_t)(eq - pair) : len;
	int r = uri_reencode(&b, pair, name_len, false);
	p->name_len = b.len;
	/* A name without '=' signs as "name=". */
	if (r == 0)
		r = bl_buf_append(&b, "=", 1);
	if (r == 0 && eq)
		r = uri_reencode(&b, eq + 1, len - name_len - 1, false);
	if (r < 0) {
		bl_buf_free(&b);
		return r;
	}
	p->text = b.data;
	return 0;
}

static int append_canonical_query(struct bl_buf *out, const char *query, size_t len)
{
	size_t max = 1;
	for (size_t i = 0; i < len; i++)
		max += query[i] == '&';
	struct query_param *params = calloc(max, sizeof(*params));
	if (!params)
		return -BL_ENOMEM;
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; r == 0 && i < len; ) {
		const char *pair = query + i;
		const char *amp = memchr(pair, '&', len - i);
		size_t plen = amp ? (size_t)(amp - pair) : len - i;
		i += plen + 1;
		if (plen > 0)  /* "a=1&&b=2" has no third parameter */
			r = encode_query_param(pair, plen, &params[n++]);
	}
	if (r == 0)
		qsort(params, n, sizeof(*params), query_param_cmp);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = bl_buf_printf(out, "%s%s", i ? "&" : "", params[i].text);
	for (size_t i = 0; i < n; i++)
		free(params[i].text);
	free(params);
	return r;
}

struct canon_header {
	char *name;    /* lowercase */
	char *value;   /* trimmed, each run of white space one space */
	size_t order;  /* position given: repeated names join in this order */
};

static int canon_header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Trims and collapses white space; line breaks count as white space, so a
 * folded (multi-line) value signs as one line. */
static char *canonical_header_value(const char *v)
{
	char *out = malloc(strlen(v) + 1);
	if (!out)
		return NULL;
	size_t n = 0;
	bool space = false;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = false;
		out[n++] = *v;
	}
	out[n] = '\0';
	return out;
}

static int add_header(struct canon_header *h, size_t *n, const char *name, const char *value)
{
	char *lname = strdup(name);
	char *cvalue = canonical_header_value(value);
	if (!lname || !cvalue) {
		free(lname);
		bl_free_secret(cvalue);
		return -BL_ENOMEM;
	}
	for (char *p = lname; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	h[*n] = (struct canon_header){ lname, cvalue, *n };
	(*n)++;
	return 0;
}

static bool is_owned_header(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(owned_headers); i++)
		if (strcasecmp(name, owned_headers[i]) == 0)
			return true;
	return false;
}

/* The caller's headers plus the signer's own; h has room for
 * req->n_headers + 4 (host, date, token, content hash). */
/* An HTTP field name (RFC 9110 token): anything else would be sent as a
 * broken header and listed in SignedHeaders as it is. */
static bool is_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	if (!*s)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (!isalnum(*p) && !strchr(extra, *p))
			return false;
	return true;
}

static int collect_headers(const struct bl_sigv4_request *req, const char *host,
			   const char *amz_date, const char *token, const char *payload_hash,
			   struct canon_header *h, size_t *n)
{
	bool have_host = false;
	int r = 0;
	for (size_t i = 0; r == 0 && i < req->n_headers; i++) {
		const struct bl_sigv4_header *hd = &req->headers[i];
		if (!hd->name || !is_token(hd->name) || !hd->value || is_owned_header(hd->name))
			return -BL_EFORMAT;
		have_host = have_host || strcasecmp(hd->name, "host") == 0;
		r = add_header(h, n, hd->name, hd->value);
	}
	if (r == 0 && !have_host)
		r = add_header(h, n, "host", host);
	if (r == 0)
		r = add_header(h, n, "x-amz-date", amz_date);
	if (r == 0 && token)
		r = add_header(h, n, "x-amz-security-token", token);
	if (r == 0 && req->s3)
		r = add_header(h, n, "x-amz-content-sha256", payload_hash);
	return r;
}

/* "name:value\n" per name, repeated names joined with ','; and the
 * ';'-separated names. */
static int append_canonical_headers(struct bl_buf *out, struct bl_buf *signed_headers,
				    struct canon_header *h, size_t n)
{
	qsort(h, n, sizeof(*h), canon_header_cmp);
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		bool first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
		bool last = i + 1 == n || strcmp(h[i].name, h[i + 1].name) != 0;
		if (first)
			r = bl_buf_printf(out, "%s:", h[i].name);
		if (r == 0 && first)
			r = bl_buf_printf(signed_headers, "%s%s", signed_headers->len ? ";" : "",
					  h[i].name);
		if (r == 0)
			r = bl_buf_printf(out, "%s%s%s", first ? "" : ",", h[i].value, last ? "\n" : "");
	}
	return r;
}

struct url_parts {
	char *host;          /* host[:port], a default port dropped; malloc'd */
	const char *path;    /* up to '?' or '#'; may be empty */
	size_t path_len;
	const char *query;   /* after '?', up to '#' */
	size_t query_len;
};

static int split_url(const char *url, struct url_parts *u)
{
	static const struct { const char *prefix, *default_port; } schemes[] = {
		{ "http://", ":80" }, { "https://", ":443" },
	};
	const char *authority = NULL, *default_port = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		if (strncasecmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
			authority = url + strlen(schemes[i].prefix);
			default_port = schemes[i].default_port;
		}
	if (!authority)
		return -BL_EFORMAT;
	size_t alen = strcspn(authority, "/?#");
	/* user:password@ would go out as Basic auth, beside the signature. */
	if (alen == 0 || memchr(authority, '@', alen))
		return -BL_EFORMAT;
	u->path = authority + alen;
	u->path_len = strcspn(u->path, "?#");
	u->query = u->path + u->path_len + (u->path[u->path_len] == '?');
	u->query_len = u->path[u->path_len] == '?' ? strcspn(u->query, "#") : 0;
	/* curl leaves a default port out of Host, and the service checks
	 * the signature against the Host it received. */
	size_t plen = strlen(default_port);
	if (alen > plen && strncmp(authority + alen - plen, default_port, plen) == 0)
		alen -= plen;
	u->host = strndup(authority, alen);
	return u->host ? 0 : -BL_ENOMEM;
}

static int canonical_request(const struct bl_sigv4_request *req, const char *amz_date,
			     const char *token, const char *payload_hash,
			     struct bl_buf *creq, struct bl_buf *signed_headers)
{
	struct url_parts u = {0};
	int r = split_url(req->url, &u);
	if (r < 0)
		return r;
	struct canon_header *h = calloc(req->n_headers + 4, sizeof(*h));
	size_t n = 0;
	r = h ? collect_headers(req, u.host, amz_date, token, payload_hash, h, &n) : -BL_ENOMEM;
	if (r == 0)
		r = bl_buf_printf(creq, "%s\n", req->method);
	if (r == 0)
		r = append_canonical_uri(creq, u.path, u.path_len, req->s3);
	if (r == 0)
		r = bl_buf_append(creq, "\n", 1);
	if (r == 0)
		r = append_canonical_query(creq, u.query, u.query_len);
	if (r == 0)
		r = bl_buf_append(creq, "\n", 1);
	if (r == 0)
		r = append_canonical_headers(creq, signed_headers, h, n);
	if (r == 0)
		r = bl_buf_printf(creq, "\n%s\n%s", signed_headers->data, payload_hash);
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		bl_free_secret(h[i].value);
	}
	free(h);
	free(u.host);
	return r;
}

static int hmac_sha256(const void *key, size_t key_len, const char *msg, unsigned char out[32])
{
	unsigned int n = 0;
	if (key_len > INT_MAX)
		return -BL_EFORMAT;
	return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg),
		    out, &n) ? 0 : -BL_ENOMEM;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"). */
static int derive_key(const char *secret, const char *date, const char *region,
		      const char *service, unsigned char out[32])
{
	const char *const chain[] = { date, region, service, "aws4_request" };
	unsigned char mac[2][32];  /* alternate: no step writes the key it reads */
	struct bl_buf first_key = {0};
	int r = bl_buf_printf(&first_key, "AWS4%s", secret);
	const void *key = first_key.data;
	size_t key_len = first_key.len;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(chain); i++) {
		r = hmac_sha256(key, key_len, chain[i], mac[i % 2]);
		key = mac[i % 2];
		key_len = sizeof(mac[0]);
	}
	if (r == 0)
		memcpy(out, key, 32);
	OPENSSL_cleanse(mac, sizeof(mac));
	bl_buf_free(&first_key);
	return r;
}

void bl_sigv4_key_cache_clear(struct bl_sigv4_key_cache *cache)
{
	/* Zero-fills: valid becomes false. */
	OPENSSL_cleanse(cache, sizeof(*cache));
}

/* The signing key, from cache when it was derived for this scope and
 * secret; otherwise derived and, with a cache, kept there. */
static int signing_key(struct bl_sigv4_key_cache *cache, const char *secret, const char *date,
		       const char *region, const char *service, unsigned char key[32])
{
	char scope[sizeof(cache->scope)];
	int n = snprintf(scope, sizeof(scope), "%s/%s/%s", date, region, service);
	/* A '/' in region or service would make two scopes spell alike
	 * ("a/b" + "c", "a" + "b/c"); such a scope, or one too long to keep,
	 * is derived every time. */
	if (!cache || n < 0 || (size_t)n >= sizeof(scope) || strchr(region, '/') ||
	    strchr(service, '/'))
		return derive_key(secret, date, region, service, key);
	unsigned char secret_id[32];
	if (!EVP_Digest(secret, strlen(secret), secret_id, NULL, EVP_sha256(), NULL))
		return -BL_ENOMEM;
	if (cache->valid && strcmp(cache->scope, scope) == 0 &&
	    CRYPTO_memcmp(cache->secret_id, secret_id, sizeof(secret_id)) == 0) {
		memcpy(key, cache->key, sizeof(cache->key));
		return 0;
	}
	bl_sigv4_key_cache_clear(cache);
	int r = derive_key(secret, date, region, service, key);
	if (r == 0) {
		memcpy(cache->scope, scope, (size_t)n + 1);
		memcpy(cache->secret_id, secret_id, sizeof(secret_id));
		memcpy(cache->key, key, sizeof(cache->key));
		cache->valid = true;
	}
	return r;
}

/* The signature is HMAC(kSigning, string to sign). */
static int signature_hex(const struct bl_sigv4_request *req, const char *secret,
			 const char *date, const char *region, const char *service,
			 const char *sts, char out[65])
{
	unsigned char key[32], mac[32];
	int r = signing_key(req->key_cache, secret, date, region, service, key);
	if (r == 0)
		r = hmac_sha256(key, sizeof(key), sts, mac);
	if (r == 0)
		bl_hex_encode(mac, sizeof(mac), out);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* Present, and safe to put in a header line (no CR/LF injection). */
static bool valid_field(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int add_output(struct bl_sigv4_signed *out, size_t *n, const char *name, const char *value)
{
	out->headers[*n] = bl_strdup_printf("%s: %s", name, value);
	if (!out->headers[*n])
		return -BL_ENOMEM;
	(*n)++;
	return 0;
}

static int sign(const struct bl_sigv4_request *req, const struct bl_aws_credentials *creds,
		const char *region, const char *service, const char *date,
		const char *amz_date, struct bl_sigv4_signed *out)
{
	char payload_sha[65];
	const char *payload_hash = req->payload_hash;
	if (!payload_hash) {
		bl_sha256_hex(req->payload, req->payload_len, payload_sha);
		payload_hash = payload_sha;
	}
	struct bl_buf creq = {0}, signed_headers = {0}, sts = {0};
	_cleanup_free_ char *scope = bl_strdup_printf("%s/%s/%s/aws4_request",
						      date, region, service);
	int r = scope ? canonical_request(req, amz_date, creds->session_token, payload_hash,
					  &creq, &signed_headers) : -BL_ENOMEM;
	char creq_sha[65], signature[65];
	if (r == 0) {
		bl_sha256_hex(creq.data, creq.len, creq_sha);
		r = bl_buf_printf(&sts, ALGORITHM "\n%s\n%s\n%s", amz_date, scope, creq_sha);
	}
	if (r == 0)
		r = signature_hex(req, creds->secret_access_key, date, region, service,
				  sts.data, signature);
	size_t n = 0;
	if (r == 0) {
		_cleanup_free_ char *authz = bl_strdup_printf(
			ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
			creds->access_key_id, scope, signed_headers.data, signature);
		r = authz ? add_output(out, &n, AUTHORIZATION, authz) : -BL_ENOMEM;
	}
	if (r == 0)
		r = add_output(out, &n, "X-Amz-Date", amz_date);
	if (r == 0 && creds->session_token)
		r = add_output(out, &n, "X-Amz-Security-Token", creds->session_token);
	if (r == 0 && req->s3)
		r = add_output(out, &n, "X-Amz-Content-SHA256", payload_hash);
	if (r == 0) {
		out->authorization = out->headers[0] + strlen(AUTHORIZATION ": ");
		out->canonical_request = creq.data;
		out->string_to_sign = sts.data;
		creq = sts = (struct bl_buf){0};
	}
	bl_buf_free(&creq);
	bl_buf_free(&sts);
	bl_buf_free(&signed_headers);
	return r;
}

int bl_sigv4_sign(const struct bl_sigv4_request *req, const struct bl_aws_credentials *creds,
		  const char *region, const char *service, time_t now,
		  struct bl_sigv4_signed *out)
{
	*out = (struct bl_sigv4_signed){0};
	if (!valid_field(req->method) || !valid_field(req->url) ||
	    !valid_field(creds->access_key_id) || !creds->secret_access_key ||
	    !*creds->secret_access_key ||
	    (creds->session_token && !valid_field(creds->session_token)) ||
	    (req->payload_hash && !valid_field(req->payload_hash)) ||
	    !valid_field(region) || !valid_field(service))
		return -BL_EFORMAT;
	struct tm tm;
	char date[9], amz_date[17];
	if (!gmtime_r(&now, &tm) || strftime(date, sizeof(date), "%Y%m%d", &tm) != 8 ||
	    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return -BL_EFORMAT;
	int r = sign(req, creds, region, service, date, amz_date, out);
	if (r < 0)
		bl_sigv4_signed_free(out);
	return r;
}
