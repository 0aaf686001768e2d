#!/bin/sh
# make demo: a real first boot of build/bootlace against a temporary root
# laid out from examples/demo (a nocloud seed and file:// layers).  Nothing
# outside that temporary directory is touched; KEEP=1 keeps it to look at.
set -eu
: "${BOOTLACE:?set BOOTLACE to the bootlace binary}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d "${TMPDIR:-/tmp}/bootlace-demo.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
	trap 'echo "demo root kept: $root"' EXIT
else
	trap 'rm -rf "$root"' EXIT
fi
cp -R "$here/demo/seed" "$here/demo/layers" "$root/"
mkdir "$root/etc"
cat > "$root/etc/bootlace.yaml" <<YAML
# The demo's configuration: a local seed instead of IMDS, file:// instead of S3.
datasource: nocloud
datasource_dir: $root/seed
source: file://$root/layers/
state_dir: $root/state
YAML

echo "\$ bootlace run --config $root/etc/bootlace.yaml"
"$BOOTLACE" run --config "$root/etc/bootlace.yaml"
echo
echo "\$ bootlace status"
"$BOOTLACE" status --config "$root/etc/bootlace.yaml"
echo
echo "\$ bootlace run   # again: setup runs once per instance id"
"$BOOTLACE" run --config "$root/etc/bootlace.yaml"
