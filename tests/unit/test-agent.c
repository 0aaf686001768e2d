/* test-agent.c - one event end to end in-process (src/agent.c): a nocloud seed and file:// layers in a temp dir, run order, failure policy, once per instance, --force, dry run, the lock and the run record; current.json while a run goes on, the record's timings, and the journal milestones. */
#include "testutil.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "bootlace/agent.h"
#include "bootlace/config.h"
#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/runner.h"
#include "bootlace/state.h"
#include "bootlace/util.h"

/* No test takes anywhere near this long; a hang fails instead of blocking. */
#define TEST_ALARM_SECS 60

struct fixture {
	char *tmp;
	char *seed, *layers, *state_dir, *order, *env_out;
	char *source;  /* file://<tmp>/layers/ */
	struct bl_config cfg;
	struct bl_agent_options opts;
};

static char *path_in(const char *dir, const char *rel)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
	return p;
}

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = value ? strdup(value) : NULL;
	if (value)
		assert_non_null(*field);
}

/* The script of layer name: appends its name to the order file, says hello
 * on stdout, exits with code. */
static char *script_text(const struct fixture *f, const char *name, int code)
{
	char *text = NULL;
	assert_true(asprintf(&text, "#!/bin/sh\necho '%s' >> '%s'\necho 'hello from %s'\nexit %d\n",
			     name, f->order, name, code) > 0);
	return text;
}

/* Writes layers/<rel>, its parents made. */
static void put_layer(struct fixture *f, const char *rel, int code)
{
	char *dir = NULL;
	assert_true(asprintf(&dir, "%s/%.*s", f->layers, (int)(strrchr(rel, '/') - rel), rel) > 0);
	assert_int_equal(bl_mkdir_p(dir, 0755), 0);
	free(dir);
	char *text = script_text(f, rel, code);
	free(tu_write(f->layers, rel, text, 0644));
	free(text);
}

static void remove_layer(struct fixture *f, const char *rel)
{
	char *path = path_in(f->layers, rel);
	assert_int_equal(unlink(path), 0);
	free(path);
}

static void put_meta(struct fixture *f, const char *instance_id, const char *extra_tags)
{
	char *meta = NULL;
	assert_true(asprintf(&meta,
			     "instance-id: %s\n"
			     "region: eu-west-1\n"
			     "availability-zone: eu-west-1b\n"
			     "tags:\n"
			     "%s", instance_id, extra_tags) > 0);
	free(tu_write(f->seed, "meta-data", meta, 0644));
	free(meta);
}

static void put_user_data(struct fixture *f, const char *text)
{
	free(tu_write(f->seed, "user-data", text, 0644));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->tmp = tu_mkdtemp();
	assert_non_null(f->tmp);
	f->seed = path_in(f->tmp, "seed");
	f->layers = path_in(f->tmp, "layers");
	f->state_dir = path_in(f->tmp, "state");
	f->order = path_in(f->tmp, "order");
	f->env_out = path_in(f->tmp, "env");
	assert_true(asprintf(&f->source, "file://%s/", f->layers) > 0);
	assert_int_equal(mkdir(f->seed, 0700), 0);
	assert_int_equal(mkdir(f->layers, 0700), 0);

	put_meta(f, "i-0test1", "  role: web\n  environment: prod\n");
	put_layer(f, "base/setup.sh", 0);
	put_layer(f, "roles/web/setup.sh", 0);
	put_layer(f, "environments/prod/setup.sh", 0);
	char *user = script_text(f, "user-data", 0);
	put_user_data(f, user);
	free(user);

	assert_int_equal(bl_config_init(&f->cfg), 0);
	set_str(&f->cfg.datasource, "nocloud");
	set_str(&f->cfg.datasource_dir, f->seed);
	set_str(&f->cfg.source, f->source);
	set_str(&f->cfg.state_dir, f->state_dir);
	f->cfg.run_timeout = 30;
	f->cfg.run_kill_grace = 1;
	f->opts = (struct bl_agent_options){ .event = "setup" };
	alarm(TEST_ALARM_SECS);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	alarm(0);
	bl_config_free(&f->cfg);
	free(f->source);
	free(f->env_out);
	free(f->order);
	free(f->state_dir);
	free(f->layers);
	free(f->seed);
	tu_rmtree(f->tmp);
	free(f);
	return 0;
}

