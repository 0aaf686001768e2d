#!/bin/sh
# run.sh - `make bench` (issue #7): bootlace's first boot against the
# whitepaper's AWS CLI script (reference.sh) and the least a job like this
# can cost (floor.sh), side by side in one emulated world; then the daemon,
# and fleet boot storms against a throttled S3.  bench.py measures and
# writes build/bench/LIBCURL/results.md and results.json; docs/benchmarks.md says
# what every figure means.
#
#   BOOTLACE=$PWD/build/bootlace sh tests/bench/run.sh [--runs N] [--storm N,...]
#       [--rate R] [--libcurl system|http-only] [--quick]
#
#   --runs N      first boots of each contender (default 10; figures are medians)
#   --storm N,... fleet sizes of the boot storms (default 100,1000; "" = none)
#   --rate R      S3 GET/s the fault proxy lets through in a storm (default 50)
#   --libcurl L   the libcurl bootlace and every curl load: Debian's
#                 (system, the default), or Debian's source built for HTTP(S)
#                 only (http-only, libcurl-http.sh); results in build/bench/L/
#   --quick       a smoke run: 5 runs, a 100-agent storm, 10 s of daemon idling
#
# The world (moto with authentication on behind the fault proxy, and the IMDS
# emulator; tests/emulators/aws.sh) binds 127.0.0.1 only and is stopped by
# PID on exit, pass or fail.  Exit status 1 when a contender fails to do the
# work or a storm agent does not converge; never because of a time.
set -eu
usage() {
	sed -n '9,18s/^#//p' "$0" >&2
	exit 2
}
runs=10 storm=100,1000 rate=50 idle=60 libcurl=system
while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	--storm) [ $# -ge 2 ] || usage; storm=$2; shift 2 ;;
	--rate) [ $# -ge 2 ] || usage; rate=$2; shift 2 ;;
	--libcurl) [ $# -ge 2 ] || usage; libcurl=$2; shift 2 ;;
	--quick) runs=5 storm=100 idle=10; shift ;;
	*) usage ;;
	esac
done
: "${BOOTLACE:?set BOOTLACE to the bootlace binary}"
[ -x "$BOOTLACE" ] || { echo "run.sh: $BOOTLACE is not executable (make -j2 first)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $libcurl in
system) libdir="" ;;
http-only) libdir=$(sh "$here/libcurl-http.sh" "$root/build/bench/libcurl-http") ;;
*) usage ;;
esac

# moto for python3 and the AWS CLI, as .ci/run finds them (pyenv on the CI
# image).  The CLI is run by its real path, not through pyenv's shim, which
# would add a bash and a pyenv start-up to every call of the reference.
pyenv_shims=${PYENV_ROOT:-$HOME/.pyenv}/shims
if ! python3 -c 'import moto.server, boto3' 2>/dev/null && [ -x "$pyenv_shims/python3" ]; then
	PATH="$pyenv_shims:$PATH"
fi
aws=$(command -v aws) || { echo "run.sh: the AWS CLI (aws) is not installed; the reference needs it" >&2; exit 1; }
case $aws in
"$pyenv_shims"/*)	# the version pyenv picks: beside its python3
	aws=$(python3 -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "aws"))') ;;
esac
[ -x "$aws" ] || { echo "run.sh: $aws is not executable" >&2; exit 1; }

# Safety, as tests/integration/lib.sh: no credentials, endpoint or proxy is
# inherited; bench.py gives each contender its environment from scratch.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE \
	AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_EC2 AWS_EC2_METADATA_SERVICE_ENDPOINT \
	http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_EC2_METADATA_DISABLED=true

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bootlace-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The layers: trivial scripts that say they ran (bench.py checks it).
for layer in base roles/web environments/production; do
	mkdir -p "$tmp/layers/$layer"
	for event in setup configure; do
		printf '#!/bin/sh\necho "bench-layer %s/%s.sh ran"\n' "$layer" "$event" \
			> "$tmp/layers/$layer/$event.sh"
	done
done

${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$tmp/runtree" "$here/runtree.c"

. "$root/tests/emulators/lib.sh"
. "$root/tests/emulators/aws.sh"
echo "bench: starting the emulated world (moto, fault proxy, IMDS)"
aws_world_start "$tmp/layers" || exit 1
mkdir -p "$tmp/run"
python3 "$here/bench.py" --bootlace "$BOOTLACE" --aws "$aws" --runtree "$tmp/runtree" --tmp "$tmp/run" \
	--out "$root/build/bench/$libcurl" --libcurl "$libcurl" --ld-library-path "$libdir" --runs "$runs" --storm "$storm" --rate "$rate" --idle "$idle"
