/* test-status.c - status.c on hand-made state dirs: each event's state
 * (not started, running with its layer, done, failed with why, interrupted),
 * the instance a run in progress names, `status --wait` (done, failed,
 * timeout, nothing running, a run that finishes while it waits) and
 * `analyze` (longest first, totals, the fetch's objects, JSON). */
#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>

#include <jansson.h>

#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/state.h"
#include "bootlace/status.h"
#include "bootlace/util.h"

#define TEST_ALARM_SECS 60

struct fixture {
	char *tmp;
	char *dir;            /* the state dir */
	struct bl_state st;
	struct bl_state holder;  /* holds the lock when a test says so */
	pid_t child;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->tmp = tu_mkdtemp();
	assert_non_null(f->tmp);
	assert_true(asprintf(&f->dir, "%s/state", f->tmp) > 0);
	assert_int_equal(bl_state_open(&f->st, f->dir, true), 0);
	f->holder = (struct bl_state){ .lock_fd = -1 };
	bl_log_set_level(BL_LOG_ERR);
	alarm(TEST_ALARM_SECS);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	alarm(0);
	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	bl_state_close(&f->holder);
	bl_state_close(&f->st);
	free(f->dir);
	tu_rmtree(f->tmp);
	free(f);
	bl_log_set_level(BL_LOG_INFO);
	return 0;
}

static void hold_lock(struct fixture *f)
{
	assert_int_equal(bl_state_open(&f->holder, f->dir, false), 0);
	assert_int_equal(bl_state_lock(&f->holder), 0);
}

/* A run record with two layers; with a failure, the second failed. */
static void put_record(struct fixture *f, const char *event, const char *instance_id,
		       const char *state, const char *failure, json_t *timings)
{
	/* Runs of other events come after setup, as they do. */
	const char *started_at = strcmp(event, "setup") == 0 ? "2026-05-01T10:00:00Z"
							     : "2026-05-01T12:00:00Z";
	json_t *layers = json_pack("[{s:s, s:s, s:i, s:f}, {s:s, s:s, s:i, s:f}]",
				   "name", "base/setup.sh", "status", "ok", "exit_code", 0,
				   "duration", 0.25,
				   "name", "roles/web/setup.sh",
				   "status", failure ? "failed" : "ok", "exit_code", failure ? 3 : 0,
				   "duration", 1.5);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:f, s:s, s:o, s:o*}", "event", event,
				"instance_id", instance_id, "started_at", started_at,
				"finished_at", "2026-05-01T10:00:02Z", "duration", 1.75,
				"state", state, "layers", layers, "timings", timings);
	assert_non_null(rec);
	if (failure)
		json_object_set_new(rec, "failure", json_string(failure));
	assert_int_equal(bl_state_save_run(&f->st, event, rec), 0);
	json_decref(rec);
}

static void remove_record(struct fixture *f, const char *event)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s/runs/%s.json", f->dir, event) > 0);
	assert_int_equal(unlink(path), 0);
	free(path);
}

static void put_current(struct fixture *f, const char *event, const char *instance_id,
			pid_t pid, const char *layer)
{
	json_t *cur = json_pack("{s:s, s:s, s:i, s:s, s:I, s:s?, s:i, s:i}", "event", event,
				"instance_id", instance_id, "pid", (int)pid,
				"started_at", "2026-05-01T11:00:00Z",
				"started_epoch", (json_int_t)time(NULL), "layer", layer,
				"layer_index", layer ? 2 : 0, "layers", 3);
	assert_non_null(cur);
	assert_int_equal(bl_state_save_current(&f->st, cur), 0);
	json_decref(cur);
}

/* A pid that is certainly not running: a child that has exited. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* What a call printed; *r its result. */
static char *status_text(struct fixture *f, bool json, int *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	*r = bl_status_print(f->dir, json, out);
	assert_int_equal(fclose(out), 0);
	return text;
}

static void expect_has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("no \"%s\" in:\n%s", want, text);
}

static json_t *status_json(struct fixture *f, int *r)
{
	char *text = status_text(f, true, r);
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);
	if (!doc)
		fail_msg("not JSON: %s\n%s", err.text, text);
	free(text);
	return doc;
}

static const char *event_state(const json_t *doc, const char *event)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(doc, "events"),
								 event), "state"));
}

