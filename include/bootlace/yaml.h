/* yaml.h - a YAML document as a small tree of nodes that remember where they
 * came from (line and column), so every consumer can report FILE:LINE:COL.
 *
 * Built on libyaml's event parser.  Only the subset bootlace needs: mappings,
 * sequences and scalars.  Aliases, duplicate keys and multiple documents are
 * rejected as errors; anchors are accepted, and of tags only "!!str" means
 * something (the scalar counts as quoted). */
#ifndef BOOTLACE_YAML_H
#define BOOTLACE_YAML_H

#include <stdbool.h>
#include <stddef.h>

enum bl_yaml_kind { BL_YAML_SCALAR, BL_YAML_MAP, BL_YAML_SEQ };

struct bl_yaml_node {
	enum bl_yaml_kind kind;
	int line, col;          /* 1-based position of the node's start */
	char *scalar;           /* BL_YAML_SCALAR: the text */
	bool plain;             /* scalar was unquoted (so "null", "true" mean something) */
	size_t n;               /* MAP: pairs; SEQ: items */
	struct bl_yaml_node **keys;   /* MAP only: scalar key nodes */
	struct bl_yaml_node **values; /* MAP values or SEQ items */
};

/* Parses text (len bytes) named name (for messages).  An empty document
 * yields *out = NULL and 0.  On a syntax error returns -BL_EFORMAT and sets
 * *line, *col and *msg (malloc'd) if those pointers are non-NULL. */
int bl_yaml_parse(const char *text, size_t len, struct bl_yaml_node **out,
		  int *line, int *col, char **msg);

void bl_yaml_free(struct bl_yaml_node *n);

/* Value for key in a mapping, or NULL. */
const struct bl_yaml_node *bl_yaml_get(const struct bl_yaml_node *map, const char *key);

/* A plain scalar "~", "null", "Null", "NULL" or empty. */
bool bl_yaml_is_null(const struct bl_yaml_node *n);

#endif
