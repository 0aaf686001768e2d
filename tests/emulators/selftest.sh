# selftest.sh - what the emulators' self-tests (test-*.sh here) share, so
# that each of them holds only its own checks: the run under `timeout`, the
# counting helpers and the closing line, and small HTTP and process helpers.
# Source it first, with the test's name and time limit:
#
#   here=$(cd "$(dirname "$0")" && pwd)
#   SELFTEST_NAME=imds-emulator SELFTEST_TIMEOUT=55
#   . "$here/selftest.sh"
#
# Sourcing it re-runs the test script under `timeout SELFTEST_TIMEOUT` and
# exits with that run's status (124 after the closing line
# "NAME: 0 passed, 1 failed (timed out)" when it ran out of time); in that
# inner run it only defines what follows.  The test sets T (its scratch
# directory), PY (its python3) and `here` before it uses these, and ends
# with selftest_end.
#
#   ok NAME / bad NAME WHY           count a check passed / failed
#   expect NAME EXPECTED ACTUAL      passes when the two strings are equal
#   check NAME COMMAND...            passes when COMMAND succeeds (quietly)
#   selftest_end                     "NAME: N passed, N failed"; status
#                                    non-zero on any failure
#   http BASE METHOD PATH [curl args]  one request to BASE (an emulator's
#       URL, on 127.0.0.1): CODE (000 = no reply), CURL_RC, SIZE (of the
#       body), BODY, $T/body, $T/hdrs; MAXT the time limit (5 s)
#   hdr NAME                         that header of the last http reply
#   json PYTHON-EXPR [FILE]          EXPR over j, the JSON in FILE (default:
#                                    in BODY), must be true
#   gone PID...                      none of them running within 3 s
#   refused PORT                     nothing listens on 127.0.0.1:PORT
#   check_ready SCRIPT [ARGS]        SCRIPT run by hand (--port 0) prints
#       exactly one line, "READY <port>", and exits 0 on SIGTERM, removing
#       its --pidfile (two checks)
#   child FILE SCRIPT                SCRIPT in a background test shell that
#       has sourced lib.sh and aws.sh (T and TMPDIR=$T passed on); CHILD is
#       its pid.  Returns once SCRIPT has written $T/FILE (20 s at most).

# shellcheck disable=SC2034,SC2154 # sets what the test reads; reads its here
if [ "${SELFTEST_INNER:-}" != "$SELFTEST_NAME" ]; then
	SELFTEST_INNER=$SELFTEST_NAME timeout "$SELFTEST_TIMEOUT" sh "$0" "$@"
	_st_rc=$?
	[ "$_st_rc" -ne 124 ] || echo "$SELFTEST_NAME: 0 passed, 1 failed (timed out)"
	exit "$_st_rc"
fi
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1: $2"; }
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected [$2], got [$3]"; fi
}
check() {
	_st_n=$1
	shift
	if "$@" > /dev/null 2>&1; then ok "$_st_n"; else bad "$_st_n" "$*"; fi
}
selftest_end() {
	echo "$SELFTEST_NAME: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

http() {
	_st_u=$1$3 _st_m=$2
	shift 3
	# -X HEAD would wait for the body that Content-Length announces.
	if [ "$_st_m" = HEAD ]; then set -- -I "$@"; else set -- -X "$_st_m" "$@"; fi
	rm -f "$T/body" "$T/hdrs"
	CODE=$(curl -s --noproxy '*' --max-time "${MAXT:-5}" -o "$T/body" -D "$T/hdrs" \
		-w '%{http_code} %{size_download}' "$@" "$_st_u")
	CURL_RC=$?
	SIZE=${CODE#* } CODE=${CODE% *}
	BODY=$(cat "$T/body" 2> /dev/null)
}
hdr() { tr -d '\r' < "$T/hdrs" | sed -n "s/^$1: *//Ip"; }
json() {
	if [ $# -gt 1 ]; then cat "$2"; else printf '%s' "$BODY"; fi |
		"$PY" -c "import json,sys,time; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"
}

gone() {
	_st_i=0
	for _st_p; do
		while kill -0 "$_st_p" 2> /dev/null; do
			[ "$_st_i" -lt 30 ] || return 1
			sleep 0.1
			_st_i=$((_st_i + 1))
		done
	done
}
refused() { curl -s --noproxy '*' --max-time 3 -o /dev/null "http://127.0.0.1:$1/"; [ $? -eq 7 ]; }

check_ready() {
	_st_s=$1
	shift
	( "$PY" "$here/$_st_s" --port 0 --pidfile "$T/d.pid" "$@" > "$T/d.out" 2>&1; echo $? > "$T/d.rc" ) &
	_st_job=$!
	_st_i=0
	while [ ! -s "$T/d.out" ] && [ "$_st_i" -lt 100 ]; do sleep 0.1; _st_i=$((_st_i + 1)); done
	kill -TERM "$(cat "$T/d.pid")"
	wait "$_st_job"
	expect "output is exactly one READY line" "1 1" \
		"$(grep -cx 'READY [1-9][0-9]*' "$T/d.out") $(wc -l < "$T/d.out")"
	expect "SIGTERM: exit 0, pidfile removed" "0 no" \
		"$(cat "$T/d.rc") $([ -e "$T/d.pid" ] && echo yes || echo no)"
}

child() {
	# shellcheck disable=SC2097,SC2098 # T is for the child
	EMULATORS_HOME=$here T=$T TMPDIR=$T sh -c ". \"$here/lib.sh\"; . \"$here/aws.sh\"; $2" &
	CHILD=$!
	_st_i=0
	while [ ! -s "$T/$1" ] && [ "$_st_i" -lt 200 ]; do sleep 0.1; _st_i=$((_st_i + 1)); done
}
