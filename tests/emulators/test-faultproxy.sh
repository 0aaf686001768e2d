#!/bin/sh
# test-faultproxy.sh - self-test of the fault-injecting server (faultproxy.py)
# and of its helpers in lib.sh: S3-like serving of a directory (ETag,
# checksum mode, 304, 404 NoSuchKey, nothing outside the directory), the
# relay to an upstream (a second faultproxy --static) with headers and body
# unchanged, every fault action, the request log, the control API, startup
# (READY, --port 0, bad arguments) and cleanup by PID.  curl talks to
# 127.0.0.1 only; every curl has --max-time and the whole run is under
# `timeout 55`.  Last line: "faultproxy: N passed, N failed"; exit status
# non-zero on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SELFTEST_NAME=faultproxy SELFTEST_TIMEOUT=55
. "$here/selftest.sh"
. "$here/lib.sh"
PY=${IMDS_PYTHON:-python3}
T=$(mktemp -d "${TMPDIR:-/tmp}/faultproxy-selftest.XXXXXX")
UP_PID=''
# Set before faultproxy_start: lib.sh keeps it and adds emulators_stop.  The
# upstream is started here, not by lib.sh, so it is stopped here too.
trap '[ -z "$UP_PID" ] || kill "$UP_PID" 2> /dev/null; rm -rf "$T"' EXIT

