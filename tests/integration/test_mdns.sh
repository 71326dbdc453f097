#!/usr/bin/env bash
# test: seconds 8
# SPDX-License-Identifier: MIT
#
# test_mdns.sh - LAN discovery (peer/net/mdns.c) between two hosts on a private
# namespace LAN, each with its own dbus-daemon and avahi-daemon:
#   1. each probe finds the other within 2 s of starting;
#   2. restarting avahi-daemon in host 1: probe 1 reports status down then
#      up, and probe 2 finds probe 1 again;
#   3. SIGTERM to probe 2 (mdns_free, goodbye): probe 1 prints lost within
#      2 s.
# Needs root (exit 77 otherwise) and the probe: $MDNS_PROBE, by default
# build/mdns_probe.
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

require_root
probe=${MDNS_PROBE:-build/asan/tests/mdns_probe}
[ -x "$probe" ] || t_fail setup "no probe at $probe (build it, or set MDNS_PROBE)"
probe=$(cd "$(dirname "$probe")" && pwd)/$(basename "$probe")

DISCOVERY_MAX_MS=2000
GOODBYE_MAX_MS=2000

net_setup 2
log1=$BT_TMP/probe1.log
log2=$BT_TMP/probe2.log

# found_fp LOG NAME: the fingerprint of the first "found <fp> NAME ..." line.
found_fp() { awk -v n="$2" '$1 == "found" && $3 == n { print $2; exit }' "$1"; }
count() { grep -c -- "$2" "$1"; }
has_found() { [ -n "$(found_fp "$1" "$2")" ]; }
# The probe's own timing of an event (stderr: "+<ms> ms <event>").
probe_ms() { awk -v e="$2" -v n="$3" '$3 == e && $4 == n { print $1 " ms"; exit }' "$1"; }

# ---- 1. discovery ----
t0=$(now_ms)
pid1=$(host_bg 1 "$log1" "$probe" alice 7001 120)
pid2=$(host_bg 2 "$log2" "$probe" bob 7002 120)

wait_for 5 has_found "$log2" alice || t_fail discovery "host 2 never found alice"
t_alice=$(($(now_ms) - t0))
wait_for 5 has_found "$log1" bob || t_fail discovery "host 1 never found bob"
t_bob=$(($(now_ms) - t0))
fp_alice=$(found_fp "$log2" alice)
fp_bob=$(found_fp "$log1" bob)
echo "discovery: bob saw alice after ${t_alice} ms, alice saw bob after ${t_bob} ms" \
    "(probes' own clocks: $(probe_ms "${log2%.log}.err" found "$fp_alice"), " \
    "$(probe_ms "${log1%.log}.err" found "$fp_bob"))"
[ "$t_alice" -le "$DISCOVERY_MAX_MS" ] && [ "$t_bob" -le "$DISCOVERY_MAX_MS" ] ||
    t_fail discovery "slower than $DISCOVERY_MAX_MS ms"
grep -q "^found $fp_alice alice 198\.18\.0\.1:7001$" "$log2" ||
    t_fail discovery "alice's address or port is wrong: $(grep alice "$log2")"
grep -q "^found $fp_bob bob 198\.18\.0\.2:7002$" "$log1" ||
    t_fail discovery "bob's address or port is wrong: $(grep bob "$log1")"
grep -q "^found $fp_alice " "$log1" && t_fail discovery "alice reported herself"
[ "$(head -n 1 "$log1")" = "status up avahi-daemon is running" ] ||
    t_fail discovery "probe 1 did not start with status up"
t_pass "discovery within $DISCOVERY_MAX_MS ms"

# ---- 2. avahi-daemon restart in host 1 ----
found2_before=$(count "$log2" "^found $fp_alice ")
t0=$(now_ms)
avahi_restart 1 || t_fail restart "avahi-daemon in host 1 did not come back"
up_down_up() {
    awk '$1 == "status" { s = s $2 " " } END { exit !(s ~ /^up down up/) }' "$log1"
}
wait_for 10 up_down_up || t_fail restart "probe 1 did not report status down then up"
grep -c '^status down' "$log1" | grep -qx 1 || t_fail restart "status down reported more than once"
refound() { [ "$(count "$log2" "^found $fp_alice ")" -gt "$found2_before" ]; }
wait_for 10 refound || t_fail restart "probe 2 did not find alice again"
t_refound=$(($(now_ms) - t0))
grep -q "^lost $fp_alice$" "$log2" || t_fail restart "probe 2 saw no goodbye from the stopped daemon"
wait_for 5 grep -q "^lost $fp_bob$" "$log1" || t_fail restart "probe 1 kept bob while down"
bob_twice() { [ "$(count "$log1" "^found $fp_bob ")" -ge 2 ]; }
wait_for 5 bob_twice || t_fail restart "probe 1 did not find bob again"
echo "restart: alice re-found by bob ${t_refound} ms after the restart began"
t_pass "avahi-daemon restart: status down/up, re-registered"

# ---- 3. goodbye ----
lost_before=$(count "$log1" "^lost $fp_bob$")
more_lost() { [ "$(count "$log1" "^lost $fp_bob$")" -gt "$lost_before" ]; }
t0=$(now_ms)
kill -TERM "$pid2"
wait_for 5 more_lost || t_fail goodbye "probe 1 never lost bob"
t_lost=$(($(now_ms) - t0))
echo "goodbye: alice lost bob ${t_lost} ms after SIGTERM"
gone() { ! kill -0 "$pid2" 2>/dev/null; }
wait_for 2 gone || t_fail goodbye "probe 2 did not exit on SIGTERM"
[ "$t_lost" -le "$GOODBYE_MAX_MS" ] || t_fail goodbye "slower than $GOODBYE_MAX_MS ms"
t_pass "goodbye within $GOODBYE_MAX_MS ms"

kill -TERM "$pid1"
exit 0
