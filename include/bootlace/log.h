/* log.h - where bootlace's own messages and the scripts' output go.
 *
 * Under systemd (stderr connected to the journal, see JOURNAL_STREAM) lines
 * go to the journal with structured fields; otherwise to stderr as
 * "bootlace: message" ("bootlace: error: message" and so on for levels other
 * than info).  Script output is logged per line with the
 * layer as identifier.  Never pass secrets or user data to these functions. */
#ifndef BOOTLACE_LOG_H
#define BOOTLACE_LOG_H

#include <stdbool.h>
#include "util.h"

enum bl_log_level {
	BL_LOG_ERR = 3,
	BL_LOG_WARNING = 4,
	BL_LOG_INFO = 6,
	BL_LOG_DEBUG = 7,
};

/* Sets the threshold (messages above it are dropped) and detects the journal. */
void bl_log_init(enum bl_log_level max_level);
void bl_log_set_level(enum bl_log_level max_level);
/* The level for log_level's name ("error", "warning", "info", "debug"). */
enum bl_log_level bl_log_level_from_name(const char *name);
bool bl_log_to_journal(void);

void bl_log(enum bl_log_level level, const char *fmt, ...) _printf_(2, 3);

/* One line of a script's output, identified by its layer name. */
void bl_log_layer_line(const char *layer, bool is_stderr, const char *line);

#define bl_err(...) bl_log(BL_LOG_ERR, __VA_ARGS__)
#define bl_warn(...) bl_log(BL_LOG_WARNING, __VA_ARGS__)
#define bl_info(...) bl_log(BL_LOG_INFO, __VA_ARGS__)
#define bl_debug(...) bl_log(BL_LOG_DEBUG, __VA_ARGS__)

#endif
