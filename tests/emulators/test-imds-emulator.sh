#!/bin/sh
# test-imds-emulator.sh - self-test of the IMDS emulator (imds.py) and of the
# helpers in lib.sh: the IMDSv2 token flow, v1 on/off, listings, tags,
# credentials, user data, data overrides, faults, the request log, startup
# (READY, --port 0, pid/port files, bad arguments) and cleanup by PID.
# curl talks to 127.0.0.1 only; every curl has --max-time and the whole run
# is under `timeout 55`.  Last line: "imds-emulator: N passed, N failed";
# exit status non-zero on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SELFTEST_NAME=imds-emulator SELFTEST_TIMEOUT=55
. "$here/selftest.sh"
. "$here/lib.sh"
PY=${IMDS_PYTHON:-python3}
T=$(mktemp -d "${TMPDIR:-/tmp}/imds-selftest.XXXXXX")
trap 'rm -rf "$T"' EXIT	# set before imds_start: lib.sh keeps it and adds emulators_stop

req() { http "$IMDS_URL" "$@"; }	# req METHOD PATH [curl args], see selftest.sh
tok() { req PUT /latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: ${1:-60}"; TOKEN=$BODY; }
get() { req GET "$1" -H "X-aws-ec2-metadata-token: $TOKEN"; }
words() { printf '%s' "$BODY" | tr '\n' ' '; }	# a listing on one line

# --- startup through lib.sh -------------------------------------------------
imds_start --portfile "$T/port"
check "imds_start: READY port" expr "${IMDS_PORT:-x}" : '[1-9][0-9]*$'
expect "portfile" "$IMDS_PORT" "$(cat "$T/port")"
check "IMDS_PID is the server" grep -q imds.py "/proc/$IMDS_PID/cmdline"
expect "endpoint exported" "http://127.0.0.1:$IMDS_PORT" "$(sh -c 'echo "$AWS_EC2_METADATA_SERVICE_ENDPOINT"')"
MAIN_PID=$IMDS_PID MAIN_PORT=$IMDS_PORT

# --- token flow -------------------------------------------------------------
req GET /latest/meta-data/
expect "no token, v1 off: 401" 401 "$CODE"
req PUT /latest/api/token
expect "PUT without TTL: 400" 400 "$CODE"
for ttl in 0 21601 abc -5; do
	tok "$ttl"
	expect "PUT TTL $ttl: 400" 400 "$CODE"
done
req PUT /latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' -H 'X-Forwarded-For: 10.0.0.1'
expect "PUT with X-Forwarded-For: 403" 403 "$CODE"
req GET /latest/api/token
expect "GET token path: 405" 405 "$CODE"
tok 21600
expect "PUT TTL 21600: 200" 200 "$CODE"
expect "TTL header echoed" 21600 "$(hdr X-aws-ec2-metadata-token-ttl-seconds)"
check "token is opaque, non-empty" expr "$TOKEN" : '[A-Za-z0-9+/=]\{20,\}$'
get /latest/meta-data/instance-id
expect "GET with token: 200" "200 i-1234567890abcdef0" "$CODE $BODY"
req GET /latest/meta-data/instance-id -H 'X-aws-ec2-metadata-token: not-a-token'
expect "invalid token: 401" 401 "$CODE"
req POST /latest/meta-data/instance-id -H "X-aws-ec2-metadata-token: $TOKEN"
expect "POST metadata: 405" 405 "$CODE"

# --- content ----------------------------------------------------------------
get /latest/
expect "/latest/ listing" "dynamic meta-data user-data" "$(words)"
get /latest/meta-data/
check "meta-data listing" sh -c 'printf "%s\n" "$1" | grep -qx instance-id &&
	printf "%s\n" "$1" | grep -qx "iam/" && printf "%s\n" "$1" | grep -qx "placement/" &&
	printf "%s\n" "$1" | grep -qx "tags/"' - "$BODY"
get /latest/meta-data/placement
expect "listing without trailing slash" "availability-zone availability-zone-id group-name host-id partition-number region" "$(words)"
get /latest/meta-data/tags/instance/
expect "tags listing" "Name Test" "$(words)"
get /latest/meta-data/tags/instance/Name
expect "tag value" test-instance "$BODY"
get /latest/meta-data/iam/security-credentials/
expect "role listing" baskinc-role "$BODY"
get /latest/meta-data/iam/security-credentials/baskinc-role
check "credentials JSON: keys, Expiration in 6 h" json 'sorted(j) == sorted(["Code", "LastUpdated",
	"Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"]) and j["Code"] == "Success" and
	j["Expiration"] > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5.9 * 3600))'
get /latest/user-data
printf '1234,john,reboot,true\n' > "$T/ud.expected"
check "user data bytes" cmp -s "$T/body" "$T/ud.expected"
get /latest/dynamic/instance-identity/document
check "identity document" json 'j["instanceId"] == "i-1234567890abcdef0" and j["region"] == "us-east-1"'
for p in /latest/meta-data/nope /latest/meta-data/tags/instance/Nope /latest/nope /nope /latest/user-data/; do
	get "$p"
	expect "404 $p" 404 "$CODE"
