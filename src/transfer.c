/* transfer.c - the parallel download engine (transfer.h).
 *
 * One curl multi handle drives every download, so connections to the same
 * host are shared and nothing blocks: a download waiting out its backoff is
 * only a job whose next start lies in the future, and the others keep
 * running meanwhile.  Bodies go to their temp file and through SHA-256 as
 * they arrive, so memory stays flat whatever the object size and the digest
 * is known the moment the last byte is in.  The callbacks never fail a
 * download themselves: they note why they stopped curl (j->abort) and the
 * attempt's end decides, in one place, what happens next. */
#include "bootlace/transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bootlace/error.h"
#include "bootlace/http.h"
#include "bootlace/log.h"

enum job_state { JOB_WAITING, JOB_RUNNING, JOB_DONE };

/* The whole-object checksums S3 declares besides SHA-256: CRCs of the
 * reflected kind (all ones in and out), sent as the base64 of their
 * big-endian bytes.  What today's SDKs and CLI upload with, and what S3
 * adds itself, is CRC32 or CRC64NVME, not SHA-256: without these most
 * bodies would be checked by their length alone. */
static const struct crc_kind {
	const char *header;
	unsigned bytes;
	uint64_t poly;               /* reflected */
} crc_kinds[] = {
	{ "x-amz-checksum-crc32", 4, 0xEDB88320u },
	{ "x-amz-checksum-crc32c", 4, 0x82F63B78u },
	{ "x-amz-checksum-crc64nvme", 8, 0x9A6C9329AC4BC9B5u },
};
#define N_CRC ARRAY_SIZE(crc_kinds)

static uint64_t crc_tables[N_CRC][256];

struct job {
	struct bl_download *d;
	enum job_state state;
	double start_at;             /* monotonic time the next attempt may start */
	double first_at;             /* ... and when the first one started */
	CURL *curl;
	struct curl_slist *headers;  /* this attempt's copy of d->headers */
	char *tmp_path;              /* the temp file, until it is delivered */
	int fd;
	EVP_MD_CTX *md;
	/* The response of this attempt. */
	bool ok;                     /* 2xx: the body goes to the file */
	unsigned long long announced; /* its Content-Length, 0 if none */
	size_t received;
	char *crc_declared[N_CRC];   /* this response's x-amz-checksum-crc*, or NULL */
	uint64_t crc[N_CRC];         /* of the body so far, for those declared */
	int abort;                   /* why a callback stopped curl, or 0 */
	int abort_errno;
	char curl_error[CURL_ERROR_SIZE];
};

struct engine {
	struct bl_transfer_options o; /* with the defaults filled in */
	CURLM *multi;
	struct bl_buf ca;            /* CA bundle blob, when ca_file is set */
	struct job *jobs;
	size_t n, running, done;
};

static void set_error(struct bl_download *d, const char *fmt, ...) _printf_(2, 3);

static void set_error(struct bl_download *d, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(d->error);
	d->error = s;
}

/* A request carries a signature or a token: wiped, never logged. */
static void free_request(struct bl_download *d)
{
	for (size_t i = 0; d->headers && d->headers[i]; i++)
		bl_free_secret(d->headers[i]);
	free(d->headers);
	d->headers = NULL;
	bl_free_secret(d->url);
	d->url = NULL;
}

static void free_attempt_request(struct job *j)
{
	for (struct curl_slist *h = j->headers; h; h = h->next)
		OPENSSL_cleanse(h->data, strlen(h->data));
	curl_slist_free_all(j->headers);
	j->headers = NULL;
	free_request(j->d);
}

static void crc_init_tables(void)
{
	for (size_t k = 0; k < N_CRC; k++)
		for (unsigned i = 0; i < 256; i++) {
			uint64_t c = i;
			for (int bit = 0; bit < 8; bit++)
				c = (c >> 1) ^ (crc_kinds[k].poly & (0 - (c & 1)));
			crc_tables[k][i] = c;
		}
}

