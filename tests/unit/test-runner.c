/* test-runner.c - the layer runner: exit statuses, signals, output capture
 * and its log format, the clean child (stdin, environment, process group,
 * cwd, umask, descriptors, signal state), timeouts that reach the whole
 * group, exec failures, and not hanging on background processes.
 *
 * Every script is a /bin/sh script written into the test's own temporary
 * directory; every run has a timeout and every test an alarm, so nothing
 * can hang. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bootlace/runner.h"
#include "bootlace/util.h"

/* No single test takes anywhere near this long. */
#define TEST_ALARM_SECS 60

struct fx {
	char *dir;
	char *log_path;
	int log_fd;
};

static char *const test_env[] = {
	"PATH=" BL_SCRIPT_PATH, "LANG=C", "HOME=/root", "BOOTLACE_X=1", NULL,
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_non_null(fx->dir = tu_mkdtemp());
	assert_true(asprintf(&fx->log_path, "%s/run.log", fx->dir) > 0);
	fx->log_fd = open(fx->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(fx->log_fd >= 0);
	alarm(TEST_ALARM_SECS);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	alarm(0);
	close(fx->log_fd);
	free(fx->log_path);
	tu_rmtree(fx->dir);
	free(fx);
	return 0;
}

/* A spec with the test defaults: layer "t", a timeout so that a broken
 * runner or script cannot hang the test. */
static struct bl_run_spec spec_for(const struct fx *fx, const char *path)
{
	return (struct bl_run_spec){
		.path = path, .layer = "t", .envp = test_env,
		.timeout = 20, .kill_grace = 2, .log_fd = fx->log_fd,
	};
}

/* Writes body as the executable /bin/sh script layer.sh; malloc'd path. */
static char *script(const struct fx *fx, const char *body)
{
	char *text = NULL, *path;

	assert_true(asprintf(&text, "#!/bin/sh\n%s", body) > 0);
	path = tu_write(fx->dir, "layer.sh", text, 0755);
	free(text);
	return path;
}

static void run_spec(const struct bl_run_spec *spec, struct bl_run_result *res)
{
	memset(res, 0xa5, sizeof(*res));
	assert_int_equal(bl_runner_run(spec, res), 0);
}

static void run_script(const struct fx *fx, const char *body, struct bl_run_result *res)
{
	char *path = script(fx, body);
	struct bl_run_spec spec = spec_for(fx, path);

	run_spec(&spec, res);
	free(path);
}

/* The lines of the run log that start with prefix, in order; malloc'd. */
static char *log_lines(const struct fx *fx, const char *prefix)
{
	char *log = tu_slurp(fx->log_path), *out = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);

	assert_non_null(log);
	assert_non_null(m);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			fprintf(m, "%s\n", line);
	fclose(m);
	free(log);
	return out;
}

static void assert_log_contains(const struct fx *fx, const char *text)
{
	char *log = tu_slurp(fx->log_path);

	assert_non_null(log);
	if (!strstr(log, text))
		fail_msg("log lacks \"%s\":\n%s", text, log);
	free(log);
}

