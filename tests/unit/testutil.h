/* testutil.h - helpers shared by the cmocka unit tests: temporary
 * directories that are removed afterwards, small file helpers.  Everything a
 * test writes stays under its own mkdtemp() directory. */
#ifndef BOOTLACE_TESTUTIL_H
#define BOOTLACE_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bootlace/state.h"

static inline int tu_rm_entry(const char *path, const struct stat *sb, int flag,
			      struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

/* A fresh directory under $TMPDIR (or /tmp); free with tu_rmtree(). */
static inline char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *path = NULL;
	if (asprintf(&path, "%s/bootlace-test.XXXXXX", base && *base ? base : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static inline void tu_rmtree(char *path)
{
	if (!path)
		return;
	nftw(path, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

/* Writes text to dir/name (mode) and returns the malloc'd full path. */
static inline char *tu_write(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* Reads a whole file into a malloc'd string (NULL if missing). */
static inline char *tu_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *data = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&data, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return data;
}

/* What bootlace logs (to stderr) between tu_stderr_to(path) and
 * tu_stderr_back(): the first sends fd 2 to path and returns the fd to
 * restore, the second restores it (tu_stderr_restore) and returns what was
 * logged (malloc'd), removing path. */
static inline int tu_stderr_to(const char *path)
{
	fflush(stderr);
	int saved = dup(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

/* stderr is the test's own again, so that cmocka's failure messages are
 * seen; *saved (tu_stderr_to's fd) becomes -1, and a second call, from a
 * teardown after a failed assertion say, does nothing. */
static inline void tu_stderr_restore(int *saved)
{
	if (*saved < 0)
		return;
	fflush(stderr);
	dup2(*saved, 2);
	close(*saved);
	*saved = -1;
}

static inline char *tu_stderr_back(int *saved, const char *path)
{
	tu_stderr_restore(saved);
	char *log = tu_slurp(path);
	assert_non_null(log);
	unlink(path);
	return log;
}

/* Another bootlace, as far as the lock goes: a child that takes the state
 * lock of dir (created if create) and holds it for ms milliseconds.
 * Returns once the lock is held; tu_reap() waits for the child. */
static inline pid_t tu_lock_holder(const char *dir, bool create, unsigned ms)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct bl_state st;
		close(ready[0]);
		if (bl_state_open(&st, dir, create) < 0 || bl_state_lock(&st) < 0)
			_exit(10);
		if (write(ready[1], "r", 1) != 1)
			_exit(11);
		usleep(ms * 1000);
		_exit(0);  /* the lock goes with the process */
	}
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

/* Makes fd 2 look like systemd's journal stream (JOURNAL_STREAM names its
 * device and inode), as it is for a service.  bl_log_init() then sees it. */
static inline void tu_stderr_is_journal(void)
{
	struct stat st;
	char value[64];
	assert_int_equal(fstat(2, &st), 0);
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", value, 1);
}

/* Waits for a child and checks that it exited 0. */
static inline void tu_reap(pid_t pid)
{
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#endif
