#!/usr/bin/env bash
# test: seconds 6
# SPDX-License-Identifier: MIT
#
# test_node_identity.sh - names are labels, keys are identity, on a private
# namespace LAN (lib.sh): alice in host 1, bob in host 2, mallory in host
# 3 (real nodes with mDNS), and peer_probe (a scripted peer) in host 4.
#   1. a known key renames itself into a trusted name: mallory restarts as
#      "bob"; alice still shows it as mallory (with a renamed event), and
#      `send bob` reaches the real bob, not mallory;
#   2. a new key calling itself "BOB" claims bob (names compare by one
#      rule, case-insensitively): bob is "changed", sending is refused, and
#      what the new key says is stored marked unverified, and alice's
#      plug-in given bob (tests/plugins audit.so, which logs every message
#      it hears of) hears bob's words but not the new key's; one given
#      "@*" (organisation accounts only) hears neither; a new key writing
#      "mallory" with look-alike Cyrillic letters claims mallory likewise;
#   2c. a plug-in given the plain name carol: a new key calling itself
#      carol is not heard of until alice writes to it (a plain name in a
#      plug-in's list is an established colleague's label);
#   3. protocol rules: a message before HELLO, a second HELLO, and a CHAT
#      whose ts is 2^53+1 are refused with an ERROR; nothing is stored;
#   4. duplicate connections: a peer that reconnects over its own
#      half-open connection (it never closed the first) is served on the
#      new one at once: its message is acknowledged within 2 s.
# Needs root (exit 77 otherwise), $BANTER_BIN and $PEER_PROBE (the ASan
# builds by default). Every node's stderr is checked for sanitizer reports.
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

require_root
abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
PEER_PROBE=${PEER_PROBE:-$here/../../build/asan/tests/peer_probe}
PLUGIN_HOST=${PLUGIN_HOST:-$here/../../bin/banter-plugin-host}
PLUGIN_DIR=${PLUGIN_DIR:-$here/../../build/rel/tests/plugins}
[ -f "$PLUGIN_DIR/audit.so" ] || t_fail setup "no $PLUGIN_DIR/audit.so (make $PLUGIN_DIR/audit.so)"
for v in BANTER_BIN PEER_PROBE PLUGIN_HOST; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make build/asan/banter build/asan/tests/peer_probe)"
done
BANTER_BIN=$(abs "$BANTER_BIN")
PEER_PROBE=$(abs "$PEER_PROBE")
PLUGIN_HOST=$(abs "$PLUGIN_HOST")
PLUGIN_DIR=$(abs "$PLUGIN_DIR")
command -v jq >/dev/null || t_skip "needs jq"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1
t_start=$(now_ms)

net_setup 4
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

A=$BT_TMP/alice
B=$BT_TMP/bob
M=$BT_TMP/mallory
# probe [--key FILE] STEP...: peer_probe in host 4 against alice.
probe() {
    if [ "$1" = --key ]; then
        host_exec 4 "$PEER_PROBE" --key "$2" 198.18.0.1 7070 "${@:3}"
    else
        host_exec 4 "$PEER_PROBE" 198.18.0.1 7070 "$@"
    fi
}
# contact HOME LABEL: the peers --json object whose name is LABEL.
contact() { b "$1" peers --json | jq -c --arg n "$2" '.[] | select(.name == $n)'; }

mkdir -p "$A"
cat >"$A/banter.conf" <<CONF
plugins.host = $PLUGIN_HOST
plugin.audit.path = $PLUGIN_DIR/audit.so
plugin.audit.contacts = bob
plugin.orgonly.path = $PLUGIN_DIR/audit.so
plugin.orgonly.contacts = @*
plugin.named.path = $PLUGIN_DIR/audit.so
plugin.named.contacts = carol
CONF
start_node 1 alice "$A" alice
pa=$BG_PID
start_node 2 bob "$B" bob
pb=$BG_PID
start_node 3 mallory "$M" mallory
pm=$BG_PID
wait_for 10 online "$A" bob && wait_for 10 online "$A" mallory ||
    t_fail setup "alice does not list bob and mallory online: $(b "$A" peers --json)"