static void assert_describe(const struct bl_run_result *res, unsigned timeout,
			    const char *want)
{
	char buf[128];

	bl_run_result_describe(res, timeout, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static pid_t read_pid(const struct fx *fx, const char *name)
{
	char *path = NULL, *text;
	long pid;

	assert_true(asprintf(&path, "%s/%s", fx->dir, name) > 0);
	text = tu_slurp(path);
	assert_non_null(text);
	pid = strtol(text, NULL, 10);
	assert_true(pid > 1);
	free(text);
	free(path);
	return (pid_t)pid;
}

/* Whether pid is gone, allowing a few seconds.  A killed background process
 * is reparented to init, which may be slow to reap it or (in some
 * containers) never does: a zombie counts as gone. */
static bool process_gone(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 100; i++) {
		char *stat = tu_slurp(path);
		char *paren = stat ? strrchr(stat, ')') : NULL;
		bool gone = !stat || (paren && paren[1] == ' ' && paren[2] == 'Z');

		free(stat);
		if (gone)
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
	return false;
}

static void test_exit_status(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;

	run_script(fx, "exit 0\n", &res);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.signal, 0);
	assert_false(res.timed_out);
	assert_true(res.duration >= 0);
	assert_true(bl_run_result_ok(&res));
	assert_describe(&res, 20, "exit status 0");

	run_script(fx, "exit 3\n", &res);
	assert_int_equal(res.exit_code, 3);
	assert_int_equal(res.signal, 0);
	assert_false(res.timed_out);
	assert_false(bl_run_result_ok(&res));
	assert_describe(&res, 20, "exit status 3");
}

static void test_killed_by_signal(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char want[64];

	run_script(fx, "kill -USR1 $$\nsleep 5\n", &res);
	assert_int_equal(res.exit_code, -1);
	assert_int_equal(res.signal, SIGUSR1);
	assert_false(res.timed_out);
	assert_false(bl_run_result_ok(&res));
	snprintf(want, sizeof(want), "killed by signal %d (SIGUSR1)", SIGUSR1);
	assert_describe(&res, 20, want);
}

/* Lines of each stream keep their order (the two pipes are read
 * independently, so only within a stream is there an order). */
static void test_output_lines(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *out, *err;

	run_script(fx,
		   "echo one\n"
		   "echo two >&2\n"
		   "echo three\n"
		   "echo 'four  with  spaces' >&2\n"
		   "echo\n"
		   "printf 'err-last' >&2\n"
		   "printf last\n", &res);
	assert_true(bl_run_result_ok(&res));
	out = log_lines(fx, "t: ");
	err = log_lines(fx, "t[stderr]: ");
	assert_string_equal(out, "t: one\nt: three\nt: \nt: last\n");
	assert_string_equal(err, "t[stderr]: two\nt[stderr]: four  with  spaces\n"
			    "t[stderr]: err-last\n");
	free(out);
	free(err);
}

/* Lines over 4096 bytes are split; a line of exactly 4096 is not, and its
 * newline does not make an empty line of its own. */
static void test_long_lines(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *got, *want = NULL;
	char a[4097], b[4097], rest[905];

	run_script(fx,
		   "head -c 5000 /dev/zero | tr '\\0' a; echo\n"
		   "head -c 4096 /dev/zero | tr '\\0' b; echo\n"
		   "echo end\n", &res);
	assert_true(bl_run_result_ok(&res));
	memset(a, 'a', 4096);
	a[4096] = '\0';
	memset(b, 'b', 4096);
	b[4096] = '\0';
	memset(rest, 'a', 904);
	rest[904] = '\0';
	assert_true(asprintf(&want, "t: %s\nt: %s\nt: %s\nt: end\n", a, rest, b) > 0);
	got = log_lines(fx, "t");
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/* Our own stdin holds data; the script must see /dev/null instead. */
static void test_stdin_is_dev_null(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	int saved = dup(0), p[2];

	assert_true(saved >= 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "leak\n", 5), 5);
	assert_int_equal(dup2(p[0], 0), 0);
	run_script(fx,
		   "if read x; then echo \"read:$x\"; else echo eof; fi\n"
		   "readlink /proc/$$/fd/0\n", &res);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	close(p[0]);
	close(p[1]);
	assert_true(bl_run_result_ok(&res));
	assert_log_contains(fx, "t: eof\nt: /dev/null\n");
}

/* Only the given variables (and PWD, which sh itself exports). */
static void test_environment_clean(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *out, *line, *save = NULL;
	size_t seen = 0;

	assert_int_equal(setenv("BOOTLACE_TEST_MARKER", "inherited", 1), 0);
	run_script(fx, "env\n", &res);
	unsetenv("BOOTLACE_TEST_MARKER");
	assert_true(bl_run_result_ok(&res));

	out = log_lines(fx, "t: ");
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *var = line + strlen("t: ");
		bool known = strncmp(var, "PWD=", 4) == 0;

		for (size_t i = 0; test_env[i]; i++)
			if (strcmp(var, test_env[i]) == 0) {
				known = true;
				seen++;
			}
		if (!known)
			fail_msg("unexpected variable in the script's environment: %s", var);
	}
	assert_int_equal(seen, 4);
	free(out);
}

