/* xml.c - AWS's XML answers as a read-only tree (xml.h).
 *
 * expat does the parsing; this file only refuses what an AWS answer never
 * has (a DOCTYPE, and so entity declarations and external entities: the
 * billion-laughs and XXE attacks), bounds what it builds (depth, element
 * count, text per element) and drops namespaces.  The answers come over
 * the network, from a service or from whatever sits in between. */
#include "bootlace/xml.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <expat.h>
#include <openssl/crypto.h>

#include "bootlace/error.h"
#include "bootlace/util.h"

/* expat reports a namespaced name as "URI<sep>local".  A space cannot be
 * part of an XML name, and expat refuses it inside a namespace URI. */
#define NS_SEP ' '

struct xml_ctx {
	XML_Parser parser;
	struct bl_xml_node *root;
	/* The open elements, root first, and each one's text so far. */
	struct bl_xml_node *open[BL_XML_MAX_DEPTH];
	struct bl_buf text[BL_XML_MAX_DEPTH];
	/* The last child of each open element: appending stays O(1). */
	struct bl_xml_node *last_child[BL_XML_MAX_DEPTH];
	size_t depth;
	size_t n_nodes;
	int r;
	unsigned long line, col;   /* where the first failure happened */
	char *msg;
};

/* Records the first failure only (later ones are its consequences) and
 * stops expat, which may still deliver an event or two: handlers check
 * ctx->r first. */
_printf_(3, 4)
static void ctx_fail(struct xml_ctx *ctx, int r, const char *fmt, ...)
{
	if (ctx->r < 0)
		return;
	ctx->r = r;
	ctx->line = XML_GetCurrentLineNumber(ctx->parser);
	ctx->col = XML_GetCurrentColumnNumber(ctx->parser) + 1;
	if (r == -BL_EFORMAT) {
		va_list ap;
		va_start(ap, fmt);
		if (vasprintf(&ctx->msg, fmt, ap) < 0)
			ctx->msg = NULL;
		va_end(ap);
	}
	XML_StopParser(ctx->parser, XML_FALSE);
}

static void node_free(struct bl_xml_node *n)
{
	while (n) {
		struct bl_xml_node *next = n->next;
		node_free(n->children);  /* recursion bounded by BL_XML_MAX_DEPTH */
		/* An STS answer's text is a credential. */
		if (n->text)
			OPENSSL_cleanse(n->text, strlen(n->text));
		free(n->text);
		free(n);
		n = next;
	}
}

void bl_xml_free(struct bl_xml_node *root)
{
	node_free(root);
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_ctx *ctx = data;
	(void)attrs;
	if (ctx->r < 0)
		return;
	if (ctx->depth == BL_XML_MAX_DEPTH) {
		ctx_fail(ctx, -BL_EFORMAT, "elements nested deeper than %d", BL_XML_MAX_DEPTH);
		return;
	}
	if (ctx->n_nodes == BL_XML_MAX_NODES) {
		ctx_fail(ctx, -BL_EFORMAT, "more than %d elements", BL_XML_MAX_NODES);
		return;
	}
	const char *local = strrchr(name, NS_SEP);
	local = local ? local + 1 : name;
	size_t len = strlen(local);
	/* The name lives in the same allocation, right after the node. */
	struct bl_xml_node *n = calloc(1, sizeof(*n) + len + 1);
	if (!n) {
		ctx_fail(ctx, -BL_ENOMEM, "out of memory");
		return;
	}
	n->name = memcpy((char *)(n + 1), local, len + 1);
	if (ctx->depth == 0) {
		ctx->root = n;
	} else {
		struct bl_xml_node *parent = ctx->open[ctx->depth - 1];
		struct bl_xml_node **tail = &ctx->last_child[ctx->depth - 1];
		n->parent = parent;
		if (*tail)
			(*tail)->next = n;
		else
			parent->children = n;
		*tail = n;
	}
	ctx->n_nodes++;
	ctx->open[ctx->depth] = n;
	ctx->last_child[ctx->depth] = NULL;
	ctx->depth++;
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	struct xml_ctx *ctx = data;
	(void)name;
	if (ctx->r < 0)
		return;
	ctx->depth--;
	struct bl_buf *text = &ctx->text[ctx->depth];
	/* Empty text is "", not NULL: callers need not tell <value/> apart. */
	if (!text->data && bl_buf_append(text, "", 0) < 0) {
		ctx_fail(ctx, -BL_ENOMEM, "out of memory");
		return;
	}
	ctx->open[ctx->depth]->text = text->data;
	*text = (struct bl_buf){0};
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
	struct xml_ctx *ctx = data;
	if (ctx->r < 0)
		return;
	struct bl_buf *text = &ctx->text[ctx->depth - 1];
	if ((size_t)len > BL_XML_MAX_TEXT - text->len) {
		ctx_fail(ctx, -BL_EFORMAT, "text of <%s> longer than %d bytes",
			 ctx->open[ctx->depth - 1]->name, BL_XML_MAX_TEXT);
		return;
	}
	if (bl_buf_append(text, s, (size_t)len) < 0)
		ctx_fail(ctx, -BL_ENOMEM, "out of memory");
}

/* The DOCTYPE is where entities are declared: refusing it refuses them all
 * before expat could expand or fetch one. */
static void XMLCALL on_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name; (void)sysid; (void)pubid; (void)has_internal_subset;
	ctx_fail(data, -BL_EFORMAT, "DOCTYPE not allowed");
}

/* Unreachable while on_doctype refuses every DOCTYPE; kept so that no
 * entity gets through if that ever changes. */
