/* daemon.c - the reconvergence daemon (daemon.h).
 *
 * Signals are blocked except inside the one wait of the loop (and the
 * runner's wait while a script runs), where handlers only set flags: every
 * decision is taken in the loop, never in a handler, and no signal can slip
 * in between a check and the wait.  systemd learns what the daemon does from
 * STATUS= lines; an operator reads them in `systemctl status bootlace`. */
#include "bootlace/daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "bootlace/error.h"
#include "bootlace/log.h"

static volatile sig_atomic_t got_term, got_hup, got_usr1;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

struct daemon {
	struct bl_config *cfg;
	const struct bl_daemon_options *opts;
	sigset_t wait_mask;       /* the mask with our signals unblocked */
	double watchdog;          /* seconds between WATCHDOG=1, 0 = off */
	double last_ping;
	bool ready;
	/* The instance as the last cycle saw it, IMDS token and credentials
	 * with it: a cycle then re-reads only the tags.  Dropped after a failed
	 * cycle and on reload, so the next one starts from scratch. */
	struct bl_instance keep;
};

static void notify_status(const char *fmt, ...) _printf_(1, 2);

static void notify_status(const char *fmt, ...)
{
	char status[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", status);
	bl_debug("status: %s", status);
}

static void ping_watchdog(void *ctx)
{
	struct daemon *d = ctx;
	if (d->watchdog > 0) {
		sd_notify(0, "WATCHDOG=1");
		d->last_ping = bl_now_monotonic();
	}
}

/* The daemon, for bl_keepalive(), which has no context argument. */
static struct daemon *the_daemon;

/* Pings the watchdog when half its period has passed since the last ping. */
static void keepalive(void)
{
	struct daemon *d = the_daemon;
	if (d && d->watchdog > 0 && bl_now_monotonic() >= d->last_ping + d->watchdog)
		ping_watchdog(d);
}

static void on_layer_start(void *ctx, const char *event, const char *layer)
{
	(void)ctx;
	notify_status("%s: running %s", event, layer);
}

/* "4m12s", "37s". */
static void format_interval(double seconds, char *buf, size_t len)
{
	unsigned s = seconds > 0 ? (unsigned)(seconds + 0.5) : 0;
	if (s >= 60)
		snprintf(buf, len, "%um%02us", s / 60, s % 60);
	else
		snprintf(buf, len, "%us", s);
}

/* Uniform in [0, splay] seconds, so a fleet booted at once spreads out. */
static double random_splay(unsigned splay)
{
	unsigned rnd = 0;
	if (!splay)
		return 0;
	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		rnd = (unsigned)rand();
	return (double)splay * ((double)rnd / 4294967295.0);
}

/* Is the whole system going down (rather than bootlace alone stopped or
 * restarted)?  systemd's SystemState says "stopping" then. */
static bool system_is_stopping(void)
{
	sd_bus *bus = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	char *state = NULL;
	bool stopping = false;
	if (sd_bus_open_system(&bus) >= 0 &&
	    sd_bus_get_property_string(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
				       "org.freedesktop.systemd1.Manager", "SystemState",
				       &error, &state) >= 0)
		stopping = strcmp(state, "stopping") == 0;
	free(state);
	sd_bus_error_free(&error);
	sd_bus_flush_close_unref(bus);
	return stopping;
}

static bool run_shutdown_event(const struct bl_config *cfg)
{
	if (strcmp(cfg->shutdown_on_stop, "always") == 0)
		return true;
	if (strcmp(cfg->shutdown_on_stop, "never") == 0)
		return false;
	return system_is_stopping();
}

static void reload_config(struct daemon *d)
{
	struct bl_config fresh;
	struct bl_config_diags diags = {0};
	int r = bl_config_init(&fresh);
	if (r == 0)
		r = bl_config_load(&fresh, d->opts->config_path, d->opts->config_must_exist, &diags);
	if (r < 0) {
		bl_config_diags_print(&diags, stderr);
		bl_err("SIGHUP: %s not reloaded (%s); keeping the configuration in use",
		       d->opts->config_path, bl_strerror(r));
		bl_config_free(&fresh);
	} else {
		bl_config_free(d->cfg);
		*d->cfg = fresh;
		bl_instance_free(&d->keep);
		if (!d->opts->log_level_fixed)
			bl_log_set_level(bl_log_level_from_name(d->cfg->log_level));
		bl_info("SIGHUP: configuration reloaded from %s", d->opts->config_path);
	}
	bl_config_diags_free(&diags);
}

static struct bl_agent_options agent_options(struct daemon *d, struct bl_agent_hooks *hooks,
					    const char *event)
{
	*hooks = (struct bl_agent_hooks){
		.layer_start = on_layer_start, .ctx = d,
		.stop = &got_term, .wait_mask = &d->wait_mask,
	};
	if (d->watchdog > 0) {
		hooks->tick = ping_watchdog;
		hooks->tick_interval = d->watchdog >= 2 ? (unsigned)d->watchdog : 1;
	}
	return (struct bl_agent_options){
		.event = event, .state_dir = d->opts->state_dir, .wait_lock = true, .hooks = hooks,
		.keep = &d->keep,
	};
}

/* One cycle: setup until it has succeeded, then convergence.  Returns what
 * the next STATUS= should say about it (static text). */
static void cycle(struct daemon *d, char *what, size_t len)
{
	struct bl_agent_hooks hooks;
	struct bl_agent_options o;
	int r;
	if (!d->ready) {
		o = agent_options(d, &hooks, "setup");
		notify_status("setup: starting");
		r = bl_agent_run(d->cfg, &o);
		if (r == 0) {
			d->ready = true;
			sd_notify(0, "READY=1");
			snprintf(what, len, "setup done");
		} else {
			bl_instance_free(&d->keep);
			snprintf(what, len, "setup failed (%s)",
				 hooks.failure[0] ? hooks.failure : bl_strerror(r));
		}
		return;
	}
	enum bl_converge_outcome outcome;
	o = agent_options(d, &hooks, NULL);
	notify_status("converging");
	r = bl_agent_converge(d->cfg, &o, &outcome);
	if (r < 0) {
		bl_instance_free(&d->keep);
		snprintf(what, len, "converge failed (%s)",
			 hooks.failure[0] ? hooks.failure : bl_strerror(r));
	} else {
		snprintf(what, len, "%s", outcome == BL_CONVERGE_CONFIGURED ? "configured"
					  : outcome == BL_CONVERGE_BASELINE ? "layers recorded"
					  : "no change");
	}
}

/* Sleeps until deadline or a signal, pinging the watchdog on the way. */
static void wait_until(struct daemon *d, double deadline)
{
	for (;;) {
		double now = bl_now_monotonic();
		if (got_term || got_hup || got_usr1 || now >= deadline)
			return;
		double wake = deadline;
		if (d->watchdog > 0) {
			if (now >= d->last_ping + d->watchdog)
				ping_watchdog(d);
			if (d->last_ping + d->watchdog < wake)
				wake = d->last_ping + d->watchdog;
		}
		double s = wake - now;
		struct timespec ts = { .tv_sec = (time_t)s,
				       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };
		if (ppoll(NULL, 0, &ts, &d->wait_mask) < 0 && errno != EINTR) {
			bl_err("daemon: ppoll: %s", strerror(errno));
			return;
		}
	}
}

int bl_daemon_run(struct bl_config *cfg, const struct bl_daemon_options *opts)
{
	struct daemon d = { .cfg = cfg, .opts = opts };
	sigset_t ours;
	uint64_t usec = 0;
	sigemptyset(&ours);
	sigaddset(&ours, SIGTERM);
	sigaddset(&ours, SIGINT);
	sigaddset(&ours, SIGHUP);
	sigaddset(&ours, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &ours, &d.wait_mask) < 0)
		return -BL_EIO;
	sigdelset(&d.wait_mask, SIGTERM);
	sigdelset(&d.wait_mask, SIGINT);
	sigdelset(&d.wait_mask, SIGHUP);
	sigdelset(&d.wait_mask, SIGUSR1);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* Half the watchdog period, so that one late ping is not fatal. */
	if (sd_watchdog_enabled(0, &usec) > 0)
		d.watchdog = (double)usec / 2e6;
	the_daemon = &d;
	bl_set_keepalive(keepalive);
	bl_info("daemon: converging every %us plus up to %us of splay (converge.mode %s)%s",
		cfg->converge_interval, cfg->converge_splay, cfg->converge_mode,
		d.watchdog > 0 ? ", watchdog on" : "");
	ping_watchdog(&d);

	/* Setup (or finding it done) at once; every later cycle one interval
	 * after the last, never a burst at boot. */
	double next = bl_now_monotonic();
	char what[320] = "starting";
	while (!got_term) {
		if (got_hup) {
			got_hup = 0;
			reload_config(&d);
			next = bl_now_monotonic();
		}
		if (got_usr1) {
			got_usr1 = 0;
			bl_info("SIGUSR1: converging now");
			next = bl_now_monotonic();
		}
		if (bl_now_monotonic() >= next) {
			cycle(&d, what, sizeof(what));
			if (got_term)
				break;
			next = bl_now_monotonic() + cfg->converge_interval +
			       random_splay(cfg->converge_splay);
		}
		char in[32];
		format_interval(next - bl_now_monotonic(), in, sizeof(in));
		if (d.ready)
			notify_status("idle (%s), next check in %s", what, in);
		else
			notify_status("%s, retrying in %s", what, in);
		wait_until(&d, next);
	}

	sd_notify(0, "STOPPING=1");
	if (run_shutdown_event(cfg)) {
		struct bl_agent_hooks hooks;
		struct bl_agent_options o = agent_options(&d, &hooks, "shutdown");
		hooks.stop = NULL;   /* the SIGTERM that got us here is not for it */
		notify_status("shutdown: running the shutdown event");
		bl_info("daemon: stopping (shutdown.on_stop: %s); running the shutdown event",
			cfg->shutdown_on_stop);
		int r = bl_agent_run(cfg, &o);
		if (r < 0)
			bl_err("shutdown event: %s", hooks.failure[0] ? hooks.failure : bl_strerror(r));
	}
	bl_instance_free(&d.keep);
	bl_info("daemon: stopped");
	bl_set_keepalive(NULL);
	the_daemon = NULL;
	return 0;
}