static void test_own_process_group(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *out;
	int pid = 0, pgid = 0;

	/* Field 5 of /proc/PID/stat is the process group. */
	run_script(fx, "echo \"$$ $(cut -d' ' -f5 /proc/$$/stat)\"\n", &res);
	assert_true(bl_run_result_ok(&res));
	out = log_lines(fx, "t: ");
	assert_int_equal(sscanf(out, "t: %d %d", &pid, &pgid), 2);
	assert_true(pid > 0);
	assert_int_equal(pgid, pid);
	assert_int_not_equal(pgid, getpgrp());
	free(out);
}

static void test_cwd(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *path = script(fx, "pwd -P\n"), *real = realpath(fx->dir, NULL), *want = NULL;
	char *missing = NULL;
	struct bl_run_spec spec = spec_for(fx, path);

	assert_non_null(real);
	run_spec(&spec, &res);
	assert_true(bl_run_result_ok(&res));
	assert_log_contains(fx, "t: /\n");

	spec.cwd = fx->dir;
	run_spec(&spec, &res);
	assert_true(bl_run_result_ok(&res));
	assert_true(asprintf(&want, "t: %s\n", real) > 0);
	assert_log_contains(fx, want);

	assert_true(asprintf(&missing, "%s/missing", fx->dir) > 0);
	spec.cwd = missing;
	run_spec(&spec, &res);
	assert_int_equal(res.exit_code, 127);
	assert_log_contains(fx, "t[stderr]: bootlace: cannot change directory to ");
	free(missing);
	free(want);
	free(real);
	free(path);
}

/* Our umask, descriptors and signal state do not reach the script. */
static void test_clean_process_state(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *body = NULL;
	int leak = open("/dev/null", O_RDONLY);  /* deliberately not O_CLOEXEC */
	mode_t old_umask = umask(077);
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_usr2;
	sigset_t hup, old_mask;

	assert_true(leak > 2);
	assert_int_equal(sigaction(SIGUSR2, &ign, &old_usr2), 0);
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	assert_int_equal(sigprocmask(SIG_BLOCK, &hup, &old_mask), 0);

	assert_true(asprintf(&body,
			     "umask\n"
			     "if [ -e /proc/$$/fd/%d ]; then echo leaked; else echo closed; fi\n"
			     /* Signals 32 and 33 are glibc's own: sigaction() refuses
			      * them, so whatever the test's parent (make) set for them
			      * stays; they mean nothing to a script. */
			     "for f in SigBlk SigIgn; do\n"
			     "  v=$(sed -n \"s/^$f:[[:space:]]*//p\" /proc/$$/status)\n"
			     "  printf '%%s:%%016x\\n' $f $(( 0x$v & ~0x180000000 ))\n"
			     "done\n",
			     leak) > 0);
	run_script(fx, body, &res);

	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGUSR2, &old_usr2, NULL);
	umask(old_umask);
	close(leak);
	free(body);
	assert_true(bl_run_result_ok(&res));
	assert_log_contains(fx, "t: 0022\nt: closed\n"
			    "t: SigBlk:0000000000000000\nt: SigIgn:0000000000000000\n");
}

/* SIGTERM reaches a background process of the script too. */
static void test_timeout_kills_group(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *body = NULL, *path;
	struct bl_run_spec spec;

	assert_true(asprintf(&body,
			     "sleep 1000 &\n"
			     "echo $! > '%s/bg.pid'\n"
			     "echo started\n"
			     "sleep 1000\n", fx->dir) > 0);
	path = script(fx, body);
	spec = spec_for(fx, path);
	spec.timeout = 1;
	spec.kill_grace = 5;
	run_spec(&spec, &res);
	assert_true(res.timed_out);
	assert_false(res.killed);
	assert_int_equal(res.signal, SIGTERM);
	assert_int_equal(res.exit_code, -1);
	assert_false(bl_run_result_ok(&res));
	assert_describe(&res, 1, "timed out after 1s (stopped by SIGTERM)");
	assert_log_contains(fx, "t: started\n");
	assert_true(process_gone(read_pid(fx, "bg.pid")));
	free(path);
	free(body);
}

static volatile sig_atomic_t stop_flag;

