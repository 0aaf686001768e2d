# bootlace daemon against emulated AWS, with a 1 s interval and no splay:
# setup then READY=1; a cycle with nothing changed costs only the tag reads
# and 304s, and runs nothing; a changed role script runs configure once, in order; a retagged
# instance runs the new role's layers; SIGHUP reloads; WATCHDOG=1 and
# STATUS= reach systemd's socket; SIGTERM at system stop runs shutdown.
. "$(dirname "$0")/lib.sh"
world_init web production
for l in base/configure.sh roles/web/configure.sh environments/production/configure.sh \
	base/shutdown.sh; do
	layer "$l" 0
done
aws_world
trap daemon_cleanup EXIT
cat >> "$CONFIG" <<YAML
converge: { interval: 1, splay: 0 }
shutdown: { on_stop: always, timeout: 5 }
YAML
notify_listen
DAEMON_ARGS=--verbose daemon_start WATCHDOG_USEC=1000000

# Setup, then READY=1.
wait_for '^READY=1$' "$NOTIFY_LOG"
expect_order_now() { OUT=$(cat "$DAEMON_LOG"); expect_order "$1"; }
expect_order_now "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
grep -q '^STATUS=setup: running roles/web/setup.sh$' "$NOTIFY_LOG" ||
	fail "no STATUS while setup ran: $(cat "$NOTIFY_LOG")"

# The first cycle records the configure layers, the next finds no change:
# conditional GETs answered 304, nothing runs.
wait_for '^STATUS=idle \(layers recorded\)' "$NOTIFY_LOG"
: > "$NOTIFY_LOG"
wait_for '^STATUS=idle \(no change\), next check in' "$NOTIFY_LOG"
faultproxy_requests text | grep -q "GET /$WORLD_BUCKET/${WORLD_PREFIX}roles/web/configure.sh 304" ||
	fail "no 304 for an unchanged layer: $(faultproxy_requests text)"
expect_order_now "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
grep -q '^WATCHDOG=1$' "$NOTIFY_LOG" || fail "no WATCHDOG=1: $(cat "$NOTIFY_LOG")"

# The role's configure script changes in S3: configure runs once, in order.
: > "$ORDER"
echo "# v2" >> "$WORLD/layers/roles/web/configure.sh"
world_put "${WORLD_PREFIX}roles/web/configure.sh" "$WORLD/layers/roles/web/configure.sh"
: > "$NOTIFY_LOG"
wait_for '^STATUS=idle \(configured\)' "$NOTIFY_LOG"
: > "$NOTIFY_LOG"
wait_for '^STATUS=idle \(no change\)' "$NOTIFY_LOG"
expect_order_now "base/configure.sh roles/web/configure.sh environments/production/configure.sh "

# The instance is retagged role=app: configure runs with the app layers.
: > "$ORDER"
layer roles/app/configure.sh 0
world_put "${WORLD_PREFIX}roles/app/configure.sh" "$WORLD/layers/roles/app/configure.sh"
imds_control POST data '{"tags": {"role": "app", "environment": "production"}}' > /dev/null
: > "$NOTIFY_LOG"
wait_for '^STATUS=idle \(configured\)' "$NOTIFY_LOG"
expect_order_now "base/configure.sh roles/app/configure.sh environments/production/configure.sh "

# Every cycle so far reused what setup learnt: one token, one identity
# document, one set of credentials; a cycle re-read only the tags.
log=$(imds_requests text)
for req in "PUT /latest/api/token" "GET /latest/dynamic/instance-identity/document" \
	"GET /latest/meta-data/iam/security-credentials/bootlace-instance"; do
	[ "$(printf '%s\n' "$log" | grep -c "$req ")" -eq 1 ] ||
		fail "\"$req\" not made exactly once over the cycles: $log"
done
[ "$(printf '%s\n' "$log" | grep -c "GET /latest/meta-data/tags/instance ")" -ge 4 ] ||
	fail "the cycles did not re-read the tags: $log"

# SIGHUP re-reads the configuration and converges at once.
# --verbose outlives the reload: the cycle after it logs debug lines still.
kill -HUP "$DAEMON_PID"
wait_for 'SIGHUP: configuration reloaded' "$DAEMON_LOG"
i=0
until sed -n '/SIGHUP: configuration reloaded/,$p' "$DAEMON_LOG" | grep -q 'status: idle'; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "no debug line after SIGHUP: $(cat "$DAEMON_LOG")"
	sleep 0.1
done

# SIGTERM with the system stopping (shutdown.on_stop: always here): the
# shutdown event runs, then the daemon exits 0.
: > "$ORDER"
daemon_stop
expect_rc 0
expect_order_now "base/shutdown.sh "
grep -q '^STOPPING=1$' "$NOTIFY_LOG" || fail "no STOPPING=1: $(cat "$NOTIFY_LOG")"
