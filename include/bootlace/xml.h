/* xml.h - the small XML documents AWS answers with (EC2 Query API results,
 * S3 and EC2 error bodies), parsed with expat into a read-only tree.
 *
 * Parsing is strict and bounded: a document with a DOCTYPE (and so any
 * entity declaration) is refused before expat could expand anything, as is
 * one nested deeper than BL_XML_MAX_DEPTH, with more than BL_XML_MAX_NODES
 * elements or with more than BL_XML_MAX_TEXT bytes of text in one element.
 * Namespaces are ignored: an element is known by its local name
 * ("Response", "tagSet"), which is what AWS's documents vary in. */
#ifndef BOOTLACE_XML_H
#define BOOTLACE_XML_H

#include <stddef.h>

#define BL_XML_MAX_DEPTH 32
#define BL_XML_MAX_NODES 100000
#define BL_XML_MAX_TEXT (64 * 1024)

struct bl_xml_node {
	char *name;                    /* local name, without a namespace prefix */
	char *text;                    /* concatenated character data, never NULL */
	struct bl_xml_node *parent;
	struct bl_xml_node *children;  /* first child */
	struct bl_xml_node *next;      /* next sibling */
};

/* Parses len bytes of text.  0 with *root set; -BL_EFORMAT with *error
 * (malloc'd, "line L, column C: what", columns from 1; error may be NULL)
 * for a malformed, DOCTYPE-bearing or over-limit document; -BL_ENOMEM.
 * On error *root is NULL. */
int bl_xml_parse(const char *text, size_t len, struct bl_xml_node **root, char **error);

void bl_xml_free(struct bl_xml_node *root);

/* First child element named name, or NULL. */
const struct bl_xml_node *bl_xml_child(const struct bl_xml_node *node, const char *name);

/* Follows a '/'-separated path of child names from node ("Errors/Error/Code");
 * NULL if any step is missing. */
const struct bl_xml_node *bl_xml_find(const struct bl_xml_node *node, const char *path);

/* Text of bl_xml_find(node, path), or NULL. */
const char *bl_xml_find_text(const struct bl_xml_node *node, const char *path);

/* An AWS error document's code and message: S3's <Error><Code>..</Code>
 * <Message>..</Message></Error>, EC2's
 * <Response><Errors><Error>...</Error></Errors></Response> or the other
 * Query API services' <ErrorResponse><Error>...</Error></ErrorResponse>.
 * 0 with *code and *message malloc'd, trimmed and on one line (message NULL
 * when missing or blank); -BL_EFORMAT when text is not such a document,
 * -BL_ENOMEM; on error both are NULL. */
int bl_xml_aws_error(const char *text, size_t len, char **code, char **message);

#endif
