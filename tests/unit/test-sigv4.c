/* test-sigv4.c - AWS Signature Version 4 (src/sigv4.c): every case of AWS's
 * SigV4 test suite (vendored in tests/data/sigv4, see its README.md) byte for
 * byte, the published S3 examples, and the rules the suite does not cover
 * (S3 paths, ports in Host, session tokens, refused input). */
#include "testutil.h"

#include <ftw.h>
#include <strings.h>

#include "bootlace/error.h"
#include "bootlace/sigv4.h"

/* The suite's fixed inputs (its README, "Fixed inputs used by every case"). */
#define SUITE_TIME 1440938160  /* 20150830T123600Z */
#define SUITE_CASES 34
#define SUITE_MANIFEST_FILES 174
#define S3_TIME 1369353600     /* 20130524T000000Z, s3-examples.md */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define STS_TOKEN "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

/* Credentials held in static strings; bl_aws_credentials_clear is never
 * called on them. */
#define CREDS(key, secret, token) \
	((struct bl_aws_credentials){ (char *)(key), (char *)(secret), (char *)(token), 0 })
#define SUITE_KEY "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_KEY "AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* Case-specific inputs the .req files do not carry (suite README). */
static const struct {
	const char *name;
	const char *session_token;
} case_tokens[] = {
	{ "get-vanilla-with-session-token",
	  "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267" },
};

/* Cases whose .sreq does not hold the right Authorization line (suite
 * README, "Known quirks"); their .creq, .sts and .authz are still checked. */
static const char *const wrong_sreq[] = { "get-vanilla-with-session-token" };

/* No case is excused: get-header-value-multiline is the space variant
 * (botocore / aws-c-auth since 2020), which the signer implements. */

/* The suite directory named on the command line; NULL for the vendored one. */
static const char *suite_arg;

static char *data_dir(void)
{
	const char *base = getenv("BOOTLACE_TEST_DATA");
	char *dir = suite_arg ? strdup(suite_arg) :
		    bl_strdup_printf("%s/sigv4", base && *base ? base : "tests/data");
	assert_non_null(dir);
	/* Case names are the paths below dir: "dir/" must not add a '/'. */
	for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
		dir[n - 1] = '\0';
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		fail_msg("no SigV4 test suite at %s (run from the repository root, set "
			 "BOOTLACE_TEST_DATA to the tests/data directory, or name the suite "
			 "directory as the argument)", dir);
	return dir;
}

/* nftw has no user pointer: the walk collects into these. */
static char *found[64];
static size_t n_found;

