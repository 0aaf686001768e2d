#!/bin/sh
# roles/app/deploy.sh - `bootlace deploy` on instances tagged role=app (by
# hand, from SSM Run Command or CI): runs the release named by the
# instance's `release` tag.  Deploying the running release changes nothing.
# ---- begin preamble: the same in every script (examples/s3-layout/README.md)
set -eu
: "${BOOTLACE_CONTEXT:?not run by bootlace: see examples/s3-layout/README.md}" \
	"${BOOTLACE_STATE_DIR:?}"
# tag KEY: the instance's tag KEY from context.json, "" when it has none.
tag() {
	python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["instance"]["tags"].get(sys.argv[2], ""))' \
		"$BOOTLACE_CONTEXT" "$1"
}
# A dry run unless the instance is tagged bootlace-examples=apply: files are
# written under $BOOTLACE_STATE_DIR/dry-run/ instead of /, and commands that
# change the system are printed instead of run.
ROOT=$BOOTLACE_STATE_DIR/dry-run
if [ "$(tag bootlace-examples)" = apply ]; then ROOT=; fi
run() {
	if [ -n "$ROOT" ]; then echo "dry run: $*"; else "$@"; fi
}
# put FILE [MODE]: writes stdin to FILE (under $ROOT) if that changes it,
# atomically, mode 0644 by default.  False when FILE was already up to date,
# so that what reads FILE is reloaded only when it changed.  A failure exits
# the script: set -e does not apply inside `if put ...`.
put() {
	mkdir -p "$(dirname "$ROOT$1")" && cat > "$ROOT$1.new" &&
		chmod "${2:-0644}" "$ROOT$1.new" || exit
	if cmp -s "$ROOT$1.new" "$ROOT$1"; then
		rm -f "$ROOT$1.new"
		return 1
	fi
	mv -f "$ROOT$1.new" "$ROOT$1" || exit
	echo "wrote $ROOT$1"
}
# ---- end preamble

release=$(tag release)
case $release in
'')
	echo "roles/app: $BOOTLACE_INSTANCE_ID has no release tag; tag it release=VERSION" >&2
	exit 1 ;;
*[!A-Za-z0-9._-]* | . | ..)
	echo "roles/app: release tag \"$release\" is not a version name" >&2
	exit 1 ;;
esac

app=/srv/example-app
# A real deploy downloads and unpacks the build of $release here (curl
# from your artifact store).  The stub is a static web server.
put "$app/releases/$release/public/index.html" <<HTML || :
example-app $release on $BOOTLACE_INSTANCE_ID
HTML
put "$app/releases/$release/bin/example-app" 0755 <<'SH' || :
#!/bin/sh
exec python3 -m http.server "$PORT" --bind 127.0.0.1 --directory /srv/example-app/current/public
SH

if [ "$(readlink "$ROOT$app/current")" = "releases/$release" ]; then
	echo "roles/app: release $release is already running"
	exit 0
fi
# Switch atomically (rename over the old link), then restart into it.
ln -sfn "releases/$release" "$ROOT$app/current.new"
mv -T "$ROOT$app/current.new" "$ROOT$app/current"
run systemctl enable example-app.service
# --no-block: a layer script never waits for a unit to start (README.md,
# "The boot deadlock").
run systemctl restart --no-block example-app.service
echo "roles/app: release $release deployed"
