#!/bin/sh
# Runs each cmocka test binary given as an argument, under a timeout, and
# prints one summary line.
# No test may reach a metadata service: tests that need IMDS start the
# loopback emulator and point at it themselves.
unset AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE
export AWS_EC2_METADATA_DISABLED=true
passed=0 failed=0
for t in "$@"; do
	if timeout 120 "$t"; then passed=$((passed + 1)); else
		echo "FAILED: $t" >&2; failed=$((failed + 1)); fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
