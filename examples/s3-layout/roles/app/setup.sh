#!/bin/sh
# roles/app/setup.sh - instances tagged role=app, once: the example app's
# user, directories, settings and systemd unit.  The unit is neither
# enabled nor started: there is nothing to run until deploy.sh enables it.
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

if ! id example-app >/dev/null 2>&1; then
	run useradd --system --home-dir /srv/example-app --shell /usr/sbin/nologin example-app
fi
mkdir -p "$ROOT/srv/example-app/releases"

# After=bootlace.service: at every boot the app starts on a machine that
# bootlace has finished setting up (README.md, "Running under systemd").
if put /etc/systemd/system/example-app.service <<'CONF'
# Written by bootlace's roles/app layer (roles/app/setup.sh).
[Unit]
Description=example app
Wants=network-online.target
After=network-online.target bootlace.service

[Service]
User=example-app
EnvironmentFile=/etc/example-app/app.env
EnvironmentFile=-/etc/example-environment.env
ExecStart=/srv/example-app/current/bin/example-app
Restart=on-failure

[Install]
WantedBy=multi-user.target
CONF
then
	run systemctl daemon-reload
fi

# ---- begin app-env: the same in roles/app/configure.sh
# The app's settings that follow the instance's tags: configure renders
# them again when the tags change and restarts the app only if they did;
# setup renders them too, because the first boot runs setup only.
log_level=$(tag log_level)
if put /etc/example-app/app.env <<CONF
INSTANCE_ID=$BOOTLACE_INSTANCE_ID
REGION=$BOOTLACE_REGION
ENVIRONMENT=$BOOTLACE_ENVIRONMENT
LOG_LEVEL=${log_level:-info}
PORT=8080
CONF
then
	run systemctl try-restart --no-block example-app.service
fi
# ---- end app-env
