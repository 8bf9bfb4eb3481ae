# multisync - build, test, demo, bench, fuzz.
#
#   make            build bin/multisync, bin/multisync-master, bin/multisync-worker
#   make test       build and run every test (unit, then integration)
#   make test SANITIZE=1   the same under AddressSanitizer + UBSan
#   make demo       install missing deps, build, back up a sample tree
#   make install    programs, man pages, units, completion (PREFIX, DESTDIR)
#   make deb        build/deb/multisync_<version>_<arch>.deb (dpkg-buildpackage)
#   CC=clang make   build with clang (warnings are errors with both)

CC      ?= cc
PKGS    := libzmq libsodium msgpack jansson inih sqlite3 libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# CFLAGS is the user's (optimisation, debug); MS_CFLAGS always applies.
CFLAGS  ?= -O2 -g
MS_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Ishared -Imaster -Iworker -Icli $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS)
MS_LDFLAGS :=

BUILD   := build
BIN     := bin
ifeq ($(SANITIZE),1)
BUILD   := build-san
BIN     := bin-san
MS_CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
MS_LDFLAGS += -fsanitize=address,undefined
endif

MAINS   := cli/main_cli.c master/main_master.c worker/main_worker.c
SRCS    := $(filter-out $(MAINS),$(wildcard shared/*.c master/*.c worker/*.c cli/*.c))
# The status page (master/ms_page.h), its bytes compiled in.
PAGE_OBJ := $(BUILD)/gen/ms_page_data.o
OBJS    := $(SRCS:%.c=$(BUILD)/%.o) $(PAGE_OBJ)
LIB     := $(BUILD)/libmultisync.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

PROGS   := $(BIN)/multisync $(BIN)/multisync-master $(BIN)/multisync-worker
MANS    := $(patsubst man/%.scd,$(BUILD)/man/%,$(wildcard man/*.scd))
TOOLS   := $(BUILD)/tools/hostile $(BUILD)/tools/metrics $(BUILD)/tools/hostile_http

# libFuzzer harnesses: clang, ASan + UBSan, every library source compiled in.
FUZZ_CC   ?= clang
FUZZ_TIME ?= 20
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_LIBSRCS := $(filter shared/% worker/ms_rsync.c,$(SRCS))

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/multisync
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# systemd reads units, sysusers.d and tmpfiles.d from /etc and /usr/lib,
# never from /usr/local: a local install puts them in /etc (the package,
# in /lib/systemd/system and /usr/lib).
UNITDIR ?= /etc/systemd/system
SYSUSERSDIR ?= /etc/sysusers.d
TMPFILESDIR ?= /etc/tmpfiles.d
CONFDIR ?= /etc/multisync
UNITS   := $(patsubst deploy/systemd/%.in,%,$(wildcard deploy/systemd/*.in)) \
           $(notdir $(wildcard deploy/systemd/*.timer deploy/systemd/*@.service))

.PHONY: all test unit integration demo bench bench-scale bench-fleet fuzz clean deps format format-check install deb
all: $(PROGS) $(MANS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(MS_CFLAGS) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The status page as a C array: od (coreutils) writes its bytes in hex,
# sed makes them C; a NUL ends it (not counted in ms_page_size).
$(BUILD)/gen/ms_page_data.c: master/page/index.html Makefile
	@mkdir -p $(dir $@)
	{ echo '/* Made by make from $<: do not edit. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const unsigned char ms_page_data[];'; \
	  echo 'extern const size_t ms_page_size;'; \
	  echo 'const unsigned char ms_page_data[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1, /g'; \
	  echo '0x00};'; \
	  echo 'const size_t ms_page_size = sizeof ms_page_data - 1;'; } >$@.tmp && mv $@.tmp $@

$(PAGE_OBJ): $(BUILD)/gen/ms_page_data.c
	$(CC) $(MS_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Man pages: scdoc sources in man/, roff in $(BUILD)/man.
$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc <$< >$@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/multisync: $(BUILD)/cli/main_cli.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(MS_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/multisync-master: $(BUILD)/master/main_master.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(MS_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/multisync-worker: $(BUILD)/worker/main_worker.o $(LIB)
	@mkdir -p $(BIN)
	$(CC) $(MS_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/ms_test.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(MS_CFLAGS) $(CFLAGS) $(MS_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(MS_CFLAGS) $(CFLAGS) $(MS_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

build-fuzz/%: tests/fuzz/%.c $(FUZZ_LIBSRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -Wall -Wextra \
	    -Werror -Ishared -Iworker $(PKG_CFLAGS) -o $@ $< $(FUZZ_LIBSRCS) $(LDLIBS)

build-fuzz/seeds: tests/fuzz/seeds.c $(LIB)
	@mkdir -p build-fuzz
	$(CC) $(MS_CFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# A short run of every harness (FUZZ_TIME seconds each); part of make test.
fuzz: $(FUZZ_BINS) build-fuzz/seeds
	tests/fuzz/run.sh $(FUZZ_TIME) build-fuzz/seeds $(FUZZ_BINS)

test: all $(UNIT_BINS) $(TOOLS) $(FUZZ_BINS) build-fuzz/seeds
	@MS_BIN=$(CURDIR)/$(BIN) MS_TOOLS=$(CURDIR)/$(BUILD)/tools MS_FUZZ="$(FUZZ_TIME) build-fuzz/seeds $(FUZZ_BINS)" \
	    tests/run-tests.sh $(BUILD) $(UNIT_BINS)

unit: $(UNIT_BINS)
	@tests/run-tests.sh --unit-only $(BUILD) $(UNIT_BINS)

deps:
	deploy/install-deps.sh

demo:
	deploy/install-deps.sh
	$(MAKE) all
	deploy/demo.sh

# Time serial rsync, xargs -P, fpsync and multisync on a generated tree
# (bench/bench.sh --help); BENCH_ARGS=--quick for a small one. Then the
# scheduling: a skewed tree's makespan against its lower bound, split and
# not, and 8 slots against 1 on bandwidth-bound tasks (bench/scale.sh;
# SCALE_ARGS). Then the control plane: CONTROL_TASKS (100000) no-op tasks
# through master and two workers with CURVE. Then a fleet (bench-fleet).
# Not in make test.
CONTROL_TASKS ?= 100000
# bench.sh last: its table of goals takes the fleet's figures from bench/fleet.json.
bench: all
	MS_BIN=$(CURDIR)/$(BIN) bench/scale.sh $(SCALE_ARGS)
	MS_BIN=$(CURDIR)/$(BIN) bench/control.sh --tasks $(CONTROL_TASKS) --json bench/control.json
	$(MAKE) bench-fleet
	MS_BIN=$(CURDIR)/$(BIN) bench/bench.sh $(BENCH_ARGS)

# The control plane with a fleet (issue 14): FLEET_WORKERS (1000) simulated
# workers of 16 slots, many per process, each its own CURVE connection, and
# FLEET_TASKS (200000) no-op tasks; tasks/s, status latency during the run
# and the master's peak RSS, each against its goal, into bench/fleet.json.
FLEET_WORKERS ?= 1000
FLEET_TASKS ?= 200000
bench-fleet: all
	MS_BIN=$(CURDIR)/$(BIN) bench/control.sh --workers $(FLEET_WORKERS) --tasks $(FLEET_TASKS) \
	    --json bench/fleet.json

bench-scale: all
	MS_BIN=$(CURDIR)/$(BIN) bench/scale.sh $(SCALE_ARGS)

# Programs to $(BINDIR), the nightly script to $(LIBDIR)/multisync, man
# pages, bash completion, the README; systemd units (their paths set to
# these), the multisync user (sysusers.d) and its folders (tmpfiles.d);
# example configs to $(CONFDIR). Installed on this system (no DESTDIR), the
# user and folders are made at once.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/multisync $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(CONFDIR) \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(PROGS) $(DESTDIR)$(BINDIR)/
	install -m 0755 deploy/nightly.sh $(DESTDIR)$(LIBDIR)/multisync/
	for u in $(UNITS); do \
	    if [ -f deploy/systemd/$$u.in ]; then \
	        sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' deploy/systemd/$$u.in \
	            >$(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	    else install -m 0644 deploy/systemd/$$u $(DESTDIR)$(UNITDIR)/ || exit 1; fi; \
	done
	install -m 0644 deploy/systemd/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/multisync.conf
	install -m 0644 deploy/systemd/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/multisync.conf
	install -m 0644 deploy/bash-completion/multisync $(DESTDIR)$(BASHCOMPDIR)/multisync
	install -m 0644 $(filter %.1,$(MANS)) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(filter %.5,$(MANS)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(filter %.8,$(MANS)) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 deploy/master.ini.example deploy/worker.ini.example $(DESTDIR)$(CONFDIR)/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
	    systemd-sysusers $(SYSUSERSDIR)/multisync.conf && \
	    systemd-tmpfiles --create $(TMPFILESDIR)/multisync.conf && \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

# The Debian package, built by dpkg-buildpackage in a copy of the sources
# ($(DEB_WORK)/multisync-VERSION: it writes its .deb next to the source
# folder, and its clean step must not touch this tree's build), then moved
# to $(DEB_OUT). Nothing is written outside $(DEB_WORK) and $(DEB_OUT).
DEB_OUT  ?= build/deb
DEB_WORK ?= build/deb-work
MS_VERSION_STR = $(shell sed -n 's/^\#define MS_VERSION "\(.*\)"/\1/p' shared/ms_version.h)
deb:
	rm -rf $(DEB_WORK)
	mkdir -p $(DEB_WORK)/multisync-$(MS_VERSION_STR) $(DEB_OUT)
	rsync -a --exclude=/.git --exclude=/build/ --exclude=/build-san/ --exclude=/build-fuzz/ \
	    --exclude=/bin/ --exclude=/bin-san/ ./ $(DEB_WORK)/multisync-$(MS_VERSION_STR)/
	cd $(DEB_WORK)/multisync-$(MS_VERSION_STR) && \
	    DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$$(nproc) $$DEB_BUILD_OPTIONS" \
	    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -b -us -uc
	mv $(DEB_WORK)/*.deb $(DEB_OUT)/
	rm -rf $(DEB_WORK)
	@ls $(DEB_OUT)/*.deb

clean:
	rm -rf build build-san build-fuzz bin bin-san

# Every C file in one style (.clang-format); CI fails on a file that is not.
FORMAT_SRCS = $(wildcard shared/*.[ch] master/*.[ch] worker/*.[ch] cli/*.[ch] \
	tests/unit/*.[ch] tests/fuzz/*.[ch] tests/tools/*.[ch] bench/*.[ch])

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS) && echo "format-check: $(words $(FORMAT_SRCS)) files as .clang-format says"

-include $(OBJS:.o=.d) $(MAINS:%.c=$(BUILD)/%.d)
