/* test-config.c - configuration defaults, strict parsing with FILE:LINE:COL
 * diagnostics, drop-in order and the user-data document (config.h). */
#include "testutil.h"

#include "bootlace/config.h"
#include "bootlace/error.h"
#include "bootlace/util.h"

struct fixture {
	char *dir;      /* temporary; holds bootlace.yaml and conf.d/ */
	char *main;     /* dir/bootlace.yaml (may not exist) */
	struct bl_config cfg;
	struct bl_config_diags diags;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = tu_mkdtemp();
	assert_non_null(f->dir);
	assert_true(asprintf(&f->main, "%s/bootlace.yaml", f->dir) > 0);
	assert_int_equal(bl_config_init(&f->cfg), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	bl_config_free(&f->cfg);
	bl_config_diags_free(&f->diags);
	tu_rmtree(f->dir);
	free(f->main);
	free(f);
	return 0;
}

static int merge(struct fixture *f, const char *text)
{
	return bl_config_merge_text(&f->cfg, "test.yaml", text, strlen(text), &f->diags);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	free(tu_write(dir, name, text, 0644));
}

static char *make_dropin_dir(struct fixture *f)
{
	char *dir = NULL;
	assert_true(asprintf(&dir, "%s/conf.d", f->dir) > 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	return dir;
}

static void assert_diag(const struct fixture *f, size_t i, const char *file, int line,
			int col, const char *message)
{
	assert_true(i < f->diags.n);
	const struct bl_config_diag *d = &f->diags.items[i];
	assert_string_equal(d->file, file);
	assert_int_equal(d->line, line);
	assert_int_equal(d->col, col);
	assert_string_equal(d->message, message);
}

/* Merges text, which must yield exactly this one error. */
static void assert_one_error(struct fixture *f, const char *text, int line, int col,
			     const char *message)
{
	assert_int_equal(merge(f, text), -BL_ECONFIG);
	assert_int_equal(f->diags.n, 1);
	assert_diag(f, 0, "test.yaml", line, col, message);
	bl_config_diags_free(&f->diags);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct bl_config *c = &f->cfg;

	assert_string_equal(c->datasource, "auto");
	assert_string_equal(c->datasource_dir, "/var/lib/bootlace/seed");
	assert_null(c->source);
	assert_int_equal(c->n_layers, 3);
	assert_string_equal(c->layers[0].path, "base/{event}.sh");
	assert_true(c->layers[0].required);
	assert_string_equal(c->layers[1].path, "roles/{role}/{event}.sh");
	assert_false(c->layers[1].required);
	assert_string_equal(c->layers[2].path, "environments/{environment}/{event}.sh");
	assert_false(c->layers[2].required);
	assert_string_equal(c->tag_role, "role");
	assert_string_equal(c->tag_environment, "environment");
	assert_int_equal(c->run_timeout, 1800);
	assert_int_equal(c->run_kill_grace, 10);
	assert_int_equal(c->on_failure, BL_ON_FAILURE_STOP);
	assert_string_equal(c->state_dir, "/var/lib/bootlace");
	assert_string_equal(c->log_level, "info");

	bl_config_free(c);
	static const struct bl_config zero;
	assert_memory_equal(c, &zero, sizeof(zero));
}

static void test_aws_keys(void **state)
{
	struct fixture *f = *state;
	struct bl_config *c = &f->cfg;
	assert_string_equal(c->tags_source, "auto");
	assert_null(c->s3_endpoint);
	assert_string_equal(c->s3_addressing_style, "auto");
	assert_int_equal(c->s3_max_object_size, 10 * 1024 * 1024);
	assert_int_equal(c->s3_retry_for, 120);
	assert_null(c->ec2_endpoint);
	assert_null(c->tls_ca_file);
	assert_int_equal(merge(f, "tags: { source: api }\n"
				  "s3:\n  endpoint: http://127.0.0.1:5000/\n  addressing_style: path\n"
				  "  max_object_size: 1\n  retry_for: 600\n"
				  "ec2: { endpoint: \"https://ec2.internal.example:8443/api\" }\n"
				  "tls: { ca_file: /etc/ssl/private-ca.pem }\n"), 0);
	assert_string_equal(c->tags_source, "api");
	assert_string_equal(c->s3_endpoint, "http://127.0.0.1:5000/");
	assert_string_equal(c->s3_addressing_style, "path");
	assert_int_equal(c->s3_max_object_size, 1);
	assert_int_equal(c->s3_retry_for, 600);
	assert_string_equal(c->ec2_endpoint, "https://ec2.internal.example:8443/api");
	assert_string_equal(c->tls_ca_file, "/etc/ssl/private-ca.pem");

	assert_one_error(f, "tags: { source: ec2 }\n", 1, 17,
			 "tags.source: expected one of auto, imds, api, got \"ec2\"");
	assert_one_error(f, "s3: { addressing_style: dns }\n", 1, 25,
			 "s3.addressing_style: expected one of auto, path, virtual, got \"dns\"");
	assert_one_error(f, "s3: { max_object_size: 0 }\n", 1, 24,
			 "s3.max_object_size: expected an integer from 1 to 1073741824, got \"0\"");
	assert_one_error(f, "s3: { retry_for: 0 }\n", 1, 18,
			 "s3.retry_for: expected an integer from 1 to 3600, got \"0\"");
	assert_one_error(f, "s3: { endpoint: \"http://127.0.0.1:5000/?x=1\" }\n", 1, 17,
			 "s3.endpoint: \"http://127.0.0.1:5000/?x=1\" is not an endpoint URL of the "
			 "form http(s)://host[:port][/path] (path characters: A-Z a-z 0-9 - . _ ~ /)");
	assert_one_error(f, "ec2: { endpoint: \"https://user:secret@ec2.example\" }\n", 1, 18,
			 "ec2.endpoint: an endpoint URL cannot hold a user name or password");
	assert_one_error(f, "tls: { ca_file: ca.pem }\n", 1, 17,
			 "tls.ca_file: expected an absolute path, got \"ca.pem\"");
}

static void test_imds_keys(void **state)
{
	struct fixture *f = *state;
	struct bl_config *c = &f->cfg;
	assert_null(c->imds_endpoint);
	assert_null(c->imds_mode);
	assert_false(c->imds_allow_v1);
	assert_int_equal(c->imds_wait, 120);
	assert_int_equal(merge(f, "imds:\n  endpoint: http://127.0.0.1:1338\n  mode: IPv6\n"
				  "  allow_v1: true\n  wait: 0\n"), 0);
	assert_string_equal(c->imds_endpoint, "http://127.0.0.1:1338");
	assert_string_equal(c->imds_mode, "IPv6");
	assert_true(c->imds_allow_v1);
	assert_int_equal(c->imds_wait, 0);
	assert_one_error(f, "imds: { wait: 3601 }\n", 1, 15,
			 "imds.wait: expected an integer from 0 to 3600, got \"3601\"");
	assert_one_error(f, "imds:\n  mode: ipv5\n", 2, 9,
			 "imds.mode: expected one of IPv4, IPv6, got \"ipv5\"");
	assert_one_error(f, "imds: { endpoint: 169.254.169.254 }\n", 1, 19,
			 "imds.endpoint: \"169.254.169.254\" is not an http:// or https:// URL");
	assert_one_error(f, "imds:\n  alow_v1: true\n", 2, 3,
			 "unknown key \"imds.alow_v1\" (did you mean \"allow_v1\"?)");
}

static void test_full_file(void **state)
{
	struct fixture *f = *state;
	write_file(f->dir, "bootlace.yaml",
		   "# every key, none at its default\n"
		   "datasource: nocloud\n"
		   "datasource_dir: /srv/seed\n"
		   "source: file:///srv/bootstrap/\n"
		   "layers:\n"
		   "  - path: \"common/{event}.sh\"\n"
		   "    required: yes\n"
		   "  - { path: \"teams/{tag:Team}/{event}.sh\", required: False }\n"
		   "  - path: roles/{role}/{event}.sh\n"
		   "tags: { role: Role, environment: Env }\n"
		   "run:\n"
		   "  timeout: 604800\n"
		   "  on_failure: continue\n"
		   "  kill_grace: 0\n"
		   "state_dir: /var/lib/other\n"
		   "log_level: debug\n");

	assert_int_equal(bl_config_load(&f->cfg, f->main, true, &f->diags), 0);
	assert_int_equal(f->diags.n, 0);

	struct bl_config *c = &f->cfg;
	assert_string_equal(c->datasource, "nocloud");
	assert_string_equal(c->datasource_dir, "/srv/seed");
	assert_string_equal(c->source, "file:///srv/bootstrap/");
	assert_int_equal(c->n_layers, 3);
	assert_string_equal(c->layers[0].path, "common/{event}.sh");
	assert_true(c->layers[0].required);
	assert_string_equal(c->layers[1].path, "teams/{tag:Team}/{event}.sh");
	assert_false(c->layers[1].required);
	assert_string_equal(c->layers[2].path, "roles/{role}/{event}.sh");
	assert_false(c->layers[2].required);
	assert_string_equal(c->tag_role, "Role");
	assert_string_equal(c->tag_environment, "Env");
	assert_int_equal(c->run_timeout, 604800);
	assert_int_equal(c->on_failure, BL_ON_FAILURE_CONTINUE);
	assert_int_equal(c->run_kill_grace, 0);
	assert_string_equal(c->state_dir, "/var/lib/other");
	assert_string_equal(c->log_level, "debug");
}

static void test_partial_document_keeps_other_keys(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(merge(f, "run:\n  timeout: 60\n"), 0);
	assert_int_equal(f->cfg.run_timeout, 60);
	assert_int_equal(f->cfg.run_kill_grace, 10);
	assert_int_equal(f->cfg.on_failure, BL_ON_FAILURE_STOP);
	assert_int_equal(f->cfg.n_layers, 3);
	assert_string_equal(f->cfg.log_level, "info");
}

static void test_empty_documents(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(merge(f, ""), 0);
	assert_int_equal(merge(f, "# nothing yet\n"), 0);
	assert_int_equal(merge(f, "---\n"), 0);
	assert_int_equal(bl_config_merge_text(&f->cfg, "empty", NULL, 0, &f->diags), 0);
	assert_int_equal(f->diags.n, 0);
	assert_string_equal(f->cfg.datasource, "auto");
}

static void test_top_level_must_be_a_mapping(void **state)
{
	struct fixture *f = *state;
	assert_one_error(f, "- datasource: ec2\n", 1, 1, "expected a mapping, got a list");
	assert_one_error(f, "\n\"ec2\"\n", 2, 1,
			 "expected a mapping, got a quoted string \"ec2\"");
}

static void test_unknown_keys(void **state)
{
	struct fixture *f = *state;
	assert_one_error(f, "datasource: ec2\nrun:\n  timout: 30\n", 3, 3,
			 "unknown key \"run.timout\" (did you mean \"timeout\"?)");
	assert_one_error(f, "log_levl: debug\n", 1, 1,
			 "unknown key \"log_levl\" (did you mean \"log_level\"?)");
	/* Three edits away is a different word, not a typo. */
	assert_one_error(f, "tags:\n    owner: x\n", 2, 5, "unknown key \"tags.owner\"");
	assert_one_error(f, "frobnicate: 1\n", 1, 1, "unknown key \"frobnicate\"");
	assert_one_error(f, "layers:\n  - { path: a.sh, requird: true }\n", 2, 19,
			 "unknown key \"layers[0].requird\" (did you mean \"required\"?)");
	/* Known names are case-sensitive. */
	assert_one_error(f, "Source: file:///x/\n", 1, 1,
			 "unknown key \"Source\" (did you mean \"source\"?)");
}

static void test_integer_errors(void **state)
{
	struct fixture *f = *state;
	assert_one_error(f, "run:\n  timeout: abc\n", 2, 12,
			 "run.timeout: expected an integer from 1 to 604800, got \"abc\"");
	assert_one_error(f, "run:\n  timeout: \"30\"\n", 2, 12,
			 "run.timeout: expected an integer from 1 to 604800, "
			 "got a quoted string \"30\"");
	assert_one_error(f, "run: { timeout: 0 }\n", 1, 17,
			 "run.timeout: expected an integer from 1 to 604800, got \"0\"");
	assert_one_error(f, "run: { timeout: 604801 }\n", 1, 17,
			 "run.timeout: expected an integer from 1 to 604800, got \"604801\"");
	assert_one_error(f, "run: { kill_grace: 3601 }\n", 1, 20,
			 "run.kill_grace: expected an integer from 0 to 3600, got \"3601\"");
	assert_one_error(f, "run: { kill_grace: -1 }\n", 1, 20,
			 "run.kill_grace: expected an integer from 0 to 3600, got \"-1\"");
	assert_one_error(f, "run: { timeout: 99999999999999999999999 }\n", 1, 17,
			 "run.timeout: expected an integer from 1 to 604800, "
			 "got \"99999999999999999999999\"");
	/* 010 is 8 to a YAML 1.1 reader and 10 to a 1.2 one: refused. */
	assert_one_error(f, "run: { timeout: 010 }\n", 1, 17,
			 "run.timeout: expected an integer from 1 to 604800, got \"010\"");
	assert_one_error(f, "run: { timeout: [30] }\n", 1, 17,
			 "run.timeout: expected an integer from 1 to 604800, got a list");
	assert_int_equal(f->cfg.run_timeout, 1800);
	assert_int_equal(f->cfg.run_kill_grace, 10);
}

static void test_string_errors(void **state)
{
	struct fixture *f = *state;
	assert_one_error(f, "state_dir: {a: 1}\n", 1, 12,
			 "state_dir: expected an absolute path, got a mapping");
	assert_one_error(f, "state_dir: var/lib\n", 1, 12,
			 "state_dir: expected an absolute path, got \"var/lib\"");
	assert_one_error(f, "datasource_dir: ~\n", 1, 17,
			 "datasource_dir: expected an absolute path, got null");
	assert_one_error(f, "tags:\n  role: null\n", 2, 9,
			 "tags.role: expected a non-empty string, got null");
	assert_one_error(f, "tags: { environment: \"\" }\n", 1, 22,
			 "tags.environment: expected a non-empty string, got a quoted string \"\"");
	assert_one_error(f, "tags: [role]\n", 1, 7, "tags: expected a mapping, got a list");
	assert_one_error(f, "source: ftp://example.com/\n", 1, 9,
			 "source: scheme ftp:// is not supported by this build "
			 "(supported: file://, s3://, https://, http://)");
	assert_string_equal(f->cfg.state_dir, "/var/lib/bootlace");
	assert_string_equal(f->cfg.tag_role, "role");
	assert_null(f->cfg.source);
}

static void test_enum_and_bool_errors(void **state)
{
	struct fixture *f = *state;
	assert_one_error(f, "log_level: verbose\n", 1, 12,
			 "log_level: expected one of error, warning, info, debug, got \"verbose\"");
	assert_one_error(f, "datasource: EC2\n", 1, 13,
			 "datasource: expected one of auto, ec2, nocloud, got \"EC2\"");
	assert_one_error(f, "run:\n  on_failure: retry\n", 2, 15,
			 "run.on_failure: expected one of stop, continue, got \"retry\"");
	assert_one_error(f, "layers:\n  - path: a.sh\n    required: maybe\n", 3, 15,
			 "layers[0].required: expected true or false, got \"maybe\"");
	assert_one_error(f, "layers:\n  - path: a.sh\n    required: \"true\"\n", 3, 15,
			 "layers[0].required: expected true or false, got a quoted string \"true\"");
	assert_int_equal(f->cfg.n_layers, 3);
	assert_string_equal(f->cfg.log_level, "info");

	/* A quoted keyword is still a string, so it is fine. */
	assert_int_equal(merge(f, "log_level: \"warning\"\ndatasource: 'ec2'\n"), 0);
	assert_string_equal(f->cfg.log_level, "warning");
	assert_string_equal(f->cfg.datasource, "ec2");
}

static void test_boolean_spellings(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(merge(f, "layers:\n"
				  "  - { path: a.sh, required: TRUE }\n"
				  "  - { path: b.sh, required: Yes }\n"
				  "  - { path: c.sh, required: NO }\n"
				  "  - { path: d.sh, required: false }\n"), 0);
	assert_int_equal(f->cfg.n_layers, 4);
	assert_true(f->cfg.layers[0].required);
	assert_true(f->cfg.layers[1].required);
	assert_false(f->cfg.layers[2].required);
	assert_false(f->cfg.layers[3].required);
}

static void test_layer_list_errors(void **state)
{
	struct fixture *f = *state;
	assert_one_error(f, "layers: []\n", 1, 9,
			 "layers: expected a non-empty list of layers, got an empty list");
	assert_one_error(f, "layers: base.sh\n", 1, 9,
			 "layers: expected a non-empty list of layers, got \"base.sh\"");
	assert_one_error(f, "layers:\n  - base/{event}.sh\n", 2, 5,
			 "layers[0]: expected a mapping, got \"base/{event}.sh\"");
	assert_one_error(f, "layers:\n  - path: a.sh\n  - { required: true }\n", 3, 5,
			 "layers[1]: missing key \"path\"");
	/* A bad list never replaces the good one. */
	assert_int_equal(f->cfg.n_layers, 3);
	assert_string_equal(f->cfg.layers[0].path, "base/{event}.sh");
}

static void test_invalid_template(void **state)
{
	struct fixture *f = *state;
	write_file(f->dir, "bootlace.yaml",
		   "layers:\n"
		   "  - path: base/{event}.sh\n"
		   "  - path: \"roles/{rol}/{event}.sh\"\n"
		   "  - { path: \"envs/{environment}/../x.sh\" }\n"
		   "  - path: /abs/{event}.sh\n");

	assert_int_equal(bl_config_load(&f->cfg, f->main, true, &f->diags), -BL_ECONFIG);
	assert_int_equal(f->diags.n, 3);
	/* Columns point into the template: after the quote when quoted. */
	assert_diag(f, 0, f->main, 3, 18,
		    "layers[1].path: unknown placeholder \"{rol}\"; did you mean {role}?");
	assert_diag(f, 1, f->main, 4, 33, "layers[2].path: \"..\" path component");
	assert_diag(f, 2, f->main, 5, 11,
		    "layers[3].path: absolute path; layer paths are relative to the source");
	assert_int_equal(f->cfg.n_layers, 3);
	assert_string_equal(f->cfg.layers[1].path, "roles/{role}/{event}.sh");
}

static void test_template_with_spaces_reports_the_scalar(void **state)
{
	struct fixture *f = *state;
	/* Folding may have rewritten whitespace, so the column inside the text
	 * cannot be trusted: the scalar's own position is reported. */
	assert_one_error(f, "layers:\n  - path: teams/{tag:My Team}/{nope}.sh\n", 2, 11,
			 "layers[0].path: unknown placeholder \"{nope}\"");
}

static void test_yaml_syntax_error(void **state)
{
	struct fixture *f = *state;
	assert_one_error(f, "datasource: ec2\nrun:\n  timeout: 5\n   kill_grace: 3\n", 4, 14,
			 "YAML syntax error: mapping values are not allowed in this context");
	assert_int_equal(f->cfg.run_timeout, 1800);

	assert_int_equal(merge(f, "layers: [a.sh\nlog_level: debug\n"), -BL_ECONFIG);
	assert_int_equal(f->diags.n, 1);
	assert_int_equal(f->diags.items[0].line, 2);
	assert_non_null(strstr(f->diags.items[0].message, "YAML syntax error"));
	assert_string_equal(f->cfg.log_level, "info");
}

static void test_collects_all_errors(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(merge(f, "datasource: gce\n"
				  "run:\n"
				  "  timeout: forever\n"
				  "  on_failur: stop\n"
				  "  kill_grace: 5\n"
				  "state_dir: relative\n"
				  "layers:\n"
				  "  - path: \"{bad}\"\n"
				  "  - required: true\n"
				  "log_level: debug\n"), -BL_ECONFIG);
	assert_int_equal(f->diags.n, 6);
	assert_diag(f, 0, "test.yaml", 1, 13,
		    "datasource: expected one of auto, ec2, nocloud, got \"gce\"");
	assert_diag(f, 1, "test.yaml", 3, 12,
		    "run.timeout: expected an integer from 1 to 604800, got \"forever\"");
	assert_diag(f, 2, "test.yaml", 4, 3,
		    "unknown key \"run.on_failur\" (did you mean \"on_failure\"?)");
	assert_diag(f, 3, "test.yaml", 6, 12,
		    "state_dir: expected an absolute path, got \"relative\"");
	assert_diag(f, 4, "test.yaml", 8, 12, "layers[0].path: unknown placeholder \"{bad}\"");
	assert_diag(f, 5, "test.yaml", 9, 5, "layers[1]: missing key \"path\"");
	/* The good keys of a bad document still apply; the caller refuses to
	 * run on -BL_ECONFIG anyway. */
	assert_int_equal(f->cfg.run_kill_grace, 5);
	assert_string_equal(f->cfg.log_level, "debug");
}

static void test_dropins_merge_in_order(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *confd = make_dropin_dir(f);

	write_file(f->dir, "bootlace.yaml",
		   "datasource: ec2\n"
		   "log_level: debug\n"
		   "layers:\n"
		   "  - path: main/{event}.sh\n"
		   "  - path: other/{event}.sh\n");
	/* Written in reverse so directory order cannot pass for sorting. */
	write_file(confd, "20-b.yaml",
		   "log_level: error\n"
		   "layers:\n"
		   "  - { path: \"b/{event}.sh\", required: true }\n");
	write_file(confd, "10-a.yaml", "log_level: warning\nrun: { timeout: 60 }\n");
	/* Not drop-ins: each would be an error if it were read. */
	write_file(confd, ".hidden.yaml", "bogus: 1\n");
	write_file(confd, "30-c.yml", "bogus: 1\n");
	write_file(confd, "40-d.yaml.dpkg-old", "bogus: 1\n");
	write_file(confd, "README", "bogus: 1\n");

	assert_int_equal(bl_config_load(&f->cfg, f->main, true, &f->diags), 0);
	assert_int_equal(f->diags.n, 0);
	assert_string_equal(f->cfg.datasource, "ec2");
	assert_string_equal(f->cfg.log_level, "error");
	assert_int_equal(f->cfg.run_timeout, 60);
	assert_int_equal(f->cfg.n_layers, 1);
	assert_string_equal(f->cfg.layers[0].path, "b/{event}.sh");
	assert_true(f->cfg.layers[0].required);
}

static void test_dropin_errors_name_their_file(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *confd = make_dropin_dir(f);
	_cleanup_free_ char *bad = NULL, *unreadable = NULL;

	write_file(f->dir, "bootlace.yaml", "run: { timeout: zero }\n");
	write_file(confd, "10-bad.yaml", "\nstate_dir: tmp\n");
	assert_true(asprintf(&unreadable, "%s/20-dir.yaml", confd) > 0);
	assert_int_equal(mkdir(unreadable, 0755), 0);
	write_file(confd, "30-good.yaml", "log_level: warning\n");
	assert_true(asprintf(&bad, "%s/10-bad.yaml", confd) > 0);

	assert_int_equal(bl_config_load(&f->cfg, f->main, true, &f->diags), -BL_ECONFIG);
	assert_int_equal(f->diags.n, 3);
	assert_diag(f, 0, f->main, 1, 17,
		    "run.timeout: expected an integer from 1 to 604800, got \"zero\"");
	assert_diag(f, 1, bad, 2, 12, "state_dir: expected an absolute path, got \"tmp\"");
	assert_diag(f, 2, unreadable, 0, 0, "cannot read: Is a directory");
	/* Files after a bad one are still merged. */
	assert_string_equal(f->cfg.log_level, "warning");
}

static void test_missing_main_file(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *confd = make_dropin_dir(f);
	write_file(confd, "50-x.yaml", "datasource: nocloud\n");

	assert_int_equal(bl_config_load(&f->cfg, f->main, false, &f->diags), 0);
	assert_int_equal(f->diags.n, 0);
	assert_string_equal(f->cfg.datasource, "nocloud");
	assert_string_equal(f->cfg.log_level, "info");

	bl_config_free(&f->cfg);
	assert_int_equal(bl_config_init(&f->cfg), 0);
	assert_int_equal(bl_config_load(&f->cfg, f->main, true, &f->diags), -BL_ECONFIG);
	assert_int_equal(f->diags.n, 1);
	assert_diag(f, 0, f->main, 0, 0, "cannot read: No such file or directory");
	/* The drop-ins are still read, so their errors show up too. */
	assert_string_equal(f->cfg.datasource, "nocloud");
}

static void test_no_dropin_dir(void **state)
{
	struct fixture *f = *state;
	write_file(f->dir, "bootlace.yaml", "log_level: error\n");
	assert_int_equal(bl_config_load(&f->cfg, f->main, true, &f->diags), 0);
	assert_int_equal(f->diags.n, 0);
	assert_string_equal(f->cfg.log_level, "error");
}

static void test_userdata_document_merged_last(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *confd = make_dropin_dir(f);
	write_file(f->dir, "bootlace.yaml", "source: file:///srv/a/\nlog_level: debug\n");
	write_file(confd, "10-x.yaml", "run: { timeout: 60, on_failure: continue }\n");
	assert_int_equal(bl_config_load(&f->cfg, f->main, true, &f->diags), 0);

	static const char user_data[] =
		"#bootlace\n"
		"source: file:///srv/b/\n"
		"run:\n"
		"  timeout: 90\n"
		"layers:\n"
		"  - path: only/{event}.sh\n";
	assert_int_equal(bl_config_merge_text(&f->cfg, "user-data", user_data,
					      strlen(user_data), &f->diags), 0);
	assert_int_equal(f->diags.n, 0);
	assert_string_equal(f->cfg.source, "file:///srv/b/");
	assert_int_equal(f->cfg.run_timeout, 90);
	assert_int_equal(f->cfg.on_failure, BL_ON_FAILURE_CONTINUE);
	assert_string_equal(f->cfg.log_level, "debug");
	assert_int_equal(f->cfg.n_layers, 1);
	assert_string_equal(f->cfg.layers[0].path, "only/{event}.sh");

	/* Its errors carry the name it was given; line 1 is the marker. */
	static const char bad[] = "#bootlace\nlog_level: loud\n";
	assert_int_equal(bl_config_merge_text(&f->cfg, "user-data", bad, strlen(bad),
					      &f->diags), -BL_ECONFIG);
	assert_diag(f, 0, "user-data", 2, 12,
		    "log_level: expected one of error, warning, info, debug, got \"loud\"");
}

static void test_security_keys(void **state)
{
	struct fixture *f = *state;
	assert_false(f->cfg.require_signature);
	assert_false(f->cfg.require_signed_user_data);
	assert_string_equal(f->cfg.trusted_keys, "/etc/bootlace/keys.d/*.pem");

	assert_int_equal(merge(f, "security:\n  require_signature: true\n"
			       "  trusted_keys: /opt/keys/release-*.pem\n"
			       "  require_signed_user_data: yes\n"), 0);
	assert_true(f->cfg.require_signature);
	assert_true(f->cfg.require_signed_user_data);
	assert_string_equal(f->cfg.trusted_keys, "/opt/keys/release-*.pem");

	assert_one_error(f, "security:\n  require_signature: \"false\"\n", 2, 22,
			 "security.require_signature: expected true or false, got a quoted string "
			 "\"false\"");
	assert_one_error(f, "security:\n  trusted_keys: keys.d/*.pem\n", 2, 17,
			 "security.trusted_keys: expected an absolute path, got \"keys.d/*.pem\"");
	assert_one_error(f, "security:\n  require_signatures: true\n", 2, 3,
			 "unknown key \"security.require_signatures\" (did you mean "
			 "\"require_signature\"?)");
	assert_one_error(f, "security: true\n", 1, 11, "security: expected a mapping, got \"true\"");
	/* The failed documents changed nothing. */
	assert_true(f->cfg.require_signature);
	assert_string_equal(f->cfg.trusted_keys, "/opt/keys/release-*.pem");
}

/* User data is what signatures check: it cannot turn them off, bring its
 * keys, or even set what is already set.  The rest of it still merges. */
static void test_security_not_from_user_data(void **state)
{
	struct fixture *f = *state;
	f->cfg.require_signature = true;
	static const char *const docs[] = {
		"#bootlace\nsecurity:\n  require_signature: false\n",
		"#bootlace\nsecurity:\n  trusted_keys: /tmp/mine/*.pem\n",
		"#bootlace\nsecurity:\n  require_signed_user_data: true\n",
		"#bootlace\nsecurity: {}\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		assert_int_equal(bl_config_merge_user_data(&f->cfg, docs[i], strlen(docs[i]),
							   &f->diags), -BL_ECONFIG);
		assert_int_equal(f->diags.n, 1);
		assert_diag(f, 0, "user-data", 2, 1,
			    "security: not allowed in user data: signatures check what user data "
			    "brings, so it cannot set them (set it in the configuration file or a "
			    "drop-in)");
		bl_config_diags_free(&f->diags);
	}
	assert_true(f->cfg.require_signature);
	assert_string_equal(f->cfg.trusted_keys, "/etc/bootlace/keys.d/*.pem");

