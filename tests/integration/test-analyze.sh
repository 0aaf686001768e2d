# `bootlace analyze`: where the last run's time went, longest first (a layer
# that sleeps a second tops the list), the fetch with each object's bytes,
# what is unaccounted and the total; --json has the same numbers.
. "$(dirname "$0")/lib.sh"
world_init web production
bl analyze
expect_rc 0
expect_out "no run recorded in $WORLD/state"

cat >> "$WORLD/layers/roles/web/setup.sh" <<SH
sleep 1
SH
# The layer ends with an exit: put the sleep before it.
sed -i '/^exit 0$/d' "$WORLD/layers/roles/web/setup.sh"
bl run
expect_rc 0
bl analyze
expect_rc 0
first=$(printf '%s\n' "$OUT" | sed -n 1p)
printf '%s\n' "$first" | grep -Eq '^setup on i-0test000000000001 at [0-9T:-]+Z: succeeded, [0-9]+\.[0-9]{3}s$' ||
	fail "analyze heading: $OUT"
second=$(printf '%s\n' "$OUT" | sed -n 2p)
printf '%s\n' "$second" | grep -Eq '^ +1\.[0-9]{3}s +[0-9.]+%  layer roles/web/setup.sh$' ||
	fail "the sleeping layer is not first: $OUT"
bytes=$(cat "$WORLD/layers/base/setup.sh" "$WORLD/layers/roles/web/setup.sh" \
	"$WORLD/layers/environments/production/setup.sh" | wc -c)
expect_out "fetch: 3 objects, $bytes bytes downloaded$"
for phase in datasource lock plan write "layer base/setup.sh" "unaccounted" total; do
	expect_out "  $phase"
done

bl analyze --json
expect_rc 0
printf '%s' "$OUT" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
run, = doc["runs"]
assert run["event"] == "setup" and run["state"] == "succeeded", run
items = run["items"]
assert items[0]["what"] == "layer roles/web/setup.sh" and items[0]["duration"] >= 1, items
assert all(a["duration"] >= b["duration"] for a, b in zip(items, items[1:])), items
assert abs(run["total"] - sum(i["duration"] for i in items) - run["unaccounted"]) < 1e-6, run
fetch, = [i for i in items if i["what"] == "fetch"]
assert [o["result"] for o in fetch["objects"]] == ["downloaded"] * 3, fetch
assert sum(o["bytes"] for o in fetch["objects"]) == '"$bytes"', fetch
' || fail "analyze --json: $OUT"
