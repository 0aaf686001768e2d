#!/bin/sh
# test-aws-world.sh - self-test of the emulated AWS world (world.py, aws.sh):
# moto really authenticates and authorizes (wrong secret, wrong or missing
# session token, objects outside the example policy's prefix, writes), the
# role's credentials come from the IMDS emulator and work through the fault
# proxy for S3 GetObject and EC2 DescribeTags (a form POST), world changes
# mid-test (put, delete, rotated credentials), world.py's options, the one
# line without moto, and cleanup by PID (stop, failing test, SIGKILL).
# The client is boto3 with the role's credentials, and once the SDK's own
# IMDS credential provider pointed at the loopback emulator.  Everything
# runs on 127.0.0.1 under `timeout 110`.  Last line: "aws-world: N passed,
# N failed"; exit status non-zero on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SELFTEST_NAME=aws-world SELFTEST_TIMEOUT=110
. "$here/selftest.sh"
. "$here/lib.sh"
. "$here/aws.sh"
PY=${AWS_PYTHON:-python3}
T=$(mktemp -d "${TMPDIR:-/tmp}/aws-selftest.XXXXXX")
trap 'rm -rf "$T"' EXIT	# set before aws_world_start: aws.sh keeps it and adds its stop
motos=''

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# imds PATH: GET from the IMDS emulator with a fresh IMDSv2 token -> BODY, CODE
imds() {
	_tok=$(curl -s --noproxy '*' --max-time 5 -X PUT \
		-H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$IMDS_URL/latest/api/token")
	CODE=$(curl -s --noproxy '*' --max-time 5 -o "$T/imds" -w '%{http_code}' \
		-H "X-aws-ec2-metadata-token: $_tok" "$IMDS_URL$1")
	BODY=$(cat "$T/imds")
}
# role_creds: AK, SK and TOKEN from the IMDS emulator, as an instance gets them.
role_creds() {
	imds "/latest/meta-data/iam/security-credentials/$WORLD_ROLE"
	cp "$T/imds" "$T/creds.json"
	eval "$("$PY" -c 'import json,shlex,sys; c=json.load(open(sys.argv[1]))
print("AK=%s SK=%s TOKEN=%s" % tuple(shlex.quote(c[k]) for k in ("AccessKeyId", "SecretAccessKey", "Token")))' "$T/creds.json")"
}

# aws SERVICE OPERATION PARAMS-JSON: one boto3 call to WORLD_S3_ENDPOINT or
# WORLD_EC2_ENDPOINT signed with AK/SK/TOKEN (AK=imds: the SDK's own IMDS credential provider,
# pointed at the loopback emulator).  OUT="STATUS CODE" ("200 -" on success);
# the response in $T/resp (GetObject: the body).  Op "get_query" instead
# sends DescribeTags as a signed GET Query request.
cat > "$T/aws.py" << 'EOF'
import json, os, sys, urllib.request
import boto3, botocore.auth, botocore.awsrequest, botocore.config, botocore.exceptions
svc, op, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
e = os.environ
keys = {} if e["AK"] == "imds" else {"aws_access_key_id": e["AK"], "aws_secret_access_key": e["SK"],
                                     "aws_session_token": e["TOKEN"] or None}
session = boto3.session.Session(region_name=e["WORLD_REGION"], **keys)
creds = session.get_credentials()
if e["AK"] == "imds" and creds.method != "iam-role":
    sys.exit("credentials from %s, not from IMDS" % creds.method)
if op == "get_query":
    req = botocore.awsrequest.AWSRequest("GET", e["WORLD_EC2_ENDPOINT"] + "/", params=params)
    botocore.auth.SigV4Auth(creds, "ec2", e["WORLD_REGION"]).add_auth(req)
    p = req.prepare()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        print(opener.open(urllib.request.Request(p.url, headers=dict(p.headers)), timeout=30).status, "-")
    except urllib.error.HTTPError as x:
        code = x.read().decode().split("<Code>")[1].split("<")[0]
        print(x.code, code)
    sys.exit(0)
c = session.client(svc, endpoint_url=e["WORLD_%s_ENDPOINT" % svc.upper()], config=botocore.config.Config(
    retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}))
try:
    r = getattr(c, op)(**params)
except botocore.exceptions.ClientError as x:
    print(x.response["ResponseMetadata"]["HTTPStatusCode"], x.response["Error"]["Code"])
    sys.exit(0)
