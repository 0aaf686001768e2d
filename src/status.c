/* status.c - what `bootlace status` and `bootlace analyze` show (status.h).
 *
 * Reads only atomic files (run records, events.json, current.json) and
 * probes the lock without holding it, so it never gets in a run's way and
 * is safe to call, or poll, while one is in progress. */
#include "bootlace/status.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "bootlace/agent.h"
#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/state.h"

/* How often --wait looks: cheap (a few small files) and quick to notice. */
#define WAIT_POLL_SECS 0.2

enum event_state { EV_NOT_STARTED, EV_RUNNING, EV_DONE, EV_FAILED, EV_INTERRUPTED };

static const char *const state_names[] = {
	[EV_NOT_STARTED] = "not-started", [EV_RUNNING] = "running", [EV_DONE] = "done",
	[EV_FAILED] = "failed", [EV_INTERRUPTED] = "interrupted",
};

/* Everything status knows, read at one moment. */
struct view {
	struct bl_state st;   /* st.dir NULL: there is no state dir yet */
	json_t *runs;         /* event -> its last run record */
	json_t *current;      /* current.json, or NULL */
	bool live;            /* current's process runs and holds the lock */
	bool lock_held;
};

/* One event's state, and what it is based on. */
struct event_status {
	enum event_state state;
	const json_t *rec;    /* the last run record, or NULL */
	const json_t *cur;    /* current.json when it is this event's */
	const char *instance_id;
	time_t completed;     /* setup done per events.json, with no record of it */
};

static const char *json_str(const json_t *o, const char *key, const char *fallback)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : fallback;
}