static void test_nothing_yet(void **state)
{
	struct fixture *f = *state;
	int r;
	char *text = status_text(f, false, &r);
	assert_int_equal(r, 0);
	expect_has(text, "no run recorded in");
	free(text);
	json_t *doc = status_json(f, &r);
	assert_string_equal(json_string_value(json_object_get(doc, "state")), "never-run");
	assert_string_equal(event_state(doc, "setup"), "not-started");
	assert_string_equal(event_state(doc, "shutdown"), "not-started");
	json_decref(doc);
}

static void test_done_and_failed(void **state)
{
	struct fixture *f = *state;
	int r;
	put_record(f, "setup", "i-1", "succeeded", NULL, NULL);
	put_record(f, "configure", "i-1", "failed", "roles/web/setup.sh: exit status 3", NULL);
	char *text = status_text(f, false, &r);
	assert_int_equal(r, -BL_ELAYER);
	expect_has(text, "setup: done on i-1 at 2026-05-01T10:00:02Z (1.750s)\n");
	expect_has(text, "configure: failed on i-1 at 2026-05-01T10:00:02Z (1.750s): "
			 "roles/web/setup.sh: exit status 3\n");
	expect_has(text, "deploy: not started\n");
	expect_has(text, "overall: failed\n");
	free(text);
	json_t *doc = status_json(f, &r);
	assert_string_equal(event_state(doc, "setup"), "done");
	assert_string_equal(event_state(doc, "configure"), "failed");
	json_t *last = json_object_get(json_object_get(json_object_get(doc, "events"), "configure"),
				       "last_run");
	assert_string_equal(json_string_value(json_object_get(last, "failure")),
			    "roles/web/setup.sh: exit status 3");
	/* The records themselves, as before. */
	assert_non_null(json_object_get(json_object_get(doc, "runs"), "setup"));
	json_decref(doc);
}

static void test_running_and_interrupted(void **state)
{
	struct fixture *f = *state;
	int r;
	put_record(f, "setup", "i-1", "failed", "roles/web/setup.sh: exit status 3", NULL);
	/* Our pid and the lock held: a live run, retrying setup. */
	hold_lock(f);
	put_current(f, "setup", "i-1", getpid(), "roles/web/setup.sh");
	char *text = status_text(f, false, &r);
	assert_int_equal(r, 0);
	expect_has(text, "setup: running on i-1 since 2026-05-01T11:00:00Z (");
	expect_has(text, "): layer 2/3 roles/web/setup.sh\n  previous run: failed at");
	expect_has(text, "overall: running\n");
	free(text);
	json_t *doc = status_json(f, &r);
	assert_string_equal(event_state(doc, "setup"), "running");
	json_t *run = json_object_get(json_object_get(json_object_get(doc, "events"), "setup"), "run");
	assert_string_equal(json_string_value(json_object_get(run, "layer")), "roles/web/setup.sh");
	assert_true(json_is_number(json_object_get(run, "elapsed")));
	json_decref(doc);

	/* Fetching: no layer yet. */
	put_current(f, "setup", "i-1", getpid(), NULL);
	text = status_text(f, false, &r);
	expect_has(text, "): fetching the layers\n");
	free(text);

	/* The lock free: whatever the pid, that run is gone. */
	put_current(f, "setup", "i-1", getpid(), "roles/web/setup.sh");
	bl_state_close(&f->holder);
	text = status_text(f, false, &r);
	assert_int_equal(r, -BL_ELAYER);
	expect_has(text, "setup: interrupted on i-1: the run started at 2026-05-01T11:00:00Z "
			 "(pid ");
	expect_has(text, ") ended during layer 2/3 roles/web/setup.sh\n");
	free(text);

	/* The lock held by another, the pid dead: gone too. */
	hold_lock(f);
	put_current(f, "setup", "i-1", dead_pid(), NULL);
	text = status_text(f, false, &r);
	assert_int_equal(r, -BL_ELAYER);
	expect_has(text, "ended while fetching the layers\n");
	free(text);
}

