/* test-aws.c - aws.c: credentials from the environment and from the
 * instance role (through the IMDS emulator on loopback), their checks and
 * refresh, the region and endpoint rules, S3 URLs as they will be signed,
 * signing, and that no secret reaches the log.  Only 127.0.0.1 is ever
 * contacted: endpoint URLs of AWS itself are built, never requested. */
#include "testutil.h"
#include "emulator.h"

#include <fcntl.h>
#include <jansson.h>

#include "bootlace/aws.h"
#include "bootlace/config.h"
#include "bootlace/error.h"
#include "bootlace/http.h"
#include "bootlace/imds.h"
#include "bootlace/log.h"

#define EMULATOR "tests/emulators/imds.py"
#define ROLE "bootlace-test-role"
#define ROLE_PATH "/latest/meta-data/iam/security-credentials/" ROLE
#define KEY_ID "ASIATESTKEYID0000001"
#define SECRET "SeCrEtAcCeSsKeY/0123456789+abcdefghijkl"
#define TOKEN "SeSsIoNtOkEn//0123456789+TOKENVALUE=="

/* The AWS_* environment the test runner set, put back when the tests end. */
static char **saved_env;

struct fixture {
	struct emulator emu;
	struct bl_http *http;   /* for the emulator's control API */
	struct bl_config cfg;
	struct bl_aws *aws;
	char *dir;
	char *log_path;
	int saved_stderr;
};

static void clear_aws_env(void)
{
	for (bool again = true; again;) {
		again = false;
		for (char **e = environ; *e; e++) {
			if (strncmp(*e, "AWS_", 4) != 0)
				continue;
			char *name = strndup(*e, strcspn(*e, "="));
			unsetenv(name);
			free(name);
			again = true;
			break;
		}
	}
}

static int group_setup(void **state)
{
	size_t n = 0;
	(void)state;
	for (char **e = environ; *e; e++)
		n++;
	saved_env = calloc(n + 1, sizeof(*saved_env));
	n = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "AWS_", 4) == 0)
			saved_env[n++] = strdup(*e);
	bl_log_init(BL_LOG_DEBUG);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	clear_aws_env();
	for (char **e = saved_env; *e; e++)
		putenv(*e);   /* environ keeps them */
	free(saved_env);
	return 0;
}

static int setup_plain(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	clear_aws_env();
	assert_int_equal(bl_config_init(&f->cfg), 0);
	f->dir = tu_mkdtemp();
	assert_non_null(f->dir);
	assert_true(asprintf(&f->log_path, "%s/stderr", f->dir) > 0);
	f->saved_stderr = -1;
	*state = f;
	alarm(60);
	return 0;
}

static int setup_emulator(void **state)
{
	setup_plain(state);
	struct fixture *f = *state;
	emulator_start(&f->emu, EMULATOR, NULL);
	assert_int_equal(bl_http_new(&f->http), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	alarm(0);
	tu_stderr_restore(&f->saved_stderr);
	emulator_stop(&f->emu);
	bl_aws_free(f->aws);
	bl_http_free(f->http);
	bl_config_free(&f->cfg);
	free(f->log_path);
	tu_rmtree(f->dir);
	free(f);
	clear_aws_env();
	return 0;
}

/* Log lines go to a file from here until log_text(). */
static void log_start(struct fixture *f)
{
	f->saved_stderr = tu_stderr_to(f->log_path);
}

/* What was logged since log_start(); stderr is ours again. */
static char *log_text(struct fixture *f)
{
	return tu_stderr_back(&f->saved_stderr, f->log_path);
}

static json_t *control(struct fixture *f, const char *method, const char *path, const char *body)
{
	return emulator_control(f->http, &f->emu, "_emulator", method, path, body);
}

/* Emulator data overrides (see tests/emulators/imds.py). */
static void data(struct fixture *f, const char *json)
{
	json_decref(control(f, "POST", "data", json));
}

/* The role ROLE with these credentials fields merged over good ones
 * (and no raw document of role_document's); expiration in seconds from now. */
static void role_with(struct fixture *f, long expiration, const char *extra)
{
	char body[1024];
	snprintf(body, sizeof(body),
		 "{\"role\": \"" ROLE "\", \"paths\": {}, \"credentials\": {\"AccessKeyId\": \"" KEY_ID "\", "
		 "\"SecretAccessKey\": \"" SECRET "\", \"Token\": \"" TOKEN "\", "
		 "\"Expiration\": %ld%s%s}}", expiration, extra ? ", " : "", extra ? extra : "");
	data(f, body);
}

/* The credentials document served verbatim, whatever it holds. */
static void role_document(struct fixture *f, const char *doc)
{
	json_t *d = json_pack("{s:s, s:{s:s}}", "role", ROLE, "paths",
			      "meta-data/iam/security-credentials/" ROLE, doc);
	char *body = json_dumps(d, 0);
	data(f, body);
	free(body);
	json_decref(d);
}

static unsigned count_gets(struct fixture *f, const char *path)
{
	json_t *log = control(f, "GET", "requests", NULL);
	unsigned n = 0;
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *r = json_array_get(log, i);
		if (strcmp(json_string_value(json_object_get(r, "method")), "GET") == 0 &&
		    strcmp(json_string_value(json_object_get(r, "path")), path) == 0)
			n++;
	}
	json_decref(log);
	return n;
}

