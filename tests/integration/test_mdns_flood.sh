#!/usr/bin/env bash
# test: seconds 70
# SPDX-License-Identifier: MIT
#
# test_mdns_flood.sh - LAN discovery (peer/net/mdns.c) holds while a
# neighbour floods the LAN with Banter services. Three hosts on a private
# namespace LAN, each with its own dbus-daemon and avahi-daemon: alice (a
# node) and a probe (mdns_probe, which prints every found and lost) in
# host 1, the neighbour (mdns_probe --flood) in host 2, carol (a node) in
# host 3, started after the flood:
#   1. the neighbour announces 8 services, then 1,040 more (more than the
#      1,024 a node tracks), all at its own address: the probe finds the
#      first 8 and none of the others (8 per address); carol, started
#      then, is found by the probe, and alice and carol chat;
#   2. the first 8 withdrawn, the probe finds 8 of the parked others;
#   3. all withdrawn, the neighbour announces 1,040 services at a host name
#      with no address record (they never resolve); carol, restarted, is
#      found again and gets a message.
# Fails on a table that keeps the first 1,024 services it hears of.
# Needs root (exit 77 otherwise), jq, the probe ($MDNS_PROBE) and the node
# ($BANTER_BIN).
# shellcheck disable=SC2317 # helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

require_root
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
probe=${MDNS_PROBE:-$here/../../build/asan/tests/mdns_probe}
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
[ -x "$probe" ] || t_fail setup "no probe at $probe (build it, or set MDNS_PROBE)"
command -v avahi-browse >/dev/null || t_skip "needs avahi-browse"
export ASAN_OPTIONS=detect_leaks=1

FLOOD=1040 # with the first 8, more than MDNS_MAX_SERVICES (1024)
CAP=8      # MDNS_MAX_PER_ADDR

net_setup 3
PLOG=$BT_TMP/probe.log

# browsed HOST PREFIX: services "PREFIX-..." host HOST's daemon lists now.
browsed() {
    host_exec "$1" avahi-browse -p -t -k "_banter._tcp" 2>/dev/null |
        grep -c "^+;[^;]*;IPv4;$2-"
}
at_least() { [ "$(browsed "$1" "$2")" -ge "$3" ]; }
at_most() { [ "$(browsed "$1" "$2")" -le "$3" ]; }
# found_n PREFIX: distinct services "PREFIX-..." the probe found so far.
found_n() { awk -v p="$1-" '$1 == "found" && index($3, p) == 1 { n[$3] = 1 }
    END { print length(n) }' "$PLOG"; }
found_ge() { [ "$(found_n "$1")" -ge "$2" ]; }
lost_ge() { [ "$(grep -c '^lost ' "$PLOG")" -ge "$1" ]; }
carol_fp() { awk '$1 == "found" && $3 == "carol" { print $2; exit }' "$PLOG"; }
carol_found() { [ "$(grep -c '^found [0-9]* carol 198\.18\.0\.3:7070$' "$PLOG")" -ge "$1" ]; }
# flood PREFIX N [HOST]: the neighbour's services, once its daemon took
# them; the PID in $BG_PID.
flood() {
    bg 2 "$BT_TMP/flood-$1.log" "$probe" --flood "$2" "$1" 7171 300 ${3:+"$3"}
    wait_for 30 grep -q "^published $2 " "$BT_TMP/flood-$1.log" ||
        t_fail flood "the neighbour could not publish $2 services: $(cat "$BT_TMP/flood-$1.err")"
}
stop_probe() {
    kill -TERM "$1" 2>/dev/null
    wait_for 10 gone "$1" || t_fail stop "a probe did not exit"
}

start_node 1 alice "$BT_TMP/h1" alice
ALICE=$BG_PID
bg 1 "$PLOG" "$probe" watcher 7002 300
PROBE=$BG_PID

# ---- 1. services beyond the table's worth at one address ----
flood e "$CAP"
E=$BG_PID
wait_for 30 found_ge e "$CAP" || t_fail "per address" "the probe found $(found_n e) of the first $CAP"
t0=$(now_ms)
flood f "$FLOOD"
F=$BG_PID
wait_for 60 at_least 1 f "$FLOOD" ||
    t_fail "per address" "host 1's daemon lists $(browsed 1 f) of $FLOOD services"
echo "flood: $FLOOD services listed by host 1's daemon $(($(now_ms) - t0)) ms after the start"
start_node 3 carol "$BT_TMP/h3" carol
CAROL=$BG_PID
t0=$(now_ms)
wait_for 60 carol_found 1 ||
    t_fail "per address" "the probe never found carol (found $(found_n f) of the flood)"
echo "carol found by the probe $(($(now_ms) - t0)) ms after her start"
[ "$(found_n f)" = 0 ] ||
    t_fail "per address" "the probe found $(found_n f) services beyond $CAP at one address"
wait_for 60 online "$BT_TMP/h1" carol ||
    t_fail "per address" "alice does not list carol: $(b "$BT_TMP/h1" peers --json | head -c 800)"
b "$BT_TMP/h1" send carol "through the flood" || t_fail "per address" "alice -> carol exit $?"
wait_for 10 has_body "$BT_TMP/h3" alice "through the flood" ||
    t_fail "per address" "carol did not get alice's message"
t_pass "$CAP + $FLOOD services at one address: $CAP found, carol found and reached"

# ---- 2. the parked ones take the place of those that leave ----
kill -TERM "$E"
wait_for 10 lost_ge "$CAP" || t_fail parked "the probe lost $(grep -c '^lost ' "$PLOG") of $CAP"
wait_for 20 found_ge f "$CAP" || t_fail parked "the probe found $(found_n f) of the parked services"
sleep 1 # more would come now, if any did
[ "$(found_n f)" = "$CAP" ] || t_fail parked "the probe found $(found_n f) after $CAP left"
t_pass "$CAP left, $CAP parked ones found in their place"

# ---- 3. services that never resolve ----
# carol leaves first, so that no entry of hers is left to make room.
stop_node "$CAROL" carol carol
wait_for 10 grep -q "^lost $(carol_fp)$" "$PLOG" || t_fail unresolved "the probe did not lose carol"
kill -TERM "$F"
wait_for 20 at_most 1 f 0 || t_fail unresolved "host 1's daemon still lists $(browsed 1 f)"
flood v "$FLOOD" bt-void.local
V=$BG_PID
wait_for 60 at_least 1 v "$FLOOD" ||
    t_fail unresolved "host 1's daemon lists $(browsed 1 v) of $FLOOD services"
start_node 3 carol "$BT_TMP/h3" carol
CAROL=$BG_PID
t0=$(now_ms)
wait_for 60 carol_found 2 || t_fail unresolved "the probe did not find carol again"
echo "carol found again by the probe $(($(now_ms) - t0)) ms after her restart"
[ "$(found_n v)" = 0 ] || t_fail unresolved "the probe found $(found_n v) services with no address"
wait_for 60 online "$BT_TMP/h1" carol || t_fail unresolved "alice does not list carol online"
b "$BT_TMP/h1" send carol "past the unresolved" || t_fail unresolved "alice -> carol exit $?"
wait_for 10 has_body "$BT_TMP/h3" alice "past the unresolved" ||
    t_fail unresolved "carol did not get alice's message"
t_pass "$FLOOD services that never resolve: carol found again and reached"

kill -TERM "$V"
stop_probe "$PROBE"
check_san "$BT_TMP/probe.err" probe
stop_node "$CAROL" carol carol
stop_node "$ALICE" alice alice
exit 0
