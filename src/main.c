/* main.c - the bootlace command line: parses a command and its options,
 * loads the configuration and hands over to the subsystem that does the
 * work.  Exit codes are the contract documented in bootlace(8):
 * 0 ok, 1 a layer failed (or was refused: its signature), 2 usage or config
 * error, 3 datasource, AWS or network error, 4 another bootlace holds the
 * lock; `status --wait` exits 2 when it gave up waiting. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "bootlace/agent.h"
#include "bootlace/config.h"
#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/daemon.h"
#include "bootlace/signature.h"
#include "bootlace/status.h"
#include "bootlace/userdata.h"

/* What sign and verify read whole: the largest object a layer may be
 * (s3.max_object_size's ceiling). */
#define SIGNED_FILE_MAX (1024u * 1024 * 1024)

struct cli {
	const char *command;
	const char *config_path;
	const char *state_dir;
	struct bl_agent_options agent;
	bool json;
	bool wait_setup;    /* status --wait */
	long timeout;       /* status --wait --timeout, -1 = run.timeout */
	int verbosity;  /* -1 quiet, 0 from config, 1 debug */
	int exit_status;    /* >= 0: the command's own exit status (status --wait) */
	const char *out_prefix;   /* keygen --out */
	const char *key_path;     /* sign --key */
	const char *keys_pattern; /* verify --keys */
	bool user_data;           /* sign/verify --user-data */
	char **files;             /* sign/verify FILE... */
	int n_files;
};

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
	int (*run)(struct cli *cli, struct bl_config *cfg);
};

static const char config_options[] =
	"  -c, --config FILE     configuration file (default " BL_DEFAULT_CONFIG ");\n"
	"                        drop-ins are read from conf.d/ beside it\n"
	"  -s, --state-dir DIR   state directory (default: state_dir from the\n"
	"                        configuration, " BL_DEFAULT_STATE_DIR ")\n";

static const char general_options[] =
	"  -v, --verbose         also print debug messages\n"
	"  -q, --quiet           print errors only\n"
	"  -h, --help            show this help\n";

/* SIGTERM, SIGINT (^C) or SIGHUP during a run.  Before any script has
 * started there is nothing to clean up: bootlace dies as it would without a
 * handler (a partial download never runs, and the next run starts over).
 * Once scripts run, the signal stops the run instead, as the daemon's does:
 * the script's process group gets SIGTERM, then SIGKILL after
 * run.kill_grace, no further layer starts, and the run is recorded. */
static volatile sig_atomic_t stop_requested, scripts_started;

static void on_stop_signal(int sig)
{
	if (!scripts_started) {
		signal(sig, SIG_DFL);
		raise(sig);  /* delivered once this handler returns */
		return;
	}
	stop_requested = 1;
}

static void on_layer_start(void *ctx, const char *event, const char *layer)
{
	(void)ctx;
	(void)event;
	(void)layer;
	scripts_started = 1;
}

static void stop_on_signals(struct cli *cli, struct bl_agent_hooks *hooks)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		sigaction(signals[i], &sa, NULL);
	*hooks = (struct bl_agent_hooks){ .layer_start = on_layer_start, .stop = &stop_requested };
	cli->agent.hooks = hooks;
}

static int cmd_run(struct cli *cli, struct bl_config *cfg)
{
	struct bl_agent_hooks hooks;
	cli->agent.state_dir = cli->state_dir;
	cli->agent.plan_out = stdout;
	stop_on_signals(cli, &hooks);
	return bl_agent_run(cfg, &cli->agent);
}

static int cmd_event(struct cli *cli, struct bl_config *cfg, const char *event)
{
	cli->agent.event = event;
	return cmd_run(cli, cfg);
}

static int cmd_deploy(struct cli *cli, struct bl_config *cfg)
{
	return cmd_event(cli, cfg, "deploy");
}

static int cmd_undeploy(struct cli *cli, struct bl_config *cfg)
{
	return cmd_event(cli, cfg, "undeploy");
}

