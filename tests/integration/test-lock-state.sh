# One bootlace at a time: a second exits 4 (or waits with --wait); a state
# dir that others can write to is refused.
. "$(dirname "$0")/lib.sh"
world_init web production
mkdir -m 0700 "$WORLD/state"
flock "$WORLD/state/lock" sleep 3 &
holder=$!
trap 'kill $holder 2>/dev/null || true; rm -rf "$WORLD"' EXIT
sleep 0.5
bl run
expect_rc 4
expect_out "another bootlace .*holds the lock on $WORLD/state"
[ ! -e "$ORDER" ] || fail "a layer ran without the lock"
bl run --wait
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
wait $holder || true

world_init web production
mkdir -p "$WORLD/loose"
chmod 0777 "$WORLD/loose"
sed -i "s|^state_dir: .*|state_dir: $WORLD/loose/state|" "$CONFIG"
mkdir -m 0700 "$WORLD/loose/state"
chmod 0770 "$WORLD/loose/state"
bl run
expect_rc 2
expect_out "state directory $WORLD/loose/state is group or world writable"
[ ! -e "$ORDER" ] || fail "a layer ran from an unsafe state dir"