body = r.pop("Body", None)
with open(e["RESP"], "wb") as f:
    f.write(body.read() if body else json.dumps(r, default=str).encode())
print(r["ResponseMetadata"]["HTTPStatusCode"], "-")
EOF
aws() {
	rm -f "$T/resp"
	case $AK in
	imds)	case $IMDS_URL in http://127.0.0.1:*) ;; *) echo "IMDS_URL not on loopback"; exit 1 ;; esac
		OUT=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
			-u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u AWS_CONTAINER_CREDENTIALS_FULL_URI \
			-u AWS_WEB_IDENTITY_TOKEN_FILE -u AWS_PROFILE AWS_EC2_METADATA_DISABLED=false \
			AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS_URL" AWS_CONFIG_FILE=/dev/null \
			AWS_SHARED_CREDENTIALS_FILE=/dev/null AK=imds SK= TOKEN= RESP="$T/resp" \
			"$PY" "$T/aws.py" "$@" 2>&1) ;;
	*)	OUT=$(AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
			AK=$AK SK=$SK TOKEN=$TOKEN RESP="$T/resp" "$PY" "$T/aws.py" "$@" 2>&1) ;;
	esac
}
get() { aws s3 get_object "{\"Bucket\": \"$WORLD_BUCKET\", \"Key\": \"$1\"}"; }
tags_of() { aws ec2 describe_tags "{\"Filters\": [{\"Name\": \"resource-id\", \"Values\": [\"$WORLD_INSTANCE_ID\"]}]}"; }
proxied() { # PATTERN: the fault proxy saw a request matching PATTERN
	faultproxy_requests text | grep -q -- "$1"
}

mkdir -p "$T/layers/base" "$T/layers/roles/web" "$T/layers/environments/production"
for f in base/setup.sh roles/web/setup.sh environments/production/setup.sh; do
	printf '#!/bin/sh\necho "%s"\n' "$f" > "$T/layers/$f"
done

# --- the world ----------------------------------------------------------------
t0=$(now_ms)
if ! aws_world_start "$T/layers"; then
	bad "aws_world_start" "see above"
	selftest_end
	exit 1
fi
echo "     aws_world_start took $(($(now_ms) - t0)) ms"
motos="$motos $MOTO_PID"
check "MOTO_URL on loopback" expr "$MOTO_URL" : 'http://127\.0\.0\.1:[1-9][0-9]*$'
check "MOTO_PID is world.py serve" sh -c 'tr "\0" " " < "/proc/$1/cmdline" | grep -q "world.py serve"' - "$MOTO_PID"
expect "S3 and EC2 endpoints: the fault proxy" "$FAULTPROXY_URL $FAULTPROXY_URL" \
	"$WORLD_S3_ENDPOINT $WORLD_EC2_ENDPOINT"
check "... not moto" [ "$FAULTPROXY_URL" != "$MOTO_URL" ]
check "instance id" expr "$WORLD_INSTANCE_ID" : 'i-[0-9a-f]\{17\}$'
expect "defaults" "bootlace-test-bucket bootstrap/ eu-west-1 bootlace-instance" \
	"$WORLD_BUCKET $WORLD_PREFIX $WORLD_REGION $WORLD_ROLE"
expect "WORLD_DATA is 0600" 600 "$(stat -c %a "$WORLD_DATA")"
# shellcheck disable=SC2154 # aws.sh's private directory, which this tests
world_dir=$_aws_tmp
expect "admin keys file is 0600" 600 "$(stat -c %a "$world_dir/world.json")"
admin_secret=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"]["SecretAccessKey"])' \
	"$world_dir/world.json")
check "admin secret in neither the environment nor the IMDS data" \
	sh -c '[ -n "$1" ] && ! env | grep -qF -- "$1" && ! grep -qF -- "$1" "$2"' - "$admin_secret" "$WORLD_DATA"
check "no AWS keys in the environment" sh -c '! env | grep -Eq "^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)="'

