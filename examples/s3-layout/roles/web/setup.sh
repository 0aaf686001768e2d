#!/bin/sh
# roles/web/setup.sh - instances tagged role=web, once: nginx serving
# /var/www/example/current, a link that deploy.sh points at a release and
# undeploy.sh back at the maintenance page.
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

if command -v apt-get >/dev/null; then
	run apt-get update -q
	run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx
else
	run dnf install -y -q nginx
fi

site=/var/www/example
mkdir -p "$ROOT$site/releases"
put "$site/maintenance/index.html" <<HTML || :
<!doctype html>
<title>Maintenance</title>
<p>$BOOTLACE_INSTANCE_ID serves no release right now.
HTML
# Until the first deploy, the maintenance page.  A relative link, so the
# tree can move (and the dry run's copy works).
[ -L "$ROOT$site/current" ] || ln -s maintenance "$ROOT$site/current"

# Debian's default site claims default_server on port 80 too.
rm -f "$ROOT/etc/nginx/sites-enabled/default"
if put /etc/nginx/conf.d/example.conf <<'CONF'
# Written by bootlace's roles/web layer (roles/web/setup.sh).
server {
	listen 80 default_server;
	listen [::]:80 default_server;
	root /var/www/example/current;
	location = /healthz {
		return 200 "ok\n";
	}
}
CONF
then
	run nginx -t
	run systemctl try-reload-or-restart --no-block nginx.service
fi
# --no-block: a layer script never waits for a unit to start (README.md,
# "The boot deadlock"); nginx starts as soon as the job is queued.
run systemctl enable --now --no-block nginx.service
