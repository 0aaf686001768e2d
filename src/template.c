/* template.c - layer path templates (template.h).
 *
 * An expanded template becomes a path under the layer source, and instance
 * tags are set by whoever can tag the instance, so every substituted value
 * must be one safe path component and the result is checked again.  Literal
 * braces are not supported: a stray '{' or '}' is far more likely a typo
 * than intent, and refusing it keeps the grammar unambiguous. */
#include "bootlace/template.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "bootlace/error.h"
#include "bootlace/log.h"

/* AWS's limit on a tag key. */
#define TAG_KEY_MAX 128

enum placeholder { PH_UNKNOWN, PH_EVENT, PH_ROLE, PH_ENVIRONMENT, PH_TAG };

static bool word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* AWS's tag key characters, ASCII only: the key is looked up, never put in
 * a path, but it is quoted in messages and logs. */
static bool tag_key_ok(const char *k, size_t len)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789._:/+=@ -";
	if (len == 0 || len > TAG_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!memchr(ok, k[i], sizeof(ok) - 1))
			return false;
	return true;
}

/* What the placeholder body name[0..len) (between the braces) is. */
static enum placeholder placeholder_kind(const char *name, size_t len)
{
	if (word_is(name, len, "event"))
		return PH_EVENT;
	if (word_is(name, len, "role"))
		return PH_ROLE;
	if (word_is(name, len, "environment"))
		return PH_ENVIRONMENT;
	if (len > 4 && memcmp(name, "tag:", 4) == 0 && tag_key_ok(name + 4, len - 4))
		return PH_TAG;
	return PH_UNKNOWN;
}

/* 1-based column of at in s, counting UTF-8 characters as YAML does. */
static int column(const char *s, const char *at)
{
	int col = 1;
	for (; s < at; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			col++;
	return col;
}

static int fail(char **msg, int *col, const char *tmpl, const char *at,
		const char *fmt, ...) _printf_(5, 6);
static int fail(char **msg, int *col, const char *tmpl, const char *at,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*msg = NULL;
		return -BL_ENOMEM;
	}
	*col = column(tmpl, at);
	return -BL_ECONFIG;
}

/* Case-insensitive edit distance from a[0..alen) to b, one of the short
 * known names. */
static size_t distance(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), row[16];

	for (size_t j = 0; j <= blen; j++)
		row[j] = j;
	for (size_t i = 1; i <= alen; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t up = row[j];
			row[j] = diag + (tolower((unsigned char)a[i - 1]) !=
					 tolower((unsigned char)b[j - 1]));
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[blen];
}

/* The unknown placeholder at p (body name[0..len)), with a suggestion when
 * it is a near miss of a known one. */
static int unknown_placeholder(char **msg, int *col, const char *tmpl, const char *p,
			       const char *name, size_t len)
{
	static const char *const known[] = { "event", "role", "environment" };
	const char *colon = memchr(name, ':', len);
	size_t head = colon ? (size_t)(colon - name) : len;
	int n = (int)len;

	if (colon && distance(name, head, "tag") <= 1)
		return fail(msg, col, tmpl, p,
			    "bad placeholder \"{%.*s}\": want {tag:KEY}, KEY 1 to %d "
			    "characters of A-Z a-z 0-9 . _ : / + = @ - and space",
			    n, name, TAG_KEY_MAX);
	for (size_t i = 0; !colon && i < ARRAY_SIZE(known); i++)
		if (distance(name, len, known[i]) <= 1 + strlen(known[i]) / 6)
			return fail(msg, col, tmpl, p,
				    "unknown placeholder \"{%.*s}\"; did you mean {%s}?",
				    n, name, known[i]);
	return fail(msg, col, tmpl, p, "unknown placeholder \"{%.*s}\"", n, name);
}

/* Why the path component s[0..len) cannot be used, or NULL. */
static const char *component_error(const char *s, size_t len)
{
	if (len == 0)
		return "empty path component";
	if (word_is(s, len, "."))
		return "\".\" path component";
	if (word_is(s, len, ".."))
		return "\"..\" path component";
	return NULL;
}

