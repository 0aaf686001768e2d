/* daemon.h - `bootlace daemon`: setup, then reconvergence, under systemd.
 *
 * One process: setup if it has not completed for this instance (retried
 * every interval until it does), then every converge.interval plus a random
 * splay one convergence cycle (agent.h).  Between cycles it sleeps in one
 * wait until the next deadline: no polling.  systemd Type=notify: READY=1
 * once setup has succeeded, STATUS= always, WATCHDOG=1 when WatchdogSec is
 * set (also while a script runs).  SIGHUP re-reads the configuration and
 * converges now, SIGUSR1 converges now, SIGTERM (or SIGINT) stops a running
 * script's group and, when the system is shutting down (shutdown.on_stop),
 * runs the shutdown event before exiting. */
#ifndef BOOTLACE_DAEMON_H
#define BOOTLACE_DAEMON_H

#include <stdbool.h>

#include "agent.h"
#include "config.h"

struct bl_daemon_options {
	const char *config_path;  /* re-read on SIGHUP */
	bool config_must_exist;
	const char *state_dir;    /* overrides the config's, or NULL */
	bool log_level_fixed;     /* -v/-q given: a reload keeps the log level */
};

/* Runs until SIGTERM/SIGINT.  *cfg is the loaded configuration, replaced
 * on a successful reload.  0 after a clean stop, or a negative code when
 * the daemon cannot run at all. */
int bl_daemon_run(struct bl_config *cfg, const struct bl_daemon_options *opts);

#endif