req() { http "$FAULTPROXY_URL" "$@"; }	# req METHOD PATH [curl args], see selftest.sh
fault() { faultproxy_fault "$1" > /dev/null; }
sha256_b64() { "$PY" -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"; }

mkdir -p "$T/s/bucket/dir" "$T/outside"
printf 'echo base layer\n' > "$T/s/bucket/base.sh"
head -c 10000 /dev/urandom > "$T/s/bucket/big.bin"
: > "$T/s/bucket/empty"
echo secret > "$T/outside/secret"
ln -s "$T/outside/secret" "$T/s/bucket/link"

# --- startup through lib.sh -------------------------------------------------
faultproxy_start --static "$T/s" --portfile "$T/port"
check "faultproxy_start: READY port" expr "${FAULTPROXY_PORT:-x}" : '[1-9][0-9]*$'
expect "portfile" "$FAULTPROXY_PORT" "$(cat "$T/port")"
check "FAULTPROXY_PID is the server" grep -q faultproxy.py "/proc/$FAULTPROXY_PID/cmdline"
expect "FAULTPROXY_URL exported" "http://127.0.0.1:$FAULTPROXY_PORT" "$(sh -c 'echo "$FAULTPROXY_URL"')"
BODY=$(faultproxy_control GET health)
check "health" json "j['ok'] and j['mode'] == 'static' and j['port'] == $FAULTPROXY_PORT"
expect "second faultproxy_start refused" 1 "$(faultproxy_start --static "$T/s" 2> /dev/null; echo $?)"

# --- serving a directory like S3 --------------------------------------------
req GET /bucket/base.sh
expect "GET: 200 and the bytes" "200 echo base layer" "$CODE $BODY"
expect "Content-Length" 16 "$(hdr Content-Length)"
expect "ETag is the quoted MD5" "\"$(md5sum < "$T/s/bucket/base.sh" | cut -d' ' -f1)\"" "$(hdr ETag)"
expect "no checksum unless asked" "" "$(hdr x-amz-checksum-sha256)"
req GET /bucket/big.bin -H 'x-amz-checksum-mode: ENABLED'
check "binary body intact" cmp "$T/body" "$T/s/bucket/big.bin"
expect "x-amz-checksum-sha256 with checksum mode" "$(sha256_b64 "$T/s/bucket/big.bin")" "$(hdr x-amz-checksum-sha256)"
req HEAD /bucket/big.bin
expect "HEAD: 200, length, no body" "200 10000 0" "$CODE $(hdr Content-Length) $SIZE"
etag=$(hdr ETag)
req GET /bucket/big.bin -H "If-None-Match: $etag"
expect "If-None-Match matching: 304, no body" "304 0" "$CODE $SIZE"
req GET /bucket/big.bin -H 'If-None-Match: "0123"'
expect "If-None-Match other: 200" 200 "$CODE"
req GET /bucket/empty
expect "empty object" "200 0 0" "$CODE $(hdr Content-Length) $SIZE"
req GET /bucket/nope.sh
expect "missing: 404" 404 "$CODE"
check "missing: NoSuchKey with the key" grep -q '<Code>NoSuchKey</Code>.*<Key>bucket/nope.sh</Key>' "$T/body"
req GET /bucket/dir
expect "directory: 404" 404 "$CODE"
req GET /bucket/link
expect "symlink out of the directory: 404" 404 "$CODE"
for p in /bucket/../../outside/secret /bucket/%2e%2e/%2e%2e/outside/secret /%2e%2e/outside/secret; do
	req GET "$p" --path-as-is
	expect "never outside: $p" 404 "$CODE"
done
req PUT /bucket/base.sh --data x
expect "PUT: 405" 405 "$CODE"

# --- faults -----------------------------------------------------------------
fault '[{"action": "status", "status": 503, "code": "SlowDown", "times": 2}]'
req GET /bucket/base.sh
a=$CODE
check "status: S3 XML error" grep -q '<Error><Code>SlowDown</Code><Message>Please reduce' "$T/body"
req GET /bucket/base.sh
b=$CODE
req GET /bucket/base.sh
expect "status 503 times 2, then 200" "503 503 200" "$a $b $CODE"
fault '[{"action": "status", "status": 301, "code": "PermanentRedirect", "headers": {"x-amz-bucket-region": "eu-west-1"}}]'
req GET /bucket/base.sh
expect "status 301 with extra header" "301 eu-west-1" "$CODE $(hdr x-amz-bucket-region)"
check "301: PermanentRedirect" grep -q '<Code>PermanentRedirect</Code>' "$T/body"
fault '[{"action": "status", "status": 500, "match": "big", "method": "HEAD", "times": -1}]'
req GET /bucket/big.bin
a=$CODE
req HEAD /bucket/base.sh
b=$CODE
req HEAD /bucket/big.bin
c=$CODE
req HEAD /bucket/big.bin
expect "match and method; times -1 stays" "200 200 500 500" "$a $b $c $CODE"
BODY=$(faultproxy_control GET faults)
check "GET faults: the rules" json 'len(j) == 1 and j[0]["times"] == -1 and j[0]["match"] == "big"'
fault '[]'
req HEAD /bucket/big.bin
expect "[] clears the rules" 200 "$CODE"
fault '[{"action": "status", "status": 503}]'
req POST / -H 'Content-Type: application/x-www-form-urlencoded' --data 'Action=DescribeTags&Version=2016-11-15'
check "form POST: EC2 error format" grep -q '<Response><Errors><Error><Code>RequestLimitExceeded</Code>' "$T/body"
fault '[{"action": "reset"}]'
req GET /bucket/base.sh
expect "reset: RST, no reply" "000 56" "$CODE $CURL_RC"
fault '[{"action": "reset", "rst": false}]'
req GET /bucket/base.sh
expect "reset rst false: closed, no reply" "000 52" "$CODE $CURL_RC"
fault '[{"action": "truncate", "bytes": 100}]'
req GET /bucket/big.bin
expect "truncate: full length announced, 100 bytes, curl 18" "10000 100 18" "$(hdr Content-Length) $SIZE $CURL_RC"
fault '[{"action": "truncate"}]'
req GET /bucket/big.bin
expect "truncate: half by default" 5000 "$SIZE"
fault '[{"action": "truncate", "bytes": 100, "rst": true}]'
req GET /bucket/big.bin
expect "truncate rst: headers, then a reset mid-body (curl 56)" "200 10000 56" "$CODE $(hdr Content-Length) $CURL_RC"
fault '[{"action": "stall", "bytes": 3, "seconds": 3}]'
MAXT=1 req GET /bucket/big.bin
expect "stall: headers, 3 bytes, then silence" "200 3 28" "$CODE $SIZE $CURL_RC"
fault '[{"action": "delay", "seconds": 0.6}]'
t=$(curl -s --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code} %{time_total}' "$FAULTPROXY_URL/bucket/base.sh")
check "delay: slow but answered ($t)" "$PY" -c "import sys; c, s = sys.argv[1].split(); sys.exit(not (c == '200' and float(s) >= 0.6))" "$t"
fault '[{"action": "corrupt"}]'
req GET /bucket/big.bin -H 'x-amz-checksum-mode: ENABLED'
expect "corrupt: one byte differs, same length" "1 10000" "$(cmp -l "$T/body" "$T/s/bucket/big.bin" | wc -l | tr -d ' ') $SIZE"
expect "corrupt: headers kept" "$(sha256_b64 "$T/s/bucket/big.bin")" "$(hdr x-amz-checksum-sha256)"
fault '[{"action": "headers", "headers": {"x-amz-checksum-sha256": "AAAA", "etag": "\"x\""}}]'
req GET /bucket/big.bin -H 'x-amz-checksum-mode: ENABLED'
expect "headers: replaced, whatever their case" "AAAA \"x\" 1" "$(hdr x-amz-checksum-sha256) $(hdr ETag) $(grep -ci '^etag:' "$T/hdrs")"
check "headers: body intact" cmp "$T/body" "$T/s/bucket/big.bin"
fault '[{"action": "status", "status": 200, "body": "<a>&x;</a>", "headers": {"Content-Type": "text/xml"}}]'
req GET /bucket/base.sh
expect "status with a body: sent as given" "200 <a>&x;</a> 10" "$CODE $BODY $(hdr Content-Length)"
fault '[{"action": "status", "status": 500, "wait": 0.6}]'
t=$(curl -s --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code} %{time_total}' "$FAULTPROXY_URL/bucket/base.sh")
check "wait: the error comes late ($t)" "$PY" -c "import sys; c, s = sys.argv[1].split(); sys.exit(not (c == '500' and float(s) >= 0.6))" "$t"
fault '[{"action": "chunked"}]'
req GET /bucket/big.bin
expect "chunked: no Content-Length" "chunked " "$(hdr Transfer-Encoding) $(hdr Content-Length)"
check "chunked: body intact" cmp "$T/body" "$T/s/bucket/big.bin"
fault '[{"action": "throttle", "rate": 2, "match": "base"}]'
codes=''
for i in 1 2 3 4 5; do
	req GET /bucket/base.sh
	codes="$codes$CODE "
done
expect "throttle: 2 a second, then 503" "200 200 503 503 503 " "$codes"
check "throttle: SlowDown" grep -q '<Code>SlowDown</Code>' "$T/body"
req GET /bucket/big.bin
expect "throttle: only what matches" 200 "$CODE"
sleep 1.1
req GET /bucket/base.sh
expect "throttle: the next second" 200 "$CODE"
for r in '[{"action": "explode"}]' '[{"action": "status", "status": 99}]' \
	'[{"action": "reset", "bytes": 1}]' '{"action": "reset"}' '[{"action": "delay", "times": -2}]' \
	'[{"action": "throttle"}]' '[{"action": "status", "body": 1}]' '[{"action": "delay", "wait": -1}]' \
	'[{"action": "truncate", "rst": 1}]' '[{"action": "headers", "headers": {"a": 1}}]' 'not json'; do
	expect "bad rules refused: $r" 1 "$(faultproxy_fault "$r" 2> /dev/null; echo $?)"
done
check "a refused rule says why" sh -c '. "$1/lib.sh"; FAULTPROXY_PORT=$2 FAULTPROXY_URL=$3
	faultproxy_fault "[{\"action\": \"explode\"}]" 2>&1 | grep -q "action must be one of"' - "$here" "$FAULTPROXY_PORT" "$FAULTPROXY_URL"

# --- request log ------------------------------------------------------------
faultproxy_control POST reset > /dev/null
expect "reset clears the rules" "[]" "$(faultproxy_control GET faults | tr -d ' \n')"
fault '[{"action": "reset", "match": "empty"}]'
req GET '/bucket/base.sh?versionId=1'
req GET /bucket/nope
req GET /bucket/empty
faultproxy_control GET health > /dev/null
curl -s --noproxy '*' --max-time 5 -o /dev/null -o /dev/null "$FAULTPROXY_URL/bucket/base.sh" "$FAULTPROXY_URL/bucket/base.sh"
BODY=$(faultproxy_requests)
check "request log (JSON), control requests left out" json '[(e["method"], e["path"], e["status"], e["fault"]) for e in j] == [
	("GET", "/bucket/base.sh?versionId=1", 200, None), ("GET", "/bucket/nope", 404, None),
	("GET", "/bucket/empty", None, "reset"), ("GET", "/bucket/base.sh", 200, None),
	("GET", "/bucket/base.sh", 200, None)] and [e["seq"] - j[0]["seq"] for e in j] == [0, 1, 2, 3, 4]'
