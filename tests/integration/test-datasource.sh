# datasource auto: nocloud when its seed exists; "no datasource found"
# (exit 3) saying what was checked otherwise; and a machine that says it is
# EC2 is never treated as nocloud.  No test reaches any network: IMDS is
# disabled (lib.sh).
. "$(dirname "$0")/lib.sh"
world_init web production
export BOOTLACE_SYSFS_ROOT="$WORLD/root"
mkdir -p "$WORLD/root/sys/class/dmi/id"
sed -i 's/^datasource: nocloud/datasource: auto/' "$CONFIG"
bl run --dry-run
expect_rc 0
expect_out "datasource nocloud: seed $WORLD/seed"

rm -r "$WORLD/seed"
bl run
expect_rc 3
expect_out "no datasource found: .*no nocloud seed at $WORLD/seed"

# EC2 by DMI picks ec2 even with a seed; IMDS stays disabled here (lib.sh),
# so the run ends with that error instead of any request.
world_init web production
sed -i 's/^datasource: nocloud/datasource: auto/' "$CONFIG"
echo "Amazon EC2" > "$WORLD/root/sys/class/dmi/id/sys_vendor"
[ "$AWS_EC2_METADATA_DISABLED" = true ] || fail "IMDS must be disabled in this test"
bl run
expect_rc 3
expect_out "datasource ec2: /sys/class/dmi/id/sys_vendor is \"Amazon EC2\""
expect_out "IMDS is disabled by AWS_EC2_METADATA_DISABLED=true"

# A broken seed is a datasource error with file:line:col.
world_init web production
printf 'instance-id: [\n' > "$WORLD/seed/meta-data"
bl run
expect_rc 3
expect_out "$WORLD/seed/meta-data:[0-9]*:[0-9]*:"
printf 'region: x\n' > "$WORLD/seed/meta-data"
bl run
expect_rc 3
expect_out "instance-id is required"