static double json_num(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static void view_free(struct view *v)
{
	json_decref(v->runs);
	json_decref(v->current);
	bl_state_close(&v->st);
	*v = (struct view){ .st = { .lock_fd = -1 } };
}

static int view_load(struct view *v, const char *state_dir)
{
	struct stat s;
	*v = (struct view){ .st = { .lock_fd = -1 } };
	if (stat(state_dir, &s) < 0 && errno == ENOENT) {
		v->runs = json_object();
		return v->runs ? 0 : -BL_ENOMEM;
	}
	int r = bl_state_open(&v->st, state_dir, false);
	if (r == 0)
		r = bl_state_load_runs(&v->st, &v->runs);
	if (r == 0)
		r = bl_state_load_current(&v->st, &v->current, &v->live);
	if (r == 0)
		v->lock_held = bl_state_lock_held(&v->st);
	if (r < 0)
		view_free(v);
	return r;
}

static void event_status(const struct view *v, const char *event, struct event_status *es)
{
	const json_t *rec = json_object_get(v->runs, event);
	const char *cur_id = json_str(v->current, "instance_id", NULL);
	*es = (struct event_status){ .rec = rec, .instance_id = json_str(rec, "instance_id", NULL) };
	if (strcmp(json_str(v->current, "event", ""), event) == 0) {
		es->cur = v->current;
		es->instance_id = cur_id;
		es->state = v->live ? EV_RUNNING : EV_INTERRUPTED;
		return;
	}
	/* A run in progress names the instance; setup's record may be another
	 * instance's (an image made after setup, booted as a new instance):
	 * then this instance's events say whether its setup completed. */
	if (strcmp(event, "setup") == 0 && cur_id &&
	    strcmp(cur_id, json_str(rec, "instance_id", "")) != 0) {
		es->rec = NULL;
		es->instance_id = cur_id;
		if (v->st.dir && bl_state_event_done(&v->st, cur_id, "setup", &es->completed))
			es->state = EV_DONE;
		return;
	}
	if (rec)
		es->state = strcmp(json_str(rec, "state", ""), "succeeded") == 0 ? EV_DONE : EV_FAILED;
}

/* "layer 2/3 roles/web/setup.sh" or "fetching the layers". */
static void describe_progress(const json_t *cur, char *buf, size_t len)
{
	const char *layer = json_str(cur, "layer", NULL);
	if (layer)
		snprintf(buf, len, "layer %lld/%lld %s",
			 (long long)json_integer_value(json_object_get(cur, "layer_index")),
			 (long long)json_integer_value(json_object_get(cur, "layers")), layer);
	else
		snprintf(buf, len, "fetching the layers");
}

/* How a run that is gone ended: "during layer 2/3 X", "while fetching the
 * layers". */
static void describe_end(const json_t *cur, char *buf, size_t len)
{
	char progress[300];
	describe_progress(cur, progress, sizeof(progress));
	snprintf(buf, len, "%s %s", json_str(cur, "layer", NULL) ? "during" : "while", progress);
}

static double max0(double x)
{
	return x > 0 ? x : 0;
}

static double elapsed_since(const json_t *cur)
{
	json_int_t started = json_integer_value(json_object_get(cur, "started_epoch"));
	double secs = difftime(time(NULL), (time_t)started);
	return started > 0 && secs > 0 ? secs : 0;
}

/* The state of a whole machine: failed beats running beats ok. */
static const char *overall_state(const struct view *v)
{
	bool failed = false, running = false, done = false;
	for (size_t i = 0; bl_events[i]; i++) {
		struct event_status es;
		event_status(v, bl_events[i], &es);
		failed = failed || es.state == EV_FAILED || es.state == EV_INTERRUPTED;
		running = running || es.state == EV_RUNNING;
		done = done || es.state == EV_DONE;
	}
	return failed ? "failed" : running ? "running" : done ? "ok" : "never-run";
}

static json_t *event_json(const struct event_status *es)
{
	json_t *o = json_pack("{s:s, s:s*}", "state", state_names[es->state],
			      "instance_id", es->instance_id);
	if (o && es->cur) {
		json_t *run = json_deep_copy(es->cur);
		json_object_set_new(run, "elapsed", json_real(elapsed_since(es->cur)));
		json_object_set_new(o, "run", run);
	}
	if (o && es->rec) {
		const json_t *rec = es->rec;
		json_object_set_new(o, "last_run", json_pack(
			"{s:s, s:s, s:s, s:s, s:f, s:s?}", "state", json_str(rec, "state", "?"),
			"instance_id", json_str(rec, "instance_id", "?"),
			"started_at", json_str(rec, "started_at", "?"),
			"finished_at", json_str(rec, "finished_at", "?"),
			"duration", json_num(rec, "duration"),
			"failure", json_str(rec, "failure", json_str(rec, "error", NULL))));
	} else if (o && es->completed) {
		char when[32];
		bl_format_utc(es->completed, when, sizeof(when));
		json_object_set_new(o, "completed_at", json_string(when));
	}
	return o;
}

static void print_layer(const json_t *layer, FILE *out)
{
	char exit_text[24] = "-", duration[24] = "-";
	const json_t *code = json_object_get(layer, "exit_code");
	const json_t *sig = json_object_get(layer, "signal");
	const json_t *secs = json_object_get(layer, "duration");
	if (json_is_integer(code))
		snprintf(exit_text, sizeof(exit_text), "%lld", (long long)json_integer_value(code));
	else if (json_is_integer(sig))
		snprintf(exit_text, sizeof(exit_text), "sig %lld", (long long)json_integer_value(sig));
	if (json_is_number(secs))
		snprintf(duration, sizeof(duration), "%.3fs", json_number_value(secs));
	fprintf(out, "  %-38s %-8s %6s %9s  %.12s\n", json_str(layer, "name", "?"),
		json_str(layer, "status", "?"), exit_text, duration, json_str(layer, "sha256", "-"));
	const char *reason = json_str(layer, "reason", NULL);
	if (reason)
		fprintf(out, "  %-38s   %s\n", "", reason);
}

static void print_record(const json_t *rec, FILE *out)
{
	fprintf(out, "  %-38s %-8s %6s %9s  %s\n", "LAYER", "STATUS", "EXIT", "DURATION", "SHA256");
	const json_t *layers = json_object_get(rec, "layers");
	for (size_t i = 0; i < json_array_size(layers); i++)
		print_layer(json_array_get(layers, i), out);
	const char *log = json_str(rec, "log", NULL);
	if (log)
		fprintf(out, "  log: %s\n", log);
}

static void print_event(const char *event, const struct event_status *es, FILE *out)
{
	const json_t *rec = es->rec, *cur = es->cur;
	const char *id = es->instance_id ? es->instance_id : "?";
	char progress[320], when[32];
	switch (es->state) {
	case EV_NOT_STARTED:
		fprintf(out, "%s: not started\n", event);
		return;
	case EV_RUNNING:
		describe_progress(cur, progress, sizeof(progress));
		fprintf(out, "%s: running on %s since %s (%.0fs): %s\n", event, id,
			json_str(cur, "started_at", "?"), elapsed_since(cur), progress);
		break;
	case EV_INTERRUPTED:
		describe_end(cur, progress, sizeof(progress));
		fprintf(out, "%s: interrupted on %s: the run started at %s (pid %lld) ended %s\n",
			event, id, json_str(cur, "started_at", "?"),
			(long long)json_integer_value(json_object_get(cur, "pid")), progress);
		break;
	case EV_DONE:
	case EV_FAILED:
		if (!rec) {
			bl_format_utc(es->completed, when, sizeof(when));
			fprintf(out, "%s: done on %s at %s (no run record for this instance)\n",
				event, id, when);
			return;
		}
		fprintf(out, "%s: %s on %s at %s (%.3fs)", event, state_names[es->state], id,
			json_str(rec, "finished_at", "?"), json_num(rec, "duration"));
		if (es->state == EV_FAILED)
			fprintf(out, ": %s", json_str(rec, "failure", json_str(rec, "error", "?")));
		fputc('\n', out);
		print_record(rec, out);
		return;
	}
	if (rec) {
		fprintf(out, "  previous run: %s at %s (%.3fs)\n", json_str(rec, "state", "?"),
			json_str(rec, "finished_at", "?"), json_num(rec, "duration"));
		print_record(rec, out);
	}
}

/* Prints v (wait: what --wait concluded, for --json; may be NULL). */
static int print_view(const struct view *v, const char *state_dir, bool json, json_t *wait,
		      FILE *out)
{
	const char *overall = overall_state(v);
	if (json) {
		json_t *events = json_object();
		for (size_t i = 0; events && bl_events[i]; i++) {
			struct event_status es;
			event_status(v, bl_events[i], &es);
			json_object_set_new(events, bl_events[i], event_json(&es));
		}
		json_t *doc = json_pack("{s:s, s:s, s:o*, s:O, s:O*}", "state", overall,
					"state_dir", state_dir, "events", events, "runs", v->runs,
					"wait", wait);
		if (!doc)
			return -BL_ENOMEM;
		json_dumpf(doc, out, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', out);
		json_decref(doc);
	} else if (strcmp(overall, "never-run") == 0) {
		fprintf(out, "no run recorded in %s\n", state_dir);
	} else {
		for (size_t i = 0; bl_events[i]; i++) {
			struct event_status es;
			event_status(v, bl_events[i], &es);
			print_event(bl_events[i], &es, out);
		}
		fprintf(out, "overall: %s\n", overall);
	}
	return strcmp(overall, "failed") == 0 ? -BL_ELAYER : 0;
}

int bl_status_print(const char *state_dir, bool json, FILE *out)
{
	struct view v;
	int r = view_load(&v, state_dir);
	if (r == 0)
		r = print_view(&v, state_dir, json, NULL, out);
	view_free(&v);
	return r;
}

/* What --wait makes of one look at the state: 1 to go on waiting, else
 * the result, with why in *outcome. */
static int wait_verdict(const char *state_dir, const struct view *v, const struct event_status *es,
			double waited, double idle, double timeout, double grace, const char **outcome)
{
	bool busy = v->live || v->lock_held;
	char progress[320];
	if (es->state == EV_DONE) {
		*outcome = "done";
		return 0;
	}
	if (es->state == EV_FAILED) {
		*outcome = "failed";
		return -BL_ELAYER;
	}
	if (!busy && idle >= grace) {
		if (es->state == EV_INTERRUPTED) {
			*outcome = "interrupted";
			describe_end(es->cur, progress, sizeof(progress));
			bl_err("setup on %s was interrupted (the run started at %s ended %s) and "
			       "no bootlace is running to finish it",
			       es->instance_id ? es->instance_id : "?",
			       json_str(es->cur, "started_at", "?"), progress);
			return -BL_ELAYER;
		}
		*outcome = "not-running";
		bl_err("setup has not started (no record in %s) and no bootlace is running "
		       "(waited %.0fs); start bootlace.service or run `bootlace run`",
		       state_dir, waited);
		return -BL_ETIMEOUT;
	}
	if (waited >= timeout) {
		*outcome = "timeout";
		if (es->state == EV_RUNNING) {
			describe_progress(es->cur, progress, sizeof(progress));
			bl_err("setup still running after %.0fs (%s); giving up (--timeout)", waited,
			       progress);
		} else {
			bl_err("setup has not finished after %.0fs; giving up (--timeout)", waited);
		}
		return -BL_ETIMEOUT;
	}
	return 1;
}

/* Says what the wait is waiting for, once per change. */
static void wait_progress(const struct event_status *es, char *last, size_t len)
{
	char now[320] = "waiting for setup to start";
	if (es->state == EV_INTERRUPTED)
		snprintf(now, sizeof(now), "setup was interrupted; waiting for a bootlace to run it again");
	if (es->state == EV_RUNNING) {
		char progress[300];
		describe_progress(es->cur, progress, sizeof(progress));
		snprintf(now, sizeof(now), "waiting for setup: %s", progress);
	}
	if (strcmp(now, last) != 0)
		bl_info("%s", now);
	snprintf(last, len, "%s", now);
}

int bl_status_wait(const char *state_dir, bool json, double timeout, double grace, FILE *out)
{
	double start = bl_now_monotonic(), idle_since = start;
	char last[320] = "";
	struct view v;
	const char *outcome = NULL;
	for (;;) {
		int r = view_load(&v, state_dir);
		if (r < 0)
			return r;
		struct event_status es;
		event_status(&v, "setup", &es);
		double now = bl_now_monotonic();
		/* The grace runs from the last moment anything ran. */
		if (v.live || v.lock_held)
			idle_since = now;
		r = wait_verdict(state_dir, &v, &es, now - start, now - idle_since, timeout, grace, &outcome);
		if (r <= 0) {
			json_t *wait = json_pack("{s:s, s:f}", "result", outcome, "waited", now - start);
			int pr = print_view(&v, state_dir, json, wait, out);
			json_decref(wait);
			view_free(&v);
			return pr == -BL_ENOMEM ? pr : r;
		}
		wait_progress(&es, last, sizeof(last));
		view_free(&v);
		double left = max0(timeout - (bl_now_monotonic() - start));
		bl_sleep(left < WAIT_POLL_SECS ? left : WAIT_POLL_SECS);
	}
}

/* One line of analyze: what took the time. */
struct item {
	char what[300];
	double secs;
	const json_t *objects;   /* fetch: what became of each object */
};

static int cmp_item(const void *a, const void *b)
{
	double x = ((const struct item *)a)->secs, y = ((const struct item *)b)->secs;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The measured items of a run record, longest first; *n of them (malloc'd). */
static struct item *run_items(const json_t *rec, size_t *n)
{
	static const char *const phases[] = { "datasource", "lock", "plan", "fetch", "write" };
	const json_t *timings = json_object_get(rec, "timings");
	const json_t *layers = json_object_get(rec, "layers");
	struct item *items = calloc(ARRAY_SIZE(phases) + json_array_size(layers) + 1, sizeof(*items));
	*n = 0;
	if (!items)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
		const json_t *secs = json_object_get(timings, phases[i]);
		if (!json_is_number(secs))
			continue;
		struct item *it = &items[(*n)++];
		snprintf(it->what, sizeof(it->what), "%s", phases[i]);
		it->secs = json_number_value(secs);
		if (strcmp(phases[i], "fetch") == 0)
			it->objects = json_object_get(timings, "objects");
	}
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const json_t *l = json_array_get(layers, i);
		const json_t *secs = json_object_get(l, "duration");
		if (!json_is_number(secs))
			continue;
		struct item *it = &items[(*n)++];
		snprintf(it->what, sizeof(it->what), "layer %s", json_str(l, "name", "?"));
		it->secs = json_number_value(secs);
	}
	qsort(items, *n, sizeof(*items), cmp_item);
	return items;
}

/* The run's total: from the agent's start when recorded, else (an older
 * record) from the fetch on. */
static double run_total(const json_t *rec)
{
	const json_t *total = json_object_get(json_object_get(rec, "timings"), "total");
	return json_is_number(total) ? json_number_value(total) : json_num(rec, "duration");
}

static void fetch_summary(const json_t *objects, char *buf, size_t len)
{
	size_t n = json_array_size(objects), unchanged = 0;
	json_int_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(objects, i);
		bytes += json_integer_value(json_object_get(o, "bytes"));
		unchanged += strcmp(json_str(o, "result", ""), "unchanged") == 0;
	}
	int used = snprintf(buf, len, "%zu object%s, %lld bytes downloaded", n, n == 1 ? "" : "s",
			    (long long)bytes);
	if (unchanged && used > 0 && (size_t)used < len)
		snprintf(buf + used, len - (size_t)used, ", %zu unchanged (304)", unchanged);
}

static void print_run_analysis(const json_t *rec, const struct item *items, size_t n, FILE *out)
{
	double total = run_total(rec), sum = 0;
	fprintf(out, "%s on %s at %s: %s, %.3fs\n", json_str(rec, "event", "?"),
		json_str(rec, "instance_id", "?"), json_str(rec, "started_at", "?"),
		json_str(rec, "state", "?"), total);
	for (size_t i = 0; i < n; i++) {
		const struct item *it = &items[i];
		char extra[128] = "";
		if (it->objects) {
			fetch_summary(it->objects, extra + 2, sizeof(extra) - 2);
			memcpy(extra, ": ", 2);
		}
		fprintf(out, "  %9.3fs %5.1f%%  %s%s\n", it->secs,
			total > 0 ? 100 * it->secs / total : 0, it->what, extra);
		for (size_t j = 0; j < json_array_size(it->objects); j++) {
			const json_t *o = json_array_get(it->objects, j);
			fprintf(out, "  %18s  %-38s %s", "", json_str(o, "layer", "?"),
				json_str(o, "result", "?"));
			if (strcmp(json_str(o, "result", ""), "downloaded") == 0)
				fprintf(out, ", %lld bytes",
					(long long)json_integer_value(json_object_get(o, "bytes")));
			fputc('\n', out);
		}
		sum += it->secs;
	}
	if (!json_is_object(json_object_get(rec, "timings")))
		fprintf(out, "  (no phase timings: this run was recorded by an older bootlace)\n");
	else
		fprintf(out, "  %9.3fs %5.1f%%  unaccounted (between the phases above)\n",
			max0(total - sum), total > 0 ? 100 * max0(total - sum) / total : 0);
	fprintf(out, "  %9.3fs          total\n", total);
}

static json_t *run_analysis_json(const json_t *rec, const struct item *items, size_t n)
{
	double total = run_total(rec), sum = 0;
	json_t *list = json_array();
	for (size_t i = 0; list && i < n; i++) {
		json_t *it = json_pack("{s:s, s:f}", "what", items[i].what, "duration", items[i].secs);
		if (it && items[i].objects)
			json_object_set_new(it, "objects", json_deep_copy(items[i].objects));
		json_array_append_new(list, it);
		sum += items[i].secs;
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f, s:o*}", "event", json_str(rec, "event", "?"),
			      "instance_id", json_str(rec, "instance_id", "?"),
			      "started_at", json_str(rec, "started_at", "?"),
			      "state", json_str(rec, "state", "?"), "total", total, "items", list);
	if (o && json_is_object(json_object_get(rec, "timings")))
		json_object_set_new(o, "unaccounted", json_real(max0(total - sum)));
	return o;
}

