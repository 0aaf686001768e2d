#!/bin/sh
# The packages as built by make deb and make rpm (build/packages/), checked
# without installing them: dpkg-deb, rpm and rpm2cpio only read them.
#  - every entry of each package with its mode and owner, against the list
#    worked out from the release tarball they were built from (so the
#    examples are whatever that tarball holds): the binary in /usr/sbin,
#    the config a conffile / %config(noreplace) in /etc/bootlace, the units
#    in systemd's unit directory, the man pages, /var/lib/bootlace 0700;
#  - the maintainer scripts: bootlace.service enabled on install, nothing
#    ever started or restarted by the package, the converge timer left off;
#  - the unpacked binary is this VERSION, the units run it from /usr/sbin,
#    the packaged man pages are lint-clean for mandoc and groff;
#  - lintian on the .changes and on the source (0 errors, 0 warnings),
#    rpmlint with rpm/rpmlint.toml, and the autopkgtest (debian/tests/demo)
#    against the binary unpacked from the .deb.
# Usage: sh tests/packaging/check-packages.sh  (after make deb and make rpm;
# PKGDIR names another directory of packages)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
version=$(sed -n 's/^VERSION *:= *//p' Makefile)
pkgdir=${PKGDIR:-build/packages}
deb=$pkgdir/bootlace_${version}_$(dpkg --print-architecture).deb
changes=$pkgdir/bootlace_${version}_$(dpkg --print-architecture).changes
tarball=$pkgdir/bootlace-$version.tar.gz
set -- "$pkgdir"/bootlace-"$version"-*.rpm
rpm=$1
for f in "$deb" "$changes" "$rpm" "$tarball"; do
	[ -f "$f" ] || { echo "packages: no $f (make deb rpm first)" >&2; exit 1; }
done
[ $# -eq 1 ] || { echo "packages: more than one rpm of $version in $pkgdir: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bootlace-pkg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
bad() {
	echo "packages: $*" >&2
	failed=1
}

tar -xzf "$tarball" -C "$tmp"
src=$tmp/bootlace-$version

# want MODE PATH: one expected entry (dirs end in /), to $tmp/want.
want() {
	echo "$1 root/root $2" >>"$tmp/want"
}

# want_examples DOCDIR: the tarball's examples/ tree under DOCDIR, modes
# as in the tarball (neither packaging tool touches them).
want_examples() {
	(cd "$src" && find examples -mindepth 1 | sort) | while read -r p; do
		case $(stat -c %A "$src/$p") in
		d*) want drwxr-xr-x "$1/$p/" ;;
		*) want "$(stat -c %A "$src/$p")" "$1/$p" ;;
		esac
	done
	want drwxr-xr-x "$1/examples/"
}

# compare WHAT ACTUAL: the sorted expected list against ACTUAL's.
compare() {
	sort -u "$tmp/want" | sort -k3 >"$tmp/want.sorted"
	sort -k3 "$2" >"$tmp/got.sorted"
	if ! diff -u "$tmp/want.sorted" "$tmp/got.sorted" >"$tmp/diff"; then
		bad "$1 differs from the expected list (- expected, + packaged):
$(cat "$tmp/diff")"
	fi
	rm -f "$tmp/want"
}

# expect_units DIR: the three units, each service running /usr/sbin/bootlace.
expect_units() {
	for u in bootlace.service bootlace-converge.service bootlace-converge.timer; do
		[ -f "$1/$u" ] || { bad "no $u in $1"; continue; }
		if grep -n '@[A-Z_]*@' "$1/$u" >&2; then bad "$1/$u: placeholder left"; fi
	done
	for u in bootlace.service bootlace-converge.service; do
		grep -q '^ExecStart=/usr/sbin/bootlace ' "$1/$u" ||
			bad "$1/$u: ExecStart= does not run /usr/sbin/bootlace"
	done
}

# expect_binary FILE: the packaged binary is this version.
expect_binary() {
	v=$("$1" --version 2>&1) || true
	[ "$v" = "bootlace $version" ] || bad "$1 --version says '$v', expected 'bootlace $version'"
}

