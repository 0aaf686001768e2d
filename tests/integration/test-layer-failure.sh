# A failing role layer stops the environment layer (on_failure: stop), the
# run exits 1 naming the layer, and setup is retried next time; with
# on_failure: continue the later layers still run.
. "$(dirname "$0")/lib.sh"
world_init web production
layer roles/web/setup.sh 3
bl run
expect_rc 1
expect_out "layer roles/web/setup.sh failed: exit status 3"
expect_order "base/setup.sh roles/web/setup.sh "

bl status
expect_rc 1
expect_out "setup: failed"
printf '%s\n' "$OUT" | grep -E '^  environments/production/setup.sh +not-run' >/dev/null ||
	fail "status does not show the env layer as not-run: $OUT"

# Not completed, so a plain run tries again.
: > "$ORDER"
bl run
expect_rc 1
expect_order "base/setup.sh roles/web/setup.sh "

printf 'run:\n  on_failure: continue\n' >> "$CONFIG"
: > "$ORDER"
bl run
expect_rc 1
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
