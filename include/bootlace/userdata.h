/* userdata.h - what the instance's user data is and how to read it.
 *
 *   "#!..."      a script, run as the last layer ("user-data");
 *   "#bootlace"  a configuration document merged over the config;
 *   1f 8b        gzip: inflated first (capped at BL_USERDATA_MAX_INFLATED),
 *                then classified as above;
 *   else         not handled: the caller warns and goes on. */
#ifndef BOOTLACE_USERDATA_H
#define BOOTLACE_USERDATA_H

#include <stddef.h>
#include "util.h"

#define BL_USERDATA_MAX_INFLATED (1024 * 1024)

enum bl_userdata_kind {
	BL_USERDATA_EMPTY,
	BL_USERDATA_SCRIPT,
	BL_USERDATA_CONFIG,
	BL_USERDATA_UNKNOWN,
};

/* Decodes raw user data into out (inflated if gzip) and classifies it.
 * -BL_ETOOBIG if inflation passes the cap, -BL_EFORMAT if the gzip stream is
 * corrupt or truncated.  out is owned by the caller. */
int bl_userdata_decode(const void *raw, size_t len, struct bl_buf *out,
		       enum bl_userdata_kind *kind);

const char *bl_userdata_kind_name(enum bl_userdata_kind kind);

#endif
