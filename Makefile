# bootlace - one non-recursive GNU Makefile.
#
#   make                 build build/bootlace
#   make check           unit + integration tests, the systemd units among
#                        them (installs build deps as root)
#   make check-asan      the same tests on an ASan+UBSan build (build/asan/)
#   make check-valgrind  the integration happy paths under valgrind
#   make check-faults    the fault-injection matrix (docs/reliability.md)
#   make fuzz            the libFuzzer targets, FUZZ_SECONDS each (tests/fuzz)
#   make bench           the benchmark of docs/benchmarks.md (results in build/bench/)
#   make demo            a real first boot against a temporary local root
#   make install DESTDIR=... PREFIX=...
#   make deps            install the Debian build dependencies (or print how)
#   make dist            the release tarball, in build/packages/
#   make deb / make rpm  the Debian / RPM package, in build/packages/

# The one version: main.c's --version gets it as BOOTLACE_VERSION, and
# check-version fails the packaging targets when debian/changelog or
# rpm/bootlace.spec says otherwise.
VERSION    := 0.1.0
PREFIX     ?= /usr
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/bootlace
SYSCONFDIR ?= /etc
# Where systemd looks for system units: systemd's own answer when its .pc
# file is installed (/lib/systemd/system on Debian), else under PREFIX.
SYSTEMDUNITDIR ?= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),$(PREFIX)/lib/systemd/system)
DESTDIR    ?=

CC         ?= cc
PKG_CONFIG ?= pkg-config
BUILD      ?= build

PKGS      := libcurl yaml-0.1 jansson libcrypto libssl libsystemd zlib expat
TEST_PKGS := cmocka

# Debian packages behind PKGS/TEST_PKGS, plus the tools the build and tests use.
DEB_DEPS := gcc make pkg-config libcurl4-openssl-dev libyaml-dev libjansson-dev \
            libssl-dev libsystemd-dev zlib1g-dev libexpat1-dev libcmocka-dev \
            coreutils util-linux gzip python3 curl openssl systemd \
            shellcheck python3-yaml

# The distro's flags come first; ours are appended so hardening and warnings
# always apply.
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
BL_CFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude \
             -DBOOTLACE_VERSION='"$(VERSION)"' \
             -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wformat=2 -Wformat-security -Wvla \
             -Wpointer-arith -Wcast-qual -Wundef \
             -fstack-protector-strong -fPIE -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 \
             -fno-strict-aliasing -MMD -MP
BL_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now -Wl,--as-needed

ifeq ($(SANITIZE),1)
BL_CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -U_FORTIFY_SOURCE -O1
BL_LDFLAGS += -fsanitize=address,undefined
endif

PKG_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

