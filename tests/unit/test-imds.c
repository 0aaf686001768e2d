/* test-imds.c - imds.c against the IMDS emulator on loopback: the IMDSv2
 * token flow, 401 and token renewal, retries of transient failures, no
 * retries of other 4xx, the v1 fallback switch, size caps and endpoint
 * resolution.  Only 127.0.0.1 is ever contacted. */
#include "testutil.h"
#include "emulator.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bootlace/error.h"
#include "bootlace/http.h"
#include "bootlace/imds.h"

#define EMULATOR "tests/emulators/imds.py"

struct fixture {
	struct emulator emu;
	struct bl_http *http;   /* for the emulator's control API */
	struct bl_imds *imds;
	struct bl_buf out;
};

static void clear_aws_env(void)
{
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	unsetenv("AWS_EC2_METADATA_DISABLED");
}

static int start(void **state, const char *const *args)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	clear_aws_env();
	emulator_start(&f->emu, EMULATOR, args);
	assert_int_equal(bl_http_new(&f->http), 0);
	*state = f;
	alarm(60);
	return 0;
}

static int setup(void **state)
{
	return start(state, NULL);
}

static int setup_v1(void **state)
{
	const char *const args[] = { "--allow-v1", NULL };
	return start(state, args);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	alarm(0);
	emulator_stop(&f->emu);
	bl_imds_free(f->imds);
	bl_http_free(f->http);
	bl_buf_free(&f->out);
	free(f);
	return 0;
}

static void open_imds(struct fixture *f, bool allow_v1, unsigned wait, unsigned ttl)
{
	struct bl_imds_options o = { .endpoint = f->emu.url, .allow_v1 = allow_v1,
				     .wait = wait, .token_ttl = ttl };
	assert_int_equal(bl_imds_new(&o, &f->imds), 0);
}

static json_t *control(struct fixture *f, const char *method, const char *path, const char *body)
{
	return emulator_control(f->http, &f->emu, "_emulator", method, path, body);
}

static void fault(struct fixture *f, const char *json)
{
	json_decref(control(f, "POST", "faults", json));
}

/* The emulator's request log as "METHOD PATH token=yes|no status" lines. */
static char *request_log(struct fixture *f)
{
	json_t *log = control(f, "GET", "requests", NULL);
	struct bl_buf b = {0};
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *r = json_array_get(log, i);
		json_t *status = json_object_get(r, "status");
		bl_buf_printf(&b, "%s %s token=%s %lld\n",
			      json_string_value(json_object_get(r, "method")),
			      json_string_value(json_object_get(r, "path")),
			      json_is_true(json_object_get(r, "token")) ? "yes" : "no",
			      json_is_integer(status) ? (long long)json_integer_value(status) : 0LL);
	}
	json_decref(log);
	return b.data ? b.data : strdup("");
}

static void test_token_flow(void **state)
{
	struct fixture *f = *state;
	open_imds(f, false, 5, 0);
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out), 0);
	assert_string_equal(f->out.data, "i-1234567890abcdef0");
	assert_int_equal(bl_imds_get(f->imds, "meta-data/placement/region", 1024, &f->out), 0);
	assert_string_equal(f->out.data, "us-east-1");
	char *log = request_log(f);
	/* One token for both reads, sent on each. */
	assert_string_equal(log, "PUT /latest/api/token token=no 200\n"
				 "GET /latest/meta-data/instance-id token=yes 200\n"
				 "GET /latest/meta-data/placement/region token=yes 200\n");
	free(log);
	json_t *reqs = control(f, "GET", "requests", NULL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "ttl")), "21600");
	json_decref(reqs);
	assert_int_equal(bl_imds_request_count(f->imds), 3);
}

static void test_not_found(void **state)
{
	struct fixture *f = *state;
	open_imds(f, false, 5, 0);
	assert_int_equal(bl_imds_get(f->imds, "meta-data/no-such-thing", 1024, &f->out),
			 -BL_ENOTFOUND);
}

static void test_401_fetches_a_new_token_once(void **state)
{
	struct fixture *f = *state;
	open_imds(f, false, 5, 0);
	fault(f, "{\"reject_tokens\": 1}");
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out), 0);
	assert_string_equal(f->out.data, "i-1234567890abcdef0");
	char *log = request_log(f);
	assert_string_equal(log, "PUT /latest/api/token token=no 200\n"
				 "GET /latest/meta-data/instance-id token=yes 401\n"
				 "PUT /latest/api/token token=no 200\n"
				 "GET /latest/meta-data/instance-id token=yes 200\n");
	free(log);

	/* Rejected again after the new token: an error, not a loop. */
	fault(f, "{\"reject_tokens\": 2}");
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out),
			 -BL_EDATASOURCE);
}

static void test_token_renewed_before_expiry(void **state)
{
	struct fixture *f = *state;
	/* A 61 s token is within the 60 s margin a second later. */
	open_imds(f, false, 5, 61);
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out), 0);
	sleep(2);
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out), 0);
	char *log = request_log(f);
	assert_string_equal(log, "PUT /latest/api/token token=no 200\n"
				 "GET /latest/meta-data/instance-id token=yes 200\n"
				 "PUT /latest/api/token token=no 200\n"
				 "GET /latest/meta-data/instance-id token=yes 200\n");
	free(log);
}

