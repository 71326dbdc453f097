#!/usr/bin/env bash
# test: seconds 13
# SPDX-License-Identifier: MIT
#
# test_plugins.sh - plug-ins in their own processes (docs/plugins.md), on a
# private namespace LAN (lib.sh): alice in host 1 runs the plug-ins, bob in
# host 2 chats with her.
#   1. The example bot, built out of tree: `make install DESTDIR=...`, then
#      examples/echo built with `pkg-config --cflags banter-plugin` only.
#   2. Bob writes to alice; the echo bot answers, "remind 1 ..." comes back
#      from a timer a second later.
#   3. Misbehaving plug-ins loaded beside it: one segfaults, one spins
#      forever, one allocates without end (each on every message it gets),
#      one was built for ABI 2.0, one writes to a contact it was not given,
#      one writes a frame only the node may send straight to its socket.
#      While they crash and are killed, bob's messages are all delivered and
#      answered; each bad one is shown with its state and last error
#      (signal 11, heartbeat, memory limit, both ABI versions); the segfault
#      is restarted with a growing back-off; the greedy one's messages never
#      reach bob; the forger is killed for a bad message.
#   4. `banter plugins disable echo`: no more answers, remembered on disk;
#      `enable`: answers again; `restart`: fini runs, a new process answers;
#      its key/value storage (the count of messages) survived it all.
#   5. Alice stops: no plug-in host is left running; no sanitizer report.
# Needs root (77 otherwise), pkg-config, jq; $BANTER_BIN (build/asan/banter),
# $PLUGIN_HOST (bin/banter-plugin-host), $PLUGIN_DIR (build/rel/tests/plugins).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
BANTER_BIN=${BANTER_BIN:-$src/build/asan/banter}
PLUGIN_HOST=${PLUGIN_HOST:-$src/bin/banter-plugin-host}
PLUGIN_DIR=${PLUGIN_DIR:-$src/build/rel/tests/plugins}
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
[ -x "$PLUGIN_HOST" ] || t_fail setup "no $PLUGIN_HOST (make bin/banter-plugin-host)"
for p in segv spin hog abi2 greedy forge minor; do
    [ -f "$PLUGIN_DIR/$p.so" ] || t_fail setup "no $PLUGIN_DIR/$p.so (make $PLUGIN_DIR/$p.so)"
done
command -v jq >/dev/null || t_skip "needs jq"
command -v pkg-config >/dev/null || t_skip "needs pkg-config"
export ASAN_OPTIONS=detect_leaks=1
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

net_setup 2

# ---- 1. the example, out of tree ----
stage=$BT_TMP/stage
make --no-print-directory -C "$src" install DESTDIR="$stage" PREFIX=/usr >"$BT_TMP/install.log" 2>&1 ||
    t_fail install "make install failed: $(tail -5 "$BT_TMP/install.log")"
[ -f "$stage/usr/include/banter_plugin.h" ] || t_fail install "no banter_plugin.h installed"
[ -x "$stage/usr/bin/banter-plugin-host" ] || t_fail install "no banter-plugin-host installed"
export PKG_CONFIG_PATH=$stage/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage
cflags=$(pkg-config --cflags banter-plugin) || t_fail install "pkg-config banter-plugin"
[ "$(echo $cflags)" = "-I$stage/usr/include" ] || t_fail install "pkg-config --cflags: $cflags"
cp "$src/examples/echo/echo.c" "$src/examples/echo/Makefile" "$BT_TMP/"
mkdir -p "$BT_TMP/echo" && mv "$BT_TMP/echo.c" "$BT_TMP/Makefile" "$BT_TMP/echo/"
make --no-print-directory -C "$BT_TMP/echo" CFLAGS="-O2 -Wall -Wextra -Werror" \
    >"$BT_TMP/echo-build.log" 2>&1 || t_fail out-of-tree "$(cat "$BT_TMP/echo-build.log")"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
t_pass "the example bot builds out of tree with pkg-config after make install DESTDIR"

# ---- configuration mistakes stop the node at start, naming the line ----
bad_conf() { # WHAT EXPECTED-TEXT LINES...
    local what=$1 want=$2 h=$BT_TMP/bad$RANDOM out
    shift 2
    mkdir -p "$h"
    printf '%s\n' "$@" >"$h/banter.conf"
    out=$(host_exec 1 "$BANTER_BIN" --home "$h" node --name x --port 0 --no-mdns --web-port 0 2>&1)
    [ $? = 1 ] || t_fail "config $what" "node started: $out"
    grep -qF -- "$want" <<<"$out" || t_fail "config $what" "message: $out"
}
bad_conf "no path" "plugin.echo.path is missing" "plugin.echo.contacts = *"
bad_conf "bad name" "banter.conf line 2: \"plugin.Echo!.path\": expected plugin.NAME.KEY" \
    "# a comment" "plugin.Echo!.path = /x.so"
