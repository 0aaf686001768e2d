/* datasource.h - where the instance record comes from.
 *
 * A datasource is one small interface: detect() says, without touching the
 * network, whether this machine positively is its platform; load() fills the
 * instance record.  "auto" picks the first that detects, in registry order
 * (ec2 before nocloud), so bootlace never probes a metadata address on a
 * machine that is not that cloud. */
#ifndef BOOTLACE_DATASOURCE_H
#define BOOTLACE_DATASOURCE_H

#include <stdbool.h>
#include "config.h"
#include "instance.h"

struct bl_datasource {
	const char *name;
	/* true if this machine is this platform; why (malloc'd) says what was
	 * seen or checked, for the log. */
	bool (*detect)(const struct bl_config *cfg, char **why);
	int (*load)(const struct bl_config *cfg, struct bl_instance *inst);
	/* Optional: re-reads what can change while the instance runs (its
	 * tags) into a record load() filled, reusing what load() set up (the
	 * IMDS session, the credentials).  Without it, load() runs again. */
	int (*refresh)(const struct bl_config *cfg, struct bl_instance *inst);
};

extern const struct bl_datasource bl_datasource_ec2;
extern const struct bl_datasource bl_datasource_nocloud;

/* Datasource by name, NULL if this build has none by that name. */
const struct bl_datasource *bl_datasource_find(const char *name);

/* Resolves cfg->datasource ("auto" or a name) to a datasource.
 * -BL_EDATASOURCE (with an error logged saying what was checked) if none. */
int bl_datasource_select(const struct bl_config *cfg, const struct bl_datasource **out);

/* Root under which /sys is read for platform detection; "" normally.
 * Tests set BOOTLACE_SYSFS_ROOT to a fake tree. */
const char *bl_sysfs_root(void);

#endif
