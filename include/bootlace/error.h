/* error.h - bootlace's one error enum.
 *
 * Every function that can fail returns 0 or a negative BL_E* code; the code
 * says what kind of failure it was, the log line emitted at the failure point
 * says where (file, URL, key, line).  bl_exit_code() maps a code to the
 * process exit status documented in bootlace(8). */
#ifndef BOOTLACE_ERROR_H
#define BOOTLACE_ERROR_H

enum bl_error {
	BL_OK = 0,
	BL_ENOMEM,      /* out of memory */
	BL_EIO,         /* file system or I/O error */
	BL_EUSAGE,      /* bad command line */
	BL_ECONFIG,     /* invalid configuration */
	BL_EFORMAT,     /* malformed input (YAML, JSON, user data, ...) */
	BL_ENOTFOUND,   /* object, file or key does not exist */
	BL_ETOOBIG,     /* input over its size cap */
	BL_EUNSAFE,     /* value refused for safety (path traversal, perms) */
	BL_EMISSINGTAG, /* a template names a tag the instance lacks */
	BL_EDATASOURCE, /* no datasource, or it failed */
	BL_ENETWORK,    /* network or remote service error */
	BL_ETIMEOUT,    /* something took too long */
	BL_ELOCKED,     /* another bootlace holds the state lock */
	BL_ELAYER,      /* a layer script failed */
	BL_EPERM,       /* permission or ownership refused */
	BL_EUNSUPPORTED,/* not handled by this build */
	BL_ECREDENTIALS,/* no usable AWS credentials */
	BL_EDENIED,     /* the service refused the request (403, signature) */
	BL_EINTEGRITY,  /* a download arrived short or did not match its checksum */
	BL_ESIGNATURE,  /* a signature is missing, malformed or does not verify */
	BL_ERROR_MAX
};

/* Documented process exit codes (bootlace(8), README). */
enum bl_exit {
	BL_EXIT_OK = 0,
	BL_EXIT_LAYER = 1,
	BL_EXIT_USAGE = 2,
	BL_EXIT_DATASOURCE = 3,
	BL_EXIT_LOCKED = 4,
};

/* Message for a code; accepts err or -err. */
const char *bl_strerror(int err);

/* Exit status for a (negative) error code. */
int bl_exit_code(int err);

#endif
