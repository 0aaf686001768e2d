/* test-transfer.c - the download engine against faultproxy.py on loopback:
 * whole and parallel downloads, the size cap, status codes, retries of
 * throttling, resets, bodies cut short, stalls and corruption, the classify
 * and prepare hooks, TLS trust, and that a failed download leaves no file.
 * Only 127.0.0.1 is ever contacted. */
#include "testutil.h"
#include "emulator.h"

#include <fcntl.h>
#include <jansson.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "bootlace/error.h"
#include "bootlace/http.h"
#include "bootlace/transfer.h"

#define PROXY "tests/emulators/faultproxy.py"
#define SECRET "Credential=AKIDSECRETVALUE"

struct fixture {
	struct emulator emu;
	struct emulator tls;     /* an https one, for test_tls_trust */
	char *root;              /* what the proxy serves */
	struct bl_http *http;    /* for its control API */
	char *tmp;               /* the engine's tmp_dir, one per test */
	struct bl_transfer_options opts;
};

/* What the hooks of one download do, and what they saw. */
struct ctx {
	const char *base;        /* URL the keys are below */
	const char *key;
	const char *moved_key;   /* the key after a 301 (classify_moved) */
	bool moved;
	bool checksum_mode;      /* ask for x-amz-checksum-sha256 */
	int fail_prepare_at;     /* the prepare call that fails, 0 = none */
	int prepares;
	int classifies;
	char region[32];         /* x-amz-bucket-region the 301 carried */
};

static int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	/* Loopback only, never through a proxy from the environment. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	assert_non_null(f->root = tu_mkdtemp());
	const char *const args[] = { "--static", f->root, NULL };
	emulator_start(&f->emu, PROXY, args);
	assert_int_equal(bl_http_new(&f->http), 0);
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;
	emulator_stop(&f->emu);
	bl_http_free(f->http);
	tu_rmtree(f->root);
	free(f);
	return 0;
}

static json_t *control(struct fixture *f, const char *method, const char *path, const char *body)
{
	return emulator_control(f->http, &f->emu, "_faultproxy", method, path, body);
}

static void faults(struct fixture *f, const char *rules)
{
	json_decref(control(f, "POST", "faults", rules));
}

static int setup(void **state)
{
	struct fixture *f = *state;
	json_decref(control(f, "POST", "reset", NULL));
	assert_non_null(f->tmp = tu_mkdtemp());
	f->opts = (struct bl_transfer_options){ .tmp_dir = f->tmp, .max_attempts = 5,
						.backoff_base_ms = 5, .backoff_cap_ms = 20,
						.stall_timeout = 1, .connect_timeout_ms = 2000 };
	alarm(30);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	alarm(0);
	emulator_stop(&f->tls);
	tu_rmtree(f->tmp);
	f->tmp = NULL;
	return 0;
}

/* Writes a file of len pseudo-random bytes (seeded by len) under the root
 * and returns its contents. */
static char *put(struct fixture *f, const char *key, size_t len)
{
	char *data = malloc(len + 1), *path = NULL;
	assert_non_null(data);
	unsigned x = (unsigned)len * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (char)(x >> 16);
	}
	assert_true(asprintf(&path, "%s/%s", f->root, key) > 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(path);
	return data;
}

static int prepare(struct bl_download *d)
{
	struct ctx *c = d->opaque;
	if (++c->prepares == c->fail_prepare_at) {
		d->error = strdup("no credentials yet");
		return -BL_ECREDENTIALS;
	}
	d->url = bl_strdup_printf("%s/%s", c->base, c->moved ? c->moved_key : c->key);
	d->headers = calloc(3, sizeof(*d->headers));
	if (!d->url || !d->headers || !(d->headers[0] = strdup("Authorization: AWS4 " SECRET)))
		return -BL_ENOMEM;
	if (c->checksum_mode && !(d->headers[1] = strdup("x-amz-checksum-mode: ENABLED")))
		return -BL_ENOMEM;
	return 0;
}

static const struct bl_download_hooks hooks = { .prepare = prepare };

