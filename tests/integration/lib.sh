# lib.sh - shared by the integration tests: a temporary world (nocloud
# seed, file:// layers, config, state dir) that the real build/bootlace runs
# against, and small assertions.  Sourced by each test-*.sh, which runs in
# its own temporary directory ($WORLD) removed on exit, pass or fail.
set -eu
: "${BOOTLACE:?set BOOTLACE to the bootlace binary}"
# Safety first: IMDS is off and no endpoint is inherited, so nothing here
# can reach a metadata service unless a test starts the loopback emulator.
unset AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE
export AWS_EC2_METADATA_DISABLED=true
# Nor AWS: no credentials are inherited, and any AWS call a test does not
# point at an emulator goes to a closed loopback port instead of AWS.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_EC2 AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
export AWS_ENDPOINT_URL=http://127.0.0.1:9
WORLD=$(mktemp -d "${TMPDIR:-/tmp}/bootlace-it.XXXXXX")
trap 'rm -rf "$WORLD"' EXIT
CONFIG="$WORLD/etc/bootlace.yaml"
ORDER="$WORLD/order.log"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# world_init ROLE ENVIRONMENT: the demo's world with scripts that append
# their layer name to $ORDER, so tests can see what ran in which order.
world_init() {
	rm -rf "$WORLD/etc" "$WORLD/seed" "$WORLD/layers" "$WORLD/state" "$ORDER"
	mkdir -p "$WORLD/etc" "$WORLD/seed" "$WORLD/layers/base"
	cat > "$WORLD/seed/meta-data" <<YAML
instance-id: i-0test000000000001
region: eu-west-1
availability-zone: eu-west-1b
tags:
  role: $1
  environment: $2
YAML
	cat > "$CONFIG" <<YAML
datasource: nocloud
datasource_dir: $WORLD/seed
source: file://$WORLD/layers/
state_dir: $WORLD/state
YAML
	layer base/setup.sh 0
	layer "roles/$1/setup.sh" 0
	layer "environments/$2/setup.sh" 0
}

# layer PATH EXIT: a layer script that records itself and exits EXIT.
layer() {
	mkdir -p "$(dirname "$WORLD/layers/$1")"
	cat > "$WORLD/layers/$1" <<SH
#!/bin/sh
echo "$1" >> "$ORDER"
echo "running $1 for \$BOOTLACE_INSTANCE_ID"
exit $2
SH
	chmod 0755 "$WORLD/layers/$1"
}

# bl ARGS...: runs bootlace against the world; output in $OUT, status in $RC.
bl() {
	RC=0
	OUT=$("$BOOTLACE" "$@" --config "$CONFIG" 2>&1) || RC=$?
}

expect_rc() {
	[ "$RC" -eq "$1" ] || fail "expected exit $1, got $RC; output:
$OUT"
}

expect_out() {
	printf '%s\n' "$OUT" | grep -q -- "$1" || fail "output lacks \"$1\":
$OUT"
}

expect_no_out() {
	if printf '%s\n' "$OUT" | grep -q -- "$1"; then fail "output has \"$1\":
$OUT"; fi
}

expect_order() {
	got=$(cat "$ORDER" 2>/dev/null | tr '\n' ' ')
	[ "$got" = "$1" ] || fail "layers ran as [$got], expected [$1]"
}

# aws_world [world.py options]: the layers of world_init put in a bucket of
# an emulated AWS (moto with request authentication on, behind the fault
# proxy, and the IMDS emulator handing out the instance role's credentials;
# tests/emulators/aws.sh), and bootlace configured for it: datasource ec2,
# source s3://BUCKET/PREFIX, endpoints on loopback.  Call after world_init.
aws_world() {
	. "$(dirname "$0")/../emulators/lib.sh"
	. "$(dirname "$0")/../emulators/aws.sh"
	aws_world_start "$WORLD/layers" "$@" || fail "the emulated AWS world did not start"
	unset AWS_EC2_METADATA_DISABLED
	export AWS_ENDPOINT_URL_S3="$WORLD_S3_ENDPOINT" AWS_ENDPOINT_URL_EC2="$WORLD_EC2_ENDPOINT"
	cat > "$CONFIG" <<YAML
datasource: ec2
source: s3://$WORLD_BUCKET/$WORLD_PREFIX
state_dir: $WORLD/state
YAML
}

# fresh_state: forget what ran, so the next run is a first boot again.
fresh_state() {
	rm -rf "$WORLD/state" "$ORDER"
}

# wait_for PATTERN FILE [SECONDS]: waits (15 s by default) until a line of
# FILE matches PATTERN (grep -E), or fails showing FILE.
wait_for() {
	_wf_i=0
	while ! grep -Eq -- "$1" "$2" 2>/dev/null; do
		_wf_i=$((_wf_i + 1))
		[ "$_wf_i" -le $((${3:-15} * 10)) ] ||
			fail "no \"$1\" in $2 after ${3:-15}s:
$(cat "$2" 2>/dev/null)"
		sleep 0.1
	done
}

# notify_listen: a NOTIFY_SOCKET for the daemon ($NOTIFY_SOCKET), whose
# messages land in $NOTIFY_LOG, one KEY=value a line.
notify_listen() {
	NOTIFY_SOCKET="$WORLD/notify.sock" NOTIFY_LOG="$WORLD/notify.log"
	: > "$NOTIFY_LOG"
	python3 "$(dirname "$0")/notify-listener.py" --socket "$NOTIFY_SOCKET" \
		--out "$NOTIFY_LOG" --parent-pid $$ > "$WORLD/notify.out" 2>&1 &
	NOTIFY_PID=$!
	wait_for READY "$WORLD/notify.out" 10
}

# daemon_start [ENV=VALUE...]: `bootlace daemon $DAEMON_ARGS` in the
# background, talking to the notify listener; output in $DAEMON_LOG, pid in
# $DAEMON_PID.
daemon_start() {
	DAEMON_LOG="$WORLD/daemon.log"
	# shellcheck disable=SC2086 # DAEMON_ARGS: options, split on purpose
	env NOTIFY_SOCKET="$NOTIFY_SOCKET" "$@" "$BOOTLACE" daemon ${DAEMON_ARGS:-} \
		--config "$CONFIG" > "$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
}

# reap PID SECONDS: waits for PID, a child of this shell, to exit (KILL
# after SECONDS); its exit status in $RC.
reap() {
	_rp_i=0
	while kill -0 "$1" 2>/dev/null && [ "$_rp_i" -lt $(($2 * 10)) ]; do
		sleep 0.1
		_rp_i=$((_rp_i + 1))
	done
	kill -KILL "$1" 2>/dev/null || :
	RC=0
	wait "$1" || RC=$?
}

# daemon_stop: TERM, the exit status in $RC (KILL after 20 s) and the
# daemon's whole log in $OUT, so expect_rc shows how it ended.
daemon_stop() {
	kill -TERM "$DAEMON_PID" 2>/dev/null || :
	reap "$DAEMON_PID" 20
	DAEMON_PID=''
	OUT=$(cat "$DAEMON_LOG")
}

# Stops what the daemon tests started, pass or fail.
daemon_cleanup() {
	[ -z "${DAEMON_PID:-}" ] || kill -KILL "$DAEMON_PID" 2>/dev/null || :
	[ -z "${NOTIFY_PID:-}" ] || kill "$NOTIFY_PID" 2>/dev/null || :
	emulators_stop
	rm -rf "$WORLD"
}
