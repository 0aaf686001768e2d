/* runtree.c - runs a command and prints what its whole process tree cost,
 * for bench.py: one line of JSON on stdout,
 *     {"wall": s, "cpu": s, "rss": KiB, "rc": status}
 * wall from CLOCK_MONOTONIC, cpu = user + system time and rss = ru_maxrss
 * of wait4(2) (every process of the tree that was waited for; the peak is
 * the largest single process's, not a sum), rc the exit status (128 + N
 * for signal N).  The command's stdin is /dev/null, its stdout and stderr
 * go to OUT.
 *
 * Why not from Python: a process started by a Python interpreter counts the
 * interpreter's resident set in its peak (exec records the old address
 * space's high-water mark, and posix_spawn's child shares Python's), which
 * hides anything below ~25 MiB.  This launcher is ~1 MiB.
 *
 *     runtree OUT COMMAND [ARG...]                                       */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: runtree OUT COMMAND [ARG...]\n");
		return 2;
	}
	double start = now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("runtree: fork");
		return 1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
			fprintf(stderr, "runtree: %s: %s\n", argv[1], strerror(errno));
			_exit(127);
		}
		execvp(argv[2], argv + 2);
		fprintf(stderr, "runtree: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("runtree: wait4");
		return 1;
	}
	double wall = now() - start;
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("{\"wall\": %.6f, \"cpu\": %.6f, \"rss\": %ld, \"rc\": %d}\n", wall,
	       seconds(ru.ru_utime) + seconds(ru.ru_stime), ru.ru_maxrss, rc);
	return 0;
}
