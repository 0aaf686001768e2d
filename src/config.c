/* config.c - bootlace's configuration (config.h): built-in defaults, then
 * the main file, its conf.d drop-ins and a "#bootlace" user-data document,
 * each merged over the one before.
 *
 * The schema is a table per mapping, so unknown keys, types and ranges are
 * checked in one place and every error names its full key path and
 * FILE:LINE:COL.  Errors are collected, not returned at the first one: a
 * machine that refuses to boot should say everything that is wrong at once. */
#include "bootlace/config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bootlace/error.h"
#include "bootlace/http.h"
#include "bootlace/source.h"
#include "bootlace/template.h"
#include "bootlace/util.h"
#include "bootlace/yaml.h"

/* Configuration is a few hundred bytes; anything near this is a mistake. */
#define CONFIG_MAX_SIZE (1024 * 1024)

enum value_type {
	V_MAP,        /* nested mapping described by keys */
	V_LAYERS,     /* non-empty list of layer mappings; replaces the old list */
	V_KEYWORD,    /* char *: one of choices */
	V_ON_FAILURE, /* enum bl_on_failure: index into choices */
	V_NAME,       /* char *: non-empty string */
	V_ABS_PATH,   /* char *: absolute path */
	V_URL,        /* char *: checked by bl_source_validate() */
	V_ENDPOINT,   /* char *: checked by bl_http_validate_endpoint() */
	V_TEMPLATE,   /* char *: checked by bl_template_validate() */
	V_UINT,       /* unsigned: plain decimal, min..max */
	V_BOOL,       /* bool */
};

struct key_spec {
	const char *name;
	enum value_type type;
	size_t offset;               /* of the field in the struct being filled */
	bool required;               /* must be present in its mapping */
	const char *const *choices;  /* V_KEYWORD, V_ON_FAILURE: NULL-terminated */
	unsigned min, max;           /* V_UINT */
	const struct key_spec *keys; /* V_MAP: terminated by a NULL name */
	bool not_in_user_data;       /* refused in a "#bootlace" user-data document */
};

static const char *const datasource_names[] = { "auto", "ec2", "nocloud", NULL };
static const char *const log_level_names[] = { "error", "warning", "info", "debug", NULL };
static const char *const imds_mode_names[] = { "IPv4", "IPv6", NULL };
static const char *const tags_source_names[] = { "auto", "imds", "api", NULL };
static const char *const s3_addressing_names[] = { "auto", "path", "virtual", NULL };
static const char *const converge_mode_names[] = { "on-change", "always", NULL };
static const char *const on_stop_names[] = { "auto", "always", "never", NULL };
static const char *const on_failure_names[] = {
	[BL_ON_FAILURE_STOP] = "stop",
	[BL_ON_FAILURE_CONTINUE] = "continue",
	NULL
};
/* YAML 1.1 and 1.2 spellings; "on"/"off" are left out as too surprising. */
static const char *const true_words[] = { "true", "True", "TRUE", "yes", "Yes", "YES", NULL };
static const char *const false_words[] = { "false", "False", "FALSE", "no", "No", "NO", NULL };

#define CFG(field) offsetof(struct bl_config, field)
#define LAYER(field) offsetof(struct bl_layer_spec, field)

static const struct key_spec layer_keys[] = {
	{ .name = "path", .type = V_TEMPLATE, .offset = LAYER(path), .required = true },
	{ .name = "required", .type = V_BOOL, .offset = LAYER(required) },
	{ .name = NULL }
};

/* One item of layers; its fields are those of a struct bl_layer_spec. */
static const struct key_spec layer_spec = { .type = V_MAP, .keys = layer_keys };

static const struct key_spec tags_keys[] = {
	{ .name = "role", .type = V_NAME, .offset = CFG(tag_role) },
	{ .name = "environment", .type = V_NAME, .offset = CFG(tag_environment) },
	{ .name = "source", .type = V_KEYWORD, .offset = CFG(tags_source),
	  .choices = tags_source_names },
	{ .name = NULL }
};

