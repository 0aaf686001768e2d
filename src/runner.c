/* runner.c - runs one layer script and reports how it ended.
 *
 * Layer scripts are downloaded and run as root at boot, so the child starts
 * from nothing it was not given: its own process group (a timeout reaches
 * everything it started), stdin from /dev/null, default signal handling, no
 * inherited descriptors, only the environment in the spec.  The parent reads
 * stdout and stderr line by line with poll() and leaves its own signal state
 * as it found it. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bootlace/error.h"
#include "bootlace/log.h"
#include "bootlace/runner.h"
#include "bootlace/util.h"

/* Longer lines are logged in pieces of this many bytes. */
#define LINE_MAX_BYTES 4096
/* How long output is still read after the script exited: background
 * processes may hold its pipes open for good. */
#define DRAIN_SECS 1.0
/* How often to check for the child's exit when there is no pidfd_open()
 * (Linux < 5.3). */
#define REAP_TICK_SECS 0.05
/* How often a stop flag set without a wait mask (runner.h) is looked at. */
#define STOP_POLL_SECS 0.5

struct stream {
	int fd;          /* read end of the pipe, -1 once closed */
	bool is_stderr;
	size_t len;
	char buf[LINE_MAX_BYTES + 2];  /* a whole line, its newline, a NUL */
};

struct run {
	const struct bl_run_spec *spec;
	struct stream streams[2];  /* stdout, stderr */
	pid_t pid;                 /* also the process group id */
	int pidfd;                 /* readable once the child exited, or -1 */
	int status;
	bool reaped;
	bool termed;               /* the group got SIGTERM (timeout or stop) */
	bool timed_out;
	bool stopped;              /* ended because spec->stop was set */
	bool killed;
	double next_tick;          /* when spec->tick is due */
	double deadline;           /* of the next SIGTERM or SIGKILL, 0 = none */
	double drain_until;        /* when to give up on the pipes, once reaped */
	bool log_failed;           /* writing log_fd failed; stop trying */
};

/* From here to execve() only async-signal-safe calls: the parent may have
 * threads, and a lock one of them held would stay held in the child. */

/* Tells the parent what went wrong, through the stderr pipe (fd), so it is
 * logged like any output, and exits as shells do: 127 when something named
 * does not exist, 126 otherwise. */
static _Noreturn void child_fail(int fd, const char *what, const char *arg,
				 int err, const char *hint)
{
	const char *desc = strerrordesc_np(err);
	const char *parts[] = { "bootlace: cannot ", what, " ", arg, ": ",
				desc ? desc : "unknown error", hint, "\n" };
	char msg[PIPE_BUF];
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		size_t n = strnlen(parts[i], sizeof(msg) - len);

		memcpy(msg + len, parts[i], n);
		len += n;
	}
	(void)!write(fd, msg, len);
	_exit(err == ENOENT ? 127 : 126);
}

/* Puts /dev/null, out_w and err_w on 0, 1 and 2.  Each is first copied
 * above 2, so no dup2() overwrites one still to be moved (the caller may
 * have started us with 0-2 closed, and the pipes landed there). */
static int child_stdio(int out_w, int err_w)
{
	int fds[3] = { open("/dev/null", O_RDONLY), out_w, err_w };

	if (fds[0] < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD, 3)) < 0)
			return -1;
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			return -1;
	return 0;
}