static int collect_req(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)ftw;
	size_t len = strlen(path);
	if (flag == FTW_F && len > 4 && strcmp(path + len - 4, ".req") == 0) {
		if (n_found == ARRAY_SIZE(found))
			return 1;
		found[n_found++] = strndup(path, len - 4);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A .req parsed in place: request line, headers (continuation lines stay in
 * the value, line breaks and all), blank line, body. */
struct http_text {
	char *text;
	const char *method;
	const char *target;
	struct bl_sigv4_header headers[16];
	size_t n_headers;
	const char *host;
	const char *amz_date;   /* the signer makes its own; compared */
	const char *token;      /* moved into the credentials */
	const char *body;
	size_t body_len;
};

static void parse_req(const char *path, struct http_text *h)
{
	*h = (struct http_text){ .text = tu_slurp(path) };
	assert_non_null(h->text);
	char *p = h->text, *eol = p + strcspn(p, "\n");
	assert_int_equal(*eol, '\n');
	*eol = '\0';
	/* "GET /example space/ HTTP/1.1": the target may hold spaces. */
	char *sp1 = strchr(p, ' '), *sp2 = strrchr(p, ' ');
	assert_true(sp1 && sp2 > sp1);
	*sp1 = *sp2 = '\0';
	h->method = p;
	h->target = sp1 + 1;
	p = eol + 1;
	while (*p && *p != '\n') {
		eol = p + strcspn(p, "\n");
		while (*eol == '\n' && (eol[1] == ' ' || eol[1] == '\t'))
			eol = eol + 1 + strcspn(eol + 1, "\n");
		char *colon = memchr(p, ':', (size_t)(eol - p));
		assert_non_null(colon);
		bool more = *eol == '\n';
		*colon = *eol = '\0';
		if (strcasecmp(p, "X-Amz-Date") == 0) {
			h->amz_date = colon + 1;
		} else if (strcasecmp(p, "X-Amz-Security-Token") == 0) {
			h->token = colon + 1;
		} else {
			assert_true(h->n_headers < ARRAY_SIZE(h->headers));
			h->headers[h->n_headers++] = (struct bl_sigv4_header){ p, colon + 1 };
			if (strcasecmp(p, "Host") == 0)
				h->host = colon + 1;
		}
		p = more ? eol + 1 : eol;
	}
	h->body = *p == '\n' ? p + 1 : p;
	h->body_len = strlen(h->body);
}

/* Compares one stage; prints both sides so a failure says what differs. */
static int check_stage(const char *name, const char *stage, const char *want, const char *got)
{
	if (want && got && strcmp(want, got) == 0)
		return 0;
	print_error("sigv4 suite %s: %s differs\n--- expected\n%s\n--- got\n%s\n---\n", name,
		    stage, want ? want : "(missing file)", got ? got : "(none)");
	return 1;
}

static char *slurp_ext(const char *stem, const char *ext)
{
	char *path = bl_strdup_printf("%s.%s", stem, ext);
	assert_non_null(path);
	char *text = tu_slurp(path);
	free(path);
	return text;
}

static bool listed(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* Signs one case; the number of stages that differ. */
static int run_case(const char *dir, const char *stem)
{
	/* "<dir>/normalize-path/get-slash/get-slash" -> "normalize-path/get-slash" */
	_cleanup_free_ char *name = strndup(stem + strlen(dir) + 1,
					    strlen(stem) - strlen(dir) - 1 - strlen(strrchr(stem, '/')));
	assert_non_null(name);
	_cleanup_free_ char *req_path = bl_strdup_printf("%s.req", stem);
	struct http_text h;
	parse_req(req_path, &h);
	assert_non_null(h.host);
	assert_non_null(h.amz_date);
	assert_string_equal(h.amz_date, "20150830T123600Z");

	const char *token = h.token;
	for (size_t i = 0; i < ARRAY_SIZE(case_tokens); i++)
		if (strcmp(case_tokens[i].name, name) == 0)
			token = case_tokens[i].session_token;
	_cleanup_free_ char *token_copy = token ? strdup(token) : NULL;
	struct bl_aws_credentials creds = CREDS(SUITE_KEY, SUITE_SECRET, token_copy);
	_cleanup_free_ char *url = bl_strdup_printf("https://%s%s", h.host, h.target);
	assert_non_null(url);
	struct bl_sigv4_request req = {
		.method = h.method, .url = url, .headers = h.headers, .n_headers = h.n_headers,
		.payload = h.body, .payload_len = h.body_len,
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "service", SUITE_TIME, &s), 0);

	_cleanup_free_ char *creq = slurp_ext(stem, "creq");
	_cleanup_free_ char *sts = slurp_ext(stem, "sts");
	_cleanup_free_ char *authz = slurp_ext(stem, "authz");
	_cleanup_free_ char *sreq = slurp_ext(stem, "sreq");
	int failed = check_stage(name, "canonical request", creq, s.canonical_request) +
		     check_stage(name, "string to sign", sts, s.string_to_sign) +
		     check_stage(name, "Authorization", authz, s.authorization);
	_cleanup_free_ char *line = bl_strdup_printf("Authorization: %s", s.authorization);
	if (!listed(wrong_sreq, ARRAY_SIZE(wrong_sreq), name) &&
	    (!sreq || !strstr(sreq, line))) {
		print_error("sigv4 suite %s: .sreq lacks \"%s\"\n", name, line);
		failed++;
	}
	assert_string_equal(s.headers[1], "X-Amz-Date: 20150830T123600Z");
	bl_sigv4_signed_free(&s);
	free(h.text);
	return failed;
}

static void test_suite(void **state)
{
	(void)state;
	_cleanup_free_ char *dir = data_dir();
	n_found = 0;
	if (nftw(dir, collect_req, 16, FTW_PHYS) != 0)
		fail_msg("cannot list %s, or more than %zu cases in it", dir, ARRAY_SIZE(found));
	qsort(found, n_found, sizeof(found[0]), cmp_str);
	/* A missing or partial copy fails here rather than passing emptily.
	 * Another edition of the suite may hold more or fewer cases, but some. */
	if (suite_arg)
		assert_true(n_found > 0);
	else
		assert_int_equal(n_found, SUITE_CASES);
	int failed = 0;
	for (size_t i = 0; i < n_found; i++) {
		assert_non_null(found[i]);
		failed += run_case(dir, found[i]);
		free(found[i]);
	}
	assert_int_equal(failed, 0);
	if (suite_arg)
		print_message("sigv4 suite %s: %zu cases\n", dir, n_found);
}

/* The vendored copy is the published one, byte for byte: an editor that
 * adds a final newline would otherwise change what the suite tests.  A
 * suite named on the command line is checked if it has a manifest. */
static void test_suite_manifest(void **state)
{
	(void)state;
	_cleanup_free_ char *dir = data_dir();
	_cleanup_free_ char *manifest_path = bl_strdup_printf("%s/MANIFEST.sha256", dir);
	_cleanup_free_ char *manifest = tu_slurp(manifest_path);
	if (!manifest && suite_arg)
		skip();
	assert_non_null(manifest);
	size_t files = 0;
	for (char *save = NULL, *line = strtok_r(manifest, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), files++) {
		assert_true(strlen(line) > 68 && strncmp(line + 64, "  ./", 4) == 0);
		_cleanup_free_ char *path = bl_strdup_printf("%s/%s", dir, line + 68);
		struct bl_buf data = {0};
		assert_int_equal(bl_read_file(path, 1 << 20, &data), 0);
		char sha[65];
		bl_sha256_hex(data.data, data.len, sha);
		if (strncmp(sha, line, 64) != 0)
			fail_msg("%s does not match MANIFEST.sha256", path);
		bl_buf_free(&data);
	}
	if (suite_arg)
		assert_true(files > 0);
	else
		assert_int_equal(files, SUITE_MANIFEST_FILES);
}

static void expect_signed(const struct bl_sigv4_signed *s, const char *creq,
			  const char *creq_sha256, const char *authorization)
{
	assert_string_equal(s->canonical_request, creq);
	const char *last = strrchr(s->string_to_sign, '\n');
	assert_non_null(last);
	assert_string_equal(last + 1, creq_sha256);
	assert_string_equal(s->authorization, authorization);
	_cleanup_free_ char *line = bl_strdup_printf("Authorization: %s", authorization);
	assert_string_equal(s->headers[0], line);
}

#define S3_HOST "examplebucket.s3.amazonaws.com"
#define S3_AUTHZ(signed_headers, signature)                                               \
	"AWS4-HMAC-SHA256 Credential=" S3_KEY "/20130524/us-east-1/s3/aws4_request, "    \
	"SignedHeaders=" signed_headers ", Signature=" signature

static const struct bl_sigv4_header s3_range[] = { { "Range", "bytes=0-9" } };

/* s3-examples.md S1: GET Object, ranged, empty payload hash. */
static void test_s3_get_object(void **state)
{
	(void)state;
	struct bl_aws_credentials creds = CREDS(S3_KEY, S3_SECRET, NULL);
	struct bl_sigv4_request req = {
		.method = "GET", .url = "https://" S3_HOST "/test.txt",
		.headers = s3_range, .n_headers = 1, .s3 = true,
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "s3", S3_TIME, &s), 0);
	expect_signed(&s,
		      "GET\n/test.txt\n\n"
		      "host:" S3_HOST "\n"
		      "range:bytes=0-9\n"
		      "x-amz-content-sha256:" EMPTY_SHA256 "\n"
		      "x-amz-date:20130524T000000Z\n\n"
		      "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256,
		      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
		      S3_AUTHZ("host;range;x-amz-content-sha256;x-amz-date",
			       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
	assert_string_equal(s.string_to_sign,
			    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
			    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	assert_string_equal(s.headers[1], "X-Amz-Date: 20130524T000000Z");
	assert_string_equal(s.headers[2], "X-Amz-Content-SHA256: " EMPTY_SHA256);
	assert_null(s.headers[3]);
	bl_sigv4_signed_free(&s);
	assert_null(s.headers[0]);
	assert_null(s.canonical_request);
}

/* S2: PUT Object with a payload, and a '$' in the key sent unescaped. */
static void test_s3_put_object(void **state)
{
	(void)state;
	static const char body[] = "Welcome to Amazon S3.";
	static const struct bl_sigv4_header headers[] = {
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
	};
	struct bl_aws_credentials creds = CREDS(S3_KEY, S3_SECRET, NULL);
	struct bl_sigv4_request req = {
		.method = "PUT", .url = "https://" S3_HOST "/test$file.text",
		.headers = headers, .n_headers = ARRAY_SIZE(headers),
		.payload = body, .payload_len = sizeof(body) - 1, .s3 = true,
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "s3", S3_TIME, &s), 0);
#define S2_SHA "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
	expect_signed(&s,
		      "PUT\n/test%24file.text\n\n"
		      "date:Fri, 24 May 2013 00:00:00 GMT\n"
		      "host:" S3_HOST "\n"
		      "x-amz-content-sha256:" S2_SHA "\n"
		      "x-amz-date:20130524T000000Z\n"
		      "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
		      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n" S2_SHA,
		      "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
		      S3_AUTHZ("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
			       "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"));
	assert_string_equal(s.headers[2], "X-Amz-Content-SHA256: " S2_SHA);
#undef S2_SHA
	bl_sigv4_signed_free(&s);

	/* The same key escaped on the wire signs the same. */
	req.url = "https://" S3_HOST "/test%24file.text";
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "s3", S3_TIME, &s), 0);
	assert_non_null(strstr(s.authorization, "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"));
	bl_sigv4_signed_free(&s);
}