/* All ones over the CRC's width: its initial value and final XOR. */
static uint64_t crc_mask(size_t k)
{
	return crc_kinds[k].bytes == 8 ? UINT64_MAX : UINT32_MAX;
}

static void crc_update(struct job *j, const char *data, size_t len)
{
	for (size_t k = 0; k < N_CRC; k++) {
		if (!j->crc_declared[k])
			continue;
		const uint64_t *t = crc_tables[k];
		uint64_t c = j->crc[k];
		for (size_t i = 0; i < len; i++)
			c = t[(c ^ (unsigned char)data[i]) & 0xff] ^ (c >> 8);
		j->crc[k] = c;
	}
}

static void clear_checksums(struct job *j)
{
	for (size_t k = 0; k < N_CRC; k++) {
		free(j->crc_declared[k]);
		j->crc_declared[k] = NULL;
		j->crc[k] = crc_mask(k);
	}
}

static void clear_response(struct bl_download *d)
{
	free(d->etag);
	free(d->checksum_sha256);
	free(d->bucket_region);
	d->etag = d->checksum_sha256 = d->bucket_region = NULL;
	d->status = 0;
}

/* If line is the header name (any case), points value at its trimmed value. */
static bool header_is(const char *line, size_t len, const char *name,
		      const char **value, size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
		return false;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*value = v;
	*vlen = (size_t)(end - v);
	return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct job *j = userdata;
	struct bl_download *d = j->d;
	size_t len = size * n, vlen;
	const char *v;
	char **field = NULL;

	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a 1xx or a proxy's CONNECT): only the
		 * last one's headers count. */
		clear_response(d);
		clear_checksums(j);
		const char *sp = memchr(data, ' ', len);
		d->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		j->ok = d->status >= 200 && d->status <= 299;
		return len;
	}
	if (header_is(data, len, "content-length", &v, &vlen)) {
		/* A body announced over the cap is refused before its first byte. */
		char num[32] = "";
		memcpy(num, v, vlen < sizeof(num) - 1 ? vlen : sizeof(num) - 1);
		j->announced = strtoull(num, NULL, 10);
		if (j->ok && j->announced > d->max_size) {
			j->abort = -BL_ETOOBIG;
			return 0;
		}
	} else if (header_is(data, len, "etag", &v, &vlen)) {
		field = &d->etag;
	} else if (header_is(data, len, "x-amz-checksum-sha256", &v, &vlen)) {
		field = &d->checksum_sha256;
	} else if (header_is(data, len, "x-amz-bucket-region", &v, &vlen)) {
		field = &d->bucket_region;
	}
	for (size_t k = 0; !field && k < N_CRC; k++)
		if (header_is(data, len, crc_kinds[k].header, &v, &vlen))
			field = &j->crc_declared[k];
	if (field) {
		free(*field);
		if (!(*field = strndup(v, vlen))) {
			j->abort = -BL_ENOMEM;
			return 0;
		}
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct job *j = userdata;
	struct bl_download *d = j->d;
	size_t len = size * n;

	if (!j->ok) {
		/* An error document for the hooks: the head of it is enough. */
		size_t room = BL_DOWNLOAD_ERROR_BODY_MAX - d->error_body.len;
		if (bl_buf_append(&d->error_body, data, len < room ? len : room) < 0) {
			j->abort = -BL_ENOMEM;
			return 0;
		}
		return len;
	}
	if (len > d->max_size - j->received) {
		j->abort = -BL_ETOOBIG;
		return 0;
	}
	if (bl_write_all(j->fd, data, len) < 0) {
		j->abort = -BL_EIO;
		j->abort_errno = errno;
		return 0;
	}
	if (EVP_DigestUpdate(j->md, data, len) != 1) {
		j->abort = -BL_ENOMEM;
		return 0;
	}
	crc_update(j, data, len);
	j->received += len;
	return len;
}