static unsigned count_requests(struct fixture *f)
{
	json_t *log = control(f, "GET", "requests", NULL);
	unsigned n = (unsigned)json_array_size(log);
	json_decref(log);
	return n;
}

static int open_aws(struct fixture *f, const char *region, bool with_imds)
{
	struct bl_imds *imds = NULL;
	if (with_imds) {
		struct bl_imds_options o = { .endpoint = f->emu.url, .wait = 2 };
		assert_int_equal(bl_imds_new(&o, &imds), 0);
	}
	bl_aws_free(f->aws);
	f->aws = NULL;
	return bl_aws_new(&f->cfg, region, imds, &f->aws);
}

static void set_cfg(char **field, const char *value)
{
	free(*field);
	*field = value ? strdup(value) : NULL;
}

static void test_env_credentials(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	/* IMDS is there too: the environment comes first and IMDS is not asked. */
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	assert_string_equal(bl_aws_credentials_origin(f->aws), "none yet");
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_string_equal(c->access_key_id, "AKIDENV");
	assert_string_equal(c->secret_access_key, "envsecret");
	assert_null(c->session_token);
	assert_int_equal(c->expiration, 0);
	assert_string_equal(bl_aws_credentials_origin(f->aws), "environment");
	assert_int_equal(count_requests(f), 0);

	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_string_equal(c->session_token, "envtoken");
	/* Read once: they never expire. */
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_string_equal(c->session_token, "envtoken");
}

static void test_env_credentials_partial(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	log_start(f);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_ECREDENTIALS);
	assert_null(c);
	char *log = log_text(f);
	assert_non_null(strstr(log, "AWS_SECRET_ACCESS_KEY is not"));
	free(log);

	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	log_start(f);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_ECREDENTIALS);
	log = log_text(f);
	assert_non_null(strstr(log, "AWS_ACCESS_KEY_ID is not"));
	assert_null(strstr(log, "envsecret"));
	free(log);
}

static void test_role_credentials(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	role_with(f, 3600, NULL);
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	time_t now = time(NULL);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_string_equal(c->access_key_id, KEY_ID);
	assert_string_equal(c->secret_access_key, SECRET);
	assert_string_equal(c->session_token, TOKEN);
	assert_true(c->expiration >= now + 3590 && c->expiration <= now + 3610);
	assert_string_equal(bl_aws_credentials_origin(f->aws), "instance role " ROLE);

	/* An hour left: the cached ones, no new request. */
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_string_equal(c->access_key_id, KEY_ID);
	assert_int_equal(count_gets(f, ROLE_PATH), 1);
}

static void test_role_code_not_success(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	role_with(f, 3600, "\"Code\": \"AssumeRoleUnauthorizedAccess\", "
		  "\"Message\": \"EC2 cannot assume the role\"");
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	log_start(f);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_ECREDENTIALS);
	assert_null(c);
	char *log = log_text(f);
	assert_non_null(strstr(log, ROLE));
	assert_non_null(strstr(log, "AssumeRoleUnauthorizedAccess: EC2 cannot assume the role"));
	free(log);
	assert_string_equal(bl_aws_credentials_origin(f->aws), "none yet");
}