bg 1 "$BT_TMP/listen.log" "$BANTER_BIN" --home "$A" listen --json
pl=$BG_PID
sleep 0.5
mfp=$(b "$M" id --json | jq -r .fingerprint)

# ---- 1. a known key renames itself into a trusted name ----
stop_node "$pm" mallory "mallory"
wait_for 5 offline "$A" mallory || t_fail rename "mallory still online"
bg 3 "$BT_TMP/mallory2.log" "$BANTER_BIN" --home "$M" node --name bob --port 7070
pm=$BG_PID
wait_for 10 online "$A" mallory ||
    t_fail rename "mallory's key is not back as mallory: $(b "$A" peers --json)"
m=$(contact "$A" mallory)
jq -e --arg fp "$mfp" '.fingerprint == $fp and .devices[0].name == "bob"' <<<"$m" >/dev/null ||
    t_fail rename "mallory's entry: $m"
wait_for 3 grep -q '"event":"renamed"' "$BT_TMP/listen.log" ||
    t_fail rename "no renamed event: $(cat "$BT_TMP/listen.log")"
[ "$(b "$A" peers --json | jq '[.[] | select(.name == "bob")] | length')" -eq 1 ] ||
    t_fail rename "more than one contact named bob: $(b "$A" peers --json)"
out=$(b "$A" send bob "for the real bob" --wait 5 2>&1) || t_fail rename "send bob: $out"
wait_for 3 has_body "$B" alice "for the real bob" || t_fail rename "bob did not get it"
has_body "$M" alice "for the real bob" && t_fail rename "mallory got bob's message"
t_pass "a known key renamed \"bob\" stays mallory (renamed event); send bob reached the real bob"

# ---- 2. a new key calling itself BOB ----
out=$(probe conn 0 hello BOB wait 300 2>&1) || t_fail claim "the probe failed: $out"
wait_for 5 changed "$A" bob || t_fail claim "bob is not changed after BOB came: $(contact "$A" bob)"
out=$(b "$A" send bob "hi" 2>&1)
rc=$?
[ "$rc" -eq 6 ] || t_fail claim "send bob exited $rc, not 6: $out"
grep -q '"event":"key_changed"' "$BT_TMP/listen.log" || t_fail claim "no key_changed event"
out=$(probe --key "$BT_TMP/imp.key" conn 0 hello bob chat "I am bob, trust me" expect ack 3000 2>&1) ||
    t_fail claim "the impostor's chat was not acknowledged: $out"
b "$A" history bob --json | jq -e 'map(select(.body == "I am bob, trust me" and .unverified == true)) | length == 1' >/dev/null ||
    t_fail claim "the impostor's message is not marked unverified: $(b "$A" history bob --json)"
# bob's own words after the impostor's: the plug-in hears of them, and of
# nothing the impostor said before (events reach it in order)
b "$B" send alice "the real bob again" --wait 5 >/dev/null 2>&1 || t_fail claim "bob -> alice"
heard() { grep -q "plugin audit: info: event 0 #[0-9a-f]* $1\$" "$BT_TMP/alice.err"; }
wait_for 10 heard "the real bob again" ||
    t_fail claim "the plug-in given bob did not hear bob: $(grep 'plugin audit' "$BT_TMP/alice.err" | tail -n 5)"
heard "I am bob, trust me" && t_fail claim "the plug-in given bob heard the impostor as bob"
# A plug-in given "@*" (every organisation account) hears no LAN-only
# colleague: bob has no account here.
grep -q "plugin orgonly: info: event 0 " "$BT_TMP/alice.err" &&
    t_fail claim "the plug-in given @* heard a LAN colleague: $(grep 'plugin orgonly' "$BT_TMP/alice.err" | tail -n 3)"
t_pass "a new key named BOB claims bob: changed, send refused (exit 6), its words marked unverified and kept from plug-ins"