static int cmd_converge(struct cli *cli, struct bl_config *cfg)
{
	enum bl_converge_outcome outcome;
	struct bl_agent_hooks hooks;
	cli->agent.state_dir = cli->state_dir;
	stop_on_signals(cli, &hooks);
	return bl_agent_converge(cfg, &cli->agent, &outcome);
}

static int cmd_daemon(struct cli *cli, struct bl_config *cfg)
{
	struct bl_daemon_options o = {
		.config_path = cli->config_path ? cli->config_path : BL_DEFAULT_CONFIG,
		.config_must_exist = cli->config_path != NULL,
		.state_dir = cli->state_dir,
		.log_level_fixed = cli->verbosity != 0,
	};
	return bl_daemon_run(cfg, &o);
}

/* Loads the trusted keys of pattern, saying what is wrong with them. */
static int load_keys(const char *pattern, struct bl_keyring **keys)
{
	char *msg = NULL;
	int r = bl_keyring_load(pattern, keys, &msg);
	if (r < 0)
		bl_err("trusted keys: %s", msg ? msg : bl_strerror(r));
	free(msg);
	return r;
}

/* With signatures required, the keys are part of the configuration: they
 * are checked as a run would load them. */
static int cmd_check_config(struct cli *cli, struct bl_config *cfg)
{
	struct bl_keyring *keys = NULL;
	(void)cli;
	if (cfg->require_signature || cfg->require_signed_user_data) {
		int r = load_keys(cfg->trusted_keys, &keys);
		if (r < 0)
			return r;
	}
	printf("configuration OK\n");
	for (size_t i = 0; keys && i < bl_keyring_count(keys); i++)
		printf("trusted key %s %s\n", bl_keyring_key_id(keys, i),
		       bl_keyring_key_path(keys, i));
	bl_keyring_free(keys);
	return 0;
}

static int cmd_keygen(struct cli *cli, struct bl_config *cfg)
{
	char id[BL_KEY_ID_LEN + 1];
	char *msg = NULL;
	(void)cfg;
	int r = bl_keygen(cli->out_prefix, id, &msg);
	if (r < 0)
		bl_err("keygen: %s", msg ? msg : bl_strerror(r));
	else
		printf("key %s: private key %s.key (keep it off instances), public key %s.pub "
		       "(install it in /etc/bootlace/keys.d/)\n", id, cli->out_prefix,
		       cli->out_prefix);
	free(msg);
	return r;
}

/* Reads file whole for sign and verify. */
static int read_signed_file(const char *file, struct bl_buf *body)
{
	int r = bl_read_file(file, SIGNED_FILE_MAX, body);
	if (r < 0)
		bl_err("cannot read %s: %s", file, r == -BL_ETOOBIG ? "larger than 1 GiB"
			: r == -BL_ENOTFOUND ? "no such file" : strerror(errno));
	return r;
}

/* Writes FILE.sig, or with --user-data FILE.signed: FILE and its signature
 * line (on a line of its own: a missing final newline is added, and signed). */
static int sign_file(const struct bl_signing_key *key, const char *file, bool user_data)
{
	_cleanup_(bl_buf_free) struct bl_buf body = {0};
	_cleanup_(bl_buf_free) struct bl_buf out = {0};
	struct bl_signature sig;
	int r = read_signed_file(file, &body);
	if (r < 0)
		return r;
	if (user_data && body.len >= 2 && memcmp(body.data, "\x1f\x8b", 2) == 0) {
		bl_err("%s is gzip data: sign the user data itself, then compress %s.signed",
		       file, file);
		return -BL_EUSAGE;
	}
	if (user_data && body.len && body.data[body.len - 1] != '\n')
		r = bl_buf_append(&body, "\n", 1);
	if (r == 0)
		r = bl_sign(key, body.data, body.len, &sig);
	if (r == 0 && user_data)
		r = bl_buf_append(&out, body.data, body.len);
	if (r == 0)
		r = user_data ? bl_signature_format_inline(&sig, &out) : bl_signature_format(&sig, &out);
	_cleanup_free_ char *dst = bl_strdup_printf("%s%s", file, user_data ? ".signed"
									  : BL_SIGNATURE_SUFFIX);
	if (r < 0 || !dst)
		return -BL_ENOMEM;
	/* Signed user data is user data, which may hold secrets. */
	r = bl_write_file_atomic(dst, out.data, out.len, user_data ? 0600 : 0644);
	if (r == 0)
		printf("%s: signed by key %s\n", dst, sig.key_id);
	return r;
}

