# pfgate: prime-factor gateway.  `make help` lists the targets.

SHELL    := /bin/bash
CC       ?= cc
STD      := -std=c11
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT      ?= -O2 -g
CPPFLAGS += -MMD -MP -D_GNU_SOURCE

# FAULT=1 (make fault-build): the ASan build of pfgate whose own allocations
# can be made to fail on demand (tests/fault/alloc_fault.c), in build/fault.
ifeq ($(FAULT),1)
SANITIZE := 1
override BUILD := build/fault
endif

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
OPT      := -O1 -g -fno-omit-frame-pointer
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all
# A small quarantine: ASan otherwise holds freed memory back by the hundred
# MiB, and the tests that bound pfgate's RSS would measure ASan instead.
export ASAN_OPTIONS ?= quarantine_size_mb=8
else ifeq ($(SANITIZE),thread)
# ThreadSanitizer, for the core and the unit tests that link only the core:
# grpc core, abseil and libwebsockets are not built with it here.
BUILD    ?= build/tsan
OPT      := -O1 -g -fno-omit-frame-pointer
SAN      := -fsanitize=thread
else
BUILD    ?= build
SAN      :=
endif

CFLAGS   += $(STD) $(WARN) $(OPT) $(SAN)
LDFLAGS  += $(SAN)

PKGS     := libprotobuf-c libwebsockets jansson openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# gateway/grpc/grpc_151.h fails the build on a grpc core other than 29 (grpc 1.51).
GRPC_CORE_MAJOR := $(firstword $(subst ., ,$(shell pkg-config --modversion grpc 2>/dev/null)))
PKG_CFLAGS += -DPF_GRPC_CORE_VERSION_MAJOR=$(or $(GRPC_CORE_MAJOR),0)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lgrpc -lgpr

# How pfgate itself links (the tests and benchmark clients always link shared).
# LINK=static (default): the gRPC stack, libstdc++, libwebsockets, protobuf-c,
# jansson, libcap and zlib come from the Debian -dev archives, so that only the
# members pfgate uses are loaded (less RSS at rest: BENCHMARKS.md, "Memory at
# rest"); OpenSSL, libc and libm stay shared, so Debian's OpenSSL updates reach
# pfgate without a rebuild. The ASan build links shared: its runtime replaces
# operator new/delete, which a static libstdc++ also defines (TSan's too).
ifneq ($(filter 1 thread,$(SANITIZE)),)
LINK     := shared
endif
LINK     ?= static
ifeq ($(LINK),static)
# Drop unreferenced archive sections; store the C++ parts' relative
# relocations as DT_RELR (glibc >= 2.36); place the code run from exec to rest
# first in the text (ld's default script with tools/startup-text.list, which
# tools/startup-text.sh writes, at the head of .text): BENCHMARKS.md, "Memory at rest".
STARTUP_LD := $(BUILD)/pfgate.ld
PFGATE_LEAN := -Wl,--gc-sections -Wl,-z,pack-relative-relocs -Wl,-T,$(STARTUP_LD)
# pkg-config --static lists the archives in link order; OpenSSL, libdl,
# pthread and libatomic are left to the shared part, librt too (a stub since
# glibc 2.34), and -latomic's --as-needed bracket with it.
STATIC_DROP := -lssl -lcrypto -ldl -pthread -lpthread -latomic -lrt -lm \
               -Wl,--push-state,--as-needed -Wl,--pop-state
# The archives linked in (also the package's Built-Using, tools/build-deb.sh).
PFGATE_STATIC := $(filter-out $(STATIC_DROP),$(shell pkg-config --libs --static \
                   libprotobuf-c libwebsockets jansson grpc 2>/dev/null)) -lz -lstdc++
PFGATE_LIBS := -Wl,-Bstatic $(PFGATE_STATIC) \
               -Wl,-Bdynamic -lssl -lcrypto -lm -ldl -pthread -static-libgcc \
               $(PFGATE_LEAN)
else
PFGATE_LIBS := $(PKG_LIBS) -lpthread
endif

# Quiet build lines unless V=1.
ifneq ($(V),1)
Q = @
quiet = @printf '  %-6s %s\n' $(1) $(2);
endif

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)

# ---- sources ---------------------------------------------------------------