	static const char ok[] = "#bootlace\nrun:\n  timeout: 77\n";
	assert_int_equal(bl_config_merge_user_data(&f->cfg, ok, strlen(ok), &f->diags), 0);
	assert_int_equal(f->cfg.run_timeout, 77);
	/* A configuration file may set them. */
	assert_int_equal(bl_config_merge_text(&f->cfg, "user-data", docs[0], strlen(docs[0]),
					      &f->diags), 0);
	assert_false(f->cfg.require_signature);
}

/* What bl_config_diags_print() prints of f's diagnostics (malloc'd). */
static char *diags_printed(const struct fixture *f)
{
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	assert_non_null(mem);
	bl_config_diags_print(&f->diags, mem);
	assert_int_equal(fclose(mem), 0);
	return out;
}

static void test_diags_print(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(bl_config_load(&f->cfg, f->main, true, &f->diags), -BL_ECONFIG);
	assert_int_equal(merge(f, "run:\n  timout: 1\n"), -BL_ECONFIG);

	char *out = diags_printed(f);
	_cleanup_free_ char *want = NULL;
	assert_true(asprintf(&want,
			     "%s: cannot read: No such file or directory\n"
			     "test.yaml:2:3: unknown key \"run.timout\" (did you mean \"timeout\"?)\n",
			     f->main) > 0);
	assert_string_equal(out, want);
	free(out);

	bl_config_diags_free(&f->diags);
	assert_null(f->diags.items);
	assert_int_equal(f->diags.n, 0);

	/* A flood of errors: all counted, the first 50 printed. */
	char *text = NULL;
	size_t text_len = 0;
	FILE *doc = open_memstream(&text, &text_len);
	assert_non_null(doc);
	fputs("layers:\n", doc);
	for (int i = 0; i < 1000; i++)
		fputs("  - 7\n", doc);
	assert_int_equal(fclose(doc), 0);
	assert_int_equal(merge(f, text), -BL_ECONFIG);
	free(text);
	assert_int_equal(f->diags.n, 1000);
	out = diags_printed(f);
	assert_non_null(strstr(out, "test.yaml: 1000 errors; the first 50:\n"));
	size_t lines = 0;
	for (const char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 51);
	free(out);
	bl_config_diags_free(&f->diags);
}

