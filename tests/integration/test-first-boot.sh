# The demo world: base -> role -> environment -> user data, in that order,
# recorded in status, with private state files.
. "$(dirname "$0")/lib.sh"
world_init web production
cat > "$WORLD/seed/user-data" <<SH
#!/bin/sh
echo user-data >> "$ORDER"
SH
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh user-data "
expect_out "\[roles/web/setup.sh\] running roles/web/setup.sh for i-0test000000000001"
expect_out "setup completed on i-0test000000000001: 4 layers"

bl status
expect_rc 0
for l in base/setup.sh roles/web/setup.sh environments/production/setup.sh user-data; do
	printf '%s\n' "$OUT" | grep -E "^  $l +ok +0 " >/dev/null || fail "status lacks ok row for $l:
$OUT"
done
expect_out "overall: ok"
sha=$(sha256sum "$WORLD/layers/base/setup.sh" | cut -c1-12)
expect_out "$sha"

bl status --json
expect_rc 0
printf '%s' "$OUT" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
assert doc["state"] == "ok", doc
run = doc["runs"]["setup"]
assert [l["name"] for l in run["layers"]] == ["base/setup.sh", "roles/web/setup.sh",
    "environments/production/setup.sh", "user-data"], run
assert all(l["exit_code"] == 0 and l["status"] == "ok" for l in run["layers"]), run
' || fail "status --json: $OUT"

perm() { stat -c %a "$1"; }
[ "$(perm "$WORLD/state")" = 700 ] || fail "state dir mode $(perm "$WORLD/state")"
# User data is never written: the user-data script ran from memory.
if grep -rlq "echo user-data" "$WORLD/state"; then
	fail "user data written in the state dir: $(grep -rl "echo user-data" "$WORLD/state")"
fi
[ "$(perm "$WORLD/state/context.json")" = 600 ] || fail "context.json mode"
for f in "$WORLD"/state/logs/*.log; do
	[ "$(perm "$f")" = 600 ] || fail "$f mode $(perm "$f")"
	grep -q "^roles/web/setup.sh: running roles/web/setup.sh" "$f" || fail "run log lacks output"
done
[ "$(perm "$WORLD/state/scripts/setup/02-roles_web_setup.sh")" = 700 ] || fail "script mode"