static const struct key_spec run_keys[] = {
	{ .name = "timeout", .type = V_UINT, .offset = CFG(run_timeout), .min = 1, .max = 604800 },
	{ .name = "on_failure", .type = V_ON_FAILURE, .offset = CFG(on_failure),
	  .choices = on_failure_names },
	{ .name = "kill_grace", .type = V_UINT, .offset = CFG(run_kill_grace), .min = 0, .max = 3600 },
	{ .name = NULL }
};

static const struct key_spec imds_keys[] = {
	{ .name = "endpoint", .type = V_ENDPOINT, .offset = CFG(imds_endpoint) },
	{ .name = "mode", .type = V_KEYWORD, .offset = CFG(imds_mode), .choices = imds_mode_names },
	{ .name = "allow_v1", .type = V_BOOL, .offset = CFG(imds_allow_v1) },
	{ .name = "wait", .type = V_UINT, .offset = CFG(imds_wait), .min = 0, .max = 3600 },
	{ .name = NULL }
};

static const struct key_spec s3_keys[] = {
	{ .name = "endpoint", .type = V_ENDPOINT, .offset = CFG(s3_endpoint) },
	{ .name = "addressing_style", .type = V_KEYWORD, .offset = CFG(s3_addressing_style),
	  .choices = s3_addressing_names },
	{ .name = "max_object_size", .type = V_UINT, .offset = CFG(s3_max_object_size),
	  .min = 1, .max = 1024u * 1024 * 1024 },
	{ .name = "retry_for", .type = V_UINT, .offset = CFG(s3_retry_for), .min = 1, .max = 3600 },
	{ .name = NULL }
};

static const struct key_spec ec2_keys[] = {
	{ .name = "endpoint", .type = V_ENDPOINT, .offset = CFG(ec2_endpoint) },
	{ .name = NULL }
};

static const struct key_spec tls_keys[] = {
	{ .name = "ca_file", .type = V_ABS_PATH, .offset = CFG(tls_ca_file) },
	{ .name = NULL }
};

static const struct key_spec converge_keys[] = {
	{ .name = "interval", .type = V_UINT, .offset = CFG(converge_interval), .min = 1,
	  .max = 604800 },
	{ .name = "splay", .type = V_UINT, .offset = CFG(converge_splay), .min = 0, .max = 86400 },
	{ .name = "mode", .type = V_KEYWORD, .offset = CFG(converge_mode),
	  .choices = converge_mode_names },
	{ .name = NULL }
};

static const struct key_spec shutdown_keys[] = {
	{ .name = "timeout", .type = V_UINT, .offset = CFG(shutdown_timeout), .min = 1,
	  .max = 86400 },
	{ .name = "on_stop", .type = V_KEYWORD, .offset = CFG(shutdown_on_stop),
	  .choices = on_stop_names },
	{ .name = NULL }
};

static const struct key_spec security_keys[] = {
	{ .name = "require_signature", .type = V_BOOL, .offset = CFG(require_signature) },
	{ .name = "trusted_keys", .type = V_ABS_PATH, .offset = CFG(trusted_keys) },
	{ .name = "require_signed_user_data", .type = V_BOOL,
	  .offset = CFG(require_signed_user_data) },
	{ .name = NULL }
};

static const struct key_spec top_keys[] = {
	{ .name = "datasource", .type = V_KEYWORD, .offset = CFG(datasource),
	  .choices = datasource_names },
	{ .name = "datasource_dir", .type = V_ABS_PATH, .offset = CFG(datasource_dir) },
	{ .name = "source", .type = V_URL, .offset = CFG(source) },
	{ .name = "layers", .type = V_LAYERS },
	{ .name = "tags", .type = V_MAP, .keys = tags_keys },
	{ .name = "run", .type = V_MAP, .keys = run_keys },
	{ .name = "imds", .type = V_MAP, .keys = imds_keys },
	{ .name = "s3", .type = V_MAP, .keys = s3_keys },
	{ .name = "ec2", .type = V_MAP, .keys = ec2_keys },
	{ .name = "tls", .type = V_MAP, .keys = tls_keys },
	{ .name = "converge", .type = V_MAP, .keys = converge_keys },
	{ .name = "shutdown", .type = V_MAP, .keys = shutdown_keys },
	/* User data is what signatures check: it must not be able to turn
	 * them off or bring its own keys. */
	{ .name = "security", .type = V_MAP, .keys = security_keys, .not_in_user_data = true },
	{ .name = "state_dir", .type = V_ABS_PATH, .offset = CFG(state_dir) },
	{ .name = "log_level", .type = V_KEYWORD, .offset = CFG(log_level),
	  .choices = log_level_names },
	{ .name = NULL }
};

