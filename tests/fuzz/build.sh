#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz-*.c) into build/fuzz/ (or
# $BUILD) with clang, ASan and UBSan, using the Makefile's own flags
# (tests/fuzz/fuzz.mk).  Arguments go to make (-j2, V=1).
# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev
# or the package of the clang version installed).
set -eu
cd "$(dirname "$0")/../.."
cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "tests/fuzz/build.sh: $cc not found: install clang and its libFuzzer runtime" \
		"(libclang-rt-dev), or set FUZZ_CC" >&2
	exit 1
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; return (int)(n & 0); }' \
	>"$probe/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$probe/probe" "$probe/probe.c" \
	2>"$probe/err"; then
	cat "$probe/err" >&2
	echo "tests/fuzz/build.sh: $cc cannot link a libFuzzer target: install its libFuzzer" \
		"runtime (Debian: libclang-rt-\$(version)-dev)" >&2
	exit 1
fi
make --no-print-directory -f Makefile -f tests/fuzz/fuzz.mk "BUILD=${BUILD:-build/fuzz}" \
	CC="$cc" SANITIZE=1 CFLAGS="-g -fsanitize=fuzzer-no-link" "$@" fuzz-build
