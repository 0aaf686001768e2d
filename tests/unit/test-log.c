/* test-log.c - log.c: journal detection from JOURNAL_STREAM, the stderr line
 * format, and level filtering (script output included). */
#include "testutil.h"

#include <fcntl.h>

#include "bootlace/log.h"

struct fixture {
	char *dir;
	char *path;
	int saved_stderr;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = tu_mkdtemp();
	assert_non_null(f->dir);
	assert_true(asprintf(&f->path, "%s/stderr", f->dir) > 0);
	fflush(stderr);
	f->saved_stderr = dup(2);
	int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	unsetenv("JOURNAL_STREAM");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	unsetenv("JOURNAL_STREAM");
	free(f->path);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

/* What was logged; stderr is ours again afterwards, so that cmocka's own
 * failure messages are seen. */
static char *captured(struct fixture *f)
{
	fflush(stderr);
	dup2(f->saved_stderr, 2);
	return tu_slurp(f->path);
}

static void test_journal_detection(void **state)
{
	struct stat st;
	char value[64];
	assert_int_equal(fstat(2, &st), 0);

	bl_log_init(BL_LOG_INFO);
	assert_false(bl_log_to_journal());

	/* Another file's dev:ino (a stream inherited by a child of a unit, say)
	 * is not ours. */
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", value, 1);
	bl_log_init(BL_LOG_INFO);
	assert_false(bl_log_to_journal());

	setenv("JOURNAL_STREAM", "garbage", 1);
	bl_log_init(BL_LOG_INFO);
	assert_false(bl_log_to_journal());

	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", value, 1);
	bl_log_init(BL_LOG_INFO);
	assert_true(bl_log_to_journal());

	unsetenv("JOURNAL_STREAM");
	bl_log_init(BL_LOG_INFO);
	(void)state;
}

static void test_stderr_format_and_levels(void **state)
{
	struct fixture *f = *state;
	bl_log_init(BL_LOG_INFO);
	bl_err("cannot read %s", "/x");
	bl_warn("careful");
	bl_info("hello");
	bl_debug("hidden at info");
	bl_log_layer_line("roles/web/setup.sh", false, "installing");
	bl_log_set_level(BL_LOG_WARNING);
	bl_info("hidden at warning");
	bl_log_layer_line("base/setup.sh", true, "hidden at warning too");
	bl_log_set_level(BL_LOG_DEBUG);
	bl_debug("shown at debug");
	char *out = captured(f);
	assert_string_equal(out,
			    "bootlace: error: cannot read /x\n"
			    "bootlace: warning: careful\n"
			    "bootlace: hello\n"
			    "  [roles/web/setup.sh] installing\n"
			    "bootlace: debug: shown at debug\n");
	free(out);
	bl_log_set_level(BL_LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_detection),
		cmocka_unit_test_setup_teardown(test_stderr_format_and_levels, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
