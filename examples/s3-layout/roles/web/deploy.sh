#!/bin/sh
# roles/web/deploy.sh - `bootlace deploy` on instances tagged role=web (by
# hand, from SSM Run Command or CI): serves the release named by the
# instance's `release` tag.  Deploying the current release changes nothing.
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
	echo "roles/web: $BOOTLACE_INSTANCE_ID has no release tag; tag it release=VERSION" >&2
	exit 1 ;;
*[!A-Za-z0-9._-]* | . | ..)
	echo "roles/web: release tag \"$release\" is not a version name" >&2
	exit 1 ;;
esac

site=/var/www/example
# A real deploy downloads and unpacks the build of $release here (curl
# from your artifact store).  The stub writes a page.
put "$site/releases/$release/index.html" <<HTML || :
<!doctype html>
<title>example $release</title>
<p>Release $release on $BOOTLACE_INSTANCE_ID ($BOOTLACE_ENVIRONMENT).
HTML

# Switch atomically (rename over the old link): no request ever sees a
# missing root.  nginx follows the link on every request: no reload.
if [ "$(readlink "$ROOT$site/current")" = "releases/$release" ]; then
	echo "roles/web: release $release is already being served"
else
	ln -sfn "releases/$release" "$ROOT$site/current.new"
	mv -T "$ROOT$site/current.new" "$ROOT$site/current"
	echo "roles/web: now serving release $release"
fi