/* A 301 with the bucket's region: try again at once, elsewhere. */
static enum bl_download_verdict classify_moved(struct bl_download *d)
{
	struct ctx *c = d->opaque;
	c->classifies++;
	if (d->status == 301 && d->bucket_region && !c->moved) {
		snprintf(c->region, sizeof(c->region), "%s", d->bucket_region);
		c->moved = true;
		return BL_DOWNLOAD_AGAIN;
	}
	d->result = -BL_EFORMAT;
	d->error = strdup("unexpected");
	return BL_DOWNLOAD_DONE;
}

static const struct bl_download_hooks moved_hooks = { .prepare = prepare,
						      .classify = classify_moved };

static void init(struct fixture *f, struct bl_download *d, struct ctx *c, const char *key,
		 size_t max_size)
{
	*c = (struct ctx){ .base = f->emu.url, .key = key };
	*d = (struct bl_download){ .name = key, .hooks = &hooks, .opaque = c,
				   .max_size = max_size };
}

static void assert_tmp_empty(struct fixture *f)
{
	char *cmd = NULL;
	assert_true(asprintf(&cmd, "test -z \"$(ls -A '%s')\"", f->tmp) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* The body was delivered whole: right size, digest, content and mode. */
static void assert_delivered(struct fixture *f, const struct bl_download *d,
			     const char *data, size_t len)
{
	struct stat st;
	char hex[65];
	assert_int_equal(d->result, 0);
	assert_non_null(d->path);
	assert_int_equal(strncmp(d->path, f->tmp, strlen(f->tmp)), 0);
	assert_int_equal(d->size, len);
	bl_sha256_hex(data, len, hex);
	assert_string_equal(d->sha256, hex);
	assert_int_equal(stat(d->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal((size_t)st.st_size, len);
	char *got = tu_slurp(d->path);
	assert_non_null(got);
	assert_memory_equal(got, data, len);
	free(got);
}

static size_t count_requests(struct fixture *f, const char *substring)
{
	json_t *log = control(f, "GET", "requests", NULL);
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(log); i++)
		if (strstr(json_string_value(json_object_get(json_array_get(log, i), "path")), substring))
			n++;
	json_decref(log);
	return n;
}

/* Runs the engine with stderr captured; returns the captured log. */
static char *run_logged(struct fixture *f, struct bl_download *d, size_t n)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s.log", f->tmp) > 0);
	int saved = tu_stderr_to(path);
	int r = bl_transfer_run(d, n, &f->opts);
	char *log = tu_stderr_back(&saved, path);
	free(path);
	assert_int_equal(r, 0);
	return log;
}

static void test_whole_download(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "whole.bin", 300000);
	init(f, &d, &c, "whole.bin", 1 << 20);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 300000);
	assert_int_equal(d.attempts, 1);
	assert_int_equal(c.prepares, 1);
	assert_int_equal(d.status, 200);
	assert_non_null(d.etag);
	assert_int_equal(d.etag[0], '"');
	assert_null(d.checksum_sha256);   /* not asked for */
	assert_null(d.error);
	assert_null(d.url);                /* the engine freed the request */
	assert_null(d.headers);

	/* The caller owns the file: clearing the download removes it. */
	char *path = strdup(d.path);
	bl_download_clear(&d);
	assert_null(d.path);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	free(data);
}

/* A conditional GET: the held ETag still current is a 304, no file and no
 * hook asked; a stale one gets the body. */
static void test_not_modified(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "cond.bin", 1000);
	init(f, &d, &c, "cond.bin", 1 << 20);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 1000);
	char *etag = strdup(d.etag);
	bl_download_clear(&d);

	init(f, &d, &c, "cond.bin", 1 << 20);
	d.if_none_match = etag;
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, 0);
	assert_int_equal(d.status, 304);
	assert_null(d.path);
	assert_int_equal(d.attempts, 1);
	assert_tmp_empty(f);
	bl_download_clear(&d);

	init(f, &d, &c, "cond.bin", 1 << 20);
	d.if_none_match = "\"stale\"";
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 1000);
	bl_download_clear(&d);
	free(etag);
	free(data);
}