static int run(struct fixture *f)
{
	return bl_agent_run(&f->cfg, &f->opts);
}

static void expect_order(const struct fixture *f, const char *want)
{
	char *got = tu_slurp(f->order);
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

#define ALL_FOUR "base/setup.sh\nroles/web/setup.sh\nenvironments/prod/setup.sh\nuser-data\n"

static json_t *load_record(const struct fixture *f, const char *event)
{
	char *rel = NULL;
	assert_true(asprintf(&rel, "runs/%s.json", event) > 0);
	char *path = path_in(f->state_dir, rel);
	json_error_t err;
	json_t *rec = json_load_file(path, 0, &err);
	if (!rec)
		fail_msg("%s: %s", path, err.text);
	free(path);
	free(rel);
	return rec;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Checks layer i of a run record: name, source, status, exit code (-1: none
 * recorded) and, for fetched layers, the sha256 of the script's bytes. */
static void expect_layer(const struct fixture *f, const json_t *rec, size_t i,
			 const char *name, const char *status, int exit_code)
{
	const json_t *l = json_array_get(json_object_get(rec, "layers"), i);
	assert_non_null(l);
	assert_string_equal(json_string_value(json_object_get(l, "name")), name);
	assert_string_equal(json_string_value(json_object_get(l, "status")), status);
	const char *source = json_string_value(json_object_get(l, "source"));
	bool user = strcmp(name, "user-data") == 0;
	if (user) {
		assert_string_equal(source, "user-data");
	} else {
		char *url = NULL;
		assert_true(asprintf(&url, "%s%s", f->source, name) > 0);
		assert_string_equal(source, url);
		free(url);
	}
	const json_t *code = json_object_get(l, "exit_code");
	if (exit_code < 0) {
		assert_null(code);
	} else {
		assert_true(json_is_integer(code));
		assert_int_equal(json_integer_value(code), exit_code);
		assert_true(json_is_false(json_object_get(l, "timed_out")));
		assert_true(json_is_number(json_object_get(l, "duration")));
	}
	if (strcmp(status, "skipped") == 0) {
		assert_null(json_object_get(l, "sha256"));
		return;
	}
	/* The sha256 of the bytes that were fetched (and run). */
	char *path = user ? path_in(f->seed, "user-data") : path_in(f->layers, name);
	char *bytes = tu_slurp(path);
	assert_non_null(bytes);
	char want[65];
	sha256_hex(bytes, strlen(bytes), want);
	assert_string_equal(json_string_value(json_object_get(l, "sha256")), want);
	free(bytes);
	free(path);
}

static size_t record_layers(const json_t *rec)
{
	return json_array_size(json_object_get(rec, "layers"));
}

static const char *rec_str(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

static bool setup_done(const struct fixture *f, const char *instance_id)
{
	struct bl_state st;
	assert_int_equal(bl_state_open(&st, f->state_dir, false), 0);
	bool done = bl_state_event_done(&st, instance_id, "setup", NULL);
	bl_state_close(&st);
	return done;
}

static void test_runs_layers_in_order(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR);
	assert_true(setup_done(f, "i-0test1"));

	/* The run record. */
	json_t *rec = load_record(f, "setup");
	assert_string_equal(rec_str(rec, "event"), "setup");
	assert_string_equal(rec_str(rec, "instance_id"), "i-0test1");
	assert_string_equal(rec_str(rec, "state"), "succeeded");
	assert_null(json_object_get(rec, "error"));
	assert_int_equal(record_layers(rec), 4);
	expect_layer(f, rec, 0, "base/setup.sh", "ok", 0);
	expect_layer(f, rec, 1, "roles/web/setup.sh", "ok", 0);
	expect_layer(f, rec, 2, "environments/prod/setup.sh", "ok", 0);
	expect_layer(f, rec, 3, "user-data", "ok", 0);
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(rec, "layers"), 0),
						 "required")));
	assert_true(json_is_false(json_object_get(json_array_get(json_object_get(rec, "layers"), 1),
						  "required")));

	/* The run log has each script's output, by layer. */
	const char *log = rec_str(rec, "log");
	assert_non_null(log);
	assert_int_equal(strncmp(log, f->state_dir, strlen(f->state_dir)), 0);
	char *log_text = tu_slurp(log);
	assert_non_null(log_text);
	assert_non_null(strstr(log_text, "base/setup.sh: hello from base/setup.sh\n"));
	assert_non_null(strstr(log_text, "user-data: hello from user-data\n"));
	free(log_text);
	json_decref(rec);

	/* The layer scripts as executed, flat and numbered in run order, 0700. */
	static const char *const copies[] = {
		"scripts/setup/01-base_setup.sh", "scripts/setup/02-roles_web_setup.sh",
		"scripts/setup/03-environments_prod_setup.sh",
	};
	static const char *const names[] = {
		"base/setup.sh", "roles/web/setup.sh", "environments/prod/setup.sh",
	};
	for (size_t i = 0; i < ARRAY_SIZE(copies); i++) {
		char *copy = path_in(f->state_dir, copies[i]);
		struct stat s;
		assert_int_equal(stat(copy, &s), 0);
		assert_int_equal(s.st_mode & 07777, 0700);
		char *got = tu_slurp(copy);
		char *want = script_text(f, names[i], 0);
		assert_string_equal(got, want);
		free(want);
		free(got);
		free(copy);
	}
	/* User data is written nowhere: its script ran from memory. */
	static const char *const never[] = { "user-data", "scripts/setup/04-user-data" };
	for (size_t i = 0; i < ARRAY_SIZE(never); i++) {
		char *path = path_in(f->state_dir, never[i]);
		assert_int_equal(access(path, F_OK), -1);
		free(path);
	}
}