static int cmp_started(const void *a, const void *b)
{
	return strcmp(json_str(*(const json_t *const *)a, "started_at", ""),
		      json_str(*(const json_t *const *)b, "started_at", ""));
}

int bl_analyze_print(const char *state_dir, bool json, FILE *out)
{
	struct view v;
	int r = view_load(&v, state_dir);
	if (r < 0)
		return r;
	/* Oldest first, as they happened. */
	size_t n_runs = json_object_size(v.runs), k = 0;
	const json_t **recs = calloc(n_runs + 1, sizeof(*recs));
	json_t *doc = json_pack("{s:s, s:[]}", "state_dir", state_dir, "runs");
	const char *event;
	json_t *rec;
	if (!recs || !doc)
		r = -BL_ENOMEM;
	else
		json_object_foreach(v.runs, event, rec)
			recs[k++] = rec;
	if (k)
		qsort(recs, k, sizeof(*recs), cmp_started);
	if (r == 0 && !k && !json)
		fprintf(out, "no run recorded in %s\n", state_dir);
	for (size_t i = 0; r == 0 && i < k; i++) {
		size_t n;
		struct item *items = run_items(recs[i], &n);
		if (!items) {
			r = -BL_ENOMEM;
			break;
		}
		if (json)
			json_array_append_new(json_object_get(doc, "runs"),
					      run_analysis_json(recs[i], items, n));
		else
			print_run_analysis(recs[i], items, n, out);
		if (!json && i + 1 < k)
			fputc('\n', out);
		free(items);
	}
	if (r == 0 && json) {
		json_dumpf(doc, out, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', out);
	}
	json_decref(doc);
	free(recs);
	view_free(&v);
	return r;
}
