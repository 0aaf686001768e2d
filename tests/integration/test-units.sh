# The systemd units as `make install` installs them: in systemd's unit
# directory (pkg-config's systemdsystemunitdir, else PREFIX/lib/systemd/system,
# or SYSTEMDUNITDIR), 0644, each ExecStart= the installed bootlace with a
# command it knows; `make uninstall` removes them; systemd-analyze verify
# accepts them as installed.  Every install goes under $WORLD: nothing here
# touches the running system, and systemctl is never called.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
units=$(cd "$root/units" && ls -- *.service *.timer)

# The make below must install the bootlace under test and never rebuild it
# (others may be editing src/ meanwhile): BUILD is its directory and -o
# names it.
[ "${BOOTLACE##*/}" = bootlace ] || fail "BOOTLACE is not a build's bootlace: $BOOTLACE"
build=$(cd "$(dirname "$BOOTLACE")" && pwd)
# Nothing inherited may change what is installed where, and the sub-make
# must not try to join the calling make's jobserver.
unset MAKEFLAGS MAKELEVEL MFLAGS DESTDIR PREFIX SBINDIR MANDIR DOCDIR SYSCONFDIR \
	SYSTEMDUNITDIR PKG_CONFIG

# mk TARGET VAR=VALUE...
mk() {
	target=$1
	shift
	out=$(make -C "$root" --no-print-directory BUILD="$build" -o "$build/bootlace" \
		"$@" "$target" 2>&1) || fail "make $target $*:
$out"
}

# expect_units DIR SBINDIR: every unit is in DIR, 0644, with no placeholder
# left, and each service's ExecStart= is SBINDIR/bootlace COMMAND.
expect_units() {
	for u in $units; do
		f="$1/$u"
		[ -f "$f" ] || fail "$u is not in $1"
		mode=$(stat -c %a "$f")
		[ "$mode" = 644 ] || fail "$f is mode $mode, not 644"
		if grep -n '@[A-Z_]*@' "$f" >&2; then fail "$f: placeholder left"; fi
		case $u in *.service) ;; *) continue ;; esac
		exec_start=$(sed -n 's/^ExecStart=//p' "$f")
		case $exec_start in
		"$2/bootlace "*) ;;
		*) fail "$f: ExecStart=$exec_start, expected $2/bootlace COMMAND" ;;
		esac
		cmd=${exec_start#"$2/bootlace "}
		"$BOOTLACE" help "${cmd%% *}" >/dev/null 2>&1 ||
			fail "$u runs 'bootlace $cmd', which $BOOTLACE does not know"
	done
}

# A package build: PREFIX=/usr, units where pkg-config says.
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null) || true
mk install DESTDIR="$WORLD/pkg" PREFIX=/usr
expect_units "$WORLD/pkg${unitdir:-/usr/lib/systemd/system}" /usr/sbin
mk uninstall DESTDIR="$WORLD/pkg" PREFIX=/usr
for u in $units; do
	[ ! -e "$WORLD/pkg${unitdir:-/usr/lib/systemd/system}/$u" ] ||
		fail "make uninstall left $u"
done

# Without systemd's pkg-config file, under PREFIX; and SYSTEMDUNITDIR wins.
mk install DESTDIR="$WORLD/opt" PREFIX=/opt/bootlace PKG_CONFIG=false
expect_units "$WORLD/opt/opt/bootlace/lib/systemd/system" /opt/bootlace/sbin
mk install DESTDIR="$WORLD/etc" PREFIX=/usr SYSTEMDUNITDIR=/etc/systemd/system
expect_units "$WORLD/etc/etc/systemd/system" /usr/sbin

if ! command -v systemd-analyze >/dev/null; then
	echo "units: installed tree ok; systemd-analyze verify skipped: systemd-analyze not installed (Debian package systemd)"
	exit 0
fi
# verify checks that each Exec*= binary exists and runs `man` for every
# Documentation= page. Installed with DESTDIR those would be looked up on
# this machine, and --root= finds no systemd units in a bare tree, so this
# install points PREFIX itself into $WORLD: the units name the binary
# actually installed there and MANPATH finds the pages installed beside it.
sys="$WORLD/sys"
mk install PREFIX="$sys/usr" SYSCONFDIR="$sys/etc" SYSTEMDUNITDIR="$sys/units"
expect_units "$sys/units" "$sys/usr/sbin"
man_check=--man=yes
command -v man >/dev/null || man_check=--man=no
set --
for u in $units; do set -- "$@" "$sys/units/$u"; done
rc=0
out=$(MANPATH="$sys/usr/share/man" systemd-analyze verify "$man_check" "$@" 2>&1) || rc=$?
# verify exits 0 on an unknown key or a value it cannot parse, so any word
# about our units fails; words about this machine's own units do not.
bad=$rc
for u in $units; do
	printf '%s\n' "$out" | grep -qF "$u" && bad=1
done
[ "$bad" -eq 0 ] || fail "systemd-analyze verify (exit $rc):
$out"
[ -z "$out" ] || printf 'systemd-analyze verify, about other units:\n%s\n' "$out" >&2
echo "units: installed tree ok; systemd-analyze verify ok ($man_check)"
