# flannel-c: small Unix tools for the flannel overlay network.
# Every cmd/<tool>.c becomes build/bin/<tool>, linked against build/libflannel.a
# (every lib/<concern>/*.c). Nothing is built into the source tree.
# Every tests/unit/test_*.c becomes a TAP test built with ASan+UBSan.

PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
LIBEXEC  ?= $(PREFIX)/libexec/flannel
# ip(8) reads protocol names from /etc/iproute2 only: a system prefix
# installs there, any other prefix (a test's) under itself.
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
CNIDIRS  ?= /opt/cni/bin /usr/lib/cni

# Compile on every core; the tests themselves run one after another.
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 1)
CC       ?= cc
PKGS      = libcurl jansson libmnl libssl libcrypto
# The release, then the commit it was built from.
RELEASE  := 0.1.0
GITREV   := $(shell git describe --always --dirty --exclude='*' 2>/dev/null)
VERSION  := $(RELEASE)$(if $(GITREV), ($(GITREV)))
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Ilib \
	    -DFLANNEL_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS))
LDFLAGS  += -Wl,--as-needed
# libcurl's headers only: lib/etcd/etcd_curl.c loads it with dlopen for https://.
LDLIBS    = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS))) -ldl -lpthread
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC  := $(sort $(wildcard lib/*/*.c))
LIB_OBJ  := $(LIB_SRC:lib/%.c=build/obj/%.o)
ASAN_OBJ := $(LIB_SRC:lib/%.c=build/asan/%.o)
B        := build/bin
CMD_SRC  := $(sort $(wildcard cmd/*.c))
TOOLS    := $(CMD_SRC:cmd/%.c=$(B)/%)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITS    := $(UNIT_SRC:tests/unit/%.c=build/unit/%)
MANS     := $(sort $(wildcard man/*.[1-8]))
# Developer scripts (demo, deps, lint, checks) are not installed.
SCRIPTS  := $(filter-out scripts/demo.sh scripts/deps.sh scripts/lint.sh scripts/deps-check.sh scripts/exits-check.sh scripts/alloc-sweep.sh,$(sort $(wildcard scripts/*.sh)))
UNITFILES:= $(sort $(wildcard systemd/*.service systemd/*.path systemd/*.socket))
HDRS     := $(wildcard lib/*/*.h)

# libFuzzer harnesses (tests/fuzz/fuzz_*.c): clang, their own objects.
FUZZ_CC  ?= clang
FUZZ_S   ?= 60
FUZZ_CHECK_S ?= 30
FUZZFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=all -O1 -g
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ := $(LIB_SRC:lib/%.c=build/fuzzobj/%.o)

.PHONY: all check unit e2e lint deps-check install uninstall demo clean bench fuzz fuzzers alloc-sweep FORCE
CNI      := $(if $(wildcard cmd/flannel-cni.c),$(B)/flannel)
all: $(TOOLS) $(CNI)

# The archives are rebuilt whole when the list of sources changes, so that
# the object of a deleted lib/*/*.c does not linger in them.
build/objs.list: FORCE
	@mkdir -p build
	@echo '$(LIB_SRC)' | cmp -s - $@ || echo '$(LIB_SRC)' >$@
FORCE:

build/libflannel.a: $(LIB_OBJ) build/objs.list
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

build/obj/%.o: lib/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The unit tests' library also reads FAIL_ALLOC_AT (lib/base/mem.c).
build/asan/%.o: lib/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -DFL_ALLOC_ENV -O1 -c -o $@ $<

build/libflannel-asan.a: $(ASAN_OBJ) build/objs.list
	rm -f $@ && ar rcs $@ $(ASAN_OBJ)

$(B)/%: cmd/%.c build/libflannel.a $(HDRS) | $(B)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< build/libflannel.a $(LDLIBS)

# The CNI plugin must be called "flannel": runtimes find plugins by type.
$(B)/flannel: $(B)/flannel-cni
	cp $< $@

build/unit/%: tests/unit/%.c build/libflannel-asan.a $(HDRS) tests/unit/tap.h | build/unit
	$(CC) $(CFLAGS) $(SANFLAGS) -O1 -Itests/unit $(LDFLAGS) -o $@ $< \
		build/libflannel-asan.a $(LDLIBS)

build/fuzzobj/%.o: lib/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS) $(FUZZFLAGS) -c -o $@ $<

