#!/usr/bin/env bash
# test: seconds 17
# SPDX-License-Identifier: MIT
#
# test_doctor.sh - `banter doctor [CONTACT]` names what is broken, in a
# topology that breaks each check (two hosts of lib.sh's LAN):
#   1. all well: alice and bob find each other by mDNS: discovery "ok" with
#      answers seen, rendezvous and NAT "skip" (none configured); `doctor
#      bob` says bob is online, reached by "lan";
#   2. bob stops: `doctor bob` says he is offline ("warn"); an unknown
#      name is a "fail" check, not an error;
#   3. avahi-daemon stops in host 1: alice's discovery is "fail" and names
#      avahi-daemon; back to "ok" when it returns;
#   4. no multicast interface in host 2 (multicast off on bt2): bob's
#      discovery is "fail" and says how to turn it on;
#   5. mDNS blocked (iptables DROP of UDP 5353 into host 2): bob's
#      discovery turns "warn", "no mDNS answers seen on bt2 ...:
#      multicast may be blocked", once 10 s pass without an answer;
#   6. the rendezvous unreachable (nothing listens on its port): the
#      rendezvous check is "fail" and says it is not connected; `--no-mdns`
#      makes discovery "skip".
# Not covered here (the unit test test_peer_doctorctl covers the wording):
# a contact not approved (needs a rendezvous with accounts), NAT/TURN
# verdicts (test_nat_nodes covers nat_check), the connect-back probe
# (test_doctor_probe.sh).
# Needs root (exit 77 otherwise), iptables, and $BANTER_BIN (default
# build/asan/banter).
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

require_root
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
[ -x "$BANTER_BIN" ] || t_fail setup "no banter at $BANTER_BIN (make build/asan/banter, or set BANTER_BIN)"
BANTER_BIN=$(cd "$(dirname "$BANTER_BIN")" && pwd)/$(basename "$BANTER_BIN")
command -v iptables >/dev/null || t_skip "needs iptables"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

net_setup 2
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

A=$BT_TMP/a
B=$BT_TMP/b

# check HOME NAME [CONTACT]: the line of check NAME in `doctor --json`.
check() {
    local home=$1 name=$2
    shift 2
    b "$home" doctor "$@" --json 2>/dev/null | sed 's/},{/}\n{/g' | grep -F "\"name\":\"$name\""
}
# is HOME NAME STATUS TEXT [CONTACT]: check NAME has STATUS and TEXT in its text.
is() {
    local c
    c=$(check "$1" "$2" "${@:5}") || return 1
    grep -qF "\"status\":\"$3\"" <<<"$c" && grep -qF -- "$4" <<<"$c"
}
# expect WHAT HOME NAME STATUS TEXT [CONTACT]: is, within 10 s, or fail with what was said.
expect() {
    local what=$1
    shift
    wait_for 10 is "$@" || t_fail "$what" "$2 is not $3 with \"$4\": $(check "$1" "$2" "${@:5}")"
}

# ---- 1. all well ----
start_node 1 alice "$A" alice
PA=$BG_PID
start_node 2 bob "$B" bob
PB=$BG_PID
wait_for 15 online "$A" bob || t_fail "lan" "alice never saw bob online"
answered() { b "$A" doctor | grep -qE '^ok +discovery +LAN discovery runs on bt1 198.18.0.1; [1-9][0-9]* mDNS answers? seen'; }
wait_for 10 answered || t_fail "doctor" "discovery not ok with answers: $(b "$A" doctor 2>&1)"
out=$(b "$A" doctor 2>&1) || t_fail "doctor" "exited $?: $out"
grep -qE '^skip +rendezvous +no rendezvous configured' <<<"$out" || t_fail "doctor" "rendezvous: $out"
grep -qE '^skip +nat ' <<<"$out" || t_fail "doctor" "nat: $out"
expect "contact online" "$A" contact ok "bob is online, reached by lan: " bob
t_pass "all well: discovery ok with answers, rendezvous and NAT skipped, bob reached by lan"

# ---- 2. a contact offline, an unknown name ----
stop_node "$PB" bob bob
expect "contact offline" "$A" contact warn "bob is offline" bob
expect "unknown contact" "$A" contact fail "zed" zed
t_pass "contact: bob offline is a warning, an unknown name a failure"

# ---- 3. avahi-daemon stopped ----
avahi_stop 1 || t_fail "avahi" "avahi-daemon in host 1 did not stop"
expect "avahi stopped" "$A" discovery fail "avahi-daemon is not reachable"
avahi_start 1 || t_fail "avahi" "avahi-daemon in host 1 did not start"
expect "avahi back" "$A" discovery ok "LAN discovery runs on bt1"
t_pass "avahi-daemon stopped: discovery fails and names it; ok again when it returns"

# ---- 4. no multicast interface ----
host_exec 2 ip link set bt2 multicast off || t_fail "no multicast" "ip link set bt2 multicast off"
start_node 2 bob "$B" bob2
PB=$BG_PID
expect "no multicast" "$B" discovery fail "ip link set DEV multicast on"
stop_node "$PB" bob2 "bob (no multicast)"
host_exec 2 ip link set bt2 multicast on || t_fail "no multicast" "ip link set bt2 multicast on"
t_pass "no multicast interface: discovery fails and says how to turn it on"

# ---- 5. mDNS blocked ----
host_exec 2 iptables -A INPUT -p udp --dport 5353 -j DROP || t_fail "blocked" "iptables"
# host 2's avahi-daemon starts again behind the block: an answer it cached
# before (alice's, heard while bt2 came back with multicast) would count
# as one seen
avahi_stop 2 || t_fail "blocked" "avahi-daemon in host 2 did not stop"
avahi_start 2 || t_fail "blocked" "avahi-daemon in host 2 did not start"
start_node 2 bob "$B" bob3
PB=$BG_PID
is "$B" discovery warn "multicast may be blocked" && t_fail "blocked" "warned before 10 s passed"
wait_for 25 is "$B" discovery warn "no mDNS answers seen on bt2 198.18.0.2: multicast may be blocked" ||
    t_fail "blocked" "no warning: $(check "$B" discovery)"
stop_node "$PB" bob3 "bob (mDNS blocked)"
host_exec 2 iptables -D INPUT -p udp --dport 5353 -j DROP
t_pass "mDNS blocked: a warning that multicast may be blocked once 10 s pass without an answer"

# ---- 6. the rendezvous unreachable ----
stop_node "$PA" alice alice
FPD=0000000000000000000000000000000000000001
bg 1 "$BT_TMP/alice2.log" "$BANTER_BIN" --home "$A" node --name alice --port 7070 --no-mdns \
    --rendezvous 198.18.0.2:7400 --server-key "$FPD"
PA=$BG_PID
wait_for 10 b "$A" id >/dev/null 2>&1 || t_fail "rendezvous" "alice did not answer"
expect "rendezvous down" "$A" rendezvous fail "not connected to the rendezvous 198.18.0.2:7400"
expect "no mdns" "$A" discovery skip "--no-mdns"
stop_node "$PA" alice2 "alice (rendezvous down)"
t_pass "rendezvous unreachable: the check fails and says it is not connected; --no-mdns: skipped"