/* S3 and S4: bucket sub-resources, a parameter without '='. */
static void test_s3_bucket_queries(void **state)
{
	(void)state;
	struct bl_aws_credentials creds = CREDS(S3_KEY, S3_SECRET, NULL);
	struct bl_sigv4_request req = { .method = "GET", .url = "https://" S3_HOST "/?lifecycle", .s3 = true };
	struct bl_sigv4_signed s;
#define S3_BUCKET_CREQ(query)                                                              \
	"GET\n/\n" query "\nhost:" S3_HOST "\nx-amz-content-sha256:" EMPTY_SHA256 "\n"     \
	"x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "s3", S3_TIME, &s), 0);
	expect_signed(&s, S3_BUCKET_CREQ("lifecycle="),
		      "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
		      S3_AUTHZ("host;x-amz-content-sha256;x-amz-date",
			       "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
	bl_sigv4_signed_free(&s);

	req.url = "https://" S3_HOST "/?prefix=J&max-keys=2";
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "s3", S3_TIME, &s), 0);
	expect_signed(&s, S3_BUCKET_CREQ("max-keys=2&prefix=J"),
		      "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
		      S3_AUTHZ("host;x-amz-content-sha256;x-amz-date",
			       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
#undef S3_BUCKET_CREQ
	bl_sigv4_signed_free(&s);
}

/* D1: S1 with UNSIGNED-PAYLOAD, sent and signed as x-amz-content-sha256. */
static void test_s3_unsigned_payload(void **state)
{
	(void)state;
	struct bl_aws_credentials creds = CREDS(S3_KEY, S3_SECRET, NULL);
	struct bl_sigv4_request req = {
		.method = "GET", .url = "https://" S3_HOST "/test.txt",
		.headers = s3_range, .n_headers = 1, .payload_hash = "UNSIGNED-PAYLOAD", .s3 = true,
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "s3", S3_TIME, &s), 0);
	expect_signed(&s,
		      "GET\n/test.txt\n\nhost:" S3_HOST "\nrange:bytes=0-9\n"
		      "x-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:20130524T000000Z\n\n"
		      "host;range;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD",
		      "7679ebbd704215b89a2a77e90992170ca23e91c596326ba10895511766994099",
		      S3_AUTHZ("host;range;x-amz-content-sha256;x-amz-date",
			       "edacce68e5445863e1f916719fac26d3be9c1581fccd7878ade0879597fc0dc1"));
	assert_string_equal(s.headers[2], "X-Amz-Content-SHA256: UNSIGNED-PAYLOAD");
	bl_sigv4_signed_free(&s);
}

/* D2: S1 with a session token (IMDS role credentials): sent and signed. */
static void test_s3_session_token(void **state)
{
	(void)state;
	struct bl_aws_credentials creds = CREDS(S3_KEY, S3_SECRET, STS_TOKEN);
	struct bl_sigv4_request req = {
		.method = "GET", .url = "https://" S3_HOST "/test.txt",
		.headers = s3_range, .n_headers = 1, .s3 = true,
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "s3", S3_TIME, &s), 0);
	expect_signed(&s,
		      "GET\n/test.txt\n\nhost:" S3_HOST "\nrange:bytes=0-9\n"
		      "x-amz-content-sha256:" EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n"
		      "x-amz-security-token:" STS_TOKEN "\n\n"
		      "host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token\n" EMPTY_SHA256,
		      "68704e632dfea6511c21997d66f0c3c9c7b50919502e25ae03b97c4171c4db49",
		      S3_AUTHZ("host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token",
			       "83550a58e2be44fa0ba3b8668126104d584132f713849584acd2aa6cf6431fca"));
	assert_string_equal(s.headers[1], "X-Amz-Date: 20130524T000000Z");
	assert_string_equal(s.headers[2], "X-Amz-Security-Token: " STS_TOKEN);
	assert_string_equal(s.headers[3], "X-Amz-Content-SHA256: " EMPTY_SHA256);
	assert_null(s.headers[4]);
	bl_sigv4_signed_free(&s);
}

