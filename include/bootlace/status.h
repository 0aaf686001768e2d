/* status.h - `bootlace status`: the last run of each event, for people
 * (a table) and for programs (--json). */
#ifndef BOOTLACE_STATUS_H
#define BOOTLACE_STATUS_H

#include <stdbool.h>
#include <stdio.h>

/* Prints the state dir's run records to out.  0 when every recorded run
 * succeeded (or none is recorded), -BL_ELAYER when the last run of some
 * event failed, another negative code when the state cannot be read. */
int bl_status_print(const char *state_dir, bool json, FILE *out);

#endif