static void expect_refused(struct fixture *f, const char *what)
{
	const struct bl_aws_credentials *c;
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	log_start(f);
	int r = bl_aws_credentials(f->aws, &c);
	char *log = log_text(f);
	if (r != -BL_ECREDENTIALS || !strstr(log, what))
		fail_msg("expected -BL_ECREDENTIALS and \"%s\" in the log, got %d and: %s", what, r,
			 log);
	assert_null(strstr(log, SECRET));
	assert_null(strstr(log, TOKEN));
	free(log);
}

static void test_role_bad_document(void **state)
{
	struct fixture *f = *state;
	static const char *const fields[] = { "AccessKeyId", "SecretAccessKey", "Token", "Expiration" };
	/* Each field present but not a string, then missing altogether. */
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		char extra[64];
		snprintf(extra, sizeof(extra), "\"%s\": null", fields[i]);
		role_with(f, 3600, extra);
		expect_refused(f, fields[i]);
	}
	role_document(f, "{\"Code\": \"Success\", \"SecretAccessKey\": \"" SECRET "\", "
		      "\"Token\": \"" TOKEN "\", \"Expiration\": \"2099-01-01T00:00:00Z\"}");
	expect_refused(f, "AccessKeyId is missing");
	role_document(f, "{\"Code\": \"Success\", \"AccessKeyId\": \"" KEY_ID "\", "
		      "\"SecretAccessKey\": \"" SECRET "\", \"Token\": \"" TOKEN "\"}");
	expect_refused(f, "Expiration is missing");
	role_document(f, "{\"AccessKeyId\": \"" KEY_ID "\", \"SecretAccessKey\": \"" SECRET "\", "
		      "\"Token\": \"" TOKEN "\", \"Expiration\": \"2099-01-01T00:00:00Z\"}");
	expect_refused(f, "Code missing");
	/* Malformed JSON: jansson's message would quote the secret. */
	role_document(f, "{\"Code\": \"Success\", \"SecretAccessKey\": " SECRET "}");
	expect_refused(f, "malformed JSON");
	role_document(f, "[\"" SECRET "\"]");
	expect_refused(f, "not a JSON object");

	/* Expiration: exactly the IMDS form, and a real time. */
	static const char *const times[] = {
		"2099-01-01 00:00:00Z", "2099-01-01T00:00:00", "2099-01-01T00:00:00+00:00",
		"2099-02-30T00:00:00Z", "2099-01-01T24:00:00Z", "2099-1-01T00:00:00Z",
		" 2099-01-01T00:00:00Z", "2099-01-01T00:00:00.000Z", "2099-01-01T00:00:00Zjunk",
		"2099-12-31T23:59:60Z", "tomorrow",
	};
	for (size_t i = 0; i < ARRAY_SIZE(times); i++) {
		char extra[96];
		snprintf(extra, sizeof(extra), "\"Expiration\": \"%s\"", times[i]);
		role_with(f, 3600, extra);
		expect_refused(f, times[i]);
	}
	/* The same document with a good one is accepted: the checks above
	 * failed for their own reason. */
	const struct bl_aws_credentials *c;
	role_with(f, 3600, "\"Expiration\": \"2099-12-31T23:59:59Z\"");
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_int_equal(c->expiration, 4102444799);
}

/* IMDS's Code, Message and Expiration are quoted in errors, but never a
 * control character of theirs: a newline would start a forged log line, an
 * escape would drive the console.  (Found by tests/fuzz: imds-credentials.) */
