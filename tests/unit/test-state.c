/* test-state.c - the state directory (src/state.c): creation and refusal, atomic writes, per-instance event records, run records and the lock. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>

#include <jansson.h>

#include "bootlace/error.h"
#include "bootlace/state.h"

static char *path_in(const char *dir, const char *rel)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
	return p;
}

static unsigned mode_of(const char *path)
{
	struct stat s;
	assert_int_equal(lstat(path, &s), 0);
	return (unsigned)(s.st_mode & 07777);
}

/* Names in dir, sorted, joined with ","; "" when empty. */
static char *list_dir(const char *dir)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	assert_true(n >= 0);
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	assert_non_null(m);
	bool first = true;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			fprintf(m, "%s%s", first ? "" : ",", name);
			first = false;
		}
		free(names[i]);
	}
	free(names);
	fclose(m);
	return out;
}

/* A temp dir with a state dir "state" opened (created) in it. */
struct fixture {
	char *tmp;
	char *dir;
	struct bl_state st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->tmp = tu_mkdtemp();
	assert_non_null(f->tmp);
	f->dir = path_in(f->tmp, "state");
	assert_int_equal(bl_state_open(&f->st, f->dir, true), 0);
	alarm(60);  /* a lock that blocks fails the test instead of hanging */
	*state = f;
	return 0;
}

/* Only the temp dir: for tests that open state dirs themselves. */
static int setup_tmp(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->tmp = tu_mkdtemp();
	assert_non_null(f->tmp);
	f->st = (struct bl_state){ .lock_fd = -1 };
	alarm(60);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	alarm(0);
	bl_state_close(&f->st);
	free(f->dir);
	tu_rmtree(f->tmp);
	free(f);
	return 0;
}

static void test_open_creates_0700(void **state)
{
	struct fixture *f = *state;
	const char *tmp = f->tmp;
	mode_t old = umask(0);  /* the 0700 must not depend on the umask */
	char *dir = path_in(tmp, "var/lib/bootlace");
	struct bl_state st;
	assert_int_equal(bl_state_open(&st, dir, true), 0);
	umask(old);
	assert_string_equal(st.dir, dir);
	assert_int_equal(st.lock_fd, -1);
	assert_int_equal(mode_of(dir), 0700);
	/* Missing parents are created 0700 as well. */
	char *parent = path_in(tmp, "var/lib");
	assert_int_equal(mode_of(parent), 0700);
	char *top = path_in(tmp, "var");
	assert_int_equal(mode_of(top), 0700);
	bl_state_close(&st);
	assert_null(st.dir);
	assert_int_equal(st.lock_fd, -1);

	/* Opening an existing good directory again works. */
	assert_int_equal(bl_state_open(&st, dir, false), 0);
	bl_state_close(&st);
	free(top);
	free(parent);
	free(dir);
}

static void test_open_missing_and_relative(void **state)
{
	struct fixture *f = *state;
	const char *tmp = f->tmp;
	char *dir = path_in(tmp, "absent");
	struct bl_state st;
	assert_int_equal(bl_state_open(&st, dir, false), -BL_ENOTFOUND);
	assert_null(st.dir);
	assert_int_equal(access(dir, F_OK), -1);  /* create=false creates nothing */
	assert_int_equal(bl_state_open(&st, "relative/state", true), -BL_ECONFIG);
	assert_null(st.dir);
	assert_int_equal(access("relative", F_OK), -1);
	free(dir);
}

static void test_open_refuses_writable_by_others(void **state)
{
	struct fixture *f = *state;
	const char *tmp = f->tmp;
	char *dir = path_in(tmp, "state");
	assert_int_equal(mkdir(dir, 0700), 0);
	struct bl_state st;
	static const mode_t bad[] = { 0770, 0720, 0702, 0777, 01777 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(dir, bad[i]), 0);
		assert_int_equal(bl_state_open(&st, dir, false), -BL_EPERM);
		assert_null(st.dir);
		/* create=true does not "repair" it either. */
		assert_int_equal(bl_state_open(&st, dir, true), -BL_EPERM);
		assert_int_equal(mode_of(dir), (unsigned)bad[i]);
	}
	/* Readable by others is not writable by others: accepted. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(bl_state_open(&st, dir, false), 0);
	bl_state_close(&st);
	free(dir);
}

static void test_open_refuses_foreign_owner(void **state)
{
	struct fixture *f = *state;
	if (geteuid() != 0)
		skip();  /* only root can give a directory away */
	char *dir = path_in(f->tmp, "state");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	struct bl_state st;
	assert_int_equal(bl_state_open(&st, dir, false), -BL_EPERM);
	assert_null(st.dir);
	assert_int_equal(bl_state_open(&st, dir, true), -BL_EPERM);
	free(dir);
}

