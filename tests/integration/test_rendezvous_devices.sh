#!/usr/bin/env bash
# test: seconds 25
# SPDX-License-Identifier: MIT
#
# test_rendezvous_devices.sh - several devices per person (issue 11, item
# 12): one account, ada, logged in on two nodes (two device keys, both
# certified), bob a contact, the real banter-rendezvous, in network
# namespaces (198.18.0.0/24): host 1 the server, host 2 ada's desk
# ("ada1"), host 3 ada's laptop ("ada2"), host 4 bob.
#   1. the server: a probe of ada's account sees its own entry (state
#      self) grow to two devices when the second node logs in, and the
#      account's devices connected (RV_STATUS devices) from two to three;
#   2. over the relay only (--no-mdns): messages each way; bob's reach
#      both of ada's devices, what either of ada's devices sends reaches
#      bob and comes to the other as sent ("out"); `history bob --json`
#      lists the same ids in the same order with the same directions on
#      both of ada's nodes (and the reverse order on bob's);
#   3. a copy "sent from ada's other device" forged by bob's account
#      (a second device of bob's, an approved contact, sealing a CHAT
#      with "to") is refused by ada's node and stored nowhere;
#   4. on one LAN (mDNS on): ada's two nodes find each other as devices
#      of her own account (certificates), bob finds both; more messages,
#      the histories still read the same, nothing twice; a LAN stranger's
#      CHAT with "to" is answered ERROR EPERM and stored nowhere;
#   5. ICE (the server names a STUN server: a counter of what reaches
#      it): the one of ada's devices that offers makes no offer while the
#      other is offline, one as soon as it logs in (a direct path), and
#      none once it left again.
# Needs root (namespaces). $BANTER_BIN, $RDV_BIN, $RDV_PROBE and $PEER_PROBE default to
# the ASan builds; every process's stderr is checked for sanitizer
# reports.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
command -v jq >/dev/null || t_skip "needs jq"
# shellcheck source=tests/integration/rnode.sh
. "$here/rnode.sh"
rnode_setup 4 RDV_PROBE PEER_PROBE
rnode_users ada bob
start_server

# hist HOME PEER: "id direction" per message, oldest first.
hist() { b "$T/$1" history "$2" --json 2>/dev/null | jq -r '.[] | "\(.id) \(.direction)"'; }
# flip: the same lines with in and out swapped (bob's view of ada's).
flip() { sed 's/ in$/ IN/; s/ out$/ in/; s/ IN$/ out/'; }
count_body() { b "$T/$1" history "$2" --json 2>/dev/null | jq --arg b "$3" '[.[] | select(.body == $b)] | length'; }
has_n() { [ "$(count_body "$1" "$2" "$3")" = "$4" ]; }
# A message sent and seen by all three: at ada1, ada2 and bob.
everywhere() { has_n ada1 bob "$1" 1 && has_n ada2 bob "$1" 1 && has_n bob ada "$1" 1; }

# ---- 1. logins; the server's own entry ----

start_rnode 2 ada1 --no-mdns
start_rnode 4 bob --no-mdns
rnode_login ada1 ada
rnode_login bob bob
run b "$T/ada1" contact add bob
[ "$RC" -eq 0 ] || t_fail "contact add" "exit $RC: $OUT"
approved() { b "$T/$1" contacts --json 2>/dev/null | jq -e --arg u "$2" '.[] | select(.user == $u and .state == "approved")' >/dev/null; }
wait_for 10 b "$T/bob" approve ada >/dev/null 2>&1 || t_fail "approve" "$(b "$T/bob" requests 2>&1)"
wait_for 10 approved ada1 bob && wait_for 10 approved bob ada || t_fail "approve" "$(b "$T/ada1" contacts --json)"

# A probe holding a third device of ada's account watches its own entry.
host_bg 1 "$T/watch.log" "$RDV_PROBE" --key "$T/adaw.key" 198.18.0.1 7400 hello "login=ada:$PW" ready wait=25000 >/dev/null
WATCH=$BT_LAST_PID
wait_for 10 grep -q '^ready$' "$T/watch.log" || t_fail "watch" "$(cat "$T/watch.log")"
grep -q '^recv contact ada state=self .*devices=2$' "$T/watch.log" ||
    t_fail "own entry" "the probe should see ada's two devices (ada1 and itself): $(grep 'state=self' "$T/watch.log")"
start_rnode 3 ada2 --no-mdns
rnode_login ada2 ada
wait_for 10 grep -q '^recv contact ada state=self .*devices=3$' "$T/watch.log" ||
    t_fail "own entry" "not updated when ada2 logged in: $(grep 'state=self' "$T/watch.log")"