static int cmd_sign(struct cli *cli, struct bl_config *cfg)
{
	struct bl_signing_key *key = NULL;
	char *msg = NULL;
	(void)cfg;
	int r = bl_signing_key_load(cli->key_path, &key, &msg);
	if (r < 0)
		bl_err("%s", msg ? msg : bl_strerror(r));
	free(msg);
	for (int i = 0; r == 0 && i < cli->n_files; i++)
		r = sign_file(key, cli->files[i], cli->user_data);
	bl_signing_key_free(key);
	return r;
}

/* Checks FILE against FILE.sig, or with --user-data against its last line
 * once inflated if it is gzip, as a run reads user data. */
static int verify_file(const struct bl_keyring *keys, const char *file, bool user_data)
{
	_cleanup_(bl_buf_free) struct bl_buf body = {0};
	_cleanup_(bl_buf_free) struct bl_buf sig_text = {0};
	_cleanup_free_ char *sig_path = bl_strdup_printf("%s" BL_SIGNATURE_SUFFIX, file);
	_cleanup_free_ char *why = NULL;
	struct bl_signature sig;
	size_t len = 0;
	const char *what = file;  /* what why is about */
	int r = sig_path ? read_signed_file(file, &body) : -BL_ENOMEM;
	if (r < 0)
		return r;
	if (user_data) {
		enum bl_userdata_kind kind;
		r = bl_userdata_decode(body.data, body.len, &body, &kind);
		if (r < 0)
			why = strdup(r == -BL_ETOOBIG ? "inflates past the 1 MiB limit of user data"
				     : "corrupt or truncated gzip data");
		else
			r = bl_signature_split_inline(body.data, body.len, &len, &sig, &why);
	} else {
		len = body.len;
		what = sig_path;
		r = bl_read_file(sig_path, BL_SIGNATURE_MAX_SIZE, &sig_text);
		if (r == -BL_ENOTFOUND || r == -BL_ETOOBIG)
			why = strdup(r == -BL_ENOTFOUND ? "no such file"
				     : "larger than any signature object");
		else if (r < 0)
			why = bl_strdup_printf("cannot read it: %s", strerror(errno));
		else
			r = bl_signature_parse(sig_text.data, sig_text.len, &sig, &why);
		r = r == -BL_ENOTFOUND || r == -BL_ETOOBIG ? -BL_ESIGNATURE : r;
	}
	if (r == 0) {
		what = file;
		r = bl_keyring_verify(keys, body.data, len, &sig, &why);
	}
	if (r == 0)
		printf("%s: good signature by trusted key %s\n", file, sig.key_id);
	else
		bl_err("%s: refused: %s%s%s", file, what == file ? "" : what,
		       what == file ? "" : ": ", why ? why : bl_strerror(r));
	return r;
}

/* Every file is checked, even after one failed; the first failure counts. */
static int cmd_verify(struct cli *cli, struct bl_config *cfg)
{
	struct bl_keyring *keys = NULL;
	int first = 0;
	int r = load_keys(cli->keys_pattern ? cli->keys_pattern : cfg->trusted_keys, &keys);
	for (int i = 0; r == 0 && i < cli->n_files; i++) {
		int v = verify_file(keys, cli->files[i], cli->user_data);
		r = v == -BL_ENOMEM ? v : 0;
		first = first ? first : v;
	}
	bl_keyring_free(keys);
	return r < 0 ? r : first;
}

