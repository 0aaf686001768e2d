/* agent.c - one run of an event, start to finish (agent.h).
 *
 * The order matters and is the point of this file:
 *   1. ask the datasource who we are, read user data;
 *   2. resolve every layer's path from the instance's tags;
 *   3. fetch every layer whole before running any, so a network or missing
 *      object error changes nothing on the machine;
 *   4. write each script atomically into the state dir and run them in
 *      order, general to specific: base, role, environment, user data;
 *   5. record what ran (source, sha256, exit, duration) atomically.
 * While it runs, current.json says which layer is running (for `bootlace
 * status`), and the record keeps where the time went (for `bootlace
 * analyze`): only what is measured here, phase by phase. */
#include "bootlace/agent.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bootlace/datasource.h"
#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/runner.h"
#include "bootlace/signature.h"
#include "bootlace/source.h"
#include "bootlace/state.h"
#include "bootlace/template.h"
#include "bootlace/userdata.h"

#define LOGS_KEPT_PER_EVENT 10
#define USER_DATA_LAYER "user-data"

const char *const bl_events[] = { "setup", "configure", "deploy", "undeploy", "shutdown", NULL };

bool bl_event_is_known(const char *name)
{
	for (size_t i = 0; bl_events[i]; i++)
		if (strcmp(bl_events[i], name) == 0)
			return true;
	return false;
}

enum layer_status {
	LAYER_PENDING,   /* resolved, to be fetched and run */
	LAYER_SKIPPED,   /* optional and absent (no tag, no object) */
	LAYER_OK,
	LAYER_FAILED,
	LAYER_NOT_RUN,   /* an earlier layer failed and on_failure is stop */
};

static const char *const layer_status_names[] = {
	[LAYER_PENDING] = "pending", [LAYER_SKIPPED] = "skipped", [LAYER_OK] = "ok",
	[LAYER_FAILED] = "failed", [LAYER_NOT_RUN] = "not-run",
};

struct layer {
	char *name;      /* resolved path ("roles/web/setup.sh") or "user-data" */
	char *url;       /* where it comes from; NULL for user data */
	bool required;
	enum layer_status status;
	char *reason;    /* why skipped or failed, for the record */
	struct bl_buf body;      /* user data: the script itself */
	struct bl_object obj;    /* the fetched object (url = this layer's) */
	char cached_sha256[65];  /* converge: the object held in the cache */
	char *sig_url;           /* security.require_signature: <url>.sig */
	struct bl_object sig;    /* ... and what its fetch gave */
	char signed_by[BL_KEY_ID_LEN + 1]; /* the key whose signature verified */
	char *script;    /* where it was written to run from */
	int script_fd;   /* user data: the sealed memfd it runs from, else 0 */
	char sha256[65];
	bool ran;        /* result is meaningful */
	struct bl_run_result result;
};

/* Where the time went, in seconds; a phase that did not happen stays < 0. */
struct timings {
	double begin;       /* monotonic: when the agent was called */
	double datasource;  /* select and load (IMDS or seed, tags, user data) */
	double lock;        /* opening the state dir, waiting for its lock */
	double plan;
	double fetch;       /* every object at once */
	double write;       /* context.json and the scripts */
};

#define TIMINGS_NONE { .datasource = -1, .lock = -1, .plan = -1, .fetch = -1, .write = -1 }

struct run {
	struct bl_config *cfg;
	const struct bl_agent_options *opts;
	const char *event;
	struct bl_instance inst;
	struct bl_buf user_script;  /* inflated user data when it is a script */
	struct layer *layers;
	size_t n_layers;
	struct bl_keyring *keys;  /* trusted keys, once something needs them */
	struct bl_state state;
	char *log_path;
	char *context_path;
	struct timings t;
	bool refreshed;       /* inst is a kept record, refreshed (agent.h keep) */
	time_t live_started;  /* current.json written since then */
	bool live;
};

static void run_free(struct run *run)
{
	for (size_t i = 0; i < run->n_layers; i++) {
		free(run->layers[i].name);
		free(run->layers[i].url);
		free(run->layers[i].reason);
		free(run->layers[i].script);
		if (run->layers[i].script_fd > 0)
			close(run->layers[i].script_fd);
		bl_buf_free(&run->layers[i].body);
		bl_object_clear(&run->layers[i].obj);
		bl_object_clear(&run->layers[i].sig);
		free(run->layers[i].sig_url);
	}
	free(run->layers);
	bl_keyring_free(run->keys);
	bl_buf_free(&run->user_script);
	if (run->opts->keep && run->inst.instance_id) {
		*run->opts->keep = run->inst;
		run->inst = (struct bl_instance){0};
	}
	bl_instance_free(&run->inst);
	bl_state_close(&run->state);
	free(run->log_path);
	free(run->context_path);
}

static double since(double t0)
{
	return bl_now_monotonic() - t0;
}

static size_t pending_layers(const struct run *run)
{
	size_t n = 0;
	for (size_t i = 0; i < run->n_layers; i++)
		n += run->layers[i].status == LAYER_PENDING;
	return n;
}

/* Says in current.json what this run is doing: layer `index` of `total`
 * (1-based), or, with layer NULL, fetching. */
static void live_save(struct run *run, const char *layer, size_t index, size_t total)
{
	char started_at[32];
	if (!run->live)
		run->live_started = time(NULL);
	run->live = true;
	bl_format_utc(run->live_started, started_at, sizeof(started_at));
	json_t *cur = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s?, s:I, s:I}", "event", run->event,
				"instance_id", run->inst.instance_id, "pid", (json_int_t)getpid(),
				"started_at", started_at, "started_epoch", (json_int_t)run->live_started,
				"layer", layer, "layer_index", (json_int_t)index,
				"layers", (json_int_t)total);
	if (!cur || bl_state_save_current(&run->state, cur) < 0)
		bl_warn("cannot record the run in progress in %s/current.json", run->state.dir);
	json_decref(cur);
}

/* The run is over and recorded: nothing is in progress any more. */
static void live_end(struct run *run)
{
	if (run->live)
		bl_state_clear_current(&run->state);
	run->live = false;
}

/* With the lock held, a current.json is what a run that was killed left
 * behind: said once, then dropped, as this run is the current one now. */
static void clear_interrupted(struct run *run)
{
	json_t *cur;
	bool live;
	if (bl_state_load_current(&run->state, &cur, &live) < 0 || !cur)
		return;
	const char *layer = json_string_value(json_object_get(cur, "layer"));
	const char *event = json_string_value(json_object_get(cur, "event"));
	const char *started = json_string_value(json_object_get(cur, "started_at"));
	bl_warn("the %s run started at %s (pid %lld) did not finish: it ended %s%s", event ? event : "?",
		started ? started : "?", (long long)json_integer_value(json_object_get(cur, "pid")),
		layer ? "during layer " : "while fetching the layers", layer ? layer : "");
	json_decref(cur);
	bl_state_clear_current(&run->state);
}