# expect_man DIR: both pages, lint-clean for mandoc and for groff (via man).
expect_man() {
	for page in man8/bootlace.8.gz man5/bootlace.yaml.5.gz; do
		out=$(mandoc -Tlint "$1/$page" 2>&1) || true
		[ -z "$out" ] || bad "mandoc -Tlint $page:
$out"
		out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$1/$page" 2>&1 >/dev/null) || true
		[ -z "$out" ] || bad "man --warnings $page:
$out"
	done
}

echo "== .deb: $deb"
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null) || true
unitdir=${unitdir:-/usr/lib/systemd/system}
{
	want -rwxr-xr-x /usr/sbin/bootlace
	want -rw-r--r-- /etc/bootlace/bootlace.yaml
	want drwxr-xr-x /etc/bootlace/conf.d/
	for u in bootlace.service bootlace-converge.service bootlace-converge.timer; do
		want -rw-r--r-- "$unitdir/$u"
	done
	want -rw-r--r-- /usr/share/man/man8/bootlace.8.gz
	want -rw-r--r-- /usr/share/man/man5/bootlace.yaml.5.gz
	for f in README.md.gz changelog.gz copyright; do
		want -rw-r--r-- "/usr/share/doc/bootlace/$f"
	done
	want_examples /usr/share/doc/bootlace
	want -rw-r--r-- /usr/share/lintian/overrides/bootlace
	want drwx------ /var/lib/bootlace/
}
# Every parent directory of what is listed so far, 0755.
sed -n 's|^[^ ]* [^ ]* ||p' "$tmp/want" >"$tmp/paths"
while read -r p; do
	p=${p%/}
	while p=${p%/*}; [ -n "$p" ]; do want drwxr-xr-x "$p/"; done
done <"$tmp/paths"
want drwxr-xr-x /
dpkg-deb -c "$deb" | awk '{ p = $6; sub(/^\./, "", p); print $1, $2, p }' >"$tmp/deb.list"
compare "dpkg-deb -c $deb" "$tmp/deb.list"

dpkg-deb -I "$deb" >"$tmp/deb.info"
for field in "Package: bootlace" "Version: $version" "Depends: .*libcurl4" \
	"Depends: .*libsystemd0" "Recommends: ca-certificates"; do
	grep -q "^ $field" "$tmp/deb.info" || bad "dpkg-deb -I: no '$field'"
done
mkdir "$tmp/deb.ctl"
dpkg-deb -e "$deb" "$tmp/deb.ctl"
[ "$(cat "$tmp/deb.ctl/conffiles")" = /etc/bootlace/bootlace.yaml ] ||
	bad "conffiles: $(cat "$tmp/deb.ctl/conffiles"), expected /etc/bootlace/bootlace.yaml alone"
grep -qF "deb-systemd-helper enable 'bootlace.service'" "$tmp/deb.ctl/postinst" ||
	bad "postinst does not enable bootlace.service"
# dh_installsystemd --no-enable's snippet: re-enables the timer only where
# the administrator had enabled it.
grep -qF "deb-systemd-helper debian-installed 'bootlace-converge.timer'" "$tmp/deb.ctl/postinst" ||
	bad "postinst does not leave bootlace-converge.timer disabled"
for s in preinst postinst prerm postrm; do
	[ -f "$tmp/deb.ctl/$s" ] || continue
	if grep -nE 'deb-systemd-invoke +(start|restart|try-restart|reload)|systemctl .*(start|restart)' \
		"$tmp/deb.ctl/$s" >&2; then
		bad "$s starts or restarts a unit"
	fi
done
grep -qF 'deb-systemd-invoke stop bootlace.service bootlace-converge.timer' "$tmp/deb.ctl/prerm" ||
	bad "prerm does not stop the units on removal"
grep -qF 'rm -rf /var/lib/bootlace' "$tmp/deb.ctl/postrm" ||
	bad "postrm does not remove /var/lib/bootlace on purge"

dpkg -x "$deb" "$tmp/deb.root"
expect_binary "$tmp/deb.root/usr/sbin/bootlace"
expect_units "$tmp/deb.root$unitdir"
expect_man "$tmp/deb.root/usr/share/man"
cmp -s "$tmp/deb.root/etc/bootlace/bootlace.yaml" "$src/examples/bootlace.yaml" ||
	bad "/etc/bootlace/bootlace.yaml is not examples/bootlace.yaml"

echo "== lintian: $changes"
lintian --allow-root --fail-on error,warning "$changes" || bad "lintian $changes"
(cd "$tmp" && dpkg-source -b "bootlace-$version" >/dev/null) || bad "dpkg-source -b"
lintian --allow-root --fail-on error,warning "$tmp/bootlace_$version.dsc" ||
	bad "lintian on the source package"

echo "== autopkgtest: debian/tests/demo against the unpacked .deb"
(cd "$src" && BOOTLACE="$tmp/deb.root/usr/sbin/bootlace" sh debian/tests/demo >"$tmp/demo.out" 2>&1) ||
	bad "debian/tests/demo:
$(cat "$tmp/demo.out")"

echo "== .rpm: $rpm"
{
	want -rwxr-xr-x /usr/sbin/bootlace
	want drwxr-xr-x /etc/bootlace/
	want drwxr-xr-x /etc/bootlace/conf.d/
	want -rw-r--r-- /etc/bootlace/bootlace.yaml
	for u in bootlace.service bootlace-converge.service bootlace-converge.timer; do
		want -rw-r--r-- "/usr/lib/systemd/system/$u"
	done
	want -rw-r--r-- /usr/lib/systemd/system-preset/80-bootlace.preset
	want -rw-r--r-- /usr/share/man/man8/bootlace.8.gz
	want -rw-r--r-- /usr/share/man/man5/bootlace.yaml.5.gz
	want drwxr-xr-x /usr/share/doc/bootlace/
	want -rw-r--r-- /usr/share/doc/bootlace/README.md
	want_examples /usr/share/doc/bootlace
	want drwxr-xr-x /usr/share/licenses/bootlace/
	want -rw-r--r-- /usr/share/licenses/bootlace/LICENSE
	want drwx------ /var/lib/bootlace/
}
# rpm lists only what the package owns; the build-id links are rpm's own.
rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm" |
	awk '$3 !~ "^/usr/lib/.build-id" { if ($1 ~ /^d/) $3 = $3 "/"; print }' >"$tmp/rpm.list"
compare "rpm -qlp $rpm" "$tmp/rpm.list"

flags=$(rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$rpm" | awk '$2 ~ /c/')
[ "$flags" = "/etc/bootlace/bootlace.yaml cn" ] ||
	bad "config files: '$flags', expected /etc/bootlace/bootlace.yaml alone, %config(noreplace)"
rpm -qp --scripts "$rpm" >"$tmp/rpm.scripts"
sed -n '/^postinstall/,/^preuninstall/p' "$tmp/rpm.scripts" | grep -q 'bootlace.service' ||
	bad "%post does not apply the preset to bootlace.service"
if grep -nE 'restart|systemctl( [^ ]*)* start' "$tmp/rpm.scripts" >&2; then
	bad "an rpm scriptlet starts or restarts a unit"
fi

mkdir "$tmp/rpm.root"
rpm2cpio "$rpm" | (cd "$tmp/rpm.root" && cpio -idm --quiet)
expect_binary "$tmp/rpm.root/usr/sbin/bootlace"
expect_units "$tmp/rpm.root/usr/lib/systemd/system"
expect_man "$tmp/rpm.root/usr/share/man"
printf 'enable bootlace.service\ndisable bootlace-converge.timer\n' >"$tmp/preset.want"
grep -v '^#' "$tmp/rpm.root/usr/lib/systemd/system-preset/80-bootlace.preset" |
	cmp -s - "$tmp/preset.want" || bad "80-bootlace.preset does not enable bootlace.service alone"

echo "== rpmlint: $rpm"
rpmlint -c rpm/rpmlint.toml "$rpm" rpm/bootlace.spec >"$tmp/rpmlint.out" 2>&1 ||
	bad "rpmlint: $(cat "$tmp/rpmlint.out")"
grep -q ' 0 errors, 0 warnings' "$tmp/rpmlint.out" || bad "rpmlint: $(cat "$tmp/rpmlint.out")"

[ "$failed" -eq 0 ] || exit 1
echo "packages: ok ($(basename "$deb"), $(basename "$rpm"))"
