# examples/: every file there is checked by something that can fail, and a
# file no check knows fails the test.  JSON and YAML parse; every bootlace
# configuration passes check-config; the CloudFormation template parses
# (tags and all) and says what examples/iam and examples/user-data say;
# every script passes sh -n and shellcheck; Terraform and Packer files pass
# their fmt -check; the s3-layout scripts run (unprivileged, in dry-run mode)
# for each event directly and through bootlace; the user-data installer and
# the Packer bake script run against stand-ins for the package manager and
# systemctl, fetching over loopback.  Tools that are not installed are
# skipped with a "skipped:" line.  Nothing outside $WORLD is written, and
# nothing leaves the machine.
. "$(dirname "$0")/lib.sh"
ex=$(cd "$(dirname "$0")/../../examples" && pwd)
# Terraform must not phone home (checkpoint), nor read this user's settings.
export CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null
chmod 0711 "$WORLD"	# nobody runs scripts from a directory in here

skip() {
	echo "skipped: $*"
}

# offline CMD...: CMD with no network at all, where user namespaces allow.
offline() {
	if unshare -rn true 2>/dev/null; then
		unshare -rn "$@"
	else
		"$@"
	fi
}

has_yaml=1
python3 -c 'import yaml' 2>/dev/null || has_yaml=0

# ---- every file has a check
scripts='' configs='' unknown=''
for f in $(cd "$ex" && find . -type f | sed 's|^\./||' | sort); do
	case $f in
	*.md) ;;	# prose
	*.json) python3 -m json.tool "$ex/$f" >/dev/null || fail "$f: not JSON" ;;
	cloudformation/bootlace.yaml) ;;	# below: tags need their own loader
	*.yaml) configs="$configs $f" ;;
	*.sh) scripts="$scripts $f" ;;
	terraform/main.tf | packer/bootlace.pkr.hcl) ;;	# below
	demo/seed/meta-data) ;;	# below, as a seed
	*)
		if head -n 1 "$ex/$f" | grep -q '^#!/bin/sh'; then
			scripts="$scripts $f"
		else
			unknown="$unknown $f"
		fi
		;;
	esac
done
[ -z "$unknown" ] || fail "no check for examples/:$unknown (add one to $0)"

# ---- shell scripts
for f in $scripts; do
	sh -n "$ex/$f" || fail "$f: sh -n"
done
if command -v shellcheck >/dev/null; then
	(cd "$ex" && shellcheck $scripts) || fail "shellcheck"
else
	skip "shellcheck not installed (Debian package shellcheck)"
fi

# ---- bootlace configurations, the "#bootlace" user data among them
for f in $configs; do
	out=$("$BOOTLACE" check-config --config "$ex/$f" 2>&1) || fail "$f: $out"
done
# The user-data document, merged the way an instance merges it.
world_init web production
cp "$ex/user-data/bootlace.yaml" "$WORLD/seed/user-data"
bl run --dry-run
expect_rc 0
expect_out "#bootlace configuration merged"
expect_out "s3://example-bootstrap-bucket/bootstrap/roles/web/setup.sh"
# The demo's seed is a seed bootlace reads.
cat > "$CONFIG" <<YAML
datasource: nocloud
datasource_dir: $ex/demo/seed
state_dir: $WORLD/state
YAML
bl run --dry-run
expect_rc 0
expect_out "tags .*role=web"

# ---- CloudFormation: a YAML loader that knows the short-form functions
# (!Ref, !Sub, ...) and refuses duplicate keys; the template must say
# what examples/iam and examples/user-data say.  cfn-lint too, if there.
if [ "$has_yaml" = 1 ]; then
	python3 - "$ex" "$WORLD/cfn-user-data" <<'PY' || fail "examples/cloudformation/bootlace.yaml"
import json, re, sys, yaml
ex, user_data_out = sys.argv[1], sys.argv[2]

class Loader(yaml.SafeLoader):
    pass

