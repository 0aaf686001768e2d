/* test-yaml.c - the position-carrying YAML tree (src/yaml.c): kinds, exact line/col, plain vs quoted, nulls, and every refusal (duplicates, aliases, documents, syntax, depth). */
#include "testutil.h"

#include "bootlace/error.h"
#include "bootlace/util.h"
#include "bootlace/yaml.h"

static struct bl_yaml_node *parse_ok(const char *text)
{
	struct bl_yaml_node *root = NULL;
	int line = -1, col = -1;
	char *msg = NULL;
	assert_int_equal(bl_yaml_parse(text, strlen(text), &root, &line, &col, &msg), 0);
	assert_null(msg);
	return root;
}

/* Parses text expecting -BL_EFORMAT at line:col with exactly the message
 * want. */
static void expect_error(const char *text, int want_line, int want_col, const char *want)
{
	struct bl_yaml_node *root = (struct bl_yaml_node *)&root;  /* must be reset */
	int line = -1, col = -1;
	char *msg = NULL;
	assert_int_equal(bl_yaml_parse(text, strlen(text), &root, &line, &col, &msg),
			 -BL_EFORMAT);
	assert_null(root);
	assert_non_null(msg);
	assert_string_equal(msg, want);
	assert_int_equal(line, want_line);
	assert_int_equal(col, want_col);
	free(msg);
	/* The position and message pointers are optional. */
	root = (struct bl_yaml_node *)&root;
	assert_int_equal(bl_yaml_parse(text, strlen(text), &root, NULL, NULL, NULL), -BL_EFORMAT);
	assert_null(root);
}

static void assert_scalar(const struct bl_yaml_node *n, const char *text, bool plain,
			  int line, int col)
{
	assert_non_null(n);
	assert_int_equal(n->kind, BL_YAML_SCALAR);
	assert_string_equal(n->scalar, text);
	assert_int_equal(n->plain, plain);
	assert_int_equal(n->line, line);
	assert_int_equal(n->col, col);
}

static void assert_node(const struct bl_yaml_node *n, enum bl_yaml_kind kind, size_t count,
			int line, int col)
{
	assert_non_null(n);
	assert_int_equal(n->kind, kind);
	assert_int_equal(n->n, count);
	assert_int_equal(n->line, line);
	assert_int_equal(n->col, col);
	if (kind == BL_YAML_SEQ)
		assert_null(n->keys);
	assert_null(n->scalar);
}

static void test_tree_and_positions(void **state)
{
	(void)state;
	static const char text[] =
		"# a comment\n"
		"name: web\n"
		"list:\n"
		"  - a\n"
		"  - \"b c\"\n"
		"  - 'd'\n"
		"nested:\n"
		"    key:   value\n"
		"flow: [1, {x: y}]\n"
		"empty:\n"
		"multi: |\n"
		"  line one\n"
		"  line two\n";
	struct bl_yaml_node *root = parse_ok(text);
	assert_node(root, BL_YAML_MAP, 6, 2, 1);

	assert_scalar(root->keys[0], "name", true, 2, 1);
	assert_scalar(root->values[0], "web", true, 2, 7);

	assert_scalar(root->keys[1], "list", true, 3, 1);
	const struct bl_yaml_node *list = root->values[1];
	assert_node(list, BL_YAML_SEQ, 3, 4, 3);
	assert_scalar(list->values[0], "a", true, 4, 5);
	assert_scalar(list->values[1], "b c", false, 5, 5);
	assert_scalar(list->values[2], "d", false, 6, 5);

	const struct bl_yaml_node *nested = bl_yaml_get(root, "nested");
	assert_ptr_equal(nested, root->values[2]);
	assert_node(nested, BL_YAML_MAP, 1, 8, 5);
	assert_scalar(nested->keys[0], "key", true, 8, 5);
	assert_scalar(bl_yaml_get(nested, "key"), "value", true, 8, 12);

	const struct bl_yaml_node *flow = bl_yaml_get(root, "flow");
	assert_node(flow, BL_YAML_SEQ, 2, 9, 7);
	assert_scalar(flow->values[0], "1", true, 9, 8);
	assert_node(flow->values[1], BL_YAML_MAP, 1, 9, 11);
	assert_scalar(flow->values[1]->keys[0], "x", true, 9, 12);
	assert_scalar(flow->values[1]->values[0], "y", true, 9, 15);

	/* "empty:" has an empty plain scalar; its position is where it would be. */
	const struct bl_yaml_node *empty = bl_yaml_get(root, "empty");
	assert_non_null(empty);
	assert_int_equal(empty->kind, BL_YAML_SCALAR);
	assert_string_equal(empty->scalar, "");
	assert_true(empty->plain);
	assert_int_equal(empty->line, 10);

	/* A block literal is not plain. */
	assert_scalar(bl_yaml_get(root, "multi"), "line one\nline two\n", false, 11, 8);

	/* Lookups: missing key, wrong kinds, NULL. */
	assert_null(bl_yaml_get(root, "missing"));
	assert_null(bl_yaml_get(root, "Name"));
	assert_null(bl_yaml_get(list, "a"));
	assert_null(bl_yaml_get(root->values[0], "web"));
	assert_null(bl_yaml_get(NULL, "name"));
	bl_yaml_free(root);
	bl_yaml_free(NULL);
}

