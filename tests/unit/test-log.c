/* test-log.c - log.c: journal detection from JOURNAL_STREAM, the stderr line
 * format, level filtering (script output included), and under the journal:
 * structured fields, what goes to the console (the stream, with a <N>
 * priority prefix) and what goes natively (captured by a fake sink). */
#include "testutil.h"

#include <fcntl.h>

#include "bootlace/log.h"

/* Native journal entries, each as its fields joined by newlines. */
#define ENTRIES_MAX 16
static char entries[ENTRIES_MAX][4096];
static int n_entries;

static int capture_entry(const struct iovec *iov, int n)
{
	assert_true(n_entries < ENTRIES_MAX);
	char *e = entries[n_entries++];
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		assert_true(used + iov[i].iov_len + 2 < sizeof(entries[0]));
		memcpy(e + used, iov[i].iov_base, iov[i].iov_len);
		used += iov[i].iov_len;
		e[used++] = '\n';
	}
	e[used] = '\0';
	return 0;
}

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
	f->saved_stderr = tu_stderr_to(f->path);
	unsetenv("JOURNAL_STREAM");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tu_stderr_restore(&f->saved_stderr);
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
	tu_stderr_restore(&f->saved_stderr);
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
	bl_log_set_event("setup", true);
	bl_err("cannot read %s", "/x");
	bl_warn("careful");
	bl_info("hello");
	bl_log_fields(BL_LOG_ERR, BL_MESSAGE_LAYER_FAILED, "base/setup.sh", 3,
		      "layer %s failed", "base/setup.sh");
	bl_log_set_event(NULL, false);
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
			    "bootlace: error: layer base/setup.sh failed\n"
			    "  [roles/web/setup.sh] installing\n"
			    "bootlace: debug: shown at debug\n");
	free(out);
	bl_log_set_level(BL_LOG_INFO);
}

/* Under the journal: fd 2 is the capture file, named by JOURNAL_STREAM. */
static void fake_journal(void)
{
	tu_stderr_is_journal();
	bl_log_init(BL_LOG_INFO);
	assert_true(bl_log_to_journal());
	n_entries = 0;
	bl_log_set_journal_sink(capture_entry);
}

static void journal_done(void)
{
	bl_log_set_journal_sink(NULL);
	bl_log_set_event(NULL, false);
	unsetenv("JOURNAL_STREAM");
	bl_log_init(BL_LOG_INFO);
}

static void test_journal_fields(void **state)
{
	struct fixture *f = *state;
	fake_journal();
	/* Not a first boot: info is native, with the event; warnings and errors
	 * go to the console through the stream. */
	bl_log_set_event("configure", false);
	bl_info("converging");
	bl_warn("careful");
	bl_log_fields(BL_LOG_ERR, BL_MESSAGE_LAYER_FAILED, "roles/web/configure.sh", 3,
		      "layer %s failed: exit status 3", "roles/web/configure.sh");
	bl_log_layer_line("roles/web/configure.sh", true, "oops");
	bl_log_set_event(NULL, false);
	bl_info("idle");
	/* Below the threshold: nowhere. */
	bl_log_set_level(BL_LOG_WARNING);
	bl_log_fields(BL_LOG_INFO, BL_MESSAGE_RUN_START, NULL, -1, "hidden");
	bl_log_layer_line("base/setup.sh", false, "hidden too");
	bl_log_set_level(BL_LOG_INFO);
	char *out = captured(f);
	journal_done();

	assert_string_equal(out, "<4>careful\n"
				 "<3>layer roles/web/configure.sh failed: exit status 3\n");
	free(out);
	assert_int_equal(n_entries, 4);
	assert_string_equal(entries[0], "MESSAGE=converging\nPRIORITY=6\n"
					"SYSLOG_IDENTIFIER=bootlace\nBOOTLACE_EVENT=configure\n");
	/* The milestone is in the journal with its fields even though it went
	 * to the console too. */
	assert_string_equal(entries[1], "MESSAGE_ID=" BL_MESSAGE_LAYER_FAILED "\n"
					"BOOTLACE_LAYER=roles/web/configure.sh\n"
					"BOOTLACE_EXIT_STATUS=3\n"
					"MESSAGE=layer roles/web/configure.sh failed: exit status 3\n"
					"PRIORITY=3\nSYSLOG_IDENTIFIER=bootlace\n"
					"BOOTLACE_EVENT=configure\n");
	/* Script output: the layer is the identifier, stderr is a warning. */
	assert_string_equal(entries[2], "BOOTLACE_LAYER=roles/web/configure.sh\nMESSAGE=oops\n"
					"PRIORITY=4\nSYSLOG_IDENTIFIER=roles/web/configure.sh\n"
					"BOOTLACE_EVENT=configure\n");
	assert_string_equal(entries[3], "MESSAGE=idle\nPRIORITY=6\nSYSLOG_IDENTIFIER=bootlace\n");
}

static void test_journal_first_boot_console(void **state)
{
	struct fixture *f = *state;
	fake_journal();
	/* Setup: bootlace's own lines all reach the console, each line of a
	 * message with its priority; scripts' lines stay native. */
	bl_log_set_event("setup", true);
	bl_log_fields(BL_LOG_INFO, BL_MESSAGE_RUN_START, NULL, -1, "setup on instance i-1");
	bl_info("layer 1/1: base/setup.sh");
	bl_log_layer_line("base/setup.sh", false, "installing");
	bl_err("two\nlines");
	bl_log_fields(BL_LOG_INFO, BL_MESSAGE_RUN_END, NULL, 0, "setup completed");
	char *out = captured(f);
	journal_done();

	assert_string_equal(out, "<6>setup on instance i-1\n"
				 "<6>layer 1/1: base/setup.sh\n"
				 "<3>two\n<3>lines\n"
				 "<6>setup completed\n");
	free(out);
	assert_int_equal(n_entries, 3);
	assert_string_equal(entries[0], "MESSAGE_ID=" BL_MESSAGE_RUN_START "\n"
					"MESSAGE=setup on instance i-1\nPRIORITY=6\n"
					"SYSLOG_IDENTIFIER=bootlace\nBOOTLACE_EVENT=setup\n");
	assert_string_equal(entries[1], "BOOTLACE_LAYER=base/setup.sh\nMESSAGE=installing\n"
					"PRIORITY=6\nSYSLOG_IDENTIFIER=base/setup.sh\n"
					"BOOTLACE_EVENT=setup\n");
	assert_string_equal(entries[2], "MESSAGE_ID=" BL_MESSAGE_RUN_END "\n"
					"BOOTLACE_EXIT_STATUS=0\n"
					"MESSAGE=setup completed\nPRIORITY=6\n"
					"SYSLOG_IDENTIFIER=bootlace\nBOOTLACE_EVENT=setup\n");
}

static void test_message_ids(void **state)
{
	const char *const ids[] = {
		BL_MESSAGE_RUN_START, BL_MESSAGE_RUN_END, BL_MESSAGE_LAYER_FAILED,
	};
	/* 128-bit ids as journald wants them: 32 lowercase hex digits, distinct. */
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(strlen(ids[i]), 32);
		assert_int_equal(strspn(ids[i], "0123456789abcdef"), 32);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_detection),
		cmocka_unit_test_setup_teardown(test_stderr_format_and_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_first_boot_console, setup, teardown),
		cmocka_unit_test(test_message_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