/* G1: IAM ListUsers, a Query API GET like EC2 DescribeTags. */
static void test_query_api(void **state)
{
	(void)state;
	static const struct bl_sigv4_header headers[] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
	};
	struct bl_aws_credentials creds = CREDS(SUITE_KEY, SUITE_SECRET, NULL);
	struct bl_sigv4_request req = {
		.method = "GET", .url = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
		.headers = headers, .n_headers = 1,
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "iam", SUITE_TIME, &s), 0);
	expect_signed(&s,
		      "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
		      "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
		      "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
		      "content-type;host;x-amz-date\n" EMPTY_SHA256,
		      "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
		      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
		      "SignedHeaders=content-type;host;x-amz-date, "
		      "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
	/* Not S3: no content hash header. */
	assert_null(s.headers[2]);
	bl_sigv4_signed_free(&s);
}

/* The "host:" line and the URI lines of the canonical request for url. */
static char *sign_lines(const char *url, bool s3)
{
	struct bl_aws_credentials creds = CREDS(SUITE_KEY, SUITE_SECRET, NULL);
	struct bl_sigv4_request req = { .method = "GET", .url = url, .s3 = s3 };
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", s3 ? "s3" : "ec2", SUITE_TIME, &s), 0);
	/* "GET\n<uri>\n<query>\nhost:<host>\n..." -> "<uri>\n<query>\nhost:<host>" */
	const char *start = strchr(s.canonical_request, '\n') + 1;
	const char *end = strstr(start, "\nx-amz-");
	assert_non_null(end);
	char *lines = strndup(start, (size_t)(end - start));
	assert_non_null(lines);
	bl_sigv4_signed_free(&s);
	return lines;
}

