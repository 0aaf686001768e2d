#!/bin/bash
# reference.sh - the benchmark's "whitepaper" contender: the bootstrap of AWS's
# "Managing Your AWS Infrastructure at Scale" as a user-data script, pointed
# at the loopback emulators.  curl gets an IMDSv2 token and the instance id,
# `aws ec2 describe-tags` reads the role and environment tags (one call per
# tag, as the whitepaper does), `aws s3 cp` copies the three layer scripts,
# then they run in order.  The AWS CLI gets its credentials from its own IMDS
# provider (AWS_EC2_METADATA_SERVICE_ENDPOINT), as on an instance.
#
#   BENCH_BUCKET=B BENCH_PREFIX=P BENCH_EC2=URL BENCH_S3=URL \
#   AWS_EC2_METADATA_SERVICE_ENDPOINT=URL bash reference.sh WORKDIR
set -euo pipefail
imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:?set AWS_EC2_METADATA_SERVICE_ENDPOINT}
# Never the real IMDS or AWS: the CLI falls back to 169.254.169.254 and
# amazonaws.com when these are missing, so anything but loopback stops here.
for url in "$imds" "$BENCH_EC2" "$BENCH_S3"; do
	case $url in
	http://127.0.0.1:*) ;;
	*) echo "reference.sh: $url is not http://127.0.0.1:PORT" >&2; exit 2 ;;
	esac
done
dir=$1

token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/latest/api/token")
instance_id=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/instance-id")
export AWS_DEFAULT_REGION
AWS_DEFAULT_REGION=$(curl -sf -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/placement/region")

tag() {
	aws ec2 describe-tags --endpoint-url "$BENCH_EC2" --output text --query 'Tags[0].Value' \
		--filters "Name=resource-id,Values=$instance_id" "Name=key,Values=$1"
}
role=$(tag role)
environment=$(tag environment)

mkdir -p "$dir"
for layer in base "roles/$role" "environments/$environment"; do
	aws s3 cp --quiet --endpoint-url "$BENCH_S3" \
		"s3://$BENCH_BUCKET/${BENCH_PREFIX}$layer/setup.sh" "$dir/${layer//\//-}.sh"
done
export INSTANCE_ID="$instance_id" ROLE="$role" ENVIRONMENT="$environment"
for layer in base "roles/$role" "environments/$environment"; do
	chmod 0700 "$dir/${layer//\//-}.sh"
	"$dir/${layer//\//-}.sh"
done
