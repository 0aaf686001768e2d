/* test-source.c - layer sources (src/source.c, modules/source-file.c): URL
 * joining, base URL validation for every scheme, scheme lookup and
 * whole-object file:// fetches into temp files.  s3:// and https:// fetches
 * run against emulators in tests/integration. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>

#include "bootlace/error.h"
#include "bootlace/source.h"

static void expect_join(const char *base, const char *path, const char *want)
{
	char *got = bl_source_join(base, path);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_join(void **state)
{
	(void)state;
	expect_join("file:///srv/bootstrap/", "base/setup.sh", "file:///srv/bootstrap/base/setup.sh");
	expect_join("file:///srv/bootstrap", "base/setup.sh", "file:///srv/bootstrap/base/setup.sh");
	expect_join("file:///srv/bootstrap/", "/base/setup.sh", "file:///srv/bootstrap/base/setup.sh");
	expect_join("file:///srv/bootstrap///", "///roles/web/setup.sh",
		    "file:///srv/bootstrap/roles/web/setup.sh");
	expect_join("s3://bucket/prefix/", "base/setup.sh", "s3://bucket/prefix/base/setup.sh");
	expect_join("https://example.com", "a", "https://example.com/a");
	/* Slashes inside path are the path's own. */
	expect_join("file:///srv", "a//b/", "file:///srv/a//b/");
	expect_join("file:///srv/", "", "file:///srv/");
	/* The root directory: the "//" of the scheme is not a trailing slash. */
	expect_join("file:///", "base/setup.sh", "file:///base/setup.sh");
	expect_join("file:////", "/x", "file:///x");
}

static void expect_valid(const char *url)
{
	char *msg = (char *)&msg;  /* must be reset */
	assert_int_equal(bl_source_validate(url, &msg), 0);
	assert_null(msg);
}

/* Invalid, with a message that contains want. */
static void expect_invalid(const char *url, const char *want)
{
	char *msg = NULL;
	assert_int_equal(bl_source_validate(url, &msg), -BL_ECONFIG);
	assert_non_null(msg);
	if (!strstr(msg, want))
		fail_msg("message for \"%s\" is \"%s\", without \"%s\"", url, msg, want);
	free(msg);
}

static void test_validate(void **state)
{
	(void)state;
	expect_valid("file:///srv/bootstrap/");
	expect_valid("file:///srv/bootstrap");
	expect_valid("file:///");

	expect_invalid("file://relative/dir/", "\"file://relative/dir/\": a file:// URL needs an "
		       "absolute path (file:///dir/)");
	expect_invalid("file://", "a file:// URL needs an absolute path");
	expect_invalid("no-scheme", "\"no-scheme\" is not a URL (expected e.g. file:///srv/bootstrap/)");
	expect_invalid("/srv/bootstrap/", "\"/srv/bootstrap/\" is not a URL");
	expect_invalid("file:/srv/", "\"file:/srv/\" is not a URL");
	expect_invalid("", "\"\" is not a URL");
	expect_invalid("://x", "\"://x\" is not a URL");
	expect_valid("s3://my-bucket/bootstrap/");
	expect_valid("s3://my.dotted.bucket");
	expect_valid("https://example.com/bootstrap/");
	expect_valid("http://10.0.0.1:8080/");
	expect_invalid("s3://b/", "\"s3://b/\": \"b\" is not a valid S3 bucket name");
	expect_invalid("s3://My_Bucket/x", "\"My_Bucket\" is not a valid S3 bucket name");
	expect_invalid("s3:///x", "\"\" is not a valid S3 bucket name");
	expect_invalid("https:///path", "no host name");
	/* An unknown scheme: the message names it and what is supported. */
	expect_invalid("ftp://example.com/", "scheme ftp:// is not supported by this build "
		       "(supported: file://, s3://, https://, http://)");
	expect_invalid("files:///srv/", "scheme files:// is not supported");
	expect_invalid("fil:///srv/", "scheme fil:// is not supported");
}