static void test_open_refuses_symlink(void **state)
{
	struct fixture *f = *state;
	const char *tmp = f->tmp;
	char *real = path_in(tmp, "real");
	char *link = path_in(tmp, "link");
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(symlink(real, link), 0);
	struct bl_state st;
	assert_int_equal(bl_state_open(&st, link, false), -BL_EPERM);
	assert_null(st.dir);
	assert_int_equal(bl_state_open(&st, link, true), -BL_EPERM);
	assert_null(st.dir);
	/* A dangling symlink is not replaced by a directory. */
	char *dangling = path_in(tmp, "dangling");
	char *target = path_in(tmp, "nowhere");
	assert_int_equal(symlink(target, dangling), 0);
	assert_int_equal(bl_state_open(&st, dangling, true), -BL_EPERM);
	assert_int_equal(access(target, F_OK), -1);
	free(target);
	free(dangling);
	free(link);
	free(real);
}

static void test_path(void **state)
{
	struct fixture *f = *state;
	char *p = bl_state_path(&f->st, "runs/setup.json");
	char *want = path_in(f->dir, "runs/setup.json");
	assert_string_equal(p, want);
	free(want);
	free(p);
}

static void test_write_atomic(void **state)
{
	struct fixture *f = *state;
	static const char first[] = "the first, longer content\n";
	static const char second[] = "short";
	assert_int_equal(bl_state_write(&f->st, "a/b/file", first, sizeof(first) - 1, 0640), 0);
	char *path = path_in(f->dir, "a/b/file");
	char *text = tu_slurp(path);
	assert_string_equal(text, first);
	free(text);
	assert_int_equal(mode_of(path), 0640);
	char *a = path_in(f->dir, "a");
	char *ab = path_in(f->dir, "a/b");
	assert_int_equal(mode_of(a), 0700);
	assert_int_equal(mode_of(ab), 0700);

	/* A reader holding the old file keeps the old content whole; the path
	 * gets the new content whole, with the new mode. */
	int old_fd = open(path, O_RDONLY);
	assert_true(old_fd >= 0);
	assert_int_equal(bl_state_write(&f->st, "a/b/file", second, sizeof(second) - 1, 0600), 0);
	char buf[64] = "";
	assert_int_equal(read(old_fd, buf, sizeof(buf) - 1), (ssize_t)(sizeof(first) - 1));
	assert_string_equal(buf, first);
	close(old_fd);
	struct stat s;
	assert_int_equal(stat(path, &s), 0);
	assert_int_equal(s.st_size, (off_t)(sizeof(second) - 1));
	text = tu_slurp(path);
	assert_string_equal(text, second);
	free(text);
	assert_int_equal(mode_of(path), 0600);

	/* Binary content with NULs, and an empty file. */
	static const char bin[] = { 'x', 0, 'y', 0, 0 };
	assert_int_equal(bl_state_write(&f->st, "a/bin", bin, sizeof(bin), 0700), 0);
	char *binpath = path_in(f->dir, "a/bin");
	assert_int_equal(stat(binpath, &s), 0);
	assert_int_equal(s.st_size, (off_t)sizeof(bin));
	assert_int_equal(mode_of(binpath), 0700);
	assert_int_equal(bl_state_write(&f->st, "empty", "", 0, 0600), 0);
	char *emptypath = path_in(f->dir, "empty");
	assert_int_equal(stat(emptypath, &s), 0);
	assert_int_equal(s.st_size, 0);

	/* No temporary file is left beside the targets. */
	char *names = list_dir(ab);
	assert_string_equal(names, "file");
	free(names);
	names = list_dir(a);
	assert_string_equal(names, "b,bin");
	free(names);
	names = list_dir(f->dir);
	assert_string_equal(names, "a,empty");
	free(names);
	free(emptypath);
	free(binpath);
	free(ab);
	free(a);
	free(path);
}

