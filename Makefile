# SPDX-License-Identifier: MIT
# Banter - one plain Makefile. `make` builds everything; `make help` lists targets.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(PREFIX)/share/pkgconfig
PLUGINDIR ?= $(PREFIX)/lib/banter/plugins
DESTDIR ?=
CC      ?= cc
FUZZCC  ?= clang
FUZZ_SECONDS ?= 60
SANITIZE ?= address,undefined

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS_SHARED := libsodium libcjson sqlite3
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS_SHARED) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS_SHARED) 2>/dev/null) -lresolv -lm

WARN   := -Wall -Wextra -Werror -Wshadow -Wconversion -Wstrict-prototypes \
          -Wmissing-prototypes -Wformat=2 -Wvla
CSTD   := -std=c17 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(CPPFLAGS) $(WARN) $(CFLAGS) -iquote shared $(PKG_CFLAGS) -MMD -MP
SAN_FLAGS  = -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all

SHARED_SRC := $(sort $(wildcard shared/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC  := $(sort $(wildcard bench/bench_*.c))

REL  := build/rel
ASAN := build/asan
FUZZ := build/fuzz

LIB_REL  := $(REL)/libbanter.a
LIB_ASAN := $(ASAN)/libbanter.a

PKGS_PEER   := glib-2.0 gio-2.0 gio-unix-2.0 avahi-client sqlite3 libsoup-3.0 nice
PEER_CFLAGS  = $(shell pkg-config --cflags $(PKGS_PEER) 2>/dev/null)
PEER_LIBS    = $(shell pkg-config --libs $(PKGS_PEER) 2>/dev/null)

PKGS_RDV     := libuv sqlite3 nettle libpq
RDV_CFLAGS    = $(shell pkg-config --cflags $(PKGS_RDV) 2>/dev/null)
RDV_LIBS      = $(shell pkg-config --libs $(PKGS_RDV) 2>/dev/null)

# Programs: each exists once its folder has sources.
# peer/net/ice.c and icestream.c (libnice) are in bin/banter (the "ice"
# route) and also built alone for the NAT lab's tools (see "netlab tools").
ICE_NET_SRC    := peer/net/ice.c peer/net/icestream.c
PEER_SRC       := $(sort $(wildcard peer/*.c peer/*/*.c))
RENDEZVOUS_SRC := $(sort $(wildcard rendezvous/*.c))
ADMIN_SRC      := $(sort $(wildcard admin/*.c))
PLUGHOST_SRC   := $(sort $(wildcard peer/plugin/host/*.c))
# Gateways shipped as plug-ins (peer/plugin/gateways/NAME.c -> NAME.so).
GATEWAYS       := $(patsubst peer/plugin/gateways/%.c,$(REL)/plugins/%.so,\
                    $(sort $(wildcard peer/plugin/gateways/*.c)))
PROGRAMS := $(if $(PEER_SRC),bin/banter bin/banter-node) $(if $(RENDEZVOUS_SRC),bin/banter-rendezvous) \
            $(if $(ADMIN_SRC),bin/banter-admin) $(if $(PLUGHOST_SRC),bin/banter-plugin-host)
MANPAGES := $(wildcard docs/man/*.1)

# The web interface's files (peer/ui/web/), embedded by glib-compile-resources
# into a generated C file under build/gen.
GEN          := build/gen
WEB_XML      := $(wildcard peer/ui/web/web.gresource.xml)
WEB_ASSETS   := $(sort $(wildcard peer/ui/web/*.html peer/ui/web/*.js peer/ui/web/*.css peer/ui/web/*.svg))
WEB_GEN      := $(if $(WEB_XML),$(GEN)/web_res.c)

# The node's code (also linked into the unit tests), the node program
# banter-node, and the client banter: its commands, the control-socket
# client and the two pure helpers they need (no GLib, libsoup, libnice,
# Avahi or SQLite: a `banter send` starts in a few milliseconds; `banter
# node` becomes banter-node, peer/cmd/cmd_node_exec.c).
PEER_LIB_SRC := $(filter-out peer/main.c peer/node_main.c peer/front.c peer/cli.c peer/cmd/%.c,$(PEER_SRC))
PEER_NODE_SRC := $(if $(PEER_SRC),peer/node_main.c peer/front.c peer/cmd/cmd_node.c) $(PEER_LIB_SRC)
PEER_CLI_SRC := $(if $(PEER_SRC),peer/main.c peer/front.c peer/cli.c peer/core/home.c peer/rdv/fields.c) \
                $(filter-out peer/cmd/cmd_node.c,$(filter peer/cmd/%.c,$(PEER_SRC)))
PEER_OBJ_REL  := $(PEER_NODE_SRC:%.c=$(REL)/%.o) $(WEB_GEN:$(GEN)/%.c=$(REL)/gen/%.o)
PEER_OBJ_ASAN := $(PEER_NODE_SRC:%.c=$(ASAN)/%.o) $(WEB_GEN:$(GEN)/%.c=$(ASAN)/gen/%.o)
CLI_OBJ_REL   := $(PEER_CLI_SRC:%.c=$(REL)/%.o)
CLI_OBJ_ASAN  := $(PEER_CLI_SRC:%.c=$(ASAN)/%.o)
CLI_LIBS       = $(shell pkg-config --libs libsodium libcjson 2>/dev/null) -lm
PEER_LIBOBJ_ASAN := $(PEER_LIB_SRC:%.c=$(ASAN)/%.o) $(WEB_GEN:$(GEN)/%.c=$(ASAN)/gen/%.o)
RDV_LIB_SRC   := $(filter-out rendezvous/main.c,$(RENDEZVOUS_SRC))
RDV_OBJ_REL   := $(RENDEZVOUS_SRC:%.c=$(REL)/%.o)
RDV_OBJ_ASAN  := $(RENDEZVOUS_SRC:%.c=$(ASAN)/%.o)
RDV_LIBOBJ_ASAN := $(RDV_LIB_SRC:%.c=$(ASAN)/%.o)
ADMIN_OBJ_REL  := $(ADMIN_SRC:%.c=$(REL)/%.o)
ADMIN_OBJ_ASAN := $(ADMIN_SRC:%.c=$(ASAN)/%.o)
INTEG_SRC  := $(sort $(wildcard tests/integration/test_*.sh))
# The rendezvous suite runs on both backends: every integration test that
# sources rdv_lib.sh runs a second time with RDV_DB=postgresql (the same
# test on a throwaway PostgreSQL, tests/integration/rdv_lib.sh; named
# NAME@pg in the output), so a new rendezvous test is on both at once.
# test_cluster_pg.sh and the db unit tests (test_rendezvous_pg.sh) cover
# what only PostgreSQL has. A test that cannot run on PostgreSQL goes in
# RDV_PG_EXCLUDE with a comment saying why.
# test_admin_disk.sh: backups on a full disk are SQLite's (on PostgreSQL
# `backup` is refused, pg_dump's job: test_admin.sh checks that on both).
RDV_PG_EXCLUDE := test_admin_disk.sh
RDV_PG_TESTS := $(filter-out $(addprefix tests/integration/,$(RDV_PG_EXCLUDE)), \
                  $(shell grep -l '^\. "$$here/rdv_lib\.sh"' $(INTEG_SRC) /dev/null))
# Tests run TEST_JOBS at a time (tests/run.sh: "# test: serial" scripts
# alone, the others longest first); `make test TEST_JOBS=1` runs one at a
# time.
TEST_JOBS ?= 3
ASAN_PROGRAMS := $(if $(PEER_SRC),$(ASAN)/banter $(ASAN)/banter-node) \
                 $(if $(RENDEZVOUS_SRC),$(ASAN)/banter-rendezvous) \
                 $(if $(ADMIN_SRC),$(ASAN)/banter-admin)

UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(ASAN)/tests/%)
REPLAY_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(ASAN)/tests/replay_%)
FUZZ_BINS  := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ)/%)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(REL)/%)

.PHONY: FORCE all lib test test-run check deps deps-check run demo fuzz bench bench-cluster bench-xinst lint install deb deb-lint \
        uninstall clean help format screenshots

all: lib $(PROGRAMS) $(GATEWAYS)

lib: $(LIB_REL)

help:
	@echo "make            build libbanter.a and every program into bin/"
	@echo "make run        install what is missing, build, start a node"
	@echo "make test       build and run all tests under ASan+UBSan"
	@echo "make demo       three nodes in network namespaces find each other and chat"
	@echo "make deps       install the Debian packages (as root)"
	@echo "make lint       clang-format check, cppcheck, banned functions"
	@echo "make fuzz       run each libFuzzer target FUZZ_SECONDS (default 60)"
	@echo "make bench      benchmarks, as ratios against baselines from the same run"
	@echo "make bench-cluster  100,000 rendezvous connections across instances (docs/cluster.md)"
	@echo "make screenshots  pictures of the web interface into docs/screenshots (root)"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)"

# ---- library ----
$(REL)/shared/%.o: shared/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(ASAN)/shared/%.o: shared/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC+SAN  $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(LIB_REL): $(SHARED_SRC:shared/%.c=$(REL)/shared/%.o)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_ASAN): $(SHARED_SRC:shared/%.c=$(ASAN)/shared/%.o)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# ---- programs ----
$(REL)/peer/%.o: peer/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(PEER_CFLAGS) -iquote peer -iquote $(GEN) -c $< -o $@

$(ASAN)/peer/%.o: peer/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC+SAN  $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(PEER_CFLAGS) -iquote peer -iquote $(GEN) -c $< -o $@

# The embedded web interface: generated code, compiled without the warning
# flags (it is not ours to fix).
$(GEN)/web_res.c: $(WEB_XML) $(WEB_ASSETS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)glib-compile-resources --sourcedir=peer/ui/web --generate-source --c-name banter_web \
	    --target=$@ $<

$(GEN)/web_res.h: $(WEB_XML)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)glib-compile-resources --sourcedir=peer/ui/web --generate-header --c-name banter_web \
	    --target=$@ $<

$(REL)/peer/ui/web.o $(ASAN)/peer/ui/web.o: $(GEN)/web_res.h

$(REL)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CSTD) $(CFLAGS) -w $(PEER_CFLAGS) -c $< -o $@

$(ASAN)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC+SAN  $<")
	$(Q)$(CC) $(CSTD) $(SAN_FLAGS) -w $(PEER_CFLAGS) -c $< -o $@

# banter runs banter-node from its own folder: one is not built without
# the other.
bin/banter: $(CLI_OBJ_REL) $(LIB_REL) | bin/banter-node
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

bin/banter-node: $(PEER_OBJ_REL) $(LIB_REL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(PEER_LIBS)

$(ASAN)/banter: $(CLI_OBJ_ASAN) $(LIB_ASAN) | $(ASAN)/banter-node
	@$(if $(Q),echo "  LD+SAN  $@")
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(CLI_LIBS)

$(ASAN)/banter-node: $(PEER_OBJ_ASAN) $(LIB_ASAN)
	@$(if $(Q),echo "  LD+SAN  $@")
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(PEER_LIBS)

# banter-plugin-host: one plug-in per process (peer/plugin/host/, docs/plugins.md).
# Built without sanitizers only: the node bounds its address space with
# RLIMIT_AS, which ASan's shadow memory cannot live under, and the plug-ins
# it loads are plain shared objects.
bin/banter-plugin-host: $(PLUGHOST_SRC:%.c=$(REL)/%.o) $(LIB_REL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -ldl

$(REL)/plugins/%.so: peer/plugin/gateways/%.c shared/banter_plugin.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PLUGIN  $@")
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -iquote shared -shared -fPIC $< -o $@

# The e-mail and SMS gateways count what each person sends (shared/gwrate.c);
# the e-mail gateway writes and reads its mail with shared/mailmsg.c
# (unit-tested, fuzzed) and utf8.c.
MAIL_SRC := shared/mailmsg.c shared/utf8.c shared/gwrate.c shared/gwtext.c
$(REL)/plugins/mail.so: peer/plugin/gateways/mail.c $(MAIL_SRC) shared/mailmsg.h shared/gwrate.h \
                        shared/gwtext.h shared/utf8.h shared/banter_plugin.h shared/error.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PLUGIN  $@")
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -iquote shared -shared -fPIC $< $(MAIL_SRC) -o $@

# The SMS gateway also carries its HTTP reader (shared/smshttp.c, fuzzed).
$(REL)/plugins/sms.so: peer/plugin/gateways/sms.c shared/smshttp.c shared/utf8.c shared/gwrate.c \
                       shared/gwtext.c shared/gwtext.h shared/smshttp.h shared/banter_plugin.h shared/banter_limits.h shared/gwrate.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PLUGIN  $@")
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -iquote shared -shared -fPIC \
	    peer/plugin/gateways/sms.c shared/smshttp.c shared/utf8.c shared/gwrate.c shared/gwtext.c -o $@

# The XMPP gateway also has its stream parser (peer/plugin/xmpp/xstream.c,
# over expat) and nettle's SHA-1 for the component handshake; the parser
# has its own fuzz target and replay, built with it.
XSTREAM_SRC  := peer/plugin/xmpp/xstream.c
EXPAT_CFLAGS  = $(shell pkg-config --cflags expat 2>/dev/null)
EXPAT_LIBS    = $(shell pkg-config --libs expat 2>/dev/null)
$(REL)/plugins/xmpp.so: peer/plugin/gateways/xmpp.c $(XSTREAM_SRC) peer/plugin/xmpp/xstream.h \
                        shared/gwtext.c shared/gwtext.h shared/banter_plugin.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PLUGIN  $@")
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -iquote shared -iquote peer/plugin/xmpp $(EXPAT_CFLAGS) \
	    -shared -fPIC $< $(XSTREAM_SRC) shared/gwtext.c -o $@ $(EXPAT_LIBS) $(shell pkg-config --libs nettle)

$(FUZZ)/fuzz_xstream: tests/fuzz/fuzz_xstream.c $(XSTREAM_SRC) peer/plugin/xmpp/xstream.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZCC) $(CSTD) -g -O1 -iquote peer/plugin/xmpp $(EXPAT_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined $< $(XSTREAM_SRC) -o $@ $(EXPAT_LIBS)

$(ASAN)/tests/replay_fuzz_xstream: tests/fuzz/fuzz_xstream.c tests/fuzz/replay.c $(XSTREAM_SRC) \
                                   peer/plugin/xmpp/xstream.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  REPLAY  $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -iquote peer/plugin/xmpp $(EXPAT_CFLAGS) $< \
	    tests/fuzz/replay.c $(XSTREAM_SRC) -o $@ $(EXPAT_LIBS)

$(ASAN)/tests/test_xstream: tests/unit/test_xstream.c $(XSTREAM_SRC) peer/plugin/xmpp/xstream.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -iquote peer/plugin/xmpp $(EXPAT_CFLAGS) \
	    $(shell pkg-config --cflags cmocka) $< $(XSTREAM_SRC) -o $@ $(EXPAT_LIBS) \
	    $(shell pkg-config --libs cmocka)

# Plug-ins for the tests: the example bot and the misbehaving ones
# (tests/plugins/bad.c, one per -DBAD_*), plain shared objects.
TEST_PLUGINS := $(REL)/tests/plugins/echo.so $(REL)/tests/plugins/segv.so \
                $(REL)/tests/plugins/spin.so $(REL)/tests/plugins/hog.so \
                $(REL)/tests/plugins/abi2.so $(REL)/tests/plugins/greedy.so \
                $(REL)/tests/plugins/forge.so $(REL)/tests/plugins/minor.so \
                $(REL)/tests/plugins/audit.so
$(REL)/tests/plugins/echo.so: examples/echo/echo.c shared/banter_plugin.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PLUGIN  $@")
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -Ishared -shared -fPIC $< -o $@

$(REL)/tests/plugins/%.so: tests/plugins/bad.c shared/banter_plugin.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PLUGIN  $@")
	$(Q)$(CC) $(CSTD) $(WARN) -Wno-unused-function -Wno-unused-variable $(CFLAGS) -iquote shared \
	    -DBAD_$$(echo $* | tr a-z A-Z) -shared -fPIC $< -o $@

$(REL)/rendezvous/%.o: rendezvous/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(RDV_CFLAGS) -iquote rendezvous -c $< -o $@

$(ASAN)/rendezvous/%.o: rendezvous/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC+SAN  $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(RDV_CFLAGS) -iquote rendezvous -c $< -o $@

bin/banter-rendezvous: $(RDV_OBJ_REL) $(LIB_REL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(RDV_LIBS)

$(ASAN)/banter-rendezvous: $(RDV_OBJ_ASAN) $(LIB_ASAN)
	@$(if $(Q),echo "  LD+SAN  $@")
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(RDV_LIBS)

# banter-admin: a short-lived client (admin/), libbanter only.
$(REL)/admin/%.o: admin/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -iquote admin -c $< -o $@

$(ASAN)/admin/%.o: admin/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC+SAN  $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -iquote admin -c $< -o $@

bin/banter-admin: $(ADMIN_OBJ_REL) $(LIB_REL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(ASAN)/banter-admin: $(ADMIN_OBJ_ASAN) $(LIB_ASAN)
	@$(if $(Q),echo "  LD+SAN  $@")
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# ---- tests ----
$(ASAN)/tests/test_rdv_%: tests/unit/test_rdv_%.c $(RDV_LIBOBJ_ASAN) $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(RDV_CFLAGS) -iquote rendezvous \
	    $(shell pkg-config --cflags cmocka) -DTEST_DATA_DIR='"$(CURDIR)/tests"' \
	    $< -o $@ $(RDV_LIBOBJ_ASAN) $(LIB_ASAN) $(PKG_LIBS) $(RDV_LIBS) \
	    $(shell pkg-config --libs cmocka)

$(ASAN)/tests/test_peer_%: tests/unit/test_peer_%.c $(PEER_LIBOBJ_ASAN) $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(PEER_CFLAGS) -iquote peer \
	    $(shell pkg-config --cflags cmocka) -DTEST_DATA_DIR='"$(CURDIR)/tests"' \
	    $< -o $@ $(PEER_LIBOBJ_ASAN) $(LIB_ASAN) $(PKG_LIBS) $(PEER_LIBS) \
	    $(shell pkg-config --libs cmocka)

$(ASAN)/tests/%: tests/unit/%.c $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(shell pkg-config --cflags cmocka) \
	    -DTEST_DATA_DIR='"$(CURDIR)/tests"' $< -o $@ $(LIB_ASAN) $(PKG_LIBS) \
	    $(shell pkg-config --libs cmocka)

$(ASAN)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  REPLAY  $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $< tests/fuzz/replay.c -o $@ $(LIB_ASAN) $(PKG_LIBS)

# ---- netlab tools (tests/netlab/: simulated WAN and NAT topologies) ----
# build/rel/tests/wanline   the user-space delay/loss/rate line (tests/netlab/wanline.c)
# build/rel/tests/tcpcopy   a plain kernel TCP copy, the baseline it is measured against
# Used by tests/integration/nat_lib.sh and bench/bench_ice.sh; optimised, no
# sanitizers (they are measuring instruments), built by `make test` and `make bench`.
# build/rel/tests/ice_probe  one libnice agent: connect through a topology, report the
#                           pair, measure the streams docs/ice.md compares
# build/rel/tests/ice_peer   the product's path: peer/net/ice + shared/icecand +
#                           peer/net/icestream, end to end (bench_ice.sh, test_netlab.sh)
NETLAB_TOOLS := $(REL)/tests/wanline $(REL)/tests/tcpcopy $(REL)/tests/ice_probe \
                $(REL)/tests/ice_peer
PKGS_ICE    := glib-2.0 gio-2.0 nice usrsctp
ICE_CFLAGS   = $(shell pkg-config --cflags $(PKGS_ICE) 2>/dev/null)
ICE_LIBS     = $(shell pkg-config --libs $(PKGS_ICE) 2>/dev/null)

$(REL)/tests/wanline: tests/netlab/wanline.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NETLAB  $@")
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -MMD -MP $< -o $@ -lpthread

# peer/net/ice.c, icestream.c: the ICE agent wrapper and the stream over it
# (libnice, GLib), part of bin/banter; the tools link their objects alone.
$(REL)/tests/ice_probe $(REL)/tests/ice_peer: $(REL)/tests/%: tests/netlab/%.c \
    $(ICE_NET_SRC:%.c=$(REL)/%.o) $(LIB_REL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NETLAB  $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ICE_CFLAGS) -iquote peer/net $< -o $@ \
	    $(ICE_NET_SRC:%.c=$(REL)/%.o) $(LIB_REL) $(PKG_LIBS) $(ICE_LIBS)

$(REL)/tests/tcpcopy: tests/netlab/tcpcopy.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  NETLAB  $@")
	$(Q)$(CC) $(CSTD) $(WARN) $(CFLAGS) -MMD -MP $< -o $@

# `make test` first makes sure the packages are there (installing them as root).
test: deps-check
	$(Q)$(MAKE) --no-print-directory test-run

check: test

# The mDNS probe of tests/integration/test_mdns.sh (and the flooding neighbour
# of test_mdns_flood.sh), with the sanitizers.
$(ASAN)/tests/mdns_probe: tests/integration/mdns_probe.c $(ASAN)/peer/net/mdns.o \
                          $(ASAN)/peer/net/avahipoll.o $(ASAN)/peer/net/evloop.o $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PROBE   $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(PEER_CFLAGS) -iquote peer \
	    $(filter %.c %.o %.a,$^) -o $@ \
	    $(PKG_LIBS) $(PEER_LIBS)

# The client side the test tools below share (dialing, a session pumped to
# its next event).
TNET := tests/integration/tnet.c tests/integration/tnet.h

# The hostile peer of tests/integration/test_transfer.sh, with the sanitizers.
$(ASAN)/tests/evil_peer: tests/integration/evil_peer.c $(TNET) $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  EVIL    $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $< tests/integration/tnet.c -o $@ $(LIB_ASAN) $(PKG_LIBS)

# The scripted LAN peer of the node's tests (well-behaved or hostile).
$(ASAN)/tests/peer_probe: tests/integration/peer_probe.c $(TNET) $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PROBE   $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $< tests/integration/tnet.c -o $@ $(LIB_ASAN) $(PKG_LIBS)

# Many LAN connections at once (tests/integration/test_node_limits.sh).
$(ASAN)/tests/peer_swarm: tests/integration/peer_swarm.c $(TNET) $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PROBE   $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $< tests/integration/tnet.c -o $@ $(LIB_ASAN) $(PKG_LIBS)

# The scripted client of tests/integration/test_rendezvous_basic.sh.
$(ASAN)/tests/rdv_probe: tests/integration/rdv_probe.c $(TNET) $(LIB_ASAN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  PROBE   $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $< tests/integration/tnet.c -o $@ $(LIB_ASAN) $(PKG_LIBS)

TEST_TOOLS := $(NETLAB_TOOLS) $(if $(PLUGHOST_SRC),bin/banter-plugin-host $(TEST_PLUGINS)) \
              $(if $(PEER_SRC),$(ASAN)/tests/mdns_probe $(ASAN)/tests/evil_peer \
                $(ASAN)/tests/peer_probe $(ASAN)/tests/peer_swarm) \
              $(if $(RENDEZVOUS_SRC),$(ASAN)/tests/rdv_probe $(REL)/bench_rtt)

# test_rdv_pg needs a PostgreSQL server: test_rendezvous_pg.sh makes one and
# runs it (alone it would only say "skipped").
PG_UNIT_BINS := $(ASAN)/tests/test_rdv_pg $(ASAN)/tests/test_rdv_cluster

test-run: $(UNIT_BINS) $(REPLAY_BINS) $(ASAN_PROGRAMS) $(TEST_TOOLS) all
	$(Q)BANTER_BIN=$(CURDIR)/$(ASAN)/banter MDNS_PROBE=$(CURDIR)/$(ASAN)/tests/mdns_probe \
	    EVIL_PEER=$(CURDIR)/$(ASAN)/tests/evil_peer PEER_PROBE=$(CURDIR)/$(ASAN)/tests/peer_probe \
	    PEER_SWARM=$(CURDIR)/$(ASAN)/tests/peer_swarm \
	    RDV_BIN=$(CURDIR)/$(ASAN)/banter-rendezvous RDV_PROBE=$(CURDIR)/$(ASAN)/tests/rdv_probe \
	    ADMIN_BIN=$(CURDIR)/$(ASAN)/banter-admin BENCH_RTT=$(CURDIR)/$(REL)/bench_rtt \
	    PLUGIN_HOST=$(CURDIR)/bin/banter-plugin-host PLUGIN_DIR=$(CURDIR)/$(REL)/tests/plugins \
	    GATEWAY_DIR=$(CURDIR)/$(REL)/plugins RDV_PG_TEST=$(CURDIR)/$(ASAN)/tests/test_rdv_pg \
	    RDV_CLUSTER_TEST=$(CURDIR)/$(ASAN)/tests/test_rdv_cluster TEST_JOBS=$(TEST_JOBS) \
	    tests/run.sh $(filter-out $(PG_UNIT_BINS),$(UNIT_BINS)) $(REPLAY_BINS) $(INTEG_SRC) \
	    $(addprefix pg:,$(RDV_PG_TESTS))

# Pictures of the web interface for the README: tests/integration/test_web.sh
# keeps them in docs/screenshots instead of build/screenshots.
screenshots: deps-check $(ASAN)/banter $(ASAN)/banter-rendezvous
	$(Q)WEB_SHOTS=$(CURDIR)/docs/screenshots BANTER_BIN=$(CURDIR)/$(ASAN)/banter \
	    RDV_BIN=$(CURDIR)/$(ASAN)/banter-rendezvous bash tests/integration/test_web.sh

# ---- fuzzing (clang + libFuzzer) ----
$(FUZZ)/%: tests/fuzz/%.c $(SHARED_SRC)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZCC) $(CSTD) -g -O1 -iquote shared $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    $< $(SHARED_SRC) -o $@ $(PKG_LIBS)

fuzz: deps-check $(FUZZ_BINS)
	$(Q)set -e; for f in $(FUZZ_BINS); do \
	    name=$$(basename $$f); mkdir -p $(FUZZ)/corpus/$$name; \
	    echo "== $$name for $(FUZZ_SECONDS) s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ)/crash-$$name- \
	        $(FUZZ)/corpus/$$name tests/fuzz/corpus/$$name 2>&1 | \
	        grep -E 'stat::number_of_executed_units|Done|ERROR|SUMMARY' ; \
	    test $${PIPESTATUS[0]} -eq 0 || { echo "fuzz: $$name found a crash"; exit 1; }; \
	done
fuzz: SHELL := /bin/bash

# ---- benchmarks ----
# bench_rendezvous also fills a PostgreSQL database (BENCH_RDV_PG).
$(REL)/bench_rendezvous: ALL_CFLAGS += $(RDV_CFLAGS)
$(REL)/bench_rendezvous: PKG_LIBS += $(RDV_LIBS)
$(REL)/bench_%: bench/bench_%.c $(LIB_REL)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ $(LIB_REL) $(PKG_LIBS)

bench: deps-check $(BENCH_BINS) $(if $(PEER_SRC),bin/banter) $(if $(RENDEZVOUS_SRC),bin/banter-rendezvous) \
       $(NETLAB_TOOLS)
	$(Q)for b in $(BENCH_BINS); do $$b || exit 1; done
	$(Q)bash bench/bench_node.sh
	$(Q)bash bench/bench_transfer.sh
	$(Q)bash bench/bench_discovery.sh
	$(Q)bash bench/bench_ice.sh
	$(Q)bash bench/bench_nat_nodes.sh

# 100,000 connections across several instances (bench/bench_cluster.sh).
bench-cluster: deps-check $(REL)/bench_rendezvous bin/banter-rendezvous
	$(Q)bash bench/bench_cluster.sh

# Routing between two instances on one PostgreSQL next to one instance's.
bench-xinst: deps-check $(REL)/bench_rendezvous bin/banter-rendezvous
	$(Q)bash bench/bench_xinst.sh

# ---- dependencies ----
deps:
	$(Q)scripts/deps.sh install

deps-check:
	$(Q)scripts/deps.sh ensure

# ---- run ----
run: deps-check
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run.sh

demo: deps-check
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

# ---- lint ----
LINT_FILES := $(sort $(wildcard shared/*.[ch] peer/*.[ch] peer/*/*.[ch] peer/plugin/*/*.[ch] \
              rendezvous/*.[ch] admin/*.[ch] \
              tests/unit/*.c tests/fuzz/*.c tests/integration/*.c tests/netlab/*.c bench/*.c \
              tests/plugins/*.c examples/*/*.c))
lint:
	$(Q)clang-format --dry-run --Werror $(LINT_FILES)
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --std=c11 --inline-suppr --suppress=missingIncludeSystem \
	    --include=scripts/cppcheck.h \
	    -Ishared -Ipeer -Irendezvous -Iadmin shared $(wildcard peer rendezvous admin)
	$(Q)scripts/checksrc.sh $(LINT_FILES)
	$(Q)bad=$$(find tests/integration -name 'test_*.sh' ! -perm -u+x); \
	    if [ -n "$$bad" ]; then echo "lint: not executable (tests/run.sh runs them): $$bad"; exit 1; fi
	@echo "lint: clean"

format:
	$(Q)clang-format -i $(LINT_FILES)

# ---- install ----
# The plug-in ABI: banter_plugin.h and banter-plugin.pc (pkg-config), whose
# paths are the PREFIX given here (DESTDIR only stages the files).
$(GEN)/banter-plugin.pc: Makefile FORCE
	@mkdir -p $(@D)
	$(Q)printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$(INCLUDEDIR)' '' \
	    'Name: banter-plugin' 'Description: Banter plug-in ABI (docs/plugins.md)' \
	    "Version: $$(sed -n 's/^#define BANTER_PLUGIN_ABI_MAJOR *//p' shared/banter_plugin.h).$$(sed -n 's/^#define BANTER_PLUGIN_ABI_MINOR *//p' shared/banter_plugin.h)" \
	    'Cflags: -I$${includedir}' > $@

install: all $(GEN)/banter-plugin.pc
	install -d $(DESTDIR)$(BINDIR)
	$(if $(PROGRAMS),install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/)
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0644 shared/banter_plugin.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 $(GEN)/banter-plugin.pc $(DESTDIR)$(PKGCONFIGDIR)/
	$(if $(GATEWAYS),install -d $(DESTDIR)$(PLUGINDIR))
	$(if $(GATEWAYS),install -m 0644 $(GATEWAYS) $(DESTDIR)$(PLUGINDIR)/)
	$(if $(MANPAGES),install -d $(DESTDIR)$(MANDIR)/man1)
	$(if $(MANPAGES),install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/)

# Debian packages (debian/), built by Debian's own tools in a copy of the
# tree so nothing lands beside the clone: build/deb/*.deb. DEB_VERSION
# rebuilds the same tree as another version (the upgrade test uses it).
DEB_DIR := build/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	tar -c --exclude=./build --exclude=./bin --exclude=./.git --exclude='./node_modules' . | \
	    tar -x -C $(DEB_DIR)/src
	if [ -n "$(DEB_VERSION)" ]; then \
	    sed -i '1s/^banter ([^)]*)/banter ($(DEB_VERSION))/' $(DEB_DIR)/src/debian/changelog; fi
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b -jauto
	rm -rf $(DEB_DIR)/src
	@ls $(DEB_DIR)/*.deb

# lintian on what `make deb` built: errors fail, warnings are printed.
deb-lint:
	lintian --fail-on error $(DEB_DIR)/*.changes

uninstall:
	$(if $(PROGRAMS),rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(PROGRAMS))))
	rm -f $(DESTDIR)$(INCLUDEDIR)/banter_plugin.h $(DESTDIR)$(PKGCONFIGDIR)/banter-plugin.pc
	$(if $(GATEWAYS),rm -f $(addprefix $(DESTDIR)$(PLUGINDIR)/,$(notdir $(GATEWAYS))))
	$(if $(MANPAGES),rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANPAGES))))

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
