/* status.h - `bootlace status` and `bootlace analyze`: what ran, what is
 * running and where the time went, for people (tables) and for programs
 * (--json).
 *
 * Everything comes from the state dir alone: the run records, the events
 * completed per instance and current.json, the run in progress.  No
 * datasource is asked, so these are safe and instant while a run holds the
 * lock, and `status --wait` can poll. */
#ifndef BOOTLACE_STATUS_H
#define BOOTLACE_STATUS_H

#include <stdbool.h>
#include <stdio.h>

/* Prints each event's state (not started, running with its layer, done,
 * failed with the layer and why, interrupted) and the last run of each.
 * 0 unless some event failed or was interrupted (-BL_ELAYER), another
 * negative code when the state cannot be read. */
int bl_status_print(const char *state_dir, bool json, FILE *out);

/* How long `status --wait` gives a bootlace that is just starting to take
 * the lock (a daemon at boot reads IMDS first: usually well under a second)
 * before concluding that nothing is running. */
#define BL_STATUS_WAIT_GRACE 5.0

/* Waits until setup is done or failed, polling the state dir, then prints
 * as bl_status_print.  It never outlasts timeout seconds, and when no
 * bootlace is running (no live current.json, the lock free) while setup has
 * not finished, it gives up after grace seconds: nothing would finish it.
 * 0 done; -BL_ELAYER failed or interrupted; -BL_ETIMEOUT timed out or no
 * bootlace running; another negative code when the state cannot be read. */
int bl_status_wait(const char *state_dir, bool json, double timeout, double grace, FILE *out);

/* Where the time of each event's last run went, longest first: phases
 * (datasource, lock, plan, fetch, write), each layer's script, and what is
 * left unaccounted, with the total.  0 or a negative code. */
int bl_analyze_print(const char *state_dir, bool json, FILE *out);

#endif