int bl_template_validate(const char *tmpl, char **msg, int *col)
{
	*msg = NULL;
	*col = 0;
	if (!*tmpl)
		return fail(msg, col, tmpl, tmpl, "empty template");
	if (*tmpl == '/')
		return fail(msg, col, tmpl, tmpl,
			    "absolute path; layer paths are relative to the source");
	/* Checked first so later messages never quote such bytes. */
	for (const char *p = tmpl; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(msg, col, tmpl, p, "control character 0x%02x",
				    (unsigned)(unsigned char)*p);
		if (*p == '\\')
			return fail(msg, col, tmpl, p, "backslash; use '/' between components");
	}

	const char *comp = tmpl;
	for (const char *p = tmpl;; p++) {
		if (*p == '{') {
			size_t n = strcspn(p + 1, "{}");
			if (p[1 + n] != '}')
				return fail(msg, col, tmpl, p,
					    "unbalanced \"{\" (literal braces are not supported)");
			if (placeholder_kind(p + 1, n) == PH_UNKNOWN)
				return unknown_placeholder(msg, col, tmpl, p, p + 1, n);
			/* A tag key may hold '/': skip it whole. */
			p += 1 + n;
		} else if (*p == '}') {
			return fail(msg, col, tmpl, p,
				    "unbalanced \"}\" (literal braces are not supported)");
		} else if (*p == '/' || !*p) {
			const char *why = component_error(comp, (size_t)(p - comp));
			if (why)
				return fail(msg, col, tmpl, comp, "%s", why);
			if (!*p)
				return 0;
			comp = p + 1;
		}
	}
}

/* Checks an expanded path: relative, no empty, "." or ".." component. */
static bool path_ok(const char *path)
{
	if (*path == '/')
		return false;
	for (const char *s = path;; ) {
		size_t n = strcspn(s, "/");
		if (component_error(s, n))
			return false;
		if (!s[n])
			return true;
		s += n + 1;
	}
}

/* Appends the value of the validated placeholder name[0..len) to path, or
 * fails naming in *tag the tag that is missing or unsafe. */
static int substitute(struct bl_buf *path, const char *name, size_t len,
		      const char *event, const struct bl_instance *inst,
		      const struct bl_config *cfg, char **tag)
{
	enum placeholder kind = placeholder_kind(name, len);
	char keybuf[TAG_KEY_MAX + 1];
	const char *key = keybuf;

	switch (kind) {
	case PH_EVENT:
		key = "event";
		break;
	case PH_ROLE:
		key = cfg->tag_role;
		break;
	case PH_ENVIRONMENT:
		key = cfg->tag_environment;
		break;
	case PH_TAG:
	case PH_UNKNOWN: /* refused by validation */
		memcpy(keybuf, name + 4, len - 4);
		keybuf[len - 4] = '\0';
		break;
	}
	const char *value = kind == PH_EVENT ? event : bl_instance_tag(inst, key);
	if (value && bl_is_safe_name(value, BL_TAG_VALUE_MAX))
		return bl_buf_append(path, value, strlen(value));
	*tag = strdup(key);
	if (!*tag)
		return -BL_ENOMEM;
	return value ? -BL_EUNSAFE : -BL_EMISSINGTAG;
}

int bl_template_expand(const char *tmpl, const char *event,
		       const struct bl_instance *inst, const struct bl_config *cfg,
		       char **out, char **tag)
{
	_cleanup_free_ char *msg = NULL;
	int col, r;

	*out = NULL;
	*tag = NULL;
	r = bl_template_validate(tmpl, &msg, &col);
	if (r == -BL_ECONFIG)
		bl_err("layer template, column %d: %s", col, msg);
	if (r < 0)
		return r;

	struct bl_buf path = {0};
	for (const char *p = tmpl; *p;) {
		if (*p != '{') {
			size_t n = strcspn(p, "{");
			r = bl_buf_append(&path, p, n);
			p += n;
		} else {
			size_t n = strcspn(p + 1, "}");
			r = substitute(&path, p + 1, n, event, inst, cfg, tag);
			p += n + 2;
		}
		if (r < 0) {
			bl_buf_free(&path);
			return r;
		}
	}

	/* Safe values cannot make a bad path today; this keeps it so should
	 * the rules above ever loosen. */
	if (!path_ok(path.data)) {
		bl_err("layer template \"%s\" expands to an unsafe path", tmpl);
		bl_buf_free(&path);
		return -BL_EUNSAFE;
	}
	*out = path.data;
	return 0;
}