static void expect_lines(const char *url, bool s3, const char *want)
{
	char *got = sign_lines(url, s3);
	if (strcmp(got, want) != 0)
		fail_msg("%s (%s): got \"%s\", want \"%s\"", url, s3 ? "s3" : "not s3", got, want);
	free(got);
}

static void test_host_port(void **state)
{
	(void)state;
	/* moto on a local port must verify: the port is part of Host. */
	expect_lines("http://127.0.0.1:5000/bucket/key", true, "/bucket/key\n\nhost:127.0.0.1:5000");
	expect_lines("https://s3.example.com:8443/k", true, "/k\n\nhost:s3.example.com:8443");
	/* A default port is not, as curl leaves it out. */
	expect_lines("http://127.0.0.1:80/k", true, "/k\n\nhost:127.0.0.1");
	expect_lines("https://ec2.us-east-1.amazonaws.com:443/?Action=DescribeTags", false,
		     "/\nAction=DescribeTags\nhost:ec2.us-east-1.amazonaws.com");
	expect_lines("http://h:443/", false, "/\n\nhost:h:443");
	expect_lines("https://h:80/", false, "/\n\nhost:h:80");
	expect_lines("http://[::1]:9000/k", true, "/k\n\nhost:[::1]:9000");
	expect_lines("HTTPS://h", false, "/\n\nhost:h");
	expect_lines("https://h?x=1#frag", true, "/\nx=1\nhost:h");

	/* A Host header the caller signs wins over the URL's. */
	static const struct bl_sigv4_header host[] = { { "Host", "bucket.localhost:5000" } };
	struct bl_aws_credentials creds = CREDS(SUITE_KEY, SUITE_SECRET, NULL);
	struct bl_sigv4_request req = {
		.method = "GET", .url = "http://127.0.0.1:5000/k", .headers = host, .n_headers = 1,
		.s3 = true,
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "s3", SUITE_TIME, &s), 0);
	assert_non_null(strstr(s.canonical_request, "\nhost:bucket.localhost:5000\nx-amz-"));
	assert_null(strstr(s.canonical_request, "127.0.0.1"));
	bl_sigv4_signed_free(&s);
}

static void test_paths(void **state)
{
	(void)state;
	/* S3: no normalization, escapes canonicalized but not doubled. */
	expect_lines("https://b.s3.amazonaws.com/my-object//example//photo.user", true,
		     "/my-object//example//photo.user\n\nhost:b.s3.amazonaws.com");
	expect_lines("https://b/a/./b/../c", true, "/a/./b/../c\n\nhost:b");
	expect_lines("https://b/a%20b/%e1%88%b4+x", true, "/a%20b/%E1%88%B4%2Bx\n\nhost:b");
	expect_lines("https://b/a b/\xe1\x88\xb4", true, "/a%20b/%E1%88%B4\n\nhost:b");
	/* An escaped slash is part of a key, not a separator. */
	expect_lines("https://b/a%2Fb/c", true, "/a%2Fb/c\n\nhost:b");
	expect_lines("https://b/50%", true, "/50%25\n\nhost:b");
	expect_lines("https://b", true, "/\n\nhost:b");
	/* Other services: normalized, and the path as sent encoded again. */
	expect_lines("https://e/a%20b", false, "/a%2520b\n\nhost:e");
	expect_lines("https://e/a/./b/../c", false, "/a/c\n\nhost:e");
	expect_lines("https://e/a/b/..", false, "/a\n\nhost:e");
	expect_lines("https://e/../../x/", false, "/x/\n\nhost:e");
	expect_lines("https://e//a//b//", false, "/a/b/\n\nhost:e");
	expect_lines("https://e/..", false, "/\n\nhost:e");
	expect_lines("https://e?a=1", false, "/\na=1\nhost:e");
}

