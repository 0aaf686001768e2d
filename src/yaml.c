/* yaml.c - YAML documents as position-carrying node trees (yaml.h).
 *
 * libyaml's event stream is folded into a small tree so that config and
 * seed parsers can walk it and still say FILE:LINE:COL for any value.
 * Strict on purpose: aliases, multiple documents and duplicate keys are
 * errors, since in a boot agent's config they are far more often mistakes
 * than intent. */
#include "bootlace/yaml.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bootlace/error.h"
#include "bootlace/util.h"

#define YAML_MAX_DEPTH 64

struct yaml_ctx {
	yaml_parser_t parser;
	int line, col;
	char *msg;
};

/* Records the first error only: later ones are usually its consequences. */
static int ctx_fail_at(struct yaml_ctx *ctx, int line, int col, const char *what)
{
	if (!ctx->msg) {
		ctx->line = line;
		ctx->col = col;
		ctx->msg = bl_printable(strdup(what));
	}
	return -BL_EFORMAT;
}

static int ctx_fail(struct yaml_ctx *ctx, const yaml_mark_t *mark, const char *what)
{
	return ctx_fail_at(ctx, (int)mark->line + 1, (int)mark->column + 1, what);
}

static int ctx_parser_error(struct yaml_ctx *ctx)
{
	yaml_parser_t *p = &ctx->parser;
	const yaml_mark_t *mark = p->problem ? &p->problem_mark : &p->mark;
	free(ctx->msg);
	ctx->msg = NULL;
	char *what = bl_strdup_printf("YAML syntax error: %s%s%s",
				      p->problem ? p->problem : "unknown error",
				      p->context ? " " : "", p->context ? p->context : "");
	int r = ctx_fail(ctx, mark, what ? what : "YAML syntax error");
	free(what);
	return r;
}

static struct bl_yaml_node *node_new(enum bl_yaml_kind kind, const yaml_mark_t *mark)
{
	struct bl_yaml_node *n = calloc(1, sizeof(*n));
	if (n) {
		n->kind = kind;
		n->line = (int)mark->line + 1;
		n->col = (int)mark->column + 1;
	}
	return n;
}

static int node_push(struct bl_yaml_node *parent, struct bl_yaml_node *key,
		     struct bl_yaml_node *value)
{
	size_t n = parent->n + 1;
	struct bl_yaml_node **values = reallocarray(parent->values, n, sizeof(*values));
	if (!values)
		return -BL_ENOMEM;
	parent->values = values;
	if (parent->kind == BL_YAML_MAP) {
		struct bl_yaml_node **keys = reallocarray(parent->keys, n, sizeof(*keys));
		if (!keys)
			return -BL_ENOMEM;
		parent->keys = keys;
		parent->keys[parent->n] = key;
	}
	parent->values[parent->n] = value;
	parent->n = n;
	return 0;
}

static int parse_node(struct yaml_ctx *ctx, yaml_event_t *ev, int depth,
		      struct bl_yaml_node **out);

static int next_event(struct yaml_ctx *ctx, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ctx->parser, ev))
		return ctx_parser_error(ctx);
	return 0;
}

/* Parses the children of a mapping or sequence until its end event. */
static int parse_children(struct yaml_ctx *ctx, struct bl_yaml_node *parent, int depth)
{
	yaml_event_type_t end = parent->kind == BL_YAML_MAP ? YAML_MAPPING_END_EVENT
							    : YAML_SEQUENCE_END_EVENT;
	for (;;) {
		yaml_event_t ev;
		int r = next_event(ctx, &ev);
		if (r < 0)
			return r;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		struct bl_yaml_node *key = NULL, *value = NULL;
		if (parent->kind == BL_YAML_MAP) {
			r = parse_node(ctx, &ev, depth + 1, &key);
			if (r < 0)
				return r;
			if (key->kind != BL_YAML_SCALAR) {
				r = ctx_fail_at(ctx, key->line, key->col,
						"mapping keys must be plain strings");
				bl_yaml_free(key);
				return r;
			}
			if (bl_yaml_get(parent, key->scalar)) {
				char *what = bl_strdup_printf("duplicate key \"%s\"", key->scalar);
				r = ctx_fail_at(ctx, key->line, key->col,
						what ? what : "duplicate key");
				free(what);
				bl_yaml_free(key);
				return r;
			}
			r = next_event(ctx, &ev);
			if (r < 0) {
				bl_yaml_free(key);
				return r;
			}
		}
		r = parse_node(ctx, &ev, depth + 1, &value);
		if (r == 0)
			r = node_push(parent, key, value);
		if (r < 0) {
			bl_yaml_free(key);
			bl_yaml_free(value);
			return r;
		}
	}
}