static void test_write_failure_leaves_no_temp(void **state)
{
	struct fixture *f = *state;
	/* The target is a directory: the rename fails, the temp file goes. */
	char *sub = path_in(f->dir, "sub");
	char *target = path_in(f->dir, "sub/target");
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(bl_state_write(&f->st, "sub/target", "data", 4, 0600), -BL_EIO);
	char *names = list_dir(sub);
	assert_string_equal(names, "target");
	free(names);
	names = list_dir(target);
	assert_string_equal(names, "");
	free(names);
	free(target);
	free(sub);
}

static void test_event_done_per_instance(void **state)
{
	struct fixture *f = *state;
	time_t when = 42;
	assert_false(bl_state_event_done(&f->st, "i-1", "setup", &when));
	assert_int_equal(when, 42);  /* untouched when not done */

	assert_int_equal(bl_state_mark_event_done(&f->st, "i-1", "setup", 1700000000), 0);
	assert_true(bl_state_event_done(&f->st, "i-1", "setup", &when));
	assert_int_equal(when, 1700000000);
	assert_true(bl_state_event_done(&f->st, "i-1", "setup", NULL));
	/* Another event on the same instance is not done. */
	assert_false(bl_state_event_done(&f->st, "i-1", "configure", NULL));
	/* A new instance id (an image booted again) means setup runs again. */
	when = 42;
	assert_false(bl_state_event_done(&f->st, "i-2", "setup", &when));
	assert_int_equal(when, 42);

	/* Records of one instance and event leave the others alone. */
	assert_int_equal(bl_state_mark_event_done(&f->st, "i-2", "setup", 1800000000), 0);
	assert_int_equal(bl_state_mark_event_done(&f->st, "i-1", "configure", 1700000100), 0);
	assert_true(bl_state_event_done(&f->st, "i-1", "setup", &when));
	assert_int_equal(when, 1700000000);
	assert_true(bl_state_event_done(&f->st, "i-1", "configure", &when));
	assert_int_equal(when, 1700000100);
	assert_true(bl_state_event_done(&f->st, "i-2", "setup", &when));
	assert_int_equal(when, 1800000000);

	/* Marking again updates the time. */
	assert_int_equal(bl_state_mark_event_done(&f->st, "i-1", "setup", 1900000000), 0);
	assert_true(bl_state_event_done(&f->st, "i-1", "setup", &when));
	assert_int_equal(when, 1900000000);

	/* The documented file: instances/<id>/events.json, 0600, in a 0700 dir. */
	char *path = path_in(f->dir, "instances/i-1/events.json");
	assert_int_equal(mode_of(path), 0600);
	char *idir = path_in(f->dir, "instances/i-1");
	assert_int_equal(mode_of(idir), 0700);
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err);
	assert_non_null(doc);
	json_t *setup_rec = json_object_get(doc, "setup");
	assert_string_equal(json_string_value(json_object_get(setup_rec, "completed_at")),
			    "2030-03-17T17:46:40Z");
	assert_int_equal(json_integer_value(json_object_get(setup_rec, "completed_epoch")),
			 1900000000);
	assert_int_equal(json_object_size(doc), 2);
	json_decref(doc);
	free(idir);
	free(path);
}

static void test_event_unsafe_instance_id(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "../x", "..", ".", "", "a/b", "i 1", "x\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bl_state_mark_event_done(&f->st, bad[i], "setup", 1700000000),
				 -BL_EUNSAFE);
		assert_false(bl_state_event_done(&f->st, bad[i], "setup", NULL));
	}
	/* Nothing was written, inside the state dir or beside it. */
	char *names = list_dir(f->dir);
	assert_string_equal(names, "");
	free(names);
	names = list_dir(f->tmp);
	assert_string_equal(names, "state");
	free(names);
}

