#!/bin/sh
# floor.sh - the benchmark's "floor" contender: the least work that does the
# job.  Four curl processes, because each step needs the one before: the
# IMDSv2 token; then (one connection) the instance id, region, role and
# environment tags and the role's name; then the role's credentials; then
# (one connection) the three layer objects, signed by curl's --aws-sigv4.
# Then sh runs them in order, told the instance id, role and environment.
#
#   BENCH_BUCKET=B BENCH_PREFIX=P BENCH_S3=URL \
#   AWS_EC2_METADATA_SERVICE_ENDPOINT=URL sh floor.sh WORKDIR
set -eu
imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:?set AWS_EC2_METADATA_SERVICE_ENDPOINT}
for url in "$imds" "$BENCH_S3"; do
	case $url in
	http://127.0.0.1:*) ;;
	*) echo "floor.sh: $url is not http://127.0.0.1:PORT" >&2; exit 2 ;;
	esac
done
d=$1
mkdir -p "$d"
cd "$d"

token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token")
md=$imds/latest/meta-data
curl -sf --fail-early -H "X-aws-ec2-metadata-token: $token" \
	-o id.txt "$md/instance-id" -o region.txt "$md/placement/region" \
	-o role.txt "$md/tags/instance/role" -o environment.txt "$md/tags/instance/environment" \
	-o profile.txt "$md/iam/security-credentials/"
# IMDS answers without a final newline: read then fails, but has read the value.
read -r profile < profile.txt || :
curl -sf -H "X-aws-ec2-metadata-token: $token" -o creds.json "$md/iam/security-credentials/$profile"
# IMDS pretty-prints the credentials: one "Key": "value", a line.  Parsed by
# the shell itself: the floor starts no process it can do without.
while IFS= read -r line; do
	value=${line#*: \"}
	value=${value%\"*}
	case $line in
	*'"AccessKeyId"'*) key_id=$value ;;
	*'"SecretAccessKey"'*) secret=$value ;;
	*'"Token"'*) session=$value ;;
	esac
done < creds.json
read -r instance_id < id.txt || :
read -r region < region.txt || :
read -r role < role.txt || :
read -r environment < environment.txt || :
# S3 wants the payload's hash in a header; curl 7.88 signs but does not send it.
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3=$BENCH_S3/$BENCH_BUCKET/${BENCH_PREFIX%/}
curl -sf --fail-early --aws-sigv4 "aws:amz:$region:s3" --user "$key_id:$secret" \
	-H "x-amz-security-token: $session" -H "x-amz-content-sha256: $empty_sha256" \
	-o base.sh "$s3/base/setup.sh" -o role.sh "$s3/roles/$role/setup.sh" \
	-o environment.sh "$s3/environments/$environment/setup.sh"
# The scripts learn who they run on, as bootlace's do.
export INSTANCE_ID="$instance_id" ROLE="$role" ENVIRONMENT="$environment"
sh base.sh
sh role.sh
sh environment.sh
