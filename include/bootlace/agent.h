/* agent.h - one run of an event: resolve the instance and its layers,
 * fetch every layer whole, then run them in order and record the result.
 *
 * This is the first boot (`bootlace run`) and, later, each reconvergence
 * cycle of the daemon. */
#ifndef BOOTLACE_AGENT_H
#define BOOTLACE_AGENT_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"

struct bl_agent_options {
	const char *event;      /* "setup" by default */
	const char *state_dir;  /* overrides cfg->state_dir when set */
	bool dry_run;           /* print the plan to plan_out; fetch/run nothing */
	bool force;             /* run even if the event already completed */
	bool wait_lock;         /* wait for another bootlace instead of exit 4 */
	FILE *plan_out;         /* where --dry-run prints (stdout) */
};

/* Runs one event.  cfg may be extended by a "#bootlace" user-data document.
 * Returns 0 or a negative code (bl_exit_code() gives the exit status). */
int bl_agent_run(struct bl_config *cfg, const struct bl_agent_options *opts);

/* Event names bootlace knows (NULL-terminated). */
extern const char *const bl_events[];
bool bl_event_is_known(const char *name);

#endif
