# check-config prints "configuration OK" or every error as FILE:LINE:COL.
. "$(dirname "$0")/lib.sh"
world_init web production
bl check-config
expect_rc 0
expect_out "^configuration OK$"

cat >> "$CONFIG" <<YAML
run:
  timout: 60
YAML
bl check-config
expect_rc 2
expect_out "^$CONFIG:6:3: .*unknown key \"run.timout\""
expect_out "did you mean"

# Drop-ins are checked too, and every error is reported.
world_init web production
mkdir -p "$WORLD/etc/conf.d"
printf 'log_level: loud\n' > "$WORLD/etc/conf.d/50-site.yaml"
printf 'state_dir: [1, 2]\n' > "$WORLD/etc/conf.d/60-site.yaml"
bl check-config
expect_rc 2
expect_out "^$WORLD/etc/conf.d/50-site.yaml:1:12: "
expect_out "^$WORLD/etc/conf.d/60-site.yaml:1:12: "

# run refuses a broken configuration with the same messages, running nothing.
bl run
expect_rc 2
expect_out "50-site.yaml:1:12"
[ ! -e "$ORDER" ] || fail "a layer ran with a broken configuration"

# Broken YAML.
world_init web production
printf 'layers: [\n' >> "$CONFIG"
bl check-config
expect_rc 2
expect_out "^$CONFIG:[0-9]*:[0-9]*: .*YAML"

# The shipped default configuration is valid.
here=$(cd "$(dirname "$0")/../.." && pwd)
out=$("$BOOTLACE" check-config --config "$here/examples/bootlace.yaml" 2>&1) ||
	fail "examples/bootlace.yaml: $out"