done
check "error body is an HTML page" sh -c 'grep -q "<title>404 - Not Found</title>" "$1"' - "$T/body"

# --- faults -----------------------------------------------------------------
imds_fault '{"fail_next": 2, "fail_status": 503}'
get /latest/meta-data/ami-id
a=$CODE
get /latest/meta-data/ami-id
b=$CODE
get /latest/meta-data/ami-id
expect "fail_next 2 x 503, then 200" "503 503 200" "$a $b $CODE"
imds_fault '{"fail_next": 1, "fail_status": 429, "fail_path": "/latest/meta-data/iam/"}'
get /latest/meta-data/ami-id
a=$CODE
get /latest/meta-data/iam/info
expect "fail_path: only matching path gets 429" "200 429" "$a $CODE"
imds_fault '{"fail_path": null}'
imds_fault '{"unavailable_for": 30, "unavailable_mode": "refuse"}'
get /latest/meta-data/ami-id
expect "unavailable refuse: closed without reply" "000 52" "$CODE $CURL_RC"
tok 60
expect "unavailable refuse: token PUT too" 000 "$CODE"
imds_fault '{"unavailable_mode": "status"}'
get /latest/meta-data/ami-id
expect "unavailable status: 503" 503 "$CODE"
imds_fault '{"unavailable_for": 0.5, "unavailable_mode": "refuse"}'
sleep 0.7
tok 60
expect "unavailable_for expires" 200 "$CODE"
imds_fault '{"delay": 1}'
MAXT=0.3 get /latest/meta-data/ami-id
expect "delay: client timeout" 28 "$CURL_RC"
imds_fault '{"delay": 0.2}'
get /latest/meta-data/ami-id
expect "delay: slow but answered" 200 "$CODE"
imds_fault '{"delay": null, "token_ttl_cap": 1}'
tok 21600
expect "token_ttl_cap: granted TTL" 1 "$(hdr X-aws-ec2-metadata-token-ttl-seconds)"
sleep 1.2
get /latest/meta-data/ami-id
expect "expired token: 401" 401 "$CODE"
imds_fault '{"token_ttl_cap": 0, "reject_tokens": 1}'
tok 60
get /latest/meta-data/ami-id
a=$CODE
get /latest/meta-data/ami-id
b=$CODE
tok 60
get /latest/meta-data/ami-id
expect "reject_tokens: 401, token stays revoked, new token works" "401 401 200" "$a $b $CODE"
expect "bad fault key: 400" 1 "$(imds_fault '{"fail_nxt": 1}' 2> /dev/null; echo $?)"
expect "bad fault value: 400" 1 "$(imds_fault '{"fail_status": 200}' 2> /dev/null; echo $?)"
BODY=$(imds_control GET faults)
check "faults all back to off" json 'j == {"unavailable_for": 0, "unavailable_mode": "refuse",
	"fail_next": 0, "fail_status": 429, "fail_path": None, "delay": 0, "token_ttl_cap": 0, "reject_tokens": 0}'

# --- request log ------------------------------------------------------------
imds_control DELETE requests > /dev/null
tok 60
get /latest/meta-data/instance-id
req GET /latest/meta-data/instance-id
imds_fault '{"fail_next": 1, "fail_status": 500}'
get /latest/meta-data/instance-id
BODY=$(imds_requests)
check "request log (JSON)" json '[(e["method"], e["path"], e["token"], e["status"], e["fault"]) for e in j] == [
	("PUT", "/latest/api/token", False, 200, None),
	("GET", "/latest/meta-data/instance-id", True, 200, None),
	("GET", "/latest/meta-data/instance-id", False, 401, None),
	("GET", "/latest/meta-data/instance-id", True, 500, "fail_next")] and j[0]["ttl"] == "60"'
expect "request log (text)" "GET /latest/meta-data/instance-id token=yes status=200 fault=-" \
	"$(imds_requests text | sed -n 2p | cut -d' ' -f2-)"

# --- runtime options and data -----------------------------------------------
imds_control POST options '{"tags": false}' > /dev/null
get /latest/meta-data/tags/instance/
expect "tags off at run time: 404" 404 "$CODE"
imds_control POST options '{"tags": true, "allow_v1": true}' > /dev/null
req GET /latest/meta-data/tags/instance/Test
expect "v1 on at run time: 200" "200 test-tag" "$CODE $BODY"
imds_control POST data '{"instance-id": "i-0runtime00000001", "tags": {"role": "db"}}' > /dev/null
get /latest/meta-data/tags/instance/
a="$CODE $BODY"
get /latest/meta-data/instance-id
expect "data at run time" "200 role i-0runtime00000001" "$a $BODY"
imds_control POST reset > /dev/null
expect "reset clears the log" "[]" "$(imds_requests)"