static void test_role_document_control_characters(void **state)
{
	struct fixture *f = *state;
	static const char *const docs[] = {
		"{\"Code\": \"Fail\\nbootlace: forged\", \"Message\": \"a\\u001b[2Jb\\r\"}",
		"{\"Code\": \"Success\", \"AccessKeyId\": \"" KEY_ID "\", "
		"\"SecretAccessKey\": \"" SECRET "\", \"Token\": \"" TOKEN "\", "
		"\"Expiration\": \"2099\\nbootlace: forged\\u007f\"}",
	};
	static const char *const said[] = {
		"Code Fail?bootlace: forged: a?[2Jb?\n",
		"Expiration \"2099?bootlace: forged?\" is not a UTC time",
	};
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		struct bl_aws_credentials c = {0};
		log_start(f);
		assert_int_equal(bl_aws_parse_credentials(docs[i], strlen(docs[i]), ROLE, &c),
				 -BL_ECREDENTIALS);
		char *log = log_text(f);
		if (!strstr(log, said[i]) || strstr(log, "\nbootlace: forged") || strchr(log, 0x1b) ||
		    strchr(log, '\r') || strchr(log, 0x7f))
			fail_msg("expected \"%s\" and no control character in: %s", said[i], log);
		assert_null(c.access_key_id);
		assert_null(c.secret_access_key);
		free(log);
	}
}

/* So is the role name IMDS lists, when it is refused. */
static void test_role_name_control_characters(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	data(f, "{\"role\": \"web\\u001b[2J\\u0007\"}");
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	log_start(f);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_EDATASOURCE);
	char *log = log_text(f);
	if (!strstr(log, "\"web?[2J?\" is not an IAM role name") || strchr(log, 0x1b) ||
	    strchr(log, 0x07))
		fail_msg("expected the name with '?' for its control characters in: %s", log);
	free(log);
}

static void test_role_expired(void **state)
{
	struct fixture *f = *state;
	role_with(f, -10, NULL);
	expect_refused(f, "expired");
}

static void test_role_refresh(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	/* Under BL_AWS_CREDENTIALS_REFRESH left: valid, but fetched again on
	 * every call until IMDS has newer ones. */
	role_with(f, 100, NULL);
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_int_equal(count_gets(f, ROLE_PATH), 1);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_int_equal(count_gets(f, ROLE_PATH), 2);

	role_with(f, 3600, "\"AccessKeyId\": \"ASIANEWKEY\"");
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_string_equal(c->access_key_id, "ASIANEWKEY");
	assert_int_equal(count_gets(f, ROLE_PATH), 3);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_int_equal(count_gets(f, ROLE_PATH), 3);
}

static void test_refresh_failure_keeps_valid_credentials(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	role_with(f, 100, NULL);
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	/* The role is gone for now, but what was fetched is good for 100 s. */
	data(f, "{\"role\": null}");
	log_start(f);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	assert_string_equal(c->access_key_id, KEY_ID);
	char *log = log_text(f);
	assert_non_null(strstr(log, "cannot refresh the credentials of instance role " ROLE));
	free(log);
}

static void test_no_role(void **state)
{
	struct fixture *f = *state;
	data(f, "{\"role\": null}");
	expect_refused(f, "the instance has no IAM role (no instance profile attached)");
	assert_string_equal(bl_aws_credentials_origin(f->aws), "none yet");
}

static void test_no_imds_no_env(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_ECREDENTIALS);
	assert_null(c);
	struct bl_sigv4_request req = { .method = "GET", .url = "https://ec2.eu-west-1.amazonaws.com/" };
	struct bl_sigv4_signed sig;
	assert_int_equal(bl_aws_sign(f->aws, &req, "ec2", NULL, &sig), -BL_ECREDENTIALS);
	assert_null(sig.headers[0]);
}

static void test_region(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(open_aws(f, NULL, false), 0);
	assert_null(bl_aws_region(f->aws));
	setenv("AWS_DEFAULT_REGION", "ap-southeast-2", 1);
	assert_int_equal(open_aws(f, NULL, false), 0);
	assert_string_equal(bl_aws_region(f->aws), "ap-southeast-2");
	setenv("AWS_REGION", "us-west-2", 1);
	assert_int_equal(open_aws(f, NULL, false), 0);
	assert_string_equal(bl_aws_region(f->aws), "us-west-2");
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_string_equal(bl_aws_region(f->aws), "eu-west-1");

	/* It goes into host names: nothing but a region name. */
	static const char *const bad[] = {
		"EU-WEST-1", "eu-west-1.evil.example", "eu_west_1", "-eu", "eu-west-1-",
		"a123456789012345678901234567890123", "eu west 1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		setenv("AWS_REGION", bad[i], 1);
		assert_int_equal(open_aws(f, NULL, false), -BL_ECONFIG);
		assert_null(f->aws);
		/* The IMDS client given is freed on error too (ASan sees a leak). */
		assert_int_equal(open_aws(f, bad[i], true), -BL_EDATASOURCE);
	}
}

