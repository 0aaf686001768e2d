# datasource ec2 against the IMDS emulator on 127.0.0.1: who the instance
# is, its tags and user data over IMDSv2, then the layers in order; tags
# turned off in IMDS; an IMDS that is not up yet; IMDS disabled.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../emulators/lib.sh"
world_init web production
sed -i '/^datasource/d' "$CONFIG"   # auto: the endpoint variable selects ec2
cat > "$WORLD/imds.json" <<JSON
{"instance-id": "i-0ec2000000000001", "region": "eu-central-1",
 "availability-zone": "eu-central-1c",
 "tags": {"role": "web", "environment": "production", "Name": "web 1"},
 "user-data": "#!/bin/sh\necho user-data >> $ORDER\n"}
JSON
imds_start --data "$WORLD/imds.json" || fail "IMDS emulator did not start"
unset AWS_EC2_METADATA_DISABLED

bl run
expect_rc 0
expect_out "datasource ec2: AWS_EC2_METADATA_SERVICE_ENDPOINT is set"
expect_out "setup on instance i-0ec2000000000001 (datasource ec2, zone eu-central-1c)"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh user-data "
log=$(imds_requests text)
printf '%s\n' "$log" | head -n 1 | grep -q "PUT /latest/api/token token=no status=200" ||
	fail "the first IMDS request is not the token PUT: $log"
[ "$(printf '%s\n' "$log" | grep -c "PUT /latest/api/token")" -eq 1 ] || fail "more than one token: $log"
if printf '%s\n' "$log" | grep " GET " | grep -q "token=no"; then fail "a GET without the token: $log"; fi
python3 - "$WORLD/state/context.json" <<'PY' || fail "context.json lacks the IMDS tags"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["instance"]["datasource"] == "ec2", c
assert c["instance"]["region"] == "eu-central-1", c
assert c["instance"]["tags"] == {"role": "web", "environment": "production", "Name": "web 1"}, c
PY

# The identity document says who the instance is in one request; the
# meta-data items are not asked.  Without the document they are.
if printf '%s\n' "$log" | grep -q "meta-data/instance-id\|meta-data/placement"; then
	fail "meta-data items asked although the identity document has them: $log"
fi
imds_control POST data '{"paths": {"dynamic/instance-identity/document": null}}' >/dev/null
imds_control POST reset >/dev/null
fresh_state
bl run
expect_rc 0
expect_out "setup on instance i-0ec2000000000001 (datasource ec2, zone eu-central-1c)"
log=$(imds_requests text)
for item in instance-id placement/region placement/availability-zone; do
	printf '%s\n' "$log" | grep -q "GET /latest/meta-data/$item token=yes status=200" ||
		fail "no meta-data/$item without the identity document: $log"
done
grep -q '"region": *"eu-central-1"' "$WORLD/state/context.json" ||
	fail "no region from meta-data/placement/region: $(cat "$WORLD/state/context.json")"
imds_control POST data '{"paths": {}}' >/dev/null

# Tags off in the instance's metadata options, and tags.source: imds (no
# DescribeTags fallback): a warning, base still runs.
imds_control POST options '{"tags": false}' >/dev/null
printf 'tags:\n  source: imds\n' >> "$CONFIG"
layer base/configure.sh 0
bl run --event configure
expect_rc 0
expect_out "IMDS has no instance tags"
expect_out "skipping layer roles/{role}/{event}.sh: the instance has no tag \"role\""

# Early boot: IMDS refuses connections for a second; bootlace waits.
world_init web production
sed -i '/^datasource/d' "$CONFIG"
imds_control POST options '{"tags": true}' >/dev/null
imds_fault '{"unavailable_for": 1}' >/dev/null
bl run
expect_rc 0
expect_out "IMDS at http://127.0.0.1:$IMDS_PORT answered after"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh user-data "

# Disabled by the operator: a clear error, nothing runs.
world_init web production
sed -i '/^datasource/d' "$CONFIG"
AWS_EC2_METADATA_DISABLED=true bl run
expect_rc 3
expect_out "IMDS is disabled by AWS_EC2_METADATA_DISABLED=true"
[ ! -e "$ORDER" ] || fail "layers ran with IMDS disabled"

# An endpoint that is not a URL is the operator's error (exit 2), and so is
# a bad imds key in the configuration, which check-config reports.
unset AWS_EC2_METADATA_DISABLED
AWS_EC2_METADATA_SERVICE_ENDPOINT=127.0.0.1:9 bl run
expect_rc 2
expect_out "IMDS endpoint \"127.0.0.1:9\" is not an http:// or https:// URL"
printf 'imds:\n  endpoint: 127.0.0.1:9\n' >> "$CONFIG"
bl check-config
expect_rc 2
expect_out "^$CONFIG:[0-9]*:13: imds.endpoint: \"127.0.0.1:9\" is not an http:// or https:// URL"
