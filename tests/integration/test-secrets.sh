# Secrets stay secret: the instance role's secret key and session token
# (before and after a rotation), every IMDS token handed out, and a line of
# the user data never appear in what bootlace prints (setup, deploy,
# converge, dry run, a failing layer, a daemon under a notify socket, all
# with --verbose), in status or analyze (text or JSON), in the STATUS= lines
# systemd gets, nor in any file of the state directory; and no file there
# is readable by group or others.
. "$(dirname "$0")/lib.sh"
world_init web production
for l in base/configure.sh base/deploy.sh roles/web/deploy.sh; do layer "$l" 0; done
aws_world
trap daemon_cleanup EXIT
SEEN="$WORLD/seen"   # everything bootlace printed or sent, concatenated
: > "$SEEN"
seen() {
	printf '%s\n' "$OUT" >> "$SEEN"
}

# User data: a script whose one comment line is the marker.  It runs (so
# the user data is read) but never echoes the marker itself.
MARKER="bl-userdata-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ud="#!/bin/sh
# $MARKER
echo user-data >> $ORDER
"
imds_control POST data "$(python3 -c 'import json,sys; print(json.dumps({"user-data": sys.argv[1]}))' "$ud")" >/dev/null

bl run --verbose
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh user-data "
seen
for args in "run --verbose --dry-run" "run --verbose --event deploy" "converge --verbose" \
	"converge --verbose" "status" "status --json" "analyze" "analyze --json"; do
	# shellcheck disable=SC2086 # the arguments are split on purpose
	bl $args
	[ "$RC" -eq 0 ] || fail "bootlace $args: exit $RC: $OUT"
	seen
done

# New role credentials: the next run fetches them; both sets are secrets.
secrets_now() {
	python3 - "$WORLD_DATA" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["credentials"]
print(c["SecretAccessKey"])
print(c["Token"])
PY
}
secrets_now > "$WORLD/secrets"
world_rotate_credentials || fail "could not rotate the credentials"
secrets_now >> "$WORLD/secrets"
bl run --verbose --event deploy
expect_rc 0
seen

# A failing layer: its error paths print too.
layer roles/web/deploy.sh 3
world_put "${WORLD_PREFIX}roles/web/deploy.sh" "$WORLD/layers/roles/web/deploy.sh"
bl run --verbose --event deploy
expect_rc 1
seen

# The daemon, with STATUS= lines, for two cycles.
printf 'converge: { interval: 1, splay: 0 }\n' >> "$CONFIG"
notify_listen
DAEMON_ARGS=--verbose daemon_start
wait_for '^STATUS=idle \(no change\)' "$NOTIFY_LOG"
cp "$NOTIFY_LOG" "$WORLD/notify.1"
: > "$NOTIFY_LOG"
wait_for '^STATUS=idle \(no change\)' "$NOTIFY_LOG"
daemon_stop
expect_rc 0
seen
cat "$WORLD/notify.1" "$NOTIFY_LOG" >> "$SEEN"

# The IMDS tokens handed out over the whole test.
imds_control GET tokens | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)))' \
	>> "$WORLD/secrets"
echo "$MARKER" >> "$WORLD/secrets"
[ "$(grep -c . "$WORLD/secrets")" -ge 6 ] || fail "too few secrets to look for: $(cat "$WORLD/secrets")"

# Look for every secret everywhere.
while IFS= read -r secret; do
	[ -n "$secret" ] || continue
	if grep -qF -- "$secret" "$SEEN"; then
		fail "a secret (${secret%"${secret#????????}"}...) was printed: $(grep -nF -- "$secret" "$SEEN" | head -3)"
	fi
	leaked=$(grep -rlaF -- "$secret" "$WORLD/state" || :)
	[ -z "$leaked" ] || fail "a secret (${secret%"${secret#????????}"}...) is in $leaked"
done < "$WORLD/secrets"

# Nothing in the state directory is readable by group or others.
loose=$(find "$WORLD/state" -perm /077 -printf '%m %p\n')
[ -z "$loose" ] || fail "state files readable beyond their owner: $loose"
