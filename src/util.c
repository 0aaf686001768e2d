/* util.c - buffers, atomic writes, bounded reads and other small pieces
 * every subsystem needs (util.h). */
#include "bootlace/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bootlace/error.h"
#include "bootlace/log.h"

void bl_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static int buf_reserve(struct bl_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		return -BL_ENOMEM;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *data = realloc(b->data, cap);
	if (!data)
		return -BL_ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

int bl_buf_append(struct bl_buf *b, const void *data, size_t len)
{
	int r = buf_reserve(b, len);
	if (r < 0)
		return r;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int bl_buf_printf(struct bl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -BL_EFORMAT;
	int r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void bl_buf_free(struct bl_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	free(b->data);
	*b = (struct bl_buf){0};
}

void bl_free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void bl_buf_move(struct bl_buf *dst, struct bl_buf *src)
{
	bl_buf_free(dst);
	*dst = *src;
	*src = (struct bl_buf){0};
}

char *bl_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

int bl_read_file(const char *path, size_t max, struct bl_buf *out)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -BL_ENOTFOUND : -BL_EIO;
	struct bl_buf buf = {0};
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bl_buf_free(&buf);
			return -BL_EIO;
		}
		if (n == 0)
			break;
		if (buf.len + (size_t)n > max) {
			bl_buf_free(&buf);
			return -BL_ETOOBIG;
		}
		int r = bl_buf_append(&buf, chunk, (size_t)n);
		if (r < 0) {
			bl_buf_free(&buf);
			return r;
		}
	}
	if (!buf.data && bl_buf_append(&buf, "", 0) < 0)
		return -BL_ENOMEM;
	bl_buf_move(out, &buf);
	return 0;
}

int bl_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -BL_EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bl_fsync_dir(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return -BL_EIO;
	return 0;
}

static int fsync_parent_dir(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	return copy ? bl_fsync_dir(dirname(copy)) : -BL_ENOMEM;
}

int bl_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = bl_strdup_printf("%s.tmp.XXXXXX", path);
	if (!tmp)
		return -BL_ENOMEM;
	/* mkstemp creates 0600: the content is never readable by others, even
	 * before the fchmod to the final mode. */
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		bl_err("cannot create a temporary file beside %s: %s", path, strerror(errno));
		return -BL_EIO;
	}
	int r = bl_write_all(fd, data, len);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -BL_EIO;
	if (r == 0 && fsync(fd) < 0)
		r = -BL_EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -BL_EIO;
	if (r < 0) {
		bl_err("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return r;
	}
	return fsync_parent_dir(path);
}

int bl_mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -BL_ENOMEM;
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			bl_err("cannot create directory %s: %s", copy, strerror(errno));
			return -BL_EIO;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	return 0;
}

void bl_hex_encode(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

void bl_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	bl_hex_encode(md, sizeof(md), out);
}

double bl_now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void (*keepalive_fn)(void);

void bl_set_keepalive(void (*fn)(void))
{
	keepalive_fn = fn;
}

void bl_keepalive(void)
{
	if (keepalive_fn)
		keepalive_fn();
}

void bl_sleep(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

double bl_backoff_jitter(unsigned attempt, double base, double cap)
{
	double ceiling = base * (double)(1u << (attempt < 16 ? attempt : 16));
	unsigned int rnd = 0;
	if (ceiling > cap)
		ceiling = cap;
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		rnd = (unsigned int)rand();
	return ceiling * ((double)rnd / 4294967296.0);
}

void bl_format_utc(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool bl_is_safe_name(const char *s, size_t max)
{
	size_t n = 0;
	if (!s)
		return false;
	for (const char *p = s; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok || n >= max)
			return false;
	}
	return n > 0 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

char *bl_printable(char *s)
{
	for (unsigned char *p = (unsigned char *)s; p && *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}
