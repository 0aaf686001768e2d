/* config.h - bootlace's configuration: defaults, the main YAML file, drop-ins
 * (<dir>/conf.d/NAME.yaml, lexical order), and a "#bootlace" user-data document
 * merged last.  Each later document overrides the keys it sets; a list
 * (layers) is replaced whole.
 *
 * Parsing is strict: unknown keys, wrong types and bad values are errors
 * collected as FILE:LINE:COL: message, all of them, not just the first. */
#ifndef BOOTLACE_CONFIG_H
#define BOOTLACE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define BL_DEFAULT_CONFIG "/etc/bootlace/bootlace.yaml"
#define BL_DEFAULT_STATE_DIR "/var/lib/bootlace"
#define BL_DEFAULT_SEED_DIR "/var/lib/bootlace/seed"
#define BL_DEFAULT_MAX_OBJECT_SIZE (10u * 1024 * 1024)
#define BL_DEFAULT_TRUSTED_KEYS "/etc/bootlace/keys.d/*.pem"

enum bl_on_failure { BL_ON_FAILURE_STOP, BL_ON_FAILURE_CONTINUE };

struct bl_layer_spec {
	char *path;      /* template, relative to source: "roles/{role}/{event}.sh" */
	bool required;
};

struct bl_config {
	char *datasource;       /* "auto", "nocloud" or "ec2" */
	char *datasource_dir;   /* nocloud seed directory */
	char *source;           /* base URL of the layers; NULL = not configured */
	struct bl_layer_spec *layers;
	size_t n_layers;
	char *tag_role;         /* instance tag that feeds {role} */
	char *tag_environment;  /* instance tag that feeds {environment} */
	unsigned run_timeout;   /* seconds per layer */
	unsigned run_kill_grace;/* seconds between SIGTERM and SIGKILL */
	enum bl_on_failure on_failure;
	char *state_dir;
	char *log_level;        /* "error" "warning" "info" "debug" */
	char *imds_endpoint;    /* NULL = by imds_mode */
	char *imds_mode;        /* "IPv4" or "IPv6"; NULL = IPv4 */
	bool imds_allow_v1;     /* IMDSv1 fallback when the token PUT is refused */
	unsigned imds_wait;     /* seconds each IMDS request keeps retrying at boot */
	char *tags_source;      /* "auto", "imds" or "api" (EC2 DescribeTags) */
	char *s3_endpoint;      /* NULL = AWS's, by region */
	char *s3_addressing_style; /* "auto", "path" or "virtual" */
	unsigned s3_max_object_size; /* bytes, per layer object (s3:// and https://) */
	unsigned s3_retry_for;       /* seconds a download retries transient failures */
	char *ec2_endpoint;     /* NULL = AWS's, by region */
	char *tls_ca_file;      /* extra CA bundle; NULL = the system's */
	unsigned converge_interval; /* seconds between the daemon's checks */
	unsigned converge_splay;    /* up to this many random seconds more */
	char *converge_mode;    /* "on-change" or "always" */
	unsigned shutdown_timeout;  /* seconds per shutdown script */
	char *shutdown_on_stop; /* "auto" (system shutdown only), "always", "never" */
	/* security.*: never from user data, which is what they guard. */
	bool require_signature; /* every layer object needs a valid <url>.sig */
	char *trusted_keys;     /* path or glob of the PEM public keys */
	bool require_signed_user_data; /* user data must end in a signature line */
};

/* One error found while reading configuration. */
struct bl_config_diag {
	char *file;
	int line, col;   /* 0 when not known */
	char *message;
};

struct bl_config_diags {
	struct bl_config_diag *items;
	size_t n;
};

/* Fills cfg with the documented defaults. */
int bl_config_init(struct bl_config *cfg);
void bl_config_free(struct bl_config *cfg);

/* Loads path and then every <dirname(path)>/conf.d/NAME.yaml over cfg.  If
 * must_exist is false a missing main file is fine (defaults apply).
 * Returns 0, -BL_ECONFIG with diags filled, or another error. */
int bl_config_load(struct bl_config *cfg, const char *path, bool must_exist,
		   struct bl_config_diags *diags);

/* Merges one YAML document (text, len) named name over cfg. */
int bl_config_merge_text(struct bl_config *cfg, const char *name, const char *text,
			 size_t len, struct bl_config_diags *diags);

/* The same for a "#bootlace" user-data document (named "user-data"),
 * which may not set the security keys: user data is what they guard. */
int bl_config_merge_user_data(struct bl_config *cfg, const char *text, size_t len,
			      struct bl_config_diags *diags);

/* Prints each diagnostic as "FILE:LINE:COL: message" to f. */
void bl_config_diags_print(const struct bl_config_diags *diags, FILE *f);
void bl_config_diags_free(struct bl_config_diags *diags);

#endif