# Which of them are connected (RV_STATUS devices): ada1 and the probe,
# then ada2 too.
wait_for 5 grep -q '^recv status online text=- devices=2$' "$T/watch.log" &&
    wait_for 10 grep -q '^recv status online text=- devices=3$' "$T/watch.log" ||
    t_fail "own devices online" "$(grep '^recv status' "$T/watch.log")"
kill -TERM "$WATCH" 2>/dev/null
# The probe's device leaves the account again: back to ada1 and ada2.
# (sync: the PONG comes after the logout's answer, sent once the device
# was unbound.)
out=$(host_exec 1 "$RDV_PROBE" --key "$T/adaw.key" 198.18.0.1 7400 hello ready logout sync 2>&1)
grep -q '^recv auth fail error=ELOGGEDOUT' <<<"$out" || t_fail "logout" "$out"
[ "$("$RDV_PROBE" --sql "$DB" "SELECT count(*) FROM devices WHERE user = 'ada'")" = 2 ] ||
    t_fail "logout" "ada should have two devices"
wait_for 10 approved ada2 bob || t_fail "ada2's list" "$(b "$T/ada2" contacts --json)"
# Neither node lists its own account as a contact or a peer.
for h in ada1 ada2; do
    b "$T/$h" contacts --json | jq -e '[.[] | select(.user == "ada")] | length == 0' >/dev/null &&
        b "$T/$h" peers --json | jq -e '[.[] | select(.name == "ada")] | length == 0' >/dev/null ||
        t_fail "self listed" "$h: $(b "$T/$h" peers --json)"
done
run b "$T/ada1" send ada "to myself"
[ "$RC" -ne 0 ] || t_fail "send to self" "accepted: $OUT"
t_pass "the server's own entry (state self) lists the account's devices, updated at a login and a logout; RV_STATUS names the ones connected; the own account is no contact"

# ---- 2. over the relay ----

b "$T/ada2" listen --json >"$T/ada2-listen.log" 2>"$T/ada2-listen.err" </dev/null &
BT_PIDS+=("$!")
wait_for 10 grep -q "listening for events" "$T/ada2-listen.err" ||
    t_fail "listen" "ada2's listen did not attach: $(cat "$T/ada2-listen.err")"
n=0
say() { # say HOME PEER TEXT: send, and wait until all three have it once
    n=$((n + 1))
    run b "$T/$1" send "$2" "$3"
    [ "$RC" -eq 0 ] || t_fail "send $3" "exit $RC: $OUT"
    wait_for 20 everywhere "$3" || t_fail "copies of '$3'" \
        "ada1 $(count_body ada1 bob "$3"), ada2 $(count_body ada2 bob "$3"), bob $(count_body bob ada "$3")"
}
say ada1 bob "relay 1 from ada's desk"
say bob ada "relay 2 from bob"
say ada2 bob "relay 3 from ada's laptop"
say bob ada "relay 4 from bob"
say ada1 bob "relay 5 from ada's desk"
wait_for 5 grep -q '"event":"message".*"direction":"out".*relay 1 from' "$T/ada2-listen.log" ||
    t_fail "event" "ada2 was not told of ada1's message as her own: $(cat "$T/ada2-listen.log")"
same_history() {
    [ "$(hist ada1 bob)" = "$(hist ada2 bob)" ] && [ "$(hist ada1 bob)" = "$(hist bob ada | flip)" ]
}
wait_for 10 same_history || t_fail "histories" "ada1:
$(hist ada1 bob)
ada2:
$(hist ada2 bob)
bob:
$(hist bob ada)"
[ "$(hist ada1 bob | wc -l)" -eq "$n" ] || t_fail "histories" "$(hist ada1 bob)"
[ "$(hist ada1 bob | awk '{print $2}' | tr '\n' ' ')" = "out in out in out " ] ||
    t_fail "directions" "$(hist ada1 bob)"
# Bob's copies went to each of ada's devices through the relay.
b "$T/bob" history ada --json | jq -e '[.[] | select(.direction == "out" and .state == "delivered")] | length == 2' >/dev/null ||
    t_fail "delivered" "$(b "$T/bob" history ada --json)"
b "$T/ada2" history bob --json | jq -e '[.[] | select(.direction == "out" and .device != null)] | length == 2' >/dev/null ||
    t_fail "device" "ada2's copies of ada1's messages should name ada1's device: $(b "$T/ada2" history bob --json)"
