#!/usr/bin/env bash
# test: seconds 24
# SPDX-License-Identifier: MIT
#
# test_gateway_xmpp.sh - the XMPP bridge plug-in (peer/plugin/gateways/
# xmpp.c, docs/plugins.md) as an XEP-0114 component of a real Prosody. On a
# private namespace LAN (lib.sh): the gateway node "xmppgw" in host 1 with
# Prosody on its loopback (run as the unprivileged user prosody, its
# config and data in this test's folder), bob in host 2; romeo and juliet
# are XMPP users, each a real c2s connection (tests/integration/
# xmpp_client.py: SASL PLAIN on a plaintext loopback stream).
#   1. Hostile server: the gateway reaches Prosody through a proxy whose first
#      two connections answer garbage; the gateway closes each cleanly and
#      tries again after 1 s, then 2 s, and the third one goes through.
#   2. Bob's first message is answered with what the gateway does.
#   3. Banter -> XMPP: "romeo@example.org: ..." reaches romeo as a chat
#      message from bob@banter.example, with bob's presence.
#   4. XMPP -> Banter: romeo's answer to bob@banter.example reaches bob,
#      marked "not end-to-end encrypted"; a plain reply goes back to romeo.
#      A message with characters XML 1.0 cannot carry (U+FFFF, U+FFFE)
#      reaches romeo with U+FFFD in their place; the link stays up.
#   5. Romeo's directed presence (away) is told to bob.
#   6. Refused: a message to an address no Banter user holds (error back),
#      from juliet whom bob never wrote to (error back, nothing for bob), a
#      forged sender (Prosody's c2s refuses it; nothing reaches bob), an
#      address bob writes that the gateway cannot map, and a flood.
#      A message coming in (juliet, once bob wrote to her) does not change
#      where bob's plain messages go: the address he last wrote to.
#   7. Bob's presence: unavailable when his node stops, available again.
# Needs root (77 otherwise), jq, prosody, /usr/bin/python3; $BANTER_BIN,
# $PLUGIN_HOST, $GATEWAY_DIR (build/rel/plugins).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
BANTER_BIN=${BANTER_BIN:-$src/build/asan/banter}
PLUGIN_HOST=${PLUGIN_HOST:-$src/bin/banter-plugin-host}
GATEWAY_DIR=${GATEWAY_DIR:-$src/build/rel/plugins}
PY=/usr/bin/python3
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
[ -x "$PLUGIN_HOST" ] || t_fail setup "no $PLUGIN_HOST (make bin/banter-plugin-host)"
[ -f "$GATEWAY_DIR/xmpp.so" ] || t_fail setup "no $GATEWAY_DIR/xmpp.so (make)"
command -v jq >/dev/null || t_skip "needs jq"
command -v prosody >/dev/null || t_skip "needs prosody"
id prosody >/dev/null 2>&1 || t_skip "needs the prosody user (Debian's prosody package)"
export ASAN_OPTIONS=detect_leaks=1
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

net_setup 2
P=$BT_TMP/prosody
G=$BT_TMP/gw B=$BT_TMP/bob
SECRET=component-secret-$RANDOM$RANDOM
mkdir -p "$P/data" "$G" "$B"
chmod o+x "$BT_TMP" # prosody reaches its own folder, and only that

