# Tags without instance metadata tags: bootlace falls back to EC2
# DescribeTags (a form POST signed with the role's credentials, checked by
# moto), and an instance without a role tag runs only what it can.
. "$(dirname "$0")/lib.sh"
world_init app staging
aws_world --imds-tags false --tags '{"role": "app", "environment": "staging"}'

bl run
expect_rc 0
expect_out "asking EC2 DescribeTags"
expect_order "base/setup.sh roles/app/setup.sh environments/staging/setup.sh "
faultproxy_requests text | grep -q "POST / 200" ||
	fail "no DescribeTags POST was accepted: $(faultproxy_requests text)"

# tags.source: imds never asks the API: the overlays are skipped.
fresh_state
printf 'tags:\n  source: imds\n' >> "$CONFIG"
faultproxy_control DELETE requests >/dev/null
bl run
expect_rc 0
expect_out "IMDS has no instance tags"
expect_order "base/setup.sh "
if faultproxy_requests text | grep -q "POST /"; then fail "DescribeTags was called with tags.source: imds"; fi

# EC2 throttles DescribeTags (RequestLimitExceeded) once: retried.
fresh_state
sed -i '/^tags:/,$d' "$CONFIG"
faultproxy_fault '[{"method": "POST", "times": 1, "action": "status", "status": 503, "code": "RequestLimitExceeded"}]'
bl run
expect_rc 0
expect_order "base/setup.sh roles/app/setup.sh environments/staging/setup.sh "
