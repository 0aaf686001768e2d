/* main.c - the bootlace command line: parses a command and its options,
 * loads the configuration and hands over to the subsystem that does the
 * work.  Exit codes are the contract documented in bootlace(8):
 * 0 ok, 1 a layer failed, 2 usage or config error, 3 datasource, AWS or network
 * error, 4 another bootlace holds the lock; `status --wait` exits 2 when it
 * gave up waiting. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "bootlace/agent.h"
#include "bootlace/config.h"
#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/daemon.h"
#include "bootlace/status.h"

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
};

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
	int (*run)(struct cli *cli, struct bl_config *cfg);
};

static const char common_options[] =
	"  -c, --config FILE     configuration file (default " BL_DEFAULT_CONFIG ");\n"
	"                        drop-ins are read from conf.d/ beside it\n"
	"  -s, --state-dir DIR   state directory (default: state_dir from the\n"
	"                        configuration, " BL_DEFAULT_STATE_DIR ")\n"
	"  -v, --verbose         also print debug messages\n"
	"  -q, --quiet           print errors only\n"
	"  -h, --help            show this help\n";

static int cmd_run(struct cli *cli, struct bl_config *cfg)
{
	cli->agent.state_dir = cli->state_dir;
	cli->agent.plan_out = stdout;
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
	cli->agent.state_dir = cli->state_dir;
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

static int cmd_check_config(struct cli *cli, struct bl_config *cfg)
{
	(void)cli;
	(void)cfg;
	printf("configuration OK\n");
	return 0;
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
	  "or every error as FILE:LINE:COL: message and exits with status 2.\n",
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
	fprintf(out, "  help COMMAND\n\nOptions of every command:\n%s\n", common_options);
	fprintf(out,
		"Exit status:\n"
		"  0  success (or nothing to do)\n"
		"  1  a layer failed (or could not be resolved or fetched); status:\n"
		"     an event failed\n"
		"  2  usage or configuration error; status --wait: gave up waiting\n"
		"  3  datasource, AWS or network error\n"
		"  4  another bootlace holds the state directory lock\n\n"
		"See bootlace(8) and bootlace.yaml(5).\n");
}

static void print_command_help(const struct command *c, FILE *out)
{
	fprintf(out, "Usage: bootlace %s [OPTIONS]\n\n%s\nOptions of every command:\n%s",
		c->synopsis, c->help, common_options);
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "bootlace: %s: %s\nTry 'bootlace --help'.\n", what, arg);
	return BL_EXIT_USAGE;
}

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
		{ 0 },
	};
	bool is_run = strcmp(c->name, "run") == 0, is_status = strcmp(c->name, "status") == 0;
	bool has_json = is_status || strcmp(c->name, "analyze") == 0;
	char *end;
	bool can_wait = is_run || strcmp(c->name, "converge") == 0 ||
			strcmp(c->name, "deploy") == 0 || strcmp(c->name, "undeploy") == 0;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:s:vqhe:nfwjt:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': cli->config_path = optarg; break;
		case 's': cli->state_dir = optarg; break;
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
		case ':':
			return usage_error("option needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
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