static int new_handle(struct engine *e, struct job *j)
{
	const struct bl_transfer_options *o = &e->o;
	CURL *c = j->curl = curl_easy_init();
	if (!c)
		return -BL_ENOMEM;
	bool ok = curl_easy_setopt(c, CURLOPT_PRIVATE, j) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)o->stall_timeout) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->curl_error) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_HEADERDATA, j) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
		curl_easy_setopt(c, CURLOPT_WRITEDATA, j) == CURLE_OK;
	if (ok && e->ca.data) {
		struct curl_blob blob = { .data = e->ca.data, .len = e->ca.len,
					  .flags = CURL_BLOB_NOCOPY };
		ok = curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob) == CURLE_OK;
	}
	return ok ? 0 : -BL_EUNSUPPORTED;
}

/* Ends a download: its result stands, a body that did not make it is gone. */
static void finish(struct engine *e, struct job *j, int result)
{
	struct bl_download *d = j->d;
	d->result = result;
	if (result < 0 && !d->error)
		set_error(d, "%s", bl_strerror(result));
	free_attempt_request(j);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	if (j->tmp_path) {
		unlink(j->tmp_path);
		free(j->tmp_path);
		j->tmp_path = NULL;
	}
	EVP_MD_CTX_free(j->md);
	j->md = NULL;
	clear_checksums(j);
	curl_easy_cleanup(j->curl);
	j->curl = NULL;
	j->state = JOB_DONE;
	e->done++;
}

/* A fresh start for the next attempt: empty file, new digest, no response. */
static int reset_attempt(struct engine *e, struct job *j)
{
	struct bl_download *d = j->d;
	free(d->error);
	d->error = NULL;
	d->result = 0;
	clear_response(d);
	bl_buf_free(&d->error_body);
	j->ok = false;
	j->received = 0;
	j->announced = 0;
	j->abort = 0;
	j->curl_error[0] = '\0';
	clear_checksums(j);
	if (!j->tmp_path) {
		/* Not a dot file: the agent empties tmp_dir of what a killed run
		 * left there, and that skips dot files. */
		if (!(j->tmp_path = bl_strdup_printf("%s/download-XXXXXX", e->o.tmp_dir)))
			return -BL_ENOMEM;
		if ((j->fd = mkostemp(j->tmp_path, O_CLOEXEC)) < 0) {
			set_error(d, "cannot create a temp file in %s: %s", e->o.tmp_dir, strerror(errno));
			free(j->tmp_path);
			j->tmp_path = NULL;
			return -BL_EIO;
		}
	} else if (ftruncate(j->fd, 0) < 0 || lseek(j->fd, 0, SEEK_SET) < 0) {
		set_error(d, "cannot truncate %s: %s", j->tmp_path, strerror(errno));
		return -BL_EIO;
	}
	if (!j->md && !(j->md = EVP_MD_CTX_new()))
		return -BL_ENOMEM;
	if (EVP_DigestInit_ex(j->md, EVP_sha256(), NULL) != 1)
		return -BL_ENOMEM;
	if (!j->curl)
		return new_handle(e, j);
	return 0;
}

static void start_attempt(struct engine *e, struct job *j)
{
	struct bl_download *d = j->d;
	int r = reset_attempt(e, j);
	if (r == 0)
		r = d->hooks->prepare(d);
	for (size_t i = 0; r == 0 && d->headers && d->headers[i]; i++) {
		struct curl_slist *next = curl_slist_append(j->headers, d->headers[i]);
		if (next)
			j->headers = next;
		else
			r = -BL_ENOMEM;
	}
	if (r == 0 && d->if_none_match) {
		_cleanup_free_ char *h = bl_strdup_printf("If-None-Match: %s", d->if_none_match);
		struct curl_slist *next = h ? curl_slist_append(j->headers, h) : NULL;
		if (next)
			j->headers = next;
		else
			r = -BL_ENOMEM;
	}
	if (r == 0 && (curl_easy_setopt(j->curl, CURLOPT_URL, d->url) != CURLE_OK ||
		       curl_easy_setopt(j->curl, CURLOPT_HTTPHEADER, j->headers) != CURLE_OK))
		r = -BL_ENOMEM;
	if (r == 0 && curl_multi_add_handle(e->multi, j->curl) != CURLM_OK)
		r = -BL_ENOMEM;
	if (r < 0)
		return finish(e, j, r);
	if (!d->attempts++)
		j->first_at = bl_now_monotonic();
	j->state = JOB_RUNNING;
	e->running++;
}