static void test_queries(void **state)
{
	(void)state;
	/* Decoded and encoded again: hex case, unescaped bytes, '+' and '='. */
	expect_lines("https://e/?b=%e1%88%b4&a=x y+z", false, "/\na=x%20y%2Bz&b=%E1%88%B4\nhost:e");
	expect_lines("https://e/?a=b=c&a&=v", false, "/\n=v&a=&a=b%3Dc\nhost:e");
	/* Empty parameters are not parameters. */
	expect_lines("https://e/?&a=1&&b=2&", false, "/\na=1&b=2\nhost:e");
	expect_lines("https://e/?", false, "/\n\nhost:e");
	/* An EC2 DescribeTags filter, escaped as the caller sends it. */
	expect_lines("https://ec2.us-east-1.amazonaws.com/?Version=2016-11-15&Action=DescribeTags"
		     "&Filter.1.Name=resource-id&Filter.1.Value.1=i-0123456789abcdef0", false,
		     "/\nAction=DescribeTags&Filter.1.Name=resource-id&Filter.1.Value.1="
		     "i-0123456789abcdef0&Version=2016-11-15\nhost:ec2.us-east-1.amazonaws.com");
	/* By name, then by value (not by "name=value"). */
	expect_lines("https://e/?a-b=1&a=2&a=1", false, "/\na=1&a=2&a-b=1\nhost:e");
}

/* EC2 Query API as a POST form: the body is hashed and signed. */
static void test_post_form(void **state)
{
	(void)state;
	static const char body[] = "Action=DescribeTags&Version=2016-11-15";
	static const struct bl_sigv4_header headers[] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
	};
	struct bl_aws_credentials creds = CREDS(SUITE_KEY, SUITE_SECRET, "tok");
	struct bl_sigv4_request req = {
		.method = "POST", .url = "https://ec2.us-east-1.amazonaws.com/",
		.headers = headers, .n_headers = 1, .payload = body, .payload_len = sizeof(body) - 1,
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "ec2", SUITE_TIME, &s), 0);
	char sha[65];
	bl_sha256_hex(body, sizeof(body) - 1, sha);
	const char *tail = strrchr(s.canonical_request, '\n') + 1;
	assert_string_equal(tail, sha);
	assert_non_null(strstr(s.canonical_request,
			       "\nx-amz-security-token:tok\n\ncontent-type;host;x-amz-date;"
			       "x-amz-security-token\n"));
	assert_non_null(strstr(s.authorization, "/20150830/us-east-1/ec2/aws4_request, "));
	assert_string_equal(s.headers[2], "X-Amz-Security-Token: tok");
	assert_null(s.headers[3]);
	bl_sigv4_signed_free(&s);
}

static void expect_refused(const struct bl_sigv4_request *req, const struct bl_aws_credentials *c,
			   const char *region, const char *service)
{
	struct bl_sigv4_signed s;
	memset(&s, 0xa5, sizeof(s));  /* must be reset */
	assert_int_equal(bl_sigv4_sign(req, c, region, service, SUITE_TIME, &s), -BL_EFORMAT);
	assert_null(s.headers[0]);
	assert_null(s.authorization);
	assert_null(s.canonical_request);
	assert_null(s.string_to_sign);
}

static void test_refused(void **state)
{
	(void)state;
	struct bl_aws_credentials ok = CREDS(SUITE_KEY, SUITE_SECRET, NULL);
	struct bl_sigv4_request req = { .method = "GET", .url = "https://e/" };

	/* URLs: only http(s), a host, no user info. */
	static const char *const bad_urls[] = {
		"e/", "ftp://e/", "https:///x", "https://user:pw@e/", "https://e/\r\nX: y", "",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_urls); i++) {
		req.url = bad_urls[i];
		expect_refused(&req, &ok, "us-east-1", "s3");
	}
	req.url = NULL;
	expect_refused(&req, &ok, "us-east-1", "s3");
	req.url = "https://e/";

	/* Headers the signer owns, in any case; unnamed headers; names that are
	 * not HTTP tokens (they would be sent broken and signed as they are). */
	static const char *const owned[] = {
		"Authorization", "x-amz-date", "X-AMZ-SECURITY-TOKEN", "X-Amz-Content-Sha256", "",
		"X-Bad\nName", "x-a;b", "x:y", "x y", "x\x7f",
	};
	for (size_t i = 0; i < ARRAY_SIZE(owned); i++) {
		struct bl_sigv4_header h = { owned[i], "v" };
		req.headers = &h;
		req.n_headers = 1;
		expect_refused(&req, &ok, "us-east-1", "s3");
	}
	req.headers = NULL;
	req.n_headers = 0;

	/* Missing credentials, or ones that would inject header lines. */
	struct bl_aws_credentials bad[] = {
		CREDS(NULL, SUITE_SECRET, NULL), CREDS("", SUITE_SECRET, NULL),
		CREDS(SUITE_KEY, NULL, NULL), CREDS(SUITE_KEY, "", NULL),
		CREDS(SUITE_KEY, SUITE_SECRET, ""), CREDS(SUITE_KEY, SUITE_SECRET, "tok\r\nX: y"),
		CREDS("AKID\n", SUITE_SECRET, NULL),
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		expect_refused(&req, &bad[i], "us-east-1", "s3");
	expect_refused(&req, &ok, "", "s3");
	expect_refused(&req, &ok, "us-east-1", NULL);
	req.payload_hash = "UNSIGNED\n";
	expect_refused(&req, &ok, "us-east-1", "s3");
}