static void test_script_environment(void **state)
{
	struct fixture *f = *state;
	/* Nothing of our environment reaches a script. */
	assert_int_equal(setenv("BOOTLACE_TEST_LEAK", "secret", 1), 0);
	char *text = NULL;
	assert_true(asprintf(&text,
			     "#!/bin/sh\n"
			     "echo \"$BOOTLACE_EVENT|$BOOTLACE_LAYER|$BOOTLACE_INSTANCE_ID|"
			     "$BOOTLACE_REGION|$BOOTLACE_AVAILABILITY_ZONE|$BOOTLACE_ROLE|"
			     "$BOOTLACE_ENVIRONMENT|$BOOTLACE_STATE_DIR|$BOOTLACE_CONTEXT|"
			     "${BOOTLACE_TEST_LEAK-unset}|$PATH|$(pwd)|$HOME\" > '%s'\n", f->env_out) > 0);
	free(tu_write(f->layers, "base/setup.sh", text, 0644));
	free(text);
	int r = run(f);
	unsetenv("BOOTLACE_TEST_LEAK");
	assert_int_equal(r, 0);
	char *want = NULL;
	const struct passwd *pw = getpwuid(geteuid());
	assert_true(asprintf(&want,
			     "setup|base/setup.sh|i-0test1|eu-west-1|eu-west-1b|web|prod|%s|%s/context.json|"
			     "unset|%s|/|%s\n", f->state_dir, f->state_dir, BL_SCRIPT_PATH,
			     pw && pw->pw_dir ? pw->pw_dir : "/") > 0);
	char *got = tu_slurp(f->env_out);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);

	/* context.json: what the script may read. */
	char *ctx_path = path_in(f->state_dir, "context.json");
	json_error_t err;
	json_t *ctx = json_load_file(ctx_path, 0, &err);
	assert_non_null(ctx);
	assert_string_equal(rec_str(ctx, "event"), "setup");
	json_t *inst = json_object_get(ctx, "instance");
	assert_string_equal(rec_str(inst, "instance_id"), "i-0test1");
	assert_string_equal(rec_str(inst, "datasource"), "nocloud");
	assert_string_equal(rec_str(json_object_get(inst, "tags"), "role"), "web");
	assert_int_equal(json_array_size(json_object_get(ctx, "layers")), 4);
	json_decref(ctx);
	free(ctx_path);
}

