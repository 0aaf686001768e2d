#!/bin/sh
# libcurl-http.sh - the benchmark's second libcurl: Debian's own libcurl
# source, at the version installed, built for HTTP and HTTPS only (OpenSSL,
# IPv6, proxies, the threaded resolver), as a shared libcurl.so.4 that
# bootlace and the contenders' curl load in place of Debian's through
# LD_LIBRARY_PATH (run.sh --libcurl http-only).
#
# Why: Debian's libcurl4 links some 30 libraries bootlace never uses
# (GnuTLS through librtmp, Kerberos, LDAP, SSH, IDN, PSL, HTTP/2, brotli,
# zstd), and merely loading them costs ~4 MiB of RSS in every process that
# links libcurl.  A distribution's minimal libcurl (Fedora's and Amazon
# Linux 2023's libcurl-minimal) or one built with an AMI is closer to this.
#
#   sh tests/bench/libcurl-http.sh DIR    prints DIR/lib, where libcurl.so.4 is
#
# The source comes from Debian's archive through apt-get source with a
# private package list under DIR (the system's apt configuration is not
# touched): the .dsc is checked against the signed Sources index, and
# Debian's patches (its security fixes among them) are applied.  The build
# is kept in DIR and redone only when the installed version changes.
set -eu
[ $# -eq 1 ] || { echo "usage: sh $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
sh "$here/../deps.sh" dpkg-dev libssl-dev >&2

version=$(dpkg-query -W -f '${source:Version}' libcurl4 2>/dev/null) ||
	{ echo "libcurl-http.sh: Debian's libcurl4 is not installed" >&2; exit 1; }
# HTTP and HTTPS with what an instance needs of them, nothing else.
flags="--disable-dependency-tracking --enable-shared --disable-static
	--enable-versioned-symbols --with-openssl --enable-ipv6 --enable-threaded-resolver
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt
	--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp
	--disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap
	--disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-manual
	--disable-docs --disable-ntlm --disable-ntlm-wb --disable-tls-srp --disable-websockets
	--disable-unix-sockets --without-libpsl --without-brotli --without-zstd
	--without-nghttp2 --without-libidn2 --without-librtmp --without-libssh2
	--without-libssh --without-gssapi --without-zlib"
stamp="$version $(echo "$flags" | tr -s ' \t\n' ' ')"
if [ -f "$dir/lib/libcurl.so.4" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$dir/lib"
	exit 0
fi
rm -rf "${dir:?}/src" "${dir:?}/lib" "${dir:?}/stamp"
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/src" "$dir/lib"
# Where the system's own packages come from, as source.
for suite in bookworm bookworm-updates; do
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main"
done >"$dir/apt/sources.list"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main" \
	>>"$dir/apt/sources.list"
apt_private() {
	apt-get -q -o Dir::Etc::SourceList="$dir/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$dir/apt/lists" -o Dir::Cache="$dir/apt/cache" \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
echo "libcurl-http.sh: fetching Debian's curl $version source" >&2
if ! { apt_private update && (cd "$dir/src" && apt_private source --only-source "curl=$version"); } \
	>"$dir/apt.log" 2>&1; then
	tail -n 20 "$dir/apt.log" >&2
	echo "libcurl-http.sh: apt-get source curl=$version failed (log: $dir/apt.log)" >&2
	exit 1
fi
src=$(find "$dir/src" -mindepth 1 -maxdepth 1 -type d -name 'curl-*' | head -n 1)
[ -n "$src" ] || { echo "libcurl-http.sh: no source tree in $dir/src" >&2; exit 1; }
# Debian's last two patches turn the tree into its GnuTLS and NSS flavours;
# its OpenSSL libcurl4 is built without them.
for p in 99_nss.patch 90_gnutls.patch; do
	[ -f "$src/debian/patches/$p" ] && patch -s -R -p1 -d "$src" <"$src/debian/patches/$p"
done
echo "libcurl-http.sh: building libcurl (HTTP and HTTPS only)" >&2
# shellcheck disable=SC2086 # $flags is a list of words
(cd "$src" && ./configure $flags && make -j2 -C lib) >"$dir/build.log" 2>&1 ||
	{ tail -n 30 "$dir/build.log" >&2; echo "libcurl-http.sh: the build failed (log: $dir/build.log)" >&2; exit 1; }
cp -L "$src/lib/.libs/libcurl.so.4" "$dir/lib/libcurl.so.4"
echo "$stamp" >"$dir/stamp"
echo "$dir/lib"