/* --wait without --timeout waits as long as one layer may run
 * (run.timeout): a shorter default would give up on a setup that is still
 * within its own limits, and a run stuck past them is bootlace's to stop. */
static int cmd_status(struct cli *cli, struct bl_config *cfg)
{
	const char *dir = cli->state_dir ? cli->state_dir : cfg->state_dir;
	if (!cli->wait_setup)
		return bl_status_print(dir, cli->json, stdout);
	double timeout = cli->timeout >= 0 ? (double)cli->timeout : (double)cfg->run_timeout;
	int r = bl_status_wait(dir, cli->json, timeout, BL_STATUS_WAIT_GRACE, stdout);
	/* Waiting in vain is its own exit status, whatever the reason. */
	if (r == -BL_ETIMEOUT)
		cli->exit_status = BL_EXIT_USAGE;
	return r;
}

static int cmd_analyze(struct cli *cli, struct bl_config *cfg)
{
	return bl_analyze_print(cli->state_dir ? cli->state_dir : cfg->state_dir, cli->json, stdout);
}

static const struct command commands[] = {
	{ "run", "run [--event NAME] [--dry-run] [--force] [--wait]",
	  "Runs one event's layers: base, role and environment from the configured\n"
	  "source, then a user-data script.\n"
	  "Without --event it runs `setup`, once per instance id: a second run on the\n"
	  "same instance does nothing (and says so) unless --force.\n\n"
	  "  -e, --event NAME      setup (default), configure, deploy, undeploy, shutdown\n"
	  "  -n, --dry-run         print the plan (instance, tags, each layer's source\n"
	  "                        and order); fetch and run nothing\n"
	  "  -f, --force           run setup even if it already completed on this\n"
	  "                        instance id\n"
	  "  -w, --wait            wait for another bootlace to finish instead of\n"
	  "                        exiting with status 4\n",
	  cmd_run },
	{ "daemon", "daemon",
	  "Runs setup if it has not completed on this instance (retrying a failed\n"
	  "setup every converge.interval), then every converge.interval plus up to\n"
	  "converge.splay seconds one convergence cycle (see `converge`).  Made for\n"
	  "systemd (Type=notify): READY=1 once setup succeeded, STATUS= always,\n"
	  "WATCHDOG=1 when WatchdogSec is set.  SIGHUP re-reads the configuration\n"
	  "and converges now; SIGUSR1 converges now; SIGTERM stops a running script\n"
	  "and, when the system is shutting down (shutdown.on_stop), runs the\n"
	  "shutdown event before exiting.\n",
	  cmd_daemon },
	{ "converge", "converge [--wait]",
	  "One convergence cycle, for a timer instead of the daemon: setup if it has\n"
	  "not completed on this instance; else re-resolve tags and layers, fetch the\n"
	  "configure scripts with conditional GETs (an unchanged object costs a 304)\n"
	  "and run `configure` when a layer, a tag or the configuration changed\n"
	  "(converge.mode: on-change) or every time (always).  The first cycle only\n"
	  "records what the layers are.\n\n"
	  "  -w, --wait            wait for another bootlace to finish instead of\n"
	  "                        exiting with status 4\n",
	  cmd_converge },
	{ "deploy", "deploy [--wait]",
	  "Runs the deploy event's layers now (e.g. from SSM Run Command or CI).\n\n"
	  "  -w, --wait            wait for another bootlace to finish instead of\n"
	  "                        exiting with status 4\n",
	  cmd_deploy },
	{ "undeploy", "undeploy [--wait]",
	  "Runs the undeploy event's layers now.\n\n"
	  "  -w, --wait            wait for another bootlace to finish instead of\n"
	  "                        exiting with status 4\n",
	  cmd_undeploy },
	{ "check-config", "check-config",
	  "Reads the configuration (file, drop-ins) and prints `configuration OK`,\n"
	  "or every error as FILE:LINE:COL: message and exits with status 2.  When\n"
	  "signatures are required (security.*), it also loads the trusted keys as a\n"
	  "run would and lists them (id and file), or says which key file is\n"
	  "refused and why.\n",
	  cmd_check_config },
	{ "status", "status [--json] [--wait [--timeout S]]",
	  "Shows each event's state (not started; running, and which layer; done;\n"
	  "failed, and which layer and why; interrupted: its process is gone) and\n"
	  "its last run: every layer's status, exit code, duration and sha256, and\n"
	  "the run log; then an overall state.  Exits 1 when some event failed or\n"
	  "was interrupted.  Reads the state directory only.\n\n"
	  "  -j, --json            print the states and records as JSON\n"
	  "  -w, --wait            wait until setup is done (exit 0) or has failed\n"
	  "                        (exit 1), then show the status; exit 2 on timeout,\n"
	  "                        or when setup has not finished and no bootlace has\n"
	  "                        been running for 5 seconds\n"
	  "  -t, --timeout S       wait at most S seconds (default: run.timeout)\n",
	  cmd_status },
	{ "analyze", "analyze [--json]",
	  "Shows where the time of each event's last run went, longest first: the\n"
	  "datasource (IMDS or seed, tags, user data), waiting for the state lock,\n"
	  "the plan, the fetch of every layer at once (what became of each object),\n"
	  "writing the scripts, each layer's script, what is left unaccounted, and\n"
	  "the total.\n\n"
	  "  -j, --json            print the numbers as JSON\n",
	  cmd_analyze },
	{ "keygen", "keygen --out PREFIX",
	  "Makes a new Ed25519 key pair to sign layers with: PREFIX.key, the private\n"
	  "key (mode 0600: keep it in the release pipeline's secret store, never on\n"
	  "an instance), and PREFIX.pub, the public key to install in\n"
	  "/etc/bootlace/keys.d/ (security.trusted_keys).  Prints the key id.  Never\n"
	  "replaces an existing file.  Reads no configuration, needs no network.\n\n"
	  "  -o, --out PREFIX      write PREFIX.key and PREFIX.pub\n",
	  cmd_keygen },
	{ "sign", "sign --key PRIVATE.pem [--user-data] FILE...",
	  "Signs each FILE with the private key and writes FILE.sig, the signature\n"
	  "object to upload next to FILE (security.require_signature).  With\n"
	  "--user-data, writes FILE.signed instead (mode 0600): FILE ending in a\n"
	  "signature line, to pass as user data (security.require_signed_user_data;\n"
	  "compress it afterwards if you like).  Reads no configuration, needs no\n"
	  "network.\n\n"
	  "  -k, --key FILE        the private key (keygen's PREFIX.key; mode 0600)\n"
	  "      --user-data       sign user data: write FILE.signed\n",
	  cmd_sign },
	{ "verify", "verify [--keys PATTERN] [--user-data] FILE...",
	  "Checks each FILE against FILE.sig with the trusted keys and prints the id\n"
	  "of the key that signed it; exits 0 when every FILE verifies, 1 when one\n"
	  "does not.  With --user-data, checks the signature line that ends FILE\n"
	  "(inflated first if it is gzip), as a run checks user data.  Needs no\n"
	  "network; the configuration is read only for security.trusted_keys, and\n"
	  "a missing default configuration file is fine.\n\n"
	  "      --keys PATTERN    trusted keys: a file or a glob (default:\n"
	  "                        security.trusted_keys, " BL_DEFAULT_TRUSTED_KEYS ")\n"
	  "      --user-data       FILE is signed user data (sign --user-data)\n",
	  cmd_verify },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_usage(FILE *out)
{
	fprintf(out,
		"Usage: bootlace COMMAND [OPTIONS]\n"
		"       bootlace --version | --help | help COMMAND\n\n"
		"bootlace bootstraps a cloud instance at boot: it finds out who the instance\n"
		"is, fetches its base, role and environment scripts and runs them in order.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %s\n", commands[i].synopsis);
	fprintf(out, "  help COMMAND\n\nOptions of every command (keygen and sign take only "
		"-v, -q, -h):\n%s%s\n", config_options, general_options);
	fprintf(out,
		"Exit status:\n"
		"  0  success (or nothing to do)\n"
		"  1  a layer failed (or could not be resolved or fetched, or was refused:\n"
		"     its signature is missing or does not verify); status: an event\n"
		"     failed; verify: a file does not verify\n"
		"  2  usage or configuration error; status --wait: gave up waiting\n"
		"  3  datasource, AWS or network error\n"
		"  4  another bootlace holds the state directory lock\n\n"
		"See bootlace(8) and bootlace.yaml(5).\n");
}

/* keygen and sign work on a release machine, where bootlace is not
 * configured: they read no configuration (their cfg is NULL). */
static bool reads_config(const struct command *c)
{
	return strcmp(c->name, "keygen") != 0 && strcmp(c->name, "sign") != 0;
}

static void print_command_help(const struct command *c, FILE *out)
{
	fprintf(out, "Usage: bootlace %s [OPTIONS]\n\n%s\nOptions of every command:\n%s%s",
		c->synopsis, c->help, reads_config(c) ? config_options : "", general_options);
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "bootlace: %s: %s\nTry 'bootlace --help'.\n", what, arg);
	return BL_EXIT_USAGE;
}