static _Noreturn void child_exec(const struct bl_run_spec *spec, char *arg0,
				 int out_w, int err_w)
{
	char *argv[] = { arg0, NULL };
	const char *cwd = spec->cwd ? spec->cwd : "/";
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int err;

	setpgid(0, 0);
	/* Ignored signals stay ignored across execve(); the parent's handlers
	 * cannot run here since it blocked every signal before fork(). */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (child_stdio(out_w, err_w) < 0)
		child_fail(err_w, "set up stdin/stdout/stderr for", spec->path, errno, "");
	if (chdir(cwd) < 0)
		child_fail(STDERR_FILENO, "change directory to", cwd, errno, "");
	umask(022);
	/* A script run from a descriptor is handed to its #! interpreter as
	 * /dev/fd/3, so fd 3 stays open, without close-on-exec. */
	unsigned first_closed = 3;
	if (spec->exec_fd > 2) {
		if ((spec->exec_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(spec->exec_fd, 3)) < 0)
			child_fail(STDERR_FILENO, "pass on", spec->path, errno, "");
		first_closed = 4;
	}
	/* close_range() is Linux 5.9; older kernels get the long way. */
	if (close_range(first_closed, ~0U, 0) < 0)
		for (long fd = first_closed, max_fd = sysconf(_SC_OPEN_MAX); fd < max_fd; fd++)
			close((int)fd);

	if (spec->exec_fd > 2) {
		fexecve(3, argv, spec->envp);
		/* Where execveat() is refused (old kernels, valgrind), the same
		 * file by its /dev/fd name. */
		execve("/dev/fd/3", argv, spec->envp);
	} else {
		execve(spec->path, argv, spec->envp);
	}
	err = errno;
	/* The kernel says ENOENT for a missing #! interpreter too (often a
	 * "#!/bin/sh\r" from a CRLF file), which reads as nonsense when the
	 * script is right there. */
	child_fail(STDERR_FILENO, "execute", spec->path, err,
		   err == ENOENT && access(spec->path, F_OK) == 0 ?
		   " (is its #! interpreter missing?)" : "");
}

static void log_line(struct run *r, bool is_stderr, const char *line)
{
	const struct bl_run_spec *spec = r->spec;

	bl_log_layer_line(spec->layer, is_stderr, line);
	if (spec->log_fd < 0 || r->log_failed)
		return;
	if (dprintf(spec->log_fd, "%s%s: %s\n", spec->layer,
		    is_stderr ? "[stderr]" : "", line) < 0) {
		bl_warn("layer %s: cannot write to its log: %s", spec->layer,
			strerror(errno));
		r->log_failed = true;
	}
}

/* Logs the complete lines in s's buffer and keeps the rest.  A line longer
 * than LINE_MAX_BYTES goes out in pieces; at EOF a last line without a
 * newline goes out as it is. */
static void stream_emit(struct run *r, struct stream *s, bool at_eof)
{
	char *line = s->buf, *end = s->buf + s->len, *nl;

	while ((nl = memchr(line, '\n', (size_t)(end - line)))) {
		*nl = '\0';
		log_line(r, s->is_stderr, line);
		line = nl + 1;
	}
	if (at_eof && line < end) {
		*end = '\0';
		log_line(r, s->is_stderr, line);
		line = end;
	} else if (end - line > LINE_MAX_BYTES) {
		char next = line[LINE_MAX_BYTES];

		line[LINE_MAX_BYTES] = '\0';
		log_line(r, s->is_stderr, line);
		line[LINE_MAX_BYTES] = next;
		line += LINE_MAX_BYTES;
	}
	s->len = (size_t)(end - line);
	memmove(s->buf, line, s->len);
}

static int stream_open(struct stream *s, int *write_end)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -BL_EIO;
	s->fd = p[0];
	*write_end = p[1];
	return 0;
}

static void stream_close(struct run *r, struct stream *s)
{
	if (s->fd < 0)
		return;
	stream_emit(r, s, true);
	close(s->fd);
	s->fd = -1;
}

/* A read error ends the stream as EOF does: there is nothing else to read. */
static void stream_read(struct run *r, struct stream *s)
{
	ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		stream_close(r, s);
		return;
	}
	s->len += (size_t)n;
	stream_emit(r, s, false);
}

static bool in_grace(const struct run *r)
{
	return r->termed && !r->killed;
}

static int reap(struct run *r, double now)
{
	pid_t p = waitpid(r->pid, &r->status, WNOHANG);

	if (p == 0 || (p < 0 && errno == EINTR))
		return 0;
	if (p < 0) {
		bl_err("layer %s: cannot wait for process %d: %s", r->spec->layer,
		       (int)r->pid, strerror(errno));
		return -BL_EIO;
	}
	r->reaped = true;
	r->drain_until = now + DRAIN_SECS;
	/* The timeout is for the script, not for what it left behind. */
	if (!r->termed)
		r->deadline = 0;
	return 0;
}