# --- what IMDS hands the instance ---------------------------------------------
imds /latest/meta-data/instance-id
expect "IMDS instance-id" "$WORLD_INSTANCE_ID" "$BODY"
imds /latest/meta-data/placement/availability-zone
expect "IMDS availability zone" "${WORLD_REGION}a" "$BODY"
imds /latest/meta-data/tags/instance/role
a=$BODY
imds /latest/meta-data/tags/instance/environment
expect "IMDS tags" "web production" "$a $BODY"
imds /latest/user-data
expect "no user data" 404 "$CODE"
imds /latest/meta-data/iam/security-credentials/
expect "IMDS role" "$WORLD_ROLE" "$BODY"
role_creds
check "credentials: AssumeRole keys, Expiration in about 1 h" json \
	'j["Code"] == "Success" and j["AccessKeyId"].startswith("ASIA") and len(j["Token"]) > 100 and
	time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3000)) < j["Expiration"] <
	time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3700))' "$T/creds.json"

# --- S3 with the role's credentials --------------------------------------------
get "${WORLD_PREFIX}base/setup.sh"
expect "GetObject of a layer" "200 -" "$OUT"
check "the layer's bytes" cmp -s "$T/resp" "$T/layers/base/setup.sh"
check "GetObject went through the fault proxy" proxied "GET /$WORLD_BUCKET/${WORLD_PREFIX}base/setup.sh 200"
AK=imds get "${WORLD_PREFIX}roles/web/setup.sh"
expect "the SDK's IMDS credential provider: GetObject" "200 -" "$OUT"
check "... the layer's bytes" cmp -s "$T/resp" "$T/layers/roles/web/setup.sh"
SK=wrong${SK#?????} get "${WORLD_PREFIX}base/setup.sh"
expect "wrong secret key" "403 SignatureDoesNotMatch" "$OUT"
TOKEN=${TOKEN%?????}wrong get "${WORLD_PREFIX}base/setup.sh"
expect "wrong session token" "400 InvalidToken" "$OUT"
TOKEN='' get "${WORLD_PREFIX}base/setup.sh"
expect "no session token" "403 InvalidAccessKeyId" "$OUT"
get "${WORLD_PREFIX}roles/db/setup.sh"
expect "missing key under the prefix: 404" "404 NoSuchKey" "$OUT"
printf 'not for instances\n' > "$T/outside"
world_put "outside/secret.sh" "$T/outside"
get "outside/secret.sh"
expect "object outside the policy's prefix: 403" "403 AccessDenied" "$OUT"
aws s3 put_object "{\"Bucket\": \"$WORLD_BUCKET\", \"Key\": \"${WORLD_PREFIX}x.sh\", \"Body\": \"x\"}"
expect "PutObject by the role: 403" "403 AccessDenied" "$OUT"

# --- world changes --------------------------------------------------------------
printf '#!/bin/sh\necho new\n' > "$T/new.sh"
world_put "${WORLD_PREFIX}roles/db/setup.sh" "$T/new.sh"
get "${WORLD_PREFIX}roles/db/setup.sh"
a=$OUT
check "world_put: the new object" cmp -s "$T/resp" "$T/new.sh"
world_delete "${WORLD_PREFIX}roles/db/setup.sh"
get "${WORLD_PREFIX}roles/db/setup.sh"
expect "world_put, then world_delete" "200 - 404 NoSuchKey" "$a $OUT"
world_put "${WORLD_PREFIX}a+b.sh" "$T/new.sh" 2> "$T/err"
expect "world_put refuses a key moto cannot verify" "1 1" "$? $(grep -c 'a+b.sh' "$T/err")"
old=$AK
world_rotate_credentials
role_creds
check "world_rotate_credentials: IMDS serves new keys" [ "$AK" != "$old" ]
check "... and WORLD_DATA has them" json "j['credentials']['AccessKeyId'] == '$AK'" "$WORLD_DATA"
get "${WORLD_PREFIX}environments/production/setup.sh"
expect "rotated credentials work" "200 -" "$OUT"

# --- EC2 ----------------------------------------------------------------------
tags_of
expect "DescribeTags (form POST)" "200 -" "$OUT"
check "... returns the instance's tags" json \
	'sorted((t["Key"], t["Value"], t["ResourceId"]) for t in j["Tags"]) ==
	[("environment", "production", "'"$WORLD_INSTANCE_ID"'"), ("role", "web", "'"$WORLD_INSTANCE_ID"'")]' "$T/resp"
check "DescribeTags went through the fault proxy" proxied "POST / 200"
SK=wrong${SK#?????} tags_of
expect "DescribeTags, wrong secret key" "401 AuthFailure" "$OUT"
aws ec2 describe_instances '{}'
expect "DescribeInstances is not granted" 403 "${OUT%% *}"
aws ec2 get_query "{\"Action\": \"DescribeTags\", \"Version\": \"2016-11-15\",
	\"Filter.1.Name\": \"resource-id\", \"Filter.1.Value.1\": \"$WORLD_INSTANCE_ID\"}"
expect "moto refuses a signed GET Query request (bootlace POSTs)" "401 AuthFailure" "$OUT"

# --- stop -----------------------------------------------------------------------
p_moto=$MOTO_PID p_imds=$IMDS_PID p_proxy=$FAULTPROXY_PID u_moto=$MOTO_URL u_proxy=$WORLD_S3_ENDPOINT
aws_world_stop
check "aws_world_stop: moto, IMDS and proxy gone" gone "$p_moto" "$p_imds" "$p_proxy"
check "aws_world_stop: moto's port closed" refused "${u_moto##*:}"
check "aws_world_stop: proxy's port closed" refused "${u_proxy##*:}"
check "aws_world_stop: private files removed" [ ! -e "$world_dir" ]
expect "aws_world_stop: variables cleared" "::" "${MOTO_PID:-}:${WORLD_BUCKET:-}:${WORLD_DATA:-}"
check "aws_world_stop again: no error" aws_world_stop

# --- options: another region, bucket, prefix; tags only from DescribeTags -------
if aws_world_start "$T/layers" --region us-east-1 --bucket second-bucket --prefix '' \
	--tags '{"role": "db"}' --imds-tags false; then
	motos="$motos $MOTO_PID"
	role_creds
	expect "us-east-1, empty prefix" "us-east-1 second-bucket " "$WORLD_REGION $WORLD_BUCKET $WORLD_PREFIX"
	get "base/setup.sh"
	expect "GetObject at the bucket's root" "200 -" "$OUT"
	imds /latest/meta-data/tags/instance/
	expect "--imds-tags false: no tags in IMDS" 404 "$CODE"
	tags_of
	check "--tags: DescribeTags has them" json '[(t["Key"], t["Value"]) for t in j["Tags"]] == [("role", "db")]' "$T/resp"
	aws_world_stop
else
	bad "aws_world_start with options" "see above"
fi

# --- no moto ---------------------------------------------------------------------
printf '#!/bin/sh\nexec %s -S "$@"\n' "$(command -v "$PY")" > "$T/nosite"
chmod +x "$T/nosite"
AWS_PYTHON=$T/nosite aws_world_start "$T/layers" > "$T/out" 2> "$T/err"
expect "without moto: status 1, nothing on stdout" "1 0" "$? $(wc -c < "$T/out")"
expect "without moto: one line" 1 "$(wc -l < "$T/err")"
check "... naming moto_server and how to install it" \
	grep -q '^moto_server not found: .*install with: pip install' "$T/err"

# --- cleanup when a test fails or is killed ---------------------------------------
child a.pids 'trap "echo old > \"$T/a.trap\"" EXIT; aws_world_start "$T/layers"
	echo "$MOTO_PID $IMDS_PID $FAULTPROXY_PID" > "$T/a.pids"; exit 3'
wait "$CHILD"
expect "failing test: its exit status kept" 3 "$?"
read -r a_moto a_imds a_proxy < "$T/a.pids"
check "failing test: moto, IMDS and proxy gone" gone "$a_moto" "$a_imds" "$a_proxy"
check "failing test: existing EXIT trap still ran" grep -qx old "$T/a.trap"
check "failing test: private world files removed" sh -c '! ls -d "$1"/aws-world.* 2> /dev/null' - "$T"
child b.pids 'aws_world_start "$T/layers"; echo "$MOTO_PID $IMDS_PID $FAULTPROXY_PID" > "$T/b.pids"
	while :; do sleep 0.1; done'
kill -KILL "$CHILD"
{ wait "$CHILD"; } 2> /dev/null
read -r b_moto b_imds b_proxy < "$T/b.pids"
check "killed test (-9): moto, IMDS and proxy exit by themselves" gone "$b_moto" "$b_imds" "$b_proxy"
# shellcheck disable=SC2086 # a list of pids
check "no moto_server of ours left running" gone $motos "$a_moto" "$b_moto"

selftest_end