static void expect_s3_url(struct fixture *f, const char *bucket, const char *key,
			  const char *region, const char *want)
{
	char *error = NULL;
	char *url = bl_aws_s3_object_url(f->aws, bucket, key, region, &error);
	if (!url || strcmp(url, want) != 0)
		fail_msg("s3://%s/%s: expected %s, got %s (%s)", bucket, key, want,
			 url ? url : "NULL", error ? error : "");
	assert_null(error);
	free(url);
}

static void expect_s3_error(struct fixture *f, const char *bucket, const char *region,
			    const char *what)
{
	char *error = NULL;
	char *url = bl_aws_s3_object_url(f->aws, bucket, "k", region, &error);
	assert_null(url);
	if (!error || !strstr(error, what))
		fail_msg("s3://%s/k: expected an error with \"%s\", got \"%s\"", bucket, what,
			 error ? error : "NULL");
	free(error);
}

static void expect_ec2_url(struct fixture *f, const char *want)
{
	char *error = NULL;
	char *url = bl_aws_ec2_url(f->aws, &error);
	if (!url || strcmp(url, want) != 0)
		fail_msg("EC2: expected %s, got %s (%s)", want, url ? url : "NULL",
			 error ? error : "");
	free(url);
}

static void test_default_endpoints(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_false(bl_aws_endpoint_overridden(f->aws, "s3"));
	assert_false(bl_aws_endpoint_overridden(f->aws, "ec2"));
	expect_s3_url(f, "my-bucket", "base/boot.sh", NULL,
		      "https://my-bucket.s3.eu-west-1.amazonaws.com/base/boot.sh");
	expect_s3_url(f, "my-bucket", "base/boot.sh", "us-east-2",
		      "https://my-bucket.s3.us-east-2.amazonaws.com/base/boot.sh");
	expect_s3_error(f, "my-bucket", "us-east-2.evil.example", "not an AWS region name");
	expect_ec2_url(f, "https://ec2.eu-west-1.amazonaws.com");

	assert_int_equal(open_aws(f, "cn-north-1", false), 0);
	expect_s3_url(f, "my-bucket", "k", NULL, "https://my-bucket.s3.cn-north-1.amazonaws.com.cn/k");
	expect_ec2_url(f, "https://ec2.cn-north-1.amazonaws.com.cn");

	/* No region: nothing to build a host name from. */
	assert_int_equal(open_aws(f, NULL, false), 0);
	expect_s3_error(f, "my-bucket", NULL, "no AWS region");
	expect_s3_url(f, "my-bucket", "k", "eu-central-1",
		      "https://my-bucket.s3.eu-central-1.amazonaws.com/k");
	char *error = NULL;
	assert_null(bl_aws_ec2_url(f->aws, &error));
	assert_non_null(strstr(error, "AWS_REGION"));
	free(error);
	assert_null(bl_aws_ca_file(f->aws));

	set_cfg(&f->cfg.tls_ca_file, "/etc/ssl/extra.pem");
	assert_int_equal(open_aws(f, NULL, false), 0);
	assert_string_equal(bl_aws_ca_file(f->aws), "/etc/ssl/extra.pem");
}

