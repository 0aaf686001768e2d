# lib.sh - POSIX sh helpers that run local service emulators (the EC2 IMDS
# emulator, imds.py, and the fault-injecting HTTP server/proxy, faultproxy.py)
# for integration tests, and always clean them up by PID.  Source it; it sets
# no shell options and is safe under set -eu.  The emulators bind 127.0.0.1
# only: no test ever talks to a real IMDS or to AWS.
#
#   . "$(dirname "$0")/../emulators/lib.sh"
#   imds_start [imds.py options]     e.g. imds_start --allow-v1 --data "$F"
#       starts imds.py in the background, waits (10 s at most) for its
#       "READY <port>" line and exports IMDS_PORT, IMDS_PID (the server's own
#       pid), IMDS_URL and AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:PORT
#       (and adds 127.0.0.1 to no_proxy/NO_PROXY).  One IMDS at a time.
#       On failure it prints the emulator's stderr and returns non-zero.
#       It passes --port 0 (an explicit --port wins), --parent-pid $$ and
#       its own --pidfile; see imds.py's header for all options.
#   imds_fault JSON                  set faults, e.g. '{"fail_next": 2, "fail_status": 503}',
#                                    '{"unavailable_for": 3}', '{"reject_tokens": 1}'
#   imds_requests [text]             print the request log: JSON, or one line
#                                    a request ("3 GET /latest/... token=yes status=200 fault=-")
#   imds_control METHOD NAME [JSON]  any control endpoint (options, data, reset,
#                                    faults, health); prints the JSON reply
#
#   faultproxy_start (--upstream URL | --static DIR) [faultproxy.py options]
#       starts faultproxy.py the same way (a relay to a loopback server such
#       as moto_server, or an S3-like server of the files under DIR) and
#       exports FAULTPROXY_PORT, FAULTPROXY_PID and FAULTPROXY_URL (https://
#       with --tls-cert FILE --tls-key FILE; and adds 127.0.0.1 to
#       no_proxy/NO_PROXY).  One fault proxy at a time.  See faultproxy.py's
#       header for the rules and all options.
#   faultproxy_fault JSON            replace the fault rules, e.g.
#       '[{"match": "roles/", "times": 2, "action": "status", "status": 503}]'
#       ('[]' = none); returns non-zero (and prints why) for a bad rule
#   faultproxy_requests [text]       print the request log: JSON, or one line
#                                    a request ("3 GET /bucket/key 200 -")
#   faultproxy_control METHOD NAME [JSON]  any control endpoint (faults,
#                                    requests, reset, health); prints the reply
#
#   emulators_stop                   stop every emulator started here (TERM, KILL
#                                    after 5 s), remove temp files; idempotent
#
# Cleanup: the first *_start puts emulators_stop in front of the EXIT
# trap already set (kept and still run), and turns HUP/INT/TERM into exit
# (so the EXIT trap runs) where no trap is set for them.  A test that sets
# its EXIT trap AFTER a *_start must call emulators_stop itself, e.g.
#     trap 'emulators_stop; rm -rf "$WORLD"' EXIT
# EMULATORS_TRAP=0 leaves all traps alone.  Backstop: each emulator exits by
# itself within a second of the test shell dying (--parent-pid $$), even on
# SIGKILL.  IMDS_PYTHON picks the interpreter (python3); EMULATORS_HOME the
# directory holding imds.py and faultproxy.py (found from $0 otherwise).

_emu_tmp='' _emu_pids='' _emu_jobs='' _emu_trapped='' _emu_n=0 _emu_imds='' _emu_fp=''

_emu_home() {
	for _emu_d in "${EMULATORS_HOME:-}" "$(dirname "$0")" "$(dirname "$0")/../emulators" tests/emulators; do
		if [ -n "$_emu_d" ] && [ -f "$_emu_d/imds.py" ]; then
			EMULATORS_HOME=$_emu_d
			return 0
		fi
	done
	echo "emulators: imds.py not found; set EMULATORS_HOME" >&2
	return 1
}

# The action of the EXIT trap listed in file $1 (the output of `trap`, which
# lists EXIT first).  Run in $(...): eval re-setting other traps is harmless.
_emu_exit_action() {
	eval "set -- $(cat "$1")"
	if [ "${1:-}" = trap ] && [ "${4:-}" = EXIT ]; then printf '%s' "$3"; fi
}