/* The whole document; its fields are those of a struct bl_config. */
static const struct key_spec document_spec = { .type = V_MAP, .keys = top_keys };

static const struct {
	const char *path;
	bool required;
} default_layers[] = {
	{ "base/{event}.sh", true },
	{ "roles/{role}/{event}.sh", false },
	{ "environments/{environment}/{event}.sh", false },
};

/* One document being merged: where its errors go and under what name. */
struct merge {
	const char *file;
	struct bl_config_diags *diags;
	bool user_data;  /* a "#bootlace" user-data document */
};

static int add_diag(struct bl_config_diags *diags, const char *file, int line, int col,
		    const char *fmt, ...) _printf_(5, 6);

/* Records one error; returns -BL_ECONFIG so callers can return it. */
static int add_diag(struct bl_config_diags *diags, const char *file, int line, int col,
		    const char *fmt, ...)
{
	struct bl_config_diag *items = reallocarray(diags->items, diags->n + 1, sizeof(*items));
	if (!items)
		return -BL_ENOMEM;
	diags->items = items;

	char *message;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&message, fmt, ap) < 0)
		message = NULL;
	va_end(ap);
	bl_printable(message);
	char *copy = strdup(file);
	if (!message || !copy) {
		free(message);
		free(copy);
		return -BL_ENOMEM;
	}
	items[diags->n++] = (struct bl_config_diag){
		.file = copy, .line = line, .col = col, .message = message,
	};
	return -BL_ECONFIG;
}

/* The more serious of two results: out of memory outranks a config error,
 * which outranks success. */
static int worse(int a, int b)
{
	return a == -BL_ENOMEM || b == 0 ? a : b;
}

static void free_layers(struct bl_layer_spec *layers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(layers[i].path);
	free(layers);
}