/* curl errors that another attempt cannot fix. */
static bool curl_error_is_final(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return true;
	default:
		return false;
	}
}

/* Whether a declared checksum (base64) is that of the n bytes in want.
 * Nothing declared passes; so does a multipart object's value, a checksum
 * of its parts' checksums ("...-3"), which no body can be checked against.
 * Anything but the one canonical base64 of n bytes fails. */
static bool checksum_matches(const char *declared, const unsigned char *want, size_t n)
{
	unsigned char raw[48];
	size_t len = 4 * ((n + 2) / 3), pad = (3 - n % 3) % 3;
	if (!declared || strchr(declared, '-'))
		return true;
	if (strlen(declared) != len || declared[len - 1 - pad] == '=')
		return false;
	for (size_t i = 0; i < pad; i++)
		if (declared[len - 1 - i] != '=')
			return false;
	return EVP_DecodeBlock(raw, (const unsigned char *)declared, (int)len) == (int)(len / 4 * 3) &&
	       CRYPTO_memcmp(raw, want, n) == 0;
}

/* The body arrived complete: checked against every checksum the server
 * declared, then made durable. */
static int deliver(struct job *j)
{
	struct bl_download *d = j->d;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(j->md, digest, &len) != 1 || len != 32)
		return -BL_ENOMEM;
	if (!checksum_matches(d->checksum_sha256, digest, 32)) {
		set_error(d, "the body did not match its x-amz-checksum-sha256");
		return -BL_EINTEGRITY;
	}
	for (size_t k = 0; k < N_CRC; k++) {
		unsigned char be[8];
		uint64_t crc = j->crc[k] ^ crc_mask(k);
		for (unsigned i = 0; i < crc_kinds[k].bytes; i++)
			be[i] = (unsigned char)(crc >> (8 * (crc_kinds[k].bytes - 1 - i)));
		if (!checksum_matches(j->crc_declared[k], be, crc_kinds[k].bytes)) {
			set_error(d, "the body did not match its %s", crc_kinds[k].header);
			return -BL_EINTEGRITY;
		}
	}
	if (fsync(j->fd) < 0) {
		set_error(d, "cannot fsync %s: %s", j->tmp_path, strerror(errno));
		return -BL_EIO;
	}
	bl_hex_encode(digest, 32, d->sha256);
	d->size = j->received;
	free(d->path);
	d->path = j->tmp_path;
	j->tmp_path = NULL;
	return 0;
}

static enum bl_download_verdict default_classify(struct bl_download *d)
{
	if (d->status >= 500 || d->status == 429)
		return BL_DOWNLOAD_RETRY;
	if (d->status == 404)
		d->result = -BL_ENOTFOUND;
	else if (d->status == 401 || d->status == 403)
		d->result = -BL_EDENIED;
	else
		d->result = -BL_ENETWORK;
	return BL_DOWNLOAD_DONE;
}

/* What the attempt that curl just ended means: the verdict, and in *result
 * the code that stands if this was the last attempt. */
static enum bl_download_verdict judge(struct job *j, CURLcode rc, int *result)
{
	struct bl_download *d = j->d;
	enum bl_download_verdict v;