static void test_instance_of_the_run_in_progress(void **state)
{
	struct fixture *f = *state;
	int r;
	/* Setup's record is an earlier instance's (the image was made after
	 * it); configure runs for this one, whose own setup completed. */
	put_record(f, "setup", "i-old", "succeeded", NULL, NULL);
	hold_lock(f);
	put_current(f, "configure", "i-new", getpid(), "base/configure.sh");
	assert_int_equal(bl_state_mark_event_done(&f->st, "i-new", "setup", 1777629600), 0);
	json_t *doc = status_json(f, &r);
	assert_string_equal(event_state(doc, "setup"), "done");
	assert_string_equal(event_state(doc, "configure"), "running");
	json_t *setup = json_object_get(json_object_get(doc, "events"), "setup");
	assert_string_equal(json_string_value(json_object_get(setup, "instance_id")), "i-new");
	assert_string_equal(json_string_value(json_object_get(setup, "completed_at")),
			    "2026-05-01T10:00:00Z");
	json_decref(doc);
	char *text = status_text(f, false, &r);
	expect_has(text, "setup: done on i-new at 2026-05-01T10:00:00Z (no run record for this "
			 "instance)\n");
	free(text);

	/* Without its events, this instance's setup has not happened. */
	put_current(f, "configure", "i-other", getpid(), "base/configure.sh");
	doc = status_json(f, &r);
	assert_string_equal(event_state(doc, "setup"), "not-started");
	json_decref(doc);
}

/* bl_status_wait's result, how long it took, and what it printed. */
static int wait_for(struct fixture *f, double timeout, double grace, double *took, char **text)
{
	size_t len = 0;
	FILE *out = open_memstream(text, &len);
	assert_non_null(out);
	double t0 = bl_now_monotonic();
	int r = bl_status_wait(f->dir, false, timeout, grace, out);
	*took = bl_now_monotonic() - t0;
	assert_int_equal(fclose(out), 0);
	return r;
}

static void test_wait_outcomes(void **state)
{
	struct fixture *f = *state;
	double took;
	char *text;

	/* Nothing ran and nothing runs: gives up after the grace. */
	assert_int_equal(wait_for(f, 30, 0.3, &took, &text), -BL_ETIMEOUT);
	assert_true(took >= 0.3 && took < 5);
	free(text);

	/* Done: at once, with the status. */
	put_record(f, "setup", "i-1", "succeeded", NULL, NULL);
	assert_int_equal(wait_for(f, 30, 10, &took, &text), 0);
	assert_true(took < 1);
	expect_has(text, "setup: done on i-1");
	free(text);

	/* Failed: at once. */
	put_record(f, "setup", "i-1", "failed", "roles/web/setup.sh: exit status 3", NULL);
	assert_int_equal(wait_for(f, 30, 10, &took, &text), -BL_ELAYER);
	assert_true(took < 1);
	expect_has(text, "setup: failed on i-1");
	free(text);

	/* Running: the timeout, not the grace, ends the wait. */
	hold_lock(f);
	put_current(f, "setup", "i-1", getpid(), "base/setup.sh");
	assert_int_equal(wait_for(f, 0.6, 0.1, &took, &text), -BL_ETIMEOUT);
	assert_true(took >= 0.6 && took < 5);
	expect_has(text, "setup: running on i-1");
	free(text);

	/* The lock held with no run in progress yet: busy, so no grace either. */
	bl_state_clear_current(&f->st);
	remove_record(f, "setup");
	assert_int_equal(wait_for(f, 0.6, 0.1, &took, &text), -BL_ETIMEOUT);
	assert_true(took >= 0.6);
	free(text);

	/* A killed setup that nothing picks up: failed, after the grace. */
	bl_state_close(&f->holder);
	put_current(f, "setup", "i-1", dead_pid(), "base/setup.sh");
	assert_int_equal(wait_for(f, 30, 0.3, &took, &text), -BL_ELAYER);
	assert_true(took >= 0.3 && took < 5);
	expect_has(text, "setup: interrupted on i-1");
	free(text);

	/* timeout 0: one look. */
	assert_int_equal(wait_for(f, 0, 10, &took, &text), -BL_ETIMEOUT);
	assert_true(took < 1);
	free(text);
}

/* A child that runs "setup" for `secs`: lock, current.json, then the
 * record, as the agent does. */
static pid_t fake_run(struct fixture *f, double secs, bool ok)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	struct bl_state st;
	if (bl_state_open(&st, f->dir, false) < 0 || bl_state_lock(&st) < 0)
		_exit(1);
	put_current(f, "setup", "i-1", getpid(), "base/setup.sh");
	bl_sleep(secs);
	put_record(f, "setup", "i-1", ok ? "succeeded" : "failed",
		   ok ? NULL : "base/setup.sh: exit status 1", NULL);
	bl_state_clear_current(&st);
	_exit(0);
}