static void test_endpoint_precedence(void **state)
{
	struct fixture *f = *state;
	set_cfg(&f->cfg.s3_endpoint, "http://127.0.0.1:1/cfg-s3/");
	set_cfg(&f->cfg.ec2_endpoint, "http://127.0.0.1:1/cfg-ec2");
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_true(bl_aws_endpoint_overridden(f->aws, "s3"));
	assert_true(bl_aws_endpoint_overridden(f->aws, "ec2"));
	assert_false(bl_aws_endpoint_overridden(f->aws, "sts"));
	/* Path style under the endpoint, its prefix kept, the slash not doubled. */
	expect_s3_url(f, "my-bucket", "k", NULL, "http://127.0.0.1:1/cfg-s3/my-bucket/k");
	expect_ec2_url(f, "http://127.0.0.1:1/cfg-ec2");

	/* AWS_ENDPOINT_URL over the config, for both; empty = unset. */
	setenv("AWS_ENDPOINT_URL_S3", "", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	expect_s3_url(f, "my-bucket", "k", NULL, "http://127.0.0.1:2/my-bucket/k");
	expect_ec2_url(f, "http://127.0.0.1:2");

	/* The service's own variable over the generic one. */
	setenv("AWS_ENDPOINT_URL_S3", "https://s3.internal.example:8443", 1);
	setenv("AWS_ENDPOINT_URL_EC2", "http://[::1]:3/ec2", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	expect_s3_url(f, "my-bucket", "k", NULL, "https://s3.internal.example:8443/my-bucket/k");
	expect_ec2_url(f, "http://[::1]:3/ec2");

	/* Switched off, env and config alike, as the SDKs do. */
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_false(bl_aws_endpoint_overridden(f->aws, "s3"));
	assert_false(bl_aws_endpoint_overridden(f->aws, "ec2"));
	expect_s3_url(f, "my-bucket", "k", NULL, "https://my-bucket.s3.eu-west-1.amazonaws.com/k");
	expect_ec2_url(f, "https://ec2.eu-west-1.amazonaws.com");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_true(bl_aws_endpoint_overridden(f->aws, "s3"));

	/* An override needs no region for its URL. */
	assert_int_equal(open_aws(f, NULL, false), 0);
	expect_s3_url(f, "my-bucket", "k", NULL, "https://s3.internal.example:8443/my-bucket/k");
}

static void test_bad_endpoint(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"127.0.0.1:9", "ftp://127.0.0.1", "http://", "http:///path", "http://h:0",
		"http://h:65536", "http://h:123456", "http://h:", "http://h/p?x=1", "http://h/p#f",
		"http://h/a b", "http://h/%41", "http://[::1", "http://h:9x", "HTTP://h",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		setenv("AWS_ENDPOINT_URL_S3", bad[i], 1);
		log_start(f);
		int r = open_aws(f, "eu-west-1", false);
		char *log = log_text(f);
		if (r != -BL_ECONFIG || !strstr(log, "AWS_ENDPOINT_URL_S3"))
			fail_msg("\"%s\": expected -BL_ECONFIG naming the variable, got %d: %s",
				 bad[i], r, log);
		free(log);
	}
	unsetenv("AWS_ENDPOINT_URL_S3");

	/* A password in a URL is not echoed. */
	setenv("AWS_ENDPOINT_URL", "http://user:pa55word@127.0.0.1:9", 1);
	log_start(f);
	assert_int_equal(open_aws(f, "eu-west-1", false), -BL_ECONFIG);
	char *log = log_text(f);
	assert_non_null(strstr(log, "AWS_ENDPOINT_URL"));
	assert_null(strstr(log, "pa55word"));
	free(log);
	unsetenv("AWS_ENDPOINT_URL");

	set_cfg(&f->cfg.ec2_endpoint, "http://127.0.0.1:9/?Action=x");
	log_start(f);
	assert_int_equal(open_aws(f, "eu-west-1", false), -BL_ECONFIG);
	log = log_text(f);
	assert_non_null(strstr(log, "ec2.endpoint"));
	free(log);
}

static void test_addressing(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	/* Names that cannot be a TLS-verified host label go path style. */
	expect_s3_url(f, "my.dotted.bucket", "k", NULL,
		      "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/k");
	expect_s3_url(f, "MyBucket", "k", NULL, "https://s3.eu-west-1.amazonaws.com/MyBucket/k");
	expect_s3_url(f, "ab", "k", NULL, "https://s3.eu-west-1.amazonaws.com/ab/k");
	expect_s3_url(f, "-bucket", "k", NULL, "https://s3.eu-west-1.amazonaws.com/-bucket/k");
	expect_s3_url(f, "abc", "k", NULL, "https://abc.s3.eu-west-1.amazonaws.com/k");

	set_cfg(&f->cfg.s3_addressing_style, "path");
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	expect_s3_url(f, "my-bucket", "k", NULL, "https://s3.eu-west-1.amazonaws.com/my-bucket/k");

	set_cfg(&f->cfg.s3_addressing_style, "virtual");
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	expect_s3_url(f, "my-bucket", "k", NULL, "https://my-bucket.s3.eu-west-1.amazonaws.com/k");
	expect_s3_error(f, "my.dotted.bucket", NULL, "virtual");
	/* Forced virtual on an override: the bucket before its host name. */
	setenv("AWS_ENDPOINT_URL_S3", "http://s3.local:9000/pre", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	expect_s3_url(f, "my-bucket", "k", NULL, "http://my-bucket.s3.local:9000/pre/k");
	static const char *const ips[] = { "http://127.0.0.1:9000", "http://[::1]:9000/pre" };
	for (size_t i = 0; i < ARRAY_SIZE(ips); i++) {
		setenv("AWS_ENDPOINT_URL_S3", ips[i], 1);
		assert_int_equal(open_aws(f, "eu-west-1", false), 0);
		expect_s3_error(f, "my-bucket", NULL, "IP address");
	}
}

static void test_key_encoding(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	expect_s3_url(f, "my-bucket", "roles/web server/a+b=c&d/\xc3\xa9t\xc3\xa9~_.-.sh", NULL,
		      "https://my-bucket.s3.eu-west-1.amazonaws.com/"
		      "roles/web%20server/a%2Bb%3Dc%26d/%C3%A9t%C3%A9~_.-.sh");
	expect_s3_url(f, "my.bucket", "100%/x?y#z", NULL,
		      "https://s3.eu-west-1.amazonaws.com/my.bucket/100%25/x%3Fy%23z");
}

/* The X-Amz-Date the signer put in sig, as a time. */
static time_t signed_time(const struct bl_sigv4_signed *sig)
{
	for (size_t i = 0; sig->headers[i]; i++) {
		struct tm tm = {0};
		if (strncmp(sig->headers[i], "X-Amz-Date: ", 12) == 0 &&
		    strptime(sig->headers[i] + 12, "%Y%m%dT%H%M%SZ", &tm))
			return timegm(&tm);
	}
	fail_msg("no X-Amz-Date header");
	return 0;
}

static const char *header(const struct bl_sigv4_signed *sig, const char *prefix)
{
	for (size_t i = 0; sig->headers[i]; i++)
		if (strncmp(sig->headers[i], prefix, strlen(prefix)) == 0)
			return sig->headers[i] + strlen(prefix);
	return NULL;
}

/* Signs with aws and checks the result against the signer called directly
 * with the same credentials, region and time. */
static void check_sign(struct fixture *f, const char *url, const char *service,
		       const char *region, const char *scope_region)
{
	struct bl_sigv4_request req = { .method = "GET", .url = url, .s3 = strcmp(service, "s3") == 0 };
	struct bl_sigv4_signed sig, want;
	const struct bl_aws_credentials *c;
	assert_int_equal(bl_aws_sign(f->aws, &req, service, region, &sig), 0);
	time_t t = signed_time(&sig);
	assert_true(llabs((long long)(t - time(NULL))) < 5);
	char scope[128], date[16];
	strftime(date, sizeof(date), "%Y%m%d", gmtime(&t));
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	snprintf(scope, sizeof(scope), "Credential=%s/%s/%s/%s/aws4_request", c->access_key_id,
		 date, scope_region, service);
	assert_non_null(sig.authorization);
	assert_non_null(strstr(sig.authorization, scope));
	assert_int_equal(bl_sigv4_sign(&req, c, scope_region, service, t, &want), 0);
	assert_string_equal(sig.authorization, want.authorization);
	const char *token = header(&sig, "X-Amz-Security-Token: ");
	if (c->session_token)
		assert_string_equal(token, c->session_token);
	else
		assert_null(token);
	bl_sigv4_signed_free(&sig);
	bl_sigv4_signed_free(&want);
}

static void test_sign(void **state)
{
	struct fixture *f = *state;
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	/* Twice each: the second from the cached signing key. */
	for (int i = 0; i < 2; i++) {
		check_sign(f, "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b", "s3", NULL,
			   "eu-west-1");
		check_sign(f, "https://my-bucket.s3.us-east-2.amazonaws.com/a", "s3", "us-east-2",
			   "us-east-2");
		check_sign(f, "https://ec2.eu-west-1.amazonaws.com/", "ec2", NULL, "eu-west-1");
		check_sign(f, "https://sts.eu-west-1.amazonaws.com/", "sts", NULL, "eu-west-1");
	}

	struct bl_sigv4_request req = { .method = "GET", .url = "https://ec2.x.amazonaws.com/" };
	struct bl_sigv4_signed sig;
	assert_int_equal(bl_aws_sign(f->aws, &req, "ec2", "x.evil", &sig), -BL_ECONFIG);
	assert_int_equal(open_aws(f, NULL, false), 0);
	assert_int_equal(bl_aws_sign(f->aws, &req, "ec2", NULL, &sig), -BL_ECONFIG);
	assert_null(sig.headers[0]);
}

static void test_sign_with_role(void **state)
{
	struct fixture *f = *state;
	role_with(f, 3600, NULL);
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	check_sign(f, "https://my-bucket.s3.eu-west-1.amazonaws.com/k", "s3", NULL, "eu-west-1");
	check_sign(f, "https://ec2.eu-west-1.amazonaws.com/", "ec2", NULL, "eu-west-1");
}

static void test_secrets_not_logged(void **state)
{
	struct fixture *f = *state;
	const struct bl_aws_credentials *c;
	struct bl_sigv4_signed sig;
	struct bl_sigv4_request req = { .method = "GET",
					.url = "https://my-bucket.s3.eu-west-1.amazonaws.com/k",
					.s3 = true };
	log_start(f);
	/* Loaded, refreshed, used, and refused in every way that logs. */
	role_with(f, 100, NULL);
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	assert_int_equal(bl_aws_sign(f->aws, &req, "s3", NULL, &sig), 0);
	bl_sigv4_signed_free(&sig);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	data(f, "{\"role\": null}");
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	role_with(f, -10, NULL);
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_ECREDENTIALS);
	role_with(f, 3600, "\"Code\": \"Failure\"");
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_ECREDENTIALS);
	role_document(f, "{\"AccessKeyId\": \"" KEY_ID "\", \"SecretAccessKey\": " SECRET ", "
		      "\"Token\": \"" TOKEN "\"}");
	assert_int_equal(open_aws(f, "eu-west-1", true), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_ECREDENTIALS);
	setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN, 1);
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), 0);
	req.url = "https://my-bucket.s3.eu-west-1.amazonaws.com/\n";
	assert_int_equal(bl_aws_sign(f->aws, &req, "s3", NULL, &sig), -BL_EFORMAT);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(open_aws(f, "eu-west-1", false), 0);
	assert_int_equal(bl_aws_credentials(f->aws, &c), -BL_ECREDENTIALS);

	char *log = log_text(f);
	/* What may be said was said... */
	assert_non_null(strstr(log, "instance role " ROLE " loaded, valid until 20"));
	assert_non_null(strstr(log, "cannot refresh"));
	assert_non_null(strstr(log, "expired"));
	assert_non_null(strstr(log, "Code Failure"));
	assert_non_null(strstr(log, "malformed JSON"));
	assert_non_null(strstr(log, "cannot sign"));
	/* ...and no part of the credentials. */
	assert_null(strstr(log, KEY_ID));
	assert_null(strstr(log, "SeCrEt"));
	assert_null(strstr(log, "SeSsIoN"));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_env_credentials, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_env_credentials_partial, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_role_credentials, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_role_code_not_success, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_role_bad_document, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_role_document_control_characters, setup_plain,
						teardown),
		cmocka_unit_test_setup_teardown(test_role_name_control_characters, setup_emulator,
						teardown),
		cmocka_unit_test_setup_teardown(test_role_expired, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_role_refresh, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_failure_keeps_valid_credentials,
						setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_no_role, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_no_imds_no_env, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_region, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_default_endpoints, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_precedence, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_bad_endpoint, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_addressing, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_key_encoding, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_sign, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_sign_with_role, setup_emulator, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_not_logged, setup_emulator, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