/* Builds the node that starts with ev (consumed). */
static int parse_node(struct yaml_ctx *ctx, yaml_event_t *ev, int depth,
		      struct bl_yaml_node **out)
{
	int r = 0;
	struct bl_yaml_node *n = NULL;
	*out = NULL;
	if (depth > YAML_MAX_DEPTH) {
		r = ctx_fail(ctx, &ev->start_mark, "YAML nested too deeply");
		goto done;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(BL_YAML_SCALAR, &ev->start_mark);
		if (!n || !(n->scalar = strndup((const char *)ev->data.scalar.value,
						ev->data.scalar.length))) {
			r = -BL_ENOMEM;
			break;
		}
		/* "!!str true" is a string, as if quoted. */
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			   !(ev->data.scalar.tag &&
			     strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG) == 0);
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? BL_YAML_MAP : BL_YAML_SEQ,
			     &ev->start_mark);
		if (!n) {
			r = -BL_ENOMEM;
			break;
		}
		r = parse_children(ctx, n, depth);
		break;
	case YAML_ALIAS_EVENT:
		r = ctx_fail(ctx, &ev->start_mark, "YAML aliases are not supported");
		break;
	default:
		r = ctx_fail(ctx, &ev->start_mark, "unexpected YAML event");
		break;
	}
done:
	yaml_event_delete(ev);
	if (r < 0) {
		bl_yaml_free(n);
		return r;
	}
	*out = n;
	return 0;
}

/* Skips STREAM-START/DOCUMENT-START, parses the root, and requires a single
 * document. */
static int parse_stream(struct yaml_ctx *ctx, struct bl_yaml_node **out)
{
	struct bl_yaml_node *root = NULL;
	bool seen_document = false;
	for (;;) {
		yaml_event_t ev;
		int r = next_event(ctx, &ev);
		if (r < 0) {
			bl_yaml_free(root);
			return r;
		}
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			yaml_event_delete(&ev);
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (seen_document) {
				r = ctx_fail(ctx, &ev.start_mark,
					     "only one YAML document is allowed");
				yaml_event_delete(&ev);
				bl_yaml_free(root);
				return r;
			}
			seen_document = true;
			yaml_event_delete(&ev);
			break;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			*out = root;
			return 0;
		default:
			r = parse_node(ctx, &ev, 0, &root);
			if (r < 0)
				return r;
			break;
		}
	}
}

int bl_yaml_parse(const char *text, size_t len, struct bl_yaml_node **out,
		  int *line, int *col, char **msg)
{
	struct yaml_ctx ctx = {0};
	*out = NULL;
	if (!yaml_parser_initialize(&ctx.parser))
		return -BL_ENOMEM;
	yaml_parser_set_input_string(&ctx.parser, (const unsigned char *)text, len);
	int r = parse_stream(&ctx, out);
	yaml_parser_delete(&ctx.parser);
	if (r < 0) {
		if (line)
			*line = ctx.line;
		if (col)
			*col = ctx.col;
		if (msg)
			*msg = ctx.msg;
		else
			free(ctx.msg);
		return r;
	}
	free(ctx.msg);
	return 0;
}

void bl_yaml_free(struct bl_yaml_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			bl_yaml_free(n->keys[i]);
		bl_yaml_free(n->values[i]);
	}
	free(n->keys);
	free(n->values);
	free(n->scalar);
	free(n);
}

const struct bl_yaml_node *bl_yaml_get(const struct bl_yaml_node *map, const char *key)
{
	if (!map || map->kind != BL_YAML_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->scalar, key) == 0)
			return map->values[i];
	return NULL;
}

bool bl_yaml_is_null(const struct bl_yaml_node *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	if (!n || n->kind != BL_YAML_SCALAR || !n->plain)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strcmp(n->scalar, nulls[i]) == 0)
			return true;
	return false;
}