LIB_SRCS  := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard modules/*.c)
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
MAIN_OBJ  := $(BUILD)/src/main.o
BIN       := $(BUILD)/bootlace
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
# systemd units, installed with @SBINDIR@ replaced.
SYSTEMD_UNITS := $(notdir $(wildcard units/*.service units/*.timer))

# `make V=1` shows the full commands.
Q := $(if $(V),,@)

.PHONY: all check check-unit check-integration check-units check-asan check-valgrind \
        check-faults fuzz bench demo lint \
        install uninstall clean deps dist deb rpm check-version
.DEFAULT_GOAL := all

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(BL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/libbootlace.a: $(LIB_OBJS)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BIN): $(MAIN_OBJ) $(BUILD)/libbootlace.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(BL_CFLAGS) $(LDFLAGS) $(BL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libbootlace.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(BL_CFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) $(LDFLAGS) $(BL_LDFLAGS) \
		-o $@ $< $(BUILD)/libbootlace.a $(PKG_LIBS) $(TEST_LIBS)

deps:
	@sh tests/deps.sh $(DEB_DEPS)

check: deps
	@$(MAKE) --no-print-directory check-unit check-integration

check-unit: $(UNIT_BINS) $(BIN)
	@sh tests/run-unit.sh $(UNIT_BINS)

check-integration: $(BIN)
	@BOOTLACE=$(abspath $(BIN)) sh tests/integration/run.sh

# Only the units' test (check-integration runs it too): installs into
# temporary directories and has systemd-analyze verify the units; never
# touches the running system.
check-units: $(BIN)
	@BOOTLACE=$(abspath $(BIN)) sh tests/integration/test-units.sh

check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 check-unit check-integration

# The happy paths (and a failing layer, a daemon) of the integration tests
# with bootlace under valgrind: any memory error or leak fails them.
VALGRIND_TESTS := test-first-boot test-second-run test-layer-failure test-user-data \
                  test-aws-s3 test-aws-tags test-secrets
check-valgrind: $(BIN)
	@command -v valgrind >/dev/null || sh tests/deps.sh valgrind
	@BOOTLACE=$(abspath tests/valgrind.sh) BOOTLACE_REAL=$(abspath $(BIN)) \
		sh tests/integration/run.sh $(VALGRIND_TESTS)

# The fault-injection matrix of docs/reliability.md: the real binary
# against emulated AWS with faults (needs moto; root for the disk-full case).
check-faults: $(BIN)
	@BOOTLACE=$(abspath $(BIN)) sh tests/faults/run.sh

# The libFuzzer targets (tests/fuzz, clang with ASan and UBSan, in
# build/fuzz/), each for FUZZ_SECONDS; a crash leaves its input in
# build/fuzz/artifacts/.
FUZZ_SECONDS ?= 30
fuzz:
	@sh tests/deps.sh clang libclang-rt-14-dev
	@sh tests/fuzz/build.sh -j2
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

# The benchmark of docs/benchmarks.md (issue #7): results in
# build/bench/system/, or build/bench/http-only/ with
# BENCH_FLAGS='--libcurl http-only' (a libcurl built for HTTP(S) only from
# Debian's source).  BENCH_FLAGS passes run.sh's options, e.g. --quick.
bench: $(BIN)
	@BOOTLACE=$(abspath $(BIN)) sh tests/bench/run.sh $(BENCH_FLAGS)

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@BOOTLACE=$(abspath $(BIN)) sh examples/demo.sh

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--std=c11 --inline-suppr -Iinclude --include=/usr/include/jansson.h \
		--suppress=missingIncludeSystem src modules
	sh -n tests/integration/*.sh examples/*.sh tests/*.sh tests/packaging/*.sh tests/bench/*.sh \
		tests/faults/*.sh tests/fuzz/*.sh \
		debian/tests/demo debian/bootlace.postinst debian/bootlace.prerm debian/bootlace.postrm

install: $(BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(SYSCONFDIR)/bootlace/conf.d $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/bootlace
	install -m 0644 docs/bootlace.8 $(DESTDIR)$(MANDIR)/man8/bootlace.8
	install -m 0644 docs/bootlace.yaml.5 $(DESTDIR)$(MANDIR)/man5/bootlace.yaml.5
	test -e $(DESTDIR)$(SYSCONFDIR)/bootlace/bootlace.yaml || \
		install -m 0644 examples/bootlace.yaml $(DESTDIR)$(SYSCONFDIR)/bootlace/bootlace.yaml
	cp -R examples/. $(DESTDIR)$(DOCDIR)/examples/
	for u in $(SYSTEMD_UNITS); do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' units/$$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/bootlace $(DESTDIR)$(MANDIR)/man8/bootlace.8 \
		$(DESTDIR)$(MANDIR)/man5/bootlace.yaml.5 \
		$(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(SYSTEMD_UNITS))
	rm -rf $(DESTDIR)$(DOCDIR)

# Release tarball and packages. Not under BUILD: one set of packages,
# whichever compiler built the tests.
PKGDIR := build/packages
DIST   := bootlace-$(VERSION)

check-version:
	@deb=$$(sed -n '1s/^bootlace (\([^)]*\)).*/\1/p' debian/changelog); \
	[ "$$deb" = "$(VERSION)" ] || { echo "debian/changelog: version $$deb, but VERSION is $(VERSION) (dch -v $(VERSION))" >&2; exit 1; }; \
	rpm=$$(sed -n 's/^Version:[[:space:]]*//p' rpm/bootlace.spec); \
	[ "$$rpm" = "$(VERSION)" ] || { echo "rpm/bootlace.spec: Version $$rpm, but VERSION is $(VERSION)" >&2; exit 1; }