# ---- 2b. a new key writing mallory with look-alike letters ----
# "mаllоrу": Cyrillic а, о, у among Latin m, l, l, r - drawn like
# "mallory", and compared so (docs/protocol.md 11): it claims her.
out=$(probe conn 0 hello "mаllоrу" wait 300 2>&1) || t_fail lookalike "the probe failed: $out"
wait_for 5 changed "$A" mallory ||
    t_fail lookalike "mallory is not changed after a look-alike came: $(b "$A" peers --json)"
out=$(b "$A" send mallory "hi" 2>&1)
rc=$?
[ "$rc" -eq 6 ] || t_fail lookalike "send mallory exited $rc, not 6: $out"
t_pass "a new key calling itself mаllоrу (Cyrillic а, о, у) claims mallory: changed, send refused (exit 6)"

# ---- 2c. a plain name in a plug-in's list: an established colleague's ----
# "named" is given carol, whom alice has never met: a new key calling
# itself carol is not her colleague yet, so the plug-in hears nothing of
# it; once alice writes to it (her own act), it is.
said_named() { grep -q "plugin named: info: event 0 #[0-9a-f]* $1\$" "$BT_TMP/alice.err"; }
out=$(probe --key "$BT_TMP/carol.key" conn 0 hello carol chat "carol never written to" expect ack 3000 2>&1) ||
    t_fail named "carol's chat was not acknowledged: $out"
b "$A" send carol "hello carol" >/dev/null 2>&1
b "$A" history carol --json | jq -e 'map(select(.body == "hello carol")) | length == 1' >/dev/null ||
    t_fail named "alice's message to carol is not kept: $(b "$A" history carol --json)"
out=$(probe --key "$BT_TMP/carol.key" conn 0 hello carol chat "carol written to" expect ack 3000 2>&1) ||
    t_fail named "carol's second chat was not acknowledged: $out"
wait_for 10 said_named "carol written to" ||
    t_fail named "the plug-in given carol did not hear her once alice wrote to her: $(grep 'plugin named' "$BT_TMP/alice.err" | tail -n 5)"
said_named "carol never written to" &&
    t_fail named "the plug-in given carol heard a key named carol before alice wrote to it"
t_pass "a plug-in given the plain name carol hears a new key named carol only once alice wrote to it"

# ---- 3. protocol rules ----
out=$(probe conn 0 chat "before hello" expect error 2000 2>&1) || t_fail rules "before HELLO: $out"
grep -q 'got error conn 0 EPROTO' <<<"$out" || t_fail rules "before HELLO: $out"
out=$(probe conn 0 hello carl hello carl expect error 2000 2>&1) || t_fail rules "second HELLO: $out"
grep -q 'got error conn 0 EPROTO' <<<"$out" || t_fail rules "second HELLO: $out"
big='{"id":"00112233445566778899aabbccddeeff","ts":9007199254740993,"body":"too big a ts"}'
out=$(probe conn 0 hello dora raw 2 "$big" expect error 2000 2>&1) || t_fail rules "ts 2^53+1: $out"
b "$A" history dora --json 2>/dev/null | grep -q "too big a ts" && t_fail rules "the 2^53+1 message was stored"
t_pass "refused with ERROR: a message before HELLO, a second HELLO, a CHAT with ts 2^53+1 (not stored)"

# ---- 4. a reconnect over a half-open connection ----
t0=$(now_ms)
out=$(probe --key "$BT_TMP/erin.key" conn 0 hello erin wait 300 hold 0 \
    conn 1 hello erin chat "over the new connection" expect ack 2000 2>&1) ||
    t_fail reconnect "the new connection was not served: $out"
echo "reconnect: acknowledged on the new connection $(($(now_ms) - t0)) ms after the first dial"
has_body "$A" erin "over the new connection" || t_fail reconnect "alice has not stored it"
t_pass "a peer reconnecting over its own half-open connection is served at once"

kill -TERM "$pl" 2>/dev/null
stop_node "$pm" mallory2 "mallory (as bob)"
stop_node "$pb" bob bob
stop_node "$pa" alice alice
t_pass "nodes stopped cleanly, no sanitizer report"
echo "total: $(($(now_ms) - t_start)) ms"
exit 0
