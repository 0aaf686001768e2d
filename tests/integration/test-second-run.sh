# setup runs once per instance id; --force runs it again; a new instance id
# (an AMI baked from a configured instance) runs it again.
. "$(dirname "$0")/lib.sh"
world_init web production
bl run
expect_rc 0
bl run
expect_rc 0
expect_out "setup already completed on instance i-0test000000000001"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "

bl run --force
expect_rc 0
[ "$(grep -c base/setup.sh "$ORDER")" -eq 2 ] || fail "--force did not run again"

sed -i 's/i-0test000000000001/i-0test000000000002/' "$WORLD/seed/meta-data"
bl run
expect_rc 0
expect_out "setup completed on i-0test000000000002"
[ "$(grep -c base/setup.sh "$ORDER")" -eq 3 ] || fail "new instance id did not run setup"
