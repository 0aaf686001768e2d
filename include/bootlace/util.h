/* util.h - small shared helpers: growable buffers, cleanup attributes,
 * atomic file writes, bounded file reads, sha256.
 *
 * Ownership is kept obvious with the _cleanup_ attribute (as systemd does):
 * a variable declared _cleanup_free_ is freed on every return path. */
#ifndef BOOTLACE_UTIL_H
#define BOOTLACE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void bl_freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ _cleanup_(bl_freep)

static inline void bl_fclosep(FILE **f) { if (*f) fclose(*f); }
#define _cleanup_fclose_ _cleanup_(bl_fclosep)

void bl_closep(int *fd);
#define _cleanup_close_ _cleanup_(bl_closep)

/* A growable byte buffer; data is always NUL-terminated (not counted in len)
 * so text can be used as a C string. */
struct bl_buf {
	char *data;
	size_t len;
	size_t cap;
};

int bl_buf_append(struct bl_buf *b, const void *data, size_t len);
int bl_buf_printf(struct bl_buf *b, const char *fmt, ...) _printf_(2, 3);
/* Frees the buffer; its contents are wiped first (user data may hold secrets). */
void bl_buf_free(struct bl_buf *b);
/* Moves src into dst (dst freed first); src is left empty. */
void bl_buf_move(struct bl_buf *dst, struct bl_buf *src);

/* Wipes a string that held a secret (a key, a token, a signed header) and
 * frees it; NULL is fine. */
void bl_free_secret(char *s);

/* asprintf that aborts nothing: returns NULL on allocation failure. */
char *bl_strdup_printf(const char *fmt, ...) _printf_(1, 2);

/* Reads a whole file; -BL_ETOOBIG if it is larger than max bytes,
 * -BL_ENOTFOUND if it does not exist. */
int bl_read_file(const char *path, size_t max, struct bl_buf *out);

/* Writes data to path atomically: a temp file beside it with the given mode,
 * fsync, rename, fsync of the directory.  Readers see the old or the new
 * content, never a partial one. */
int bl_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p with mode for each created component. */
/* Writes all len bytes to fd (retrying short writes and EINTR). */
int bl_write_all(int fd, const void *data, size_t len);

/* fsyncs a directory, so that renames into it survive a crash. */
int bl_fsync_dir(const char *dir);

int bl_mkdir_p(const char *path, mode_t mode);

/* Lowercase hex of len bytes into out (2 * len + 1 bytes with NUL). */
void bl_hex_encode(const void *data, size_t len, char *out);

/* Lowercase hex sha256 of data into out (65 bytes with NUL). */
void bl_sha256_hex(const void *data, size_t len, char out[65]);

/* Monotonic clock in seconds. */
double bl_now_monotonic(void);

/* A sign of life from long loops (IMDS retries, downloads, API retries):
 * calls the function the daemon set, which pings systemd's watchdog when
 * one is due.  Does nothing otherwise. */
void bl_set_keepalive(void (*fn)(void));
void bl_keepalive(void);

/* Sleeps s seconds, resuming after signals. */
void bl_sleep(double s);

/* Backoff before retry number attempt (0-based), "full jitter": uniform in
 * [0, min(cap, base * 2^attempt)) seconds, so that a fleet retrying at once
 * spreads out instead of hammering a service in waves. */
double bl_backoff_jitter(unsigned attempt, double base, double cap);

/* UTC time as RFC 3339 ("2026-11-22T10:00:00Z") into out (at least 21 bytes). */
void bl_format_utc(time_t t, char *out, size_t outlen);

/* true if s is a safe single path component drawn from [A-Za-z0-9._-],
 * 1..max chars, and not "." or "..". */
bool bl_is_safe_name(const char *s, size_t max);

/* Replaces every control character of s (a message that quotes input: a
 * YAML key from user data, say) with '?', in place, so that no input can
 * forge a log line or send escape sequences to the console.  Returns s. */
char *bl_printable(char *s);

#endif
