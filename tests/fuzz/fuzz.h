/* fuzz.h - what the libFuzzer targets in tests/fuzz share.
 *
 * A target feeds its input to one parser and then checks what the parser
 * promises (its header's contract), not only that it did not crash: a
 * broken promise aborts, so libFuzzer keeps the input as a crash. */
#ifndef BOOTLACE_FUZZ_H
#define BOOTLACE_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints what broke (seen when a crash file is replayed) and aborts. */
#define FUZZ_ASSERT(cond) \
	((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/* An input made of several strings: NUL bytes separate them, since no C
 * string can hold one, so every combination of strings is reachable. */
struct fuzz_fields {
	char *copy;        /* the input plus a final NUL */
	char *next;        /* start of the next field */
	char *end;         /* the final NUL */
};

/* Copies data; false when out of memory (the input is then skipped). */
bool fuzz_fields_init(struct fuzz_fields *f, const uint8_t *data, size_t size);
/* The next field, or "" when none are left (not const: it may fill a
 * struct's char * field, never written through). */
char *fuzz_field(struct fuzz_fields *f);
/* Whether any bytes are left after the fields taken so far. */
bool fuzz_fields_left(const struct fuzz_fields *f);
void fuzz_fields_free(struct fuzz_fields *f);

/* Whether s holds a byte below 0x20 or 0x7f: such a byte in a header line
 * or a log message could forge another one. */
bool fuzz_has_control(const char *s);

#endif
