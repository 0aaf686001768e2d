# aws.sh - POSIX sh helpers that run an emulated AWS world for integration
# tests (tests/emulators/world.py): moto with request authentication on, the
# fault proxy (faultproxy.py) in front of it, an instance role with the
# example policy (examples/iam/instance-role-policy.json), a bucket holding
# the layers, a tagged instance, and the IMDS emulator handing out the
# role's AssumeRole credentials as the instance's.  Everything binds
# 127.0.0.1 on free ports and is stopped by PID.  Source it after lib.sh;
# it sets no shell options and is safe under set -eu.
#
#   . "$here/../emulators/lib.sh"; . "$here/../emulators/aws.sh"
#   aws_world_start LAYERS_DIR [world.py setup options]
#       options: --tags JSON | --no-tags, --imds-tags false, --region R,
#       --bucket B, --prefix P, --role NAME (see world.py).  Starts moto, the
#       fault proxy in front of it, builds the world and runs imds_start
#       --data WORLD_DATA: about 3 s in all (moto 0.6 s, the world 1.7 to
#       2.3 s, proxy and IMDS 0.2 s each).  Exports MOTO_URL, MOTO_PID,
#       WORLD_S3_ENDPOINT and WORLD_EC2_ENDPOINT (both the fault proxy's URL,
#       so faults and the request log cover S3 and EC2), WORLD_BUCKET,
#       WORLD_PREFIX, WORLD_REGION, WORLD_INSTANCE_ID, WORLD_ROLE, WORLD_DATA
#       (the IMDS data, 0600) and what faultproxy_start and imds_start
#       export.  world.py talks to moto directly: faults never break the
#       world's own changes.  The admin's keys stay in a private 0600 file,
#       never in the environment: the agent gets its credentials from IMDS
#       only.  Without moto it prints one line, "moto_server not found: ...
#       install with ...", and returns 1.
#   world_put KEY FILE             write object KEY, the whole key
#                                  (e.g. "${WORLD_PREFIX}base/setup.sh")
#   world_delete KEY               delete object KEY
#   world_rotate_credentials       new AssumeRole credentials, in WORLD_DATA
#                                  and served by IMDS from now on
#   aws_world_stop                 stop moto and every emulator of lib.sh
#                                  (emulators_stop); idempotent
#
# Cleanup: aws_world_start puts aws_world_stop in front of the EXIT trap
# already set (kept and still run); lib.sh's first *_start then adds its own
# (and turns HUP/INT/TERM into exit).  A test that sets its EXIT trap AFTER
# aws_world_start must call aws_world_stop itself.  EMULATORS_TRAP=0 leaves
# all traps alone.  Backstop: moto exits by itself within a second of the
# test shell dying (world.py serve --parent-pid $$), even on SIGKILL.
# AWS_PYTHON picks the interpreter (python3).  Uses lib.sh's _emu_home,
# _emu_exit_first and _emu_kill.

_aws_tmp='' _aws_pid='' _aws_job='' _aws_trapped=''

_aws_trap() {
	[ -z "$_aws_trapped" ] || return 0
	_aws_trapped=1
	[ "${EMULATORS_TRAP:-1}" != 0 ] || return 0
	_emu_exit_first aws_world_stop "$_aws_tmp/traps"
}

# _aws_world SUBCOMMAND ARGS...: world.py against the running world.
_aws_world() {
	if [ -z "$_aws_tmp" ]; then
		echo "aws.sh: no world running; call aws_world_start first" >&2
		return 1
	fi
	_aws_c=$1
	shift
	"${AWS_PYTHON:-python3}" "$EMULATORS_HOME/world.py" "$_aws_c" --state "$_aws_tmp/world.json" "$@"
}