static void test_for_url(void **state)
{
	(void)state;
	assert_ptr_equal(bl_source_for_url("file:///srv/x"), &bl_source_file);
	assert_string_equal(bl_source_file.scheme, "file");
	assert_ptr_equal(bl_source_for_url("s3://bucket/x"), &bl_source_s3);
	assert_true(bl_source_s3.needs_aws);
	assert_false(bl_source_file.needs_aws);
	assert_ptr_equal(bl_source_for_url("https://example.com/x"), &bl_source_https);
	assert_ptr_equal(bl_source_for_url("http://example.com/x"), &bl_source_http);
	assert_null(bl_source_for_url("s3a://bucket/x"));
	assert_null(bl_source_for_url("files:///srv/x"));
	assert_null(bl_source_for_url("fil:///srv/x"));
	assert_null(bl_source_for_url("/srv/x"));
	assert_null(bl_source_for_url("file:/srv/x"));
	assert_null(bl_source_for_url(""));
}

struct fixture {
	char *tmp;
	char *url_base;  /* "file://<tmp>/" */
	char *tmp_dir;   /* where fetched objects land */
	struct bl_config cfg;
	struct bl_buf body;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->tmp = tu_mkdtemp();
	assert_non_null(f->tmp);
	assert_true(asprintf(&f->url_base, "file://%s/", f->tmp) > 0);
	assert_true(asprintf(&f->tmp_dir, "%s/.fetched", f->tmp) > 0);
	assert_int_equal(mkdir(f->tmp_dir, 0700), 0);
	assert_int_equal(bl_config_init(&f->cfg), 0);
	alarm(60);  /* a fetch that blocks (on a FIFO, say) fails instead of hanging */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	alarm(0);
	bl_buf_free(&f->body);
	bl_config_free(&f->cfg);
	free(f->tmp_dir);
	free(f->url_base);
	tu_rmtree(f->tmp);
	free(f);
	return 0;
}

