#!/bin/sh
# Runs each cmocka test binary given as an argument, under a timeout, and
# prints one summary line.
# No test may reach a metadata service: tests that need IMDS start the
# loopback emulator and point at it themselves.
unset AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE
export AWS_EC2_METADATA_DISABLED=true
# Nor AWS: no credentials are inherited, and any AWS call a test does not
# point at an emulator goes to a closed loopback port instead of AWS.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_EC2 AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
export AWS_ENDPOINT_URL=http://127.0.0.1:9
passed=0 failed=0
for t in "$@"; do
	if timeout 120 "$t"; then passed=$((passed + 1)); else
		echo "FAILED: $t" >&2; failed=$((failed + 1)); fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
