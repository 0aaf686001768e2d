/* error.c - messages and exit codes for bootlace's error enum (error.h). */
#include "bootlace/error.h"

static const char *const error_messages[BL_ERROR_MAX] = {
	[BL_OK] = "success",
	[BL_ENOMEM] = "out of memory",
	[BL_EIO] = "I/O error",
	[BL_EUSAGE] = "usage error",
	[BL_ECONFIG] = "invalid configuration",
	[BL_EFORMAT] = "malformed input",
	[BL_ENOTFOUND] = "not found",
	[BL_ETOOBIG] = "too large",
	[BL_EUNSAFE] = "refused as unsafe",
	[BL_EMISSINGTAG] = "missing instance tag",
	[BL_EDATASOURCE] = "datasource error",
	[BL_ENETWORK] = "network error",
	[BL_ETIMEOUT] = "timed out",
	[BL_ELOCKED] = "another bootlace holds the lock",
	[BL_ELAYER] = "a layer failed",
	[BL_EPERM] = "permission denied",
	[BL_EUNSUPPORTED] = "not supported",
	[BL_ECREDENTIALS] = "no usable AWS credentials",
	[BL_EDENIED] = "access denied",
	[BL_EINTEGRITY] = "download incomplete or corrupt",
	[BL_ESIGNATURE] = "signature missing or invalid",
};

const char *bl_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= BL_ERROR_MAX || !error_messages[err])
		return "unknown error";
	return error_messages[err];
}

int bl_exit_code(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case BL_OK:
		return BL_EXIT_OK;
	case BL_EUSAGE:
	case BL_ECONFIG:
	case BL_EPERM: /* an unusable state dir is the operator's to fix */
		return BL_EXIT_USAGE;
	case BL_EDATASOURCE:
	case BL_ENETWORK:
	case BL_ETIMEOUT:
	case BL_ECREDENTIALS:
	case BL_EDENIED:
	case BL_EINTEGRITY:
		return BL_EXIT_DATASOURCE;
	case BL_ELOCKED:
		return BL_EXIT_LOCKED;
	case BL_ESIGNATURE: /* what was fetched is refused, like a failed layer:
			     * unlike a network error, retrying will not help */
		return BL_EXIT_LAYER;
	default:
		return BL_EXIT_LAYER;
	}
}