/* Files in the fetch directory: a failed fetch must leave none. */
static size_t count_fetched(const struct fixture *f)
{
	DIR *d = opendir(f->tmp_dir);
	assert_non_null(d);
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Fetches rel into f->body (empty on failure); returns the object's result. */
static int fetch(struct fixture *f, const char *rel)
{
	char *url = bl_source_join(f->url_base, rel);
	assert_non_null(url);
	assert_ptr_equal(bl_source_for_url(url), &bl_source_file);
	struct bl_object obj = { .url = url };
	struct bl_object *objs[] = { &obj };
	struct bl_fetch_context ctx = { .cfg = &f->cfg, .tmp_dir = f->tmp_dir };
	bl_buf_free(&f->body);
	assert_int_equal(bl_source_fetch_all(&ctx, objs, 1), 0);
	if (obj.result == 0) {
		struct stat st;
		assert_int_equal(stat(obj.path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(bl_read_file(obj.path, SIZE_MAX, &f->body), 0);
		assert_int_equal(obj.size, f->body.len);
		char sha[65];
		bl_sha256_hex(f->body.data, f->body.len, sha);
		assert_string_equal(obj.sha256, sha);
	} else {
		assert_non_null(obj.error);
		assert_null(obj.path);
		assert_int_equal(count_fetched(f), 0);
	}
	int r = obj.result;
	bl_object_clear(&obj);
	assert_int_equal(count_fetched(f), 0);
	free(url);
	return r;
}

static void write_bytes(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	FILE *out = fopen(path, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(data, 1, len, out), len);
	assert_int_equal(fclose(out), 0);
	free(path);
}

static void expect_empty_body(const struct fixture *f)
{
	assert_null(f->body.data);
	assert_int_equal(f->body.len, 0);
}

static void test_fetch_exact_bytes(void **state)
{
	struct fixture *f = *state;
	static const char script[] = "#!/bin/sh\r\nprintf '\\0'\n\0\xff\xfe tail without newline";
	char *sub = NULL;
	assert_true(asprintf(&sub, "%s/base", f->tmp) > 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_bytes(sub, "setup.sh", script, sizeof(script) - 1);
	free(sub);

	assert_int_equal(fetch(f, "base/setup.sh"), 0);
	assert_int_equal(f->body.len, sizeof(script) - 1);
	assert_memory_equal(f->body.data, script, sizeof(script) - 1);
	assert_int_equal(f->body.data[f->body.len], '\0');

	/* An empty object is an empty body, not an error. */
	write_bytes(f->tmp, "empty.sh", "", 0);
	assert_int_equal(fetch(f, "empty.sh"), 0);
	assert_int_equal(f->body.len, 0);
	assert_non_null(f->body.data);
	assert_string_equal(f->body.data, "");

	/* A symlink to a regular file is read through. */
	char *target = NULL, *link = NULL;
	assert_true(asprintf(&target, "%s/base/setup.sh", f->tmp) > 0);
	assert_true(asprintf(&link, "%s/link.sh", f->tmp) > 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(fetch(f, "link.sh"), 0);
	assert_int_equal(f->body.len, sizeof(script) - 1);
	free(link);
	free(target);
}

static void test_fetch_missing(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(fetch(f, "base/setup.sh"), -BL_ENOTFOUND);
	expect_empty_body(f);
	/* A path "under" a regular file does not exist either. */
	write_bytes(f->tmp, "file", "x", 1);
	assert_int_equal(fetch(f, "file/setup.sh"), -BL_ENOTFOUND);
	expect_empty_body(f);
	/* Nor does a dangling symlink. */
	char *link = NULL;
	assert_true(asprintf(&link, "%s/dangling.sh", f->tmp) > 0);
	assert_int_equal(symlink("/nonexistent/bootlace-test/none.sh", link), 0);
	assert_int_equal(fetch(f, "dangling.sh"), -BL_ENOTFOUND);
	expect_empty_body(f);
	free(link);
}

static void test_fetch_not_regular(void **state)
{
	struct fixture *f = *state;
	char *dir = NULL, *fifo = NULL;
	assert_true(asprintf(&dir, "%s/roles", f->tmp) > 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(fetch(f, "roles"), -BL_EIO);
	expect_empty_body(f);
	assert_int_equal(fetch(f, "roles/"), -BL_EIO);
	expect_empty_body(f);
	/* A FIFO is refused without opening it (which would block). */
	assert_true(asprintf(&fifo, "%s/fifo.sh", f->tmp) > 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(fetch(f, "fifo.sh"), -BL_EIO);
	expect_empty_body(f);
	free(fifo);
	free(dir);
}

static void make_sparse(const char *dir, const char *name, off_t size)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
	free(path);
}

static void test_fetch_size_limit(void **state)
{
	struct fixture *f = *state;
	const size_t max = f->cfg.s3_max_object_size;
	assert_int_equal(max, BL_DEFAULT_MAX_OBJECT_SIZE);
	make_sparse(f->tmp, "huge.sh", (off_t)max + 1);
	assert_int_equal(fetch(f, "huge.sh"), -BL_ETOOBIG);
	expect_empty_body(f);
	make_sparse(f->tmp, "huger.sh", (off_t)4 * max);
	assert_int_equal(fetch(f, "huger.sh"), -BL_ETOOBIG);
	expect_empty_body(f);

	/* Exactly the limit is delivered, whole. */
	make_sparse(f->tmp, "max.sh", (off_t)max);
	assert_int_equal(fetch(f, "max.sh"), 0);
	assert_int_equal(f->body.len, max);
	assert_int_equal(f->body.data[0], '\0');
	assert_int_equal(f->body.data[max - 1], '\0');

	/* The cap is the config's. */
	f->cfg.s3_max_object_size = 100;
	make_sparse(f->tmp, "small.sh", 101);
	assert_int_equal(fetch(f, "small.sh"), -BL_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_for_url),
		cmocka_unit_test_setup_teardown(test_fetch_exact_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_not_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_size_limit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