static void test_event_corrupt_events_file(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(bl_state_write(&f->st, "instances/i-1/events.json", "{ nope", 6, 0600), 0);
	assert_false(bl_state_event_done(&f->st, "i-1", "setup", NULL));
	/* A JSON value that is not an object, or whose record lacks the epoch. */
	assert_int_equal(bl_state_write(&f->st, "instances/i-1/events.json", "[]", 2, 0600), 0);
	assert_false(bl_state_event_done(&f->st, "i-1", "setup", NULL));
	static const char no_epoch[] = "{\"setup\": {\"completed_at\": \"2030-01-01T00:00:00Z\"}}";
	assert_int_equal(bl_state_write(&f->st, "instances/i-1/events.json", no_epoch,
					sizeof(no_epoch) - 1, 0600), 0);
	assert_false(bl_state_event_done(&f->st, "i-1", "setup", NULL));
}

static json_t *record(const char *event, const char *state)
{
	json_t *r = json_pack("{s:s, s:s, s:[{s:s, s:i}]}", "event", event, "state", state,
			      "layers", "name", "base/setup.sh", "exit_code", 0);
	assert_non_null(r);
	return r;
}

static void test_runs_round_trip(void **state)
{
	struct fixture *f = *state;
	json_t *runs = NULL;
	/* No runs directory yet: an empty object. */
	assert_int_equal(bl_state_load_runs(&f->st, &runs), 0);
	assert_true(json_is_object(runs));
	assert_int_equal(json_object_size(runs), 0);
	json_decref(runs);

	json_t *setup_rec = record("setup", "succeeded");
	json_t *configure_rec = record("configure", "failed");
	assert_int_equal(bl_state_save_run(&f->st, "setup", setup_rec), 0);
	assert_int_equal(bl_state_save_run(&f->st, "configure", configure_rec), 0);
	char *path = path_in(f->dir, "runs/setup.json");
	assert_int_equal(mode_of(path), 0600);
	free(path);

	assert_int_equal(bl_state_load_runs(&f->st, &runs), 0);
	assert_int_equal(json_object_size(runs), 2);
	assert_true(json_equal(json_object_get(runs, "setup"), setup_rec));
	assert_true(json_equal(json_object_get(runs, "configure"), configure_rec));
	json_decref(runs);

	/* Saving again replaces the record of that event only. */
	json_t *again = record("setup", "failed");
	assert_int_equal(bl_state_save_run(&f->st, "setup", again), 0);
	assert_int_equal(bl_state_load_runs(&f->st, &runs), 0);
	assert_int_equal(json_object_size(runs), 2);
	assert_true(json_equal(json_object_get(runs, "setup"), again));
	assert_true(json_equal(json_object_get(runs, "configure"), configure_rec));
	json_decref(runs);
	char *runs_dir = path_in(f->dir, "runs");
	char *names = list_dir(runs_dir);
	assert_string_equal(names, "configure.json,setup.json");
	free(names);
	free(runs_dir);
	json_decref(again);
	json_decref(configure_rec);
	json_decref(setup_rec);
}

static void test_runs_corrupt_skipped(void **state)
{
	struct fixture *f = *state;
	json_t *setup_rec = record("setup", "succeeded");
	assert_int_equal(bl_state_save_run(&f->st, "setup", setup_rec), 0);
	assert_int_equal(bl_state_write(&f->st, "runs/x.json", "{\"event\": \"x\", ", 15, 0600), 0);
	assert_int_equal(bl_state_write(&f->st, "runs/y.json", "[1, 2]\n", 7, 0600), 0);
	assert_int_equal(bl_state_write(&f->st, "runs/z.json", "", 0, 0600), 0);
	/* Not records: other names are ignored. */
	assert_int_equal(bl_state_write(&f->st, "runs/notes.txt", "{}", 2, 0600), 0);
	assert_int_equal(bl_state_write(&f->st, "runs/.hidden.json", "{\"event\":\"h\"}", 13, 0600), 0);

	json_t *runs = NULL;
	assert_int_equal(bl_state_load_runs(&f->st, &runs), 0);
	assert_int_equal(json_object_size(runs), 1);
	assert_true(json_equal(json_object_get(runs, "setup"), setup_rec));
	json_decref(runs);
	json_decref(setup_rec);
}

