/* state.c - the state directory: one lock, what ran and when (state.h).
 *
 * The directory holds scripts that run as root and their logs, so it is
 * treated like sshd treats ~/.ssh: it must be ours and writable by no one
 * else, or bootlace refuses it.  Every file is replaced atomically, so a
 * crash or power loss at boot leaves the old record or the new one. */
#include "bootlace/state.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/util.h"

#define STATE_JSON_MAX (4 * 1024 * 1024)
#define CURRENT_JSON "current.json"

int bl_state_open(struct bl_state *st, const char *dir, bool create)
{
	*st = (struct bl_state){ .lock_fd = -1 };
	if (dir[0] != '/') {
		bl_err("state directory %s: must be an absolute path", dir);
		return -BL_ECONFIG;
	}
	if (create) {
		int r = bl_mkdir_p(dir, 0700);
		if (r < 0)
			return r;
	}
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat s;
	if (fd < 0) {
		/* O_NOFOLLOW|O_DIRECTORY fails on a symlink (ENOTDIR or ELOOP):
		 * a state dir that points elsewhere is refused, not an I/O error. */
		int saved = errno;
		if (lstat(dir, &s) == 0 && S_ISLNK(s.st_mode)) {
			bl_err("state directory %s is a symbolic link; refusing to use it", dir);
			return -BL_EPERM;
		}
		errno = saved;
	}
	if (fd < 0 || fstat(fd, &s) < 0) {
		bl_err("cannot open state directory %s: %s", dir, strerror(errno));
		return errno == ENOENT ? -BL_ENOTFOUND : -BL_EIO;
	}
	if (s.st_uid != geteuid()) {
		bl_err("state directory %s is owned by uid %u, not by us (uid %u); refusing to use it",
		       dir, (unsigned)s.st_uid, (unsigned)geteuid());
		return -BL_EPERM;
	}
	if (s.st_mode & (S_IWGRP | S_IWOTH)) {
		bl_err("state directory %s is group or world writable (mode %04o); "
		       "refusing to use it (chmod 0700 %s)", dir, (unsigned)(s.st_mode & 07777), dir);
		return -BL_EPERM;
	}
	st->dir = strdup(dir);
	return st->dir ? 0 : -BL_ENOMEM;
}

void bl_state_close(struct bl_state *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->dir);
	*st = (struct bl_state){ .lock_fd = -1 };
}

char *bl_state_path(const struct bl_state *st, const char *rel)
{
	return bl_strdup_printf("%s/%s", st->dir, rel);
}

int bl_state_try_lock(struct bl_state *st, long *holder)
{
	*holder = 0;
	if (st->lock_fd >= 0)
		return 0;
	_cleanup_free_ char *path = bl_state_path(st, "lock");
	if (!path)
		return -BL_ENOMEM;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		bl_err("cannot open lock file %s: %s", path, strerror(errno));
		return -BL_EIO;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			char pid[32] = "";
			ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
			if (n > 0)
				*holder = strtol(pid, NULL, 10);
			close(fd);
			return -BL_ELOCKED;
		}
		bl_err("cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return -BL_EIO;
	}
	/* The pid is informational: only the flock decides who holds the lock. */
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		bl_warn("cannot record our pid in %s: %s", path, strerror(errno));
	st->lock_fd = fd;
	return 0;
}

int bl_state_lock(struct bl_state *st)
{
	long holder = 0;
	int r = bl_state_try_lock(st, &holder);
	for (int i = 0; r == -BL_ELOCKED && i < 10; i++) {
		bl_sleep(0.025);
		r = bl_state_try_lock(st, &holder);
	}
	if (r == -BL_ELOCKED) {
		char pid[40] = "";
		if (holder > 0)
			snprintf(pid, sizeof(pid), " (pid %ld)", holder);
		bl_err("another bootlace%s holds the lock on %s; try again later or pass --wait",
		       pid, st->dir);
	}
	return r;
}

bool bl_state_lock_held(const struct bl_state *st)
{
	_cleanup_free_ char *path = bl_state_path(st, "lock");
	_cleanup_close_ int fd = path ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (fd < 0)
		return false;
	/* Shared and non-blocking: a bootlace taking the lock meanwhile waits
	 * (or, without --wait, fails) only for this instant. */
	while (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		if (errno != EINTR)
			return errno == EWOULDBLOCK;
	}
	flock(fd, LOCK_UN);
	return false;
}

int bl_state_write(const struct bl_state *st, const char *rel, const void *data,
		   size_t len, mode_t mode)
{
	_cleanup_free_ char *path = bl_state_path(st, rel);
	if (!path)
		return -BL_ENOMEM;
	char *slash = strrchr(path, '/');
	*slash = '\0';
	int r = bl_mkdir_p(path, 0700);
	*slash = '/';
	if (r < 0)
		return r;
	return bl_write_file_atomic(path, data, len, mode);
}