static struct layer *add_layer(struct run *run, char *name, char *url, bool required)
{
	struct layer *layers = reallocarray(run->layers, run->n_layers + 1, sizeof(*layers));
	if (!layers)
		return NULL;
	run->layers = layers;
	struct layer *l = &run->layers[run->n_layers++];
	*l = (struct layer){ .name = name, .url = url, .required = required, .obj.url = url };
	return l;
}

static void layer_set_reason(struct layer *l, enum layer_status status, char *reason)
{
	l->status = status;
	free(l->reason);
	l->reason = reason;
}

/* The trusted keys (security.trusted_keys), read afresh by each run: a
 * key added to or removed from keys.d counts from the next run (or
 * convergence cycle) on. */
static int load_trusted_keys(struct run *run)
{
	_cleanup_free_ char *msg = NULL;
	if (run->keys)
		return 0;
	int r = bl_keyring_load(run->cfg->trusted_keys, &run->keys, &msg);
	if (r < 0 && msg)
		bl_err("trusted keys (security.trusted_keys): %s; nothing was run", msg);
	return r;
}

/* security.require_signed_user_data: user data counts only when its last
 * line is a trusted signature of everything before it.  That line is then
 * cut off, so exactly the signed bytes are used. */
static int verify_user_data(struct run *run, struct bl_buf *decoded)
{
	_cleanup_free_ char *msg = NULL;
	struct bl_signature sig;
	size_t signed_len = 0;
	int r = load_trusted_keys(run);
	if (r < 0)
		return r;
	r = bl_signature_split_inline(decoded->data, decoded->len, &signed_len, &sig, &msg);
	if (r == 0)
		r = bl_keyring_verify(run->keys, decoded->data, signed_len, &sig, &msg);
	if (r < 0) {
		if (msg)
			bl_err("user data from %s refused (security.require_signed_user_data): %s; "
			       "nothing was run", run->inst.datasource, msg);
		return r;
	}
	decoded->len = signed_len;
	decoded->data[signed_len] = '\0';
	bl_info("user data: signed by trusted key %s", sig.key_id);
	return 0;
}

/* Reads user data: a "#bootlace" document extends the config (unless
 * merge is false: a kept record's config already has it), a script becomes
 * the last layer, anything else is reported and left alone. */
static int read_user_data(struct run *run, bool merge)
{
	enum bl_userdata_kind kind;
	struct bl_buf decoded = {0};
	if (!run->inst.has_user_data)
		return 0;
	int r = bl_userdata_decode(run->inst.user_data.data, run->inst.user_data.len,
				   &decoded, &kind);
	if (r < 0) {
		bl_err("user data from %s: %s", run->inst.datasource,
		       r == -BL_ETOOBIG ? "inflates past the 1 MiB limit"
					: "corrupt or truncated gzip data");
		return -BL_EDATASOURCE;
	}
	if (run->cfg->require_signed_user_data && kind != BL_USERDATA_EMPTY &&
	    (r = verify_user_data(run, &decoded)) < 0) {
		bl_buf_free(&decoded);
		return r;
	}
	if (!merge && kind != BL_USERDATA_SCRIPT)
		kind = BL_USERDATA_EMPTY;
	switch (kind) {
	case BL_USERDATA_CONFIG: {
		struct bl_config_diags diags = {0};
		r = bl_config_merge_user_data(run->cfg, decoded.data, decoded.len, &diags);
		bl_config_diags_print(&diags, stderr);
		bl_config_diags_free(&diags);
		if (r == 0)
			bl_info("user data: #bootlace configuration merged");
		break;
	}
	case BL_USERDATA_SCRIPT:
		bl_buf_move(&run->user_script, &decoded);
		break;
	case BL_USERDATA_UNKNOWN:
		bl_warn("user data (%zu bytes) is neither a #! script nor a #bootlace document; "
			"this format is not handled and is ignored", decoded.len);
		break;
	case BL_USERDATA_EMPTY:
		break;
	}
	bl_buf_free(&decoded);
	return r;
}

/* Expands one configured layer; unresolvable optional layers are skipped. */
static int plan_config_layer(struct run *run, const struct bl_layer_spec *spec)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *tag = NULL;
	int r = bl_template_expand(spec->path, run->event, &run->inst, run->cfg, &path, &tag);
	if (r == -BL_EUNSAFE) {
		bl_err("layer %s: the value of tag \"%s\" cannot be used in a path "
		       "(it must match [A-Za-z0-9._-]{1,128} and not be . or ..)",
		       spec->path, tag ? tag : "?");
		return r;
	}
	if (r == -BL_EMISSINGTAG) {
		if (spec->required) {
			bl_err("layer %s is required but the instance has no tag \"%s\"",
			       spec->path, tag ? tag : "?");
			return -BL_ELAYER;
		}
		/* A daemon says so at its first look, not every cycle after. */
		bl_log(run->refreshed ? BL_LOG_DEBUG : BL_LOG_WARNING,
		       "skipping layer %s: the instance has no tag \"%s\"", spec->path,
		       tag ? tag : "?");
		char *name = strdup(spec->path);
		struct layer *l = name ? add_layer(run, name, NULL, false) : NULL;
		if (!l) {
			free(name);
			return -BL_ENOMEM;
		}
		layer_set_reason(l, LAYER_SKIPPED, bl_strdup_printf("no tag \"%s\"", tag ? tag : "?"));
		return 0;
	}
	if (r < 0) {
		bl_err("layer %s: invalid path template", spec->path);
		return r;
	}
	char *url = bl_source_join(run->cfg->source, path);
	struct layer *l = url ? add_layer(run, path, url, spec->required) : NULL;
	if (!l) {
		free(url);
		return -BL_ENOMEM;
	}
	path = NULL; /* owned by the layer now */
	return 0;
}

static int build_plan(struct run *run)
{
	double t0 = bl_now_monotonic();
	int r = 0;
	if (!run->cfg->source)
		bl_warn("no source configured: the layers are not run, only a user-data script");
	for (size_t i = 0; r == 0 && run->cfg->source && i < run->cfg->n_layers; i++)
		r = plan_config_layer(run, &run->cfg->layers[i]);
	/* User data belongs to the instance's first boot, as with cloud-init's
	 * once-per-instance scripts: later events run only the layers. */
	if (r == 0 && run->user_script.len && strcmp(run->event, "setup") == 0) {
		char *name = strdup(USER_DATA_LAYER);
		struct layer *l = name ? add_layer(run, name, NULL, true) : NULL;
		if (l)
			bl_buf_move(&l->body, &run->user_script);
		else
			free(name);
		r = l ? 0 : -BL_ENOMEM;
	}
	run->t.plan = since(t0);
	return r;
}

