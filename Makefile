# relaysync - see README.md. Targets:
#   make            build build/relaysync
#   make deps       install the Debian packages needed to build and test (root)
#   make check      deps, build, then every test (unit, integration, end to end)
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench      the benchmark (minutes; not part of make check)
#   make demo       deps, build, a throwaway slapd and Postfix directory, one sync
#   make install    install under $(DESTDIR)$(PREFIX) (PREFIX=/usr/local)
#   make deb        build a Debian package in build/deb/
#   make clean

VERSION   = 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
SBINDIR   = $(PREFIX)/sbin
DATADIR   = $(PREFIX)/share/relaysync
MANDIR    = $(PREFIX)/share/man
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= $(PREFIX)/etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
CC        = gcc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Wall -Wextra -Werror \
            -Wshadow -Wformat=2 -DRELAYSYNC_VERSION='"$(VERSION)"'
LIBS      = -lldap -llber -lyaml -lssl -lcrypto -lcurl -pthread
SANFLAGS  = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all

# The modules of agent/ in layer order, bottom first: a module includes only
# its own header and those of modules before it (main.c may include any);
# tests/integration/test_layers.sh checks this.
MODULES   = util dn validate config secret model probe source policy table render \
            postconf snapshot stamp installer plan report verify summary notify \
            apply status \
            pipeline checkconf explain watch
SRCS      = $(MODULES:%=agent/%.c)
HDRS      = $(wildcard agent/*.h)
OBJS      = $(MODULES:%=build/%.o)
SAN_OBJS  = $(MODULES:%=build/san/%.o)
UNIT      = test_util test_validate test_config test_policy test_table \
            test_render test_plan test_secret test_model test_dn test_apply \
            test_pipeline test_summary
UNIT_BINS = $(UNIT:%=build/san/%)
FUZZ      = fuzz_validate fuzz_config fuzz_render fuzz_secret fuzz_dn \
            fuzz_snapshot fuzz_table
FUZZ_BINS = $(FUZZ:%=build/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
            -DRELAYSYNC_VERSION='"$(VERSION)"' \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

DEB_PACKAGES = build-essential pkg-config libldap-dev libsasl2-dev libssl-dev \
               libyaml-dev libcurl4-openssl-dev libcmocka-dev slapd ldap-utils \
               postfix postfix-lmdb postfix-cdb libsasl2-modules sasl2-bin \
               python3 python3-aiosmtpd python3-cryptography openssl strace valgrind clang \
               libclang-rt-14-dev mandoc debhelper dpkg-dev fakeroot systemd \
               time samba samba-ad-provision samba-dsdb-modules samba-vfs-modules 389-ds-base \
               iproute2 util-linux procps debootstrap debian-archive-keyring \
               systemd-container

.PHONY: all deps check unit fuzz bench demo install deb clean

all: build/relaysync

build build/san build/fuzz:
	mkdir -p $@

build/%.o: agent/%.c $(HDRS) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/san/%.o: agent/%.c $(HDRS) | build/san
	$(CC) $(CFLAGS) $(SANFLAGS) -c -o $@ $<

build/relaysync: $(OBJS) build/main.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

build/san/relaysync: $(SAN_OBJS) build/san/main.o
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

build/san/test_%: tests/unit/test_%.c tests/unit/unit.h tests/unit/fake.h \
    $(SAN_OBJS)
	$(CC) $(CFLAGS) $(SANFLAGS) -Iagent -DSRCDIR='"$(CURDIR)"' -o $@ $< \
	    $(SAN_OBJS) $(LIBS) -lcmocka

build/fuzz/%: tests/fuzz/%.c $(SRCS) $(HDRS) | build/fuzz
	clang $(FUZZFLAGS) -Iagent -o $@ $< $(SRCS) $(LIBS)

# Installs only what is missing, so a machine that has everything needs no
# network; apt-get update runs once before the first install.
deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEB_PACKAGES) \
	    2>/dev/null | awk '$$NF == "installed" { ok[$$1] = 1 } \
	    END { n = split("$(DEB_PACKAGES)", p, " "); \
	    for (i = 1; i <= n; i++) if (!(p[i] in ok)) print p[i] }'); \
	if [ -n "$$missing" ]; then \
	    echo "make deps: installing $$missing"; \
	    apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        --no-install-recommends $$missing; \
	else echo "make deps: all packages present"; fi

unit: $(UNIT_BINS)
	TESTS=none tests/run $(UNIT_BINS)

check: deps
	$(MAKE) all build/san/relaysync $(UNIT_BINS) $(FUZZ_BINS) deb
	tests/run $(UNIT_BINS)

# make fuzz FUZZ_SECONDS=600: each target for that long (make check runs
# each for a few seconds).
fuzz: $(FUZZ_BINS)
	tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_BINS)

# make bench: speed against the floor at 10,000 and 100,000 users (minutes;
# BENCH_SIZES and WATCH_MODS override). Not part of make check.
bench: deps
	$(MAKE) all
	tests/bench/run.sh

demo: deps
	$(MAKE) all
	tests/demo.sh

install: build/relaysync
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/mappings \
	    $(DESTDIR)$(DATADIR)/schema $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/relaysync $(DESTDIR)$(COMPLETIONDIR)
	install -d -m 700 $(DESTDIR)/var/lib/relaysync
	install -m 755 build/relaysync $(DESTDIR)$(SBINDIR)/relaysync
	install -m 644 mappings/*.yaml $(DESTDIR)$(DATADIR)/mappings/
	install -m 644 schema/*.schema schema/*.ldif schema/*.ldf schema/*.conf \
	    schema/*.awk \
	    $(DESTDIR)$(DATADIR)/schema/
	install -m 644 packaging/man/relaysync.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 packaging/man/relaysync.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 packaging/bash-completion/relaysync $(DESTDIR)$(COMPLETIONDIR)/
	sed 's|@SBINDIR@|$(SBINDIR)|g' packaging/systemd/relaysync.service.in \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/relaysync.service
	sed 's|@SBINDIR@|$(SBINDIR)|g' packaging/systemd/relaysync-watch.service.in \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/relaysync-watch.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/relaysync.service \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/relaysync-watch.service
	install -m 644 packaging/systemd/relaysync.timer $(DESTDIR)$(SYSTEMDUNITDIR)/
	@conf=$(DESTDIR)$(SYSCONFDIR)/relaysync/relaysync.yaml; \
	if [ -e "$$conf" ]; then echo "keeping $$conf"; else \
	    sed 's|/usr/share/relaysync|$(DATADIR)|' packaging/relaysync.yaml >"$$conf"; \
	    chmod 640 "$$conf"; fi

# make deb: a binary Debian package in build/deb/ (dpkg-buildpackage on a copy
# of the tree with packaging/debian as debian/).
deb:
	rm -rf build/deb
	mkdir -p build/deb/relaysync-$(VERSION)
	cp -a agent mappings schema packaging Makefile README.md build/deb/relaysync-$(VERSION)/
	cp -a packaging/debian build/deb/relaysync-$(VERSION)/debian
	cd build/deb/relaysync-$(VERSION) && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
	    { tail -30 ../build.log; exit 1; }
	@ls build/deb/*.deb

clean:
	rm -rf build