/* At the timeout, or when bootlace is asked to stop, the whole group gets
 * SIGTERM; whatever still runs or holds the pipes at the end of the grace
 * gets SIGKILL. */
static void escalate(struct run *r, double now, bool stop)
{
	const struct bl_run_spec *spec = r->spec;

	if (!r->termed) {
		if (stop)
			bl_warn("layer %s: bootlace is stopping, sending SIGTERM", spec->layer);
		else
			bl_warn("layer %s: timed out after %us, sending SIGTERM", spec->layer,
				spec->timeout);
		kill(-r->pid, SIGTERM);
		r->termed = true;
		r->stopped = stop;
		r->timed_out = !stop;
		r->deadline = now + spec->kill_grace;
	} else {
		bl_warn("layer %s: still running %us after SIGTERM, sending SIGKILL",
			spec->layer, spec->kill_grace);
		kill(-r->pid, SIGKILL);
		r->killed = true;
		r->deadline = 0;
		r->drain_until = now + DRAIN_SECS;
	}
}

/* Once the child is reaped: done when both pipes are closed, or when
 * draining them took long enough (a timed-out group has its whole grace). */
static bool finished(const struct run *r, double now)
{
	if (r->streams[0].fd < 0 && r->streams[1].fd < 0)
		return true;
	return !in_grace(r) && now >= r->drain_until;
}