static void XMLCALL on_entity_decl(void *data, const XML_Char *name, int is_parameter,
				   const XML_Char *value, int value_len, const XML_Char *base,
				   const XML_Char *sysid, const XML_Char *pubid,
				   const XML_Char *notation)
{
	(void)is_parameter; (void)value; (void)value_len; (void)base; (void)sysid;
	(void)pubid; (void)notation;
	ctx_fail(data, -BL_EFORMAT, "entity declaration \"%s\" not allowed", name);
}

static int XMLCALL on_external_entity(XML_Parser parser, const XML_Char *context,
				      const XML_Char *base, const XML_Char *sysid,
				      const XML_Char *pubid)
{
	(void)context; (void)base; (void)sysid; (void)pubid;
	ctx_fail(XML_GetUserData(parser), -BL_EFORMAT, "external entity not allowed");
	return XML_STATUS_ERROR;
}

static int parse(struct xml_ctx *ctx, const char *text, size_t len)
{
	XML_SetUserData(ctx->parser, ctx);
	XML_SetElementHandler(ctx->parser, on_start, on_end);
	XML_SetCharacterDataHandler(ctx->parser, on_text);
	XML_SetStartDoctypeDeclHandler(ctx->parser, on_doctype);
	XML_SetEntityDeclHandler(ctx->parser, on_entity_decl);
	XML_SetExternalEntityRefHandler(ctx->parser, on_external_entity);
	XML_SetParamEntityParsing(ctx->parser, XML_PARAM_ENTITY_PARSING_NEVER);

	/* XML_Parse takes an int length. */
	enum XML_Status status;
	do {
		size_t n = len < INT_MAX ? len : INT_MAX;
		status = XML_Parse(ctx->parser, text, (int)n, n == len);
		text += n;
		len -= n;
	} while (status == XML_STATUS_OK && len > 0);
	if (ctx->r < 0)
		return ctx->r;
	if (status == XML_STATUS_OK)
		return 0;
	enum XML_Error code = XML_GetErrorCode(ctx->parser);
	if (code == XML_ERROR_NO_MEMORY)
		return -BL_ENOMEM;
	ctx->line = XML_GetCurrentLineNumber(ctx->parser);
	ctx->col = XML_GetCurrentColumnNumber(ctx->parser) + 1;
	ctx->msg = strdup(XML_ErrorString(code));
	return -BL_EFORMAT;
}

int bl_xml_parse(const char *text, size_t len, struct bl_xml_node **root, char **error)
{
	*root = NULL;
	if (error)
		*error = NULL;
	struct xml_ctx ctx = { .parser = XML_ParserCreateNS(NULL, NS_SEP) };
	if (!ctx.parser)
		return -BL_ENOMEM;
	int r = parse(&ctx, text, len);
	XML_ParserFree(ctx.parser);
	for (size_t i = 0; i < ARRAY_SIZE(ctx.text); i++)
		bl_buf_free(&ctx.text[i]);
	if (r == 0) {
		*root = ctx.root;
	} else {
		node_free(ctx.root);
		if (r == -BL_EFORMAT && error) {
			*error = bl_strdup_printf("line %lu, column %lu: %s", ctx.line, ctx.col,
						  ctx.msg ? ctx.msg : "malformed XML");
			if (!*error)
				r = -BL_ENOMEM;
		}
	}
	free(ctx.msg);
	return r;
}

const struct bl_xml_node *bl_xml_child(const struct bl_xml_node *node, const char *name)
{
	for (const struct bl_xml_node *c = node ? node->children : NULL; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

const struct bl_xml_node *bl_xml_find(const struct bl_xml_node *node, const char *path)
{
	while (node && *path) {
		size_t n = strcspn(path, "/");
		const struct bl_xml_node *c = node->children;
		while (c && !(strncmp(c->name, path, n) == 0 && c->name[n] == '\0'))
			c = c->next;
		node = c;
		path += n + (path[n] == '/');
	}
	return node;
}

const char *bl_xml_find_text(const struct bl_xml_node *node, const char *path)
{
	const struct bl_xml_node *n = bl_xml_find(node, path);
	return n ? n->text : NULL;
}

/* s trimmed, each run of white space and control characters one space:
 * the server's words go into one log line.  NULL for a blank s. */
static char *one_line(const char *s, int *r)
{
	char *out = malloc(strlen(s) + 1);
	if (!out) {
		*r = -BL_ENOMEM;
		return NULL;
	}
	size_t n = 0;
	bool space = false;
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f) {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = false;
		out[n++] = *s;
	}
	out[n] = '\0';
	if (n == 0) {
		free(out);
		return NULL;
	}
	return out;
}

int bl_xml_aws_error(const char *text, size_t len, char **code, char **message)
{
	*code = *message = NULL;
	struct bl_xml_node *root = NULL;
	int r = bl_xml_parse(text, len, &root, NULL);
	if (r < 0)
		return r;
	/* S3 (REST): <Error>.  EC2: <Response><Errors><Error>.  The other
	 * Query API services (STS, IAM, SQS): <ErrorResponse><Error>. */
	const struct bl_xml_node *err =
		strcmp(root->name, "Error") == 0 ? root :
		strcmp(root->name, "Response") == 0 ? bl_xml_find(root, "Errors/Error") :
		strcmp(root->name, "ErrorResponse") == 0 ? bl_xml_child(root, "Error") : NULL;
	const char *c = bl_xml_find_text(err, "Code");
	const char *m = bl_xml_find_text(err, "Message");
	*code = c ? one_line(c, &r) : NULL;
	if (*code && m)
		*message = one_line(m, &r);
	bl_xml_free(root);
	if (!*code || r < 0) {
		free(*code);
		free(*message);
		*code = *message = NULL;
		return r < 0 ? r : -BL_EFORMAT;
	}
	return 0;
}