# --- second emulator: --data, --allow-v1, --no-tags -------------------------
emulators_stop
check "emulators_stop: server gone" gone "$MAIN_PID"
check "emulators_stop: port closed" refused "$MAIN_PORT"
expect "emulators_stop: vars cleared" ":" "${IMDS_PID:-}:${AWS_EC2_METADATA_SERVICE_ENDPOINT:-}"
cat > "$T/data.json" << 'EOF'
{"instance-id": "i-0emulator0000001", "region": "eu-west-1", "availability-zone": "eu-west-1b",
 "tags": {"role": "web", "environment": "production"}, "user-data": null, "role": "bootlace-test",
 "credentials": {"AccessKeyId": "AKIDEMULATOR", "Expiration": "2020-01-01T00:00:00Z"}}
EOF
imds_start --data "$T/data.json" --allow-v1 --no-tags
req GET /latest/meta-data/instance-id
expect "--allow-v1: no token 200, --data instance-id" "200 i-0emulator0000001" "$CODE $BODY"
req GET /latest/meta-data/instance-id -H 'X-aws-ec2-metadata-token: bogus'
expect "--allow-v1: bad token still 401" 401 "$CODE"
req GET /latest/meta-data/tags/instance/
expect "--no-tags: tags/instance/ 404" 404 "$CODE"
req GET /latest/meta-data/
check "--no-tags: no tags/ in listing" sh -c '! printf "%s\n" "$1" | grep -q "^tags"' - "$BODY"
imds_control POST options '{"tags": true}' > /dev/null
req GET /latest/meta-data/tags/instance/
expect "--data tags" "environment role" "$(words)"
req GET /latest/user-data
expect "no user data: 404" 404 "$CODE"
req GET /latest/
expect "no user data: not listed" "dynamic meta-data" "$(words)"
req GET /latest/dynamic/instance-identity/document
check "--data updates the identity document" json 'j["instanceId"] == "i-0emulator0000001" and
	j["region"] == "eu-west-1" and j["availabilityZone"] == "eu-west-1b"'
req GET /latest/meta-data/placement/availability-zone
expect "--data availability-zone" eu-west-1b "$BODY"
req GET /latest/meta-data/iam/security-credentials/
expect "--data role" bootlace-test "$BODY"
req GET /latest/meta-data/iam/security-credentials/bootlace-test
check "--data credentials, Expiration verbatim" json 'j["AccessKeyId"] == "AKIDEMULATOR" and
	j["Expiration"] == "2020-01-01T00:00:00Z" and j["SecretAccessKey"] == "v/12345678901"'
imds_control POST data '{"role": null}' > /dev/null
req GET /latest/meta-data/iam/
expect "role null: iam/ 404" 404 "$CODE"
emulators_stop

# --- startup errors ---------------------------------------------------------
timeout 10 "$PY" "$here/imds.py" --host 0.0.0.0 > "$T/out" 2> /dev/null
expect "--host 0.0.0.0 refused" "2 0" "$? $(wc -l < "$T/out")"
echo '{"instance_id": "i-x"}' > "$T/bad.json"
timeout 10 "$PY" "$here/imds.py" --data "$T/bad.json" > "$T/out" 2> "$T/err"
expect "unknown data key refused" "2 0" "$? $(wc -l < "$T/out")"
imds_start --data "$T/missing.json" 2> "$T/err"
expect "imds_start fails cleanly" "1 ''" "$? '${IMDS_PID:-}'"
check "imds_start shows the emulator's error" grep -q 'missing.json' "$T/err"

# --- READY line, SIGTERM ----------------------------------------------------
check_ready imds.py

# --- cleanup when a test fails, is terminated or killed ---------------------
imds_start
child a.port 'trap "echo old > \"$T/a.trap\"" EXIT; imds_start; echo $IMDS_PID > "$T/a.pid"
	echo $IMDS_PORT > "$T/a.port"; exit 3'
wait "$CHILD"
expect "failing test: its exit status kept" 3 "$?"
check "failing test: emulator gone" gone "$(cat "$T/a.pid")"
check "failing test: existing EXIT trap still ran" grep -qx old "$T/a.trap"
check "--port 0: two emulators, two ports" [ "$(cat "$T/a.port")" != "$IMDS_PORT" ]
child b.port 'imds_start; echo $IMDS_PID > "$T/b.pid"; echo $IMDS_PORT > "$T/b.port"
	while :; do sleep 0.1; done'
kill -TERM "$CHILD"
wait "$CHILD"
expect "terminated test: exit 143" 143 "$?"
check "terminated test: emulator gone" gone "$(cat "$T/b.pid")"
child c.port 'imds_start; echo $IMDS_PID > "$T/c.pid"; echo $IMDS_PORT > "$T/c.port"
	while :; do sleep 0.1; done'
kill -KILL "$CHILD"
wait "$CHILD"
check "killed test (-9): emulator exits by itself" gone "$(cat "$T/c.pid")"
check "killed test (-9): port closed" refused "$(cat "$T/c.port")"
tok 60
get /latest/meta-data/instance-id
expect "our own emulator unaffected" 200 "$CODE"
p=$IMDS_PID
emulators_stop
check "emulators_stop by PID" gone "$p"

selftest_end
