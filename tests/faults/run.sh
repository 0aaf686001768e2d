#!/bin/sh
# run.sh - the fault-injection matrix (issue #6; docs/reliability.md lists
# every scenario).  The real bootlace ($BOOTLACE) runs against an emulated
# AWS (moto behind faultproxy.py, and imds.py: tests/emulators/aws.sh) with
# one fault at a time, and each scenario asserts its outcome: the exit
# status, the message naming what failed, which scripts ran (a script runs
# whole and checked, or not at all), a sound state directory (state.py:
# records parse, sources match, nothing left in tmp/ by a run that ended by
# itself), and, after a fault that failed the run, that the same run
# without the fault completes.
#
#   BOOTLACE=build/bootlace sh tests/faults/run.sh [SCENARIO...]
#
# One world serves every scenario (it takes seconds to start); each starts
# from no faults, the world's IMDS data, the base configuration and an
# empty state directory.  One line per scenario: ok, FAIL (with its log),
# XFAIL (a known bootlace bug, with the reason: not a pass), SKIP (cannot
# run here, e.g. no tmpfs without root).  The last line is "fault matrix:
# N passed, N failed"; the exit status is 1 if any failed.  Every server
# binds 127.0.0.1 and is stopped by PID, pass or fail; so is every process
# a scenario leaves behind.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$here/../integration/lib.sh"

CTL=$WORLD/ctl          # what each layer script does besides recording itself
STARTED=$WORLD/started  # each script's name as it starts ($ORDER: as it ends)
PIDS=$WORLD/pids        # servers a scenario started, killed after it
SMALL=$WORLD/small      # the size-capped file system of disk-full
BASE_CONFIG=$WORLD/base.yaml
B=base/setup.sh R=roles/web/setup.sh E=environments/production/setup.sh
ALL="$B $R $E "

# Every scenario, in the order run: name and what it checks.  Known
# bootlace bugs are in XFAIL below.
SCENARIOS='
imds-absent-10s              IMDS not listening for 10 s at boot: waited for
imds-500                     IMDS answers 500 four times: retried
imds-500-forever             IMDS answers only 500: gives up at imds.wait, exit 3
imds-token-refused           the token PUT gets 403, no IMDSv1: exit 3
imds-401-mid-run             a token revoked mid-run (401): one new token
imds-token-expiry            the token expires mid-run: 401, a new token
creds-expiring-mid-run       credentials about to expire are renewed, rotated keys used
creds-expired                IMDS hands out expired credentials: exit 3
creds-code-failed            the credentials document says Code != Success: exit 3
creds-deep-json              a credentials document nested 20000 deep: exit 3
tags-empty                   IMDS tags listing empty: DescribeTags instead
describe-tags-throttled      DescribeTags RequestLimitExceeded twice: retried
describe-tags-throttled-forever  DescribeTags always RequestLimitExceeded: exit 3
describe-tags-denied         DescribeTags UnauthorizedOperation: exit 3
describe-tags-entities       DescribeTags answer with a billion-laughs DOCTYPE: refused
describe-tags-xxe            DescribeTags answer with an external entity: refused
s3-slowdown-x3               S3 503 SlowDown three times on a layer: retried
s3-slowdown-forever          S3 503 SlowDown on every try: exit 3, nothing run
s3-reset-mid-body            the connection reset mid-body: retried
s3-truncated                 body cut short of its Content-Length, every try: exit 3
s3-stalled-body              the body stalls after 1000 bytes: timed out, retried
s3-corrupt-body              one byte of a body flipped: its CRC32 fails, retried
s3-wrong-checksum            a wrong x-amz-checksum-sha256 on every try: exit 3
s3-403-env-layer             403 AccessDenied on the env layer: exit 3, nothing run
s3-301-region                301 to another region: followed, signed for it
s3-301-twice                 301 again after following it: exit 3
s3-clock-skew                403 RequestTimeTooSkewed: exit 3, says the clock
s3-expired-token             400 ExpiredToken: exit 3, names the credentials
s3-error-entities            a 403 whose XML declares entities: not expanded
s3-oversize-chunked          no Content-Length, more than s3.max_object_size: exit 1
disk-full                    ENOSPC while downloading (tmpfs): exit 1, then room: ok
kill9-during-fetch           kill -9 mid-download, then a rerun
kill9-after-fetch            kill -9 with every script written, none run, then a rerun
kill9-during-base            kill -9 while base runs, then a rerun
kill9-during-role            kill -9 while the role layer runs, then a rerun
kill9-during-env             kill -9 while the env layer runs, then a rerun
kill9-during-user-data       kill -9 while the user-data script runs, then a rerun
sigterm-daemon-mid-script    SIGTERM to bootlace daemon mid-script: script stopped
sigterm-run-mid-script       SIGTERM to bootlace run mid-script: script stopped
script-daemon-holds-stdout   a script leaves a process holding stdout: run ends
script-never-exits           a script that never exits: run.timeout, exit 1
script-ignores-sigterm       ... and ignores SIGTERM: SIGKILL after kill_grace
user-data-gzip-bomb          user data inflating to 30 MB: exit 3
user-data-2mb                2 MB of user data: exit 3
user-data-yaml-alias-bomb    #bootlace user data with YAML aliases: exit 2
'
XFAIL='
'

# --- the world ----------------------------------------------------------------