static void test_empty_object_and_exact_size(void **state)
{
	struct fixture *f = *state;
	struct bl_download d[2];
	struct ctx c[2];
	char *empty = put(f, "empty", 0), *exact = put(f, "exact", 4096);
	init(f, &d[0], &c[0], "empty", 4096);
	init(f, &d[1], &c[1], "exact", 4096);
	assert_int_equal(bl_transfer_run(d, 2, &f->opts), 0);
	assert_delivered(f, &d[0], "", 0);
	assert_string_equal(d[0].sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_delivered(f, &d[1], exact, 4096);
	bl_download_clear(&d[0]);
	bl_download_clear(&d[1]);
	assert_tmp_empty(f);
	free(empty);
	free(exact);
}

static void test_checksum_header_asked_and_checked(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "summed", 5000);
	init(f, &d, &c, "summed", 1 << 20);
	c.checksum_mode = true;    /* a header from prepare reaches the server */
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 5000);
	assert_non_null(d.checksum_sha256);
	unsigned char raw[33];
	char hex[65];
	assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)d.checksum_sha256, 44), 33);
	bl_hex_encode(raw, 32, hex);
	assert_string_equal(hex, d.sha256);
	bl_download_clear(&d);
	free(data);
}

static void test_many_parallel_downloads(void **state)
{
	struct fixture *f = *state;
	enum { N = 20 };
	struct bl_download d[N];
	struct ctx c[N];
	char *data[N], keys[N][16];
	for (size_t i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "p%02zu", i);
		data[i] = put(f, keys[i], i * 7919 + 1);
		init(f, &d[i], &c[i], keys[i], 1 << 20);
	}
	f->opts.max_parallel = 4;
	assert_int_equal(bl_transfer_run(d, N, &f->opts), 0);
	for (size_t i = 0; i < N; i++) {
		assert_delivered(f, &d[i], data[i], i * 7919 + 1);
		assert_int_equal(d[i].attempts, 1);
		bl_download_clear(&d[i]);
		free(data[i]);
	}
	/* One request each, over at most max_parallel reused connections. */
	json_t *log = control(f, "GET", "requests", NULL);
	assert_int_equal(json_array_size(log), N);
	json_int_t conns[N];
	size_t nconns = 0;
	for (size_t i = 0; i < N; i++) {
		json_int_t conn = json_integer_value(json_object_get(json_array_get(log, i), "conn"));
		size_t k = 0;
		while (k < nconns && conns[k] != conn)
			k++;
		if (k == nconns)
			conns[nconns++] = conn;
	}
	assert_true(nconns >= 1 && nconns <= 4);
	json_decref(log);
	assert_tmp_empty(f);
}

static void test_parallelism_is_bounded(void **state)
{
	struct fixture *f = *state;
	struct bl_download d[6];
	struct ctx c[6];
	char *data = put(f, "slow", 100);
	faults(f, "[{\"action\": \"delay\", \"seconds\": 0.4, \"times\": -1}]");
	for (size_t i = 0; i < 6; i++)
		init(f, &d[i], &c[i], "slow", 1000);
	f->opts.max_parallel = 3;
	double t0 = bl_now_monotonic();
	assert_int_equal(bl_transfer_run(d, 6, &f->opts), 0);
	double took = bl_now_monotonic() - t0;
	/* Three at a time: two rounds of 0.4 s, not one, not six. */
	assert_true(took >= 0.8);
	assert_true(took < 2.0);
	for (size_t i = 0; i < 6; i++) {
		assert_delivered(f, &d[i], data, 100);
		bl_download_clear(&d[i]);
	}
	free(data);
}

static void test_not_found(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	init(f, &d, &c, "missing", 1000);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ENOTFOUND);
	assert_int_equal(d.status, 404);
	assert_int_equal(d.attempts, 1);
	assert_string_equal(d.error, "HTTP 404");
	assert_non_null(strstr(d.error_body.data, "<Code>NoSuchKey</Code>"));
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);
}