/* Long options without a short one. */
enum { OPT_KEYS = 256, OPT_USER_DATA };

/* Parses the options after the command name.  Returns -1 to go on, or an
 * exit status. */
static int parse_options(struct cli *cli, const struct command *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "event", required_argument, NULL, 'e' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "wait", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "user-data", no_argument, NULL, OPT_USER_DATA },
		{ 0 },
	};
	bool is_run = strcmp(c->name, "run") == 0, is_status = strcmp(c->name, "status") == 0;
	bool is_sign = strcmp(c->name, "sign") == 0, is_verify = strcmp(c->name, "verify") == 0;
	bool has_json = is_status || strcmp(c->name, "analyze") == 0;
	char *end;
	bool can_wait = is_run || strcmp(c->name, "converge") == 0 ||
			strcmp(c->name, "deploy") == 0 || strcmp(c->name, "undeploy") == 0;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:s:vqhe:nfwjt:o:k:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': case 's':
			if (!reads_config(c))
				return usage_error("keygen and sign read no configuration",
						   opt == 'c' ? "--config" : "--state-dir");
			if (opt == 'c') cli->config_path = optarg;
			if (opt == 's') cli->state_dir = optarg;
			break;
		case 'v': cli->verbosity = 1; break;
		case 'q': cli->verbosity = -1; break;
		case 'h': print_command_help(c, stdout); return BL_EXIT_OK;
		case 'w':
			if (!can_wait && !is_status)
				return usage_error("this option is not for this command",
						   argv[optind - 1]);
			cli->agent.wait_lock = can_wait;
			cli->wait_setup = is_status;
			break;
		case 't':
			if (!is_status)
				return usage_error("this option is only for `status --wait`",
						   argv[optind - 1]);
			errno = 0;
			cli->timeout = strtol(optarg, &end, 10);
			if (!isdigit((unsigned char)optarg[0]) || *end || errno || cli->timeout > 604800)
				return usage_error("--timeout needs whole seconds (0 to 604800)", optarg);
			break;
		case 'e': case 'n': case 'f':
			if (!is_run)
				return usage_error("this option is only for `run`", argv[optind - 1]);
			if (opt == 'e') cli->agent.event = optarg;
			if (opt == 'n') cli->agent.dry_run = true;
			if (opt == 'f') cli->agent.force = true;
			break;
		case 'j':
			if (!has_json)
				return usage_error("this option is only for `status` and `analyze`",
						   argv[optind - 1]);
			cli->json = true;
			break;
		case 'o':
			if (strcmp(c->name, "keygen") != 0)
				return usage_error("this option is only for `keygen`", argv[optind - 1]);
			cli->out_prefix = optarg;
			break;
		case 'k':
			if (!is_sign)
				return usage_error("this option is only for `sign`", argv[optind - 1]);
			cli->key_path = optarg;
			break;
		case OPT_KEYS:
			if (!is_verify)
				return usage_error("this option is only for `verify`", argv[optind - 1]);
			cli->keys_pattern = optarg;
			break;
		case OPT_USER_DATA:
			if (!is_sign && !is_verify)
				return usage_error("this option is only for `sign` and `verify`",
						   argv[optind - 1]);
			cli->user_data = true;
			break;
		case ':':
			return usage_error("option needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc && !is_sign && !is_verify)
		return usage_error("unexpected argument", argv[optind]);
	cli->files = argv + optind;
	cli->n_files = argc - optind;
	if ((is_sign || is_verify) && !cli->n_files)
		return usage_error("no FILE given; usage", c->synopsis);
	if (is_sign && !cli->key_path)
		return usage_error("no --key given; usage", c->synopsis);
	if (strcmp(c->name, "keygen") == 0 && !cli->out_prefix)
		return usage_error("no --out given; usage", c->synopsis);
	if (cli->timeout >= 0 && !cli->wait_setup)
		return usage_error("--timeout goes with --wait", "--timeout");
	if (cli->agent.event && !bl_event_is_known(cli->agent.event))
		return usage_error("unknown event (setup, configure, deploy, undeploy, shutdown)",
				   cli->agent.event);
	return -1;
}

