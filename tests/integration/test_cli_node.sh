#!/usr/bin/env bash
# test: seconds 5
# SPDX-License-Identifier: MIT
#
# test_cli_node.sh - the client and the node are two programs (one
# namespace host of lib.sh):
#   1. banter, the control socket's client, links none of the node's
#      libraries (GLib, GIO, libsoup, libnice, Avahi, SQLite, D-Bus);
#   2. `banter node` becomes banter-node in the same process: the PID that
#      was started is the node (its executable banter-node), it answers on
#      its control socket, and SIGTERM stops it cleanly;
#   3. a banter without banter-node beside it or on PATH: `banter node`
#      exits 1 saying what it could not run; the client commands work;
#   4. banter-node's own command line: --help exits 0, any command but
#      node exits 2.
# Needs root (exit 77 otherwise) and $BANTER_BIN (default build/asan/banter,
# with build/asan/banter-node beside it).
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

require_root
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
[ -x "$BANTER_BIN" ] || t_fail setup "no banter at $BANTER_BIN (make build/asan/banter)"
BANTER_BIN=$(cd "$(dirname "$BANTER_BIN")" && pwd)/$(basename "$BANTER_BIN")
NODE_BIN=$(dirname "$BANTER_BIN")/banter-node
[ -x "$NODE_BIN" ] || t_fail setup "no banter-node beside $BANTER_BIN"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

# ---- 1. the client's libraries ----
libs=$(ldd "$BANTER_BIN") || t_fail "client libraries" "ldd failed"
bad=$(grep -E 'lib(glib|gio|gobject|soup|nice|avahi|sqlite3|dbus)' <<<"$libs" | awk '{ print $1 }')
[ -z "$bad" ] || t_fail "client libraries" "banter links $(echo $bad)"
grep -q libsodium <<<"$libs" || t_fail "client libraries" "no libsodium in: $libs"
t_pass "banter (the client) links $(grep -c '=>' <<<"$libs") libraries, none of the node's"

# ---- 2. banter node becomes banter-node ----
net_setup 1
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"
A=$BT_TMP/ada
start_node 1 ada "$A" ada
pa=$BG_PID
exe=$(readlink "/proc/$pa/exe")
[ "$exe" = "$NODE_BIN" ] || t_fail "exec" "PID $pa runs ${exe:-?}, not $NODE_BIN"
out=$(b "$A" id --json) || t_fail "exec" "id: $out"
grep -q '"name":"ada"' <<<"$out" || t_fail "exec" "id: $out"
stop_node "$pa" ada "ada"
wait "$pa" 2>/dev/null
t_pass "banter node became banter-node in the same process (PID $pa), answered, stopped on SIGTERM"

# ---- 3. no banter-node to run ----
mkdir -p "$BT_TMP/alone"
cp "$BANTER_BIN" "$BT_TMP/alone/banter"
err=$(env PATH=/usr/bin:/bin "$BT_TMP/alone/banter" --home "$BT_TMP/z" node --no-mdns 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q "cannot run banter-node" <<<"$err" ||
    t_fail "no banter-node" "exit $rc: $err"
env PATH=/usr/bin:/bin "$BT_TMP/alone/banter" --home "$BT_TMP/z" peers >/dev/null 2>&1
rc=$?
[ "$rc" -eq 4 ] || t_fail "no banter-node" "peers without a node: exit $rc (4 expected)"
t_pass "without banter-node: \`banter node\` exits 1 ($err); the client still runs"

# ---- 4. banter-node's command line ----
"$NODE_BIN" --help >/dev/null || t_fail "banter-node" "--help: exit $?"
"$NODE_BIN" --home "$BT_TMP/z" send x y >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || t_fail "banter-node" "send: exit $rc (2 expected)"
t_pass "banter-node: --help exits 0, a client command exits 2"
