/* fuzz.c - the helpers of fuzz.h, and the setup every target shares. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootlace/log.h"
#include "fuzz.h"

/* The line being written to stderr; longer than any bl_log line. */
static char log_line[8192];
static size_t log_len;

/* Every line bootlace logs must be one line of its own ("bootlace: ..."),
 * free of control characters: input quoted raw in a message could forge
 * the next line, or send escape sequences to the console. */
static void check_log_line(void)
{
	FUZZ_ASSERT(log_len < sizeof(log_line));
	log_line[log_len] = '\0';
	FUZZ_ASSERT(strncmp(log_line, "bootlace: ", 10) == 0);
	for (size_t i = 0; i < log_len; i++)
		FUZZ_ASSERT(log_line[i] == '\t' || !((unsigned char)log_line[i] < 0x20 ||
						     log_line[i] == 0x7f));
	log_len = 0;
}

/* stderr's writes: checked line by line, then passed on to fd 2 (which
 * run.sh points at /dev/null with -close_fd_mask=2). */
static ssize_t check_log(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n')
			check_log_line();
		else if (log_len < sizeof(log_line) - 1)
			log_line[log_len++] = buf[i];
		else
			log_len = sizeof(log_line);  /* too long: check_log_line fails it */
	}
	return write(STDERR_FILENO, buf, size);
}

/* Every message is formatted, debug ones too, and goes through
 * check_log: a bad format argument or a raw control character fed by the
 * input is a finding as well.  libFuzzer keeps its own stream for its
 * output, so replacing stderr leaves that alone. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FILE *checked = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = check_log });
	if (!checked)
		abort();
	setvbuf(checked, NULL, _IOLBF, 0);
	stderr = checked;
	bl_log_set_level(BL_LOG_DEBUG);
	return 0;
}

void fuzz_fail(const char *file, int line, const char *what)
{
	/* Straight to fd 2: stderr is the checked stream. */
	dprintf(STDERR_FILENO, "%s:%d: broken invariant: %s\n", file, line, what);
	if (log_len)
		dprintf(STDERR_FILENO, "the log line: %.*s\n", (int)log_len, log_line);
	abort();
}

bool fuzz_fields_init(struct fuzz_fields *f, const uint8_t *data, size_t size)
{
	f->copy = malloc(size + 1);
	if (!f->copy)
		return false;
	if (size)
		memcpy(f->copy, data, size);
	f->copy[size] = '\0';
	f->next = f->copy;
	f->end = f->copy + size;
	return true;
}

char *fuzz_field(struct fuzz_fields *f)
{
	static char none[1];
	if (f->next > f->end)
		return none;
	char *s = f->next;
	f->next += strlen(s) + 1;
	return s;
}

bool fuzz_fields_left(const struct fuzz_fields *f)
{
	return f->next < f->end;
}

void fuzz_fields_free(struct fuzz_fields *f)
{
	free(f->copy);
	f->copy = NULL;
}

bool fuzz_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}