check "request log: a reused connection has one number" json 'j[3]["conn"] == j[4]["conn"] != j[2]["conn"]'
expect "request log (text)" "GET /bucket/base.sh?versionId=1 200 -
GET /bucket/nope 404 -
GET /bucket/empty - reset" "$(faultproxy_requests text | head -3 | cut -d' ' -f2-)"
faultproxy_control DELETE requests > /dev/null
expect "DELETE requests clears the log" "[]" "$(faultproxy_requests | tr -d ' \n')"
req GET /bucket/base.sh
req GET /bucket/base.sh -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=0123abcd'
req GET '/bucket/base.sh?X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=0123abcd'
BODY=$(faultproxy_requests)
check "request log: the credential scope" json '[e["credential"] for e in j] == [None,
	"AKIDEXAMPLE/20260101/eu-west-1/s3/aws4_request", "AKIDEXAMPLE/20260101/us-west-2/s3/aws4_request"]'
STATIC_PID=$FAULTPROXY_PID STATIC_PORT=$FAULTPROXY_PORT
emulators_stop
check "emulators_stop: server gone" gone "$STATIC_PID"
check "emulators_stop: port closed" refused "$STATIC_PORT"
expect "emulators_stop: vars cleared" "::" "${FAULTPROXY_PID:-}:${FAULTPROXY_PORT:-}:${FAULTPROXY_URL:-}"