static int set_string(char **dst, const char *value)
{
	char *copy = strdup(value);
	if (!copy)
		return -BL_ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* Index of s in the NULL-terminated words, or -1. */
static int find_word(const char *const *words, const char *s)
{
	for (int i = 0; words[i]; i++)
		if (strcmp(words[i], s) == 0)
			return i;
	return -1;
}

/* Plain decimal only: a quoted "30" is a string, and a leading zero would
 * be octal to a YAML 1.1 reader. */
static bool parse_uint(const struct bl_yaml_node *v, unsigned min, unsigned max,
		       unsigned *out)
{
	const char *s = v->scalar;
	if (!v->plain || !*s || strspn(s, "0123456789") != strlen(s) || (s[0] == '0' && s[1]))
		return false;
	errno = 0;
	unsigned long long n = strtoull(s, NULL, 10);
	if (errno == ERANGE || n < min || n > max)
		return false;
	*out = (unsigned)n;
	return true;
}

/* Booleans must be plain: a quoted "true" is a string. */
static bool parse_bool(const struct bl_yaml_node *v, bool *out)
{
	if (!v->plain)
		return false;
	if (find_word(true_words, v->scalar) >= 0)
		*out = true;
	else if (find_word(false_words, v->scalar) >= 0)
		*out = false;
	else
		return false;
	return true;
}

/* What a key accepts, for "expected ..." messages; built in buf if needed. */
static const char *describe_expected(const struct key_spec *spec, char *buf, size_t size)
{
	switch (spec->type) {
	case V_MAP:
		return "a mapping";
	case V_LAYERS:
		return "a non-empty list of layers";
	case V_KEYWORD:
	case V_ON_FAILURE: {
		size_t len = (size_t)snprintf(buf, size, "one of");
		for (const char *const *c = spec->choices; *c && len < size; c++)
			len += (size_t)snprintf(buf + len, size - len, "%s %s",
						c == spec->choices ? "" : ",", *c);
		return buf;
	}
	case V_NAME:
		return "a non-empty string";
	case V_ABS_PATH:
		return "an absolute path";
	case V_URL:
	case V_ENDPOINT:
		return "a URL";
	case V_TEMPLATE:
		return "a path template";
	case V_UINT:
		snprintf(buf, size, "an integer from %u to %u", spec->min, spec->max);
		return buf;
	case V_BOOL:
		return "true or false";
	}
	return "a value";
}

/* A node as a message names it, or NULL for a scalar, which is quoted. */
static const char *describe_node(const struct bl_yaml_node *v)
{
	if (v->kind == BL_YAML_MAP)
		return "a mapping";
	if (v->kind == BL_YAML_SEQ)
		return v->n ? "a list" : "an empty list";
	if (bl_yaml_is_null(v))
		return "null";
	return NULL;
}

/* "PATH: expected WHAT, got VALUE" at the offending value. */
static int expected(struct merge *m, const struct key_spec *spec,
		    const struct bl_yaml_node *v, const char *path)
{
	char buf[128];
	const char *what = describe_expected(spec, buf, sizeof(buf));
	const char *sep = *path ? ": " : "";
	const char *got = describe_node(v);

	if (got)
		return add_diag(m->diags, m->file, v->line, v->col, "%s%sexpected %s, got %s",
				path, sep, what, got);
	return add_diag(m->diags, m->file, v->line, v->col, "%s%sexpected %s, got %s\"%s\"",
			path, sep, what, v->plain ? "" : "a quoted string ", v->scalar);
}

/* Levenshtein distance from a to b, one of our short key names. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t row[32], blen = strlen(b);

	if (blen >= ARRAY_SIZE(row))
		return SIZE_MAX;
	for (size_t j = 0; j <= blen; j++)
		row[j] = j;
	for (size_t i = 1; a[i - 1]; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[blen];
}

/* The known key closest to name if it is within two edits (a typo rather
 * than a different word), else NULL. */
static const char *closest_key(const struct key_spec *keys, const char *name)
{
	const char *best = NULL;
	size_t best_distance = 3;

	for (const struct key_spec *k = keys; k->name; k++) {
		size_t d = edit_distance(name, k->name);
		if (d < best_distance) {
			best = k->name;
			best_distance = d;
		}
	}
	return best;
}

static int unknown_key(struct merge *m, const struct key_spec *keys,
		       const struct bl_yaml_node *key, const char *path)
{
	const char *hint = closest_key(keys, key->scalar);
	if (hint)
		return add_diag(m->diags, m->file, key->line, key->col,
				"unknown key \"%s\" (did you mean \"%s\"?)", path, hint);
	return add_diag(m->diags, m->file, key->line, key->col, "unknown key \"%s\"", path);
}

/* File column of the 1-based column col inside scalar v's text.  Exact when
 * the text cannot have been rewritten by its YAML style (no whitespace,
 * quotes or escapes: one line, copied verbatim, after the opening quote if
 * any); otherwise the scalar's own position is the honest answer. */
static int scalar_text_col(const struct bl_yaml_node *v, int col)
{
	if (col < 1)
		return v->col;
	for (const unsigned char *p = (const unsigned char *)v->scalar; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\'' || *p == '\\')
			return v->col;
	return v->col + (v->plain ? 0 : 1) + col - 1;
}

/* Strings whose syntax another module owns; it says what is wrong. */
static int apply_validated(struct merge *m, const struct key_spec *spec,
			   const struct bl_yaml_node *v, const char *path, char **dst)
{
	_cleanup_free_ char *msg = NULL;
	int col = 0;
	int r;
	if (spec->type == V_URL)
		r = bl_source_validate(v->scalar, &msg);
	else if (spec->type == V_ENDPOINT)
		r = bl_http_validate_endpoint(v->scalar, &msg);
	else
		r = bl_template_validate(v->scalar, &msg, &col);
	if (r == -BL_ENOMEM)
		return r;
	if (r < 0)
		return add_diag(m->diags, m->file, v->line, scalar_text_col(v, col), "%s: %s",
				path, msg ? msg : bl_strerror(r));
	return set_string(dst, v->scalar);
}

static int apply_value(struct merge *m, const struct key_spec *spec,
		       const struct bl_yaml_node *v, const char *path, void *base);

static int apply_map(struct merge *m, const struct key_spec *keys,
		     const struct bl_yaml_node *map, const char *path, void *base)
{
	int ret = 0;

	for (size_t i = 0; i < map->n; i++) {
		const struct bl_yaml_node *key = map->keys[i];
		_cleanup_free_ char *key_path = *path ? bl_strdup_printf("%s.%s", path, key->scalar)
						      : strdup(key->scalar);
		if (!key_path)
			return -BL_ENOMEM;
		const struct key_spec *spec = keys;
		while (spec->name && strcmp(spec->name, key->scalar) != 0)
			spec++;
		if (spec->name && spec->not_in_user_data && m->user_data)
			ret = worse(ret, add_diag(m->diags, m->file, key->line, key->col,
						  "%s: not allowed in user data: signatures check what "
						  "user data brings, so it cannot set them (set it in "
						  "the configuration file or a drop-in)",
						  key_path));
		else
			ret = worse(ret, spec->name ? apply_value(m, spec, map->values[i], key_path,
								  base)
						    : unknown_key(m, keys, key, key_path));
	}
	for (const struct key_spec *k = keys; k->name; k++)
		if (k->required && !bl_yaml_get(map, k->name))
			ret = worse(ret, add_diag(m->diags, m->file, map->line, map->col,
						  "%s: missing key \"%s\"", path, k->name));
	return ret;
}

/* The list is built aside and replaces cfg's only when every item is good,
 * so a later document never leaves a half-written list behind. */
static int apply_layers(struct merge *m, const struct bl_yaml_node *seq, const char *path,
			struct bl_config *cfg)
{
	struct bl_layer_spec *layers = calloc(seq->n, sizeof(*layers));
	if (!layers)
		return -BL_ENOMEM;

	int ret = 0;
	for (size_t i = 0; i < seq->n; i++) {
		_cleanup_free_ char *item_path = bl_strdup_printf("%s[%zu]", path, i);
		ret = worse(ret, item_path ? apply_value(m, &layer_spec, seq->values[i],
							 item_path, &layers[i])
					   : -BL_ENOMEM);
	}
	if (ret == 0) {
		free_layers(cfg->layers, cfg->n_layers);
		cfg->layers = layers;
		cfg->n_layers = seq->n;
	} else {
		free_layers(layers, seq->n);
	}
	return ret;
}

/* Checks v against spec and stores it into base (a struct bl_config or a
 * struct bl_layer_spec).  Any mismatch ends at the "expected" message. */
static int apply_value(struct merge *m, const struct key_spec *spec,
		       const struct bl_yaml_node *v, const char *path, void *base)
{
	void *field = (char *)base + spec->offset;
	bool scalar = v->kind == BL_YAML_SCALAR && !bl_yaml_is_null(v);
	int i;

	switch (spec->type) {
	case V_MAP:
		if (v->kind != BL_YAML_MAP)
			break;
		return apply_map(m, spec->keys, v, path, base);
	case V_LAYERS:
		if (v->kind != BL_YAML_SEQ || v->n == 0)
			break;
		return apply_layers(m, v, path, base);
	case V_KEYWORD:
		if (!scalar || (i = find_word(spec->choices, v->scalar)) < 0)
			break;
		return set_string(field, spec->choices[i]);
	case V_ON_FAILURE:
		if (!scalar || (i = find_word(spec->choices, v->scalar)) < 0)
			break;
		*(enum bl_on_failure *)field = (enum bl_on_failure)i;
		return 0;
	case V_NAME:
		if (!scalar || !*v->scalar)
			break;
		return set_string(field, v->scalar);
	case V_ABS_PATH:
		if (!scalar || v->scalar[0] != '/')
			break;
		return set_string(field, v->scalar);
	case V_URL:
	case V_ENDPOINT:
	case V_TEMPLATE:
		if (!scalar)
			break;
		return apply_validated(m, spec, v, path, field);
	case V_UINT:
		if (!scalar || !parse_uint(v, spec->min, spec->max, field))
			break;
		return 0;
	case V_BOOL:
		if (!scalar || !parse_bool(v, field))
			break;
		return 0;
	}
	return expected(m, spec, v, path);
}

static void yaml_freep(struct bl_yaml_node **n)
{
	bl_yaml_free(*n);
}

static int merge_text(struct bl_config *cfg, const char *name, const char *text, size_t len,
		      bool user_data, struct bl_config_diags *diags)
{
	_cleanup_(yaml_freep) struct bl_yaml_node *root = NULL;
	_cleanup_free_ char *msg = NULL;
	int line = 0, col = 0;
	int r = bl_yaml_parse(text ? text : "", len, &root, &line, &col, &msg);

	if (r == -BL_EFORMAT)
		return add_diag(diags, name, line, col, "%s", msg ? msg : "YAML syntax error");
	if (r < 0)
		return r;
	/* A file of comments only, like a fresh drop-in, changes nothing. */
	if (!root || bl_yaml_is_null(root))
		return 0;
	struct merge m = { .file = name, .diags = diags, .user_data = user_data };
	return apply_value(&m, &document_spec, root, "", cfg);
}

int bl_config_merge_text(struct bl_config *cfg, const char *name, const char *text,
			 size_t len, struct bl_config_diags *diags)
{
	return merge_text(cfg, name, text, len, false, diags);
}

int bl_config_merge_user_data(struct bl_config *cfg, const char *text, size_t len,
			      struct bl_config_diags *diags)
{
	return merge_text(cfg, "user-data", text, len, true, diags);
}

/* Merges the file at path; a missing one is only an error if must_exist. */
static int merge_file(struct bl_config *cfg, const char *path, bool must_exist,
		      struct bl_config_diags *diags)
{
	_cleanup_(bl_buf_free) struct bl_buf text = {0};
	int r = bl_read_file(path, CONFIG_MAX_SIZE, &text);

	if (r == -BL_ENOTFOUND && !must_exist)
		return 0;
	if (r == -BL_ENOMEM)
		return r;
	if (r < 0)
		return add_diag(diags, path, 0, 0, "cannot read: %s",
				r == -BL_ETOOBIG ? "larger than 1 MiB" : strerror(errno));
	return bl_config_merge_text(cfg, path, text.data, text.len, diags);
}

/* Visible *.yaml names: editors' and package managers' leftovers
 * (".x.yaml.swp", "x.yaml.dpkg-old") stay out. */
static int is_dropin(const struct dirent *d)
{
	size_t len = strlen(d->d_name);
	return d->d_name[0] != '.' && len > 5 && strcmp(d->d_name + len - 5, ".yaml") == 0;
}

/* Byte order, so the order never depends on the locale. */
static int compare_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int merge_dropins(struct bl_config *cfg, const char *dir, struct bl_config_diags *diags)
{
	struct dirent **entries;
	int n = scandir(dir, &entries, is_dropin, compare_names);
	if (n < 0) {
		int err = errno;
		return err == ENOENT ? 0 : add_diag(diags, dir, 0, 0, "cannot read directory: %s",
						    strerror(err));
	}

	int ret = 0;
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *file = bl_strdup_printf("%s/%s", dir, entries[i]->d_name);
		ret = worse(ret, file ? merge_file(cfg, file, true, diags) : -BL_ENOMEM);
		free(entries[i]);
	}
	free(entries);
	return ret;
}