static void print_plan(const struct run *run, FILE *out)
{
	const struct bl_instance *inst = &run->inst;
	fprintf(out, "plan for event %s (dry run: nothing is fetched or run)\n", run->event);
	fprintf(out, "  instance     %s (datasource %s)\n", inst->instance_id, inst->datasource);
	fprintf(out, "  region       %s\n", inst->region ? inst->region : "-");
	fprintf(out, "  zone         %s\n", inst->availability_zone ? inst->availability_zone : "-");
	fprintf(out, "  tags        ");
	for (size_t i = 0; i < inst->n_tags; i++)
		fprintf(out, " %s=%s", inst->tags[i].key, inst->tags[i].value);
	fprintf(out, "%s\n", inst->n_tags ? "" : " (none)");
	fprintf(out, "  source       %s\n", run->cfg->source ? run->cfg->source : "(none)");
	if (run->cfg->require_signature)
		fprintf(out, "  signatures   required: each layer's <url>" BL_SIGNATURE_SUFFIX
			", by a key of %s\n", run->cfg->trusted_keys);
	fprintf(out, "  layers, in run order:\n");
	unsigned n = 0;
	for (size_t i = 0; i < run->n_layers; i++) {
		const struct layer *l = &run->layers[i];
		if (l->status == LAYER_SKIPPED)
			fprintf(out, "     -  %-40s skipped: %s\n", l->name, l->reason ? l->reason : "");
		else if (l->url)
			fprintf(out, "    %2u. %-40s %s%s\n", ++n, l->name, l->url,
				l->required ? " (required)" : "");
		else
			fprintf(out, "    %2u. %-40s user data script, %zu bytes\n", ++n, l->name,
				l->body.len);
	}
	if (!n)
		fprintf(out, "    (no layer to run)\n");
}

/* The layers' sources need AWS but the datasource gave no AWS access (not
 * EC2): environment credentials and AWS_REGION then. */
static int ensure_aws(struct run *run)
{
	for (size_t i = 0; !run->inst.aws && i < run->n_layers; i++) {
		const struct bl_source *src = run->layers[i].url
			? bl_source_for_url(run->layers[i].url) : NULL;
		if (run->layers[i].status == LAYER_PENDING && src && src->needs_aws)
			return bl_aws_new(run->cfg, run->inst.region, NULL, &run->inst.aws);
	}
	return 0;
}

/* An object the server said is unchanged (304): the cached copy, hard-linked
 * into tmp_dir as if it had just arrived. */
static int use_cached(struct run *run, struct layer *l, const char *tmp_dir)
{
	_cleanup_free_ char *rel = bl_strdup_printf("cache/%s", l->cached_sha256);
	_cleanup_free_ char *cached = rel ? bl_state_path(&run->state, rel) : NULL;
	char *path = bl_strdup_printf("%s/cached.%zu", tmp_dir, (size_t)(l - run->layers));
	struct stat st;
	/* A 304 may name the ETag itself; else it is the one we offered. */
	if (!l->obj.etag)
		l->obj.etag = strdup(l->obj.if_none_match);
	if (!cached || !path || !l->obj.etag) {
		free(path);
		return -BL_ENOMEM;
	}
	if (link(cached, path) < 0 || stat(path, &st) < 0) {
		bl_err("layer %s: cannot use the cached copy %s: %s", l->name, cached,
		       strerror(errno));
		free(path);
		return -BL_EIO;
	}
	l->obj.path = path;
	l->obj.size = (size_t)st.st_size;
	memcpy(l->obj.sha256, l->cached_sha256, sizeof(l->obj.sha256));
	return 0;
}

/* Checks layer l's object against its signature object, both fetched:
 * the very bytes that will run, a 304's cached copy too (its key may have
 * been removed since it was cached).  0, or the layer fails, logged. */
static int verify_layer(struct run *run, struct layer *l)
{
	_cleanup_(bl_buf_free) struct bl_buf sig_text = {0};
	_cleanup_(bl_buf_free) struct bl_buf body = {0};
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *ids = NULL;
	struct bl_signature sig;
	const char *what = l->sig_url;  /* what why is about */
	int r = l->sig.result;
	if (r == -BL_ENOTFOUND) {
		r = -BL_ESIGNATURE;
		ids = bl_keyring_ids(run->keys);
		why = ids ? bl_strdup_printf("no signature object at %s (security.require_signature; "
					     "trusted keys: %s)", l->sig_url, ids) : NULL;
		what = NULL;
	} else if (r < 0) {  /* no verdict: the fetch failed, as a layer's can */
		why = strdup(l->sig.error ? l->sig.error : bl_strerror(r));
		what = NULL;
	} else if ((r = bl_read_file(l->sig.path, BL_SIGNATURE_MAX_SIZE, &sig_text)) < 0) {
		why = r == -BL_ETOOBIG ? strdup("larger than any signature object")
				       : bl_strdup_printf("cannot read it: %s", strerror(errno));
		r = r == -BL_ETOOBIG ? -BL_ESIGNATURE : r;
	} else if ((r = bl_signature_parse(sig_text.data, sig_text.len, &sig, &why)) < 0) {
		/* why says it */
	} else if ((r = bl_read_file(l->obj.path, SIZE_MAX, &body)) < 0) {
		why = bl_strdup_printf("cannot read %s: %s", l->obj.path, strerror(errno));
		what = l->url;
	} else if ((r = bl_keyring_verify(run->keys, body.data, body.len, &sig, &why)) < 0) {
		what = l->url;
	} else {
		memcpy(l->signed_by, sig.key_id, sizeof(l->signed_by));
		bl_debug("layer %s: signed by trusted key %s", l->name, sig.key_id);
		return 0;
	}
	char *reason = !why ? NULL : bl_strdup_printf("%s%s%s%s",
		r == -BL_ESIGNATURE ? "signature refused: " : "", what ? what : "",
		what ? ": " : "", why);
	if (!reason)
		return -BL_ENOMEM;
	bl_log_fields(BL_LOG_ERR, BL_MESSAGE_LAYER_FAILED, l->name, -1,
		      "layer %s: %s; nothing was run", l->name, reason);
	layer_set_reason(l, LAYER_FAILED, reason);
	return r;
}

/* security.require_signature: every layer about to run is checked before
 * any runs, and each one refused is named. */
static int verify_layers(struct run *run)
{
	int r = 0;
	size_t verified = 0;
	for (size_t i = 0; i < run->n_layers; i++) {
		struct layer *l = &run->layers[i];
		if (l->status != LAYER_PENDING || !l->url)
			continue;
		int v = verify_layer(run, l);
		if (v == -BL_ENOMEM)
			return v;
		r = r ? r : v;
		verified += v == 0;
	}
	if (r == 0 && verified)
		bl_info("signatures of %zu layer%s verified", verified, verified == 1 ? "" : "s");
	return r;
}

/* Adds layer l's signature object, <url>.sig, to the fetch. */
static int want_signature(struct layer *l, struct bl_object **objs, size_t *n)
{
	l->sig_url = bl_strdup_printf("%s" BL_SIGNATURE_SUFFIX, l->url);
	if (!l->sig_url)
		return -BL_ENOMEM;
	l->sig.url = l->sig_url;
	objs[(*n)++] = &l->sig;
	return 0;
}

/* Fetches every pending layer at once, each into a temp file, with its
 * signature object in the same batch when signatures are required.
 * Nothing runs unless all that must be there arrived whole (and verified). */