static void test_status_codes_by_default(void **state)
{
	struct fixture *f = *state;
	static const struct { int status; int result; } cases[] = {
		{ 403, -BL_EDENIED }, { 401, -BL_EDENIED }, { 400, -BL_ENETWORK },
		{ 301, -BL_ENETWORK },
	};
	free(put(f, "coded", 10));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char rule[128], want[16];
		struct bl_download d;
		struct ctx c;
		snprintf(rule, sizeof(rule), "[{\"action\": \"status\", \"status\": %d}]",
			 cases[i].status);
		faults(f, rule);
		init(f, &d, &c, "coded", 1000);
		assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
		assert_int_equal(d.result, cases[i].result);
		assert_int_equal(d.attempts, 1);   /* not retried */
		snprintf(want, sizeof(want), "HTTP %d", cases[i].status);
		assert_string_equal(d.error, want);
		assert_null(d.path);
		bl_download_clear(&d);
	}
	assert_tmp_empty(f);
}

static void test_too_big_by_content_length(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	free(put(f, "big", 5000));
	/* The server sends headers and then nothing for 5 s: the announced
	 * length alone must end it, at once. */
	faults(f, "[{\"action\": \"stall\", \"seconds\": 5, \"bytes\": 0}]");
	f->opts.stall_timeout = 10;
	init(f, &d, &c, "big", 4999);
	double t0 = bl_now_monotonic();
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_true(bl_now_monotonic() - t0 < 2.0);
	assert_int_equal(d.result, -BL_ETOOBIG);
	assert_int_equal(d.attempts, 1);
	assert_non_null(strstr(d.error, "4999"));
	assert_non_null(strstr(d.error, "5000"));
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);
}

static void test_too_big_without_content_length(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "chunky", 70000);
	faults(f, "[{\"action\": \"chunked\", \"times\": -1}]");
	init(f, &d, &c, "chunky", 69999);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ETOOBIG);
	assert_int_equal(d.attempts, 1);
	assert_non_null(strstr(d.error, "69999"));
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);

	/* The same body within the cap is fine chunked. */
	init(f, &d, &c, "chunky", 70000);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 70000);
	bl_download_clear(&d);
	free(data);
}

static void test_throttled_twice_then_ok(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "busy", 1000);
	faults(f, "[{\"action\": \"status\", \"status\": 503, \"code\": \"SlowDown\", \"times\": 2}]");
	init(f, &d, &c, "busy", 1000);
	char *log = run_logged(f, &d, 1);
	assert_delivered(f, &d, data, 1000);
	assert_int_equal(d.attempts, 3);
	assert_int_equal(c.prepares, 3);   /* a fresh request (signature) each time */
	assert_int_equal(count_requests(f, "/busy"), 3);
	assert_non_null(strstr(log, "busy: HTTP 503, retry 2/5 in "));
	assert_non_null(strstr(log, "busy: HTTP 503, retry 3/5 in "));
	assert_null(strstr(log, "retry 4/5"));
	assert_null(strstr(log, "AKIDSECRET"));   /* header values are never logged */
	free(log);
	bl_download_clear(&d);
	free(data);
}

static void test_throttled_forever(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	free(put(f, "busy", 1000));
	faults(f, "[{\"action\": \"status\", \"status\": 503, \"code\": \"SlowDown\", \"times\": -1}]");
	f->opts.max_attempts = 3;
	init(f, &d, &c, "busy", 1000);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ENETWORK);
	assert_int_equal(d.attempts, 3);
	assert_int_equal(d.status, 503);
	assert_string_equal(d.error, "HTTP 503");
	assert_non_null(strstr(d.error_body.data, "<Code>SlowDown</Code>"));
	assert_null(d.path);
	assert_int_equal(count_requests(f, "/busy"), 3);
	assert_tmp_empty(f);
	bl_download_clear(&d);
}

/* Without an attempt cap, throttling is retried for retry_for seconds (a
 * fleet booting at once waits its turn), then given up. */
static void test_throttled_for_the_retry_time(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	free(put(f, "busy", 1000));
	faults(f, "[{\"action\": \"status\", \"status\": 503, \"code\": \"SlowDown\", \"times\": -1}]");
	f->opts.max_attempts = 0;
	f->opts.retry_for = 1;
	f->opts.backoff_cap_ms = 100;
	init(f, &d, &c, "busy", 1000);
	char *log = run_logged(f, &d, 1);
	assert_int_equal(d.result, -BL_ENETWORK);
	assert_true(d.attempts > 5);   /* far more than a count of 5 would allow */
	assert_int_equal(count_requests(f, "/busy"), (int)d.attempts);
	assert_non_null(strstr(log, "busy: HTTP 503, retry 2 in "));
	assert_non_null(strstr(log, "busy: giving up after "));
	assert_tmp_empty(f);
	free(log);
	bl_download_clear(&d);
}