# --- relay to an upstream ---------------------------------------------------
"$PY" "$here/faultproxy.py" --static "$T/s" --port 0 --parent-pid $$ --pidfile "$T/up.pid" \
	> "$T/up.out" 2> "$T/up.err" &
i=0
while ! grep -q '^READY' "$T/up.out" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
UP_PID=$(cat "$T/up.pid")
UP_URL=http://127.0.0.1:$(sed -n 's/^READY //p' "$T/up.out")
up() { curl -sS --noproxy '*' --max-time 5 --fail-with-body -X "$1" ${3:+--data "$3"} "$UP_URL/_faultproxy/$2"; }
faultproxy_start --upstream "$UP_URL"
BODY=$(faultproxy_control GET health)
check "upstream mode" json 'j["mode"] == "upstream"'
req GET /bucket/big.bin -H 'Host: bucket.s3.eu-west-1.amazonaws.com' -H 'x-amz-checksum-mode: ENABLED' \
	-H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/x, Signature=abc'
check "relayed: body" cmp "$T/body" "$T/s/bucket/big.bin"
expect "relayed: status and headers" "200 10000 $(sha256_b64 "$T/s/bucket/big.bin")" \
	"$CODE $(hdr Content-Length) $(hdr x-amz-checksum-sha256)"
