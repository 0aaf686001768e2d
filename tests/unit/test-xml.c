/* test-xml.c - AWS's XML answers (src/xml.c): real DescribeTags and error
 * responses (tests/data/aws, see its README.md), namespaces, entities and
 * CDATA, and the documents it must refuse: malformed, DOCTYPE-bearing
 * (billion laughs, external entities), too deep, too many elements, too
 * much text. */
#include "testutil.h"

#include "bootlace/error.h"
#include "bootlace/util.h"
#include "bootlace/xml.h"

static char *data_path(const char *name)
{
	const char *base = getenv("BOOTLACE_TEST_DATA");
	char *path = bl_strdup_printf("%s/aws/%s", base && *base ? base : "tests/data", name);
	assert_non_null(path);
	struct stat st;
	if (stat(path, &st) < 0)
		fail_msg("no %s (run from the repository root, or set BOOTLACE_TEST_DATA to the "
			 "tests/data directory)", path);
	return path;
}

static char *slurp_data(const char *name)
{
	_cleanup_free_ char *path = data_path(name);
	char *text = tu_slurp(path);
	assert_non_null(text);
	return text;
}

static struct bl_xml_node *parse_ok(const char *text)
{
	struct bl_xml_node *root = NULL;
	char *error = NULL;
	int r = bl_xml_parse(text, strlen(text), &root, &error);
	if (r != 0)
		fail_msg("parse failed (%d): %s", r, error ? error : "(no message)");
	assert_null(error);
	assert_non_null(root);
	assert_null(root->parent);
	return root;
}

static void expect_refused_len(const char *text, size_t len, const char *want)
{
	static struct bl_xml_node stale;
	struct bl_xml_node *root = &stale;  /* must be reset */
	char *error = NULL;
	assert_int_equal(bl_xml_parse(text, len, &root, &error), -BL_EFORMAT);
	assert_null(root);
	assert_non_null(error);
	if (strcmp(error, want) != 0)
		fail_msg("got \"%s\", want \"%s\"", error, want);
	free(error);
}

static void expect_refused(const char *text, const char *want)
{
	expect_refused_len(text, strlen(text), want);
}

static void expect_text(const struct bl_xml_node *node, const char *path, const char *want)
{
	const char *got = bl_xml_find_text(node, path);
	if (!got)
		fail_msg("no <%s>", path);
	assert_string_equal(got, want);
}

/* botocore's ec2-describe-tags: a default namespace, and an empty
 * <value/> that reads as "" (botocore: "Value": ""). */
static void test_describe_tags(void **state)
{
	(void)state;
	_cleanup_free_ char *text = slurp_data("botocore-ec2-describe-tags.xml");
	struct bl_xml_node *root = parse_ok(text);
	assert_string_equal(root->name, "DescribeTagsResponse");
	expect_text(root, "requestId", "902d44a6-9456-4df3-9dcf-f2a26b77da7c");
	const struct bl_xml_node *set = bl_xml_child(root, "tagSet");
	assert_non_null(set);
	assert_ptr_equal(set->parent, root);
	const struct bl_xml_node *item = set->children;
	assert_non_null(item);
	assert_string_equal(item->name, "item");
	assert_null(item->next);
	expect_text(item, "resourceId", "i-fde9cece");
	expect_text(item, "resourceType", "instance");
	expect_text(item, "key", "notebook");
	expect_text(item, "value", "");
	assert_null(bl_xml_child(item, "value")->children);
	assert_null(bl_xml_find(root, "nextToken"));
	bl_xml_free(root);
}

/* A paged answer as today's API sends it: items in document order, and
 * the token for the next page.  Whitespace in a value is kept. */