aws_world_start() {
	if [ -n "$_aws_tmp" ]; then
		echo "aws_world_start: already running (moto pid ${_aws_pid:-?}); call aws_world_stop first" >&2
		return 1
	fi
	if [ $# -lt 1 ] || [ ! -d "$1" ]; then
		echo "aws_world_start: usage: aws_world_start LAYERS_DIR [world.py setup options]" >&2
		return 1
	fi
	_aws_layers=$1
	shift
	_emu_home || return 1
	_aws_tmp=$(mktemp -d "${TMPDIR:-/tmp}/aws-world.XXXXXX") || return 1
	_aws_trap
	: > "$_aws_tmp/moto.out"
	# As in lib.sh: the subshell records the exit status so that an early
	# death is seen at once, and the server's pid comes from its pidfile.
	( set +e
	  "${AWS_PYTHON:-python3}" "$EMULATORS_HOME/world.py" serve --parent-pid $$ \
		--pidfile "$_aws_tmp/moto.pid" > "$_aws_tmp/moto.out" 2> "$_aws_tmp/moto.err" < /dev/null
	  echo $? > "$_aws_tmp/moto.rc" ) &
	_aws_job=$!
	_aws_i=0
	while :; do
		_aws_port=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$_aws_tmp/moto.out")
		[ -z "$_aws_port" ] || break
		if [ -e "$_aws_tmp/moto.rc" ] || [ "$_aws_i" -ge 300 ]; then
			if [ "$(cat "$_aws_tmp/moto.rc" 2> /dev/null)" = 3 ]; then
				cat "$_aws_tmp/moto.err" >&2	# the one "moto_server not found" line
			else
				echo "aws_world_start: moto did not start:" >&2
				sed 's/^/    /' "$_aws_tmp/moto.err" >&2 || :
			fi
			aws_world_stop
			return 1
		fi
		sleep 0.1
		_aws_i=$((_aws_i + 1))
	done
	MOTO_PID=$(cat "$_aws_tmp/moto.pid")
	_aws_pid=$MOTO_PID
	MOTO_URL=http://127.0.0.1:$_aws_port
	faultproxy_start --upstream "$MOTO_URL" || { aws_world_stop; return 1; }
	WORLD_S3_ENDPOINT=$FAULTPROXY_URL WORLD_EC2_ENDPOINT=$FAULTPROXY_URL
	WORLD_DATA=$_aws_tmp/imds-data.json
	# Prints WORLD_BUCKET=... lines, each value quoted for the shell.
	_aws_out=$("${AWS_PYTHON:-python3}" "$EMULATORS_HOME/world.py" setup --endpoint "$MOTO_URL" \
		--state "$_aws_tmp/world.json" --out "$WORLD_DATA" --layers "$_aws_layers" "$@") ||
		{ aws_world_stop; return 1; }
	eval "$_aws_out"
	imds_start --data "$WORLD_DATA" || { aws_world_stop; return 1; }
	export MOTO_URL MOTO_PID WORLD_S3_ENDPOINT WORLD_EC2_ENDPOINT WORLD_BUCKET WORLD_PREFIX \
		WORLD_REGION WORLD_INSTANCE_ID WORLD_ROLE WORLD_DATA
}

aws_world_stop() {
	emulators_stop
	if [ -z "$_aws_pid" ] && [ -n "$_aws_tmp" ]; then	# died or stopped while starting
		_aws_pid=$(cat "$_aws_tmp/moto.pid" 2> /dev/null) || _aws_pid=''
	fi
	_emu_kill "$_aws_pid" "$_aws_job"
	[ -z "$_aws_tmp" ] || rm -rf "$_aws_tmp" || :
	_aws_tmp='' _aws_pid='' _aws_job='' MOTO_URL='' MOTO_PID='' WORLD_S3_ENDPOINT=''
	WORLD_EC2_ENDPOINT='' WORLD_BUCKET='' WORLD_PREFIX='' WORLD_REGION='' WORLD_INSTANCE_ID=''
	WORLD_ROLE='' WORLD_DATA=''
	return 0
}

world_put() {
	if [ $# -ne 2 ]; then
		echo "world_put: usage: world_put KEY FILE" >&2
		return 1
	fi
	_aws_world put -- "$1" "$2"
}

world_delete() {
	if [ $# -ne 1 ]; then
		echo "world_delete: usage: world_delete KEY" >&2
		return 1
	fi
	_aws_world delete -- "$1"
}

world_rotate_credentials() {
	_aws_creds=$(_aws_world assume-role) || return 1
	imds_control POST data "$_aws_creds" > /dev/null
}
