/* runner.h - runs one layer script and reports how it ended.
 *
 * The script runs in its own process group with stdin from /dev/null and the
 * environment it is given (nothing inherited).  Each line it writes to stdout
 * or stderr is logged with the layer name (bl_log_layer_line) and appended to
 * log_fd as "LAYER: line" (stderr lines as "LAYER[stderr]: line").  On
 * timeout the whole group gets SIGTERM, then SIGKILL after the grace period. */
#ifndef BOOTLACE_RUNNER_H
#define BOOTLACE_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct bl_run_spec {
	const char *path;          /* executable script, honoured shebang */
	int exec_fd;               /* > 2: run this file instead (a sealed
				    * memfd: user data never touches a disk);
				    * path then only names it.  0 = path */
	const char *layer;         /* name used in logs */
	char *const *envp;         /* full environment */
	const char *cwd;           /* working directory, NULL = "/" */
	unsigned timeout;          /* seconds; 0 = none */
	unsigned kill_grace;       /* seconds after SIGTERM before SIGKILL */
	int log_fd;                /* per-run log file, -1 = none */
	/* For the daemon; all optional. */
	volatile sig_atomic_t *stop; /* set (by a signal handler): the group gets
				      * SIGTERM now and SIGKILL after kill_grace */
	const sigset_t *wait_mask;   /* signal mask while waiting (ppoll), so
				      * that a signal setting *stop is never
				      * missed; NULL = the current mask (*stop
				      * is then looked at every half second) */
	void (*tick)(void *ctx);     /* called at the start and then every
				      * tick_interval seconds (a watchdog ping) */
	void *tick_ctx;
	unsigned tick_interval;
};

struct bl_run_result {
	int exit_code;       /* when exited normally, else -1 */
	int signal;          /* when killed by a signal, else 0 */
	bool timed_out;
	bool stopped;        /* ended by spec->stop (bootlace was stopping) */
	bool killed;         /* outlived the grace after SIGTERM: SIGKILLed */
	unsigned kill_grace; /* the grace it had (spec->kill_grace), for messages */
	double duration;     /* seconds */
};

/* 0 when the script ran (whatever its exit status; see result), negative
 * when it could not be started.  A script that cannot be executed ends with
 * exit status 126 (127 if it or its #! interpreter does not exist) and the
 * reason on its stderr.  Background processes that keep its output open are
 * read for about a second after it exits, then left alone: their pipes are
 * closed, so a daemon a script starts should redirect its output. */
int bl_runner_run(const struct bl_run_spec *spec, struct bl_run_result *result);

/* true when the result is a success (exit 0, no signal, no timeout). */
bool bl_run_result_ok(const struct bl_run_result *r);

/* "exit status 3", "killed by signal 9 (SIGKILL)", "timed out after 30s
 * (stopped by SIGTERM)" or "timed out after 30s (SIGTERM, then SIGKILL after
 * 10s grace)": into buf. */
void bl_run_result_describe(const struct bl_run_result *r, unsigned timeout,
			    char *buf, size_t len);

/* The fixed environment every script gets, before BOOTLACE_* variables. */
#define BL_SCRIPT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#endif