bad_conf "memory" "plugin.e.memory_mb: \"1\" is not a whole number from 16" \
    "plugin.e.path = /x.so" "plugin.e.memory_mb = 1"
bad_conf "relative" "plugin.e.path: \"x.so\" is not an absolute path" "plugin.e.path = x.so"
bad_conf "key" "a plug-in's key is 1..64 of a-z 0-9 _ . -" "plugin.e.path = /x.so" "plugin.e.Key = 1"
t_pass "plug-in configuration mistakes stop the node with the line and the key"

# ---- 2. the bot answers ----
A=$BT_TMP/alice B=$BT_TMP/bob
mkdir -p "$A" "$B"
cat >"$A/banter.conf" <<CONF
plugins.host = $PLUGIN_HOST
plugin.echo.path = $BT_TMP/echo/echo.so
plugin.echo.contacts = *
plugin.echo.prefix = bot>
plugin.segv.path = $PLUGIN_DIR/segv.so
plugin.segv.contacts = bob
plugin.spin.path = $PLUGIN_DIR/spin.so
plugin.spin.contacts = *
plugin.spin.heartbeat_ms = 300
plugin.hog.path = $PLUGIN_DIR/hog.so
plugin.hog.contacts = *
plugin.hog.memory_mb = 64
plugin.hog.heartbeat_ms = 300
plugin.abi2.path = $PLUGIN_DIR/abi2.so
plugin.greedy.path = $PLUGIN_DIR/greedy.so
plugin.greedy.target = bob
plugin.forge.path = $PLUGIN_DIR/forge.so
plugin.minor.path = $PLUGIN_DIR/minor.so
CONF
start_node 1 alice "$A" alice
APID=$BG_PID
start_node 2 bob "$B" bob
BPID=$BG_PID
wait_for 10 online "$B" alice || t_fail discovery "bob does not see alice"
# segv is given bob by name: alice writes to him first (a plain name in a
# plug-in's list is an established colleague's: docs/plugins.md).
wait_for 10 online "$A" bob || t_fail discovery "alice does not see bob"
b "$A" send bob "hello bob" >/dev/null || t_fail discovery "alice -> bob"

plug() { b "$A" plugins --json | jq -r --arg n "$1" ".[] | select(.name == \$n) | .$2"; }
wait_for 10 bash -c "[ \"\$('$BANTER_BIN' --home '$A' plugins --json | jq -r '.[] | select(.name==\"echo\") | .state')\" = running ]" ||
    t_fail echo "echo is $(plug echo state): $(plug echo last_error)"
b "$B" send alice "hello bot" >/dev/null || t_fail echo "bob -> alice"
wait_for 10 has_body "$B" alice "bot>hello bot" ||
    t_fail echo "no answer: $(b "$B" history alice --json)"
b "$B" send alice "remind 1 tea" >/dev/null || t_fail remind "send"
wait_for 10 has_body "$B" alice "reminder: tea" || t_fail remind "$(b "$B" history alice --json)"
t_pass "the echo bot answers, and reminds from a timer"

# ---- 3. misbehaving plug-ins: chat goes on ----
for k in $(seq 1 12); do
    b "$B" send alice "message $k" >/dev/null || t_fail chat "message $k not delivered (exit $?)"
    wait_for 10 has_body "$B" alice "bot>message $k" || t_fail chat "no answer to message $k"
    b "$A" peers >/dev/null || t_fail chat "alice's control socket does not answer"
    sleep 0.4
done
t_pass "12 messages delivered and answered while plug-ins crash, hang and eat memory"

err_has() { plug "$1" last_error | grep -q -- "$2"; }
wait_for 10 err_has segv "signal 11" || t_fail segv "last error: $(plug segv last_error)"
[ "$(plug segv restarts)" -ge 2 ] || t_fail segv "restarts: $(plug segv restarts)"
grep -q "plugin segv: restarting in 2000 ms" "$BT_TMP/alice.err" ||
    t_fail segv "no growing back-off: $(grep 'plugin segv' "$BT_TMP/alice.err" | head)"
