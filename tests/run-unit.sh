#!/bin/sh
# Runs each cmocka test binary given as an argument, under a timeout, and
# prints one summary line.
passed=0 failed=0
for t in "$@"; do
	if timeout 120 "$t"; then passed=$((passed + 1)); else
		echo "FAILED: $t" >&2; failed=$((failed + 1)); fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