static int run_command(struct cli *cli, const struct command *c)
{
	struct bl_config cfg;
	struct bl_config_diags diags = {0};
	if (!reads_config(c))
		return bl_exit_code(c->run(cli, NULL));
	int r = bl_config_init(&cfg);
	if (r == 0)
		r = bl_config_load(&cfg, cli->config_path ? cli->config_path : BL_DEFAULT_CONFIG,
				   cli->config_path != NULL, &diags);
	bl_config_diags_print(&diags, stderr);
	bl_config_diags_free(&diags);
	if (r < 0) {
		bl_config_free(&cfg);
		return bl_exit_code(r);
	}
	if (cli->verbosity == 0)
		bl_log_set_level(bl_log_level_from_name(cfg.log_level));
	r = c->run(cli, &cfg);
	bl_config_free(&cfg);
	return cli->exit_status >= 0 ? cli->exit_status : bl_exit_code(r);
}

int main(int argc, char **argv)
{
	struct cli cli = { .timeout = -1, .exit_status = -1 };
	/* Nothing bootlace holds (user data, later credentials) belongs in a
	 * core file. */
	prctl(PR_SET_DUMPABLE, 0);
	umask(077);
	bl_log_init(BL_LOG_INFO);
	if (argc < 2) {
		print_usage(stderr);
		return BL_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
		printf("bootlace %s\n", BOOTLACE_VERSION);
		return BL_EXIT_OK;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		print_usage(stdout);
		return BL_EXIT_OK;
	}
	if (strcmp(name, "help") == 0) {
		if (argc < 3) {
			print_usage(stdout);
			return BL_EXIT_OK;
		}
		const struct command *c = find_command(argv[2]);
		if (!c)
			return usage_error("no such command", argv[2]);
		print_command_help(c, stdout);
		return BL_EXIT_OK;
	}
	const struct command *c = find_command(name);
	if (!c)
		return usage_error("unknown command", name);
	int r = parse_options(&cli, c, argc - 1, argv + 1);
	if (r >= 0)
		return r;
	if (cli.verbosity)
		bl_log_set_level(cli.verbosity > 0 ? BL_LOG_DEBUG : BL_LOG_ERR);
	return run_command(&cli, c);
}
