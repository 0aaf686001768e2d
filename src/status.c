/* status.c - what `bootlace status` shows (status.h).
 *
 * Reads only the atomic run records, so it never needs the lock and is
 * safe to call while a run is in progress. */
#include "bootlace/status.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/state.h"

static const char *json_str(const json_t *o, const char *key, const char *fallback)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : fallback;
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

static void print_run(const char *event, const json_t *rec, FILE *out)
{
	fprintf(out, "%s: %s on %s at %s (%.3fs)\n", event, json_str(rec, "state", "?"),
		json_str(rec, "instance_id", "?"), json_str(rec, "finished_at", "?"),
		json_number_value(json_object_get(rec, "duration")));
	fprintf(out, "  %-38s %-8s %6s %9s  %s\n", "LAYER", "STATUS", "EXIT", "DURATION", "SHA256");
	const json_t *layers = json_object_get(rec, "layers");
	for (size_t i = 0; i < json_array_size(layers); i++)
		print_layer(json_array_get(layers, i), out);
	const char *log = json_str(rec, "log", NULL);
	if (log)
		fprintf(out, "  log: %s\n", log);
}

int bl_status_print(const char *state_dir, bool json, FILE *out)
{
	struct bl_state st;
	json_t *runs = NULL;
	struct stat s;
	int r;
	if (stat(state_dir, &s) < 0 && errno == ENOENT) {
		runs = json_object();
		r = runs ? 0 : -BL_ENOMEM;
		st = (struct bl_state){ .lock_fd = -1 };
	} else if ((r = bl_state_open(&st, state_dir, false)) == 0) {
		r = bl_state_load_runs(&st, &runs);
	}
	if (r < 0)
		return r;
	const char *overall = json_object_size(runs) ? "ok" : "never-run";
	const char *event;
	json_t *rec;
	json_object_foreach(runs, event, rec)
		if (strcmp(json_str(rec, "state", ""), "succeeded") != 0)
			overall = "failed";
	if (json) {
		json_t *doc = json_pack("{s:s, s:s, s:O}", "state", overall, "state_dir",
					state_dir, "runs", runs);
		if (doc)
			json_dumpf(doc, out, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', out);
		json_decref(doc);
	} else if (!json_object_size(runs)) {
		fprintf(out, "no run recorded in %s\n", state_dir);
	} else {
		json_object_foreach(runs, event, rec)
			print_run(event, rec, out);
		fprintf(out, "overall: %s\n", overall);
	}
	json_decref(runs);
	bl_state_close(&st);
	return strcmp(overall, "failed") == 0 ? -BL_ELAYER : 0;
}