static void test_describe_tags_paged(void **state)
{
	(void)state;
	struct bl_xml_node *root = parse_ok(
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<DescribeTagsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
		"  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>\n"
		"  <tagSet>\n"
		"    <item><resourceId>i-1234567890abcdef0</resourceId>"
		"<resourceType>instance</resourceType><key>role</key><value>web</value></item>\n"
		"    <item><resourceId>i-1234567890abcdef0</resourceId>"
		"<resourceType>instance</resourceType><key>Name</key>"
		"<value> a  b </value></item>\n"
		"  </tagSet>\n"
		"  <nextToken>AAEAAX+/=</nextToken>\n"
		"</DescribeTagsResponse>\n");
	const char *const want[][2] = { { "role", "web" }, { "Name", " a  b " } };
	size_t n = 0;
	for (const struct bl_xml_node *item = bl_xml_child(root, "tagSet")->children; item;
	     item = item->next, n++) {
		assert_true(n < ARRAY_SIZE(want));
		expect_text(item, "key", want[n][0]);
		expect_text(item, "value", want[n][1]);
	}
	assert_int_equal(n, ARRAY_SIZE(want));
	expect_text(root, "nextToken", "AAEAAX+/=");
	bl_xml_free(root);
}

static void expect_aws_error(const char *text, const char *want_code, const char *want_message)
{
	static char stale[] = "stale";
	char *code = stale, *message = stale;  /* must be reset */
	assert_int_equal(bl_xml_aws_error(text, strlen(text), &code, &message), 0);
	assert_non_null(code);
	assert_string_equal(code, want_code);
	if (want_message) {
		assert_non_null(message);
		assert_string_equal(message, want_message);
	} else {
		assert_null(message);
	}
	free(code);
	free(message);
}

static void test_aws_error_captured(void **state)
{
	(void)state;
	static const struct {
		const char *file, *code, *message;
	} cases[] = {
		{ "botocore-ec2-describe-instances.xml", "InvalidInstanceID.Malformed",
		  "Invalid id: \"foobar\"" },
		{ "botocore-s3-list-objects.xml", "AccessDenied", "Access Denied" },
		{ "botocore-s3-create-bucket.xml", "BucketAlreadyOwnedByYou",
		  "Your previous request to create the named bucket succeeded and you already "
		  "own it." },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *text = slurp_data(cases[i].file);
		expect_aws_error(text, cases[i].code, cases[i].message);
	}
	/* The EC2 error's request id sits beside <Errors>, not in <Error>. */
	_cleanup_free_ char *text = slurp_data("botocore-ec2-describe-instances.xml");
	struct bl_xml_node *root = parse_ok(text);
	expect_text(root, "RequestID", "dfb14b43-9a55-4d8e-b676-e8034d12bbeb");
	expect_text(root, "Errors/Error/Code", "InvalidInstanceID.Malformed");
	bl_xml_free(root);
}

static void test_aws_error_shapes(void **state)
{
	(void)state;
	/* S3 GetObject of a missing key. */
	expect_aws_error("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
			 "<Message>The specified key does not exist.</Message>"
			 "<Key>roles/web/setup.sh</Key><RequestId>4442587FB7D0A2F9</RequestId>"
			 "</Error>",
			 "NoSuchKey", "The specified key does not exist.");
	/* EC2 with today's code for a missing ec2:DescribeTags permission. */
	expect_aws_error("<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
			 "<Message>You are not authorized to perform this operation.</Message>"
			 "</Error></Errors><RequestID>r</RequestID></Response>",
			 "UnauthorizedOperation",
			 "You are not authorized to perform this operation.");
	/* STS, IAM, SQS: <ErrorResponse>, namespaced, with a message over
	 * several lines that must fit one log line. */
	expect_aws_error("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
			 "  <Error>\n    <Type>Sender</Type>\n"
			 "    <Code>InvalidParameterValue</Code>\n"
			 "    <Message>\n      Value (x) for parameter\r\n\tQueueName is invalid.\n"
			 "    </Message>\n  </Error>\n  <RequestId>42</RequestId>\n"
			 "</ErrorResponse>",
			 "InvalidParameterValue", "Value (x) for parameter QueueName is invalid.");
	/* No message, or a blank one. */
	expect_aws_error("<Error><Code> SlowDown\n</Code></Error>", "SlowDown", NULL);
	expect_aws_error("<Error><Code>SlowDown</Code><Message> \n </Message></Error>",
			 "SlowDown", NULL);
	/* Line breaks and control characters, escaped or not, cannot break the
	 * log line. */
	expect_aws_error("<Error><Code>X</Code><Message>a&#10;b&#9;&lt;c&gt;&#13;d\x7f" "e"
			 "</Message></Error>", "X", "a b <c> d e");
}

