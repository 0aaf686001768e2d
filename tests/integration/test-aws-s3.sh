# The heart of bootlace on EC2, against emulated AWS: IMDSv2 says who the
# instance is and hands out the role's credentials, its tags pick the
# layers, and base -> role -> environment come from S3 through GetObject
# signed with SigV4, which moto checks (request authentication on).
. "$(dirname "$0")/lib.sh"
world_init web production
layer environments/dev/setup.sh 0
aws_world

# --dry-run resolves the real URLs and fetches nothing.
bl run --dry-run
expect_rc 0
expect_out "instance     $WORLD_INSTANCE_ID (datasource ec2)"
expect_out "role=web"
for k in base/setup.sh roles/web/setup.sh environments/production/setup.sh; do
	expect_out "s3://$WORLD_BUCKET/$WORLD_PREFIX$k"
done
[ -z "$(faultproxy_requests text | grep ' GET /' || :)" ] || fail "--dry-run fetched something"

# The first boot: all three layers, in order, from S3.
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
expect_out "AWS credentials of instance role $WORLD_ROLE loaded"
log=$(faultproxy_requests text)
for k in base/setup.sh roles/web/setup.sh environments/production/setup.sh; do
	printf '%s\n' "$log" | grep -q "GET /$WORLD_BUCKET/$WORLD_PREFIX$k.* 200" ||
		fail "no signed GET of $k accepted by S3: $log"
done
python3 - "$WORLD/state/runs/setup.json" "$WORLD_BUCKET" <<'PY' || fail "the run record is wrong"
import json, sys
rec = json.load(open(sys.argv[1]))
assert rec["state"] == "succeeded", rec
for l in rec["layers"]:
    assert l["status"] == "ok", l
    assert l["source"].startswith("s3://" + sys.argv[2] + "/"), l
    assert len(l["sha256"]) == 64 and l["etag"], l
PY
[ -z "$(ls -A "$WORLD/state/tmp")" ] || fail "temp files left: $(ls "$WORLD/state/tmp")"

# The environment has no overlay: skipped, the rest runs.
fresh_state
world_delete "${WORLD_PREFIX}environments/production/setup.sh"
bl run
expect_rc 0
expect_out "layer environments/production/setup.sh: no object at"
expect_order "base/setup.sh roles/web/setup.sh "
world_put "${WORLD_PREFIX}environments/production/setup.sh" "$WORLD/layers/environments/production/setup.sh"

# A required layer that is missing stops everything before anything runs.
fresh_state
world_delete "${WORLD_PREFIX}base/setup.sh"
bl run
expect_rc 1
expect_out "required layer not found at s3://$WORLD_BUCKET/${WORLD_PREFIX}base/setup.sh"
[ ! -e "$ORDER" ] || fail "layers ran without their base"
world_put "${WORLD_PREFIX}base/setup.sh" "$WORLD/layers/base/setup.sh"

# S3 throttles twice (503 SlowDown), then answers: retried, all runs.
fresh_state
faultproxy_fault '[{"match": "roles/web/setup.sh", "times": 2, "action": "status", "status": 503, "code": "SlowDown"}]'
bl run
expect_rc 0
expect_out "503"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
[ "$(faultproxy_requests text | grep -c 'GET .*roles/web/setup.sh')" -ge 3 ] ||
	fail "the throttled layer was not retried: $(faultproxy_requests text)"

# A body cut short of its Content-Length is retried, never run half.
fresh_state
faultproxy_fault '[{"match": "roles/web/setup.sh", "times": 1, "action": "truncate", "bytes": 10}]'
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "

# An object over s3.max_object_size: refused, nothing runs.
fresh_state
head -c 2048 /dev/zero >> "$WORLD/layers/roles/web/setup.sh"
world_put "${WORLD_PREFIX}roles/web/setup.sh" "$WORLD/layers/roles/web/setup.sh"
printf 's3:\n  max_object_size: 1024\n' >> "$CONFIG"
bl run
expect_rc 1
expect_out "roles/web/setup.sh"
expect_out "1024"
[ ! -e "$ORDER" ] || fail "layers ran although one was over the size cap"
[ -z "$(ls -A "$WORLD/state/tmp")" ] || fail "temp files left: $(ls "$WORLD/state/tmp")"
sed -i '/^s3:/,$d' "$CONFIG"
layer roles/web/setup.sh 0
world_put "${WORLD_PREFIX}roles/web/setup.sh" "$WORLD/layers/roles/web/setup.sh"

# The bucket answers from another region: followed once, signed for it.
fresh_state
faultproxy_fault '[{"match": "base/setup.sh", "times": 1, "action": "status", "status": 301, "code": "PermanentRedirect", "headers": {"x-amz-bucket-region": "us-west-2"}}]'
bl run
expect_rc 0
expect_out "is in us-west-2"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "

# The instance has no role tag: the role overlay is skipped with a warning
# naming the tag; base and environment still run.
fresh_state
imds_control POST data '{"tags": {"environment": "production"}}' >/dev/null
bl run
expect_rc 0
expect_out "the instance has no tag \"role\""
expect_order "base/setup.sh environments/production/setup.sh "
