#!/bin/sh
# base/setup.sh - every instance, once, at its first boot: OS hardening and
# the monitoring agent.  Both are stubs to adapt; they show the shape of a
# base layer: idempotent, each change applied only when a file changed.
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

# OS hardening: no root or password logins over SSH.  sshd reads
# sshd_config.d/ on Debian 11+, Ubuntu 20.04+, Amazon Linux 2023 and RHEL 9.
if put /etc/ssh/sshd_config.d/50-example-hardening.conf <<'CONF'
# Written by bootlace's base layer (base/setup.sh).
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
CONF
then
	# Never reload sshd into a configuration it rejects: that locks
	# everyone out.  A failed check fails setup, loudly, instead.
	run sshd -t
	run systemctl try-reload-or-restart sshd.service
fi

# No ICMP redirects: an instance's routes come from its VPC, not from
# whoever sends a redirect.
if put /etc/sysctl.d/60-example-hardening.conf <<'CONF'
# Written by bootlace's base layer (base/setup.sh).
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv4.conf.all.send_redirects = 0
net.ipv6.conf.all.accept_redirects = 0
net.ipv6.conf.default.accept_redirects = 0
CONF
then
	run sysctl -p /etc/sysctl.d/60-example-hardening.conf
fi

# The monitoring agent (a stub: install yours here - the CloudWatch agent,
# node_exporter, Datadog, ...).
echo "monitoring (stub): would install and enable the agent"

# ---- begin monitoring-labels: the same in base/configure.sh
# The agent labels every metric with the instance it comes from.  The
# labels follow the tags, so configure renders them again when tags change;
# setup renders them too, because the first boot runs setup only.
name=$(tag Name)
if put /etc/example-monitoring/labels.env <<CONF
INSTANCE_ID=$BOOTLACE_INSTANCE_ID
NAME=$name
AVAILABILITY_ZONE=$BOOTLACE_AVAILABILITY_ZONE
ROLE=$BOOTLACE_ROLE
ENVIRONMENT=$BOOTLACE_ENVIRONMENT
CONF
then
	echo "monitoring (stub): would restart the agent with the new labels"
fi
# ---- end monitoring-labels
