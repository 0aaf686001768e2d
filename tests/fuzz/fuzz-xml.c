/* fuzz-xml.c - AWS's XML as it comes over the network: bl_xml_parse's tree
 * (within the depth, element and text limits of xml.h, consistently
 * linked) and bl_xml_aws_error on S3, EC2 and Query API error documents
 * (a code and message on one trimmed line, fit for a log). */
#include <stdlib.h>
#include <string.h>

#include "bootlace/error.h"
#include "bootlace/xml.h"
#include "fuzz.h"

/* Walks the tree; returns its number of elements. */
static size_t check_tree(const struct bl_xml_node *n, const struct bl_xml_node *parent,
			 size_t depth)
{
	size_t count = 0;
	FUZZ_ASSERT(depth < BL_XML_MAX_DEPTH);
	for (; n; n = n->next) {
		FUZZ_ASSERT(n->parent == parent && *n->name && !strchr(n->name, ' '));
		FUZZ_ASSERT(n->text && strlen(n->text) <= BL_XML_MAX_TEXT);
		FUZZ_ASSERT(!parent || bl_xml_child(parent, n->name));
		count += 1 + check_tree(n->children, n, depth + 1);
	}
	return count;
}

/* One line, trimmed, runs of white space and control characters folded
 * into one space. */
static void check_line(const char *s)
{
	size_t len = strlen(s);
	FUZZ_ASSERT(len > 0 && s[0] != ' ' && s[len - 1] != ' ');
	FUZZ_ASSERT(!fuzz_has_control(s) && !strstr(s, "  "));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bl_xml_node *root = NULL;
	char *error = NULL;
	int parsed = bl_xml_parse((const char *)data, size, &root, &error);
	FUZZ_ASSERT(parsed == 0 || parsed == -BL_EFORMAT || parsed == -BL_ENOMEM);
	if (parsed == 0) {
		FUZZ_ASSERT(root && !root->next && check_tree(root, NULL, 0) <= BL_XML_MAX_NODES);
		FUZZ_ASSERT(!error);
	} else {
		FUZZ_ASSERT(!root);
		FUZZ_ASSERT(parsed != -BL_EFORMAT || (error && strncmp(error, "line ", 5) == 0));
	}
	free(error);
	bl_xml_free(root);

	char *code = NULL, *message = NULL;
	int r = bl_xml_aws_error((const char *)data, size, &code, &message);
	FUZZ_ASSERT(r == 0 || r == -BL_EFORMAT || r == -BL_ENOMEM);
	if (r == 0) {
		FUZZ_ASSERT(parsed == 0 && code);
		check_line(code);
		if (message)
			check_line(message);
	} else {
		FUZZ_ASSERT(!code && !message);
	}
	free(code);
	free(message);
	return 0;
}
