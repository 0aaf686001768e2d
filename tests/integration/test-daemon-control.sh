# The daemon under pressure: a failed setup is retried until it succeeds
# (READY=1 only then); SIGUSR1 converges now; another bootlace never runs
# scripts beside it (exit 4); SIGTERM stops a running script's group at once;
# shutdown scripts are bounded by shutdown.timeout; `converge`, `deploy` and
# `undeploy` by hand.
. "$(dirname "$0")/lib.sh"
world_init web production
layer base/setup.sh 1
layer base/deploy.sh 0
layer base/undeploy.sh 0
aws_world
trap daemon_cleanup EXIT
printf 'converge: { interval: 1, splay: 0 }\nshutdown: { on_stop: never }\n' >> "$CONFIG"
notify_listen
daemon_start

# Setup fails: no READY=1, the status says why and when it retries.
wait_for '^STATUS=setup failed \(base/setup.sh: exit status 1\), retrying in' "$NOTIFY_LOG"
if grep -q '^READY=1$' "$NOTIFY_LOG"; then fail "READY=1 after a failed setup"; fi
# Fixed in S3: the next try succeeds, and only then READY=1.
layer base/setup.sh 0
world_put "${WORLD_PREFIX}base/setup.sh" "$WORLD/layers/base/setup.sh"
wait_for '^READY=1$' "$NOTIFY_LOG"
bl status
expect_rc 0

# SIGUSR1 converges at once, even with a long interval.
sed -i 's/interval: 1,/interval: 3600,/' "$CONFIG"
kill -HUP "$DAEMON_PID"
wait_for 'SIGHUP: configuration reloaded' "$DAEMON_LOG"
wait_for 'next check in 60m' "$NOTIFY_LOG"
: > "$NOTIFY_LOG"
kill -USR1 "$DAEMON_PID"
wait_for 'SIGUSR1: converging now' "$DAEMON_LOG"
wait_for '^STATUS=idle \((no change|layers recorded)\), next check in 60m' "$NOTIFY_LOG"

# By hand while the daemon idles: deploy and undeploy run; converge finds
# nothing to do.
bl deploy
expect_rc 0
expect_out "deploy completed"
bl undeploy
expect_rc 0
bl converge
expect_rc 0
expect_out "converge: "

# A long configure script: another bootlace is refused meanwhile (exit 4),
# and SIGTERM reaches the script at once (shutdown.on_stop: never, so no
# shutdown event), long before its 30 s.
cat > "$WORLD/layers/base/configure.sh" <<SH
#!/bin/sh
trap 'echo got-term >> "$ORDER"; exit 143' TERM
echo configure-started >> "$ORDER"
sleep 30 & wait
SH
world_put "${WORLD_PREFIX}base/configure.sh" "$WORLD/layers/base/configure.sh"
: > "$ORDER"
kill -USR1 "$DAEMON_PID"
wait_for configure-started "$ORDER"
bl deploy
expect_rc 4
expect_out "holds the lock"
start=$(date +%s)
daemon_stop
expect_rc 0
[ $(($(date +%s) - start)) -lt 10 ] || fail "SIGTERM took $(($(date +%s) - start))s to stop the script"
grep -q got-term "$ORDER" || fail "the script never saw SIGTERM: $(cat "$ORDER")"
if grep -q shutdown "$ORDER"; then fail "shutdown ran with shutdown.on_stop: never"; fi

# shutdown.timeout bounds each shutdown script.
cat > "$WORLD/layers/base/shutdown.sh" <<SH
#!/bin/sh
echo shutdown-started >> "$ORDER"
sleep 60
SH
world_put "${WORLD_PREFIX}base/shutdown.sh" "$WORLD/layers/base/shutdown.sh"
sed -i 's/on_stop: never/on_stop: always, timeout: 1/' "$CONFIG"
: > "$ORDER"
: > "$NOTIFY_LOG"
daemon_start
wait_for '^STATUS=idle' "$NOTIFY_LOG"
start=$(date +%s)
daemon_stop
expect_rc 0
grep -q shutdown-started "$ORDER" || fail "the shutdown event did not run"
[ $(($(date +%s) - start)) -lt 15 ] || fail "shutdown.timeout 1 did not bound the shutdown script"
grep -q "timed out after 1s" "$DAEMON_LOG" || fail "no timeout message: $(cat "$DAEMON_LOG")"