t_pass "segfault: restarted with back-off, shown ($(plug segv restarts) restarts)"
wait_for 10 err_has spin "heartbeat" || t_fail spin "last error: $(plug spin last_error)"
t_pass "endless loop: killed at the heartbeat deadline ($(plug spin last_error))"
wait_for 10 err_has hog "memory limit" || t_fail hog "last error: $(plug hog last_error)"
t_pass "allocation without end: killed over its memory limit ($(plug hog last_error))"
[ "$(plug abi2 state)" = failed ] && err_has abi2 "ABI 2.0" && err_has abi2 "ABI 1.0" ||
    t_fail abi2 "state $(plug abi2 state): $(plug abi2 last_error)"
[ "$(plug abi2 restarts)" = 0 ] || t_fail abi2 "restarted"
t_pass "another ABI major: refused, naming both versions, not restarted"
[ "$(plug minor state)" = failed ] && err_has minor "ABI 1.1" && err_has minor "an older minor" ||
    t_fail minor "state $(plug minor state): $(plug minor last_error)"
[ "$(plug echo state)" = running ] && [ "$(plug echo version)" = 1.0 ] || t_fail minor "echo (1.0)"
t_pass "a plug-in for a newer minor is refused; one for this minor loads"
grep -q "plugin greedy: refused a message to a contact it was not given" "$BT_TMP/alice.err" ||
    t_fail greedy "no refusal logged"
has_body "$B" alice "I was not given you" && t_fail greedy "bob got its message"
grep -q "plugin greedy: info: heard from" "$BT_TMP/alice.err" &&
    t_fail greedy "it heard of a contact it was not given: $(grep -m1 'heard from' "$BT_TMP/alice.err")"
t_pass "a plug-in cannot write to, nor hear of, a contact it was not given"
wait_for 10 err_has forge "bad message" || t_fail forge "last error: $(plug forge last_error)"
t_pass "raw bytes passing as the node's: killed ($(plug forge last_error))"

# ---- 4. disable, enable ----
b "$A" plugins disable echo >/dev/null || t_fail disable "exit $?"
[ "$(plug echo state)" = disabled ] || t_fail disable "state $(plug echo state)"
[ -f "$A/plugins/echo/disabled" ] || t_fail disable "not remembered"
b "$B" send alice "anyone there" >/dev/null
sleep 1.5
has_body "$B" alice "bot>anyone there" && t_fail disable "a disabled bot answered"
b "$A" plugins enable echo >/dev/null || t_fail enable "exit $?"
b "$B" send alice "back again" >/dev/null
wait_for 10 has_body "$B" alice "bot>back again" || t_fail enable "no answer"
b "$A" plugins enable nosuch >/dev/null 2>&1 && t_fail enable "an unknown plug-in was enabled"
t_pass "disable and enable (remembered in the node's folder)"
# restart: a new process; enable right after disable: started again once stopped
old=$(plug echo pid)
b "$A" plugins restart echo >/dev/null || t_fail restart "exit $?"
wait_for 10 bash -c "p=\$('$BANTER_BIN' --home '$A' plugins --json | jq -r '.[] | select(.name==\"echo\") | \"\(.state) \(.pid)\"'); [ \"\${p% *}\" = running ] && [ \"\${p#* }\" != $old ]" ||
    t_fail restart "$(plug echo state) pid $(plug echo pid) (was $old)"
grep -q "plugin echo: info: echo bot stopping" "$BT_TMP/alice.err" || t_fail restart "fini did not run"
b "$A" plugins disable echo >/dev/null && b "$A" plugins enable echo >/dev/null ||
    t_fail re-enable "exit $?"
wait_for 10 bash -c "[ \"\$('$BANTER_BIN' --home '$A' plugins --json | jq -r '.[] | select(.name==\"echo\") | .state')\" = running ]" ||
    t_fail re-enable "$(plug echo state): $(plug echo last_error)"
b "$B" send alice "after restart" >/dev/null
wait_for 10 has_body "$B" alice "bot>after restart" || t_fail restart "no answer"
b "$B" send alice "count" >/dev/null
wait_for 10 bash -c "'$BANTER_BIN' --home '$B' history alice --json --limit 500 | grep -q 'messages so far'" ||
    t_fail storage "no count"
n=$(b "$B" history alice --json --limit 500 | jq -r '[.[] | select(.body | endswith("messages so far"))][-1].body' | cut -d' ' -f1)
[ "$n" -ge 17 ] || t_fail storage "the count restarted: $n"
t_pass "restart (fini ran, a new process), enable right after disable, storage kept ($n messages counted)"

# ---- 5. stop ----
pids=$(b "$A" plugins --json | jq -r '.[] | select(.pid > 0) | .pid')
stop_node "$APID" alice alice
for p in $pids; do
    wait_for 5 gone "$p" || t_fail stop "plug-in host $p still running after the node stopped"
done
stop_node "$BPID" bob bob
t_pass "no plug-in host outlives the node"
exit 0