/* Reads a JSON object from rel; a missing file is an empty object. */
static int state_read_json(const struct bl_state *st, const char *rel, json_t **out)
{
	_cleanup_free_ char *path = bl_state_path(st, rel);
	struct bl_buf text = {0};
	*out = NULL;
	if (!path)
		return -BL_ENOMEM;
	int r = bl_read_file(path, STATE_JSON_MAX, &text);
	if (r == -BL_ENOTFOUND) {
		*out = json_object();
		return *out ? 0 : -BL_ENOMEM;
	}
	if (r < 0) {
		bl_err("cannot read %s: %s", path, bl_strerror(r));
		return r;
	}
	json_error_t err;
	*out = json_loadb(text.data, text.len, 0, &err);
	bl_buf_free(&text);
	if (!*out || !json_is_object(*out)) {
		bl_err("%s:%d:%d: not a JSON object: %s", path, err.line, err.column,
		       *out ? "wrong type" : err.text);
		json_decref(*out);
		*out = NULL;
		return -BL_EFORMAT;
	}
	return 0;
}

static int state_write_json(const struct bl_state *st, const char *rel, json_t *obj)
{
	_cleanup_free_ char *text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return -BL_ENOMEM;
	size_t len = strlen(text);
	text[len] = '\n';
	return bl_state_write(st, rel, text, len + 1, 0600);
}

static char *events_file(const char *instance_id)
{
	/* Datasources guarantee a safe id; checked again because it names a path. */
	if (!bl_is_safe_name(instance_id, 128))
		return NULL;
	return bl_strdup_printf("instances/%s/events.json", instance_id);
}

bool bl_state_event_done(const struct bl_state *st, const char *instance_id,
			 const char *event, time_t *when)
{
	_cleanup_free_ char *rel = events_file(instance_id);
	json_t *events = NULL;
	if (!rel || state_read_json(st, rel, &events) < 0)
		return false;
	json_t *rec = json_object_get(events, event);
	json_t *epoch = json_object_get(rec, "completed_epoch");
	bool done = json_is_integer(epoch);
	if (done && when)
		*when = (time_t)json_integer_value(epoch);
	json_decref(events);
	return done;
}

int bl_state_mark_event_done(const struct bl_state *st, const char *instance_id,
			     const char *event, time_t when)
{
	_cleanup_free_ char *rel = events_file(instance_id);
	json_t *events = NULL;
	if (!rel)
		return -BL_EUNSAFE;
	int r = state_read_json(st, rel, &events);
	if (r < 0)
		return r;
	char stamp[32];
	bl_format_utc(when, stamp, sizeof(stamp));
	json_t *rec = json_pack("{s:s, s:I}", "completed_at", stamp, "completed_epoch",
				(json_int_t)when);
	if (!rec || json_object_set_new(events, event, rec) < 0)
		r = -BL_ENOMEM;
	else
		r = state_write_json(st, rel, events);
	json_decref(events);
	return r;
}

int bl_state_save_run(const struct bl_state *st, const char *event, json_t *record)
{
	_cleanup_free_ char *rel = bl_strdup_printf("runs/%s.json", event);
	return rel ? state_write_json(st, rel, record) : -BL_ENOMEM;
}

int bl_state_load_runs(const struct bl_state *st, json_t **out)
{
	_cleanup_free_ char *dir = bl_state_path(st, "runs");
	json_t *runs = json_object();
	*out = NULL;
	if (!dir || !runs) {
		json_decref(runs);
		return -BL_ENOMEM;
	}
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		if (name[0] != '.' && len > 5 && strcmp(name + len - 5, ".json") == 0) {
			_cleanup_free_ char *rel = bl_strdup_printf("runs/%s", name);
			json_t *rec = NULL;
			if (rel && state_read_json(st, rel, &rec) == 0) {
				const char *event = json_string_value(json_object_get(rec, "event"));
				if (event)
					json_object_set_new(runs, event, rec);
				else
					json_decref(rec);
			}
		}
		free(names[i]);
	}
	free(names);
	*out = runs;
	return 0;
}

int bl_state_save_current(const struct bl_state *st, json_t *current)
{
	return state_write_json(st, CURRENT_JSON, current);
}

void bl_state_clear_current(const struct bl_state *st)
{
	_cleanup_free_ char *path = bl_state_path(st, CURRENT_JSON);
	if (path && unlink(path) < 0 && errno != ENOENT)
		bl_warn("cannot remove %s: %s", path, strerror(errno));
}

int bl_state_load_current(const struct bl_state *st, json_t **out, bool *live)
{
	json_t *cur = NULL;
	*out = NULL;
	*live = false;
	int r = state_read_json(st, CURRENT_JSON, &cur);
	if (r < 0)
		return r;
	if (!json_object_size(cur)) {
		json_decref(cur);
		return 0;
	}
	/* The pid alone could be another process's by now (after a reboot
	 * above all); a running bootlace also holds the lock, which dies with
	 * its process. */
	json_int_t pid = json_integer_value(json_object_get(cur, "pid"));
	*live = pid > 0 && pid <= INT_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM) && bl_state_lock_held(st);
	*out = cur;
	return 0;
}