static void test_root_kinds(void **state)
{
	(void)state;
	struct bl_yaml_node *n = parse_ok("just text");
	assert_scalar(n, "just text", true, 1, 1);
	bl_yaml_free(n);
	n = parse_ok("---\n- 1\n- two\n...\n");
	assert_node(n, BL_YAML_SEQ, 2, 2, 1);
	assert_scalar(n->values[1], "two", true, 3, 3);
	bl_yaml_free(n);
	n = parse_ok("{}");
	assert_node(n, BL_YAML_MAP, 0, 1, 1);
	bl_yaml_free(n);
	/* Windows line ends count as one line end. */
	n = parse_ok("a: 1\r\nb: 2\r\n");
	assert_scalar(n->keys[1], "b", true, 2, 1);
	assert_scalar(n->values[1], "2", true, 2, 4);
	bl_yaml_free(n);
	/* Only len bytes are read. */
	struct bl_yaml_node *root = NULL;
	static const char text[] = "a: 1\nb: [";
	assert_int_equal(bl_yaml_parse(text, 5, &root, NULL, NULL, NULL), 0);
	assert_node(root, BL_YAML_MAP, 1, 1, 1);
	bl_yaml_free(root);
}

static void test_plain_vs_quoted(void **state)
{
	(void)state;
	struct bl_yaml_node *root = parse_ok("a: null\nb: \"null\"\nc: 'true'\nd: true\ne: \"\"\n");
	assert_true(bl_yaml_get(root, "a")->plain);
	assert_false(bl_yaml_get(root, "b")->plain);
	assert_string_equal(bl_yaml_get(root, "b")->scalar, "null");
	assert_false(bl_yaml_get(root, "c")->plain);
	assert_true(bl_yaml_get(root, "d")->plain);
	assert_false(bl_yaml_get(root, "e")->plain);
	assert_string_equal(bl_yaml_get(root, "e")->scalar, "");
	bl_yaml_free(root);
}

static void test_is_null(void **state)
{
	(void)state;
	struct bl_yaml_node *root = parse_ok(
		"a: ~\nb: null\nc: Null\nd: NULL\ne:\n"
		"f: nULL\ng: \"null\"\nh: '~'\ni: \"\"\nj: none\nk: []\nl: {}\nm: 0\n");
	static const char *const nulls[] = { "a", "b", "c", "d", "e" };
	static const char *const not_nulls[] = { "f", "g", "h", "i", "j", "k", "l", "m" };
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!bl_yaml_is_null(bl_yaml_get(root, nulls[i])))
			fail_msg("%s should be null", nulls[i]);
	for (size_t i = 0; i < sizeof(not_nulls) / sizeof(not_nulls[0]); i++)
		if (bl_yaml_is_null(bl_yaml_get(root, not_nulls[i])))
			fail_msg("%s should not be null", not_nulls[i]);
	assert_false(bl_yaml_is_null(root));
	/* An absent node is not a null value. */
	assert_false(bl_yaml_is_null(NULL));
	bl_yaml_free(root);
}

static void test_duplicate_key(void **state)
{
	(void)state;
	expect_error("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key \"a\"");
	expect_error("top:\n  x: 1\n  y: 2\n  x: [3]\n", 4, 3, "duplicate key \"x\"");
	expect_error("{k: 1, j: 2, k: 3}", 1, 14, "duplicate key \"k\"");
	/* A quoted key is the same key. */
	expect_error("key: 1\n\"key\": 2\n", 2, 1, "duplicate key \"key\"");
	/* Same key in different maps is fine. */
	struct bl_yaml_node *root = parse_ok("a: {x: 1}\nb: {x: 2}\n");
	assert_string_equal(bl_yaml_get(bl_yaml_get(root, "b"), "x")->scalar, "2");
	bl_yaml_free(root);
}