static void test_failure_stops(void **state)
{
	struct fixture *f = *state;
	put_layer(f, "roles/web/setup.sh", 3);
	assert_int_equal(f->cfg.on_failure, BL_ON_FAILURE_STOP);  /* the default */
	assert_int_equal(run(f), -BL_ELAYER);
	expect_order(f, "base/setup.sh\nroles/web/setup.sh\n");
	assert_false(setup_done(f, "i-0test1"));

	json_t *rec = load_record(f, "setup");
	assert_string_equal(rec_str(rec, "state"), "failed");
	assert_string_equal(rec_str(rec, "error"), "a layer failed");
	assert_int_equal(record_layers(rec), 4);
	expect_layer(f, rec, 0, "base/setup.sh", "ok", 0);
	expect_layer(f, rec, 1, "roles/web/setup.sh", "failed", 3);
	expect_layer(f, rec, 2, "environments/prod/setup.sh", "not-run", -1);
	expect_layer(f, rec, 3, "user-data", "not-run", -1);
	const json_t *layers = json_object_get(rec, "layers");
	assert_string_equal(rec_str(json_array_get(layers, 1), "reason"), "exit status 3");
	assert_string_equal(rec_str(json_array_get(layers, 2), "reason"), "an earlier layer failed");
	assert_string_equal(rec_str(rec, "failure"), "roles/web/setup.sh: exit status 3");
	json_decref(rec);

	/* Not done, so the next run tries again (and, fixed, succeeds). */
	put_layer(f, "roles/web/setup.sh", 0);
	assert_int_equal(run(f), 0);
	expect_order(f, "base/setup.sh\nroles/web/setup.sh\n" ALL_FOUR);
	assert_true(setup_done(f, "i-0test1"));
}

static void test_failure_continues(void **state)
{
	struct fixture *f = *state;
	put_layer(f, "roles/web/setup.sh", 3);
	f->cfg.on_failure = BL_ON_FAILURE_CONTINUE;
	assert_int_equal(run(f), -BL_ELAYER);
	expect_order(f, ALL_FOUR);
	assert_false(setup_done(f, "i-0test1"));
	json_t *rec = load_record(f, "setup");
	assert_string_equal(rec_str(rec, "state"), "failed");
	expect_layer(f, rec, 0, "base/setup.sh", "ok", 0);
	expect_layer(f, rec, 1, "roles/web/setup.sh", "failed", 3);
	expect_layer(f, rec, 2, "environments/prod/setup.sh", "ok", 0);
	expect_layer(f, rec, 3, "user-data", "ok", 0);
	json_decref(rec);
}

static void test_once_per_instance_and_force(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR);
	char *rec_path = path_in(f->state_dir, "runs/setup.json");
	char *rec1 = tu_slurp(rec_path);
	assert_non_null(rec1);

	/* Second run: a no-op that succeeds, and leaves the record alone. */
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR);
	char *rec2 = tu_slurp(rec_path);
	assert_string_equal(rec2, rec1);
	free(rec2);

	/* --force runs it all again. */
	f->opts.force = true;
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR ALL_FOUR);
	f->opts.force = false;

	/* A new instance id (the image booted as a new instance) runs setup. */
	put_meta(f, "i-0test2", "  role: web\n  environment: prod\n");
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR ALL_FOUR ALL_FOUR);
	assert_true(setup_done(f, "i-0test1"));
	assert_true(setup_done(f, "i-0test2"));
	json_t *rec = load_record(f, "setup");
	assert_string_equal(rec_str(rec, "instance_id"), "i-0test2");
	json_decref(rec);
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR ALL_FOUR ALL_FOUR);

	/* Other events are not once-only. */
	char *ud = path_in(f->seed, "user-data");
	assert_int_equal(unlink(ud), 0);
	free(ud);
	put_layer(f, "base/configure.sh", 0);
	f->opts.event = "configure";
	assert_int_equal(run(f), 0);
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR ALL_FOUR ALL_FOUR "base/configure.sh\nbase/configure.sh\n");
	free(rec1);
	free(rec_path);
}

