/* state.h - the state directory: lock, what ran, per instance.
 *
 * Layout under state_dir (0700, owned by the running user, refused if group
 * or world writable):
 *   lock                          flock(2) held by the running bootlace
 *   instances/<id>/events.json    events completed on that instance id, when
 *   runs/<event>.json             the last run of that event, per layer
 *   current.json                  the run in progress: event, instance, pid,
 *                                 layer (replaced as each starts, removed
 *                                 when the run ends)
 *   logs/<event>-<time>.log       each run's script output (0600)
 *   scripts/<event>/NN-<name>     the scripts as executed (0700)
 *   context.json, user-data       for scripts / for the record (0600)
 * Every record is replaced atomically (temp file, fsync, rename); run logs
 * are appended as scripts write, and the lock file only holds a pid. */
#ifndef BOOTLACE_STATE_H
#define BOOTLACE_STATE_H

#include <stdbool.h>
#include <time.h>
#include <jansson.h>

struct bl_state {
	char *dir;
	int lock_fd;  /* -1 until locked */
};

/* Opens (creating with 0700 if create) and checks the state directory. */
int bl_state_open(struct bl_state *st, const char *dir, bool create);
void bl_state_close(struct bl_state *st);

/* Tries the exclusive lock once: 0, or -BL_ELOCKED without a message and
 * *holder the holder's pid (0 when unknown); other errors are logged. */
int bl_state_try_lock(struct bl_state *st, long *holder);
/* Takes the exclusive lock, or returns -BL_ELOCKED naming the holder's pid
 * in the log.  It tries for a moment first: status holds the lock shared
 * for an instant when it looks, which must not fail a run. */
int bl_state_lock(struct bl_state *st);

/* Path under the state dir; malloc'd. */
char *bl_state_path(const struct bl_state *st, const char *rel);

/* Whether event completed on instance_id; *when if so (may be NULL). */
bool bl_state_event_done(const struct bl_state *st, const char *instance_id,
			 const char *event, time_t *when);
int bl_state_mark_event_done(const struct bl_state *st, const char *instance_id,
			     const char *event, time_t when);

/* The last run record of an event (a JSON object, see bootlace(8) FILES). */
int bl_state_save_run(const struct bl_state *st, const char *event, json_t *record);
/* All last-run records: object event -> record. *out is a new reference. */
int bl_state_load_runs(const struct bl_state *st, json_t **out);

/* Whether some process holds the lock.  Never blocks: free, it is taken
 * shared for an instant only. */
bool bl_state_lock_held(const struct bl_state *st);

/* current.json, the run in progress (its fields are the agent's, see
 * bootlace(8) FILES).  save replaces it atomically; clear removes it. */
int bl_state_save_current(const struct bl_state *st, json_t *current);
void bl_state_clear_current(const struct bl_state *st);
/* *out: current.json (a new reference), NULL when there is none.  *live:
 * its process still runs and the lock is held; a file that is not live is
 * what a killed run left behind. */
int bl_state_load_current(const struct bl_state *st, json_t **out, bool *live);

/* Writes a file under the state dir atomically (rel may contain '/'; parents
 * are created 0700). */
int bl_state_write(const struct bl_state *st, const char *rel, const void *data,
		   size_t len, mode_t mode);

#endif
