/* template.h - layer path templates: "roles/{role}/{event}.sh".
 *
 * Placeholders: {event}, {role}, {environment} (the instance tags named by
 * tags.role / tags.environment) and {tag:KEY} (any tag).  A value that feeds
 * a path must match [A-Za-z0-9._-]{1,128} and not be "." or "..": no path
 * traversal, ever. */
#ifndef BOOTLACE_TEMPLATE_H
#define BOOTLACE_TEMPLATE_H

#include "config.h"
#include "instance.h"

#define BL_TAG_VALUE_MAX 128

/* Checks a template's syntax without an instance: balanced braces, known
 * placeholders, no absolute path, no "." or ".." components.  On error
 * returns -BL_ECONFIG and *msg (malloc'd) says what, *col the 1-based
 * column in the template. */
int bl_template_validate(const char *tmpl, char **msg, int *col);

/* Expands tmpl.  Errors:
 *   -BL_EMISSINGTAG: *tag names the tag the instance lacks;
 *   -BL_EUNSAFE:     *tag names the tag whose value is unsafe;
 *   -BL_ECONFIG:     the template itself is invalid.
 * *tag is malloc'd (or NULL); *out is the malloc'd expansion on success. */
int bl_template_expand(const char *tmpl, const char *event,
		       const struct bl_instance *inst, const struct bl_config *cfg,
		       char **out, char **tag);

#endif