static void test_dry_run(void **state)
{
	struct fixture *f = *state;
	char *plan = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&plan, &len);
	assert_non_null(out);
	f->opts.dry_run = true;
	f->opts.plan_out = out;
	assert_int_equal(run(f), 0);
	assert_int_equal(fclose(out), 0);

	/* Nothing ran, nothing was written: not even the state dir. */
	expect_order(f, NULL);
	assert_int_equal(access(f->state_dir, F_OK), -1);

	static const char head[] = "plan for event setup (dry run: nothing is fetched or run)\n";
	assert_int_equal(strncmp(plan, head, sizeof(head) - 1), 0);
	assert_non_null(strstr(plan, "i-0test1 (datasource nocloud)"));
	/* The three layer URLs, in run order, then the user data script. */
	const char *at = plan;
	static const char *const names[] = {
		"base/setup.sh", "roles/web/setup.sh", "environments/prod/setup.sh",
	};
	for (size_t i = 0; i < 3; i++) {
		char *url = NULL;
		assert_true(asprintf(&url, "%s%s", f->source, names[i]) > 0);
		const char *hit = strstr(at, url);
		if (!hit)
			fail_msg("plan lacks %s after offset %td:\n%s", url, at - plan, plan);
		at = hit + strlen(url);
		free(url);
	}
	assert_non_null(strstr(at, "user-data"));
	assert_non_null(strstr(at, "user data script"));
	free(plan);
}

static void test_skips_missing_optional_layers(void **state)
{
	struct fixture *f = *state;
	/* The role layer's object is absent; the environment tag is absent. */
	remove_layer(f, "roles/web/setup.sh");
	put_meta(f, "i-0test1", "  role: web\n");
	assert_int_equal(run(f), 0);
	expect_order(f, "base/setup.sh\nuser-data\n");
	json_t *rec = load_record(f, "setup");
	assert_string_equal(rec_str(rec, "state"), "succeeded");
	assert_int_equal(record_layers(rec), 4);
	expect_layer(f, rec, 0, "base/setup.sh", "ok", 0);
	expect_layer(f, rec, 1, "roles/web/setup.sh", "skipped", -1);
	const json_t *layers = json_object_get(rec, "layers");
	assert_string_equal(rec_str(json_array_get(layers, 1), "reason"), "no such object");
	const json_t *env = json_array_get(layers, 2);
	assert_string_equal(rec_str(env, "name"), "environments/{environment}/{event}.sh");
	assert_string_equal(rec_str(env, "status"), "skipped");
	assert_string_equal(rec_str(env, "reason"), "no tag \"environment\"");
	expect_layer(f, rec, 3, "user-data", "ok", 0);
	json_decref(rec);
}

static void test_missing_required_layer_runs_nothing(void **state)
{
	struct fixture *f = *state;
	struct bl_agent_hooks hooks = {0};
	f->opts.hooks = &hooks;
	remove_layer(f, "base/setup.sh");
	assert_int_equal(run(f), -BL_ELAYER);
	expect_order(f, NULL);
	assert_false(setup_done(f, "i-0test1"));
	json_t *rec = load_record(f, "setup");
	assert_string_equal(rec_str(rec, "state"), "failed");
	const json_t *base = json_array_get(json_object_get(rec, "layers"), 0);
	assert_string_equal(rec_str(base, "status"), "failed");
	char *want = NULL;
	assert_true(asprintf(&want, "required layer not found at %sbase/setup.sh", f->source) > 0);
	assert_string_equal(rec_str(base, "reason"), want);
	/* What failed, in the record and for the daemon's STATUS=. */
	char *failure = NULL;
	assert_true(asprintf(&failure, "base/setup.sh: %s", want) > 0);
	assert_string_equal(rec_str(rec, "failure"), failure);
	assert_string_equal(hooks.failure, failure);
	free(failure);
	free(want);
	json_decref(rec);
}

static void test_no_user_data(void **state)
{
	struct fixture *f = *state;
	char *ud = path_in(f->seed, "user-data");
	assert_int_equal(unlink(ud), 0);
	free(ud);
	assert_int_equal(run(f), 0);
	expect_order(f, "base/setup.sh\nroles/web/setup.sh\nenvironments/prod/setup.sh\n");
	char *kept = path_in(f->state_dir, "user-data");
	assert_int_equal(access(kept, F_OK), -1);
	free(kept);
	json_t *rec = load_record(f, "setup");
	assert_int_equal(record_layers(rec), 3);
	json_decref(rec);
}