# matrix_layer PATH KEY [PAD_LINES]: the layer script PATH under
# $WORLD/layers.  It records PATH in $STARTED first and in $ORDER last,
# padded in between (100 lines: 8 KiB) so that a body cut anywhere loses
# the last line.  $CTL/KEY, when it exists, adds: hang (sleeps), hang-noterm
# (sleeps, ignoring SIGTERM), daemon (leaves a process holding its stdout);
# each writes the script's pid, its process group, to $CTL/KEY.pid.
matrix_layer() {
	mkdir -p "$(dirname "$WORLD/layers/$1")"
	matrix_script "$1" "$2" "${3:-100}" > "$WORLD/layers/$1"
}

matrix_script() {
	cat <<SH
#!/bin/sh
echo $1 >> $STARTED
case \$(cat $CTL/$2 2>/dev/null) in
hang) echo \$\$ > $CTL/$2.pid; sleep 300 ;;
hang-noterm) trap '' TERM; echo \$\$ > $CTL/$2.pid; sleep 300 ;;
daemon) sleep 300 & echo \$\$ > $CTL/$2.pid ;;
esac
SH
	i=0
	while [ "$i" -lt "$3" ]; do
		echo "# padding $i: a script cut short loses its last line, the one that says it ran"
		i=$((i + 1))
	done
	echo "echo $1 >> $ORDER"
}