static char *read_lock_file(const char *dir)
{
	char *path = path_in(dir, "lock");
	char *text = tu_slurp(path);
	free(path);
	return text;
}

static void test_lock(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(bl_state_lock(&f->st), 0);
	assert_true(f->st.lock_fd >= 0);
	char *lock = path_in(f->dir, "lock");
	assert_int_equal(mode_of(lock), 0600);
	free(lock);
	char *text = read_lock_file(f->dir);
	char want[32];
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_string_equal(text, want);
	free(text);

	int to_parent[2], to_child[2];
	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(to_child), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child: its own bl_state on the same directory.  It drops the
		 * copy of the parent's lock descriptor that fork gave it, or it
		 * would keep the parent's lock alive itself. */
		close(f->st.lock_fd);
		close(to_parent[0]);
		close(to_child[1]);
		struct bl_state st;
		int r1 = bl_state_open(&st, f->dir, false);
		if (r1 == 0)
			r1 = bl_state_lock(&st);
		signed char c = (signed char)r1;
		if (write(to_parent[1], &c, 1) != 1)
			_exit(10);
		if (read(to_child[0], &c, 1) != 1)  /* the parent has closed */
			_exit(11);
		int r2 = bl_state_lock(&st);
		c = (signed char)r2;
		if (write(to_parent[1], &c, 1) != 1)
			_exit(12);
		/* Hold the lock until the parent has looked at the lock file. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(13);
		bl_state_close(&st);
		_exit(0);
	}
	close(to_parent[1]);
	close(to_child[0]);
	signed char c = 0;
	assert_int_equal(read(to_parent[0], &c, 1), 1);
	assert_int_equal(c, -BL_ELOCKED);
	/* The refused attempt did not overwrite the holder's pid. */
	text = read_lock_file(f->dir);
	assert_string_equal(text, want);
	free(text);

	bl_state_close(&f->st);
	assert_int_equal(f->st.lock_fd, -1);
	assert_int_equal(write(to_child[1], "c", 1), 1);
	assert_int_equal(read(to_parent[0], &c, 1), 1);
	assert_int_equal(c, 0);
	text = read_lock_file(f->dir);
	snprintf(want, sizeof(want), "%ld\n", (long)pid);
	assert_string_equal(text, want);
	free(text);

	/* While the child holds it, we are refused in turn. */
	struct bl_state st;
	assert_int_equal(bl_state_open(&st, f->dir, false), 0);
	assert_int_equal(bl_state_lock(&st), -BL_ELOCKED);
	assert_int_equal(st.lock_fd, -1);

	assert_int_equal(write(to_child[1], "d", 1), 1);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(to_parent[0]);
	close(to_child[1]);

	/* The child is gone and so is its lock. */
	assert_int_equal(bl_state_lock(&st), 0);
	bl_state_close(&st);
	/* f->st is closed; reopen it for the teardown. */
	assert_int_equal(bl_state_open(&f->st, f->dir, false), 0);
}

/* A lock held for an instant (as status does when it looks) is waited
 * out, not reported as held. */
static void test_lock_rides_out_a_brief_hold(void **state)
{
	struct fixture *f = *state;
	pid_t pid = tu_lock_holder(f->dir, false, 100);
	long holder = 0;
	assert_int_equal(bl_state_try_lock(&f->st, &holder), -BL_ELOCKED);
	assert_int_equal(holder, (long)pid);
	assert_int_equal(bl_state_lock(&f->st), 0);
	tu_reap(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_0700, setup_tmp, teardown),
		cmocka_unit_test_setup_teardown(test_open_missing_and_relative, setup_tmp, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_writable_by_others, setup_tmp, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_foreign_owner, setup_tmp, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_symlink, setup_tmp, teardown),
		cmocka_unit_test_setup_teardown(test_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_leaves_no_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_done_per_instance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_unsafe_instance_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_corrupt_events_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_corrupt_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_rides_out_a_brief_hold, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
