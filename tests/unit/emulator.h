/* emulator.h - starts and stops the loopback AWS emulators of tests/emulators
 * from a cmocka test.  The emulator binds 127.0.0.1 on a free port and says
 * "READY <port>"; it is stopped by pid in the test's teardown, pass or fail. */
#ifndef BOOTLACE_TEST_EMULATOR_H
#define BOOTLACE_TEST_EMULATOR_H

#include <signal.h>
#include <sys/wait.h>

#include <jansson.h>

#include "bootlace/http.h"

struct emulator {
	pid_t pid;
	int port;
	char url[64];
};

/* Starts `python3 script args...` (args NULL-terminated) and waits up to
 * 15 s for its READY line. */
static inline void emulator_start(struct emulator *e, const char *script, const char *const *args)
{
	int out[2];
	char parent[32];
	/* Backstop: the emulator exits by itself once this test process is gone. */
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());
	char *argv[32] = { strdup("python3"), strdup(script), strdup("--port"), strdup("0"),
			   strdup("--parent-pid"), strdup(parent) };
	size_t n = 6;
	for (size_t i = 0; args && args[i] && n < 31; i++)
		argv[n++] = strdup(args[i]);
	argv[n] = NULL;
	assert_int_equal(pipe(out), 0);
	e->pid = fork();
	assert_true(e->pid >= 0);
	if (e->pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execvp("python3", argv);
		_exit(127);
	}
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	assert_non_null(f);
	char line[128] = "";
	alarm(15);  /* a hung emulator fails the test instead of hanging it */
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	alarm(0);
	fclose(f);
	assert_int_equal(sscanf(line, "READY %d", &e->port), 1);
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->port);
}

static inline void emulator_stop(struct emulator *e)
{
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
}

/* A request to the emulator's control API (prefix "_emulator" for
 * imds.py, "_faultproxy" for faultproxy.py); its JSON reply, which must
 * be a 200. */
static inline json_t *emulator_control(struct bl_http *http, const struct emulator *e,
				       const char *prefix, const char *method, const char *path,
				       const char *body)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/%s/%s", e->url, prefix, path);
	const char *const headers[] = { "Content-Type: application/json", NULL };
	struct bl_http_request req = { .method = method, .url = url, .headers = headers,
				       .body = body, .body_len = body ? strlen(body) : 0,
				       .timeout_ms = 5000, .max_body = 1 << 20, .no_proxy = true };
	struct bl_http_response resp;
	assert_int_equal(bl_http_perform(http, &req, &resp), 0);
	assert_int_equal(resp.status, 200);
	json_t *doc = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	assert_non_null(doc);
	bl_http_response_free(&resp);
	return doc;
}

#endif
