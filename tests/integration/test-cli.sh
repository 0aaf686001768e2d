# The command line: --version, --help documents every command, help COMMAND,
# usage errors exit 2.
. "$(dirname "$0")/lib.sh"
out=$("$BOOTLACE" --version) || fail "--version"
printf '%s\n' "$out" | grep -Eq '^bootlace [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version: $out"
out=$("$BOOTLACE" --help) || fail "--help"
for c in "run " check-config "status " "help COMMAND" "--config FILE" "--state-dir DIR" \
	"--event" "--dry-run" "--force" "--json" "keygen --out" "sign --key" "verify " \
	"Exit status"; do
	printf '%s\n' "$out" | grep -q -- "$c" || fail "--help does not mention $c"
done
for c in run check-config status keygen sign verify; do
	"$BOOTLACE" help "$c" | grep -q "^Usage: bootlace $c" || fail "help $c"
done
rc=0; "$BOOTLACE" frobnicate 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "unknown command exits $rc"
rc=0; "$BOOTLACE" run --bogus 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "unknown option exits $rc"
rc=0; "$BOOTLACE" run --event party 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "unknown event exits $rc"
rc=0; "$BOOTLACE" status --json --config "$WORLD/none.yaml" 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "a missing --config file exits $rc"