CORE_SRC    := $(wildcard core/*.c)
CORE_OBJ    := $(CORE_SRC:%.c=$(BUILD)/%.o)
CORE_LIB    := $(BUILD)/libpfcore.a

PROTOS      := $(wildcard proto/*.proto)
# descriptor.proto (from libprotobuf-dev) lets reflection read the descriptor set;
# descriptors.c embeds that set, made by protoc from proto/, never by hand.
DESCRIPTOR_PROTO := /usr/include/google/protobuf/descriptor.proto
PROTO_C     := $(PROTOS:proto/%.proto=$(BUILD)/proto/%.pb-c.c) \
               $(BUILD)/proto/google/protobuf/descriptor.pb-c.c $(BUILD)/proto/descriptors.c
PROTO_OBJ   := $(PROTO_C:.c=.o)

# gateway/ is the process; gateway/grpc/ the gRPC front (grpc core), gateway/http/
# the HTTP and WebSocket front (libwebsockets). `make check-layers` keeps them apart.
GATEWAY_DIRS := gateway gateway/grpc gateway/http
GATEWAY_SRC := $(wildcard $(GATEWAY_DIRS:%=%/*.c))
GATEWAY_OBJ := $(GATEWAY_SRC:%.c=$(BUILD)/%.o)
GATEWAY_INC := $(GATEWAY_DIRS:%=-I%)

# The OpenAPI description served at GET /openapi.json: embedded in pfgate
# (never read from --web-root), its "@VERSION@" replaced by VERSION.
OPENAPI     := docs/openapi.json
OPENAPI_OBJ := $(BUILD)/docs/openapi_json.o

UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PFGATE      := $(BUILD)/pfgate
GRPC_LOAD   := $(BUILD)/grpc_load
WS_LOAD     := $(BUILD)/ws_load
# The load clients again, sending balanced 62-bit semiprimes (bench/semiprimes.h)
# or numbers uniform in [2, 2^40] (bench/uniform40.h): bench/fair_workers.sh.
LOAD_KINDS  := semiprime uniform
KIND_LOADS  := $(foreach k,$(LOAD_KINDS),$(BUILD)/bench/grpc_$(k)_load $(BUILD)/bench/ws_$(k)_load)
PFFACTOR    := $(BUILD)/pffactor

# --wrap reroutes only the calls in pfgate's own objects (gateway/, core/,
# proto/) through the shim; the shared libraries keep the real allocator.
ifeq ($(FAULT),1)
FAULT_OBJ   := $(BUILD)/tests/fault/alloc_fault.o
FAULT_WRAP  := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup
endif

# ---- targets ---------------------------------------------------------------

FUZZ_TARGETS := json_request pb_request http_route parse_i64 h2_guard
FUZZ_BINS   := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60

SOAK_SECONDS ?= 60

# The build issue 14's benchmarks compare against: a git revision (built into
# $(BUILD)/before) or a pfgate binary; BEFORE= measures this tree alone.
BEFORE ?= 7a05b10

.PHONY: all build deps deps-run run test fault-build check-layers test-unit test-integration bench \
        bench-fair bench-grpc-go bench-page fuzz soak valgrind clean help

# A target that installs packages builds in a second make: this one read
# pkg-config's flags before they were installed.
SUBMAKE := $(MAKE) --no-print-directory

# `make`: what building and running need (tools/install-deps.sh run), then the build.
all: deps-run
	$(Q)$(SUBMAKE) build

# SANITIZE=thread: the core's unit tests only (CORE_UNIT_BIN, further down).
ifeq ($(SANITIZE),thread)
build:
else
build: $(PFGATE) $(PFFACTOR) $(UNIT_BIN)
endif

help:
	@echo 'make            deps-run + build $(PFGATE), $(PFFACTOR) and the unit tests'
	@echo 'make deps-run   install the missing Debian packages building and running need'
	@echo 'make deps       install every missing Debian and npm package (tests, benchmarks, packaging)'
	@echo 'make run        deps-run + build $(PFGATE) + start it with defaults'
	@echo 'make test       deps + build + check-layers + every test (SANITIZE=1: under ASan+UBSan)'
	@echo '                SANITIZE=thread: the core and its unit tests under TSan'
	@echo 'make fault-build  build/fault/pfgate: ASan, its own allocations fail on demand (PF_FAULT_ALLOC)'
	@echo 'make check-layers  fail if core/ or a front end includes a layer it must not know'
	@echo 'make bench      benchmarks, side by side with their peers and with BEFORE (default 7a05b10)'
	@echo 'make bench-fair issue 14 benchmarks only: fairness, workers, small numbers, idle memory'
	@echo 'make bench-grpc-go  issue 15 benchmarks only: pfgate vs grpc-go (bench/peers/go) and grpc-js'
	@echo 'make bench-page issue 17 benchmark only: the web page, 100,000 and 1,000,000 numbers'
	@echo 'make soak       mixed load for SOAK_SECONDS (default 60), every answer checked'
	@echo 'make valgrind   integration tests against pfgate under valgrind memcheck'
	@echo 'make fuzz       each libFuzzer target for FUZZ_TIME seconds (default 60)'
	@echo 'make install    install pfgate, its page, man page, systemd unit, /etc/default/pfgate'
	@echo '                (PREFIX=/usr/local, DESTDIR); make uninstall removes them'
	@echo 'make deb        $(BUILD)/pfgate_$(VERSION)_ARCH.deb (make install PREFIX=/usr, dpkg-deb)'
	@echo 'make test-deb   as root: make deb, apt-get install it, run it, purge it (tests/deb/install-test.sh)'
	@echo 'make clean      remove build/'

deps:
	$(Q)tools/install-deps.sh all

deps-run:
	$(Q)tools/install-deps.sh run

# -j: on a fresh machine the first answer comes sooner (the build: 15 s -> 8 s on 2 cores).
run: deps-run
	$(Q)$(SUBMAKE) -j$$(nproc) $(PFGATE)
	$(PFGATE)

test: deps
ifeq ($(SANITIZE),thread)
	$(Q)$(SUBMAKE) build
	@echo 'SANITIZE=thread: gateway and integration tests skipped (grpc core, abseil and libwebsockets are not built with TSan here)'
	$(Q)BUILD=$(BUILD) tests/run-all.sh unit
else
	$(Q)$(SUBMAKE) build $(GRPC_LOAD) $(WS_LOAD) $(KIND_LOADS)
	$(Q)$(SUBMAKE) fault-build
	$(Q)BUILD=$(BUILD) tests/run-all.sh
endif

fault-build:
	$(Q)$(MAKE) --no-print-directory FAULT=1 build/fault/pfgate

check-layers: $(PROTO_C)
	$(Q)BUILD=$(BUILD) tools/check-layers.sh

test-unit: deps
	$(Q)$(SUBMAKE) build
	$(Q)BUILD=$(BUILD) tests/run-all.sh unit

test-integration: deps
	$(Q)$(SUBMAKE) build $(GRPC_LOAD) $(WS_LOAD) $(KIND_LOADS) fault-build
	$(Q)BUILD=$(BUILD) tests/run-all.sh integration

bench: deps
	$(Q)$(SUBMAKE) build $(GRPC_LOAD) $(WS_LOAD) $(KIND_LOADS)
	$(Q)BUILD=$(BUILD) tools/bench.sh
	$(Q)BUILD=$(BUILD) bench/bench_net.sh
	$(Q)BUILD=$(BUILD) BEFORE=$(BEFORE) bench/fair_workers.sh
	$(Q)BUILD=$(BUILD) bench/grpc_go_peer.sh
	$(Q)BUILD=$(BUILD) bench/page.sh

# Issue 17's benchmark alone: the web page in headless Chromium.
bench-page: deps
	$(Q)$(SUBMAKE) build
	$(Q)BUILD=$(BUILD) bench/page.sh

# Issue 14's benchmarks alone (fairness, workers, small numbers, idle memory).
bench-fair: deps
	$(Q)$(SUBMAKE) build $(GRPC_LOAD) $(WS_LOAD) $(KIND_LOADS)
	$(Q)BUILD=$(BUILD) BEFORE=$(BEFORE) bench/fair_workers.sh

# Issue 15's benchmarks alone: pfgate vs grpc-go and grpc-js, both client modes, latency at 5,000/s.
bench-grpc-go: deps
	$(Q)$(SUBMAKE) build $(BUILD)/bench/grpc_uniform_load
	$(Q)BUILD=$(BUILD) bench/grpc_go_peer.sh

soak: deps
	$(Q)$(SUBMAKE) build
	$(Q)/usr/bin/python3 tools/soak.py $(PFGATE) --seconds $(SOAK_SECONDS)

valgrind: deps
	$(Q)$(SUBMAKE) build
	$(Q)tests/valgrind.sh $(PFGATE)

fuzz: deps
	$(Q)$(SUBMAKE) $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/work-$$t; \
		echo "== fuzz $$t for $(FUZZ_TIME) s"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=10 -print_final_stats=1 \
			build/fuzz/work-$$t tests/fuzz/corpus/$$t 2>&1 | grep -E '^(stat::number_of_executed_units|==|SUMMARY)|ERROR' ; \
		[ $${PIPESTATUS[0]} -eq 0 ] || exit 1; \
	done

clean:
	rm -rf build

# ---- install ---------------------------------------------------------------

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, its page, its man
# page, the systemd unit and its environment file, whose paths (@BINDIR@,
# @WEBDIR@...) are filled in for PREFIX. The environment file is in /etc/default
# whatever PREFIX, where the unit reads it; the unit goes where systemd looks
# for it under PREFIX (/lib/systemd/system for /usr, as Debian 12 packages do).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
WEBDIR     ?= $(DATADIR)/pfgate/web
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
DEFAULTDIR ?= /etc/default
WEB_FILES  := $(wildcard web/*)
# The binary installed; tests/integration/test_install.py names the one it tests.
PFGATE_BIN ?= $(PFGATE)
INSTALL_SED := -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@WEBDIR@|$(WEBDIR)|g' \
               -e 's|@UNITDIR@|$(UNITDIR)|g' -e 's|@VERSION@|$(VERSION)|g'

.PHONY: install uninstall deb test-deb

install: $(PFGATE_BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(WEBDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DEFAULTDIR)
	install -m 755 $(PFGATE_BIN) $(DESTDIR)$(BINDIR)/pfgate
	install -m 644 $(WEB_FILES) $(DESTDIR)$(WEBDIR)/
	sed $(INSTALL_SED) deploy/pfgate.1 > $(DESTDIR)$(MANDIR)/man1/pfgate.1
	sed $(INSTALL_SED) deploy/pfgate.service > $(DESTDIR)$(UNITDIR)/pfgate.service
	chmod 644 $(DESTDIR)$(MANDIR)/man1/pfgate.1 $(DESTDIR)$(UNITDIR)/pfgate.service
	@# An environment file already there is the administrator's: kept.
	@if [ -e $(DESTDIR)$(DEFAULTDIR)/pfgate ]; then \
		echo "kept $(DESTDIR)$(DEFAULTDIR)/pfgate"; \
	else \
		echo "sed ... deploy/pfgate.default > $(DESTDIR)$(DEFAULTDIR)/pfgate"; \
		sed $(INSTALL_SED) deploy/pfgate.default > $(DESTDIR)$(DEFAULTDIR)/pfgate && \
		chmod 644 $(DESTDIR)$(DEFAULTDIR)/pfgate; \
	fi

# Removes what install installed; an environment file that was edited stays.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pfgate $(DESTDIR)$(MANDIR)/man1/pfgate.1 \
		$(DESTDIR)$(UNITDIR)/pfgate.service $(addprefix $(DESTDIR)$(WEBDIR)/,$(notdir $(WEB_FILES)))
	-rmdir $(DESTDIR)$(WEBDIR) $(DESTDIR)$(DATADIR)/pfgate
	@f=$(DESTDIR)$(DEFAULTDIR)/pfgate; \
	if [ -e $$f ] && sed $(INSTALL_SED) deploy/pfgate.default | cmp -s - $$f; then \
		echo "rm -f $$f"; rm -f $$f; \
	elif [ -e $$f ]; then echo "kept $$f: it was edited"; fi

# make deb: $(BUILD)/pfgate_$(VERSION)_ARCH.deb of `make install PREFIX=/usr`
# (tools/build-deb.sh, deploy/debian/).
deb:
	$(Q)tools/install-deps.sh deb
	$(Q)$(SUBMAKE) $(PFGATE)
	$(Q)rm -rf $(BUILD)/deb
	$(Q)$(SUBMAKE) install PREFIX=/usr DESTDIR=$(BUILD)/deb/debian/pfgate >/dev/null
	$(Q)VERSION=$(VERSION) ARCH=$$(dpkg --print-architecture) STATIC_LIBS="$(PFGATE_STATIC)" \
		tools/build-deb.sh $(BUILD)/deb $(BUILD)/pfgate_$(VERSION)_$$(dpkg --print-architecture).deb

# The package installed, run and purged on this machine (as root; a fresh Debian 12
# root is where it means something: tests/deb/install-test.sh says how).
test-deb:
	$(Q)tests/deb/install-test.sh

# ---- rules -----------------------------------------------------------------

# The core is built with only -Icore, so that it cannot reach a network header.
$(BUILD)/core/%.o: core/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -Icore -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	$(call quiet,AR,$@)$(AR) rcs $@ $^

.SECONDARY:
$(BUILD)/proto/%.pb-c.c: proto/%.proto
	@mkdir -p $(@D)
	$(call quiet,PROTOC,$<)protoc-c --proto_path=proto --c_out=$(@D) $<

$(BUILD)/proto/google/protobuf/descriptor.pb-c.c: $(DESCRIPTOR_PROTO)
	@mkdir -p $(@D)
	$(call quiet,PROTOC,$<)protoc-c --proto_path=/usr/include --c_out=$(BUILD)/proto $<

$(BUILD)/proto/descriptors.pb: $(PROTOS)
	@mkdir -p $(@D)
	$(call quiet,PROTOC,$@)protoc --include_imports --descriptor_set_out=$@ --proto_path=proto $^

$(BUILD)/proto/descriptors.c: $(BUILD)/proto/descriptors.pb
	$(call quiet,GEN,$@){ echo '#include "descriptors.h"'; \
		echo 'const unsigned char pf_descriptors[] = {'; \
		od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
		echo '};'; echo 'const size_t pf_descriptors_len = sizeof(pf_descriptors);'; } > $@

$(BUILD)/docs/openapi_json.c: $(OPENAPI) VERSION
	@mkdir -p $(@D)
	$(call quiet,GEN,$@){ echo '#include "openapi.h"'; \
		echo 'const unsigned char pf_openapi_json[] = {'; \
		sed 's/@VERSION@/$(VERSION)/' $< | od -An -v -tx1 | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
		echo '};'; echo 'const size_t pf_openapi_json_len = sizeof(pf_openapi_json);'; } > $@.tmp && \
		mv $@.tmp $@

$(OPENAPI_OBJ): $(BUILD)/docs/openapi_json.c
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -Igateway/http -c $< -o $@

$(BUILD)/proto/%.o: $(BUILD)/proto/%.c
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -I$(BUILD)/proto -Igateway/grpc -c $< -o $@

# A front sees the process (gateway/), its own folder and the core; not the other front.
$(BUILD)/gateway/%.o: gateway/%.c | $(PROTO_C)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -DPF_VERSION='"$(VERSION)"' \
		-Igateway -I$(<D) -Icore -I$(BUILD)/proto -c $< -o $@

# main.c starts both fronts.
$(BUILD)/gateway/main.o: CFLAGS += $(GATEWAY_INC)

$(PFGATE): $(GATEWAY_OBJ) $(PROTO_OBJ) $(OPENAPI_OBJ) $(CORE_LIB) $(FAULT_OBJ) $(STARTUP_LD)
	$(call quiet,LD,$@)$(CC) $(LDFLAGS) $(FAULT_WRAP) $(filter-out %.ld,$^) $(PFGATE_LIBS) -o $@

$(BUILD)/pfgate.ld: tools/startup-text.list
	@mkdir -p $(@D)
	$(call quiet,GEN,$@)$(CC) -Wl,--verbose -nostdlib -x c /dev/null -o /dev/null 2>/dev/null | \
		awk -v list=$< 'f && /^=+$$/ { exit } \
			f && /^ +\*\(\.text\.unlikely / { while ((getline l < list) > 0) print "    " l; n++ } \
			f { print } /^=+$$/ { f = 1 } END { exit n != 1 }' > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/fault/%.o: tests/fault/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -Icore -c $< -o $@

$(PFFACTOR): $(BUILD)/tools/pffactor.o $(CORE_LIB)
	$(call quiet,LD,$@)$(CC) $(LDFLAGS) $^ -o $@

$(BUILD)/bench/%.o: bench/%.c | $(PROTO_C)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -Icore $(GATEWAY_INC) -I$(BUILD)/proto \
		-c $< -o $@

$(GRPC_LOAD): $(BUILD)/bench/grpc_load.o $(BUILD)/gateway/grpc/pb_codec.o $(BUILD)/proto/primefactor.pb-c.o
	$(call quiet,LD,$@)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(WS_LOAD): bench/ws_load.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $< $(LDFLAGS) $(PKG_LIBS) -o $@

$(BUILD)/bench/grpc_%_load: $(BUILD)/bench/grpc_%_load.o $(BUILD)/gateway/grpc/pb_codec.o \
		$(BUILD)/proto/primefactor.pb-c.o
	$(call quiet,LD,$@)$(CC) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/bench/ws_%_load: bench/ws_%_load.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $< $(LDFLAGS) $(PKG_LIBS) -o $@

$(BUILD)/tests/%.o: tests/unit/%.c | $(PROTO_C)
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -Icore $(GATEWAY_INC) -I$(BUILD)/proto \
		-c $< -o $@

# tests/unit/test_X.c tests core/X.c, or X.c in a gateway folder and then links its object;
# test_X_USES names the other gateway files it needs, test_X_OBJS other objects,
# test_X_LDFLAGS its own link flags.
gateway_obj_of = $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(addsuffix /$(1).c,$(GATEWAY_DIRS))))
# The accept loop on a real grpc server; --wrap: its system calls seen and failed on purpose.
test_grpc_listener_USES := config grpc_151 grpc_relay grpc_tls grpc_conns h2_guard accept_guard listen \
                           log metrics bytes health clock tls access_log
test_grpc_listener_LDFLAGS := -pthread \
    -Wl,--wrap=epoll_wait,--wrap=close,--wrap=ioctl,--wrap=accept4,--wrap=socketpair
# The codec's jansson allocations, counted and failed as the fault build does.
test_json_codec_LDFLAGS := -Wl,--wrap=malloc
test_grpc_relay_USES := h2_guard grpc_tls tls log clock
test_grpc_service_USES := grpc_call health log clock access_log grpc_conns
test_access_log_USES := log clock
test_pb_codec_OBJS := $(BUILD)/proto/primefactor.pb-c.o
test_scheduler_LDFLAGS := -pthread
# The unit tests that link no gateway object: what SANITIZE=thread builds and runs.
links_gateway = $(call gateway_obj_of,$(1))$(test_$(1)_USES)
CORE_UNIT_BIN := $(foreach x,$(UNIT_SRC:tests/unit/test_%.c=%),\
                   $(if $(call links_gateway,$(x)),,$(BUILD)/tests/test_$(x)))
ifeq ($(SANITIZE),thread)
build: $(CORE_UNIT_BIN)
endif
.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $$(call gateway_obj_of,$$*) \
		$$(foreach u,$$(test_$$*_USES),$$(call gateway_obj_of,$$(u))) $$(test_$$*_OBJS) $(CORE_LIB)
	$(call quiet,LD,$@)$(CC) $(LDFLAGS) $(test_$*_LDFLAGS) $^ -lcmocka $(PKG_LIBS) -o $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Fuzz targets: clang with libFuzzer, each with the core and the file it fuzzes.
fuzz_json_request_SRC := gateway/http/json_codec.c
fuzz_pb_request_SRC   := gateway/grpc/pb_codec.c $(BUILD)/proto/primefactor.pb-c.c
fuzz_http_route_SRC   := gateway/http/http_router.c
fuzz_parse_i64_SRC    :=
fuzz_h2_guard_SRC     := gateway/grpc/h2_guard.c

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC) $$(fuzz_$$*_SRC) | $(PROTO_C)
	@mkdir -p $(@D)
	$(call quiet,FUZZCC,$@)$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 \
		-fsanitize=fuzzer,address,undefined -Icore $(GATEWAY_INC) -I$(BUILD)/proto $(PKG_CFLAGS) \
		$(filter %.c,$^) $(PKG_LIBS) -o $@
