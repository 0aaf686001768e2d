/* agent.h - one run of an event: resolve the instance and its layers,
 * fetch every layer whole, then run them in order and record the result.
 *
 * This is the first boot (`bootlace run`) and, later, each reconvergence
 * cycle of the daemon. */
#ifndef BOOTLACE_AGENT_H
#define BOOTLACE_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "instance.h"

/* What the daemon follows and controls during a run; all optional. */
struct bl_agent_hooks {
	/* A layer script is about to run. */
	void (*layer_start)(void *ctx, const char *event, const char *layer);
	void *ctx;
	/* Passed to the runner (runner.h): a stop request, the mask to wait
	 * with, and a periodic tick (the watchdog). */
	volatile sig_atomic_t *stop;
	const sigset_t *wait_mask;
	void (*tick)(void *ctx);
	unsigned tick_interval;
	/* Set by the agent when a run fails: "roles/web/setup.sh: exit status 3". */
	char failure[256];
};

struct bl_agent_options {
	const char *event;      /* "setup" by default */
	const char *state_dir;  /* overrides cfg->state_dir when set */
	bool dry_run;           /* print the plan to plan_out; fetch/run nothing */
	bool force;             /* run even if the event already completed */
	bool wait_lock;         /* wait for another bootlace instead of exit 4 */
	FILE *plan_out;         /* where --dry-run prints (stdout) */
	struct bl_agent_hooks *hooks; /* NULL = none */
	/* A daemon's instance record, kept from one call to the next: the
	 * first call fills it (datasource, user data), later ones only refresh
	 * it (its tags), reusing its IMDS token and credentials.  The caller
	 * frees it (bl_instance_free) to start over: after a failure, or when
	 * the configuration is read again.  NULL = a fresh record each call. */
	struct bl_instance *keep;
};

/* Runs one event.  cfg may be extended by a "#bootlace" user-data document.
 * Returns 0 or a negative code (bl_exit_code() gives the exit status). */
int bl_agent_run(struct bl_config *cfg, const struct bl_agent_options *opts);

/* What one convergence cycle did. */
enum bl_converge_outcome {
	BL_CONVERGE_SETUP,      /* setup had not completed: it ran (see the result) */
	BL_CONVERGE_BASELINE,   /* first look: what the layers are now was recorded */
	BL_CONVERGE_UNCHANGED,  /* nothing changed: nothing ran */
	BL_CONVERGE_CONFIGURED, /* something changed (or mode always): configure ran */
};

/* One convergence cycle: setup if it has not completed for this instance;
 * else re-resolve tags and layers, fetch the configure scripts with
 * conditional GETs against what the last cycle saw, and run `configure`
 * when anything changed (converge.mode on-change) or always.  0 or a
 * negative code; *outcome says which of the above happened. */
int bl_agent_converge(struct bl_config *cfg, const struct bl_agent_options *opts,
		      enum bl_converge_outcome *outcome);

/* Event names bootlace knows (NULL-terminated). */
extern const char *const bl_events[];
bool bl_event_is_known(const char *name);

#endif
