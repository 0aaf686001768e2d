# User data: gzip is inflated, "#bootlace" documents extend the config,
# unknown formats are warned about and the run goes on, and user data never
# reaches the log.
. "$(dirname "$0")/lib.sh"
world_init web production
printf '#!/bin/sh\necho user-data >> "%s"\necho SECRET-MARKER-e3b0 > /dev/null\n' "$ORDER" |
	gzip -c > "$WORLD/seed/user-data"
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh user-data "
expect_no_out "SECRET-MARKER"
! grep -rq "SECRET-MARKER" "$WORLD/state/logs" || fail "user data content in a run log"

# "#bootlace" config: on_failure continue comes from user data.
world_init web production
layer roles/web/setup.sh 5
printf '#bootlace\nrun:\n  on_failure: continue\n' > "$WORLD/seed/user-data"
bl run
expect_rc 1
expect_out "#bootlace configuration merged"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "

# A bad "#bootlace" document is a config error naming user-data:LINE:COL.
world_init web production
printf '#bootlace\nrun:\n  on_fail: continue\n' > "$WORLD/seed/user-data"
bl run
expect_rc 2
expect_out "user-data:3:3: .*unknown key"
[ ! -e "$ORDER" ] || fail "layers ran with a broken #bootlace document"

# Unknown format: warned, not run, the layers still run.
world_init web production
printf '#cloud-config\npackages: [nginx]\n' > "$WORLD/seed/user-data"
bl run
expect_rc 0
expect_out "warning: user data .* is neither a #! script nor a #bootlace document"
expect_no_out "packages"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "

# A gzip bomb is refused before anything runs.
world_init web production
head -c 3000000 /dev/zero | gzip -c > "$WORLD/seed/user-data"
bl run
expect_rc 3
expect_out "inflates past the 1 MiB limit"
[ ! -e "$ORDER" ] || fail "layers ran with bad user data"

# A user-data script belongs to setup: other events run only the layers.
world_init web production
printf '#!/bin/sh\necho user-data >> "%s"\n' "$ORDER" > "$WORLD/seed/user-data"
mkdir -p "$WORLD/layers/base"
layer base/configure.sh 0
bl run --event configure
expect_rc 0
expect_order "base/configure.sh "