static void test_header_canonical_form(void **state)
{
	(void)state;
	static const struct bl_sigv4_header headers[] = {
		{ "X-B", "\t two\r\n  lines  " },
		{ "x-a", "1" },
		{ "X-A", " 2 " },
		{ "x-empty", "   " },
	};
	struct bl_aws_credentials creds = CREDS(SUITE_KEY, SUITE_SECRET, NULL);
	struct bl_sigv4_request req = {
		.method = "GET", .url = "https://e/", .headers = headers,
		.n_headers = ARRAY_SIZE(headers),
	};
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, "us-east-1", "ec2", SUITE_TIME, &s), 0);
	assert_string_equal(s.canonical_request,
			    "GET\n/\n\nhost:e\nx-a:1,2\nx-amz-date:20150830T123600Z\nx-b:two lines\n"
			    "x-empty:\n\nhost;x-a;x-amz-date;x-b;x-empty\n" EMPTY_SHA256);
	bl_sigv4_signed_free(&s);
}

static void expect_encoded(const char *in, size_t len, bool keep_slash, const char *want)
{
	struct bl_buf b = {0};
	assert_int_equal(bl_sigv4_uri_encode(&b, in, len, keep_slash), 0);
	assert_string_equal(b.data ? b.data : "", want);
	bl_buf_free(&b);
}

static void test_uri_encode(void **state)
{
	(void)state;
	expect_encoded("roles/web server/setup.sh", 25, true, "roles/web%20server/setup.sh");
	expect_encoded("roles/web server/setup.sh", 25, false, "roles%2Fweb%20server%2Fsetup.sh");
	expect_encoded("-._~AZaz09", 10, false, "-._~AZaz09");
	expect_encoded("+=&%$\xe1\x88\xb4", 8, false, "%2B%3D%26%25%24%E1%88%B4");
	expect_encoded("a\0b", 3, false, "a%00b");
	expect_encoded("", 0, false, "");
}

static void test_credentials_clear(void **state)
{
	(void)state;
	struct bl_aws_credentials c = {
		strdup(SUITE_KEY), strdup(SUITE_SECRET), strdup("token"), 1234,
	};
	assert_non_null(c.secret_access_key);
	bl_aws_credentials_clear(&c);
	assert_null(c.access_key_id);
	assert_null(c.secret_access_key);
	assert_null(c.session_token);
	assert_int_equal(c.expiration, 0);
	/* Clearing twice, or an empty one, is harmless. */
	bl_aws_credentials_clear(&c);
}

/* The Authorization value for a GET at https://e/, signed with cache (or
 * none). */
static char *authorization(char *secret, const char *region, const char *service,
			   time_t now, struct bl_sigv4_key_cache *cache)
{
	struct bl_aws_credentials creds = CREDS(SUITE_KEY, secret, NULL);
	struct bl_sigv4_request req = { .method = "GET", .url = "https://e/", .key_cache = cache };
	struct bl_sigv4_signed s;
	assert_int_equal(bl_sigv4_sign(&req, &creds, region, service, now, &s), 0);
	char *authz = strdup(s.authorization);
	assert_non_null(authz);
	bl_sigv4_signed_free(&s);
	return authz;
}

/* Signs with cache and checks the signature against an uncached one. */
static void expect_cached_signs_alike(char *secret, const char *region,
				      const char *service, time_t now,
				      struct bl_sigv4_key_cache *cache)
{
	_cleanup_free_ char *want = authorization(secret, region, service, now, NULL);
	_cleanup_free_ char *got = authorization(secret, region, service, now, cache);
	assert_string_equal(got, want);
}

static bool all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* AWS's published kSigning for the suite's secret, 20150830/us-east-1/iam
 * ("Examples of how to derive a signing key for Signature Version 4"). */
static const unsigned char iam_signing_key[32] = {
	0xc4, 0xaf, 0xb1, 0xcc, 0x57, 0x71, 0xd8, 0x71, 0x76, 0x3a, 0x39, 0x3e, 0x44, 0xb7,
	0x03, 0x57, 0x1b, 0x55, 0xcc, 0x28, 0x42, 0x4d, 0x1a, 0x5e, 0x86, 0xda, 0x6e, 0xd3,
	0xc1, 0x54, 0xa4, 0xb9,
};

