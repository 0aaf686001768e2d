/* emulator.h - starts and stops the loopback AWS emulators of tests/emulators
 * from a cmocka test.  The emulator binds 127.0.0.1 on a free port and says
 * "READY <port>"; it is stopped by pid in the test's teardown, pass or fail. */
#ifndef BOOTLACE_TEST_EMULATOR_H
#define BOOTLACE_TEST_EMULATOR_H

#include <signal.h>
#include <sys/wait.h>

struct emulator {
	pid_t pid;
	int port;
	char url[64];
};

/* Starts `python3 script args...` (args NULL-terminated) and waits up to
 * 15 s for its READY line. */
static inline void emulator_start(struct emulator *e, const char *script, const char *const *args)
{
	int out[2];
	char parent[32];
	/* Backstop: the emulator exits by itself once this test process is gone. */
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());
	char *argv[32] = { strdup("python3"), strdup(script), strdup("--port"), strdup("0"),
			   strdup("--parent-pid"), strdup(parent) };
	size_t n = 6;
	for (size_t i = 0; args && args[i] && n < 31; i++)
		argv[n++] = strdup(args[i]);
	argv[n] = NULL;
	assert_int_equal(pipe(out), 0);
	e->pid = fork();
	assert_true(e->pid >= 0);
	if (e->pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execvp("python3", argv);
		_exit(127);
	}
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	assert_non_null(f);
	char line[128] = "";
	alarm(15);  /* a hung emulator fails the test instead of hanging it */
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	alarm(0);
	fclose(f);
	assert_int_equal(sscanf(line, "READY %d", &e->port), 1);
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->port);
}

static inline void emulator_stop(struct emulator *e)
{
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
}

#endif
