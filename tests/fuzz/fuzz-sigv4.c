/* fuzz-sigv4.c - SigV4 canonicalization and signing (src/sigv4.c) with a
 * fuzzed request and fixed credentials and time.  Input: NUL-separated
 * fields FLAGS, METHOD, URL, PAYLOAD_HASH ("" = hash the payload),
 * PAYLOAD, then header NAME, VALUE pairs.  FLAGS' first byte: bit 0 signs
 * for S3 (else EC2), bit 1 adds a session token.
 *
 * A signed request carries only header lines that cannot forge another
 * (a header name that is no HTTP token is refused), its canonical request
 * is fully percent-encoded, and the signature is the same with and without
 * the signing key cache. */
#include <string.h>

#include "bootlace/error.h"
#include "bootlace/sigv4.h"
#include "fuzz.h"

#define MAX_HEADERS 16
#define NOW ((time_t)1440938160)  /* 20150830T123600Z, as AWS's test suite */
#define AUTH_PREFIX "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"

static bool is_unreserved(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_upper_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* len bytes of s: unreserved characters, "%XX" (uppercase hex) and those
 * in extra, nothing else. */
static void check_encoded(const char *s, size_t len, const char *extra)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			FUZZ_ASSERT(i + 2 < len && is_upper_hex(s[i + 1]) && is_upper_hex(s[i + 2]));
			i += 2;
		} else {
			FUZZ_ASSERT(is_unreserved(s[i]) || (s[i] && strchr(extra, s[i])));
		}
	}
}

/* An HTTP field name (RFC 9110 token). */
static bool is_token(const char *s)
{
	return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789!#$%&'*+-.^_`|~") == strlen(s);
}

static void check_signed(const struct bl_sigv4_signed *out, const char *method, bool s3,
			 bool token)
{
	for (size_t i = 0; out->headers[i]; i++)
		FUZZ_ASSERT(!fuzz_has_control(out->headers[i]));
	FUZZ_ASSERT(strncmp(out->authorization, AUTH_PREFIX, strlen(AUTH_PREFIX)) == 0);
	const char *end = out->authorization + strlen(out->authorization);
	FUZZ_ASSERT(end - out->authorization > 76 && strncmp(end - 76, ", Signature=", 12) == 0);
	FUZZ_ASSERT(strspn(end - 64, "0123456789abcdef") == 64);
	FUZZ_ASSERT(strcmp(out->headers[1], "X-Amz-Date: 20150830T123600Z") == 0);
	size_t n = 2;
	if (token)
		FUZZ_ASSERT(strncmp(out->headers[n++], "X-Amz-Security-Token: ", 22) == 0);
	if (s3)
		FUZZ_ASSERT(strncmp(out->headers[n++], "X-Amz-Content-SHA256: ", 22) == 0);
	FUZZ_ASSERT(!out->headers[n]);

	/* METHOD \n URI \n QUERY \n ... */
	const char *creq = out->canonical_request;
	size_t mlen = strlen(method);
	FUZZ_ASSERT(strncmp(creq, method, mlen) == 0 && creq[mlen] == '\n');
	const char *uri = creq + mlen + 1;
	size_t ulen = strcspn(uri, "\n");
	FUZZ_ASSERT(uri[0] == '/' && uri[ulen] == '\n');
	check_encoded(uri, ulen, "/");
	const char *query = uri + ulen + 1;
	check_encoded(query, strcspn(query, "\n"), "=&");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields f;
	if (!fuzz_fields_init(&f, data, size))
		return 0;
	unsigned flags = (unsigned char)fuzz_field(&f)[0];
	bool s3 = flags & 1, token = flags & 2;
	const char *method = fuzz_field(&f);
	const char *url = fuzz_field(&f);
	const char *payload_hash = fuzz_field(&f);
	const char *payload = fuzz_field(&f);
	struct bl_sigv4_header headers[MAX_HEADERS];
	size_t n_headers = 0;
	bool tokens = true;
	while (fuzz_fields_left(&f) && n_headers < MAX_HEADERS) {
		headers[n_headers].name = fuzz_field(&f);
		tokens = tokens && is_token(headers[n_headers].name);
		headers[n_headers++].value = fuzz_field(&f);
	}
	/* AWS's example credentials; char[], not literals: the struct's
	 * fields are char *. */
	static char key_id[] = "AKIDEXAMPLE";
	static char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	static char session_token[] = "AQoDYXdzEPT//////////wEXAMPLE=";
	struct bl_aws_credentials creds = {
		.access_key_id = key_id,
		.secret_access_key = secret,
		.session_token = token ? session_token : NULL,
	};
	struct bl_sigv4_request req = {
		.method = method, .url = url, .headers = headers, .n_headers = n_headers,
		.payload = payload, .payload_len = strlen(payload),
		.payload_hash = *payload_hash ? payload_hash : NULL, .s3 = s3,
	};
	const char *service = s3 ? "s3" : "ec2";

	struct bl_sigv4_signed out;
	int r = bl_sigv4_sign(&req, &creds, "us-east-1", service, NOW, &out);
	FUZZ_ASSERT(r == 0 || r == -BL_EFORMAT || r == -BL_ENOMEM);
	/* A name that is not a token would go into SignedHeaders as it is. */
	FUZZ_ASSERT(tokens || r < 0);
	if (r < 0) {
		FUZZ_ASSERT(!out.headers[0] && !out.canonical_request && !out.string_to_sign);
		goto out;
	}
	check_signed(&out, method, s3, token);

	/* Cold, then warm: the cached key must sign alike. */
	struct bl_sigv4_key_cache cache = {0};
	req.key_cache = &cache;
	for (int pass = 0; pass < 2; pass++) {
		struct bl_sigv4_signed again;
		if (bl_sigv4_sign(&req, &creds, "us-east-1", service, NOW, &again) == 0)
			FUZZ_ASSERT(strcmp(again.authorization, out.authorization) == 0);
		bl_sigv4_signed_free(&again);
	}
	bl_sigv4_key_cache_clear(&cache);
	bl_sigv4_signed_free(&out);
out:
	fuzz_fields_free(&f);
	return 0;
}
