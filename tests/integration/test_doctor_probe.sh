#!/usr/bin/env bash
# test: seconds 63
# SPDX-License-Identifier: MIT
#
# test_doctor_probe.sh - doctor's "port" check: the rendezvous, as a second
# vantage point, connects back to the node's listening port (RV_PROBE,
# docs/rendezvous.md 16), in lib.sh's hosts (server on host 1, ada's node
# on host 2, port 7070):
#   1. nothing in the way: the check is "ok", "your port 7070 is reachable
#      from outside"; the server logs what it probed at info level;
#   2. asked again at once: the server refuses (ERATE, one probe per device
#      per 10 s) and doctor says to run it again shortly;
#   3. who may ask: a connection that never logged in gets ERROR EAUTH; a
#      logged-in device gets its result, and ERATE for a second request
#      within 10 s; a request carries no address (probed: its own);
#   4. iptables DROP on host 2 for TCP 7070: "not reachable from the
#      rendezvous (no answer within 3 s: a firewall or NAT drops it)";
#   5. REJECT instead: "refused";
#   6. a probe whose connection closes before the answer is cancelled:
#      the server keeps serving and stops without a sanitizer report;
#   7. the server started with `probe = off`: RV_PROBE is refused EPERM
#      and doctor says the rendezvous does not test ports for this node.
# (Loopback sources are refused EPERM too: test_rendezvous_authz.)
# Needs root (exit 77 otherwise), iptables, and $BANTER_BIN, $RDV_BIN,
# $RDV_PROBE (the ASan builds by default).
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rnode.sh
. "$here/rnode.sh"

require_root
command -v iptables >/dev/null || t_skip "needs iptables"
rnode_setup 2 RDV_PROBE
rnode_users ada
start_server
start_rnode 2 ada --no-mdns
rnode_login ada ada

# port HOME: the "port" check's line of `doctor --json`.
port() { b "$T/$1" doctor --json 2>/dev/null | sed 's/},{/}\n{/g' | grep -F '"name":"port"'; }
# is NAME STATUS TEXT: the port check has STATUS and TEXT in its text.
is() {
    local c
    c=$(port "$1") || return 1
    grep -qF "\"status\":\"$2\"" <<<"$c" && grep -qF -- "$3" <<<"$c"
}
srvlog() { cat "$T"/srv*.err; }

# ---- 1. reachable ----
out=$(b "$T/ada" doctor 2>&1) # the CLI's text here; --json below
grep -qE '^ok +port +your port 7070 is reachable from outside: the rendezvous connected to 198.18.0.2 port 7070 and this node answered$' <<<"$out" ||
    t_fail "reachable" "the CLI says: $out"
grep -qF "probe for ada: TCP 198.18.0.2 port 7070: reachable" <<<"$(srvlog)" ||
    t_fail "reachable" "not in the server's log: $(grep probe <<<"$(srvlog)")"
# The server's handshake made no peer of it: the node's peer list does not know its key.
fpd=${FP//[ -]/}
! b "$T/ada" peers --json 2>&1 | tr -d ' -' | grep -qF "$fpd" ||
    t_fail "reachable" "the server's probe left a peer: $(b "$T/ada" peers --json 2>&1)"
t_pass "reachable: doctor's port check is ok; the server logged what it probed; no peer left behind"

# ---- 2. too soon ----
is ada skip "at most once every 10 s" || t_fail "rate" "a second doctor at once: $(port ada)"
t_pass "a second probe within 10 s is refused (ERATE) and doctor says to wait"

# ---- 3. who may ask ----
pr2() { host_exec 2 "$RDV_PROBE" --key "$T/$1" 198.18.0.1 7400 hello "${@:2}" 2>&1; }
out=$(pr2 stranger.key probe=7070 wait=500)
grep -qE '^recv error EAUTH$' <<<"$out" && ! grep -q '^recv probe' <<<"$out" ||
    t_fail "authz" "a connection that never logged in: $out"
out=$(pr2 dev2.key "login=ada:$PW" probe=9 wait=1500 probe=9 wait=500)
grep -qE '^recv probe port=9 result=refused address=198.18.0.2$' <<<"$out" ||
    t_fail "authz" "a logged-in device's probe of a closed port: $out"
[ "$(grep -c '^recv error ERATE$' <<<"$out")" = 1 ] && [ "$(grep -c '^recv probe' <<<"$out")" = 1 ] ||
    t_fail "authz" "a second probe within 10 s was not refused: $out"
t_pass "not logged in: EAUTH; logged in: the result for its own address, then ERATE within 10 s"

# ---- 4. dropped ----
host_exec 2 iptables -A INPUT -p tcp --dport 7070 -j DROP || t_fail "drop" "iptables"
wait_for 30 is ada warn "your port 7070 is not reachable from the rendezvous (no answer within 3 s: a firewall or NAT drops it" ||
    t_fail "drop" "$(port ada)"
grep -qF "probe for ada: TCP 198.18.0.2 port 7070: timeout" <<<"$(srvlog)" ||
    t_fail "drop" "not in the server's log"
t_pass "iptables DROP: not reachable, no answer (a firewall or NAT drops it)"

# ---- 5. rejected ----
host_exec 2 iptables -D INPUT -p tcp --dport 7070 -j DROP
host_exec 2 iptables -A INPUT -p tcp --dport 7070 -j REJECT || t_fail "reject" "iptables"
wait_for 30 is ada warn "your port 7070 is not reachable from the rendezvous (refused" ||
    t_fail "reject" "$(port ada)"
t_pass "iptables REJECT: not reachable, refused"

# ---- 6. the connection closes while its probe runs ----
host_exec 2 iptables -D INPUT -p tcp --dport 7070 -j REJECT
host_exec 2 iptables -A INPUT -p tcp --dport 7070 -j DROP
out=$(pr2 dev3.key "login=ada:$PW" probe=7070 bye)
grep -q '^recv auth ok' <<<"$out" || t_fail "cancel" "login: $out"
sleep 4 # past the probe's deadline: a probe not cancelled would write to a freed connection
n=$(grep -c "probe for ada: TCP 198.18.0.2 port 7070: timeout" <<<"$(srvlog)")
[ "$n" = 1 ] || t_fail "cancel" "the probe of a closed connection ran to its end ($n timeouts logged)"
host_exec 2 iptables -D INPUT -p tcp --dport 7070 -j DROP
wait_for 30 is ada ok "your port 7070 is reachable from outside" || t_fail "cancel" "$(port ada)"
stop_server
t_pass "a probe whose connection closed was cancelled; the server served on and stopped clean"

# ---- 7. probes turned off ----
printf 'probe = off\n' >"$T/off.conf"
SRV_N=$((SRV_N + 1))
bg 1 "$T/srv$SRV_N.log" "$RDV_BIN" --config "$T/off.conf" --db "$DB" --listen "$SRV"
SRV_PID=$BG_PID
wait_for 10 grep -q "listening on $SRV" "$T/srv$SRV_N.err" || t_fail "probe off" "server start"
wait_for 40 logged_in ada ada || t_fail "probe off" "ada did not log in again"
out=$(pr2 dev4.key "login=ada:$PW" probe=7070 wait=500)
grep -qE '^recv error EPERM$' <<<"$out" && ! grep -q '^recv probe' <<<"$out" ||
    t_fail "probe off" "RV_PROBE: $out"
is ada skip "the rendezvous does not test ports for this node" || t_fail "probe off" "$(port ada)"
stop_rnode ada
stop_server
t_pass "probe = off: RV_PROBE refused EPERM; doctor says the rendezvous does not test ports"
echo "PASS: test_doctor_probe"
