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

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

#endif
