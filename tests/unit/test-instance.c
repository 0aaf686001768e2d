/* test-instance.c - instance.c: tags on the record, and the EC2 instance
 * identity document the ec2 datasource reads (bl_instance_parse_identity):
 * what it fills, what it leaves alone, and what it says about a document
 * it refuses. */
#include "testutil.h"


#include "bootlace/error.h"
#include "bootlace/instance.h"
#include "bootlace/log.h"

/* The identity document of tests/data/imds (AEMM's defaults), trimmed. */
static const char aemm_document[] =
	"{\n  \"accountId\" : \"0123456789\",\n  \"availabilityZone\" : \"us-east-1f\",\n"
	"  \"ramdiskId\" : null,\n  \"instanceId\" : \"i-1234567890abcdef0\",\n"
	"  \"instanceType\" : \"m4.xlarge\",\n  \"region\" : \"us-east-1\"\n}";

/* bl_instance_parse_identity(), with what it logs in *log (malloc'd). */
static int parse_logged(const char *text, size_t len, struct bl_instance *inst, char **log)
{
	char *dir = tu_mkdtemp();
	char *path = NULL;
	assert_non_null(dir);
	assert_true(asprintf(&path, "%s/stderr", dir) > 0);
	int saved = tu_stderr_to(path);
	int r = bl_instance_parse_identity(text, len, inst);
	*log = tu_stderr_back(&saved, path);
	free(path);
	tu_rmtree(dir);
	return r;
}

static void test_tags(void **state)
{
	struct bl_instance inst = {0};
	(void)state;
	assert_int_equal(bl_instance_set_tag(&inst, "role", "web"), 0);
	assert_int_equal(bl_instance_set_tag(&inst, "Name", "a"), 0);
	assert_int_equal(bl_instance_set_tag(&inst, "role", "db"), 0);
	assert_int_equal(inst.n_tags, 2);
	assert_string_equal(bl_instance_tag(&inst, "role"), "db");
	assert_null(bl_instance_tag(&inst, "ROLE"));
	bl_instance_clear_tags(&inst);
	assert_int_equal(inst.n_tags, 0);
	assert_null(bl_instance_tag(&inst, "role"));
	bl_instance_free(&inst);
}

static void test_identity(void **state)
{
	struct bl_instance inst = {0};
	(void)state;
	assert_int_equal(bl_instance_parse_identity(aemm_document, strlen(aemm_document), &inst), 0);
	assert_string_equal(inst.instance_id, "i-1234567890abcdef0");
	assert_string_equal(inst.region, "us-east-1");
	assert_string_equal(inst.availability_zone, "us-east-1f");
	bl_instance_free(&inst);
}

/* What the record has already (or the meta-data items will give) stays. */
static void test_identity_partial(void **state)
{
	static const char doc[] = "{\"instanceId\": \"i-0new\", \"region\": \"\", "
				  "\"availabilityZone\": [\"us-east-1a\"]}";
	struct bl_instance inst = { .instance_id = strdup("i-0known") };
	(void)state;
	assert_int_equal(bl_instance_parse_identity(doc, strlen(doc), &inst), 0);
	assert_string_equal(inst.instance_id, "i-0known");
	assert_null(inst.region);
	assert_null(inst.availability_zone);
	bl_instance_free(&inst);
}

/* Refused documents are named with the position, never quoted: jansson's
 * own text would copy control characters of the input into the log.
 * (Found by tests/fuzz: imds-identity, corpus/imds-identity/
 * control-char-in-error.json.) */
static void test_identity_refused(void **state)
{
#define DOC(s) s, sizeof(s) - 1
	static const struct { const char *doc; size_t len; const char *said; } cases[] = {
		{ DOC("{\"instanceId::\"\x01\0i\",\":re}"), "document:1:16: malformed JSON\n" },
		{ DOC("{\"instanceId\": \"i-0\"\n\x1b[2J"), "malformed JSON\n" },
		{ DOC("[{\"instanceId\": \"i-0abc\"}]"), "document: not a JSON object\n" },
		{ DOC(""), "malformed JSON\n" },
	};
#undef DOC
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bl_instance inst = {0};
		char *log;
		assert_int_equal(parse_logged(cases[i].doc, cases[i].len, &inst, &log),
				 -BL_EDATASOURCE);
		if (!strstr(log, cases[i].said) || strchr(log, 0x1b) || strchr(log, 0x01) ||
		    strchr(log, '\n') != log + strlen(log) - 1)
			fail_msg("case %zu: expected one line with \"%s\", got: %s", i,
				 cases[i].said, log);
		assert_null(inst.instance_id);
		free(log);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_identity_partial),
		cmocka_unit_test(test_identity_refused),
	};
	bl_log_init(BL_LOG_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