# ---- Prosody, once for the whole file ----
# Ports: in host 1's own network namespace, every port is free.
cat >"$P/prosody.cfg.lua" <<CONF
data_path = "$P/data"
log = { info = "$P/prosody.log", error = "$P/prosody.err" }
interfaces = { "127.0.0.1" }
c2s_ports = { 5222 }
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }
modules_enabled = { "roster", "saslauth", "disco", "ping" }
modules_disabled = { "s2s", "offline", "tls" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
VirtualHost "example.org"
Component "banter.example"
    component_secret = "$SECRET"
CONF
chown -R prosody:prosody "$P"
for u in romeo juliet; do
    host_exec 1 env HOME="$P" setpriv --reuid=prosody --regid=prosody --clear-groups -- \
        prosodyctl --config "$P/prosody.cfg.lua" register "$u" example.org "$u-pw" >/dev/null 2>&1 ||
        t_fail prosody "cannot register $u"
done
bg 1 "$BT_TMP/prosody-run.log" env HOME="$P" setpriv --reuid=prosody --regid=prosody \
    --clear-groups -- prosody --config "$P/prosody.cfg.lua" -F
PROSODY_PID=$BG_PID
port_open() { host_exec 1 "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; }
wait_for 20 port_open 5222 && wait_for 5 port_open 5347 ||
    t_fail prosody "did not start: $(tail -5 "$P/prosody.log" "$P/prosody.err" "$BT_TMP/prosody-run.err")"
t_pass "Prosody runs as the user prosody (pid $PROSODY_PID)"

# ---- the hostile server: a proxy whose first two connections get garbage ----
cat >"$BT_TMP/proxy.py" <<'PYEOF'
import socket, threading, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 5348)); ls.listen(8)
print("listening", flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
n = 0
while True:
    c, _ = ls.accept()
    n += 1
    if n <= 2:
        print("garbage %d %.3f" % (n, time.monotonic()), flush=True)
        c.recv(4096)
        c.sendall(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                  b"xmlns='jabber:component:accept' id='x1'><<<\x00garbage")
        c.settimeout(10)
        got = b""
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                got += d
        except OSError:
            pass
        print("closed %d %r" % (n, got), flush=True)
        c.close()
        continue
    print("relay %d %.3f" % (n, time.monotonic()), flush=True)
    u = socket.create_connection(("127.0.0.1", 5347))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PYEOF
bg 1 "$BT_TMP/proxy.log" "$PY" -u "$BT_TMP/proxy.py"
wait_for 5 grep -q listening "$BT_TMP/proxy.log" || t_fail proxy "did not start: $(cat "$BT_TMP/proxy.err")"

cat >"$G/banter.conf" <<CONF
plugins.host = $PLUGIN_HOST
plugin.xmpp.path = $GATEWAY_DIR/xmpp.so
plugin.xmpp.contacts = *
plugin.xmpp.domain = banter.example
plugin.xmpp.secret = $SECRET
plugin.xmpp.server = 127.0.0.1
plugin.xmpp.port = 5348
CONF
chmod 600 "$G/banter.conf"
start_node 1 xmppgw "$G" gw
GPID=$BG_PID
start_node 2 bob "$B" bob
BPID=$BG_PID
wait_for 10 online "$B" xmppgw || t_fail discovery "bob does not see the gateway"

# ---- 1. garbage, back-off, then through ----
wait_for 20 grep -q '^relay 3' "$BT_TMP/proxy.log" ||
    t_fail backoff "no third connection: $(cat "$BT_TMP/proxy.log"; tail -5 "$BT_TMP/gw.err")"
grep -q "^closed 1 b\".*not-well-formed" "$BT_TMP/proxy.log" ||
    t_fail backoff "the gateway did not close the garbage stream with an error: $(cat "$BT_TMP/proxy.log")"
t() { awk -v n="$1" '$2 == n { print $3 }' "$BT_TMP/proxy.log"; }
gap1=$(awk -v a="$(t 1)" -v b="$(t 2)" 'BEGIN { print b - a }')
gap2=$(awk -v a="$(t 2)" -v b="$(t 3)" 'BEGIN { print b - a }')
awk -v g1="$gap1" -v g2="$gap2" 'BEGIN { exit !(g1 >= 0.9 && g2 >= 1.9) }' ||
    t_fail backoff "reconnected after ${gap1} s then ${gap2} s (expected >= 1 s, then >= 2 s)"
grep -q "sent a stanza\|the server sent" "$BT_TMP/gw.err" ||
    t_fail backoff "no reason in the log: $(tail -5 "$BT_TMP/gw.err")"
wait_for 10 grep -q "connected to 127.0.0.1:5348 as banter.example" "$BT_TMP/gw.err" ||
    t_fail handshake "$(tail -5 "$BT_TMP/gw.err"; tail -5 "$P/prosody.log")"
[ "$(b "$G" plugins --json | jq -r '.[0].state')" = running ] || t_fail state "$(b "$G" plugins)"
t_pass "garbage from the server: closed, again after ${gap1} s then ${gap2} s, then the handshake"
grep -q "$SECRET" "$BT_TMP/gw.err" "$BT_TMP/gw.log" && t_fail secret "the secret is in the node's log"

# ---- the XMPP users ----
client() { # client NAME: its output in $BT_TMP/NAME.out, commands to $BT_TMP/NAME.fifo
    mkfifo "$BT_TMP/$1.fifo"
    bg 1 "$BT_TMP/$1.out" "$PY" -u "$here/xmpp_client.py" 127.0.0.1 5222 "$1@example.org" \
        "$1-pw" "$BT_TMP/$1.fifo"
    wait_for 10 grep -q '"ready"' "$BT_TMP/$1.out" ||
        t_fail "$1" "no login: $(cat "$BT_TMP/$1.out" "$BT_TMP/$1.err")"
}
client romeo
client juliet
to() { printf '%s\n' "$2" >"$BT_TMP/$1.fifo"; }
got() { jq -s -e "map(select($2)) | length > 0" "$BT_TMP/$1.out" >/dev/null 2>&1; }
said() { b "$B" history xmppgw --json --limit 200 | jq -e --arg s "$1" '[.[] | select(.direction == "in") | .body | contains($s)] | any' >/dev/null; }

# ---- 2. the notice ----
b "$B" send xmppgw "hello?" >/dev/null || t_fail notice "send"
wait_for 10 said "leaves Banter's end-to-end encryption" || t_fail notice "$(b "$B" history xmppgw)"
t_pass "the first message is answered with what the gateway does"

# ---- 3. Banter -> XMPP ----
b "$B" send xmppgw "romeo@example.org: Hello Romeo <3 & more" >/dev/null || t_fail out "send"
wait_for 10 got romeo '.kind == "message" and .from == "bob@banter.example/banter" and .body == "Hello Romeo <3 & more" and .type == "chat"' ||
    t_fail out "romeo got: $(cat "$BT_TMP/romeo.out")"
wait_for 10 said "to romeo@example.org as bob@banter.example over XMPP: not end-to-end encrypted" ||
    t_fail out "$(b "$B" history xmppgw)"
wait_for 10 got romeo '.kind == "presence" and .from == "bob@banter.example/banter" and .type == ""' ||
    t_fail out "no presence of bob: $(cat "$BT_TMP/romeo.out")"
t_pass "a message from bob reaches romeo as bob@banter.example, with bob's presence"

# ---- 4. XMPP -> Banter ----
to romeo "msg bob@banter.example Hi Bob, from the orchard"
wait_for 10 said "[XMPP from romeo@example.org, not end-to-end encrypted] Hi Bob, from the orchard" ||
    t_fail in "$(b "$B" history xmppgw)"
b "$B" send xmppgw "Glad to hear it" >/dev/null
wait_for 10 got romeo '.kind == "message" and .body == "Glad to hear it"' ||
    t_fail in "the plain reply: $(cat "$BT_TMP/romeo.out")"
t_pass "romeo's message reaches bob, marked; bob's plain reply goes back to romeo"

# ---- 4b. a character XML 1.0 cannot carry: U+FFFD, and the link stays up ----
closed() { grep -c "XMPP server connection closed" "$BT_TMP/gw.err"; }
closed0=$(closed)
b "$B" send xmppgw "romeo@example.org: odd $(printf '\xef\xbf\xbf') and $(printf '\xef\xbf\xbe') end" >/dev/null
b "$B" send xmppgw "romeo@example.org: after the odd one" >/dev/null
wait_for 10 got romeo '.kind == "message" and .body == "after the odd one"' ||
    t_fail notxml "the next message did not arrive: $(tail -3 "$BT_TMP/romeo.out"; tail -3 "$BT_TMP/gw.err")"
got romeo '.kind == "message" and .body == "odd \ufffd and \ufffd end"' ||
    t_fail notxml "romeo got: $(tail -3 "$BT_TMP/romeo.out")"
[ "$(closed)" = "$closed0" ] || t_fail notxml "the link was closed: $(tail -3 "$BT_TMP/gw.err")"
t_pass "U+FFFF and U+FFFE reach romeo as U+FFFD; the component link stays up"

# ---- 5. presence both ways ----
to romeo "presence bob@banter.example away"
wait_for 10 said "romeo@example.org is away (XMPP)" || t_fail presence "$(b "$B" history xmppgw)"
t_pass "romeo's presence (away) is told to bob"

# ---- 6. refused ----
to romeo "msg nobody@banter.example anyone?"
wait_for 10 got romeo '.kind == "message" and .from == "nobody@banter.example" and .type == "error" and .error == "item-not-found"' ||
    t_fail unmapped "romeo got: $(cat "$BT_TMP/romeo.out")"
to juliet "msg bob@banter.example let me in"
wait_for 10 got juliet '.kind == "message" and .from == "bob@banter.example" and .type == "error" and .error == "forbidden"' ||
    t_fail stranger "juliet got: $(cat "$BT_TMP/juliet.out")"
to juliet "raw <message from='romeo@example.org/test' to='bob@banter.example' type='chat'><body>forged by juliet</body></message>"
b "$B" send xmppgw "romeo@exa<mple.org: x" >/dev/null
wait_for 10 said "is not an XMPP address the gateway takes" || t_fail map "$(b "$B" history xmppgw)"
sleep 1
said "let me in" && t_fail stranger "juliet's message was relayed"
said "forged by juliet" && t_fail forged "a forged sender was relayed"
t_pass "refused: an unmapped address, a sender bob never wrote to, a forged sender, an address bob cannot use"
# a flood from romeo: 10 at once, then one every 2 s; the rest is refused
to romeo "$(for i in $(seq 1 16); do printf 'msg bob@banter.example flood %d\n' "$i"; done)"
wait_for 10 got romeo '.kind == "message" and .from == "bob@banter.example" and .error == "policy-violation"' ||
    t_fail flood "romeo got: $(tail -5 "$BT_TMP/romeo.out")"
floods() { b "$B" history xmppgw --json --limit 200 | jq '[.[] | select(.body | test("\\] flood [0-9]+$"))] | length'; }
ten() { [ "$(floods)" -ge 10 ]; }
wait_for 10 ten # up to ten (romeo used one of his burst a few seconds ago)
floods=$(floods)
[ "$floods" -ge 8 ] && [ "$floods" -lt 16 ] || t_fail flood "$floods of 16 relayed"
t_pass "a flood from one address: $floods of 16 relayed, the rest refused (policy-violation)"
[ "$(b "$G" plugins --json | jq -r '.[0].state')" = running ] || t_fail state "$(b "$G" plugins)"
grep -q "Hello Romeo\|Hi Bob" "$BT_TMP/gw.err" "$BT_TMP/gw.log" && t_fail log "message text in the node's log"

# ---- 6b. a plain message goes where bob last wrote, whoever wrote to him since ----
b "$B" send xmppgw "juliet@example.org: Hello Juliet" >/dev/null
wait_for 10 got juliet '.kind == "message" and .body == "Hello Juliet"' ||
    t_fail last "juliet got: $(tail -3 "$BT_TMP/juliet.out")"
b "$B" send xmppgw "romeo@example.org: Back to you, Romeo" >/dev/null
wait_for 10 got romeo '.kind == "message" and .body == "Back to you, Romeo"' ||
    t_fail last "romeo got: $(tail -3 "$BT_TMP/romeo.out")"
to juliet "msg bob@banter.example Juliet here, just before you answer"
wait_for 10 said "[XMPP from juliet@example.org, not end-to-end encrypted] Juliet here" ||
    t_fail last "$(b "$B" history xmppgw)"
b "$B" send xmppgw "A plain one, for Romeo" >/dev/null
wait_for 10 got romeo '.kind == "message" and .body == "A plain one, for Romeo"' ||
    t_fail last "romeo did not get the plain message: $(tail -3 "$BT_TMP/romeo.out"; tail -3 "$BT_TMP/juliet.out")"
got juliet '.kind == "message" and .body == "A plain one, for Romeo"' &&
    t_fail last "the plain message went to juliet, who wrote last"
t_pass "a message coming in does not redirect bob's plain messages: they go where he last wrote"

# ---- 7. bob's presence: offline when his node stops, online when it is back ----
avail() { jq -s 'map(select(.kind == "presence" and .from == "bob@banter.example/banter" and .type == "")) | length' "$BT_TMP/romeo.out"; }
n0=$(avail)
stop_node "$BPID" bob bob
wait_for 20 got romeo '.kind == "presence" and .from == "bob@banter.example/banter" and .type == "unavailable"' ||
    t_fail presence "no unavailable presence: $(cat "$BT_TMP/romeo.out")"
start_node 2 bob "$B" bob2
BPID=$BG_PID
more_avail() { [ "$(avail)" -gt "$n0" ]; }
wait_for 20 more_avail ||
    t_fail presence "no presence when bob is back: $(cat "$BT_TMP/romeo.out")"
t_pass "bob's presence reaches romeo: unavailable when his node stops, available when it is back"

stop_node "$GPID" gw gateway
stop_node "$BPID" bob2 bob
kill "$PROSODY_PID"
wait_for 10 gone "$PROSODY_PID" || t_fail prosody "did not stop"
exit 0
