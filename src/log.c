/* log.c - bootlace's log sink (log.h).
 *
 * When systemd connected stderr to the journal (JOURNAL_STREAM names the
 * same device:inode as fd 2), messages go to the journal natively so that
 * priority and the layer identifier survive; otherwise they go to stderr,
 * one line each, prefixed so a person can tell bootlace from its scripts. */
#include "bootlace/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

static enum bl_log_level log_max_level = BL_LOG_INFO;
static bool log_journal;

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

void bl_log(enum bl_log_level level, const char *fmt, ...)
{
	if (level > log_max_level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_journal)
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", (int)level,
				"SYSLOG_IDENTIFIER=bootlace", NULL);
	else
		fprintf(stderr, "bootlace: %s%s\n", level_prefix(level), msg);
}

void bl_log_layer_line(const char *layer, bool is_stderr, const char *line)
{
	/* Script output is info: --quiet leaves it to the run log. */
	if (BL_LOG_INFO > log_max_level)
		return;
	if (log_journal)
		sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d",
				is_stderr ? BL_LOG_WARNING : BL_LOG_INFO,
				"SYSLOG_IDENTIFIER=%s", layer, "BOOTLACE_LAYER=%s", layer, NULL);
	else
		fprintf(stderr, "  [%s] %s\n", layer, line);
}
