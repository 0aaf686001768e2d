# `bootlace status --wait`: with nothing ever run and no bootlace running it
# exits 2 after a short grace, saying so; done exits 0 and failed 1 at once;
# --timeout 1 during a long setup exits 2 after about a second; a wait begun
# while setup runs returns 0 when setup finishes; a killed setup shows as
# interrupted and the wait exits 1.
. "$(dirname "$0")/lib.sh"
RUN_PID='' SCRIPT_PGID='' WAIT_PID=''
cleanup() {
	[ -z "$SCRIPT_PGID" ] || kill -KILL "-$SCRIPT_PGID" 2>/dev/null || :
	for p in $RUN_PID $WAIT_PID; do kill -KILL "$p" 2>/dev/null || :; done
	rm -rf "$WORLD"
}
trap cleanup EXIT
world_init web production

# Nothing ran, nothing runs: 2 after the grace (5 s), not the timeout.
start=$(date +%s)
bl status --wait
expect_rc 2
expect_out "setup has not started (no record in $WORLD/state) and no bootlace is running"
[ $(($(date +%s) - start)) -lt 15 ] || fail "status --wait took $(($(date +%s) - start))s with nothing running"

# Done: 0 at once, with the status.
bl run
expect_rc 0
start=$(date +%s)
bl status --wait
expect_rc 0
expect_out "^setup: done on i-0test000000000001 at "
[ $(($(date +%s) - start)) -lt 3 ] || fail "status --wait on a done setup took $(($(date +%s) - start))s"

# Failed: 1 at once, naming the layer.
fresh_state
layer roles/web/setup.sh 3
bl run
expect_rc 1
bl status --wait --timeout 30
expect_rc 1
expect_out "^setup: failed on i-0test000000000001 at .*: roles/web/setup.sh: exit status 3$"

# A setup whose role layer runs until told to stop.
long_setup() {
	fresh_state
	rm -f "$WORLD/go" "$WORLD/started"
	cat > "$WORLD/layers/roles/web/setup.sh" <<SH
#!/bin/sh
echo \$\$ > "$WORLD/started"
i=0
while [ ! -e "$WORLD/go" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
echo roles/web/setup.sh >> "$ORDER"
SH
	"$BOOTLACE" run --config "$CONFIG" > "$WORLD/run.log" 2>&1 &
	RUN_PID=$!
	wait_for . "$WORLD/started"
	# The runner puts each script in its own process group.
	SCRIPT_PGID=$(cat "$WORLD/started")
}
long_setup

# --timeout 1 while it runs: 2 after about a second, saying where it is.
start=$(date +%s)
bl status --wait --timeout 1
expect_rc 2
expect_out "setup still running after 1s (layer 2/3 roles/web/setup.sh)"
expect_out "^setup: running on i-0test000000000001 since .*: layer 2/3 roles/web/setup.sh$"
took=$(($(date +%s) - start))
[ "$took" -ge 1 ] && [ "$took" -lt 5 ] || fail "--timeout 1 took ${took}s"
bl status --json
expect_rc 0
printf '%s' "$OUT" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
assert doc["state"] == "running", doc
setup = doc["events"]["setup"]
assert setup["state"] == "running", setup
assert setup["run"]["layer"] == "roles/web/setup.sh" and setup["run"]["layer_index"] == 2, setup
assert setup["run"]["layers"] == 3, setup
' || fail "status --json while running: $OUT"

# A wait begun now returns 0 when the setup finishes, not before.
("$BOOTLACE" status --wait --config "$CONFIG" > "$WORLD/wait.out" 2>&1; echo "rc=$?" >> "$WORLD/wait.out") &
WAIT_PID=$!
sleep 1
if grep -q '^rc=' "$WORLD/wait.out"; then fail "status --wait returned while setup ran: $(cat "$WORLD/wait.out")"; fi
touch "$WORLD/go"
RC=0
wait "$RUN_PID" || RC=$?
RUN_PID='' SCRIPT_PGID=''
OUT=$(cat "$WORLD/run.log")
expect_rc 0
wait "$WAIT_PID" || :
WAIT_PID=''
OUT=$(cat "$WORLD/wait.out")
expect_out '^rc=0$'
expect_out "^setup: done on i-0test000000000001"
[ ! -e "$WORLD/state/current.json" ] || fail "current.json outlived the run"

# Killed mid-setup: interrupted; the wait gives it the grace, then exits 1.
long_setup
kill -KILL "$RUN_PID"
wait "$RUN_PID" 2>/dev/null || :
RUN_PID=''
kill -KILL "-$SCRIPT_PGID"
SCRIPT_PGID=''
bl status
expect_rc 1
expect_out "^setup: interrupted on i-0test000000000001: the run started at .* ended during layer 2/3 roles/web/setup.sh$"
bl status --wait
expect_rc 1
expect_out "setup on i-0test000000000001 was interrupted .* and no bootlace is running to finish it"
# The next run says so, and runs setup again.
touch "$WORLD/go"
bl run
expect_rc 0
expect_out "the setup run started at .* did not finish: it ended during layer roles/web/setup.sh"

# --timeout belongs to --wait, and takes whole seconds.
bl status --timeout 3
expect_rc 2
bl status --wait --timeout soon
expect_rc 2

# Early boot: IMDS is not up for 8 s.  The run holds the lock while it
# waits for it, so a wait begun then is not given up after the grace: it
# returns 0 once setup is done.
. "$(dirname "$0")/../emulators/lib.sh"
fresh_state
imds_start || fail "IMDS emulator did not start"
unset AWS_EC2_METADATA_DISABLED
sed -i 's/^datasource: nocloud$/datasource: ec2/' "$CONFIG"
imds_control POST faults '{"unavailable_for": 8}' >/dev/null
"$BOOTLACE" run --config "$CONFIG" > "$WORLD/run.log" 2>&1 &
RUN_PID=$!
bl status --wait --timeout 60
RC_WAIT=$RC
RC=0
wait "$RUN_PID" || RC=$?
RUN_PID=''
OUT="$OUT
--- the run:
$(cat "$WORLD/run.log")"
expect_rc 0
RC=$RC_WAIT
expect_rc 0
expect_out "^setup: done on i-"
