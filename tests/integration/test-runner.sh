# Scripts get a clean environment with the BOOTLACE_* variables and a
# private context.json; a script that runs past run.timeout is killed.
. "$(dirname "$0")/lib.sh"
world_init web production
export LEAK_MARKER=should-not-reach-scripts
cat > "$WORLD/layers/base/setup.sh" <<SH
#!/bin/sh
env | sort > "$WORLD/env.txt"
cp "\$BOOTLACE_CONTEXT" "$WORLD/context.json"
SH
bl run
expect_rc 0
grep -q LEAK_MARKER "$WORLD/env.txt" && fail "the caller's environment leaked into a script"
for v in PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
	BOOTLACE_EVENT=setup BOOTLACE_LAYER=base/setup.sh BOOTLACE_INSTANCE_ID=i-0test000000000001 \
	BOOTLACE_REGION=eu-west-1 BOOTLACE_AVAILABILITY_ZONE=eu-west-1b BOOTLACE_ROLE=web \
	BOOTLACE_ENVIRONMENT=production "BOOTLACE_CONTEXT=$WORLD/state/context.json"; do
	grep -qx "$v" "$WORLD/env.txt" || fail "script environment lacks $v: $(cat "$WORLD/env.txt")"
done
python3 - "$WORLD/context.json" <<'PY' || fail "context.json content"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["event"] == "setup"
assert c["instance"]["instance_id"] == "i-0test000000000001"
assert c["instance"]["tags"] == {"role": "web", "environment": "production"}
assert [l["name"] for l in c["layers"]] == ["base/setup.sh", "roles/web/setup.sh",
    "environments/production/setup.sh"]
PY

world_init web production
printf 'run:\n  timeout: 1\n  kill_grace: 1\n' >> "$CONFIG"
cat > "$WORLD/layers/roles/web/setup.sh" <<SH
#!/bin/sh
echo roles/web/setup.sh >> "$ORDER"
sleep 60
SH
bl run
expect_rc 1
expect_out "layer roles/web/setup.sh failed: timed out after 1s"
expect_order "base/setup.sh roles/web/setup.sh "