# _emu_exit_first ACTION FILE: puts ACTION in front of the EXIT trap already
# set, which is kept; leaves the traps as they were listed in FILE.
_emu_exit_first() {
	trap > "$2"	# not $(trap): dash would list the subshell's
	_emu_old=$(_emu_exit_action "$2") || _emu_old=''
	# shellcheck disable=SC2064 # expanded now on purpose
	trap "$1
$_emu_old" EXIT
}

_emu_trap() {
	[ -z "$_emu_trapped" ] || return 0
	_emu_trapped=1
	[ "${EMULATORS_TRAP:-1}" != 0 ] || return 0
	_emu_exit_first emulators_stop "$_emu_tmp/traps"
	for _emu_s in HUP:129 INT:130 TERM:143; do
		# shellcheck disable=SC2064
		grep -Eq "^trap -- .* (SIG)?${_emu_s%:*}\$" "$_emu_tmp/traps" ||
			trap "exit ${_emu_s#*:}" "${_emu_s%:*}"
	done
}

# _emu_start FUNC WHAT SCRIPT [options]: starts tests/emulators/SCRIPT in the
# background and waits (10 s at most) for its READY line; sets _emu_port and
# _emu_pid.  On failure it prints "FUNC: the WHAT did not start:" and the
# emulator's stderr, stops that emulator (only) and returns 1.
_emu_start() {
	_emu_fn=$1 _emu_what=$2 _emu_script=$3
	shift 3
	_emu_home || return 1
	if [ -z "$_emu_tmp" ]; then
		_emu_tmp=$(mktemp -d "${TMPDIR:-/tmp}/emulators.XXXXXX") || return 1
	fi
	_emu_trap
	_emu_n=$((_emu_n + 1))
	_emu_f=$_emu_tmp/${_emu_script%.py}.$_emu_n
	: > "$_emu_f.out"
	# The subshell records the exit status so that an early death is seen
	# at once; the server's own pid comes from its pidfile (python3 may be
	# a wrapper, e.g. a pyenv shim, so $! is not the server).
	( set +e
	  "${IMDS_PYTHON:-python3}" "$EMULATORS_HOME/$_emu_script" --port 0 --parent-pid $$ "$@" \
		--pidfile "$_emu_f.pid" > "$_emu_f.out" 2> "$_emu_f.err" < /dev/null
	  echo $? > "$_emu_f.rc" ) &
	_emu_job=$!
	_emu_jobs="$_emu_jobs $_emu_job"
	_emu_i=0
	while :; do
		_emu_port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$_emu_f.out") || _emu_port=
		[ -z "$_emu_port" ] || break
		if [ -e "$_emu_f.rc" ] || [ "$_emu_i" -ge 100 ]; then
			echo "$_emu_fn: the $_emu_what did not start:" >&2
			sed 's/^/    /' "$_emu_f.err" >&2 || :
			_emu_pid=$(cat "$_emu_f.pid" 2>/dev/null) || _emu_pid=
			[ -z "$_emu_pid" ] || kill -KILL "$_emu_pid" 2> /dev/null || :
			kill -TERM "$_emu_job" 2> /dev/null || :
			wait "$_emu_job" 2> /dev/null || :
			return 1
		fi
		sleep 0.1
		_emu_i=$((_emu_i + 1))
	done
	_emu_pid=$(cat "$_emu_f.pid")
	_emu_pids="$_emu_pids $_emu_pid"
	no_proxy=127.0.0.1${no_proxy:+,$no_proxy}
	NO_PROXY=127.0.0.1${NO_PROXY:+,$NO_PROXY}
	export no_proxy NO_PROXY
}

imds_start() {
	if [ -n "$_emu_imds" ]; then	# not $IMDS_PID: a parent test may have exported it
		echo "imds_start: already running (pid $_emu_imds); call emulators_stop first" >&2
		return 1
	fi
	if ! _emu_start imds_start "IMDS emulator" imds.py "$@"; then
		IMDS_PID='' IMDS_PORT='' IMDS_URL=''
		unset AWS_EC2_METADATA_SERVICE_ENDPOINT || :
		return 1
	fi
	IMDS_PORT=$_emu_port IMDS_PID=$_emu_pid
	_emu_imds=$IMDS_PID
	IMDS_URL=http://127.0.0.1:$IMDS_PORT
	AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL
	export IMDS_PORT IMDS_PID IMDS_URL AWS_EC2_METADATA_SERVICE_ENDPOINT
}