t_pass "relay: $n messages each way between ada's two devices and bob; both of ada's histories list the same ids in the same order and direction (bob's the mirror)"

# ---- 3. a forged copy ----

out=$(host_exec 1 "$RDV_PROBE" --key "$T/bob2.key" 198.18.0.1 7400 hello "login=bob:$PW" ready chatto=@bob \
    "seal=ada:forged: ada never said this" stored=2 2>&1)
grep -q '^seal id=.* to=ada devices=2$' <<<"$out" && [ "$(grep -c 'state=delivered\|state=stored' <<<"$out")" -ge 2 ] ||
    t_fail "forged copy" "bob's probe could not send it: $out"
refused() { grep -q 'refused a relayed message from bob' "$T/ada1-1.err" && grep -q 'refused a relayed message from bob' "$T/ada2-1.err"; }
wait_for 10 refused || t_fail "forged copy" "not refused: $(tail -n 5 "$T/ada1-1.err")"
for h in ada1 ada2; do
    b "$T/$h" history bob --json | grep -q 'ada never said this' && t_fail "forged copy" "$h stored it"
done
[ "$(hist ada1 bob | wc -l)" -eq "$n" ] || t_fail "forged copy" "$(hist ada1 bob)"
t_pass "a copy 'sent from ada's other device' sealed by bob's account (an approved contact) is refused by both of ada's nodes and stored nowhere"

# ---- 3b. a copy a node cannot take now ----
# bob's account (an approved contact) sends each of ada's devices a group
# message for a group that does not exist: the node cannot take it now
# (it waits for the group's state) and answers RV_KEEP, so the server
# stores it at once and holds nothing else back for ada's devices. (The
# node used to leave it unanswered: 10 s later the server took the device
# as stalled and routed nothing more to it for the rest of the session.)
junk=()
while read -r k; do junk+=("gjunk=ada:$k"); done < <("$RDV_PROBE" --sql "$DB" "SELECT lower(hex(key)) FROM devices WHERE user = 'ada'")
[ "${#junk[@]}" -eq 2 ] || t_fail "junk" "ada's devices: ${junk[*]}"
t0=$(now_ms)
out=$(host_exec 1 "$RDV_PROBE" --key "$T/bob2.key" 198.18.0.1 7400 hello "login=bob:$PW" ready "${junk[@]}" stored=2 2>&1)
t=$(($(now_ms) - t0))
[ "$(grep -c 'state=stored error=-$' <<<"$out")" -eq 2 ] && [ "$t" -lt 8000 ] ||
    t_fail "junk" "both copies should be answered stored at once (the nodes' RV_KEEP), after $t ms: $out"
say bob ada "relay 6 from bob, after two copies ada could not take"
say ada1 bob "relay 7 from ada's desk"
t_pass "a contact's copy a node cannot take now (a group message of no group) is answered RV_KEEP: stored at once ($t ms with the login), the devices not stalled, messages flow"

# ---- 4. one LAN ----

for h in ada1 ada2 bob; do stop_rnode "$h"; done
start_rnode 2 ada1
start_rnode 3 ada2
start_rnode 4 bob
lan_dev() { # lan_dev HOME: how many devices it has up on the LAN (a direct
    # connection through the rendezvous, route "direct", is online too)
    b "$T/$1" peers --json 2>/dev/null |
        jq '[.[] | .devices[]? | select(.online == true and .route == "lan")] | length'
}
on_lan() { [ "$(lan_dev bob)" -ge 2 ]; }
wait_for 30 on_lan || t_fail "LAN" "bob should see both of ada's devices on the LAN: $(b "$T/bob" peers --json)"
for h in ada1 ada2 bob; do wait_for 15 logged_in "$h" "${h%[12]}" || t_fail "login $h" "not logged in again"; done
say ada2 bob "lan 6 from ada's laptop"
say bob ada "lan 7 from bob"
say ada1 bob "lan 8 from ada's desk"
wait_for 10 same_history || t_fail "histories (LAN)" "ada1:
$(hist ada1 bob)
ada2:
$(hist ada2 bob)"
[ "$(hist ada1 bob | wc -l)" -eq "$n" ] || t_fail "duplicates" "$(hist ada1 bob)"
grep -q '"lan"' <(b "$T/bob" peers --json) || t_fail "LAN" "no LAN device at bob's"
t_pass "LAN: ada's two nodes and bob on one LAN; $n messages in all, the same ids in the same order and direction on both of ada's devices, none twice"

