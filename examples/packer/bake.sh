#!/bin/sh
# bake.sh PACKAGE - run by Packer (bootlace.pkr.hcl), as root, on the
# instance an AMI is built from: installs bootlace from PACKAGE (.deb or
# .rpm) and leaves it enabled but not run, with an empty state directory,
# so that every instance launched from the image sets itself up at its
# first boot and the image carries nothing of the build instance.
set -eu
STATE_DIR=/var/lib/bootlace

pkg=${1:?usage: bake.sh PACKAGE}
# The package managers, not dpkg -i or rpm -i: they also install what
# bootlace depends on (libcurl, libyaml, jansson, ...).
case $pkg in
*.deb)
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q "$pkg"
	;;
*.rpm)
	if command -v dnf >/dev/null; then
		dnf install -y -q "$pkg"
	else
		yum install -y -q "$pkg"
	fi
	;;
*)
	echo "bake.sh: $pkg is neither a .deb nor an .rpm" >&2
	exit 2
	;;
esac

# The build instance is not one of the fleet.  Should anything have started
# bootlace here, stop it, then forget what it did: its records, logs,
# context, user data and cache describe this instance, not the next ones.
systemctl stop bootlace.service bootlace-converge.timer bootlace-converge.service
find "$STATE_DIR" -mindepth 1 -delete

# Enabled, not started: it starts at the next boot, which is each new
# instance's first.
systemctl enable bootlace.service
echo "bake.sh: bootlace installed and enabled; $STATE_DIR is empty"