static void test_locked(void **state)
{
	struct fixture *f = *state;
	struct bl_state holder;
	assert_int_equal(bl_state_open(&holder, f->state_dir, true), 0);
	assert_int_equal(bl_state_lock(&holder), 0);
	assert_int_equal(run(f), -BL_ELOCKED);
	expect_order(f, NULL);
	bl_state_close(&holder);
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR);
}

/* --wait (and the daemon): the run waits for the holder to let go; a stop
 * request ends the wait instead. */
static void test_wait_for_lock(void **state)
{
	struct fixture *f = *state;
	pid_t pid = tu_lock_holder(f->state_dir, true, 500);
	f->opts.wait_lock = true;
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR);
	tu_reap(pid);

	struct bl_state holder;
	assert_int_equal(bl_state_open(&holder, f->state_dir, true), 0);
	assert_int_equal(bl_state_lock(&holder), 0);
	volatile sig_atomic_t stop = 1;
	struct bl_agent_hooks hooks = { .stop = &stop };
	f->opts.hooks = &hooks;
	f->opts.event = "deploy";
	assert_int_equal(run(f), -BL_ELOCKED);
	bl_state_close(&holder);
}

static void test_state_dir_option_and_no_datasource(void **state)
{
	struct fixture *f = *state;
	/* opts.state_dir wins over cfg->state_dir. */
	char *other = path_in(f->tmp, "other-state");
	f->opts.state_dir = other;
	assert_int_equal(run(f), 0);
	assert_int_equal(access(f->state_dir, F_OK), -1);
	char *rec = path_in(other, "runs/setup.json");
	assert_int_equal(access(rec, F_OK), 0);
	free(rec);
	f->opts.state_dir = NULL;
	free(other);

	/* No seed: a datasource error before anything runs or is recorded
	 * (the state dir holds the lock taken first, nothing else). */
	char *meta = path_in(f->seed, "meta-data");
	assert_int_equal(unlink(meta), 0);
	free(meta);
	assert_int_equal(run(f), -BL_EDATASOURCE);
	char *runs = path_in(f->state_dir, "runs");
	assert_int_equal(access(runs, F_OK), -1);
	free(runs);
	expect_order(f, ALL_FOUR);
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_number(v))
		fail_msg("no number \"%s\"", key);
	return json_number_value(v);
}