int bl_config_load(struct bl_config *cfg, const char *path, bool must_exist,
		   struct bl_config_diags *diags)
{
	size_t errors_before = diags->n;
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dropin_dir = slash ? bl_strdup_printf("%.*s/conf.d",
								   (int)(slash - path), path)
						: strdup("conf.d");
	if (!dropin_dir)
		return -BL_ENOMEM;

	/* Both run even when the first fails: every file's errors are wanted. */
	int r = merge_file(cfg, path, must_exist, diags);
	r = worse(r, merge_dropins(cfg, dropin_dir, diags));
	if (r == -BL_ENOMEM)
		return r;
	return diags->n > errors_before ? -BL_ECONFIG : 0;
}

int bl_config_init(struct bl_config *cfg)
{
	*cfg = (struct bl_config){
		.run_timeout = 1800,
		.run_kill_grace = 10,
		.on_failure = BL_ON_FAILURE_STOP,
		.imds_wait = 120,
		.s3_max_object_size = BL_DEFAULT_MAX_OBJECT_SIZE,
		.s3_retry_for = 120,
		.converge_interval = 300,
		.converge_splay = 30,
		.shutdown_timeout = 120,
	};
	cfg->layers = calloc(ARRAY_SIZE(default_layers), sizeof(*cfg->layers));
	if (!cfg->layers)
		goto oom;
	cfg->n_layers = ARRAY_SIZE(default_layers);
	for (size_t i = 0; i < cfg->n_layers; i++) {
		cfg->layers[i].required = default_layers[i].required;
		if (!(cfg->layers[i].path = strdup(default_layers[i].path)))
			goto oom;
	}
	if (!(cfg->datasource = strdup("auto")) ||
	    !(cfg->datasource_dir = strdup(BL_DEFAULT_SEED_DIR)) ||
	    !(cfg->tag_role = strdup("role")) ||
	    !(cfg->tag_environment = strdup("environment")) ||
	    !(cfg->state_dir = strdup(BL_DEFAULT_STATE_DIR)) ||
	    !(cfg->log_level = strdup("info")) ||
	    !(cfg->tags_source = strdup("auto")) ||
	    !(cfg->s3_addressing_style = strdup("auto")) ||
	    !(cfg->converge_mode = strdup("on-change")) ||
	    !(cfg->shutdown_on_stop = strdup("auto")) ||
	    !(cfg->trusted_keys = strdup(BL_DEFAULT_TRUSTED_KEYS)))
		goto oom;
	return 0;
oom:
	bl_config_free(cfg);
	return -BL_ENOMEM;
}