static void test_transient_failures_are_retried(void **state)
{
	struct fixture *f = *state;
	open_imds(f, false, 30, 0);
	fault(f, "{\"fail_next\": 3, \"fail_status\": 503}");
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out), 0);
	assert_int_equal(bl_imds_request_count(f->imds), 5);  /* 3 x 503, token, GET */

	fault(f, "{\"fail_next\": 2, \"fail_status\": 429}");
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out), 0);
	assert_int_equal(bl_imds_request_count(f->imds), 8);

	/* IMDS not up yet: connections closed without a reply for a second. */
	fault(f, "{\"unavailable_for\": 1, \"unavailable_mode\": \"refuse\"}");
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out), 0);
	assert_string_equal(f->out.data, "i-1234567890abcdef0");
}

static void test_other_4xx_not_retried(void **state)
{
	struct fixture *f = *state;
	open_imds(f, false, 30, 0);
	fault(f, "{\"fail_next\": 1, \"fail_status\": 400, \"fail_path\": \"/latest/meta-data\"}");
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out),
			 -BL_EDATASOURCE);
	assert_int_equal(bl_imds_request_count(f->imds), 2);
}

static void test_gives_up_when_the_wait_runs_out(void **state)
{
	struct fixture *f = *state;
	open_imds(f, false, 1, 0);
	fault(f, "{\"unavailable_for\": 30, \"unavailable_mode\": \"status\"}");
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out),
			 -BL_EDATASOURCE);
	/* Retried with backoff, not once and not in a tight loop. */
	unsigned n = bl_imds_request_count(f->imds);
	assert_true(n >= 3);
	assert_true(n < 100);
}

static void test_unreachable_endpoint(void **state)
{
	(void)state;
	/* A loopback port nobody listens on: bind one, note it, close it. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	struct bl_imds_options o = { .endpoint = url, .wait = 1 };
	struct bl_imds *imds;
	struct bl_buf out = {0};
	assert_int_equal(bl_imds_new(&o, &imds), 0);
	assert_int_equal(bl_imds_get(imds, "meta-data/instance-id", 1024, &out), -BL_EDATASOURCE);
	assert_true(bl_imds_request_count(imds) >= 2);
	bl_imds_free(imds);
}

static void test_v1_fallback_only_when_allowed(void **state)
{
	struct fixture *f = *state;
	const char *refuse = "{\"fail_next\": 1, \"fail_status\": 403, \"fail_path\": \"/latest/api/token\"}";
	open_imds(f, false, 5, 0);
	fault(f, refuse);
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out),
			 -BL_EDATASOURCE);
	bl_imds_free(f->imds);
	f->imds = NULL;

	open_imds(f, true, 5, 0);
	fault(f, refuse);
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 1024, &f->out), 0);
	assert_string_equal(f->out.data, "i-1234567890abcdef0");
	char *log = request_log(f);
	assert_non_null(strstr(log, "GET /latest/meta-data/instance-id token=no 200\n"));
	free(log);
}

static void test_size_cap(void **state)
{
	struct fixture *f = *state;
	open_imds(f, false, 5, 0);
	assert_int_equal(bl_imds_get(f->imds, "meta-data/instance-id", 8, &f->out), -BL_ETOOBIG);
	assert_null(f->out.data);
}

static void test_resolve_endpoint(void **state)
{
	char *e = NULL;
	(void)state;
	clear_aws_env();
	assert_int_equal(bl_imds_resolve_endpoint(NULL, NULL, &e), 0);
	assert_string_equal(e, "http://169.254.169.254");
	free(e);
	assert_int_equal(bl_imds_resolve_endpoint(NULL, "IPv6", &e), 0);
	assert_string_equal(e, "http://[fd00:ec2::254]");
	free(e);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv4", 1);
	assert_int_equal(bl_imds_resolve_endpoint(NULL, "IPv6", &e), 0);
	assert_string_equal(e, "http://169.254.169.254");
	free(e);
	assert_int_equal(bl_imds_resolve_endpoint("http://127.0.0.1:9/", NULL, &e), 0);
	assert_string_equal(e, "http://127.0.0.1:9");
	free(e);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:8/", 1);
	assert_int_equal(bl_imds_resolve_endpoint("http://127.0.0.1:9/", NULL, &e), 0);
	assert_string_equal(e, "http://127.0.0.1:8");
	free(e);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "127.0.0.1:8", 1);
	assert_int_equal(bl_imds_resolve_endpoint(NULL, NULL, &e), -BL_ECONFIG);
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", 1);
	assert_int_equal(bl_imds_resolve_endpoint(NULL, NULL, &e), -BL_ECONFIG);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	assert_int_equal(bl_imds_resolve_endpoint("http://127.0.0.1:9", NULL, &e), -BL_EDATASOURCE);
	assert_null(e);
	clear_aws_env();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_401_fetches_a_new_token_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_renewed_before_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transient_failures_are_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_4xx_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gives_up_when_the_wait_runs_out, setup, teardown),
		cmocka_unit_test(test_unreachable_endpoint),
		cmocka_unit_test_setup_teardown(test_v1_fallback_only_when_allowed, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
		cmocka_unit_test(test_resolve_endpoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