static int fetch_layers(struct run *run, const char *tmp_dir)
{
	bool want_signed = run->cfg->require_signature;
	/* Before any request: without usable keys nothing could be verified. */
	int r = want_signed ? load_trusted_keys(run) : 0;
	if (r == 0)
		r = ensure_aws(run);
	struct bl_object **objs = r == 0 ? calloc(2 * run->n_layers + 1, sizeof(*objs)) : NULL;
	if (!objs)
		return r < 0 ? r : -BL_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; r == 0 && i < run->n_layers; i++) {
		struct layer *l = &run->layers[i];
		if (l->status != LAYER_PENDING)
			continue;
		if (l->url) {
			objs[n++] = &l->obj;
			if (want_signed)
				r = want_signature(l, objs, &n);
		} else {  /* user data: stays in memory (write_scripts) */
			l->obj.size = l->body.len;
			bl_sha256_hex(l->body.data, l->body.len, l->obj.sha256);
		}
	}
	struct bl_fetch_context ctx = { .cfg = run->cfg, .aws = run->inst.aws, .tmp_dir = tmp_dir };
	if (r == 0)
		r = bl_source_fetch_all(&ctx, objs, n);
	free(objs);
	for (size_t i = 0; r == 0 && i < run->n_layers; i++) {
		struct layer *l = &run->layers[i];
		if (l->status != LAYER_PENDING)
			continue;
		/* Only setup needs a required layer's object: an instance's
		 * layers need not handle every later event. */
		bool required = l->required && strcmp(run->event, "setup") == 0;
		if (l->obj.result == -BL_ENOTFOUND && !required) {
			bl_log(run->refreshed ? BL_LOG_DEBUG : BL_LOG_INFO,
			       "layer %s: no object at %s, skipped", l->name, l->url);
			layer_set_reason(l, LAYER_SKIPPED, strdup("no such object"));
			continue;
		}
		if (l->obj.result < 0) {
			int err = l->obj.result;
			char *why = err == -BL_ENOTFOUND
				? bl_strdup_printf("required layer not found at %s", l->url)
				: bl_strdup_printf("%s", l->obj.error ? l->obj.error : bl_strerror(err));
			bl_log_fields(BL_LOG_ERR, BL_MESSAGE_LAYER_FAILED, l->name, -1,
				      "layer %s: %s; nothing was run", l->name,
				      why ? why : bl_strerror(err));
			layer_set_reason(l, LAYER_FAILED, why);
			r = err == -BL_ENOTFOUND ? -BL_ELAYER : err;
			break;
		}
		if (l->obj.unchanged && (r = use_cached(run, l, tmp_dir)) < 0)
			break;
		memcpy(l->sha256, l->obj.sha256, sizeof(l->sha256));
	}
	if (r == 0 && want_signed)
		r = verify_layers(run);
	return r;
}

static int clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -BL_EIO;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    unlinkat(dirfd(d), e->d_name, 0) < 0)
			r = -BL_EIO;
	closedir(d);
	return r;
}

/* User data often carries secrets, so its script never touches a disk: it
 * runs from a sealed memfd (its #! interpreter reads /dev/fd/3). */