def function(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref" if suffix == "Ref" else "Fn::" + suffix: value}

def mapping(loader, node):
    keys = [loader.construct_object(k, deep=True) for k, _ in node.value]
    dups = {k for k in keys if keys.count(k) > 1}
    if dups:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {dups}", node.start_mark)
    return loader.construct_mapping(node, deep=True)

Loader.add_multi_constructor("!", function)
Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)

t = yaml.load(open(f"{ex}/cloudformation/bootlace.yaml"), Loader=Loader)
assert t["AWSTemplateFormatVersion"] == "2010-09-09"
names = set(t["Parameters"]) | set(t["Resources"])

def refs(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "Ref":
                yield x
            elif k == "Fn::GetAtt":
                yield x[0]
            elif k == "Fn::Sub":
                yield from (n for n in re.findall(r"\$\{([^}!.]+)", x) if not n.startswith("AWS::"))
            else:
                yield from refs(x)
    elif isinstance(v, list):
        for x in v:
            yield from refs(x)

unknown = set(refs(t)) - names
assert not unknown, f"references to nothing: {unknown}"

BUCKET = {"BucketName": "example-bootstrap-bucket"}
def sub(v):
    if isinstance(v, dict):
        if set(v) == {"Fn::Sub"}:
            return re.sub(r"\$\{(\w+)\}", lambda m: BUCKET[m.group(1)], v["Fn::Sub"])
        return {k: sub(x) for k, x in v.items()}
    if isinstance(v, list):
        return [sub(x) for x in v]
    return v

res = t["Resources"]
lt = res["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
assert lt["MetadataOptions"] == {"HttpEndpoint": "enabled", "HttpTokens": "required",
    "HttpPutResponseHopLimit": 1, "InstanceMetadataTags": "enabled"}, lt["MetadataOptions"]
[spec] = [s for s in lt["TagSpecifications"] if s["ResourceType"] == "instance"]
tags = {x["Key"]: x["Value"] for x in spec["Tags"]}
assert tags["role"] == {"Ref": "Role"} and tags["environment"] == {"Ref": "Environment"}, tags
assert lt["IamInstanceProfile"] == {"Arn": {"Fn::GetAtt": ["InstanceProfile", "Arn"]}}
assert res["InstanceProfile"]["Properties"]["Roles"] == [{"Ref": "InstanceRole"}]

[policy] = res["InstanceRole"]["Properties"]["Policies"]
iam = json.load(open(f"{ex}/iam/instance-role-policy.json"))
assert sub(policy["PolicyDocument"]) == iam, "the policy is not examples/iam/instance-role-policy.json"

user_data = sub(lt["UserData"]["Fn::Base64"])
assert user_data.startswith("#bootlace\n"), user_data
assert yaml.safe_load(user_data) == yaml.safe_load(open(f"{ex}/user-data/bootlace.yaml")), \
    "the user data is not examples/user-data/bootlace.yaml"
open(user_data_out, "w").write(user_data)
PY
	out=$("$BOOTLACE" check-config --config "$WORLD/cfn-user-data" 2>&1) ||
		fail "the CloudFormation template's user data: $out"
else
	skip "CloudFormation template not parsed: python3 has no yaml module (Debian package python3-yaml)"
fi
if command -v cfn-lint >/dev/null; then
	offline cfn-lint "$ex/cloudformation/bootlace.yaml" || fail "cfn-lint"
else
	skip "cfn-lint not installed"
fi

# ---- Terraform and Packer: what the templates must say, and their format.
tf=$ex/terraform/main.tf
for want in 'http_tokens *= "required"' 'instance_metadata_tags *= "enabled"' \
	'http_put_response_hop_limit *= 1$' 'resource_type *= "instance"' \
	'^ *role *= var\.role$' '^ *environment *= var\.environment$'; do
	grep -Eq -- "$want" "$tf" || fail "main.tf does not say $want"
done
for f in $(sed -n 's|.*file("${path.module}/\([^"]*\)").*|\1|p' "$tf"); do
	[ -f "$ex/terraform/$f" ] || fail "main.tf reads $f, which is not there"
done
grep -q 'iam/instance-role-policy.json' "$tf" || fail "main.tf's policy is not examples/iam's"
grep -q 'user-data/bootlace.yaml' "$tf" || fail "main.tf's user data is not examples/user-data's"
pk=$ex/packer/bootlace.pkr.hcl
grep -q 'script *= "${path.root}/bake.sh"' "$pk" || fail "bootlace.pkr.hcl does not run bake.sh"
if command -v terraform >/dev/null; then
	offline terraform fmt -check -diff "$ex/terraform" || fail "terraform fmt"
else
	skip "terraform fmt: terraform not installed"
fi
if command -v packer >/dev/null; then
	offline packer fmt -check -diff "$pk" || fail "packer fmt"
elif command -v terraform >/dev/null; then
	# The same HCL formatter: a copy named .tf gets the same verdict.
	cp "$pk" "$WORLD/packer.tf"
	offline terraform fmt -check -diff "$WORLD/packer.tf" || fail "bootlace.pkr.hcl: not formatted"
	skip "packer fmt: packer not installed (terraform fmt checked bootlace.pkr.hcl instead)"
else
	skip "packer fmt: neither packer nor terraform installed"
fi

# ---- s3-layout: one preamble, shared blocks the same wherever they are.
layout=$ex/s3-layout
layout_scripts=$(cd "$layout" && find . -name '*.sh' | sed 's|^\./||' | sort)
# block NAME FILE: the lines between "# ---- begin NAME" and "# ---- end
# NAME", without the first (which names the other copies).
block() {
	sed -n "/^# ---- begin $1[:]/,/^# ---- end $1\$/p" "$2" | sed 1d
}
block preamble "$layout/base/setup.sh" > "$WORLD/preamble"
[ -s "$WORLD/preamble" ] || fail "base/setup.sh has no preamble"
for f in $layout_scripts; do
	[ -x "$layout/$f" ] || fail "s3-layout/$f is not executable"
	block preamble "$layout/$f" | cmp -s - "$WORLD/preamble" ||
		fail "s3-layout/$f: the preamble differs from base/setup.sh's"
done
for name in $(cd "$layout" && cat $layout_scripts | sed -n 's/^# ---- begin \([a-z-]*\):.*/\1/p' |
	sort | uniq -c | awk '$2 != "preamble" { if ($1 < 2) print "!" $2; else print $2 }'); do
	case $name in !*) fail "s3-layout: block ${name#!} is marked shared but is in one script" ;; esac
	first=''
	for f in $layout_scripts; do
		grep -q "^# ---- begin $name:" "$layout/$f" || continue
		block "$name" "$layout/$f" > "$WORLD/block"
		if [ -z "$first" ]; then
			first=$f
			cp "$WORLD/block" "$WORLD/block.first"
		else
			cmp -s "$WORLD/block" "$WORLD/block.first" ||
				fail "s3-layout: block $name differs between $first and $f"
		fi
	done
done

# Each script by itself, with bootlace's variables, as an unprivileged
# user (nobody, when this runs as root): nothing outside the sandbox is
# writable, and a command that changes the system is a stand-in that
# records the call and fails.
sandbox=$WORLD/sandbox
mkdir -p "$sandbox/bin" "$sandbox/state"
cp -R "$layout" "$sandbox/layout"	# the checkout may be closed to nobody
: > "$sandbox/changed"
for cmd in apt-get dnf yum systemctl sysctl sshd useradd nginx; do
	cat > "$sandbox/bin/$cmd" <<SH
#!/bin/sh
echo "$cmd \$*" >> "$sandbox/changed"
exit 1
SH
	chmod 0755 "$sandbox/bin/$cmd"
done
as_user=''
if [ "$(id -u)" -eq 0 ]; then
	chown -R nobody "$sandbox"
	as_user="setpriv --reuid=$(id -u nobody) --regid=$(id -g nobody) --clear-groups"
fi
# context TAGS_JSON: the context.json of an app/dev instance with these tags.
context() {
	cat > "$sandbox/context.json" <<JSON
{"event": "setup", "instance": {"datasource": "ec2", "instance_id": "i-0example00000001",
 "region": "eu-west-1", "availability_zone": "eu-west-1a", "tags": $1},
 "layers": [], "state_dir": "$sandbox/state"}
JSON
	chmod 0644 "$sandbox/context.json"
}
# direct FILE EVENT: runs s3-layout/FILE; output in $OUT, status in $RC.
direct() {
	RC=0
	OUT=$(cd / && $as_user env -i PATH="$sandbox/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		LANG=C.UTF-8 HOME=/ BOOTLACE_EVENT="$2" BOOTLACE_LAYER="$1" \
		BOOTLACE_INSTANCE_ID=i-0example00000001 BOOTLACE_REGION=eu-west-1 \
		BOOTLACE_AVAILABILITY_ZONE=eu-west-1a BOOTLACE_ROLE=app BOOTLACE_ENVIRONMENT=dev \
		BOOTLACE_STATE_DIR="$sandbox/state" BOOTLACE_CONTEXT="$sandbox/context.json" \
		sh "$sandbox/layout/$1" 2>&1) || RC=$?
}
context '{"role": "app", "environment": "dev", "Name": "app 1", "release": "2.0.1"}'
# setup first, base then roles then environments, as on an instance; then
# the other events.
setups=$(printf '%s\n' $layout_scripts | grep '/setup\.sh$' |
	awk -F/ '{ print ($1 == "base" ? 0 : $1 == "roles" ? 1 : 2), $0 }' | sort -n | cut -d' ' -f2)
for f in $setups $(printf '%s\n' $layout_scripts | grep -v '/setup\.sh$'); do
	event=${f##*/}
	direct "$f" "${event%.sh}"
	expect_rc 0
	[ ! -s "$sandbox/changed" ] || fail "s3-layout/$f changed the system: $(cat "$sandbox/changed")"
done
[ -L "$sandbox/state/dry-run/var/www/example/current" ] || fail "roles/web/setup.sh made no current link"
[ -f "$sandbox/state/dry-run/srv/example-app/releases/2.0.1/bin/example-app" ] ||
	fail "roles/app/deploy.sh did not stage release 2.0.1"
# Tagged bootlace-examples=apply, a script acts: here it may not.
if [ ! -e /etc/example-monitoring ]; then
	context '{"bootlace-examples": "apply"}'
	direct base/configure.sh configure
	[ "$RC" -ne 0 ] || fail "base/configure.sh wrote /etc in apply mode as $(id -un): $OUT"
	expect_out "/etc/example-monitoring"
	[ ! -e /etc/example-monitoring ] || fail "/etc/example-monitoring was created"
fi

# Through bootlace: the layout matches the default layers, every event
# runs, and a second setup changes nothing.
world_init app dev
rm -rf "$WORLD/layers"
cat > "$WORLD/seed/meta-data" <<YAML
instance-id: i-0example00000002
region: eu-west-1
availability-zone: eu-west-1b
tags: {role: app, environment: dev, Name: app-2, release: "1.4.0"}
YAML
sed -i "s|^source: .*|source: file://$layout/|" "$CONFIG"
bl run
expect_rc 0
expect_out "layer base/setup.sh: ok"
expect_out "layer roles/app/setup.sh: ok"
expect_out "layer environments/dev/setup.sh: ok"
expect_out "dry run: useradd"
bl run --force
expect_rc 0
expect_no_out "wrote "
bl deploy
expect_rc 0
expect_out "release 1.4.0 deployed"
bl deploy
expect_rc 0
expect_out "release 1.4.0 is already running"
sed -i 's/release: "1.4.0"/release: "1.4.0", log_level: debug/' "$WORLD/seed/meta-data"
bl run --event configure
expect_rc 0
expect_out "wrote $WORLD/state/dry-run/etc/example-app/app.env"
grep -qx 'LOG_LEVEL=debug' "$WORLD/state/dry-run/etc/example-app/app.env" ||
	fail "log_level=debug did not reach app.env"
bl undeploy
expect_rc 0
expect_out "roles/app: undeployed"
bl run --event shutdown
expect_rc 0
expect_out "layer roles/app/shutdown.sh: ok"

world_init web production
rm -rf "$WORLD/layers"
sed -i "s|^source: .*|source: file://$layout/|" "$CONFIG"
bl run
expect_rc 0
expect_out "layer roles/web/setup.sh: ok"
expect_out "layer environments/production/setup.sh: ok"
bl deploy
expect_rc 1
expect_out "has no release tag"
sed -i 's/^  environment: production$/&\n  release: "7"/' "$WORLD/seed/meta-data"
bl deploy
expect_rc 0
expect_out "now serving release 7"
bl undeploy
expect_rc 0
expect_out "now serving the maintenance page"

# The README's way to try the layout, as written there.
sed -n '/^try=\$(mktemp -d)$/,/^find /p' "$layout/README.md" > "$WORLD/try.sh"
[ -s "$WORLD/try.sh" ] || fail "s3-layout/README.md: no try=\$(mktemp -d) ... find block"
mkdir -p "$WORLD/try-bin" "$WORLD/try-tmp"
ln -s "$BOOTLACE" "$WORLD/try-bin/bootlace"
OUT=$(cd "$ex/.." && PATH="$WORLD/try-bin:$PATH" TMPDIR="$WORLD/try-tmp" sh -e "$WORLD/try.sh" 2>&1) ||
	fail "the s3-layout/README.md recipe failed:
$OUT"
expect_out "release 1.0 deployed"
expect_out "dry-run/srv/example-app/current$"

# ---- user-data/install.sh, and packer/bake.sh: each with a PATH of the
# few tools it may use (no AWS CLI among them), and stand-ins for the
# package managers and systemctl that record their calls.
tools=$WORLD/tools
mkdir -p "$tools"
cat > "$WORLD/stand-in" <<SH
#!/bin/sh
echo "\${0##*/} \$*" >> "$WORLD/calls"
for a; do
	case \$a in
	*.deb | *.rpm) h=\$("$(command -v sha256sum)" < "\$a") && echo "package \${h%% *}" >> "$WORLD/calls" ;;
	esac
done
SH
chmod 0755 "$WORLD/stand-in"
printf '#!/bin/sh\necho 0\n' > "$WORLD/id"
chmod 0755 "$WORLD/id"
# path_with TOOL...: $tools holds these tools and nothing else: stand-ins
# for the package managers, systemctl and id (which says root), the
# bootlace under test, and this machine's own for the rest.
path_with() {
	rm -f "$tools"/*
	for t; do
		case $t in
		id) ln -s "$WORLD/id" "$tools/id" ;;
		bootlace) ln -s "$BOOTLACE" "$tools/bootlace" ;;
		apt-get | dnf | yum | dpkg | rpm | systemctl) ln -s "$WORLD/stand-in" "$tools/$t" ;;
		*) ln -s "$(command -v "$t")" "$tools/$t" || fail "$t is not installed" ;;
		esac
	done
	: > "$WORLD/calls"
}
expect_calls() {
	got=$(grep -v '^package ' "$WORLD/calls" | sed "s|$WORLD/tmp/[^/]*/|TMP/|g")
	[ "$got" = "$1" ] || fail "calls:
$got
expected:
$1"
}

# install.sh writes /etc/bootlace: a copy of it writes $WORLD/etc-bootlace.
etc=$WORLD/etc-bootlace
sed "s|^ETC=/etc/bootlace\$|ETC=$etc|" "$ex/user-data/install.sh" > "$WORLD/install.sh"
! cmp -s "$ex/user-data/install.sh" "$WORLD/install.sh" || fail "install.sh has no ETC=/etc/bootlace line"
mkdir -p "$etc" "$WORLD/tmp" "$WORLD/pkgs/eu-central-1"
cp "$ex/bootlace.yaml" "$etc/bootlace.yaml"	# what the package installs
head -c 40000 /dev/urandom > "$WORLD/pkgs/eu-central-1/bootlace_0.1.0_amd64.deb"
cp "$WORLD/pkgs/eu-central-1/bootlace_0.1.0_amd64.deb" "$WORLD/pkgs/bootlace-0.1.0-1.x86_64.rpm"
sum=$(sha256sum < "$WORLD/pkgs/bootlace-0.1.0-1.x86_64.rpm")
sum=${sum%% *}
installer_tools="id curl sed mktemp rm sha256sum mkdir cat mv bootlace apt-get dnf systemctl"
# installer VAR=VALUE...: runs install.sh; output in $OUT, status in $RC.
installer() {
	RC=0
	OUT=$(env -i PATH="$tools" TMPDIR="$WORLD/tmp" HOME="$WORLD" "$@" /bin/sh "$WORLD/install.sh" 2>&1) ||
		RC=$?
	[ -z "$(ls -A "$WORLD/tmp")" ] || fail "install.sh left $(ls "$WORLD/tmp") behind"
}

. "$(dirname "$0")/../emulators/lib.sh"
printf '{"region": "eu-central-1"}\n' > "$WORLD/imds.json"
imds_start --data "$WORLD/imds.json" || fail "the IMDS emulator did not start"
faultproxy_start --static "$WORLD/pkgs" || fail "the fault proxy did not start"

# Debian: the region from IMDSv2, a download that needs a retry, then
# apt-get, the settings and a start that does not wait.
path_with $installer_tools dpkg
faultproxy_fault '[{"match": "bootlace_", "times": 1, "action": "status", "status": 503}]' ||
	fail "fault not set"
installer AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS_URL" \
	DEB_URL="$FAULTPROXY_URL/@REGION@/bootlace_0.1.0_amd64.deb" DEB_SHA256="$sum" \
	SOURCE="s3://my-bucket/boot/" TAGS_SOURCE=imds
expect_rc 0
expect_calls "apt-get update -q
apt-get install -y -q TMP/bootlace.deb
systemctl enable --now --no-block bootlace.service"
grep -qx "package $sum" "$WORLD/calls" || fail "apt-get did not get the package that was checked"
[ "$(faultproxy_requests text | grep -c 'GET /eu-central-1/bootlace_0.1.0_amd64.deb')" -eq 2 ] ||
	fail "the download was not retried once: $(faultproxy_requests text)"
log=$(imds_requests text)
printf '%s\n' "$log" | head -n 1 | grep -q "PUT /latest/api/token" || fail "IMDS without a token first: $log"
printf '%s\n' "$log" | grep -q "GET /latest/meta-data/placement/region token=yes status=200" ||
	fail "no region from IMDSv2: $log"
conf=$etc/conf.d/50-user-data.yaml
grep -qx "source: 's3://my-bucket/boot/'" "$conf" || fail "$conf: $(cat "$conf")"
out=$("$BOOTLACE" check-config --config "$etc/bootlace.yaml" 2>&1) || fail "$conf: $out"

# Run again by bootlace, as the user-data layer: nothing to do.
path_with $installer_tools dpkg
installer BOOTLACE_EVENT=setup
expect_rc 0
expect_out "run by bootlace"
expect_calls ""

# A package that does not match its SHA-256 is never installed.
rm -rf "$etc/conf.d"
faultproxy_fault '[{"match": "bootlace_", "times": 1, "action": "corrupt"}]' || fail "fault not set"
installer AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS_URL" \
	DEB_URL="$FAULTPROXY_URL/@REGION@/bootlace_0.1.0_amd64.deb" DEB_SHA256="$sum"
[ "$RC" -ne 0 ] || fail "a corrupt package was accepted: $OUT"
expect_out "SHA-256 is [0-9a-f]*, expected $sum"
expect_calls ""
[ ! -e "$etc/conf.d" ] || fail "settings written for a package that was refused"

# A presigned URL's signature stays out of the messages.
installer DEB_URL="$FAULTPROXY_URL/missing.deb?X-Amz-Signature=5ec7e7" DEB_SHA256="$sum"
[ "$RC" -ne 0 ] || fail "a missing package was accepted"
expect_out "could not download $FAULTPROXY_URL/missing.deb\$"
expect_no_out "5ec7e7"

# IMDS turned off: no region, and no request for it.
before=$(imds_requests text | wc -l)
installer AWS_EC2_METADATA_DISABLED=true AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS_URL" DEB_SHA256="$sum" \
	DEB_URL="$FAULTPROXY_URL/@REGION@/bootlace_0.1.0_amd64.deb"
[ "$RC" -ne 0 ] || fail "installed without the region"
expect_out "AWS_EC2_METADATA_DISABLED is set"
[ "$(imds_requests text | wc -l)" -eq "$before" ] || fail "IMDS was asked although disabled"
expect_calls ""

# Amazon Linux, RHEL, Fedora: no dpkg, so the .rpm, with dnf.
path_with $installer_tools rpm
installer RPM_URL="file://$WORLD/pkgs/bootlace-0.1.0-1.x86_64.rpm" RPM_SHA256="$sum"
expect_rc 0
expect_calls "dnf install -y -q TMP/bootlace.rpm
systemctl enable --now --no-block bootlace.service"
grep -qx "source: 's3://example-bootstrap-bucket/bootstrap/'" "$conf" || fail "$conf: $(cat "$conf")"

# Neither.
path_with $installer_tools
installer
[ "$RC" -ne 0 ] || fail "installed with neither dpkg nor rpm"
expect_out "neither dpkg nor rpm"
expect_calls ""

# bake.sh: install, stop anything started, empty the state directory
# (kept, mode and all), enable without starting.
state=$WORLD/var-lib-bootlace
sed "s|^STATE_DIR=/var/lib/bootlace\$|STATE_DIR=$state|" "$ex/packer/bake.sh" > "$WORLD/bake.sh"
! cmp -s "$ex/packer/bake.sh" "$WORLD/bake.sh" || fail "bake.sh has no STATE_DIR=/var/lib/bootlace line"
bake() {
	RC=0
	OUT=$(env -i PATH="$tools" HOME="$WORLD" /bin/sh "$WORLD/bake.sh" "$@" 2>&1) || RC=$?
}
mkdir -p "$state/instances/i-0build" "$state/cache"
chmod 0700 "$state"
touch "$state/instances/i-0build/events.json" "$state/context.json" "$state/.lock"
path_with find apt-get dnf systemctl
bake "$WORLD/pkgs/eu-central-1/bootlace_0.1.0_amd64.deb"
expect_rc 0
expect_calls "apt-get update -q
apt-get install -y -q $WORLD/pkgs/eu-central-1/bootlace_0.1.0_amd64.deb
systemctl stop bootlace.service bootlace-converge.timer bootlace-converge.service
systemctl enable bootlace.service"
[ -d "$state" ] && [ -z "$(ls -A "$state")" ] || fail "bake.sh left $(ls -A "$state") in the state directory"
[ "$(stat -c %a "$state")" = 700 ] || fail "bake.sh changed the state directory's mode"
path_with find apt-get dnf systemctl
bake "$WORLD/pkgs/bootlace-0.1.0-1.x86_64.rpm"
expect_rc 0
expect_out "bootlace installed and enabled"
grep -q "^dnf install -y -q $WORLD/pkgs/bootlace-0.1.0-1.x86_64.rpm\$" "$WORLD/calls" ||
	fail "bake.sh did not install the .rpm with dnf: $(cat "$WORLD/calls")"
path_with find apt-get dnf systemctl
bake "$WORLD/bootlace.tar.gz"
expect_rc 2
expect_calls ""