	if (j->abort == -BL_ETOOBIG) {
		if (j->announced > d->max_size)
			set_error(d, "%llu bytes, over the %zu-byte limit", j->announced, d->max_size);
		else
			set_error(d, "larger than the %zu-byte limit", d->max_size);
		*result = -BL_ETOOBIG;
		return BL_DOWNLOAD_DONE;
	}
	if (j->abort == -BL_EIO) {
		set_error(d, "cannot write %s: %s", j->tmp_path, strerror(j->abort_errno));
		*result = -BL_EIO;
		return BL_DOWNLOAD_DONE;
	}
	if (j->abort < 0) {
		*result = j->abort;
		return BL_DOWNLOAD_DONE;
	}
	if (rc != CURLE_OK) {
		set_error(d, "%s", j->curl_error[0] ? j->curl_error : curl_easy_strerror(rc));
		if (rc == CURLE_OPERATION_TIMEDOUT)
			*result = -BL_ETIMEOUT;
		else if (rc == CURLE_PARTIAL_FILE)
			*result = -BL_EINTEGRITY;
		else if (rc == CURLE_OUT_OF_MEMORY)
			*result = -BL_ENOMEM;
		else
			*result = -BL_ENETWORK;
		return curl_error_is_final(rc) ? BL_DOWNLOAD_DONE : BL_DOWNLOAD_RETRY;
	}
	if (j->ok) {
		*result = deliver(j);
		return *result == -BL_EINTEGRITY ? BL_DOWNLOAD_RETRY : BL_DOWNLOAD_DONE;
	}
	/* Not modified since the copy the caller holds: done, nothing to deliver. */
	if (d->status == 304 && d->if_none_match) {
		*result = 0;
		return BL_DOWNLOAD_DONE;
	}
	v = d->hooks->classify ? d->hooks->classify(d) : default_classify(d);
	*result = d->result;
	if (v != BL_DOWNLOAD_DONE && *result == 0)
		*result = -BL_ENETWORK;
	if (*result < 0 && !d->error)
		set_error(d, "HTTP %ld", d->status);
	return v;
}

static void attempt_done(struct engine *e, struct job *j, CURLcode rc)
{
	struct bl_download *d = j->d;
	int result = 0;

	curl_multi_remove_handle(e->multi, j->curl);
	e->running--;
	enum bl_download_verdict v = judge(j, rc, &result);
	free_attempt_request(j);
	double now = bl_now_monotonic();
	double delay = v == BL_DOWNLOAD_RETRY
		? bl_backoff_jitter(d->attempts - 1, e->o.backoff_base_ms / 1000.0,
				    e->o.backoff_cap_ms / 1000.0)
		: 0;
	if (v == BL_DOWNLOAD_DONE || (e->o.max_attempts && d->attempts >= e->o.max_attempts) ||
	    (v == BL_DOWNLOAD_RETRY && now + delay > j->first_at + e->o.retry_for)) {
		if (v == BL_DOWNLOAD_RETRY && d->attempts > 1)
			bl_warn("%s: giving up after %u attempts in %.0fs", d->name, d->attempts,
			       now - j->first_at);
		return finish(e, j, result);
	}
	j->state = JOB_WAITING;
	j->start_at = now + delay;
	if (v == BL_DOWNLOAD_RETRY) {
		char of[16] = "";
		if (e->o.max_attempts)
			snprintf(of, sizeof(of), "/%u", e->o.max_attempts);
		bl_warn("%s: %s, retry %u%s in %.2fs", d->name,
			d->error ? d->error : bl_strerror(result), d->attempts + 1, of, delay);
	}
}

static void start_ready(struct engine *e)
{
	double now = bl_now_monotonic();
	for (size_t i = 0; i < e->n && e->running < e->o.max_parallel; i++)
		if (e->jobs[i].state == JOB_WAITING && e->jobs[i].start_at <= now)
			start_attempt(e, &e->jobs[i]);
}

/* Handles the attempts curl has finished; returns how many. */
static size_t collect(struct engine *e)
{
	size_t ended = 0;
	int left;
	CURLMsg *m;
	while ((m = curl_multi_info_read(e->multi, &left))) {
		void *j = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &j);
		attempt_done(e, j, m->data.result);
		ended++;
	}
	return ended;
}