static void expect_not_aws_error(const char *text, size_t len, int want)
{
	static char stale[] = "stale";
	char *code = stale, *message = stale;  /* must be reset */
	assert_int_equal(bl_xml_aws_error(text, len, &code, &message), want);
	assert_null(code);
	assert_null(message);
}

static void test_aws_error_refused(void **state)
{
	(void)state;
	static const char *const docs[] = {
		"<DescribeTagsResponse><tagSet/></DescribeTagsResponse>",
		"<Error><Message>no code</Message></Error>",
		"<Error><Code>  </Code><Message>blank code</Message></Error>",
		"<Response><Error><Code>NotInErrors</Code></Error></Response>",
		"<ErrorResponse><Code>NotInError</Code></ErrorResponse>",
		"<html><body><h1>502 Bad Gateway</h1></body></html>",
		"<Error><Code>Unclosed</Code>",
		"Service Unavailable",
		"",
	};
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++)
		expect_not_aws_error(docs[i], strlen(docs[i]), -BL_EFORMAT);
	/* A response without a body. */
	expect_not_aws_error(NULL, 0, -BL_EFORMAT);
}

static void test_namespaces(void **state)
{
	(void)state;
	struct bl_xml_node *root = parse_ok(
		"<ec2:DescribeTagsResponse xmlns:ec2=\"http://ec2.amazonaws.com/doc/2016-11-15/\" "
		"xmlns:x=\"urn:other\" xmlns=\"urn:default\">"
		"<ec2:tagSet><item><x:key>k</x:key><value x:attr=\"1\">v</value></item>"
		"</ec2:tagSet></ec2:DescribeTagsResponse>");
	assert_string_equal(root->name, "DescribeTagsResponse");
	expect_text(root, "tagSet/item/key", "k");
	expect_text(root, "tagSet/item/value", "v");
	bl_xml_free(root);
	/* A prefix nobody declared is malformed. */
	expect_refused("<a:b/>", "line 1, column 1: unbound prefix");
}

static void test_entities_cdata(void **state)
{
	(void)state;
	struct bl_xml_node *root = parse_ok(
		"<a>x &amp; y &lt;&gt;&quot;&apos; &#65;&#x42;&#xe9; "
		"<![CDATA[<not a=\"tag\"> & &amp;]]></a>");
	assert_string_equal(root->text, "x & y <>\"' AB\xc3\xa9 <not a=\"tag\"> & &amp;");
	assert_null(root->children);
	bl_xml_free(root);

	/* Mixed content: an element's text is its own character data, its
	 * children's stay with them. */
	root = parse_ok("<a>1<b>2<c/></b>3<!-- comment --><?pi x?>4</a>");
	assert_string_equal(root->text, "134");
	expect_text(root, "b", "2");
	expect_text(root, "b/c", "");
	bl_xml_free(root);

	/* Text arrives as UTF-8 whatever the document's encoding. */
	root = parse_ok("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>");
	assert_string_equal(root->text, "caf\xc3\xa9");
	bl_xml_free(root);

	/* Only the five predefined entities exist without a DTD. */
	expect_refused("<a>\n  <b>&xxe;</b></a>", "line 2, column 6: undefined entity");
}

static void test_find(void **state)
{
	(void)state;
	struct bl_xml_node *root = parse_ok(
		"<Response><Errors><Error><Code>first</Code></Error>"
		"<Error><Code>second</Code></Error></Errors><Err>short</Err></Response>");
	/* The first child of a name wins; a name is matched whole. */
	expect_text(root, "Errors/Error/Code", "first");
	expect_text(root, "Err", "short");
	assert_string_equal(bl_xml_child(root, "Err")->text, "short");
	assert_null(bl_xml_find(root, "Error"));
	assert_null(bl_xml_find(root, "Errors/Errors"));
	assert_null(bl_xml_find(root, "Errors/Error/Code/x"));
	assert_null(bl_xml_find_text(root, "Errors/Err"));
	assert_null(bl_xml_child(root, "Errors/Error"));
	assert_null(bl_xml_child(root, "Response"));
	/* The empty path is the node itself. */
	assert_ptr_equal(bl_xml_find(root, ""), root);
	/* Missing steps chain to NULL without checks in between. */
	assert_null(bl_xml_child(NULL, "x"));
	assert_null(bl_xml_find(NULL, "x"));
	assert_null(bl_xml_find_text(NULL, "x"));
	const struct bl_xml_node *errors = bl_xml_child(root, "Errors");
	assert_string_equal(errors->children->next->children->text, "second");
	assert_ptr_equal(errors->children->next->parent, errors);
	bl_xml_free(root);
	bl_xml_free(NULL);
}