/* Input quoted in a message cannot forge a line or reach the console as an
 * escape sequence: control characters print as '?'. */
static void test_diagnostics_are_printable(void **state)
{
	struct fixture *f = *state;
	assert_one_error(f, "\"x\\nbootlace: forged line\": 1\n", 1, 1,
			 "unknown key \"x?bootlace: forged line\"");
	assert_one_error(f, "log_level: \"\\e[2Jinfo\"\n", 1, 12,
			 "log_level: expected one of error, warning, info, debug, got a quoted string "
			 "\"?[2Jinfo\"");
	assert_one_error(f, "\"a\\rb\": 1\n\"a\\rb\": 2\n", 2, 1, "duplicate key \"a?b\"");
}

#define TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_defaults),
		TEST(test_full_file),
		TEST(test_imds_keys),
		TEST(test_aws_keys),
		TEST(test_partial_document_keeps_other_keys),
		TEST(test_empty_documents),
		TEST(test_top_level_must_be_a_mapping),
		TEST(test_unknown_keys),
		TEST(test_integer_errors),
		TEST(test_string_errors),
		TEST(test_enum_and_bool_errors),
		TEST(test_boolean_spellings),
		TEST(test_layer_list_errors),
		TEST(test_invalid_template),
		TEST(test_template_with_spaces_reports_the_scalar),
		TEST(test_yaml_syntax_error),
		TEST(test_collects_all_errors),
		TEST(test_dropins_merge_in_order),
		TEST(test_dropin_errors_name_their_file),
		TEST(test_missing_main_file),
		TEST(test_no_dropin_dir),
		TEST(test_userdata_document_merged_last),
		TEST(test_security_keys),
		TEST(test_security_not_from_user_data),
		TEST(test_diags_print),
		TEST(test_diagnostics_are_printable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