/* Messages are exact and complete, and say which key. */
static void test_exact_messages(void **state)
{
	(void)state;
	static const struct { const char *text, *msg; } cases[] = {
		{ "a: 1\na: 2\n", "duplicate key \"a\"" },
		{ "- *x\n", "YAML aliases are not supported" },
		{ "a: 1\n---\n", "only one YAML document is allowed" },
		{ "? [k]\n: v\n", "mapping keys must be plain strings" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bl_yaml_node *root = NULL;
		char *msg = NULL;
		assert_int_equal(bl_yaml_parse(cases[i].text, strlen(cases[i].text), &root,
					       NULL, NULL, &msg), -BL_EFORMAT);
		assert_string_equal(msg, cases[i].msg);
		free(msg);
	}
}

/* Aliases are refused; anchors and tags are accepted and ignored (yaml.h). */
static void test_alias_anchor_tag(void **state)
{
	(void)state;
	expect_error("- *x\n", 1, 3, "YAML aliases are not supported");
	expect_error("a: &x 1\nb: *x\n", 2, 4, "YAML aliases are not supported");
	/* Merge keys need an alias. */
	expect_error("a: {k: v}\nb:\n  <<: *a\n", 3, 7, "YAML aliases are not supported");

	struct bl_yaml_node *root = parse_ok(
		"a: &x 1\n"
		"b: !!str 2\n"
		"c: &m !tag {k: v}\n"
		"d: !!seq [1]\n");
	/* The node starts at its properties. */
	assert_scalar(bl_yaml_get(root, "a"), "1", true, 1, 4);
	/* "!!str" makes it a string, as if quoted. */
	assert_scalar(bl_yaml_get(root, "b"), "2", false, 2, 4);
	assert_node(bl_yaml_get(root, "c"), BL_YAML_MAP, 1, 3, 4);
	assert_scalar(bl_yaml_get(bl_yaml_get(root, "c"), "k"), "v", true, 3, 16);
	assert_node(bl_yaml_get(root, "d"), BL_YAML_SEQ, 1, 4, 4);
	bl_yaml_free(root);
}

static void test_non_scalar_key(void **state)
{
	(void)state;
	expect_error("? [a, b]\n: v\n", 1, 3, "mapping keys must be plain strings");
	expect_error("{[x]: 1}", 1, 2, "mapping keys must be plain strings");
}

static void test_two_documents(void **state)
{
	(void)state;
	expect_error("a: 1\n---\nb: 2\n", 2, 1, "only one YAML document is allowed");
	expect_error("---\na: 1\n...\n---\n", 4, 1, "only one YAML document is allowed");
	/* One explicit document with an end marker is fine. */
	struct bl_yaml_node *root = parse_ok("---\na: 1\n...\n");
	assert_scalar(bl_yaml_get(root, "a"), "1", true, 2, 4);
	bl_yaml_free(root);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("a: b: c\n", 1, 5,
		     "YAML syntax error: mapping values are not allowed in this context");
	expect_error("a: 1\n  b: 2\n", 2, 4,
		     "YAML syntax error: mapping values are not allowed in this context");
	/* Where the parser noticed: the ':' of "next:" inside the open list. */
	expect_error("list: [1, 2\nnext: 3\n", 2, 5,
		     "YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence");
	expect_error("a: \"unterminated\n", 2, 1,
		     "YAML syntax error: found unexpected end of stream while scanning a quoted scalar");
	expect_error("a:\n\tb: 1\n", 2, 1,
		     "YAML syntax error: found character that cannot start any token while scanning for the next token");
}

static void test_empty_document(void **state)
{
	(void)state;
	static const char *const empties[] = { "", "\n\n", "# only a comment\n", "   \n# x\n" };
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct bl_yaml_node *root = (struct bl_yaml_node *)&root;
		int line = -1, col = -1;
		char *msg = NULL;
		assert_int_equal(bl_yaml_parse(empties[i], strlen(empties[i]), &root, &line,
					       &col, &msg), 0);
		assert_null(root);
		assert_null(msg);
	}
}

/* depth levels of "[" around "x", closed again. */
static char *nested_seqs(size_t depth)
{
	char *text = malloc(2 * depth + 2);
	assert_non_null(text);
	memset(text, '[', depth);
	text[depth] = 'x';
	memset(text + depth + 1, ']', depth);
	text[2 * depth + 1] = '\0';
	return text;
}

static void test_depth_limit(void **state)
{
	(void)state;
	/* 64 nested sequences are fine... */
	char *text = nested_seqs(64);
	struct bl_yaml_node *root = parse_ok(text);
	const struct bl_yaml_node *n = root;
	for (int i = 0; i < 64; i++) {
		assert_node(n, BL_YAML_SEQ, 1, 1, i + 1);
		n = n->values[0];
	}
	assert_scalar(n, "x", true, 1, 65);
	bl_yaml_free(root);
	free(text);

	/* ...far more is an error at the first node past the limit (depth 65,
	 * the 66th bracket), not a stack overflow. */
	static const size_t deep[] = { 100, 10000, 200000 };
	for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++) {
		text = nested_seqs(deep[i]);
		expect_error(text, 1, 66, "YAML nested too deeply");
		free(text);
	}

	/* Block mappings count the same way. */
	struct bl_buf b = {0};
	for (int i = 0; i < 100; i++)
		assert_int_equal(bl_buf_printf(&b, "%*sk%d:\n", i, "", i), 0);
	expect_error(b.data, 65, 65, "YAML nested too deeply");
	bl_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_and_positions),
		cmocka_unit_test(test_root_kinds),
		cmocka_unit_test(test_plain_vs_quoted),
		cmocka_unit_test(test_is_null),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_exact_messages),
		cmocka_unit_test(test_alias_anchor_tag),
		cmocka_unit_test(test_non_scalar_key),
		cmocka_unit_test(test_two_documents),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_empty_document),
		cmocka_unit_test(test_depth_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