# Kills what a scenario left: a bootlace it did not wait for, the process
# groups of layer scripts still hanging (a scenario that saw one end
# removes its pid file), the servers in $PIDS; unmounts the tmpfs.
matrix_cleanup() {
	[ ! -s "$WORLD/bg.pid" ] || kill -KILL "$(cat "$WORLD/bg.pid")" 2>/dev/null || :
	rm -f "$WORLD/bg.pid"
	for f in "$CTL"/*.pid; do
		if [ -s "$f" ]; then
			kill -KILL "-$(cat "$f")" 2>/dev/null || :
		fi
	done
	[ ! -s "$PIDS" ] || while read -r p; do kill -KILL "$p" 2>/dev/null || :; done < "$PIDS"
	: > "$PIDS"
	if mountpoint -q "$SMALL" 2>/dev/null; then
		umount "$SMALL" 2>/dev/null || umount -l "$SMALL" || :
	fi
}

# The world as the scenarios find it: no faults, the IMDS data of the
# world (credentials included), the base configuration, no state.
world_reset() {
	faults_off
	imds_control POST options '{"allow_v1": false, "tags": true}' > /dev/null
	imds_restore
	rm -rf "$WORLD/state" "$ORDER" "$STARTED" "$CTL" "$SMALL"
	mkdir -p "$CTL"
	cp "$BASE_CONFIG" "$CONFIG"
}

faults_off() {
	faultproxy_control POST reset > /dev/null
	imds_control POST reset > /dev/null
}

imds_restore() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d.update({"paths": None, "identity-document": None, "user-data-base64": None})
print(json.dumps(d))' "$WORLD_DATA" > "$WORLD/restore.json"
	imds_post data "$WORLD/restore.json"
}

# imds_post NAME FILE: POST the JSON in FILE to the IMDS control endpoint
# NAME (imds_control takes the JSON as an argument, too short for 2 MB).
imds_post() {
	curl -sS --noproxy '*' --max-time 10 --fail-with-body -X POST \
		-H 'Content-Type: application/json' --data-binary "@$2" \
		"$IMDS_URL/_emulator/$1" > /dev/null
}

# imds_json PYTHON: POST data built by the Python expression (c: the
# world's credentials document, a copy).
imds_json() {
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["credentials"]
print(json.dumps('"$1"'))' "$WORLD_DATA" > "$WORLD/post.json"
	imds_post data "$WORLD/post.json"
}

# --- running bootlace and what it left -----------------------------------------

# bl ARGS...: as lib.sh's, under a time limit.
bl() {
	RC=0
	OUT=$(timeout 120 "$BOOTLACE" "$@" --config "$CONFIG" 2>&1) || RC=$?
}

# bl_start [VAR=VALUE...] [COMMAND]: bootlace COMMAND (run) in the
# background, its pid in $BG (and bg.pid until bl_wait), its output in
# bg.out.
bl_start() {
	_bs_cmd=run
	case ${1:-} in *=*|'') ;; *) _bs_cmd=$1; shift ;; esac
	env "$@" "$BOOTLACE" "$_bs_cmd" --config "$CONFIG" > "$WORLD/bg.out" 2>&1 &
	BG=$!
	echo "$BG" > "$WORLD/bg.pid"
}

# bl_wait: waits for $BG (60 s at most, then KILL); RC and OUT as bl's.
bl_wait() {
	reap "$BG" 60
	rm -f "$WORLD/bg.pid"
	OUT=$(cat "$WORLD/bg.out")
}

# until_true SECONDS COMMAND...: polls COMMAND until it succeeds, or fails
# (showing what a background bootlace said).
until_true() {
	_ut_n=$(($1 * 10))
	shift
	while ! "$@" > /dev/null 2>&1; do
		_ut_n=$((_ut_n - 1))
		[ "$_ut_n" -gt 0 ] || fail "still not true: $*
$(cat "$WORLD/bg.out" 2>/dev/null)"
		sleep 0.1
	done
}

# check_state [--state DIR] [--clean] [--source NAME=FILE]: state.py check
# of DIR (default: the state directory of the base configuration).
check_state() {
	_cs_dir=$WORLD/state
	if [ "${1:-}" = --state ]; then
		_cs_dir=$2
		shift 2
	fi
	_cs_out=$(python3 "$here/state.py" check "$_cs_dir" "$WORLD/layers" "$@") ||
		fail "$_cs_out"
}

# expect_json FILE EXPR: EXPR over j, the JSON in FILE, is true.
expect_json() {
	_ej_out=$(python3 "$here/state.py" expect "$1" "$2") || fail "$_ej_out"
}

nothing_ran() {
	[ ! -s "$STARTED" ] || fail "scripts ran: $(tr '\n' ' ' < "$STARTED")"
}

# s3_gets KEY: the status of each GET of KEY the fault proxy saw, in order
# ("-" for no reply).
s3_gets() {
	faultproxy_requests text | awk -v k="$1" '$2 == "GET" && index($3, k) { printf "%s ", $4 }'
}

expect_gets() {
	_eg=$(s3_gets "$1")
	[ "$_eg" = "$2" ] || fail "GETs of $1 answered [$_eg], expected [$2]"
}

# retried_in_vain KEY STATUS: every GET of KEY was answered STATUS, more
# than once, and bootlace said it gave up.
retried_in_vain() {
	_rv=$(s3_gets "$1")
	printf '%s\n' "$_rv" | awk -v s="$2" '{ for (i = 1; i <= NF; i++) if ($i != s) exit 1; exit NF < 2 }' ||
		fail "GETs of $1 answered [$_rv], expected $2, more than once"
	expect_out "$1: giving up after [0-9]* attempts"
}

# s3_retry_briefly: a download gives up after 2 s (s3.retry_for) instead of
# the default 120, for the faults that never go away.
s3_retry_briefly() {
	printf 's3:\n  retry_for: 2\n' >> "$CONFIG"
}

# group_gone PGID: no process of the group is left (5 s at most).
group_gone() {
	[ -n "$1" ] || return 1
	_gg_i=0
	while kill -0 "-$1" 2>/dev/null; do
		_gg_i=$((_gg_i + 1))
		[ "$_gg_i" -lt 50 ] || return 1
		sleep 0.1
	done
}

# rerun_ok [ORDER [NAME=FILE]]: the fault gone, the same run completes:
# every script once, in ORDER (default: base, role, env), a clean state
# directory (NAME=FILE: a source besides the layers, see check_state).
rerun_ok() {
	faults_off
	rm -f "$ORDER" "$STARTED"
	bl run
	expect_rc 0
	expect_order "${1:-$ALL}"
	check_state --clean ${2:+--source "$2"}
}

skip() {
	echo "$*" > "$WORLD/skip"
	exit 77
}

# --- IMDS and credentials -------------------------------------------------------

s_imds_absent_10s() {
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	bl_start AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$port"
	sleep 10
	kill -0 "$BG" 2>/dev/null || fail "bootlace did not wait for IMDS: $(cat "$WORLD/bg.out")"
	python3 "$EMULATORS_HOME/imds.py" --port "$port" --data "$WORLD_DATA" --parent-pid $$ \
		--pidfile "$WORLD/imds2.pid" > "$WORLD/imds2.out" 2>&1 &
	echo $! >> "$PIDS"	# the server itself, as it is python3 started here
	bl_wait
	expect_rc 0
	expect_out "IMDS at http://127.0.0.1:$port answered after"
	expect_order "$ALL"
	check_state --clean
}

s_imds_500() {
	imds_fault '{"fail_next": 4, "fail_status": 500}'
	bl run
	expect_rc 0
	expect_order "$ALL"
	[ "$(imds_requests text | grep -c 'status=500 fault=fail_next')" -eq 4 ] ||
		fail "IMDS did not answer 500 four times: $(imds_requests text)"
	check_state --clean
}

s_imds_500_forever() {
	printf 'imds:\n  wait: 2\n' >> "$CONFIG"
	imds_fault '{"fail_next": 1000000, "fail_status": 500}'
	bl run
	expect_rc 3
	expect_out "error: IMDS api/token: HTTP 500 for [0-9]*s, giving up"
	nothing_ran
	check_state --clean
	rerun_ok
}

s_imds_token_refused() {
	imds_fault '{"fail_next": 1, "fail_status": 403, "fail_path": "/latest/api/token"}'
	bl run
	expect_rc 3
	expect_out "IMDS refused a session token: HTTP 403 (IMDSv1 fallback is off: imds.allow_v1)"
	nothing_ran
	check_state --clean
	rerun_ok
}

s_imds_401_mid_run() {
	imds_fault '{"reject_tokens": 1}'
	bl run
	expect_rc 0
	expect_order "$ALL"
	log=$(imds_requests text)
	printf '%s\n' "$log" | grep -q 'status=401 fault=reject_tokens' || fail "no 401: $log"
	[ "$(printf '%s\n' "$log" | grep -c 'PUT /latest/api/token')" -eq 2 ] ||
		fail "not exactly one new token: $log"
	check_state --clean
}

# Credentials that expire in 120 s, inside bootlace's 300 s refresh margin,
# are read again from IMDS before every signature; a token that lives 1 s
# has then expired when S3's 503 (after 1.5 s) makes it sign again.
s_imds_token_expiry() {
	imds_json '{"credentials": dict(c, Expiration=120)}'
	imds_fault '{"token_ttl_cap": 1}'
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"status\", \"status\": 503, \"wait\": 1.5}]"
	bl run
	expect_rc 0
	expect_order "$ALL"
	log=$(imds_requests text)
	printf '%s\n' "$log" | grep -q "GET /latest/meta-data/iam/security-credentials/.* status=401 fault=-" ||
		fail "no request with an expired token: $log"
	[ "$(printf '%s\n' "$log" | grep -c 'PUT /latest/api/token')" -ge 2 ] || fail "no new token: $log"
	check_state --clean
}

# The keys bootlace starts with expire in 120 s; while S3 holds a 503 for
# 3 s, IMDS starts handing out new ones (as EC2 does before the old expire):
# the retry is signed with them.
s_creds_expiring_mid_run() {
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["credentials"]
print(json.dumps({"credentials": dict(c, Expiration=120)}))' "$WORLD_DATA" > "$WORLD/old.json"
	old=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["credentials"]["AccessKeyId"])' "$WORLD/old.json")
	world_rotate_credentials
	imds_post data "$WORLD/old.json"
	new=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["credentials"]["AccessKeyId"])' "$WORLD_DATA")
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"status\", \"status\": 503, \"wait\": 3}]"
	bl_start
	# One credentials read per signature: three, one per layer, then the
	# role layer's retry waits for its 503.
	until_true 15 sh -c "[ \"\$(curl -s --noproxy '*' '$IMDS_URL/_emulator/requests?format=text' |
		grep -c 'GET /latest/meta-data/iam/security-credentials/$WORLD_ROLE ')\" -ge 3 ]"
	imds_restore
	bl_wait
	expect_rc 0
	expect_order "$ALL"
	faultproxy_requests > "$WORLD/fp.json"
	expect_json "$WORLD/fp.json" "[(e['status'], e['credential'].split('/')[0]) for e in j if '$R' in e['path']] == [(503, '$old'), (200, '$new')]"
	check_state --clean
}

s_creds_expired() {
	imds_json '{"credentials": dict(c, Expiration=-60)}'
	bl run
	expect_rc 3
	expect_out "IMDS gave expired credentials for instance role $WORLD_ROLE"
	nothing_ran
	check_state --clean
	imds_restore
	rerun_ok
}

s_creds_code_failed() {
	imds_json '{"credentials": dict(c, Code="AssumeRoleUnauthorizedAccess", Message="EC2 cannot assume the role.")}'
	bl run
	expect_rc 3
	expect_out "IMDS has no credentials for instance role $WORLD_ROLE: Code AssumeRoleUnauthorizedAccess: EC2 cannot assume the role."
	nothing_ran
	check_state --clean
	imds_restore
	rerun_ok
}

s_creds_deep_json() {
	imds_json "{\"paths\": {\"meta-data/iam/security-credentials/$WORLD_ROLE\": '{\"Code\": ' + '[' * 20000 + ']' * 20000 + '}'}}"
	bl run
	expect_rc 3
	expect_out "IMDS meta-data/iam/security-credentials/$WORLD_ROLE:1:[0-9]*: malformed JSON"
	nothing_ran
	check_state --clean
	imds_restore
	rerun_ok
}

# --- tags -------------------------------------------------------------------------

tags_empty() {
	imds_control POST data '{"paths": {"meta-data/tags/instance": ""}}' > /dev/null
}

s_tags_empty() {
	tags_empty
	bl run
	expect_rc 0
	expect_out "IMDS has no instance tags (instance metadata tags off); asking EC2 DescribeTags"
	expect_order "$ALL"
	faultproxy_requests text | grep -q ' POST / 200 -$' || fail "no DescribeTags: $(faultproxy_requests text)"
	check_state --clean
}

s_describe_tags_throttled() {
	tags_empty
	faultproxy_fault '[{"method": "POST", "action": "status", "status": 503, "times": 2}]'
	bl run
	expect_rc 0
	expect_out "EC2 DescribeTags: HTTP 503 RequestLimitExceeded, retrying in"
	expect_order "$ALL"
	got=$(faultproxy_requests text | awk '$2 == "POST" { printf "%s ", $4 }')
	[ "$got" = "503 503 200 " ] || fail "DescribeTags answered [$got]"
	check_state --clean
}

s_describe_tags_throttled_forever() {
	tags_empty
	faultproxy_fault '[{"method": "POST", "action": "status", "status": 503, "times": -1}]'
	bl run
	expect_rc 3
	expect_out "EC2 DescribeTags at $WORLD_EC2_ENDPOINT/: HTTP 503 RequestLimitExceeded, giving up after 5 attempts"
	nothing_ran
	check_state --clean
	rerun_ok
}

s_describe_tags_denied() {
	tags_empty
	faultproxy_fault '[{"method": "POST", "action": "status", "status": 403, "times": -1}]'
	bl run
	expect_rc 3
	expect_out "the instance role lacks ec2:DescribeTags (UnauthorizedOperation)"
	nothing_ran
	check_state --clean
	rerun_ok
}

# describe_tags_answer XML: DescribeTags answers 200 with this body.
describe_tags_answer() {
	python3 -c 'import json, sys
print(json.dumps([{"method": "POST", "action": "status", "status": 200, "times": -1,
                   "body": sys.argv[1]}]))' "$1" \
		> "$WORLD/rules.json"
	faultproxy_fault "$(cat "$WORLD/rules.json")"
}

TAGS_ANSWER='<DescribeTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><tagSet><item><resourceType>instance</resourceType><key>role</key><value>&x;</value></item></tagSet></DescribeTagsResponse>'

s_describe_tags_entities() {
	tags_empty
	dtd='<!ENTITY a "lollollollollollollollollollol">'
	prev=a
	for e in b c d e f g h i j; do
		dtd="$dtd<!ENTITY $e \"&$prev;&$prev;&$prev;&$prev;&$prev;&$prev;&$prev;&$prev;&$prev;&$prev;\">"
		prev=$e
	done
	describe_tags_answer "<?xml version=\"1.0\"?>
<!DOCTYPE r [$dtd<!ENTITY x \"&j;\">]>
$TAGS_ANSWER"
	bl run
	expect_rc 3
	expect_out "EC2 DescribeTags: malformed answer: line 2, column [0-9]*: DOCTYPE not allowed"
	expect_no_out lollol
	nothing_ran
	check_state --clean
	rerun_ok
}

s_describe_tags_xxe() {
	tags_empty
	echo "xxe-secret-$$" > "$WORLD/xxe"
	describe_tags_answer "<?xml version=\"1.0\"?>
<!DOCTYPE r [<!ENTITY x SYSTEM \"file://$WORLD/xxe\">]>
$TAGS_ANSWER"
	bl run
	expect_rc 3
	expect_out "EC2 DescribeTags: malformed answer: line 2, column [0-9]*: DOCTYPE not allowed"
	expect_no_out "xxe-secret"
	nothing_ran
	check_state --clean
	rerun_ok
}

# --- S3 ---------------------------------------------------------------------------

s_s3_slowdown_x3() {
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"status\", \"status\": 503, \"code\": \"SlowDown\", \"times\": 3}]"
	bl run
	expect_rc 0
	expect_out "$R: HTTP 503 SlowDown, retry 4 "
	expect_order "$ALL"
	expect_gets "$R" "503 503 503 200 "
	check_state --clean
}

s_s3_slowdown_forever() {
	s3_retry_briefly
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"status\", \"status\": 503, \"code\": \"SlowDown\", \"times\": -1}]"
	bl run
	expect_rc 3
	expect_out "layer $R: s3://$WORLD_BUCKET/$WORLD_PREFIX$R: HTTP 503 SlowDown; nothing was run"
	retried_in_vain "$R" 503
	nothing_ran
	check_state --clean
	rerun_ok
}

s_s3_reset_mid_body() {
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"truncate\", \"bytes\": 1000, \"rst\": true}]"
	bl run
	expect_rc 0
	expect_out "$R: Recv failure: Connection reset by peer, retry 2 "
	expect_order "$ALL"
	expect_gets "$R" "200 200 "
	check_state --clean
}

s_s3_truncated() {
	s3_retry_briefly
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"truncate\", \"bytes\": 1000, \"times\": -1}]"
	bl run
	expect_rc 3
	expect_out "layer $R: s3://$WORLD_BUCKET/$WORLD_PREFIX$R: transfer closed with [0-9]* bytes remaining to read; nothing was run"
	retried_in_vain "$R" 200
	nothing_ran
	check_state --clean
	rerun_ok
}

# curl gives up on a body that gets no byte for 30 s (transfer.c): the
# stall lasts 45.
s_s3_stalled_body() {
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"stall\", \"bytes\": 1000, \"seconds\": 45}]"
	bl run
	expect_rc 0
	expect_out "$R: Operation too slow.*, retry 2 "
	expect_order "$ALL"
	expect_gets "$R" "200 200 "
	check_state --clean
}

# moto keeps the CRC32 that boto3 sent with each object (as S3 does with
# today's SDKs and CLI) and declares it with x-amz-checksum-mode.
s_s3_corrupt_body() {
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"corrupt\"}]"
	bl run
	expect_rc 0
	expect_out "$R: the body did not match its x-amz-checksum-crc32, retry 2 "
	expect_order "$ALL"
	expect_gets "$R" "200 200 "
	check_state --clean
}

s_s3_wrong_checksum() {
	s3_retry_briefly
	wrong=$(printf 'not the layer' | openssl dgst -sha256 -binary | base64)
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"headers\", \"times\": -1, \"headers\": {\"x-amz-checksum-sha256\": \"$wrong\"}}]"
	bl run
	expect_rc 3
	expect_out "layer $R: s3://$WORLD_BUCKET/$WORLD_PREFIX$R: the body did not match its x-amz-checksum-sha256; nothing was run"
	retried_in_vain "$R" 200
	nothing_ran
	check_state --clean
	rerun_ok
}

s_s3_403_env_layer() {
	faultproxy_fault "[{\"match\": \"$E\", \"action\": \"status\", \"status\": 403, \"times\": -1}]"
	bl run
	expect_rc 3
	expect_out "layer $E: s3://$WORLD_BUCKET/$WORLD_PREFIX$E: access denied (AccessDenied: Access Denied); the instance role needs s3:GetObject on it"
	expect_gets "$E" "403 "
	nothing_ran
	check_state --clean
	rerun_ok
}

s_s3_301_region() {
	faultproxy_fault "[{\"match\": \"$B\", \"action\": \"status\", \"status\": 301, \"headers\": {\"x-amz-bucket-region\": \"us-west-2\"}}]"
	bl run
	expect_rc 0
	expect_out "$B: bucket $WORLD_BUCKET is in us-west-2, asking there"
	expect_order "$ALL"
	faultproxy_requests > "$WORLD/fp.json"
	expect_json "$WORLD/fp.json" "[(e['status'], e['credential'].split('/')[2]) for e in j if '$B' in e['path']] == [(301, '$WORLD_REGION'), (200, 'us-west-2')]"
	check_state --clean
}

s_s3_301_twice() {
	faultproxy_fault "[{\"match\": \"$B\", \"action\": \"status\", \"status\": 301, \"times\": 2, \"headers\": {\"x-amz-bucket-region\": \"us-west-2\"}}]"
	bl run
	expect_rc 3
	expect_out "layer $B: s3://$WORLD_BUCKET/$WORLD_PREFIX$B: S3 redirects (HTTP 301) to us-west-2, again; nothing was run"
	nothing_ran
	check_state --clean
	rerun_ok
}

s_s3_clock_skew() {
	faultproxy_fault "[{\"match\": \"$B\", \"action\": \"status\", \"status\": 403, \"times\": -1, \"code\": \"RequestTimeTooSkewed\", \"message\": \"The difference between the request time and the current time is too large.\"}]"
	bl run
	expect_rc 3
	expect_out "layer $B: .*S3 refused the request because this machine's clock is off (RequestTimeTooSkewed: The difference between the request time and the current time is too large.)"
	nothing_ran
	check_state --clean
	rerun_ok
}

s_s3_expired_token() {
	faultproxy_fault "[{\"match\": \"$B\", \"action\": \"status\", \"status\": 400, \"times\": -1, \"code\": \"ExpiredToken\", \"message\": \"The provided token has expired.\"}]"
	bl run
	expect_rc 3
	expect_out "layer $B: .*S3 refused the credentials from instance role $WORLD_ROLE (ExpiredToken: The provided token has expired.)"
	nothing_ran
	check_state --clean
	rerun_ok
}

s_s3_error_entities() {
	python3 -c 'import json, sys
lol = "<!ENTITY a \"lollollollollol\">" + "".join(
    "<!ENTITY %s \"%s\">" % (e, ("&%s;" % p) * 10) for p, e in zip("abcdefgh", "bcdefghi"))
body = "<?xml version=\"1.0\"?>\n<!DOCTYPE Error [%s]>\n<Error><Code>&i;</Code><Message>&i;</Message></Error>" % lol
print(json.dumps([{"match": sys.argv[1], "action": "status", "status": 403, "times": -1, "body": body}]))' "$B" \
		> "$WORLD/rules.json"
	faultproxy_fault "$(cat "$WORLD/rules.json")"
	bl run
	expect_rc 3
	expect_out "layer $B: s3://$WORLD_BUCKET/$WORLD_PREFIX$B: access denied (HTTP 403)"
	expect_no_out lollol
	nothing_ran
	check_state --clean
	rerun_ok
}

s_s3_oversize_chunked() {
	printf 's3:\n  max_object_size: 4096\n' >> "$CONFIG"
	faultproxy_fault '[{"action": "chunked", "times": -1}]'
	bl run
	expect_rc 1
	expect_out "layer $B: s3://$WORLD_BUCKET/$WORLD_PREFIX$B: larger than the 4096-byte limit; nothing was run"
	nothing_ran
	check_state --clean
	cp "$BASE_CONFIG" "$CONFIG"
	rerun_ok
}

# The state directory on a 192 KiB tmpfs, a 512 KiB layer: ENOSPC in the
# middle of its download.  Then the file system grows and the rerun fits.
s_disk_full() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
	mkdir -p "$SMALL"
	mount -t tmpfs -o size=192k,mode=0700 bootlace-faults "$SMALL" 2>/dev/null ||
		skip "cannot mount a tmpfs here"
	sed -i "s|^state_dir: .*|state_dir: $SMALL/state|" "$CONFIG"
	cat >> "$CONFIG" <<YAML
layers:
  - { path: "base/{event}.sh", required: true }
  - { path: "roles/{role}/{event}.sh" }
  - { path: "environments/{environment}/{event}.sh" }
  - { path: "big/{event}.sh" }
YAML
	bl run
	expect_rc 1
	expect_out "layer big/setup.sh: s3://$WORLD_BUCKET/${WORLD_PREFIX}big/setup.sh: cannot write $SMALL/state/tmp/download-[A-Za-z0-9]*: No space left on device; nothing was run"
	nothing_ran
	check_state --state "$SMALL/state" --clean
	mount -o remount,size=8m "$SMALL"
	faults_off
	bl run
	expect_rc 0
	expect_order "${ALL}big/setup.sh "
	check_state --state "$SMALL/state" --clean
}

# --- killed, stopped, stuck -------------------------------------------------

s_kill9_during_fetch() {
	faultproxy_fault "[{\"match\": \"$R\", \"action\": \"stall\", \"bytes\": 1000, \"seconds\": 60}]"
	bl_start
	until_true 15 sh -c "curl -s --noproxy '*' '$FAULTPROXY_URL/_faultproxy/requests?format=text' | grep -q '$R 200 stall'"
	kill -KILL "$BG"
	bl_wait
	expect_rc 137
	nothing_ran
	set -- "$WORLD"/state/tmp/download-*
	[ -e "$1" ] || fail "no download in progress in tmp/"
	expect_json "$WORLD/state/current.json" 'j["event"] == "setup" and j.get("layer") is None'
	check_state
	rerun_ok
	expect_out "did not finish: it ended while fetching the layers"
}

# The run log is opened after every script is written and before the first
# runs: a FIFO in its place (one for each second the run may start in)
# holds bootlace right there until it is killed.
s_kill9_after_fetch() {
	(umask 077 && mkdir -p "$WORLD/state/logs")
	now=$(date +%s)
	for i in -1 0 1 2 3 4 5 6 7; do	# 9: bootlace keeps 9 old logs
		mkfifo "$WORLD/state/logs/setup-$(date -u -d "@$((now + i))" +%Y%m%dT%H%M%SZ).log"
	done
	bl_start
	until_true 15 sh -c "[ \$(ls '$WORLD/state/scripts/setup' | wc -l) -eq 3 ]"
	sleep 0.5
	kill -0 "$BG" 2>/dev/null || fail "bootlace did not wait at its log: $(cat "$WORLD/bg.out")"
	kill -KILL "$BG"
	bl_wait
	expect_rc 137
	nothing_ran
	[ -s "$WORLD/state/context.json" ] || fail "no context.json: the fetch had not ended"
	check_state
	find "$WORLD/state/logs" -type p -delete
	rerun_ok
	expect_out "did not finish"
}

# kill9_in LAYER KEY ORDER_BEFORE [USER_DATA]: kill -9 while LAYER's
# script runs; the scripts before it ran, none after; a rerun runs them all.
kill9_in() {
	echo hang > "$CTL/$2"
	bl_start
	until_true 20 test -s "$CTL/$2.pid"
	kill -KILL "$BG"
	bl_wait
	expect_rc 137
	expect_order "$3"
	[ "$(tr '\n' ' ' < "$STARTED")" = "$3$1 " ] || fail "started: $(tr '\n' ' ' < "$STARTED")"
	expect_json "$WORLD/state/current.json" "j['layer'] == '$1'"
	check_state ${4:+--source "user-data=$4"}
	# Left running by the kill: killed here, as systemd would (KillMode=mixed).
	kill -KILL "-$(cat "$CTL/$2.pid")"
	rm -f "$CTL/$2" "$CTL/$2.pid"
	rerun_ok "$ALL${4:+user-data }" ${4:+"user-data=$4"}
	expect_out "did not finish: it ended during layer $1"
}

s_kill9_during_base() { kill9_in "$B" base ""; }
s_kill9_during_role() { kill9_in "$R" role "$B "; }
s_kill9_during_env() { kill9_in "$E" env "$B $R "; }

s_kill9_during_user_data() {
	matrix_script user-data user-data 100 > "$WORLD/user-data.sh"
	user_data "$WORLD/user-data.sh"
	kill9_in user-data user-data "$ALL" "$WORLD/user-data.sh"
}

s_sigterm_daemon_mid_script() {
	printf 'shutdown:\n  on_stop: never\n' >> "$CONFIG"
	echo hang > "$CTL/role"
	bl_start daemon
	until_true 20 test -s "$CTL/role.pid"
	kill -TERM "$BG"
	bl_wait
	expect_rc 0
	expect_out "layer $R: bootlace is stopping, sending SIGTERM"
	group_gone "$(cat "$CTL/role.pid")" || fail "the script's process group outlived the daemon"
	rm -f "$CTL/role.pid"
	expect_order "$B "
	expect_json "$WORLD/state/runs/setup.json" "j['state'] == 'failed' and [(l['status'], l.get('reason')) for l in j['layers']] == [('ok', None), ('failed', 'stopped with bootlace (SIGTERM)'), ('not-run', 'an earlier layer failed')]"
	check_state --clean
	rm -f "$CTL/role"
	rerun_ok
}

# What the daemon does is expected of bootlace run too: the script's group
# stopped, the run recorded as failed.
s_sigterm_run_mid_script() {
	echo hang > "$CTL/role"
	bl_start
	until_true 20 test -s "$CTL/role.pid"
	kill -TERM "$BG"
	bl_wait
	group_gone "$(cat "$CTL/role.pid")" || fail "the script's process group outlived bootlace run (exit $RC)"
	rm -f "$CTL/role.pid"
	expect_order "$B "
	expect_json "$WORLD/state/runs/setup.json" "j['state'] == 'failed' and j['layers'][1]['status'] == 'failed'"
	check_state --clean
	rm -f "$CTL/role"
	rerun_ok
}

s_script_daemon_holds_stdout() {
	echo daemon > "$CTL/role"
	bl run
	expect_rc 0
	expect_order "$ALL"
	kill -0 "-$(cat "$CTL/role.pid")" 2>/dev/null || fail "the process the script left was killed"
	check_state --clean
}

script_stuck() {
	printf 'run:\n  timeout: 1\n  kill_grace: 1\n' >> "$CONFIG"
	echo "$1" > "$CTL/role"
	bl run
	expect_rc 1
	expect_out "layer $R failed: $2"
	group_gone "$(cat "$CTL/role.pid")" || fail "the script's process group is still there"
	rm -f "$CTL/role.pid"
	expect_order "$B "
	expect_json "$WORLD/state/runs/setup.json" "j['state'] == 'failed' and [(l['status'], l.get('timed_out')) for l in j['layers']] == [('ok', False), ('failed', True), ('not-run', None)]"
	check_state --clean
	rm -f "$CTL/role"
	rerun_ok
}

s_script_never_exits() { script_stuck hang "timed out after 1s (stopped by SIGTERM)"; }
s_script_ignores_sigterm() { script_stuck hang-noterm "timed out after 1s (SIGTERM, then SIGKILL after 1s grace)"; }

# --- user data --------------------------------------------------------------

# user_data FILE: IMDS serves FILE's bytes as the user data.
user_data() {
	python3 -c 'import base64, json, sys
print(json.dumps({"user-data-base64": base64.b64encode(open(sys.argv[1], "rb").read()).decode()}))' \
		"$1" > "$WORLD/post.json"
	imds_post data "$WORLD/post.json"
}

s_user_data_gzip_bomb() {
	head -c 30000000 /dev/zero | gzip -9 > "$WORLD/bomb.gz"
	user_data "$WORLD/bomb.gz"
	bl run
	expect_rc 3
	expect_out "user data from ec2: inflates past the 1 MiB limit"
	nothing_ran
	check_state --clean
	imds_restore
	rerun_ok
}

s_user_data_2mb() {
	{ echo '#!/bin/sh'; head -c 2000000 /dev/zero | tr '\0' '#'; echo; } > "$WORLD/big-user-data"
	user_data "$WORLD/big-user-data"
	bl run
	expect_rc 3
	expect_out "IMDS user-data: response larger than 65536 bytes"
	nothing_ran
	check_state --clean
	imds_restore
	rerun_ok
}

s_user_data_yaml_alias_bomb() {
	{
		echo '#bootlace'
		echo 'layers: &a [{ path: "base/{event}.sh" }, { path: "roles/{role}/{event}.sh" }]'
		prev=a
		for n in b c d e f g h i j; do
			echo "x$n: &$n [*$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev]"
			prev=$n
		done
	} > "$WORLD/bomb.yaml"
	user_data "$WORLD/bomb.yaml"
	bl run
	expect_rc 2
	expect_out "user-data:3:[0-9]*: YAML aliases are not supported"
	nothing_ran
	check_state --clean
	imds_restore
	rerun_ok
}

# --- the matrix ---------------------------------------------------------------

trap 'matrix_cleanup; rm -rf "$WORLD"' EXIT
world_init web production
matrix_layer "$B" base
matrix_layer "$R" role
matrix_layer "$E" env
matrix_layer big/setup.sh big 6600
: > "$PIDS"
aws_world
cp "$CONFIG" "$BASE_CONFIG"
mkdir -p "$WORLD/logs"

passed=0 failed=0 xfailed=0 skipped=0
names=$(printf '%s\n' "$SCENARIOS" | awk 'NF { print $1 }')
for want in "$@"; do
	printf '%s\n' "$names" | grep -qx -- "$want" || { echo "no scenario $want" >&2; exit 2; }
done
for name in $names; do
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx -- "$name"; then
		continue
	fi
	what=$(printf '%s\n' "$SCENARIOS" | awk -v n="$name" '$1 == n { $1 = ""; sub(/^ +/, ""); print }')
	known=$(printf '%s\n' "$XFAIL" | awk -v n="$name" '$1 == n { $1 = ""; sub(/^ +/, ""); print }')
	world_reset
	rm -f "$WORLD/skip"
	log=$WORLD/logs/$name.log
	# A subshell of its own: a failed assertion (lib.sh's fail) ends the
	# scenario, not the matrix.
	( set -e; "s_$(printf '%s' "$name" | tr - _)" ) > "$log" 2>&1 &
	rc=0
	wait $! || rc=$?
	matrix_cleanup
	if [ "$rc" -eq 77 ]; then
		printf 'SKIP  %-32s %s\n' "$name" "$(cat "$WORLD/skip")"
		skipped=$((skipped + 1))
	elif [ -n "$known" ] && [ "$rc" -ne 0 ]; then
		printf 'XFAIL %-32s %s\n' "$name" "$known"
		sed 's/^/      /' "$log" | tail -3
		xfailed=$((xfailed + 1))
	elif [ -n "$known" ]; then
		printf 'FAIL  %-32s passes: remove it from XFAIL (%s)\n' "$name" "$known"
		failed=$((failed + 1))
	elif [ "$rc" -eq 0 ]; then
		printf 'ok    %-32s %s\n' "$name" "$what"
		passed=$((passed + 1))
	else
		printf 'FAIL  %-32s %s\n' "$name" "$what"
		sed 's/^/      /' "$log"
		failed=$((failed + 1))
	fi
done
extra=''
[ "$xfailed" -eq 0 ] || extra=", $xfailed known bootlace bug(s) (XFAIL)"
[ "$skipped" -eq 0 ] || extra="$extra, $skipped skipped"
echo "fault matrix: $passed passed, $failed failed$extra"
[ "$failed" -eq 0 ]