static void on_usr1(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The daemon's SIGTERM: a signal blocked outside the runner's wait sets the
 * stop flag (here the script signals its parent itself), and the script's
 * group gets SIGTERM at once, not at its timeout. */
static void test_stop_flag(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	sigset_t block, saved, wait_mask;
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	char *path = script(fx, "echo started\nkill -USR1 $PPID\nsleep 1000\n");
	struct bl_run_spec spec = spec_for(fx, path);

	stop_flag = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &saved), 0);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	wait_mask = saved;
	sigdelset(&wait_mask, SIGUSR1);
	spec.stop = &stop_flag;
	spec.wait_mask = &wait_mask;
	spec.timeout = 20;
	double t0 = bl_now_monotonic();
	run_spec(&spec, &res);
	double took = bl_now_monotonic() - t0;
	sigaction(SIGUSR1, &old, NULL);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	assert_int_equal(stop_flag, 1);
	assert_true(res.stopped);
	assert_false(res.timed_out);
	assert_int_equal(res.signal, SIGTERM);
	assert_false(bl_run_result_ok(&res));
	assert_describe(&res, 20, "stopped with bootlace (SIGTERM)");
	assert_true(took < 10);  /* long before the 20 s timeout */
	free(path);
}

static int ticks;

static void count_tick(void *ctx)
{
	(void)ctx;
	ticks++;
}

/* The watchdog tick runs while a long script does, about once a second. */
static void test_tick(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *path = script(fx, "sleep 2.5\n");
	struct bl_run_spec spec = spec_for(fx, path);

	ticks = 0;
	spec.tick = count_tick;
	spec.tick_interval = 1;
	run_spec(&spec, &res);
	assert_true(bl_run_result_ok(&res));
	assert_in_range(ticks, 3, 4);
	free(path);
}

/* A script that survives SIGTERM is SIGKILLed after the grace; its output
 * during the grace is still read. */
static void test_term_ignored_then_killed(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *path = script(fx,
			    "trap 'echo got TERM' TERM\n"
			    "echo ready\n"
			    "while :; do sleep 0.1; done\n");
	struct bl_run_spec spec = spec_for(fx, path);

	/* A grace long enough for the trap to run on a loaded machine. */
	spec.timeout = 1;
	spec.kill_grace = 3;
	run_spec(&spec, &res);
	assert_true(res.timed_out);
	assert_true(res.killed);
	assert_int_equal(res.signal, SIGKILL);
	assert_false(bl_run_result_ok(&res));
	assert_describe(&res, 1, "timed out after 1s (SIGTERM, then SIGKILL after 3s grace)");
	assert_log_contains(fx, "t: ready\n");
	assert_log_contains(fx, "t: got TERM\n");
	free(path);
}

static void assert_exec_failure(const struct fx *fx, const char *path, int code,
				const char *reason)
{
	struct bl_run_spec spec = spec_for(fx, path);
	struct bl_run_result res;
	char *want = NULL;

	run_spec(&spec, &res);
	assert_int_equal(res.exit_code, code);
	assert_false(res.timed_out);
	assert_false(bl_run_result_ok(&res));
	assert_true(asprintf(&want, "t[stderr]: bootlace: cannot execute %s: %s\n",
			     path, reason) > 0);
	assert_log_contains(fx, want);
	free(want);
}

static void test_exec_failure(void **state)
{
	struct fx *fx = *state;
	char *noexec = tu_write(fx->dir, "noexec.sh", "#!/bin/sh\necho hi\n", 0644);
	char *badinterp = tu_write(fx->dir, "badinterp.sh", "#!/nonexistent/sh\necho hi\n", 0755);
	char *missing = NULL;

	assert_true(asprintf(&missing, "%s/missing.sh", fx->dir) > 0);
	assert_exec_failure(fx, noexec, 126, "Permission denied");
	assert_exec_failure(fx, badinterp, 127,
			    "No such file or directory (is its #! interpreter missing?)");
	assert_exec_failure(fx, missing, 127, "No such file or directory");
	free(missing);
	free(badinterp);
	free(noexec);
}

/* A background process holding stdout open does not keep the runner
 * waiting, and is not killed after a normal exit; output written shortly
 * after the script exited is still read. */
static void test_background_holds_output(void **state)
{
	struct fx *fx = *state;
	struct bl_run_result res;
	char *body = NULL;
	pid_t bg;

	assert_true(asprintf(&body,
			     "sleep 1000 &\n"
			     "echo $! > '%s/bg.pid'\n"
			     "(sleep 0.1; echo late) &\n"
			     "echo main done\n", fx->dir) > 0);
	run_script(fx, body, &res);
	bg = read_pid(fx, "bg.pid");
	assert_int_equal(kill(bg, 0), 0);
	kill(bg, SIGKILL);
	free(body);

	assert_true(bl_run_result_ok(&res));
	assert_false(res.timed_out);
	assert_true(res.duration < 10);
	assert_log_contains(fx, "t: main done\n");
	assert_log_contains(fx, "t: late\n");
}

