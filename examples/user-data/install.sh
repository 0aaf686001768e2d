#!/bin/sh
# install.sh - EC2 user data that installs bootlace on a stock AMI (Debian,
# Ubuntu, Amazon Linux 2023, RHEL, Fedora) and starts it.  cloud-init runs
# it as root, once per instance, late in the first boot (cloud-final).  It
# downloads the package with curl (no AWS CLI), checks its SHA-256, writes
# bootlace's settings to /etc/bootlace/conf.d/ and starts bootlace.service,
# which then sets the instance up from its layers.
#
# Edit the settings below; each can also come from the environment.  For an
# AMI with bootlace baked in, use bootlace.yaml (a "#bootlace" document) as
# the user data instead.
set -eu

# The packages `make deb` and `make rpm` build, and their SHA-256 (sha256sum
# FILE): from anywhere curl reaches - an internal mirror, an S3 object made
# public-read, or a presigned URL (one expires within 7 days, and a launch
# template outlives that).  @REGION@ becomes the instance's region, read
# from IMDSv2, for one bucket per region: an instance in a private subnet
# reaches S3 through a gateway endpoint, which serves its own region only.
DEB_URL=${DEB_URL:-https://example-bootlace-packages-@REGION@.s3.@REGION@.amazonaws.com/bootlace_0.1.0_amd64.deb}
DEB_SHA256=${DEB_SHA256:-REPLACE-WITH-THE-SHA-256-OF-THE-DEB}
RPM_URL=${RPM_URL:-https://example-bootlace-packages-@REGION@.s3.@REGION@.amazonaws.com/bootlace-0.1.0-1.x86_64.rpm}
RPM_SHA256=${RPM_SHA256:-REPLACE-WITH-THE-SHA-256-OF-THE-RPM}

# bootlace's settings (bootlace.yaml(5)): where the layers are, and where
# the instance's tags come from (auto: IMDS, else EC2 DescribeTags).
SOURCE=${SOURCE:-s3://example-bootstrap-bucket/bootstrap/}
TAGS_SOURCE=${TAGS_SOURCE:-auto}

ETC=/etc/bootlace

die() {
	echo "bootlace install: $*" >&2
	exit 1
}

# bootlace runs a "#!" user-data script as the last layer of setup, so once
# it is up it runs this script again.  There is nothing left to do then.
if [ -n "${BOOTLACE_EVENT:-}" ]; then
	echo "bootlace install: run by bootlace ($BOOTLACE_EVENT), which is installed already"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root"

if command -v dpkg >/dev/null; then
	url=$DEB_URL sha256=$DEB_SHA256 pkg=bootlace.deb
elif command -v rpm >/dev/null; then
	url=$RPM_URL sha256=$RPM_SHA256 pkg=bootlace.rpm
else
	die "neither dpkg nor rpm is installed: no package fits this system"
fi

# imds PATH: an IMDSv2 GET, with a session token (IMDSv1 is off on
# instances that require tokens).  AWS_EC2_METADATA_SERVICE_ENDPOINT and
# AWS_EC2_METADATA_DISABLED work as in the AWS SDKs.  Never through a proxy.
imds() {
	[ "${AWS_EC2_METADATA_DISABLED:-false}" != true ] ||
		die "AWS_EC2_METADATA_DISABLED is set: cannot read $1 from IMDS"
	endpoint=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
	endpoint=${endpoint%/}
	token=$(curl -sSf --noproxy '*' --connect-timeout 2 --max-time 10 --retry 5 \
		--retry-connrefused -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
		"$endpoint/latest/api/token") || die "no IMDSv2 session token from $endpoint"
	curl -sSf --noproxy '*' --connect-timeout 2 --max-time 10 --retry 5 \
		--retry-connrefused -H "X-aws-ec2-metadata-token: $token" \
		"$endpoint/latest/meta-data/$1" || die "could not read $1 from $endpoint"
}

case $url in
*@REGION@*)
	region=$(imds placement/region)
	case $region in
	'' | *[!a-z0-9-]*) die "IMDS gave an odd region: \"$region\"" ;;
	esac
	url=$(printf '%s\n' "$url" | sed "s/@REGION@/$region/g")
	;;
esac
# A presigned URL's query is a credential: messages show the URL without it.
shown=${url%%\?*}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 5 --retry-connrefused --retry-delay 2 -o "$tmp/$pkg" "$url" ||
	die "could not download $shown"
got=$(sha256sum "$tmp/$pkg")
got=${got%% *}
[ "$got" = "$sha256" ] || die "$shown: SHA-256 is $got, expected $sha256"

# The settings go in place before the package does: whatever starts
# bootlace finds them.  A package never touches conf.d/.
# quote VALUE: VALUE as a YAML single-quoted string.
quote() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}
mkdir -p "$ETC/conf.d"
cat > "$ETC/conf.d/50-user-data.yaml.new" <<EOF
# Written by the EC2 user data (bootlace's examples/user-data/install.sh).
source: $(quote "$SOURCE")
tags:
  source: $(quote "$TAGS_SOURCE")
EOF
mv -f "$ETC/conf.d/50-user-data.yaml.new" "$ETC/conf.d/50-user-data.yaml"

# The package managers, not dpkg -i or rpm -i: they also install what
# bootlace depends on (libcurl, libyaml, jansson, ...).
case $pkg in
*.deb)
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q "$tmp/$pkg"
	;;
*)
	if command -v dnf >/dev/null; then
		dnf install -y -q "$tmp/$pkg"
	else
		yum install -y -q "$tmp/$pkg"
	fi
	;;
esac
bootlace check-config --config "$ETC/bootlace.yaml"

# --no-block: queue the start and return.  This script runs inside
# cloud-final.service, and bootlace.service (Type=notify) is active only
# once setup has finished: waiting would hold cloud-init for the whole
# setup, and hang the boot for two hours if a layer script waits for a unit
# ordered after cloud-final (README.md, "The boot deadlock").
systemctl enable --now --no-block bootlace.service
echo "bootlace install: bootlace.service is starting; journalctl -u bootlace -f follows it"
