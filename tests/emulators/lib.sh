# lib.sh - POSIX sh helpers that run local service emulators (today the EC2
# IMDS emulator, imds.py) for integration tests, and always clean them up
# by PID.  Source it; it sets no shell options and is safe under set -eu.
# The emulator binds 127.0.0.1 only: no test ever talks to a real IMDS.
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
#   emulators_stop                   stop every emulator started here (TERM, KILL
#                                    after 5 s), remove temp files; idempotent
#
# Cleanup: the first imds_start puts emulators_stop in front of the EXIT
# trap already set (kept and still run), and turns HUP/INT/TERM into exit
# (so the EXIT trap runs) where no trap is set for them.  A test that sets
# its EXIT trap AFTER imds_start must call emulators_stop itself, e.g.
#     trap 'emulators_stop; rm -rf "$WORLD"' EXIT
# EMULATORS_TRAP=0 leaves all traps alone.  Backstop: each emulator exits by
# itself within a second of the test shell dying (--parent-pid $$), even on
# SIGKILL.  IMDS_PYTHON picks the interpreter (python3); EMULATORS_HOME the
# directory holding imds.py (found from $0 otherwise).

_emu_tmp='' _emu_pids='' _emu_jobs='' _emu_trapped='' _emu_n=0 _emu_imds=''

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

_emu_trap() {
	[ -z "$_emu_trapped" ] || return 0
	_emu_trapped=1
	[ "${EMULATORS_TRAP:-1}" != 0 ] || return 0
	trap > "$_emu_tmp/traps"	# not $(trap): dash would list the subshell's
	_emu_old=$(_emu_exit_action "$_emu_tmp/traps") || _emu_old=''
	# shellcheck disable=SC2064 # expanded now on purpose
	trap "emulators_stop
$_emu_old" EXIT
	for _emu_s in HUP:129 INT:130 TERM:143; do
		# shellcheck disable=SC2064
		grep -Eq "^trap -- .* (SIG)?${_emu_s%:*}\$" "$_emu_tmp/traps" ||
			trap "exit ${_emu_s#*:}" "${_emu_s%:*}"
	done
}

imds_start() {
	if [ -n "$_emu_imds" ]; then	# not $IMDS_PID: a parent test may have exported it
		echo "imds_start: already running (pid $_emu_imds); call emulators_stop first" >&2
		return 1
	fi
	_emu_home || return 1
	if [ -z "$_emu_tmp" ]; then
		_emu_tmp=$(mktemp -d "${TMPDIR:-/tmp}/emulators.XXXXXX") || return 1
	fi
	_emu_trap
	_emu_n=$((_emu_n + 1))
	_emu_f=$_emu_tmp/imds.$_emu_n
	: > "$_emu_f.out"
	# The subshell records the exit status so that an early death is seen
	# at once; the server's own pid comes from its pidfile (python3 may be
	# a wrapper, e.g. a pyenv shim, so $! is not the server).
	( set +e
	  "${IMDS_PYTHON:-python3}" "$EMULATORS_HOME/imds.py" --port 0 --parent-pid $$ "$@" \
		--pidfile "$_emu_f.pid" > "$_emu_f.out" 2> "$_emu_f.err" < /dev/null
	  echo $? > "$_emu_f.rc" ) &
	_emu_jobs="$_emu_jobs $!"
	_emu_i=0
	while :; do
		IMDS_PORT=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$_emu_f.out") || IMDS_PORT=
		[ -z "$IMDS_PORT" ] || break
		if [ -e "$_emu_f.rc" ] || [ "$_emu_i" -ge 100 ]; then
			echo "imds_start: the IMDS emulator did not start:" >&2
			sed 's/^/    /' "$_emu_f.err" >&2 || :
			_emu_pids="$_emu_pids $(cat "$_emu_f.pid" 2>/dev/null || :)"
			emulators_stop
			return 1
		fi
		sleep 0.1
		_emu_i=$((_emu_i + 1))
	done
	IMDS_PID=$(cat "$_emu_f.pid")
	_emu_imds=$IMDS_PID
	_emu_pids="$_emu_pids $IMDS_PID"
	IMDS_URL=http://127.0.0.1:$IMDS_PORT
	AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL
	no_proxy=127.0.0.1${no_proxy:+,$no_proxy}
	NO_PROXY=127.0.0.1${NO_PROXY:+,$NO_PROXY}
	export IMDS_PORT IMDS_PID IMDS_URL AWS_EC2_METADATA_SERVICE_ENDPOINT no_proxy NO_PROXY
}

emulators_stop() {
	for _emu_p in $_emu_pids; do
		kill -TERM "$_emu_p" 2> /dev/null || :
	done
	for _emu_p in $_emu_pids; do
		_emu_i=0
		while kill -0 "$_emu_p" 2> /dev/null && [ "$_emu_i" -lt 50 ]; do
			sleep 0.1
			_emu_i=$((_emu_i + 1))
		done
		kill -KILL "$_emu_p" 2> /dev/null || :
	done
	for _emu_p in $_emu_jobs; do	# the subshells: done, or (no pid known) stuck
		kill -TERM "$_emu_p" 2> /dev/null || :
		wait "$_emu_p" 2> /dev/null || :
	done
	[ -z "$_emu_tmp" ] || rm -rf "$_emu_tmp" || :
	_emu_pids='' _emu_jobs='' _emu_tmp='' _emu_imds='' IMDS_PID='' IMDS_PORT='' IMDS_URL=''
	unset AWS_EC2_METADATA_SERVICE_ENDPOINT || :
	return 0
}

imds_control() {
	if [ -z "${IMDS_PORT:-}" ]; then
		echo "emulators: no IMDS emulator running" >&2
		return 1
	fi
	if [ $# -ge 3 ]; then
		curl -sS --noproxy '*' --max-time 5 --fail-with-body -X "$1" \
			-H 'Content-Type: application/json' --data "$3" "$IMDS_URL/_emulator/$2"
	else
		curl -sS --noproxy '*' --max-time 5 --fail-with-body -X "$1" "$IMDS_URL/_emulator/$2"
	fi
}

imds_fault() {
	_emu_o=$(imds_control POST faults "$1") || {
		printf 'imds_fault: %s\n' "$_emu_o" >&2
		return 1
	}
}

imds_requests() {
	imds_control GET "requests${1:+?format=$1}"
}