BODY=$(up GET requests)
check "forwarded: Host unchanged" json 'j[-1]["host"] == "bucket.s3.eu-west-1.amazonaws.com" and j[-1]["path"] == "/bucket/big.bin"'
head -c 3000 /dev/urandom > "$T/payload"
req POST '/?Action=Test' --data-binary "@$T/payload"
BODY=$(up GET requests)
check "forwarded: the body" json 'j[-1]["method"] == "POST" and j[-1]["bytes"] == 3000 and j[-1]["path"] == "/?Action=Test"'
expect "upstream's answer relayed (405)" 405 "$CODE"
req PUT /bucket/x --data-binary "@$T/payload" -H 'Transfer-Encoding: chunked'
BODY=$(up GET requests)
check "forwarded: a chunked body" json 'j[-1]["method"] == "PUT" and j[-1]["bytes"] == 3000'
up POST faults '[{"action": "status", "status": 503, "code": "SlowDown"}]' > /dev/null
req GET /bucket/base.sh
expect "upstream's error relayed" 503 "$CODE"
check "upstream's error body relayed" grep -q '<Code>SlowDown</Code>' "$T/body"
up DELETE requests > /dev/null
fault '[{"action": "status", "status": 500}]'
req GET /bucket/base.sh
expect "a status fault never reaches the upstream" "500 []" "$CODE $(up GET requests | tr -d ' \n')"
fault '[{"action": "truncate", "bytes": 10}]'
req GET /bucket/big.bin
expect "truncate through the relay" "10000 10 18" "$(hdr Content-Length) $SIZE $CURL_RC"
kill "$UP_PID"
gone "$UP_PID"
UP_PID=''
req GET /bucket/base.sh
expect "upstream down: 502" 502 "$CODE"
faultproxy_requests text | grep -q ' GET /bucket/base.sh 502 -$'
check "upstream down: logged 502" [ $? -eq 0 ]
emulators_stop

# --- https ------------------------------------------------------------------
if command -v openssl > /dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/tls.key" -out "$T/tls.pem" 2> /dev/null
	faultproxy_start --static "$T/s" --tls-cert "$T/tls.pem" --tls-key "$T/tls.key"
	expect "--tls-cert: an https URL" "https://127.0.0.1:$FAULTPROXY_PORT" "$FAULTPROXY_URL"
	fault '[{"action": "status", "status": 503, "times": 1}]'
	req GET /bucket/base.sh --cacert "$T/tls.pem"
	a=$CODE
	req GET /bucket/base.sh --cacert "$T/tls.pem"
	expect "https: served, faults and control API too" "503 200 echo base layer" "$a $CODE $BODY"
	req GET /bucket/base.sh
	expect "https: an unknown CA is refused by the client" 60 "$CURL_RC"
	emulators_stop
else
	echo "skip https (no openssl command)"
fi

# --- startup errors ---------------------------------------------------------
for args in "--static $T/s --host 0.0.0.0" "" "--static $T/s --upstream http://127.0.0.1:1" \
	"--static $T/missing" "--upstream http://10.0.0.1:80" "--upstream http://example.com:80" \
	"--upstream https://127.0.0.1:443" "--static $T/s --tls-cert $T/c.pem" "--static $T/s --port x"; do
	# shellcheck disable=SC2086 # split on purpose
	timeout 10 "$PY" "$here/faultproxy.py" $args > "$T/out" 2> /dev/null
	expect "refused: ${args:-no mode}" "2 0" "$? $(wc -l < "$T/out")"
done
faultproxy_start --static "$T/missing" 2> "$T/err"
expect "faultproxy_start fails cleanly" "1 ''" "$? '${FAULTPROXY_PID:-}'"
check "faultproxy_start shows the error" grep -q 'missing: not a directory' "$T/err"

# --- READY line, SIGTERM, parent gone ---------------------------------------
check_ready faultproxy.py --static "$T/s"
child c.port 'faultproxy_start --static "$T/s"
	echo "$FAULTPROXY_PID" > "$T/c.pid"; echo "$FAULTPROXY_PORT" > "$T/c.port"; while :; do sleep 0.1; done'
kill -KILL "$CHILD"
wait "$CHILD"
check "killed test (-9): the proxy exits by itself" gone "$(cat "$T/c.pid")"
check "killed test (-9): port closed" refused "$(cat "$T/c.port")"

selftest_end
