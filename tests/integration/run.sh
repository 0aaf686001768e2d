#!/bin/sh
# Runs every tests/integration/test-*.sh against $BOOTLACE, each under a
# timeout, and prints one summary line.
here=$(cd "$(dirname "$0")" && pwd)
: "${BOOTLACE:?set BOOTLACE to the bootlace binary}"
export BOOTLACE
# No test may ever reach a cloud: no endpoint is inherited, and IMDS is off
# unless a test starts the loopback emulator and turns it on.
unset AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE
export AWS_EC2_METADATA_DISABLED=true
passed=0 failed=0
for t in "$here"/test-*.sh "$here"/../emulators/test-*.sh; do
	name=$(basename "$t" .sh)
	if out=$(timeout 120 sh "$t" 2>&1); then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		printf '%s\n' "$out" | sed 's/^/     /'
		failed=$((failed + 1))
	fi
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