static void test_current_json_and_timings(void **state)
{
	struct fixture *f = *state;
	/* The role layer keeps a copy of current.json, and its mode, as they
	 * are while it runs. */
	char *copy = path_in(f->tmp, "current-copy.json");
	char *text = NULL;
	assert_true(asprintf(&text, "#!/bin/sh\ncp \"$BOOTLACE_STATE_DIR/current.json\" '%s'\n"
			     "stat -c %%a \"$BOOTLACE_STATE_DIR/current.json\" > '%s.mode'\n",
			     copy, copy) > 0);
	free(tu_write(f->layers, "roles/web/setup.sh", text, 0644));
	free(text);
	assert_int_equal(run(f), 0);

	json_error_t err;
	json_t *cur = json_load_file(copy, 0, &err);
	if (!cur)
		fail_msg("%s: %s", copy, err.text);
	assert_string_equal(rec_str(cur, "event"), "setup");
	assert_string_equal(rec_str(cur, "instance_id"), "i-0test1");
	assert_string_equal(rec_str(cur, "layer"), "roles/web/setup.sh");
	assert_int_equal(json_integer_value(json_object_get(cur, "layer_index")), 2);
	assert_int_equal(json_integer_value(json_object_get(cur, "layers")), 4);
	assert_int_equal(json_integer_value(json_object_get(cur, "pid")), getpid());
	assert_non_null(rec_str(cur, "started_at"));
	assert_true(json_integer_value(json_object_get(cur, "started_epoch")) > 0);
	json_decref(cur);
	char *mode_path = NULL;
	assert_true(asprintf(&mode_path, "%s.mode", copy) > 0);
	char *mode = tu_slurp(mode_path);
	assert_non_null(mode);
	assert_string_equal(mode, "600\n");
	free(mode);
	free(mode_path);
	free(copy);
	/* Gone once the run is over. */
	char *current = path_in(f->state_dir, "current.json");
	assert_int_equal(access(current, F_OK), -1);
	free(current);

	json_t *rec = load_record(f, "setup");
	const json_t *t = json_object_get(rec, "timings");
	assert_true(json_is_object(t));
	double total = num(t, "total"), sum = 0;
	static const char *const phases[] = { "datasource", "lock", "plan", "fetch", "write" };
	for (size_t i = 0; i < 5; i++) {
		assert_true(num(t, phases[i]) >= 0);
		sum += num(t, phases[i]);
	}
	const json_t *layers = json_object_get(rec, "layers");
	for (size_t i = 0; i < json_array_size(layers); i++)
		sum += num(json_array_get(layers, i), "duration");
	assert_true(total >= sum);
	assert_true(total < 30);
	/* Each fetched object, none for user data (nothing to fetch). */
	const json_t *objects = json_object_get(t, "objects");
	assert_int_equal(json_array_size(objects), 3);
	static const char *const names[] = {
		"base/setup.sh", "roles/web/setup.sh", "environments/prod/setup.sh",
	};
	for (size_t i = 0; i < 3; i++) {
		const json_t *o = json_array_get(objects, i);
		assert_string_equal(rec_str(o, "layer"), names[i]);
		assert_string_equal(rec_str(o, "result"), "downloaded");
		char *path = path_in(f->layers, names[i]);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(json_integer_value(json_object_get(o, "bytes")), st.st_size);
		free(path);
	}
	json_decref(rec);
}

static void test_interrupted_run_is_cleared(void **state)
{
	struct fixture *f = *state;
	/* What a killed run left: its current.json. */
	struct bl_state st;
	assert_int_equal(bl_state_open(&st, f->state_dir, true), 0);
	pid_t gone = fork();
	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	json_t *cur = json_pack("{s:s, s:s, s:i, s:s, s:s, s:i, s:i}", "event", "setup",
				"instance_id", "i-0test1", "pid", (int)gone,
				"started_at", "2026-05-01T10:00:00Z", "layer", "base/setup.sh",
				"layer_index", 1, "layers", 4);
	assert_int_equal(bl_state_save_current(&st, cur), 0);
	json_decref(cur);
	bl_state_close(&st);

	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR);
	char *current = path_in(f->state_dir, "current.json");
	assert_int_equal(access(current, F_OK), -1);
	free(current);
}

/* Native journal entries of a run, each as its fields joined by newlines. */
#define ENTRIES_MAX 64
static char entries[ENTRIES_MAX][1024];
static int n_entries;

static int capture_entry(const struct iovec *iov, int n)
{
	if (n_entries == ENTRIES_MAX)
		return 0;
	char *e = entries[n_entries++];
	size_t used = 0;
	for (int i = 0; i < n && used + iov[i].iov_len + 2 < sizeof(entries[0]); i++) {
		memcpy(e + used, iov[i].iov_base, iov[i].iov_len);
		used += iov[i].iov_len;
		e[used++] = '\n';
	}
	e[used] = '\0';
	return 0;
}

/* The entry that has every one of the fields given (NULL-terminated). */
static const char *find_entry(const char *field, ...)
{
	for (int i = 0; i < n_entries; i++) {
		bool all = true;
		va_list ap;
		va_start(ap, field);
		for (const char *f = field; f && all; f = va_arg(ap, const char *)) {
			char line[256];
			snprintf(line, sizeof(line), "%s\n", f);
			all = strstr(entries[i], line) != NULL;
		}
		va_end(ap);
		if (all)
			return entries[i];
	}
	return NULL;
}