static void test_malformed(void **state)
{
	(void)state;
	expect_refused("", "line 1, column 1: no element found");
	expect_refused("  \n", "line 2, column 1: no element found");
	expect_refused("<a>", "line 1, column 4: no element found");
	expect_refused("<a></b>", "line 1, column 6: mismatched tag");
	expect_refused("<Response>\n  <Errors>\n</Response>", "line 3, column 3: mismatched tag");
	expect_refused("<a/><b/>", "line 1, column 5: junk after document element");
	expect_refused("<a>\n<b attr=x/></a>", "line 2, column 9: not well-formed (invalid token)");
	expect_refused("<a>&#0;</a>", "line 1, column 4: reference to invalid character number");
	expect_refused("<?xml version=\"1.0\" encoding=\"EBCDIC\"?><a/>",
		       "line 1, column 31: unknown encoding");
	/* A NUL byte ends nothing: the length is what counts. */
	expect_refused_len("<a>x\0y</a>", 10, "line 1, column 5: not well-formed (invalid token)");
	expect_refused_len("<a/>", 3, "line 1, column 1: unclosed token");

	/* The caller may not want the message. */
	struct bl_xml_node *root = NULL;
	assert_int_equal(bl_xml_parse("<a>", 3, &root, NULL), -BL_EFORMAT);
	assert_null(root);
}

/* Entity expansion bombs and external entities are refused at the
 * DOCTYPE, before any entity is declared, expanded or fetched. */
static void test_doctype_refused(void **state)
{
	(void)state;
	expect_refused("<?xml version=\"1.0\"?>\n"
		       "<!DOCTYPE lolz [\n"
		       " <!ENTITY lol \"lol\">\n"
		       " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		       " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		       " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		       " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		       " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
		       " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
		       " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
		       " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
		       " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
		       "]>\n"
		       "<lolz>&lol9;</lolz>",
		       "line 2, column 16: DOCTYPE not allowed");
	/* XXE: the file would be read into <Code>. */
	expect_refused("<?xml version=\"1.0\"?>\n"
		       "<!DOCTYPE Error [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
		       "<Error><Code>&xxe;</Code></Error>",
		       "line 2, column 17: DOCTYPE not allowed");
	expect_refused("<!DOCTYPE Error SYSTEM \"file:///etc/passwd\"><Error/>",
		       "line 1, column 44: DOCTYPE not allowed");
	/* Parameter entities, and a DOCTYPE that declares nothing at all. */
	expect_refused("<!DOCTYPE a [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> %p;]><a/>",
		       "line 1, column 13: DOCTYPE not allowed");
	expect_refused("<!DOCTYPE a><a/>", "line 1, column 12: DOCTYPE not allowed");

	char *code = NULL, *message = NULL;
	static const char xxe_error[] =
		"<!DOCTYPE Error [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
		"<Error><Code>&xxe;</Code></Error>";
	assert_int_equal(bl_xml_aws_error(xxe_error, sizeof(xxe_error) - 1, &code, &message),
			 -BL_EFORMAT);
	assert_null(code);
}

