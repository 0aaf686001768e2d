/* log.h - where bootlace's own messages and the scripts' output go.
 *
 * Outside systemd, lines go to stderr as "bootlace: message" ("bootlace:
 * error: message" and so on for levels other than info) and script output
 * as "  [layer] line".
 *
 * Under systemd (stderr connected to the journal, see JOURNAL_STREAM) lines
 * go to the journal with structured fields: SYSLOG_IDENTIFIER (bootlace, or
 * the layer for script output), PRIORITY, BOOTLACE_EVENT during a run,
 * BOOTLACE_LAYER and BOOTLACE_EXIT_STATUS where they apply, and a MESSAGE_ID
 * for the milestones below.  Lines meant for the console (see
 * bl_log_set_event) are written to stderr instead, with a "<N>" priority
 * prefix, because systemd copies only the stream to the console; log.c
 * explains the trade-off.
 *
 * Never pass secrets or user data to these functions. */
#ifndef BOOTLACE_LOG_H
#define BOOTLACE_LOG_H

#include <stdbool.h>
#include <sys/uio.h>

#include "util.h"

enum bl_log_level {
	BL_LOG_ERR = 3,
	BL_LOG_WARNING = 4,
	BL_LOG_INFO = 6,
	BL_LOG_DEBUG = 7,
};

/* MESSAGE_IDs of the milestones (journalctl MESSAGE_ID=...): fixed forever,
 * so that searches and alerts written against them keep working. */
#define BL_MESSAGE_RUN_START    "38c4640590284abeb78aba9896d6054a"
#define BL_MESSAGE_RUN_END      "65a43bf268944bb8bddad4c959a2efc4"
#define BL_MESSAGE_LAYER_FAILED "9d0a11f586c84e08be030c3924cdb26c"

/* Sets the threshold (messages above it are dropped) and detects the journal. */
void bl_log_init(enum bl_log_level max_level);
void bl_log_set_level(enum bl_log_level max_level);
/* The level for log_level's name ("error", "warning", "info", "debug"). */
enum bl_log_level bl_log_level_from_name(const char *name);
bool bl_log_to_journal(void);

/* The run that later lines belong to (NULL: none), carried as
 * BOOTLACE_EVENT.  console: under the journal, every line of bootlace's own
 * also goes to the console (the first boot, which the EC2 console must
 * show); otherwise only warnings and errors do. */
void bl_log_set_event(const char *event, bool console);

void bl_log(enum bl_log_level level, const char *fmt, ...) _printf_(2, 3);

/* A milestone: bl_log plus, in the journal, MESSAGE_ID (a BL_MESSAGE_*),
 * BOOTLACE_LAYER (layer, may be NULL) and BOOTLACE_EXIT_STATUS (exit_status,
 * -1 for none). */
void bl_log_fields(enum bl_log_level level, const char *message_id, const char *layer,
		   int exit_status, const char *fmt, ...) _printf_(5, 6);

/* One line of a script's output, identified by its layer name. */
void bl_log_layer_line(const char *layer, bool is_stderr, const char *line);

/* For tests: where native journal entries go instead of sd_journal_sendv
 * (NULL restores it).  Returns 0 or a negative errno, as sd_journal_sendv. */
typedef int (*bl_log_journal_sink)(const struct iovec *iov, int n);
void bl_log_set_journal_sink(bl_log_journal_sink sink);

#define bl_err(...) bl_log(BL_LOG_ERR, __VA_ARGS__)
#define bl_warn(...) bl_log(BL_LOG_WARNING, __VA_ARGS__)
#define bl_info(...) bl_log(BL_LOG_INFO, __VA_ARGS__)
#define bl_debug(...) bl_log(BL_LOG_DEBUG, __VA_ARGS__)

#endif
