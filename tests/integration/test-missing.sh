# Missing objects and tags: optional layers are skipped with one line,
# required ones fail the run before anything runs; unsafe tag values are
# refused naming the tag.
. "$(dirname "$0")/lib.sh"
world_init web production
rm "$WORLD/layers/environments/production/setup.sh"
bl run
expect_rc 0
expect_out "layer environments/production/setup.sh: no object at file://.*, skipped"
expect_order "base/setup.sh roles/web/setup.sh "

world_init web staging
rm "$WORLD/layers/base/setup.sh"
bl run
expect_rc 1
expect_out "layer base/setup.sh: required layer not found at file://$WORLD/layers/base/setup.sh; nothing was run"
[ ! -e "$ORDER" ] || fail "layers ran although a required one is missing"

world_init web production
sed -i '/role: web/d' "$WORLD/seed/meta-data"
bl run
expect_rc 0
expect_out "warning: skipping layer roles/{role}/{event}.sh: the instance has no tag \"role\""
expect_order "base/setup.sh environments/production/setup.sh "

for bad in '../etc' 'a/b' '""' '..'; do
	world_init web production
	sed -i "s|role: web|role: $bad|" "$WORLD/seed/meta-data"
	bl run
	expect_rc 1
	expect_out "the value of tag \"role\" cannot be used in a path"
	[ ! -e "$ORDER" ] || fail "layers ran with unsafe tag value $bad"
done