/* Milliseconds until the next thing to do without input, -1 for none. */
static int poll_timeout(const struct run *r, double now)
{
	double wake = r->deadline, ms;

	if (r->reaped && !in_grace(r))
		wake = r->drain_until;
	else if (!r->reaped && r->pidfd < 0 && (!wake || wake > now + REAP_TICK_SECS))
		wake = now + REAP_TICK_SECS;
	if (r->spec->tick && (!wake || r->next_tick < wake))
		wake = r->next_tick;
	/* Without a wait mask a stop set just before ppoll would wait for the
	 * next event: look again every STOP_POLL_SECS meanwhile. */
	if (r->spec->stop && !r->spec->wait_mask && !r->termed &&
	    (!wake || wake > now + STOP_POLL_SECS))
		wake = now + STOP_POLL_SECS;
	if (!wake)
		return -1;
	/* Rounded up, so as not to wake just before the deadline and spin. */
	ms = (wake - now) * 1000 + 1;
	return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

static int supervise(struct run *r)
{
	for (;;) {
		double now = bl_now_monotonic();
		struct pollfd pfd[3];
		int ret;

		if (!r->reaped && (ret = reap(r, now)) < 0)
			return ret;
		if (r->reaped && finished(r, now))
			return 0;
		if (r->spec->tick && now >= r->next_tick) {
			r->spec->tick(r->spec->tick_ctx);
			r->next_tick = now + r->spec->tick_interval;
		}
		if (!r->reaped && !r->termed && r->spec->stop && *r->spec->stop) {
			escalate(r, now, true);
			continue;
		}
		if (r->deadline && now >= r->deadline) {
			escalate(r, now, false);
			continue;
		}
		pfd[0] = (struct pollfd){ .fd = r->streams[0].fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = r->streams[1].fd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = r->reaped ? -1 : r->pidfd, .events = POLLIN };
		int ms = poll_timeout(r, now);
		struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
		/* With a wait mask the signals that set *stop are unblocked only
		 * inside ppoll, so none can slip in between the check and the wait. */
		if (ppoll(pfd, ARRAY_SIZE(pfd), ms < 0 ? NULL : &ts, r->spec->wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			bl_err("layer %s: poll: %s", r->spec->layer, strerror(errno));
			return -BL_EIO;
		}
		for (size_t i = 0; i < ARRAY_SIZE(r->streams); i++)
			if (pfd[i].revents)
				stream_read(r, &r->streams[i]);
	}
}

static void run_close(struct run *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(r->streams); i++)
		stream_close(r, &r->streams[i]);
	if (r->pidfd >= 0)
		close(r->pidfd);
}

int bl_runner_run(const struct bl_run_spec *spec, struct bl_run_result *result)
{
	_cleanup_free_ char *arg0 = strdup(spec->path);
	_cleanup_close_ int out_w = -1;
	_cleanup_close_ int err_w = -1;
	struct run r = {
		.spec = spec,
		.streams = { { .fd = -1 }, { .fd = -1, .is_stderr = true } },
		.pidfd = -1,
	};
	sigset_t all, saved, running, pending;
	double start = bl_now_monotonic();
	int ret;

	if (!arg0)
		return -BL_ENOMEM;
	if (stream_open(&r.streams[0], &out_w) < 0 ||
	    stream_open(&r.streams[1], &err_w) < 0) {
		bl_err("layer %s: cannot create pipes: %s", spec->layer, strerror(errno));
		run_close(&r);
		/* cppcheck-suppress memleak ; arg0 is _cleanup_free_ */
		return -BL_EIO;
	}

	sigpending(&pending);
	/* Blocked until the child has reset their handling (child_exec). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	r.pid = fork();
	if (r.pid == 0)
		child_exec(spec, arg0, out_w, err_w);
	if (r.pid < 0) {
		bl_err("layer %s: cannot fork: %s", spec->layer, strerror(errno));
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
		run_close(&r);
		return -BL_EIO;
	}
	/* Writing log_fd must not kill us if it is a pipe with no reader. */
	running = saved;
	sigaddset(&running, SIGPIPE);
	pthread_sigmask(SIG_SETMASK, &running, NULL);
	/* The child does the same; whichever comes first, the group exists
	 * before anyone signals it. */
	setpgid(r.pid, r.pid);
	close(out_w);
	close(err_w);
	out_w = err_w = -1;
	r.deadline = spec->timeout ? start + spec->timeout : 0;
	r.next_tick = start;
	r.pidfd = pidfd_open(r.pid, 0);

	ret = supervise(&r);
	/* What is left of a timed-out group ignored SIGTERM and closed its
	 * output: nobody waits for it any more.  After an error the script
	 * itself goes the same way, so that it can be reaped. */
	if (ret < 0 || r.termed)
		kill(-r.pid, SIGKILL);
	while (!r.reaped && waitpid(r.pid, &r.status, 0) < 0 && errno == EINTR)
		;
	run_close(&r);

	/* Drop a SIGPIPE raised during the run rather than die of it now. */
	if (!sigismember(&pending, SIGPIPE)) {
		sigset_t pipe_only;

		sigemptyset(&pipe_only);
		sigaddset(&pipe_only, SIGPIPE);
		sigtimedwait(&pipe_only, NULL, &(struct timespec){ 0 });
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (ret < 0)
		return ret;

	*result = (struct bl_run_result){
		.exit_code = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1,
		.signal = WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0,
		.timed_out = r.timed_out,
		.stopped = r.stopped,
		.killed = r.killed,
		.kill_grace = spec->kill_grace,
		.duration = bl_now_monotonic() - start,
	};
	return 0;
}

bool bl_run_result_ok(const struct bl_run_result *r)
{
	return r->exit_code == 0 && r->signal == 0 && !r->timed_out && !r->stopped;
}

void bl_run_result_describe(const struct bl_run_result *r, unsigned timeout,
			    char *buf, size_t len)
{
	/* NULL for real-time and unknown signals. */
	const char *abbrev = r->signal ? sigabbrev_np(r->signal) : NULL;

	if (r->timed_out && r->killed)
		snprintf(buf, len, "timed out after %us (SIGTERM, then SIGKILL after %us grace)",
			 timeout, r->kill_grace);
	else if (r->timed_out)
		snprintf(buf, len, "timed out after %us (stopped by SIGTERM)", timeout);
	else if (r->stopped)
		snprintf(buf, len, "stopped with bootlace (SIGTERM%s)",
			 r->killed ? ", then SIGKILL" : "");
	else if (abbrev)
		snprintf(buf, len, "killed by signal %d (SIG%s)", r->signal, abbrev);
	else if (r->signal)
		snprintf(buf, len, "killed by signal %d", r->signal);
	else
		snprintf(buf, len, "exit status %d", r->exit_code);
}