static void test_truncated_body(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "cut", 50000);
	/* The first attempt wrote 100 bytes: the retry must start over. */
	faults(f, "[{\"action\": \"truncate\", \"bytes\": 100}]");
	init(f, &d, &c, "cut", 1 << 20);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 50000);
	assert_int_equal(d.attempts, 2);
	bl_download_clear(&d);

	faults(f, "[{\"action\": \"truncate\", \"times\": -1}]");
	f->opts.max_attempts = 3;
	init(f, &d, &c, "cut", 1 << 20);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_EINTEGRITY);
	assert_int_equal(d.attempts, 3);
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);
	free(data);
}

static void test_corrupted_body(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "flip", 3000);
	faults(f, "[{\"action\": \"corrupt\"}]");
	init(f, &d, &c, "flip", 1 << 20);
	c.checksum_mode = true;
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 3000);
	assert_int_equal(d.attempts, 2);
	bl_download_clear(&d);

	faults(f, "[{\"action\": \"corrupt\", \"times\": -1}]");
	f->opts.max_attempts = 2;
	init(f, &d, &c, "flip", 1 << 20);
	c.checksum_mode = true;
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_EINTEGRITY);
	assert_int_equal(d.attempts, 2);
	assert_non_null(strstr(d.error, "did not match its x-amz-checksum-sha256"));
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);
	free(data);
}

/* The CRCs S3 declares are checked as SHA-256 is: each right one passes,
 * a wrong one is retried and then fails, a multipart object's ("...-2")
 * cannot be checked and passes.  "123456789" is the CRC catalogue's check
 * input, so the right values are the published ones. */
static void test_crc_checksums(void **state)
{
	struct fixture *f = *state;
	static const char *const pass[] = {
		"x-amz-checksum-crc32\": \"y/Q5Jg==", "x-amz-checksum-crc32c\": \"4waSgw==",
		"x-amz-checksum-crc64nvme\": \"rosUhgp5mIg=", "x-amz-checksum-crc32\": \"AAAAAA==-2",
	};
	static const char *const fail[][2] = {
		{ "x-amz-checksum-crc32\": \"y/Q5Jw==", "x-amz-checksum-crc32" },
		{ "x-amz-checksum-crc32c\": \"y/Q5Jg==", "x-amz-checksum-crc32c" },
		{ "x-amz-checksum-crc64nvme\": \"rosUhgp5nIg=", "x-amz-checksum-crc64nvme" },
		{ "x-amz-checksum-crc32\": \"y/Q5Jg=", "x-amz-checksum-crc32" },
	};
	char rule[160];
	free(tu_write(f->root, "check", "123456789", 0644));
	for (size_t i = 0; i < ARRAY_SIZE(pass); i++) {
		struct bl_download d;
		struct ctx c;
		snprintf(rule, sizeof(rule), "[{\"action\": \"headers\", \"headers\": {\"%s\"}}]", pass[i]);
		faults(f, rule);
		init(f, &d, &c, "check", 1 << 20);
		assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
		assert_delivered(f, &d, "123456789", 9);
		assert_int_equal(d.attempts, 1);
		bl_download_clear(&d);
	}
	f->opts.max_attempts = 2;
	for (size_t i = 0; i < ARRAY_SIZE(fail); i++) {
		struct bl_download d;
		struct ctx c;
		snprintf(rule, sizeof(rule), "[{\"action\": \"headers\", \"times\": -1, "
			 "\"headers\": {\"%s\"}}]", fail[i][0]);
		faults(f, rule);
		init(f, &d, &c, "check", 1 << 20);
		assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
		assert_int_equal(d.result, -BL_EINTEGRITY);
		assert_int_equal(d.attempts, 2);
		assert_non_null(strstr(d.error, "did not match its"));
		assert_non_null(strstr(d.error, fail[i][1]));
		assert_null(d.path);
		assert_tmp_empty(f);
		bl_download_clear(&d);
	}
}