/* A log_fd nobody reads any more: the run goes on, we are not killed by
 * SIGPIPE, and our signal mask and pending set are as before. */
static void test_log_fd_broken_pipe(void **state)
{
	struct fx *fx = *state;
	char *path = script(fx, "echo one\necho two\nexit 4\n");
	struct bl_run_spec spec = spec_for(fx, path);
	struct bl_run_result res;
	sigset_t before, after, pending;
	int p[2];

	assert_int_equal(pipe(p), 0);
	close(p[0]);
	spec.log_fd = p[1];
	sigprocmask(SIG_SETMASK, NULL, &before);
	run_spec(&spec, &res);
	sigprocmask(SIG_SETMASK, NULL, &after);
	sigpending(&pending);
	close(p[1]);
	assert_int_equal(res.exit_code, 4);
	assert_false(sigismember(&pending, SIGPIPE));
	for (int sig = 1; sig < NSIG; sig++)
		assert_int_equal(sigismember(&before, sig), sigismember(&after, sig));
	free(path);
}

static void test_describe(void **state)
{
	struct bl_run_result res = { .exit_code = 0 };
	char want[32], small[8];

	(void)state;
	assert_true(bl_run_result_ok(&res));
	assert_describe(&res, 30, "exit status 0");

	res = (struct bl_run_result){ .exit_code = -1, .signal = SIGKILL };
	assert_false(bl_run_result_ok(&res));
	assert_describe(&res, 30, "killed by signal 9 (SIGKILL)");

	res = (struct bl_run_result){ .exit_code = -1, .signal = SIGRTMIN + 1 };
	snprintf(want, sizeof(want), "killed by signal %d", SIGRTMIN + 1);
	assert_describe(&res, 30, want);

	res = (struct bl_run_result){ .exit_code = 0, .timed_out = true, .kill_grace = 10 };
	assert_false(bl_run_result_ok(&res));
	assert_describe(&res, 30, "timed out after 30s (stopped by SIGTERM)");

	res = (struct bl_run_result){ .exit_code = -1, .signal = SIGKILL, .timed_out = true,
				      .killed = true, .kill_grace = 10 };
	assert_describe(&res, 30, "timed out after 30s (SIGTERM, then SIGKILL after 10s grace)");

	/* Truncated, but always terminated. */
	bl_run_result_describe(&res, 30, small, sizeof(small));
	assert_string_equal(small, "timed o");
}

/* A script held in a memfd (user data) runs from it: its interpreter reads
 * /dev/fd/3, and nothing else of the parent's stays open. */
static void test_exec_fd(void **state)
{
	struct fx *fx = *state;
	const char text[] = "#!/bin/sh\necho \"arg0=$0\"\nls /proc/self/fd | sort -n | tr '\\n' ' '\n";
	int fd = memfd_create("test-script", MFD_CLOEXEC);
	assert_true(fd > 2);
	assert_int_equal(bl_write_all(fd, text, sizeof(text) - 1), 0);
	int stray = open("/dev/null", O_RDONLY);  /* not CLOEXEC: must still not leak */
	assert_true(stray > 2);
	struct bl_run_spec spec = spec_for(fx, "user-data");
	spec.exec_fd = fd;
	struct bl_run_result res;
	run_spec(&spec, &res);
	close(stray);
	close(fd);
	assert_int_equal(res.exit_code, 0);
	assert_log_contains(fx, "t: arg0=/dev/fd/3\n");
	/* 0-2, 3 (the script), and ls's own directory fd. */
	assert_log_contains(fx, "t: 0 1 2 3 4 \n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exit_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_by_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin_is_dev_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_process_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_process_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_term_ignored_then_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_background_holds_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_fd_broken_pipe, setup, teardown),
		cmocka_unit_test(test_describe),
	};
	sigset_t none;

	/* We may be started with signals blocked or SIGPIPE ignored (some job
	 * runners do); the alarms and the SIGPIPE test need the usual state. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