# The files git tracks or would track (anything not ignored), as they are in
# the working tree: a clean clone gives its commit, a working tree what it
# would build. In an unpacked tarball, everything but what the build and
# the tests write (build/, python's caches). Sorted, root-owned and dated by
# the last commit, so the same tree gives the same bytes.
dist: check-version
	@mkdir -p $(PKGDIR)
	$(Q)if [ -e .git ]; then git ls-files -z -co --exclude-standard; \
	else find . \( -path ./build -o -name __pycache__ \) -prune -o -type f -printf '%P\0'; \
	fi >$(PKGDIR)/$(DIST).files
	$(Q)LC_ALL=C sort -z -o $(PKGDIR)/$(DIST).files $(PKGDIR)/$(DIST).files
	$(Q)tar -cf $(PKGDIR)/$(DIST).tar --null -T $(PKGDIR)/$(DIST).files \
		--owner=0 --group=0 --numeric-owner --mode=u+rw,go=u-w \
		$(if $(wildcard .git),--mtime=@$$(git log -1 --format=%ct)) \
		--transform='s,^,$(DIST)/,'
	$(Q)gzip -n -9 -f $(PKGDIR)/$(DIST).tar && rm -f $(PKGDIR)/$(DIST).files
	@echo "$(PKGDIR)/$(DIST).tar.gz"

# Built from the tarball, not this tree: proves the tarball is complete, and
# debian/rules clean (make clean) cannot wipe this tree's build/. MAKEFLAGS
# is dropped so this make's variables and jobserver stay out of the
# package build; dpkg-buildpackage -J runs it in parallel itself.
deb: dist
	@sh tests/deps.sh $(DEB_DEPS) debhelper dpkg-dev
	rm -rf $(PKGDIR)/deb && mkdir -p $(PKGDIR)/deb
	tar -xzf $(PKGDIR)/$(DIST).tar.gz -C $(PKGDIR)/deb
	cd $(PKGDIR)/deb/$(DIST) && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
		dpkg-buildpackage -us -uc -b -Jauto
	mv $(PKGDIR)/deb/*.deb $(PKGDIR)/deb/*.changes $(PKGDIR)/deb/*.buildinfo $(PKGDIR)/
	rm -rf $(PKGDIR)/deb

# rpmbuild checks BuildRequires against the rpm database. On a Debian host
# that database is empty (dpkg owns the libraries), so make deps installs
# the same libraries with apt and --nodeps skips rpm's check; an RPM host
# (where rpm knows itself) keeps the check: dnf builddep rpm/bootlace.spec.
# Debian's brp-compress (which gzips the man pages) is a #!/bin/sh script
# needing bash, as /bin/sh is on RPM hosts: it gets bash explicitly.
# An .rpm built on Debian links Debian's libraries (glibc 2.36, libcurl's
# CURL_OPENSSL_4 symbols), so it tests the packaging but installs on no RPM
# distribution: build the one to ship on its target (Fedora, Amazon Linux).
RPM_HOST = $(shell rpm -q --quiet rpm 2>/dev/null && echo yes)
RPM_DEBIAN_FLAGS := --nodeps --define '__brp_compress bash %{_rpmconfigdir}/brp-compress %{_prefix}'
rpm: dist
	$(if $(RPM_HOST),,@sh tests/deps.sh $(DEB_DEPS) rpm)
	rm -rf $(PKGDIR)/rpm
	env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS rpmbuild -bb $(if $(RPM_HOST),,$(RPM_DEBIAN_FLAGS)) \
		--define '_topdir $(abspath $(PKGDIR))/rpm' \
		--define '_sourcedir $(abspath $(PKGDIR))' \
		--define '_rpmdir $(abspath $(PKGDIR))' \
		--define '_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm' \
		rpm/bootlace.spec
	rm -rf $(PKGDIR)/rpm

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)
