#!/bin/sh
# Runs every tests/integration/test-*.sh against $BOOTLACE (or only the
# tests named as arguments, e.g. test-first-boot), each under a timeout, and
# prints one summary line.
here=$(cd "$(dirname "$0")" && pwd)
: "${BOOTLACE:?set BOOTLACE to the bootlace binary}"
export BOOTLACE
# No test may ever reach a cloud: no endpoint is inherited, and IMDS is off
# unless a test starts the loopback emulator and turns it on.
unset AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE
export AWS_EC2_METADATA_DISABLED=true
# Nor AWS: no credentials are inherited, and any AWS call a test does not
# point at an emulator goes to a closed loopback port instead of AWS.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_EC2 AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
export AWS_ENDPOINT_URL=http://127.0.0.1:9
passed=0 failed=0
tests=''
for name in "$@"; do
	tests="$tests $here/$name.sh"
done
# shellcheck disable=SC2086 # a list of paths without spaces
[ -n "$tests" ] || tests=$(ls "$here"/test-*.sh "$here"/../emulators/test-*.sh)
for t in $tests; do
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
