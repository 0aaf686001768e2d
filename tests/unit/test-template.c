/* test-template.c - layer path templates: each placeholder, missing and
 * unsafe tag values (the path traversal guard), and validation messages
 * with their columns. */
#include "testutil.h"

#include "bootlace/error.h"
#include "bootlace/template.h"

static char role_key[] = "role";
static char env_key[] = "environment";

struct fixture {
	struct bl_instance inst;
	struct bl_config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->cfg.tag_role = role_key;
	f->cfg.tag_environment = env_key;
	assert_int_equal(bl_instance_set_tag(&f->inst, "role", "web"), 0);
	assert_int_equal(bl_instance_set_tag(&f->inst, "environment", "prod"), 0);
	assert_int_equal(bl_instance_set_tag(&f->inst, "Name", "api-1"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	bl_instance_free(&f->inst);
	free(f);
	return 0;
}

static void expect_path(struct fixture *f, const char *tmpl, const char *event,
			const char *want)
{
	char *out = NULL, *tag = NULL;
	assert_int_equal(bl_template_expand(tmpl, event, &f->inst, &f->cfg, &out, &tag), 0);
	assert_string_equal(out, want);
	assert_null(tag);
	free(out);
}

static void expect_fail(struct fixture *f, const char *tmpl, const char *event,
			int err, const char *want_tag)
{
	char *out = (char *)"sentinel", *tag = NULL;
	assert_int_equal(bl_template_expand(tmpl, event, &f->inst, &f->cfg, &out, &tag), err);
	assert_null(out);
	if (want_tag)
		assert_string_equal(tag, want_tag);
	else
		assert_null(tag);
	free(tag);
}

static void test_event(void **state)
{
	expect_path(*state, "{event}.sh", "setup", "setup.sh");
	expect_path(*state, "events/{event}/run", "reconverge", "events/reconverge/run");
}

static void test_role(void **state)
{
	expect_path(*state, "roles/{role}/{event}.sh", "setup", "roles/web/setup.sh");
}

static void test_environment(void **state)
{
	expect_path(*state, "env/{environment}.sh", "setup", "env/prod.sh");
}

static void test_tag_name(void **state)
{
	expect_path(*state, "hosts/{tag:Name}.sh", "setup", "hosts/api-1.sh");
}

static void test_tag_key_charset(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(bl_instance_set_tag(&f->inst, "aws:cf/stack name+=@._-1", "s1"), 0);
	expect_path(f, "stacks/{tag:aws:cf/stack name+=@._-1}.sh", "setup", "stacks/s1.sh");
}

static void test_all_placeholders_and_literals(void **state)
{
	expect_path(*state, "{environment}/{role}/{tag:Name}-{event}.sh", "setup",
		    "prod/web/api-1-setup.sh");
	expect_path(*state, "common/base.sh", "setup", "common/base.sh");
	expect_path(*state, "a.{role}..b", "setup", "a.web..b");
}

static void test_missing_role(void **state)
{
	struct fixture *f = *state;
	struct bl_instance bare = {0};
	char *out = NULL, *tag = NULL;
	assert_int_equal(bl_template_expand("roles/{role}.sh", "setup", &bare, &f->cfg,
					    &out, &tag), -BL_EMISSINGTAG);
	assert_null(out);
	assert_string_equal(tag, "role");
	free(tag);
}

static void test_missing_other_tags(void **state)
{
	expect_fail(*state, "{tag:Team}/x.sh", "setup", -BL_EMISSINGTAG, "Team");
	/* Tag keys are case sensitive, as on AWS. */
	expect_fail(*state, "{tag:name}/x.sh", "setup", -BL_EMISSINGTAG, "name");
}

static void test_custom_role_tag(void **state)
{
	struct fixture *f = *state;
	char custom[] = "Role";
	f->cfg.tag_role = custom;
	/* Only "role" exists yet: the configured key is the one looked up. */
	expect_fail(f, "roles/{role}.sh", "setup", -BL_EMISSINGTAG, "Role");
	assert_int_equal(bl_instance_set_tag(&f->inst, "Role", "db"), 0);
	expect_path(f, "roles/{role}.sh", "setup", "roles/db.sh");
	f->cfg.tag_role = role_key;
}

static void test_custom_environment_tag(void **state)
{
	struct fixture *f = *state;
	char custom[] = "Stage";
	f->cfg.tag_environment = custom;
	assert_int_equal(bl_instance_set_tag(&f->inst, "Stage", "qa"), 0);
	expect_path(f, "{environment}.sh", "setup", "qa.sh");
	f->cfg.tag_environment = env_key;
}

static const char *const unsafe_values[] = {
	"../x", "a/b", "", ".", "..", "x y", "/etc", "a\\b", "a\nb", "caf\xc3\xa9",
	"\xe2\x80\xaegnp.sh", "~root", "$(id)", "a*b", "%2e%2e",
};

static void test_unsafe_values(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < ARRAY_SIZE(unsafe_values); i++) {
		assert_int_equal(bl_instance_set_tag(&f->inst, "role", unsafe_values[i]), 0);
		assert_int_equal(bl_instance_set_tag(&f->inst, "Name", unsafe_values[i]), 0);
		assert_int_equal(bl_instance_set_tag(&f->inst, "environment", unsafe_values[i]), 0);
		expect_fail(f, "roles/{role}/x.sh", "setup", -BL_EUNSAFE, "role");
		expect_fail(f, "hosts/{tag:Name}.sh", "setup", -BL_EUNSAFE, "Name");
		expect_fail(f, "{environment}.sh", "setup", -BL_EUNSAFE, "environment");
	}
}

static void test_unsafe_value_names_custom_key(void **state)
{
	struct fixture *f = *state;
	char custom[] = "Role";
	f->cfg.tag_role = custom;
	assert_int_equal(bl_instance_set_tag(&f->inst, "Role", ".."), 0);
	expect_fail(f, "roles/{role}.sh", "setup", -BL_EUNSAFE, "Role");
	f->cfg.tag_role = role_key;
}

static void test_value_length(void **state)
{
	struct fixture *f = *state;
	char v[201], want[210];

	memset(v, 'a', 128);
	v[128] = '\0';
	assert_int_equal(bl_instance_set_tag(&f->inst, "role", v), 0);
	snprintf(want, sizeof(want), "%s.sh", v);
	expect_path(f, "{role}.sh", "setup", want);

	memset(v, 'a', 129);
	v[129] = '\0';
	assert_int_equal(bl_instance_set_tag(&f->inst, "role", v), 0);
	expect_fail(f, "{role}.sh", "setup", -BL_EUNSAFE, "role");

	memset(v, 'a', 200);
	v[200] = '\0';
	assert_int_equal(bl_instance_set_tag(&f->inst, "role", v), 0);
	expect_fail(f, "{role}.sh", "setup", -BL_EUNSAFE, "role");
}

static void test_unsafe_event(void **state)
{
	expect_fail(*state, "{event}.sh", "../x", -BL_EUNSAFE, "event");
	expect_fail(*state, "{event}.sh", "", -BL_EUNSAFE, "event");
	/* Not used by the template: not checked. */
	expect_path(*state, "x.sh", "../x", "x.sh");
}

static void test_expand_invalid_template(void **state)
{
	expect_fail(*state, "roles/{rol}.sh", "setup", -BL_ECONFIG, NULL);
	expect_fail(*state, "../{role}.sh", "setup", -BL_ECONFIG, NULL);
	expect_fail(*state, "/{role}.sh", "setup", -BL_ECONFIG, NULL);
}

static void expect_invalid(const char *tmpl, int want_col, const char *want_msg)
{
	char *msg = NULL;
	int col = -1;
	assert_int_equal(bl_template_validate(tmpl, &msg, &col), -BL_ECONFIG);
	assert_non_null(msg);
	assert_string_equal(msg, want_msg);
	assert_int_equal(col, want_col);
	free(msg);
}

static void expect_valid(const char *tmpl)
{
	char *msg = (char *)"sentinel";
	int col = -1;
	assert_int_equal(bl_template_validate(tmpl, &msg, &col), 0);
	assert_null(msg);
}

static void test_validate_ok(void **state)
{
	(void)state;
	expect_valid("roles/{role}/{event}.sh");
	expect_valid("{environment}/{tag:aws:cloudformation/stack-name}/{event}");
	expect_valid("x");
	expect_valid("...");
	expect_valid(".hidden/a..b");
	expect_valid("caf\xc3\xa9/{role}.sh");
}

static void test_validate_unknown_placeholder(void **state)
{
	(void)state;
	expect_invalid("roles/{rol}/x.sh", 7,
		       "unknown placeholder \"{rol}\"; did you mean {role}?");
	expect_invalid("{Role}", 1, "unknown placeholder \"{Role}\"; did you mean {role}?");
	expect_invalid("{evnt}.sh", 1, "unknown placeholder \"{evnt}\"; did you mean {event}?");
	expect_invalid("{enviornment}", 1,
		       "unknown placeholder \"{enviornment}\"; did you mean {environment}?");
	expect_invalid("a/{enviroment}", 3,
		       "unknown placeholder \"{enviroment}\"; did you mean {environment}?");
	expect_invalid("a/{hostname}.sh", 3, "unknown placeholder \"{hostname}\"");
	expect_invalid("{}", 1, "unknown placeholder \"{}\"");
	/* Columns count characters, not bytes. */
	expect_invalid("caf\xc3\xa9/{x}", 6, "unknown placeholder \"{x}\"");
}

static void test_validate_bad_tag_key(void **state)
{
	(void)state;
	static const char want_tail[] = ": want {tag:KEY}, KEY 1 to 128 characters of "
					"A-Z a-z 0-9 . _ : / + = @ - and space";
	char want[256], tmpl[160];

	snprintf(want, sizeof(want), "bad placeholder \"{tag:}\"%s", want_tail);
	expect_invalid("x/{tag:}", 3, want);
	snprintf(want, sizeof(want), "bad placeholder \"{tag:a!b}\"%s", want_tail);
	expect_invalid("{tag:a!b}", 1, want);
	snprintf(want, sizeof(want), "bad placeholder \"{tags:Name}\"%s", want_tail);
	expect_invalid("{tags:Name}", 1, want);

	/* 128 characters of key are fine, 129 are not. */
	memcpy(tmpl, "{tag:", 5);
	memset(tmpl + 5, 'k', 128);
	memcpy(tmpl + 133, "}", 2);
	expect_valid(tmpl);
	memset(tmpl + 5, 'k', 129);
	memcpy(tmpl + 134, "}", 2);
	char *msg = NULL;
	int col = 0;
	assert_int_equal(bl_template_validate(tmpl, &msg, &col), -BL_ECONFIG);
	assert_non_null(strstr(msg, "bad placeholder"));
	free(msg);
}

static void test_validate_unbalanced(void **state)
{
	(void)state;
	static const char open[] = "unbalanced \"{\" (literal braces are not supported)";
	static const char close[] = "unbalanced \"}\" (literal braces are not supported)";
	expect_invalid("roles/{role.sh", 7, open);
	expect_invalid("roles/role}.sh", 11, close);
	expect_invalid("{{role}}", 1, open);
	expect_invalid("{role}}", 7, close);
	expect_invalid("a{b{role}", 2, open);
	expect_invalid("{", 1, open);
	expect_invalid("}", 1, close);
}

static void test_validate_paths(void **state)
{
	(void)state;
	static const char abs[] = "absolute path; layer paths are relative to the source";
	expect_invalid("/etc/{role}.sh", 1, abs);
	expect_invalid("/", 1, abs);
	expect_invalid("roles/../x.sh", 7, "\"..\" path component");
	expect_invalid("..", 1, "\"..\" path component");
	expect_invalid("a/{role}/..", 10, "\"..\" path component");
	expect_invalid("./x.sh", 1, "\".\" path component");
	expect_invalid("a//b", 3, "empty path component");
	expect_invalid("roles/", 7, "empty path component");
	expect_invalid("", 1, "empty template");
	expect_invalid("a\\b", 2, "backslash; use '/' between components");
	expect_invalid("a\tb", 2, "control character 0x09");
	expect_invalid("ab\n", 3, "control character 0x0a");
	expect_invalid("a\x7f", 2, "control character 0x7f");
	/* A control character is reported even inside braces, never quoted. */
	expect_invalid("{ro\x01le}", 4, "control character 0x01");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_key_charset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_placeholders_and_literals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_other_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_role_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_custom_environment_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_value_names_custom_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_invalid_template, setup, teardown),
		cmocka_unit_test(test_validate_ok),
		cmocka_unit_test(test_validate_unknown_placeholder),
		cmocka_unit_test(test_validate_bad_tag_key),
		cmocka_unit_test(test_validate_unbalanced),
		cmocka_unit_test(test_validate_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