build/libflannel-fuzz.a: $(FUZZ_OBJ) build/objs.list
	rm -f $@ && ar rcs $@ $(FUZZ_OBJ)

build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h build/libflannel-fuzz.a $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< \
		build/libflannel-fuzz.a $(LDLIBS)

fuzzers: $(FUZZERS)

# Each harness for FUZZ_S seconds (default 60), two at a time.
fuzz: $(FUZZERS)
	tests/fuzz/run.sh $(FUZZ_S) $(FUZZERS)

build/unit $(B):
	mkdir -p $@

unit: $(UNITS)
e2e: all

# make check also runs every fuzzing harness for FUZZ_CHECK_S seconds over
# its corpus (0: not at all), one TAP test each.
check: all $(UNITS) $(if $(filter-out 0,$(FUZZ_CHECK_S)),$(FUZZERS))
	FUZZERS="$(if $(filter-out 0,$(FUZZ_CHECK_S)),$(FUZZERS))" FUZZ_CHECK_S=$(FUZZ_CHECK_S) \
		tests/run.sh $(UNITS)

# Every allocation of every unit test failed in turn (make check samples
# ALLOC_SWEEP_N of them per test); see docs/RELIABILITY.md for how long.
alloc-sweep: $(UNITS)
	scripts/alloc-sweep.sh $(UNITS)

lint:
	scripts/lint.sh

# Folder rules and file-level circles of lib/ (includes; symbols of the objects).
deps-check: build/libflannel.a
	scripts/deps-check.sh

bench: all
	@echo "benchmarks: see bench/README.md"

demo: all
	scripts/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXEC) \
		$(DESTDIR)$(UNITDIR)
	for t in $(filter-out $(B)/flanneld $(B)/flannel $(B)/flannel-cni,$(TOOLS)); do \
		install -m 0755 $$t $(DESTDIR)$(BINDIR)/; done
	if [ -e $(B)/flanneld ]; then install -m 0755 $(B)/flanneld $(DESTDIR)$(SBINDIR)/; fi
	if [ -e $(B)/flannel ]; then for d in $(CNIDIRS); do install -d $(DESTDIR)$$d && \
		install -m 0755 $(B)/flannel $(DESTDIR)$$d/flannel; done; fi
	for s in $(SCRIPTS); do install -m 0755 $$s $(DESTDIR)$(LIBEXEC)/; done
	for m in $(MANS); do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	for u in $(UNITFILES); do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
		    -e 's|@LIBEXEC@|$(LIBEXEC)|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	install -d $(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d $(DESTDIR)$(SYSCONFDIR)/default
	install -m 0644 contrib/rt_protos.d/flannel.conf $(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d/
	# The operator's settings are never overwritten.
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/flannel ] || \
		install -m 0644 contrib/default-flannel $(DESTDIR)$(SYSCONFDIR)/default/flannel

# What install put in place; /etc/default/flannel stays when it was changed.
uninstall:
	for t in $(filter-out $(B)/flanneld $(B)/flannel $(B)/flannel-cni,$(TOOLS)); do \
		rm -f $(DESTDIR)$(BINDIR)/$${t##*/}; done
	rm -f $(DESTDIR)$(SBINDIR)/flanneld
	for d in $(CNIDIRS); do rm -f $(DESTDIR)$$d/flannel; done
	for s in $(SCRIPTS); do rm -f $(DESTDIR)$(LIBEXEC)/$${s##*/}; done
	-rmdir $(DESTDIR)$(LIBEXEC) 2>/dev/null
	for m in $(MANS); do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done
	for u in $(UNITFILES); do rm -f $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	rm -f $(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d/flannel.conf
	if cmp -s contrib/default-flannel $(DESTDIR)$(SYSCONFDIR)/default/flannel; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/default/flannel; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/default/flannel ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/default/flannel: it was changed"; fi

clean:
	rm -rf build
