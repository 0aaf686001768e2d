#!/bin/sh
# Runs the libFuzzer targets that tests/fuzz/build.sh built, each for
# SECONDS (default 30), one after the other, and prints per target the
# executions, executions per second, corpus (inputs/bytes, seeds included)
# and coverage (edges of bootlace's code), from libFuzzer's last lines.
#
#   sh tests/fuzz/run.sh [SECONDS [TARGET...]]    TARGET: config, sigv4, ...
#
# Each target starts from its seeds (tests/fuzz/corpus/TARGET, never
# written) and what earlier runs found (build/fuzz/corpus/TARGET, where new
# inputs go).  A crash, leak, timeout or broken invariant leaves its input
# in build/fuzz/artifacts/TARGET/ and the log in build/fuzz/logs/, and
# makes this exit 1.  Replay one with: build/fuzz/fuzz-TARGET FILE
set -u
cd "$(dirname "$0")/../.." || exit 2
seconds=${1:-30}
[ $# -gt 0 ] && shift
dir=${BUILD:-build/fuzz}
case $seconds in
''|*[!0-9]*) echo "usage: tests/fuzz/run.sh [SECONDS [TARGET...]]" >&2; exit 2 ;;
esac
if [ $# -eq 0 ]; then
	for bin in "$dir"/fuzz-*; do
		[ -x "$bin" ] && set -- "$@" "${bin##*/fuzz-}"
	done
fi
if [ $# -eq 0 ]; then
	echo "tests/fuzz/run.sh: no targets in $dir: run tests/fuzz/build.sh first" >&2
	exit 2
fi

# UBSan aborts already (-fno-sanitize-recover); a stack shows where.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
failed=0
printf '%-18s %12s %9s %12s %7s  %s\n' target executions exec/s corpus cov result
for name in "$@"; do
	bin=$dir/fuzz-$name
	seeds=tests/fuzz/corpus/$name
	corpus=$dir/corpus/$name
	artifacts=$dir/artifacts/$name/
	log=$dir/logs/$name.log
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "tests/fuzz/run.sh: no target $name ($bin, $seeds)" >&2
		failed=1
		continue
	fi
	mkdir -p "$corpus" "$artifacts" "${log%/*}"
	dict=tests/fuzz/dict/$name.dict
	[ -f "$dict" ] || dict=
	# -close_fd_mask=2: the target's own messages (every refused input
	# logs one) would drown libFuzzer's, which it keeps on a copy of
	# stderr; replaying an input shows them.
	"$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 -close_fd_mask=2 \
		-artifact_prefix="$artifacts" ${dict:+"-dict=$dict"} \
		"$corpus" "$seeds" >"$log" 2>&1
	status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	# The last status line: "#N DONE cov: C ft: F corp: N/SIZE ...".
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	cov=$(printf '%s\n' "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$done_line" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
	if [ "$status" -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $status): $log"
		failed=1
	fi
	printf '%-18s %12s %9s %12s %7s  %s\n' "$name" "${runs:-?}" "${rate:-?}" "${corp:-?}" \
		"${cov:-?}" "$result"
	if [ "$status" -ne 0 ]; then
		grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" | \
			sed 's/^/    /' >&2
	fi
done
exit "$failed"