/* n elements nested in each other. */
static char *nested(size_t n)
{
	struct bl_buf b = {0};
	for (size_t i = 0; i < n; i++)
		assert_int_equal(bl_buf_append(&b, "<a>", 3), 0);
	assert_int_equal(bl_buf_append(&b, "x", 1), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(bl_buf_append(&b, "</a>", 4), 0);
	return b.data;
}

static void test_depth_limit(void **state)
{
	(void)state;
	_cleanup_free_ char *deepest = nested(BL_XML_MAX_DEPTH);
	struct bl_xml_node *root = parse_ok(deepest);
	const struct bl_xml_node *n = root;
	for (int i = 1; i < BL_XML_MAX_DEPTH; i++)
		n = n->children;
	assert_null(n->children);
	assert_string_equal(n->text, "x");
	bl_xml_free(root);

	_cleanup_free_ char *too_deep = nested(BL_XML_MAX_DEPTH + 1);
	_cleanup_free_ char *want = bl_strdup_printf(
		"line 1, column %d: elements nested deeper than %d", 3 * BL_XML_MAX_DEPTH + 1,
		BL_XML_MAX_DEPTH);
	expect_refused(too_deep, want);
	/* A depth bomb stops at the limit, not at the end of the input. */
	_cleanup_free_ char *bomb = nested(100000);
	expect_refused(bomb, want);
}

/* A root holding n - 1 empty children: n elements. */
static char *wide(size_t n)
{
	struct bl_buf b = {0};
	assert_int_equal(bl_buf_append(&b, "<r>", 3), 0);
	for (size_t i = 1; i < n; i++)
		assert_int_equal(bl_buf_append(&b, "<i/>", 4), 0);
	assert_int_equal(bl_buf_append(&b, "</r>", 4), 0);
	return b.data;
}

static void test_node_limit(void **state)
{
	(void)state;
	_cleanup_free_ char *most = wide(BL_XML_MAX_NODES);
	struct bl_xml_node *root = parse_ok(most);
	size_t n = 1;
	for (const struct bl_xml_node *c = root->children; c; c = c->next)
		n++;
	assert_int_equal(n, BL_XML_MAX_NODES);
	bl_xml_free(root);

	_cleanup_free_ char *too_many = wide(BL_XML_MAX_NODES + 1);
	_cleanup_free_ char *want = bl_strdup_printf("line 1, column %d: more than %d elements",
						     3 + 4 * (BL_XML_MAX_NODES - 1) + 1,
						     BL_XML_MAX_NODES);
	expect_refused(too_many, want);
}

/* <a> with fill bytes of 'x' and then tail. */
static char *long_text(size_t fill, const char *tail)
{
	struct bl_buf b = {0};
	assert_int_equal(bl_buf_append(&b, "<a>", 3), 0);
	for (size_t i = 0; i < fill; i++)
		assert_int_equal(bl_buf_append(&b, "x", 1), 0);
	assert_int_equal(bl_buf_printf(&b, "%s</a>", tail), 0);
	return b.data;
}

static void test_text_limit(void **state)
{
	(void)state;
	/* The cap counts decoded text, however expat hands it over. */
	_cleanup_free_ char *most = long_text(BL_XML_MAX_TEXT - 2, "&amp;<![CDATA[y]]>");
	struct bl_xml_node *root = parse_ok(most);
	assert_int_equal(strlen(root->text), BL_XML_MAX_TEXT);
	assert_string_equal(root->text + BL_XML_MAX_TEXT - 2, "&y");
	bl_xml_free(root);

	_cleanup_free_ char *too_long = long_text(BL_XML_MAX_TEXT - 2, "&amp;<![CDATA[yz]]>");
	struct bl_xml_node *r = NULL;
	char *error = NULL;
	assert_int_equal(bl_xml_parse(too_long, strlen(too_long), &r, &error), -BL_EFORMAT);
	assert_null(r);
	_cleanup_free_ char *want = bl_strdup_printf("text of <a> longer than %d bytes",
						     BL_XML_MAX_TEXT);
	assert_non_null(strstr(error, want));
	assert_true(strncmp(error, "line 1, column ", 15) == 0);
	free(error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_tags),
		cmocka_unit_test(test_describe_tags_paged),
		cmocka_unit_test(test_aws_error_captured),
		cmocka_unit_test(test_aws_error_shapes),
		cmocka_unit_test(test_aws_error_refused),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_entities_cdata),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_node_limit),
		cmocka_unit_test(test_text_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