faultproxy_start() {
	if [ -n "$_emu_fp" ]; then
		echo "faultproxy_start: already running (pid $_emu_fp); call emulators_stop first" >&2
		return 1
	fi
	_emu_scheme=http
	for _emu_a in "$@"; do
		[ "$_emu_a" != --tls-cert ] || _emu_scheme=https
	done
	if ! _emu_start faultproxy_start "fault proxy" faultproxy.py "$@"; then
		FAULTPROXY_PID='' FAULTPROXY_PORT='' FAULTPROXY_URL=''
		return 1
	fi
	FAULTPROXY_PORT=$_emu_port FAULTPROXY_PID=$_emu_pid
	_emu_fp=$FAULTPROXY_PID
	FAULTPROXY_URL=$_emu_scheme://127.0.0.1:$FAULTPROXY_PORT
	export FAULTPROXY_PORT FAULTPROXY_PID FAULTPROXY_URL
}

# _emu_kill PIDS JOBS: stops the servers PIDS (TERM, KILL after 5 s), then
# the subshells JOBS that started them (done, or stuck with no pid known).
_emu_kill() {
	for _emu_p in $1; do
		kill -TERM "$_emu_p" 2> /dev/null || :
	done
	for _emu_p in $1; do
		_emu_i=0
		while kill -0 "$_emu_p" 2> /dev/null && [ "$_emu_i" -lt 50 ]; do
			sleep 0.1
			_emu_i=$((_emu_i + 1))
		done
		kill -KILL "$_emu_p" 2> /dev/null || :
	done
	for _emu_p in $2; do
		kill -TERM "$_emu_p" 2> /dev/null || :
		wait "$_emu_p" 2> /dev/null || :
	done
}

emulators_stop() {
	_emu_kill "$_emu_pids" "$_emu_jobs"
	[ -z "$_emu_tmp" ] || rm -rf "$_emu_tmp" || :
	_emu_pids='' _emu_jobs='' _emu_tmp='' _emu_imds='' IMDS_PID='' IMDS_PORT='' IMDS_URL=''
	_emu_fp='' FAULTPROXY_PID='' FAULTPROXY_PORT='' FAULTPROXY_URL=''
	unset AWS_EC2_METADATA_SERVICE_ENDPOINT || :
	return 0
}

# _emu_control WHAT BASE_URL METHOD NAME [JSON]: a request to a control API
# (BASE_URL empty: no WHAT is running).  --insecure: a fault proxy serving
# https has a test certificate, and this is only the test talking to its own
# loopback server.
_emu_control() {
	if [ -z "$2" ]; then
		echo "emulators: no $1 running" >&2
		return 1
	fi
	if [ $# -ge 5 ]; then
		curl -sS --noproxy '*' --insecure --max-time 5 --fail-with-body -X "$3" \
			-H 'Content-Type: application/json' --data "$5" "$2/$4"
	else
		curl -sS --noproxy '*' --insecure --max-time 5 --fail-with-body -X "$3" "$2/$4"
	fi
}

# _emu_fault EMULATOR JSON: EMULATOR_control POST faults JSON, quietly; a
# refusal is printed as "EMULATOR_fault: why".
_emu_fault() {
	_emu_o=$("$1_control" POST faults "$2") || {
		printf '%s_fault: %s\n' "$1" "$_emu_o" >&2
		return 1
	}
}

imds_control() { _emu_control "IMDS emulator" "${IMDS_PORT:+$IMDS_URL/_emulator}" "$@"; }
imds_fault() { _emu_fault imds "$1"; }
imds_requests() { imds_control GET "requests${1:+?format=$1}"; }

faultproxy_control() { _emu_control "fault proxy" "${FAULTPROXY_PORT:+$FAULTPROXY_URL/_faultproxy}" "$@"; }
faultproxy_fault() { _emu_fault faultproxy "$1"; }
faultproxy_requests() { faultproxy_control GET "requests${1:+?format=$1}"; }