static void test_connection_reset(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "rst", 2000);
	faults(f, "[{\"action\": \"reset\"}, {\"action\": \"reset\", \"rst\": false}]");
	init(f, &d, &c, "rst", 1 << 20);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 2000);
	assert_int_equal(d.attempts, 3);
	bl_download_clear(&d);

	faults(f, "[{\"action\": \"reset\", \"times\": -1}]");
	f->opts.max_attempts = 2;
	init(f, &d, &c, "rst", 1 << 20);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ENETWORK);
	assert_int_equal(d.status, 0);
	assert_non_null(d.error);
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);
	free(data);
}

static void test_stall(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "stuck", 20000);
	/* Headers, then silence.  (After some body bytes curl notices a stall
	 * later: it averages the speed over the last few seconds.) */
	faults(f, "[{\"action\": \"stall\", \"seconds\": 8}]");
	init(f, &d, &c, "stuck", 1 << 20);
	double t0 = bl_now_monotonic();
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_true(bl_now_monotonic() - t0 < 4.0);   /* not the full 8 s stall */
	assert_delivered(f, &d, data, 20000);
	assert_int_equal(d.attempts, 2);
	bl_download_clear(&d);

	faults(f, "[{\"action\": \"stall\", \"seconds\": 8}]");
	f->opts.max_attempts = 1;
	init(f, &d, &c, "stuck", 1 << 20);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ETIMEOUT);
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);
	free(data);
}

static void test_classify_again_with_a_new_url(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *data = put(f, "here", 700);
	faults(f, "[{\"match\": \"/there\", \"times\": -1, \"action\": \"status\", \"status\": 301,"
		  " \"headers\": {\"x-amz-bucket-region\": \"eu-west-1\"}}]");
	init(f, &d, &c, "there", 1000);
	d.hooks = &moved_hooks;
	c.moved_key = "here";
	char *log = run_logged(f, &d, 1);
	assert_delivered(f, &d, data, 700);
	assert_int_equal(d.attempts, 2);
	assert_int_equal(c.prepares, 2);
	assert_int_equal(c.classifies, 1);
	assert_string_equal(c.region, "eu-west-1");
	assert_null(d.bucket_region);        /* headers of the last response only */
	assert_null(strstr(log, "retry"));   /* again is not a retry: no backoff */
	free(log);
	bl_download_clear(&d);

	/* Classify ends it: its result and error stand. */
	init(f, &d, &c, "there", 1000);
	d.hooks = &moved_hooks;
	c.moved = true;
	c.moved_key = "there";
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_EFORMAT);
	assert_string_equal(d.error, "unexpected");
	assert_null(d.path);
	bl_download_clear(&d);
	free(data);
}

static void test_prepare_failure_ends_the_download(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	free(put(f, "nocreds", 10));
	faults(f, "[{\"action\": \"status\", \"status\": 500}]");
	init(f, &d, &c, "nocreds", 1000);
	c.fail_prepare_at = 2;
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ECREDENTIALS);
	assert_string_equal(d.error, "no credentials yet");
	assert_int_equal(d.attempts, 1);
	assert_int_equal(c.prepares, 2);
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);
}

static void test_backoff_lets_others_run(void **state)
{
	struct fixture *f = *state;
	struct bl_download d[2];
	struct ctx c[2];
	char *a = put(f, "first", 10), *b = put(f, "second", 20);
	faults(f, "[{\"match\": \"/first\", \"action\": \"status\", \"status\": 503}]");
	init(f, &d[0], &c[0], "first", 100);
	init(f, &d[1], &c[1], "second", 100);
	f->opts.max_parallel = 1;
	f->opts.backoff_base_ms = f->opts.backoff_cap_ms = 500;
	assert_int_equal(bl_transfer_run(d, 2, &f->opts), 0);
	assert_delivered(f, &d[0], a, 10);
	assert_delivered(f, &d[1], b, 20);
	/* The single slot went to "second" while "first" waited. */
	json_t *log = control(f, "GET", "requests", NULL);
	assert_int_equal(json_array_size(log), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 1), "path")),
			    "/second");
	json_decref(log);
	bl_download_clear(&d[0]);
	bl_download_clear(&d[1]);
	free(a);
	free(b);
}