static int user_data_script(struct layer *l)
{
	int fd = memfd_create("bootlace-user-data", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	/* Below 3 it would be overwritten by the script's stdio (runner.h). */
	if (fd >= 0 && fd < 3) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		fd = high;
	}
	int r = fd < 0 ? -BL_EIO : bl_write_all(fd, l->body.data, l->body.len);
	if (r == 0 && (fchmod(fd, 0700) < 0 ||
		       fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
					     F_SEAL_SEAL) < 0))
		r = -BL_EIO;
	if (r < 0) {
		bl_err("cannot hold the user-data script in memory: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	l->script_fd = fd;
	l->script = strdup(USER_DATA_LAYER);
	return l->script ? 0 : -BL_ENOMEM;
}

/* Writes each script to run (0700) under scripts/<event>/ and notes where
 * in its layer. */
static int write_scripts(struct run *run)
{
	_cleanup_free_ char *rel_dir = bl_strdup_printf("scripts/%s", run->event);
	_cleanup_free_ char *dir = rel_dir ? bl_state_path(&run->state, rel_dir) : NULL;
	if (!dir)
		return -BL_ENOMEM;
	/* Scripts of an earlier run of this event must not linger as if current. */
	if (clear_dir(dir) < 0)
		bl_warn("cannot clear old scripts in %s: %s", dir, strerror(errno));
	if (bl_mkdir_p(dir, 0700) < 0) {
		bl_err("cannot create %s: %s", dir, strerror(errno));
		return -BL_EIO;
	}
	for (size_t i = 0; i < run->n_layers; i++) {
		struct layer *l = &run->layers[i];
		if (l->status != LAYER_PENDING)
			continue;
		if (!l->url) {
			int r = user_data_script(l);
			if (r < 0)
				return r;
			continue;
		}
		/* "roles/web/setup.sh" -> "02-roles_web_setup.sh": flat, in run order. */
		_cleanup_free_ char *flat = strdup(l->name);
		if (!flat)
			return -BL_ENOMEM;
		for (char *p = flat; *p; p++)
			if (*p == '/')
				*p = '_';
		_cleanup_free_ char *rel = bl_strdup_printf("%s/%02zu-%s", rel_dir, i + 1, flat);
		if (!rel)
			return -BL_ENOMEM;
		l->script = bl_state_path(&run->state, rel);
		if (!l->script)
			return -BL_ENOMEM;
		/* The fetched file itself becomes the script: it is whole and
		 * fsynced, and rename makes it appear complete or not at all. */
		if (chmod(l->obj.path, 0700) < 0 || rename(l->obj.path, l->script) < 0) {
			bl_err("cannot install %s as %s: %s", l->name, l->script, strerror(errno));
			return -BL_EIO;
		}
		free(l->obj.path);
		l->obj.path = NULL;
	}
	return bl_fsync_dir(dir);
}

static json_t *instance_json(const struct bl_instance *inst)
{
	json_t *tags = json_object();
	for (size_t i = 0; tags && i < inst->n_tags; i++)
		json_object_set_new(tags, inst->tags[i].key, json_string(inst->tags[i].value));
	return json_pack("{s:s, s:s, s:s?, s:s?, s:o*}", "datasource", inst->datasource,
			 "instance_id", inst->instance_id, "region", inst->region,
			 "availability_zone", inst->availability_zone, "tags", tags);
}

static json_t *layer_json(const struct layer *l)
{
	json_t *o = json_pack("{s:s, s:s*, s:s, s:b}", "name", l->name, "source", l->url,
			      "status", layer_status_names[l->status], "required", l->required);
	if (!o)
		return NULL;
	/* No URL: user data, or a layer skipped before it had one. */
	if (!l->url && l->body.len)
		json_object_set_new(o, "source", json_string(USER_DATA_LAYER));
	if (l->sha256[0]) {
		json_object_set_new(o, "sha256", json_string(l->sha256));
		json_object_set_new(o, "size", json_integer((json_int_t)l->obj.size));
	}
	if (l->obj.etag)
		json_object_set_new(o, "etag", json_string(l->obj.etag));
	if (l->signed_by[0])
		json_object_set_new(o, "signed_by", json_string(l->signed_by));
	if (l->reason)
		json_object_set_new(o, "reason", json_string(l->reason));
	if (l->ran) {
		if (l->result.exit_code >= 0)
			json_object_set_new(o, "exit_code", json_integer(l->result.exit_code));
		if (l->result.signal)
			json_object_set_new(o, "signal", json_integer(l->result.signal));
		json_object_set_new(o, "timed_out", json_boolean(l->result.timed_out));
		json_object_set_new(o, "duration", json_real(l->result.duration));
	}
	return o;
}

/* context.json: the instance record, tags, event and layer list, for
 * scripts (what OpsWorks called stack attributes). */
static int write_context(struct run *run)
{
	json_t *layers = json_array();
	for (size_t i = 0; layers && i < run->n_layers; i++)
		if (run->layers[i].status == LAYER_PENDING)
			json_array_append_new(layers, json_pack("{s:s, s:s}", "name",
				run->layers[i].name, "source",
				run->layers[i].url ? run->layers[i].url : USER_DATA_LAYER));
	json_t *ctx = json_pack("{s:s, s:o*, s:o*, s:s}", "event", run->event, "instance",
				instance_json(&run->inst), "layers", layers, "state_dir",
				run->state.dir);
	_cleanup_free_ char *text = ctx ? json_dumps(ctx, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(ctx);
	if (!text)
		return -BL_ENOMEM;
	run->context_path = bl_state_path(&run->state, "context.json");
	if (!run->context_path)
		return -BL_ENOMEM;
	return bl_state_write(&run->state, "context.json", text, strlen(text), 0600);
}

/* Opens logs/<event>-<time>.log (0600) and drops all but the newest
 * LOGS_KEPT_PER_EVENT logs of this event. */
static int open_run_log(struct run *run, time_t started)
{
	char stamp[32];
	struct tm tm;
	gmtime_r(&started, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	_cleanup_free_ char *dir = bl_state_path(&run->state, "logs");
	if (!dir || bl_mkdir_p(dir, 0700) < 0)
		return -BL_EIO;
	/* Names sort by time, so the newest are last. */
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	size_t prefix = strlen(run->event);
	int kept = 0;
	for (int i = n - 1; i >= 0; i--) {
		const char *name = names[i]->d_name;
		if (strncmp(name, run->event, prefix) == 0 && name[prefix] == '-' &&
		    ++kept >= LOGS_KEPT_PER_EVENT) {
			_cleanup_free_ char *old = bl_strdup_printf("%s/%s", dir, name);
			if (old && unlink(old) < 0)
				bl_warn("cannot remove old run log %s: %s", old, strerror(errno));
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	run->log_path = bl_strdup_printf("%s/%s-%s.log", dir, run->event, stamp);
	if (!run->log_path)
		return -BL_ENOMEM;
	int fd = open(run->log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		bl_warn("cannot open run log %s: %s", run->log_path, strerror(errno));
	return fd;
}

/* The clean environment of a script: a fixed PATH and locale plus what
 * bootlace knows, nothing inherited from whoever started bootlace. */
static char **script_environment(const struct run *run, const struct layer *l, const char *home)
{
	const struct bl_instance *inst = &run->inst;
	const char *role = bl_instance_tag(inst, run->cfg->tag_role);
	const char *env = bl_instance_tag(inst, run->cfg->tag_environment);
	char *vars[] = {
		bl_strdup_printf("PATH=%s", BL_SCRIPT_PATH),
		strdup("LANG=C.UTF-8"),
		bl_strdup_printf("HOME=%s", home),
		bl_strdup_printf("BOOTLACE_EVENT=%s", run->event),
		bl_strdup_printf("BOOTLACE_LAYER=%s", l->name),
		bl_strdup_printf("BOOTLACE_INSTANCE_ID=%s", inst->instance_id),
		bl_strdup_printf("BOOTLACE_REGION=%s", inst->region ? inst->region : ""),
		bl_strdup_printf("BOOTLACE_AVAILABILITY_ZONE=%s",
				 inst->availability_zone ? inst->availability_zone : ""),
		bl_strdup_printf("BOOTLACE_ROLE=%s", role ? role : ""),
		bl_strdup_printf("BOOTLACE_ENVIRONMENT=%s", env ? env : ""),
		bl_strdup_printf("BOOTLACE_CONTEXT=%s", run->context_path),
		bl_strdup_printf("BOOTLACE_STATE_DIR=%s", run->state.dir),
	};
	char **envp = calloc(ARRAY_SIZE(vars) + 1, sizeof(*envp));
	bool complete = envp != NULL;
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		complete = complete && vars[i];
		if (envp)
			envp[i] = vars[i];
		else
			free(vars[i]);
	}
	if (!complete) {
		for (size_t i = 0; envp && i < ARRAY_SIZE(vars); i++)
			free(envp[i]);
		free(envp);
		return NULL;
	}
	return envp;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Runs the fetched layers in order; returns the first failure (or 0). */
static int run_layers(struct run *run, int log_fd)
{
	int first_failure = 0;
	size_t total = pending_layers(run), n = 0;
	/* Shutdown scripts race the instance's stop: their own, shorter bound. */
	unsigned timeout = strcmp(run->event, "shutdown") == 0 ? run->cfg->shutdown_timeout
								: run->cfg->run_timeout;
	/* One user database lookup for the run, not one per script. */
	const struct passwd *pw = getpwuid(geteuid());
	_cleanup_free_ char *home = strdup(pw && pw->pw_dir ? pw->pw_dir : "/");
	if (!home)
		return -BL_ENOMEM;
	for (size_t i = 0; i < run->n_layers; i++) {
		struct layer *l = &run->layers[i];
		if (l->status != LAYER_PENDING)
			continue;
		if (first_failure && run->cfg->on_failure == BL_ON_FAILURE_STOP) {
			layer_set_reason(l, LAYER_NOT_RUN, strdup("an earlier layer failed"));
			continue;
		}
		char **envp = script_environment(run, l, home);
		if (!envp)
			return -BL_ENOMEM;
		bl_info("layer %zu/%zu: %s", ++n, total, l->name);
		live_save(run, l->name, n, total);
		if (log_fd >= 0)
			dprintf(log_fd, "== layer %zu/%zu: %s (sha256 %s)\n", n, total, l->name, l->sha256);
		struct bl_agent_hooks *hooks = run->opts->hooks;
		struct bl_run_spec spec = {
			.path = l->script, .exec_fd = l->script_fd, .layer = l->name, .envp = envp,
			.cwd = "/",
			.timeout = timeout, .kill_grace = run->cfg->run_kill_grace,
			.log_fd = log_fd,
		};
		if (hooks) {
			spec.stop = hooks->stop;
			spec.wait_mask = hooks->wait_mask;
			spec.tick = hooks->tick;
			spec.tick_ctx = hooks->ctx;
			spec.tick_interval = hooks->tick_interval;
			if (hooks->layer_start)
				hooks->layer_start(hooks->ctx, run->event, l->name);
		}
		int r = bl_runner_run(&spec, &l->result);
		strv_free(envp);
		l->ran = r == 0;
		char how[160];
		if (r < 0) {
			snprintf(how, sizeof(how), "could not be started: %s", bl_strerror(r));
		} else {
			bl_run_result_describe(&l->result, timeout, how, sizeof(how));
		}
		if (log_fd >= 0)
			dprintf(log_fd, "== layer %s: %s after %.3fs\n", l->name, how, l->result.duration);
		if (r == 0 && bl_run_result_ok(&l->result)) {
			l->status = LAYER_OK;
			bl_info("layer %s: ok in %.3fs", l->name, l->result.duration);
			continue;
		}
		bl_log_fields(BL_LOG_ERR, BL_MESSAGE_LAYER_FAILED, l->name,
			      r == 0 ? l->result.exit_code : -1, "layer %s failed: %s", l->name, how);
		layer_set_reason(l, LAYER_FAILED, strdup(how));
		if (!first_failure)
			first_failure = -BL_ELAYER;
	}
	return first_failure;
}

/* What failed, for the record and the log: the first failed layer and
 * why, else the error. */
static void describe_failure(const struct run *run, int result, char *buf, size_t len)
{
	for (size_t i = 0; i < run->n_layers; i++) {
		const struct layer *l = &run->layers[i];
		if (l->status == LAYER_FAILED) {
			snprintf(buf, len, "%s: %s", l->name, l->reason ? l->reason : bl_strerror(result));
			return;
		}
	}
	snprintf(buf, len, "%s", bl_strerror(result));
}

/* What became of each object given to the fetcher.  How long each took and
 * how many attempts it needed are the transfer engine's to know (they are
 * fetched at once, in parallel): only the phase as a whole is timed. */
static json_t *objects_json(const struct run *run)
{
	json_t *objects = json_array();
	for (size_t i = 0; objects && i < run->n_layers; i++) {
		const struct layer *l = &run->layers[i];
		const char *result = l->obj.result == -BL_ENOTFOUND ? "not-found"
			: l->obj.result < 0 ? "failed" : l->obj.unchanged ? "unchanged"
			: l->sha256[0] ? "downloaded" : NULL;
		if (!l->url || !result)
			continue;
		bool got = strcmp(result, "downloaded") == 0;
		json_array_append_new(objects, json_pack("{s:s, s:s, s:I}", "layer", l->name,
							 "result", result, "bytes",
							 (json_int_t)(got ? l->obj.size : 0)));
	}
	return objects;
}

/* The record's "timings": seconds per phase, as measured; a phase that did
 * not happen is left out.  total runs from the agent's start to now. */
static json_t *timings_json(const struct run *run)
{
	const struct timings *t = &run->t;
	const struct {
		const char *name;
		double secs;
	} phases[] = {
		{ "datasource", t->datasource }, { "lock", t->lock }, { "plan", t->plan },
		{ "fetch", t->fetch }, { "write", t->write },
	};
	json_t *o = json_pack("{s:f}", "total", since(t->begin));
	for (size_t i = 0; o && i < ARRAY_SIZE(phases); i++)
		if (phases[i].secs >= 0)
			json_object_set_new(o, phases[i].name, json_real(phases[i].secs));
	if (o && t->fetch >= 0)
		json_object_set_new(o, "objects", objects_json(run));
	return o;
}

/* Saves runs/<event>.json: what this run resolved, fetched and ran. */
static void save_record(struct run *run, time_t started, double duration, int result)
{
	char started_at[32], finished_at[32];
	bl_format_utc(started, started_at, sizeof(started_at));
	bl_format_utc(time(NULL), finished_at, sizeof(finished_at));
	json_t *layers = json_array();
	for (size_t i = 0; layers && i < run->n_layers; i++)
		json_array_append_new(layers, layer_json(&run->layers[i]));
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:f, s:s, s:s?, s:o*, s:o*}",
				"event", run->event, "instance_id", run->inst.instance_id,
				"started_at", started_at, "finished_at", finished_at,
				"duration", duration, "state", result == 0 ? "succeeded" : "failed",
				"log", run->log_path, "layers", layers, "timings", timings_json(run));
	if (rec && result < 0) {
		char failure[sizeof(run->opts->hooks->failure)];
		describe_failure(run, result, failure, sizeof(failure));
		json_object_set_new(rec, "error", json_string(bl_strerror(result)));
		json_object_set_new(rec, "failure", json_string(failure));
	}
	if (!rec || bl_state_save_run(&run->state, run->event, rec) < 0)
		bl_warn("could not save the record of this run");
	json_decref(rec);
}

/* Scratch space for downloads (state/tmp), emptied of what a killed run
 * may have left behind; malloc'd. */
static char *prepare_tmp(struct run *run)
{
	char *tmp_dir = bl_state_path(&run->state, "tmp");
	if (!tmp_dir || bl_mkdir_p(tmp_dir, 0700) < 0) {
		free(tmp_dir);
		return NULL;
	}
	if (clear_dir(tmp_dir) < 0)
		bl_warn("cannot clear %s: %s", tmp_dir, strerror(errno));
	return tmp_dir;
}

/* Everything after the fetch (whose result is r): write, run, record. */
static int run_fetched(struct run *run, int r, time_t started, double t0)
{
	int log_fd = -1;
	double tw = bl_now_monotonic();
	if (r == 0)
		r = write_context(run);
	if (r == 0)
		r = write_scripts(run);
	if (r == 0) {
		run->t.write = since(tw);
		log_fd = open_run_log(run, started);
		r = run_layers(run, log_fd);
	}
	if (log_fd >= 0)
		close(log_fd);
	double duration = bl_now_monotonic() - t0;
	for (size_t i = 0; i < run->n_layers; i++)
		if (run->layers[i].status == LAYER_PENDING)
			layer_set_reason(&run->layers[i], LAYER_NOT_RUN,
					 strdup("the run stopped before this layer"));
	save_record(run, started, duration, r);
	if (r == 0) {
		r = bl_state_mark_event_done(&run->state, run->inst.instance_id, run->event, time(NULL));
		size_t ran = 0;
		for (size_t i = 0; i < run->n_layers; i++)
			ran += run->layers[i].status == LAYER_OK;
		bl_log_fields(BL_LOG_INFO, BL_MESSAGE_RUN_END, NULL, 0,
			      "%s completed on %s: %zu layer%s in %.2fs", run->event,
			      run->inst.instance_id, ran, ran == 1 ? "" : "s", duration);
	} else {
		struct bl_agent_hooks *hooks = run->opts->hooks;
		char failure[sizeof(hooks->failure)];
		describe_failure(run, r, failure, sizeof(failure));
		if (hooks)
			memcpy(hooks->failure, failure, sizeof(failure));
		bl_log_fields(BL_LOG_ERR, BL_MESSAGE_RUN_END, NULL, bl_exit_code(r),
			      "%s failed on %s after %.2fs: %s", run->event, run->inst.instance_id,
			      duration, failure);
	}
	return r;
}

/* Fetch, write, run, record. */
static int execute(struct run *run)
{
	time_t started = time(NULL);
	double t0 = bl_now_monotonic();
	live_save(run, NULL, 0, pending_layers(run));
	_cleanup_free_ char *tmp_dir = prepare_tmp(run);
	int r = tmp_dir ? fetch_layers(run, tmp_dir) : -BL_EIO;
	run->t.fetch = since(t0);
	return run_fetched(run, r, started, t0);
}

/* What can change while the instance runs, into the record a previous call
 * kept: the datasource's refresh, else its load again. */
static int refresh_instance(struct run *run)
{
	const struct bl_datasource *ds = bl_datasource_find(run->inst.datasource);
	if (!ds)
		return -BL_EDATASOURCE;
	if (ds->refresh)
		return ds->refresh(run->cfg, &run->inst);
	bl_instance_free(&run->inst);
	return ds->load(run->cfg, &run->inst);
}

/* Who the instance is and what its user data says. */
static int resolve_instance(struct run *run)
{
	const struct bl_datasource *ds = NULL;
	struct bl_instance *keep = run->opts->keep;
	double t0 = bl_now_monotonic();
	int r;
	run->refreshed = keep && keep->instance_id;
	if (run->refreshed) {
		run->inst = *keep;
		*keep = (struct bl_instance){0};
		r = refresh_instance(run);
	} else {
		r = bl_datasource_select(run->cfg, &ds);
		if (r == 0)
			r = ds->load(run->cfg, &run->inst);
	}
	/* A datasource fails as a datasource (exit 3) unless the operator's
	 * configuration is what is wrong (exit 2). */
	if (r < 0 && r != -BL_ECONFIG && r != -BL_ENOMEM)
		r = -BL_EDATASOURCE;
	if (r == 0)
		r = read_user_data(run, !run->refreshed);
	run->t.datasource = since(t0);
	return r;
}

/* Waits until the bootlace holding the lock lets go.  Polled, so that a
 * daemon stays responsive meanwhile: its watchdog is fed, and a stop
 * request (SIGTERM) ends the wait. */
static int wait_for_lock(struct run *run)
{
	const struct bl_agent_hooks *hooks = run->opts->hooks;
	long holder = 0, told = -1;
	for (;;) {
		int r = bl_state_try_lock(&run->state, &holder);
		if (r != -BL_ELOCKED)
			return r;
		if (hooks && hooks->stop && *hooks->stop) {
			bl_info("stopped while waiting for the lock on %s", run->state.dir);
			return r;
		}
		if (holder != told) {
			if (holder > 0)
				bl_info("waiting for bootlace (pid %ld) to release the lock on %s",
					holder, run->state.dir);
			else
				bl_info("waiting for the lock on %s", run->state.dir);
			told = holder;
		}
		struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 };
		ppoll(NULL, 0, &ts, hooks ? hooks->wait_mask : NULL);
		bl_keepalive();
	}
}

/* The state dir, locked.  Taken before the datasource is read: from then
 * on this is the bootlace at work (another one, and status --wait, see the
 * lock), also while IMDS is still being waited for at early boot.  So the
 * state_dir of a #bootlace user-data document comes too late to count. */
static int open_state(struct run *run)
{
	const char *state_dir = run->opts->state_dir ? run->opts->state_dir : run->cfg->state_dir;
	double t0 = bl_now_monotonic();
	int r = bl_state_open(&run->state, state_dir, true);
	if (r == 0)
		r = run->opts->wait_lock ? wait_for_lock(run) : bl_state_lock(&run->state);
	run->t.lock = since(t0);
	if (r == 0)
		clear_interrupted(run);
	return r;
}

static bool setup_done(const struct run *run, time_t *when)
{
	return bl_state_event_done(&run->state, run->inst.instance_id, "setup", when);
}

static void log_run_start(const struct run *run)
{
	bl_log_fields(BL_LOG_INFO, BL_MESSAGE_RUN_START, NULL, -1,
		      "%s on instance %s (datasource %s, zone %s), layers from %s", run->event,
		      run->inst.instance_id, run->inst.datasource,
		      run->inst.availability_zone ? run->inst.availability_zone : "unknown",
		      run->cfg->source ? run->cfg->source : "user data only");
}

/* The log says which run its lines belong to; the first boot's go to the
 * console too (log.h). */
static void log_event(const char *event)
{
	bl_log_set_event(event, event && strcmp(event, "setup") == 0);
}

int bl_agent_run(struct bl_config *cfg, const struct bl_agent_options *opts)
{
	struct run run = { .cfg = cfg, .opts = opts, .state = { .lock_fd = -1 }, .t = TIMINGS_NONE };
	run.t.begin = bl_now_monotonic();
	run.event = opts->event ? opts->event : "setup";
	log_event(run.event);
	int r = opts->dry_run ? 0 : open_state(&run);
	if (r == 0)
		r = resolve_instance(&run);
	if (r == 0)
		r = build_plan(&run);
	if (r == 0 && opts->dry_run)
		print_plan(&run, opts->plan_out ? opts->plan_out : stdout);
	time_t done_at;
	if (r < 0 || opts->dry_run) {
		/* nothing to run */
	} else if (strcmp(run.event, "setup") == 0 && !opts->force &&
		   setup_done(&run, &done_at)) {
		char when[32];
		bl_format_utc(done_at, when, sizeof(when));
		bl_info("setup already completed on instance %s at %s; nothing to do "
			"(--force runs it again)", run.inst.instance_id, when);
	} else {
		log_run_start(&run);
		r = execute(&run);
	}
	live_end(&run);
	log_event(NULL);
	run_free(&run);
	return r;
}

/* Convergence: what the configure layers were the last time (state file
 * converge.json: a fingerprint of the plan, and each object's URL, ETag and
 * sha256) and the objects themselves (cache/<sha256>), so that an unchanged
 * object costs one 304 and no download. */
#define CONVERGE_STATE "converge.json"
#define CACHE_DIR "cache"

static int cmp_tag(const void *a, const void *b)
{
	return strcmp((*(const struct bl_tag *const *)a)->key, (*(const struct bl_tag *const *)b)->key);
}

/* What decides whether configure runs: the tags, and each layer's name,
 * source, state and content.  malloc'd. */
static char *plan_fingerprint(const struct run *run)
{
	const struct bl_instance *inst = &run->inst;
	struct bl_buf b = {0};
	const struct bl_tag **tags = calloc(inst->n_tags + 1, sizeof(*tags));
	int r = tags ? 0 : -BL_ENOMEM;
	for (size_t i = 0; tags && i < inst->n_tags; i++)
		tags[i] = &inst->tags[i];
	if (tags)
		qsort(tags, inst->n_tags, sizeof(*tags), cmp_tag);
	for (size_t i = 0; r == 0 && i < inst->n_tags; i++)
		r = bl_buf_printf(&b, "tag %s=%s\n", tags[i]->key, tags[i]->value);
	for (size_t i = 0; r == 0 && i < run->n_layers; i++) {
		const struct layer *l = &run->layers[i];
		r = bl_buf_printf(&b, "layer %s %s %s %s\n", l->name, l->url ? l->url : "-",
				  layer_status_names[l->status],
				  l->status == LAYER_PENDING ? l->sha256 : l->reason ? l->reason : "");
	}
	free(tags);
	if (r < 0) {
		bl_buf_free(&b);
		return NULL;
	}
	return b.data ? b.data : strdup("");
}

/* The last cycle's record for this instance, or NULL. */
static json_t *load_baseline(const struct run *run)
{
	_cleanup_free_ char *path = bl_state_path(&run->state, CONVERGE_STATE);
	if (!path || access(path, F_OK) < 0)
		return NULL;
	json_error_t err;
	json_t *base = json_load_file(path, 0, &err);
	const char *id = json_string_value(json_object_get(base, "instance_id"));
	if (!base || !id || strcmp(id, run->inst.instance_id) != 0 ||
	    !json_is_string(json_object_get(base, "fingerprint"))) {
		if (!base)
			bl_warn("%s:%d:%d: unreadable, starting over: %s", path, err.line,
				err.column, err.text);
		json_decref(base);
		return NULL;
	}
	return base;
}

/* Offers each layer's last ETag for a conditional GET when its object is
 * still in the cache. */
static void offer_etags(struct run *run, json_t *baseline)
{
	json_t *objects = json_object_get(baseline, "objects");
	for (size_t i = 0; i < run->n_layers; i++) {
		struct layer *l = &run->layers[i];
		json_t *o = l->url ? json_object_get(objects, l->url) : NULL;
		const char *etag = json_string_value(json_object_get(o, "etag"));
		const char *sha = json_string_value(json_object_get(o, "sha256"));
		if (!etag || !sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
			continue;
		_cleanup_free_ char *rel = bl_strdup_printf(CACHE_DIR "/%s", sha);
		_cleanup_free_ char *cached = rel ? bl_state_path(&run->state, rel) : NULL;
		if (cached && access(cached, R_OK) == 0) {
			l->obj.if_none_match = etag;
			memcpy(l->cached_sha256, sha, sizeof(l->cached_sha256));
		}
	}
}

/* Keeps each fetched object under cache/<sha256> (a hard link: no copy). */
static void cache_objects(struct run *run)
{
	_cleanup_free_ char *dir = bl_state_path(&run->state, CACHE_DIR);
	if (!dir || bl_mkdir_p(dir, 0700) < 0)
		return;
	for (size_t i = 0; i < run->n_layers; i++) {
		struct layer *l = &run->layers[i];
		if (l->status != LAYER_PENDING || !l->obj.path || l->obj.unchanged)
			continue;
		_cleanup_free_ char *dst = bl_strdup_printf("%s/%s", dir, l->sha256);
		if (dst && link(l->obj.path, dst) < 0 && errno != EEXIST)
			bl_warn("cannot keep %s in %s: %s", l->name, dir, strerror(errno));
	}
}

/* Records this cycle's view and drops cached objects no longer in it. */
static void save_baseline(struct run *run, const char *fingerprint)
{
	json_t *objects = json_object();
	for (size_t i = 0; objects && i < run->n_layers; i++) {
		const struct layer *l = &run->layers[i];
		if (l->url && l->sha256[0])
			json_object_set_new(objects, l->url, json_pack("{s:s, s:s?}", "sha256", l->sha256,
								      "etag", l->obj.etag));
	}
	json_t *base = json_pack("{s:s, s:s, s:o*}", "instance_id", run->inst.instance_id,
				 "fingerprint", fingerprint, "objects", objects);
	_cleanup_free_ char *text = base ? json_dumps(base, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (!text || bl_state_write(&run->state, CONVERGE_STATE, text, strlen(text), 0600) < 0)
		bl_warn("could not save what this convergence cycle saw");
	_cleanup_free_ char *dir = bl_state_path(&run->state, CACHE_DIR);
	DIR *d = dir ? opendir(dir) : NULL;
	for (struct dirent *e; d && (e = readdir(d));) {
		bool used = false;
		for (size_t i = 0; i < run->n_layers && !used; i++)
			used = strcmp(run->layers[i].sha256, e->d_name) == 0;
		if (!used && e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
	json_decref(base);
}

/* The configure part of a cycle: fetch, compare, run if it should. */
static int converge_configure(struct run *run, enum bl_converge_outcome *outcome)
{
	time_t started = time(NULL);
	double t0 = bl_now_monotonic();
	live_save(run, NULL, 0, pending_layers(run));
	json_t *baseline = load_baseline(run);
	_cleanup_free_ char *tmp_dir = prepare_tmp(run);
	offer_etags(run, baseline);
	int r = tmp_dir ? fetch_layers(run, tmp_dir) : -BL_EIO;
	run->t.fetch = since(t0);
	_cleanup_free_ char *fingerprint = r == 0 ? plan_fingerprint(run) : NULL;
	if (r == 0 && !fingerprint)
		r = -BL_ENOMEM;
	bool always = strcmp(run->cfg->converge_mode, "always") == 0;
	const char *before = json_string_value(json_object_get(baseline, "fingerprint"));
	if (r == 0)
		cache_objects(run);
	if (r == 0 && !before && !always) {
		*outcome = BL_CONVERGE_BASELINE;
		bl_info("converge: first look at the configure layers of %s recorded; configure "
			"runs when a layer, a tag or the configuration changes", run->inst.instance_id);
		save_baseline(run, fingerprint);
	} else if (r == 0 && !always && strcmp(before, fingerprint) == 0) {
		*outcome = BL_CONVERGE_UNCHANGED;
		bl_info("converge: nothing changed");
	} else if (r == 0) {
		*outcome = BL_CONVERGE_CONFIGURED;
		bl_info("converge: %s; running configure", always ? "converge.mode is always"
			: "the layers, tags or configuration changed");
		log_run_start(run);
		r = run_fetched(run, r, started, t0);
		if (r == 0)
			save_baseline(run, fingerprint);
	} else {
		run_fetched(run, r, started, t0);  /* records the failed fetch */
	}
	json_decref(baseline);
	return r;
}

int bl_agent_converge(struct bl_config *cfg, const struct bl_agent_options *opts,
		      enum bl_converge_outcome *outcome)
{
	struct run run = { .cfg = cfg, .opts = opts, .state = { .lock_fd = -1 }, .t = TIMINGS_NONE };
	run.t.begin = bl_now_monotonic();
	*outcome = BL_CONVERGE_UNCHANGED;
	int r = open_state(&run);
	if (r == 0)
		r = resolve_instance(&run);
	bool setup = r == 0 && !setup_done(&run, NULL);
	run.event = setup ? "setup" : "configure";
	if (r == 0) {
		log_event(run.event);
		r = build_plan(&run);
	}
	if (r == 0 && setup) {
		*outcome = BL_CONVERGE_SETUP;
		log_run_start(&run);
		r = execute(&run);
	} else if (r == 0) {
		r = converge_configure(&run, outcome);
	}
	live_end(&run);
	log_event(NULL);
	run_free(&run);
	return r;
}
