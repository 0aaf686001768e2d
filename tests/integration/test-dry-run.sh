# --dry-run prints the plan and fetches, writes and runs nothing.
. "$(dirname "$0")/lib.sh"
world_init web production
bl run --dry-run
expect_rc 0
expect_out "instance     i-0test000000000001 (datasource nocloud)"
expect_out "role=web"
expect_out " 1. base/setup.sh  *file://$WORLD/layers/base/setup.sh (required)"
expect_out " 2. roles/web/setup.sh  *file://$WORLD/layers/roles/web/setup.sh"
expect_out " 3. environments/production/setup.sh  *file://$WORLD/layers/environments/production/setup.sh"
[ ! -e "$ORDER" ] || fail "a layer ran during --dry-run"
[ ! -e "$WORLD/state" ] || fail "--dry-run created the state dir"

# A missing tag shows as a skipped layer in the plan.
sed -i '/environment: production/d' "$WORLD/seed/meta-data"
bl run --dry-run --event deploy
expect_rc 0
expect_out "plan for event deploy"
expect_out "environments/{environment}/{event}.sh *skipped: no tag \"environment\""