static void test_unreachable(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char url[64];
	/* A loopback port that was free a moment ago: nothing listens. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	close(s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	init(f, &d, &c, "x", 100);
	c.base = url;
	f->opts.max_attempts = 2;
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ENETWORK);
	assert_int_equal(d.attempts, 2);
	assert_int_equal(d.status, 0);
	assert_null(d.path);
	assert_tmp_empty(f);
	bl_download_clear(&d);

	/* Only http and https. */
	init(f, &d, &c, "etc/passwd", 100);
	c.base = "file:///";
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ENETWORK);
	assert_int_equal(d.attempts, 1);
	bl_download_clear(&d);
}

static void test_bad_tmp_dir(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *dir = NULL;
	free(put(f, "x", 10));
	assert_true(asprintf(&dir, "%s/missing", f->tmp) > 0);
	f->opts.tmp_dir = dir;
	init(f, &d, &c, "x", 100);
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_EIO);
	assert_non_null(strstr(d.error, dir));
	assert_int_equal(c.prepares, 0);
	bl_download_clear(&d);
	free(dir);
}

/* A self-signed certificate for 127.0.0.1 and its key, as PEM files. */
static void make_cert(const char *cert_path, const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"bootlace test", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	static const struct { int nid; const char *value; } exts[] = {
		{ NID_subject_alt_name, "IP:127.0.0.1" },
		{ NID_basic_constraints, "critical,CA:TRUE" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	FILE *out = fopen(cert_path, "w");
	assert_non_null(out);
	assert_int_equal(PEM_write_X509(out, x), 1);
	fclose(out);
	out = fopen(key_path, "w");
	assert_non_null(out);
	assert_int_equal(PEM_write_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(out);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void test_tls_trust(void **state)
{
	struct fixture *f = *state;
	struct bl_download d;
	struct ctx c;
	char *cert = NULL, *key = NULL, *missing = NULL, base[80];
	char *data = put(f, "secure", 4000);
	assert_true(asprintf(&cert, "%s/cert.pem", f->root) > 0);
	assert_true(asprintf(&key, "%s/key.pem", f->root) > 0);
	make_cert(cert, key);
	const char *const args[] = { "--static", f->root, "--tls-cert", cert, "--tls-key", key, NULL };
	emulator_start(&f->tls, PROXY, args);
	snprintf(base, sizeof(base), "https://127.0.0.1:%d", f->tls.port);

	/* A private CA is trusted once it is given ... */
	init(f, &d, &c, "secure", 1 << 20);
	c.base = base;
	f->opts.ca_file = cert;
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_delivered(f, &d, data, 4000);
	bl_download_clear(&d);

	/* ... and never otherwise: a failed verification is final. */
	init(f, &d, &c, "secure", 1 << 20);
	c.base = base;
	f->opts.ca_file = NULL;
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), 0);
	assert_int_equal(d.result, -BL_ENETWORK);
	assert_int_equal(d.attempts, 1);
	assert_non_null(strstr(d.error, "certificate"));
	assert_null(d.path);
	bl_download_clear(&d);

	/* A CA file that cannot be read stops the engine. */
	assert_true(asprintf(&missing, "%s/missing.pem", f->root) > 0);
	f->opts.ca_file = missing;
	init(f, &d, &c, "secure", 1 << 20);
	c.base = base;
	assert_int_equal(bl_transfer_run(&d, 1, &f->opts), -BL_EIO);
	assert_int_equal(d.result, -BL_EIO);
	assert_int_equal(c.prepares, 0);
	bl_download_clear(&d);
	assert_tmp_empty(f);

	free(cert);
	free(key);
	free(missing);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole_download, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_modified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_object_and_exact_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum_header_asked_and_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_parallel_downloads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parallelism_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_codes_by_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big_by_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big_without_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_throttled_twice_then_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_throttled_forever, setup, teardown),
		cmocka_unit_test_setup_teardown(test_throttled_for_the_retry_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupted_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crc_checksums, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_classify_again_with_a_new_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_failure_ends_the_download, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_lets_others_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_tmp_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_trust, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