forged='{"id":"00112233445566778899aabbccddeeff","ts":1795303925123,"body":"forged on the LAN","to":"@bob"}'
out=$(host_exec 4 "$PEER_PROBE" 198.18.0.2 7070 conn 0 hello ada2 raw 2 "$forged" expect error 3000 2>&1) ||
    t_fail "LAN forged copy" "$out"
grep -q 'got error conn 0 EPERM' <<<"$out" || t_fail "LAN forged copy" "not refused EPERM: $out"
for h in ada1 ada2; do
    b "$T/$h" history bob --json | grep -q 'forged on the LAN' && t_fail "LAN forged copy" "$h stored it"
done
t_pass "a LAN stranger calling itself ada2 and sending a copy 'from ada's other device' gets ERROR EPERM; nothing stored"

# ---- 5. ICE offers only to the account's devices that are online ----
# The server names a STUN server (a UDP listener here that counts what
# comes, from which address): a node gathers against it for every ICE
# offer it makes. Of ada's two devices the one with the smaller key
# offers (docs/protocol.md, "Who starts"); it runs alone first, the other
# bound to the account but offline.
for h in ada1 ada2 bob; do stop_rnode "$h"; done
stop_server
host_bg 1 "$T/stun.log" python3 -u -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 3479))
print("ready")
while True:
    print(s.recvfrom(2048)[1][0])'
wait_for 5 grep -q '^ready$' "$T/stun.log" || t_fail "stun listener" "$(cat "$T/stun.err")"
printf 'stun = stun:198.18.0.1:3479\n' >"$T/rdv-ice.conf"
chmod 600 "$T/rdv-ice.conf"
start_server --config "$T/rdv-ice.conf"
k1=$("$RDV_PROBE" --key "$T/ada1/identity.key" --print-key)
k2=$("$RDV_PROBE" --key "$T/ada2/identity.key" --print-key)
if [[ $k1 < $k2 ]]; then lo=ada1 lo_host=2 hi=ada2 hi_host=3; else lo=ada2 lo_host=3 hi=ada1 hi_host=2; fi
from_lo() { grep -c "^198.18.0.$lo_host$" "$T/stun.log"; }
start_rnode "$lo_host" "$lo" --no-mdns
wait_for 15 logged_in "$lo" ada || t_fail "ICE: login $lo" "$(b "$T/$lo" rendezvous --json 2>&1)"
# The server's RV_STATUS came (it names the account's devices connected:
# $lo alone); an offer would go out at once. What is checked is that none
# does: the time one would take stays a fixed wait.
_own_known() { b "$T/$lo" rendezvous --json 2>/dev/null | grep -q '"status":"online"'; }
wait_for 10 _own_known || t_fail "ICE: login $lo" "no status from the server: $(b "$T/$lo" rendezvous --json 2>&1)"
sleep 3
[ "$(from_lo)" -eq 0 ] ||
    t_fail "ICE: offline device" "$lo gathered for an offer $(from_lo) times while $hi was offline"
start_rnode "$hi_host" "$hi" --no-mdns
wait_for 15 logged_in "$hi" ada || t_fail "ICE: login $hi" "$(b "$T/$hi" rendezvous --json 2>&1)"
_own_path() { grep -q "path to ada's device" "$T/$lo-${NRUN[$lo]}.err"; }
wait_for 20 _own_path || t_fail "ICE: online device" "no path from $lo to $hi: $(cat "$T/$lo-${NRUN[$lo]}.err")"
[ "$(from_lo)" -gt 0 ] || t_fail "ICE: online device" "a path without gathering?"
stop_rnode "$hi"
# Its connections end (the server tells to $lo at once); the path is
# gone when $lo's node holds no UDP socket any more (its ICE agent's, freed
# after the stream closed; it has none without a path).
_path_gone() { [ "$(host_exec "$lo_host" ss -Huanp | grep -c "pid=${NPID[$lo]},")" -eq 0 ]; }
wait_for 15 _path_gone || t_fail "ICE: gone offline" "$lo still holds its path: $(host_exec "$lo_host" ss -Huanp)"
n_lo=$(from_lo)
# What is checked is that no offer follows: without the server's list one
# would come 2 to 7 s after the path ended, so that time stays a fixed wait.
sleep 6
[ "$(from_lo)" -eq "$n_lo" ] ||
    t_fail "ICE: gone offline" "$lo gathered for an offer $(($(from_lo) - n_lo)) times after $hi left"
t_pass "ICE: the device that offers makes no offer to the account's other device while the server lists it offline, offers once it comes online (a direct path), and stops when it leaves"

stop_rnode "$lo"
stop_server
t_pass "clean stop, no sanitizer reports"
echo "PASS: test_rendezvous_devices"