static void test_wait_for_a_run_to_finish(void **state)
{
	struct fixture *f = *state;
	double took;
	char *text;
	f->child = fake_run(f, 1.0, true);
	assert_int_equal(wait_for(f, 30, 0.5, &took, &text), 0);
	assert_true(took >= 0.8 && took < 10);
	expect_has(text, "setup: done on i-1");
	free(text);
	int status;
	assert_int_equal(waitpid(f->child, &status, 0), f->child);
	f->child = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* And one that fails. */
	remove_record(f, "setup");
	f->child = fake_run(f, 0.5, false);
	assert_int_equal(wait_for(f, 30, 0.3, &took, &text), -BL_ELAYER);
	expect_has(text, "setup: failed on i-1");
	free(text);
}

static json_t *timings(void)
{
	json_t *t = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:[{s:s, s:s, s:i}, {s:s, s:s, s:i}]}",
			      "total", 2.5, "datasource", 0.5, "lock", 0.0, "plan", 0.01,
			      "fetch", 0.125, "write", 0.02, "objects",
			      "layer", "base/setup.sh", "result", "downloaded", "bytes", 412,
			      "layer", "roles/web/setup.sh", "result", "unchanged", "bytes", 0);
	assert_non_null(t);
	return t;
}

static void test_analyze(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t len = 0;
	put_record(f, "setup", "i-1", "succeeded", NULL, timings());
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(bl_analyze_print(f->dir, false, out), 0);
	assert_int_equal(fclose(out), 0);
	/* Longest first; what the phases do not cover is said, then the total:
	 * 2.5 - (1.5 + 0.5 + 0.25 + 0.125 + 0.02 + 0.01 + 0) = 0.095. */
	const char *want =
		"setup on i-1 at 2026-05-01T10:00:00Z: succeeded, 2.500s\n"
		"      1.500s  60.0%  layer roles/web/setup.sh\n"
		"      0.500s  20.0%  datasource\n"
		"      0.250s  10.0%  layer base/setup.sh\n"
		"      0.125s   5.0%  fetch: 2 objects, 412 bytes downloaded, 1 unchanged (304)\n";
	if (strncmp(text, want, strlen(want)) != 0)
		fail_msg("analyze printed:\n%s", text);
	expect_has(text, "base/setup.sh                          downloaded, 412 bytes\n");
	expect_has(text, "roles/web/setup.sh                     unchanged\n");
	expect_has(text, "      0.095s   3.8%  unaccounted (between the phases above)\n"
			 "      2.500s          total\n");
	free(text);

	/* --json: the same numbers, sorted the same way. */
	text = NULL;
	out = open_memstream(&text, &len);
	assert_int_equal(bl_analyze_print(f->dir, true, out), 0);
	assert_int_equal(fclose(out), 0);
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
	assert_true(json_number_value(json_object_get(run, "total")) == 2.5);
	json_t *items = json_object_get(run, "items");
	assert_int_equal(json_array_size(items), 7);
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "what")),
			    "layer roles/web/setup.sh");
	for (size_t i = 1; i < json_array_size(items); i++)
		assert_true(json_number_value(json_object_get(json_array_get(items, i - 1), "duration")) >=
			    json_number_value(json_object_get(json_array_get(items, i), "duration")));
	double unaccounted = json_number_value(json_object_get(run, "unaccounted"));
	assert_true(unaccounted > 0.0949 && unaccounted < 0.0951);
	json_decref(doc);
	free(text);

	/* A record without timings (an older bootlace): the layers, and says so. */
	put_record(f, "deploy", "i-1", "succeeded", NULL, NULL);
	text = NULL;
	out = open_memstream(&text, &len);
	assert_int_equal(bl_analyze_print(f->dir, false, out), 0);
	assert_int_equal(fclose(out), 0);
	expect_has(text, "\ndeploy on i-1 at 2026-05-01T12:00:00Z: succeeded, 1.750s\n"
			 "      1.500s  85.7%  layer roles/web/setup.sh\n"
			 "      0.250s  14.3%  layer base/setup.sh\n"
			 "  (no phase timings: this run was recorded by an older bootlace)\n");
	free(text);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_nothing_yet),
		T(test_done_and_failed),
		T(test_running_and_interrupted),
		T(test_instance_of_the_run_in_progress),
		T(test_wait_outcomes),
		T(test_wait_for_a_run_to_finish),
		T(test_analyze),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
