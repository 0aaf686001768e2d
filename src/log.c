/* log.c - bootlace's log sink (log.h).
 *
 * When systemd connected stderr to the journal (JOURNAL_STREAM names the
 * same device:inode as fd 2), entries go to the journal natively so that
 * priority, the layer identifier and bootlace's fields survive; otherwise
 * lines go to stderr, prefixed so a person can tell bootlace from its
 * scripts.
 *
 * Structured fields or the console: under StandardOutput=journal+console
 * systemd copies the stdout/stderr stream to the console, never a native
 * entry, and a stream line cannot carry fields of its own.  So a line that
 * must reach the console (every line of ours during setup, warnings and
 * errors always) is written to stderr with a "<N>" prefix, which journald
 * reads as its priority: one journal entry, identifier "bootlace", on the
 * console, but without BOOTLACE_EVENT.  The rest is native, with its
 * fields, and stays off the console, which also keeps a daemon's routine
 * convergence cycles from pushing the first boot out of the EC2 console
 * buffer (its last 64 KiB).  The milestones (MESSAGE_ID) are always sent
 * natively with their fields, so `journalctl MESSAGE_ID=...` finds every
 * one; when they also go to the console, the journal holds them twice,
 * once plain from the stream and once with fields. */
#include "bootlace/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* CODE_FILE/CODE_LINE would always name this file: noise. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#define LOG_MESSAGE_MAX 2048
#define ENTRY_FIELDS_MAX 8

static enum bl_log_level log_max_level = BL_LOG_INFO;
static bool log_journal;
static bool log_console;
static char log_event[32];
static bl_log_journal_sink log_sink = sd_journal_sendv;

static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void bl_log_init(enum bl_log_level max_level)
{
	log_max_level = max_level;
	log_journal = stderr_is_journal();
}

void bl_log_set_level(enum bl_log_level max_level)
{
	log_max_level = max_level;
}

enum bl_log_level bl_log_level_from_name(const char *name)
{
	if (strcmp(name, "error") == 0)
		return BL_LOG_ERR;
	if (strcmp(name, "warning") == 0)
		return BL_LOG_WARNING;
	if (strcmp(name, "debug") == 0)
		return BL_LOG_DEBUG;
	return BL_LOG_INFO;
}

bool bl_log_to_journal(void)
{
	return log_journal;
}

void bl_log_set_event(const char *event, bool console)
{
	snprintf(log_event, sizeof(log_event), "%s", event ? event : "");
	log_console = event && console;
}

void bl_log_set_journal_sink(bl_log_journal_sink sink)
{
	log_sink = sink ? sink : sd_journal_sendv;
}

/* One native journal entry being put together: "FIELD=value" strings in
 * one buffer, an iovec each. */
struct entry {
	struct iovec iov[ENTRY_FIELDS_MAX];
	int n;
	size_t used;
	char text[LOG_MESSAGE_MAX + 2048];
};

static void entry_add(struct entry *e, const char *fmt, ...) _printf_(2, 3);

static void entry_add(struct entry *e, const char *fmt, ...)
{
	size_t room = sizeof(e->text) - e->used;
	if (e->n == ENTRY_FIELDS_MAX || room < 2)
		return;
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(e->text + e->used, room, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	size_t got = (size_t)len < room ? (size_t)len : room - 1;
	e->iov[e->n++] = (struct iovec){ .iov_base = e->text + e->used, .iov_len = got };
	e->used += got + 1;
}

static void entry_send(struct entry *e, enum bl_log_level level, const char *identifier,
		       const char *message)
{
	entry_add(e, "MESSAGE=%s", message);
	entry_add(e, "PRIORITY=%d", (int)level);
	entry_add(e, "SYSLOG_IDENTIFIER=%s", identifier);
	if (log_event[0])
		entry_add(e, "BOOTLACE_EVENT=%s", log_event);
	log_sink(e->iov, e->n);
}

static const char *level_prefix(enum bl_log_level level)
{
	switch (level) {
	case BL_LOG_ERR:
		return "error: ";
	case BL_LOG_WARNING:
		return "warning: ";
	case BL_LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

/* To the stream: each line with its priority, as journald parses it. */
static void stream_write(enum bl_log_level level, const char *msg)
{
	do {
		size_t len = strcspn(msg, "\n");
		fprintf(stderr, "<%d>%.*s\n", (int)level, (int)len, msg);
		msg += len + (msg[len] == '\n');
	} while (*msg);
}

static void log_own(enum bl_log_level level, const char *message_id, const char *layer,
		    int exit_status, const char *fmt, va_list ap) _printf_(5, 0);

static void log_own(enum bl_log_level level, const char *message_id, const char *layer,
		    int exit_status, const char *fmt, va_list ap)
{
	if (level > log_max_level)
		return;
	char msg[LOG_MESSAGE_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_journal) {
		fprintf(stderr, "bootlace: %s%s\n", level_prefix(level), msg);
		return;
	}
	bool console = log_console || level <= BL_LOG_WARNING;
	if (console)
		stream_write(level, msg);
	if (console && !message_id)
		return;
	struct entry e = { .n = 0 };
	if (message_id)
		entry_add(&e, "MESSAGE_ID=%s", message_id);
	if (layer)
		entry_add(&e, "BOOTLACE_LAYER=%s", layer);
	if (exit_status >= 0)
		entry_add(&e, "BOOTLACE_EXIT_STATUS=%d", exit_status);
	entry_send(&e, level, "bootlace", msg);
}

void bl_log(enum bl_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_own(level, NULL, NULL, -1, fmt, ap);
	va_end(ap);
}

void bl_log_fields(enum bl_log_level level, const char *message_id, const char *layer,
		   int exit_status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_own(level, message_id, layer, exit_status, fmt, ap);
	va_end(ap);
}

void bl_log_layer_line(const char *layer, bool is_stderr, const char *line)
{
	/* Script output is info: --quiet leaves it to the run log. */
	if (BL_LOG_INFO > log_max_level)
		return;
	if (!log_journal) {
		fprintf(stderr, "  [%s] %s\n", layer, line);
		return;
	}
	struct entry e = { .n = 0 };
	entry_add(&e, "BOOTLACE_LAYER=%s", layer);
	entry_send(&e, is_stderr ? BL_LOG_WARNING : BL_LOG_INFO, layer, line);
}