static void test_journal_milestones(void **state)
{
	struct fixture *f = *state;
	put_layer(f, "roles/web/setup.sh", 3);
	/* Under the journal: stderr is a file named by JOURNAL_STREAM. */
	char *err_path = path_in(f->tmp, "stderr");
	int saved = tu_stderr_to(err_path);
	tu_stderr_is_journal();
	bl_log_init(BL_LOG_INFO);
	n_entries = 0;
	bl_log_set_journal_sink(capture_entry);
	int r = run(f);
	bl_log_set_journal_sink(NULL);
	unsetenv("JOURNAL_STREAM");
	char *console = tu_stderr_back(&saved, err_path);
	bl_log_init(BL_LOG_INFO);
	assert_int_equal(r, -BL_ELAYER);

	assert_non_null(find_entry("MESSAGE_ID=" BL_MESSAGE_RUN_START, "BOOTLACE_EVENT=setup",
				   "SYSLOG_IDENTIFIER=bootlace", NULL));
	assert_non_null(find_entry("MESSAGE_ID=" BL_MESSAGE_LAYER_FAILED,
				   "BOOTLACE_LAYER=roles/web/setup.sh", "BOOTLACE_EXIT_STATUS=3",
				   "PRIORITY=3", "BOOTLACE_EVENT=setup",
				   "MESSAGE=layer roles/web/setup.sh failed: exit status 3", NULL));
	assert_non_null(find_entry("MESSAGE_ID=" BL_MESSAGE_RUN_END, "BOOTLACE_EXIT_STATUS=1",
				   "BOOTLACE_EVENT=setup", NULL));
	/* Script output: the layer as identifier, in this run. */
	assert_non_null(find_entry("MESSAGE=hello from base/setup.sh",
				   "SYSLOG_IDENTIFIER=base/setup.sh", "BOOTLACE_EVENT=setup", NULL));
	/* A first boot: bootlace's own lines reach the console, priority first. */
	if (!strstr(console, "<6>setup on instance i-0test1 (datasource nocloud") ||
	    !strstr(console, "<6>layer 1/4: base/setup.sh\n") ||
	    !strstr(console, "<3>layer roles/web/setup.sh failed: exit status 3\n") ||
	    !strstr(console, "<3>setup failed on i-0test1 after ") || strstr(console, "hello from"))
		fail_msg("console:\n%s", console);
	free(console);
	free(err_path);
}

/* A kept record (the daemon's): the first run fills it, the next refresh
 * it from the datasource (a retag shows), and a user-data script still
 * runs last in setup, from the kept user data. */
static void test_kept_instance(void **state)
{
	struct fixture *f = *state;
	struct bl_instance keep = {0};
	f->opts.keep = &keep;
	assert_int_equal(run(f), 0);
	expect_order(f, ALL_FOUR);
	assert_non_null(keep.instance_id);
	assert_string_equal(keep.instance_id, "i-0test1");
	assert_string_equal(bl_instance_tag(&keep, "role"), "web");

	put_meta(f, "i-0test1", "  role: app\n  environment: prod\n");
	put_layer(f, "base/deploy.sh", 0);
	put_layer(f, "roles/app/deploy.sh", 0);
	assert_int_equal(unlink(f->order), 0);
	f->opts.event = "deploy";
	assert_int_equal(run(f), 0);
	expect_order(f, "base/deploy.sh\nroles/app/deploy.sh\n");
	assert_string_equal(bl_instance_tag(&keep, "role"), "app");

	put_layer(f, "roles/app/setup.sh", 0);
	assert_int_equal(unlink(f->order), 0);
	f->opts.event = "setup";
	f->opts.force = true;
	assert_int_equal(run(f), 0);
	expect_order(f, "base/setup.sh\nroles/app/setup.sh\nenvironments/prod/setup.sh\nuser-data\n");
	bl_instance_free(&keep);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_runs_layers_in_order),
		T(test_script_environment),
		T(test_failure_stops),
		T(test_failure_continues),
		T(test_once_per_instance_and_force),
		T(test_dry_run),
		T(test_skips_missing_optional_layers),
		T(test_missing_required_layer_runs_nothing),
		T(test_no_user_data),
		T(test_locked),
		T(test_wait_for_lock),
		T(test_state_dir_option_and_no_datasource),
		T(test_current_json_and_timings),
		T(test_interrupted_run_is_cleared),
		T(test_journal_milestones),
		T(test_kept_instance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