static void test_key_cache(void **state)
{
	(void)state;
	struct bl_sigv4_key_cache cache = {0};
	expect_cached_signs_alike(SUITE_SECRET, "us-east-1", "iam", SUITE_TIME, &cache);
	assert_true(cache.valid);
	assert_string_equal(cache.scope, "20150830/us-east-1/iam");
	assert_memory_equal(cache.key, iam_signing_key, sizeof(iam_signing_key));

	/* Same scope and secret: the kept key is used, not derived again. A
	 * corrupted one shows in the signature. */
	_cleanup_free_ char *good = authorization(SUITE_SECRET, "us-east-1", "iam", SUITE_TIME,
						  NULL);
	cache.key[0] ^= 1;
	_cleanup_free_ char *reused = authorization(SUITE_SECRET, "us-east-1", "iam",
						    SUITE_TIME + 3600, &cache);
	assert_string_not_equal(reused, good);
	/* Anything else derives afresh (and so repairs the key). */
	cache.key[0] ^= 1;

	struct {
		char *secret;
		const char *region, *service;
		time_t now;
	} const steps[] = {
		{ SUITE_SECRET, "us-east-1", "iam", SUITE_TIME + 86400 },   /* date */
		{ SUITE_SECRET, "eu-west-1", "iam", SUITE_TIME + 86400 },   /* region */
		{ SUITE_SECRET, "eu-west-1", "ec2", SUITE_TIME + 86400 },   /* service */
		{ S3_SECRET, "eu-west-1", "ec2", SUITE_TIME + 86400 },      /* secret */
		{ SUITE_SECRET, "us-east-1", "iam", SUITE_TIME },           /* back */
	};
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		cache.key[0] ^= 1;  /* must not be used */
		expect_cached_signs_alike(steps[i].secret, steps[i].region, steps[i].service,
					  steps[i].now, &cache);
		assert_true(cache.valid);
	}
	assert_string_equal(cache.scope, "20150830/us-east-1/iam");
	assert_memory_equal(cache.key, iam_signing_key, sizeof(iam_signing_key));

	bl_sigv4_key_cache_clear(&cache);
	assert_false(cache.valid);
	assert_true(all_zero(&cache, sizeof(cache)));
	/* A cleared cache derives again. */
	expect_cached_signs_alike(SUITE_SECRET, "us-east-1", "iam", SUITE_TIME, &cache);
	assert_true(cache.valid);
	bl_sigv4_key_cache_clear(&cache);
}

/* Scopes the cache cannot tell apart are never served from it. */
static void test_key_cache_uncacheable(void **state)
{
	(void)state;
	struct bl_sigv4_key_cache cache = {0};
	/* "20150830/a/b/c" either way. */
	expect_cached_signs_alike(SUITE_SECRET, "a/b", "c", SUITE_TIME, &cache);
	expect_cached_signs_alike(SUITE_SECRET, "a", "b/c", SUITE_TIME, &cache);
	assert_false(cache.valid);

	/* Too long to keep: derived, and the kept key stays for its scope. */
	char region[sizeof(cache.scope)];
	memset(region, 'r', sizeof(region) - 1);
	region[sizeof(region) - 1] = '\0';
	expect_cached_signs_alike(SUITE_SECRET, "us-east-1", "iam", SUITE_TIME, &cache);
	expect_cached_signs_alike(SUITE_SECRET, region, "iam", SUITE_TIME, &cache);
	assert_true(cache.valid);
	assert_string_equal(cache.scope, "20150830/us-east-1/iam");
	bl_sigv4_key_cache_clear(&cache);
}

int main(int argc, char **argv)
{
	/* test-sigv4 [SUITE_DIR]: the suite cases from another copy or edition. */
	if (argc > 2) {
		fprintf(stderr, "usage: %s [SIGV4_SUITE_DIR]\n", argv[0]);
		return 2;
	}
	suite_arg = argc == 2 ? argv[1] : NULL;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suite),
		cmocka_unit_test(test_suite_manifest),
		cmocka_unit_test(test_s3_get_object),
		cmocka_unit_test(test_s3_put_object),
		cmocka_unit_test(test_s3_bucket_queries),
		cmocka_unit_test(test_s3_unsigned_payload),
		cmocka_unit_test(test_s3_session_token),
		cmocka_unit_test(test_query_api),
		cmocka_unit_test(test_host_port),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_post_form),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_header_canonical_form),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_credentials_clear),
		cmocka_unit_test(test_key_cache),
		cmocka_unit_test(test_key_cache_uncacheable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