/* How long nothing needs doing: curl's own timers, or the next backoff. */
static int poll_timeout(const struct engine *e)
{
	long ms = 1000, curl_ms = -1;
	if (curl_multi_timeout(e->multi, &curl_ms) == CURLM_OK && curl_ms >= 0 && curl_ms < ms)
		ms = curl_ms;
	if (e->running >= e->o.max_parallel)
		return (int)ms;
	double now = bl_now_monotonic();
	for (size_t i = 0; i < e->n; i++) {
		const struct job *j = &e->jobs[i];
		if (j->state != JOB_WAITING)
			continue;
		double wait = (j->start_at - now) * 1000.0 + 1.0;
		if (wait < (double)ms)
			ms = wait > 0 ? (long)wait : 0;
	}
	return (int)ms;
}

static int run(struct engine *e)
{
	for (;;) {
		start_ready(e);
		if (e->done == e->n)
			return 0;
		int still;
		CURLMcode mc = curl_multi_perform(e->multi, &still);
		if (mc == CURLM_OK && collect(e) > 0)
			continue;  /* what follows an attempt starts at once */
		if (mc == CURLM_OK) {
			bl_keepalive();
			mc = curl_multi_poll(e->multi, NULL, 0, poll_timeout(e), NULL);
		}
		if (mc != CURLM_OK) {
			bl_err("downloads: %s", curl_multi_strerror(mc));
			return mc == CURLM_OUT_OF_MEMORY ? -BL_ENOMEM : -BL_EIO;
		}
	}
}

int bl_transfer_run(struct bl_download *downloads, size_t n,
		    const struct bl_transfer_options *opts)
{
	struct engine e = { .o = *opts, .n = n };
	bool curl_ready = false;
	int r = 0;

	if (!e.o.retry_for)
		e.o.retry_for = 120;
	if (!e.o.max_parallel)
		e.o.max_parallel = 8;
	if (!e.o.connect_timeout_ms)
		e.o.connect_timeout_ms = 5000;
	if (!e.o.stall_timeout)
		e.o.stall_timeout = 30;
	if (!e.o.backoff_base_ms)
		e.o.backoff_base_ms = 100;
	if (!e.o.backoff_cap_ms)
		e.o.backoff_cap_ms = 5000;
	if (!(e.jobs = calloc(n ? n : 1, sizeof(*e.jobs)))) {
		for (size_t i = 0; i < n; i++)
			downloads[i].result = -BL_ENOMEM;
		return -BL_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct bl_download *d = &downloads[i];
		e.jobs[i] = (struct job){ .d = d, .fd = -1, .state = JOB_WAITING };
		d->result = 0;
		d->attempts = 0;
		d->size = 0;
		d->sha256[0] = '\0';
	}
	crc_init_tables();
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	if (!curl_ready || !(e.multi = curl_multi_init()))
		r = -BL_ENOMEM;
	if (r == 0 && opts->ca_file)
		r = bl_http_load_ca_bundle(opts->ca_file, &e.ca);
	if (r == 0)
		r = run(&e);
	/* Only after a failure of the engine itself are some left over. */
	for (size_t i = 0; i < n; i++) {
		struct job *j = &e.jobs[i];
		if (j->state == JOB_RUNNING)
			curl_multi_remove_handle(e.multi, j->curl);
		if (j->state != JOB_DONE)
			finish(&e, j, r);
	}
	curl_multi_cleanup(e.multi);
	if (curl_ready)
		curl_global_cleanup();
	bl_buf_free(&e.ca);
	free(e.jobs);
	return r;
}

void bl_download_clear(struct bl_download *d)
{
	free_request(d);
	if (d->path)
		unlink(d->path);
	free(d->path);
	free(d->error);
	clear_response(d);
	bl_buf_free(&d->error_body);
	d->path = d->error = NULL;
	d->result = 0;
	d->size = 0;
	d->sha256[0] = '\0';
	d->attempts = 0;
}