void bl_config_free(struct bl_config *cfg)
{
	free(cfg->datasource);
	free(cfg->datasource_dir);
	free(cfg->source);
	free_layers(cfg->layers, cfg->n_layers);
	free(cfg->tag_role);
	free(cfg->tag_environment);
	free(cfg->state_dir);
	free(cfg->log_level);
	free(cfg->imds_endpoint);
	free(cfg->imds_mode);
	free(cfg->tags_source);
	free(cfg->s3_endpoint);
	free(cfg->s3_addressing_style);
	free(cfg->ec2_endpoint);
	free(cfg->tls_ca_file);
	free(cfg->converge_mode);
	free(cfg->shutdown_on_stop);
	free(cfg->trusted_keys);
	*cfg = (struct bl_config){0};
}

/* Enough to fix a file by; a document of 262,000 broken list items (1 KiB
 * of gzip user data) must not bury the console at first boot. */
#define DIAGS_PRINTED 50

void bl_config_diags_print(const struct bl_config_diags *diags, FILE *f)
{
	if (diags->n > DIAGS_PRINTED)
		fprintf(f, "%s: %zu errors; the first %d:\n", diags->items[0].file, diags->n,
			DIAGS_PRINTED);
	for (size_t i = 0; i < diags->n && i < DIAGS_PRINTED; i++) {
		const struct bl_config_diag *d = &diags->items[i];
		if (d->line > 0 && d->col > 0)
			fprintf(f, "%s:%d:%d: %s\n", d->file, d->line, d->col, d->message);
		else if (d->line > 0)
			fprintf(f, "%s:%d: %s\n", d->file, d->line, d->message);
		else
			fprintf(f, "%s: %s\n", d->file, d->message);
	}
}

void bl_config_diags_free(struct bl_config_diags *diags)
{
	for (size_t i = 0; i < diags->n; i++) {
		free(diags->items[i].file);
		free(diags->items[i].message);
	}
	free(diags->items);
	*diags = (struct bl_config_diags){0};
}
