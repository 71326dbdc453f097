#!/usr/bin/env bash
# test: seconds 39
# SPDX-License-Identifier: MIT
#
# test_nat_nodes.sh - direct connections through NAT between real nodes
# (the ASan builds), with a real banter-rendezvous and coturn, in the
# namespaces of nat_lib.sh. alice and bob are approved contacts at sites
# behind NAT routers; the server (and coturn) is on the "public" network;
# neither node has mDNS or a --peer: the only way to each other is the
# rendezvous and ICE.
#   (a) both port-restricted cone NATs: the nodes connect directly
#       (route "direct", server-reflexive candidates), a chat message is
#       delivered over it and a 3 MiB file arrives intact;
#   (b) bob behind a symmetric NAT (nodes restarted): the path is TURN
#       (route "relay"), chat and a file again;
#   (c) a forged ICE offer to alice's device from a non-contact (an
#       rdv_probe logged in as mallory) is refused by the server
#       (ENOTCONTACT) and alice's node starts nothing;
#   (d) the path changes while messages flow: bob is carried into alice's
#       LAN (his TURN path dies; alice has a --peer for his new address),
#       and 20 messages sent one every 200 ms around the move all arrive,
#       each once, all are acknowledged (delivered, or stored by the
#       server while bob had no path at all), and the LAN path is taken
#       over (route "lan", preferred to a direct one);
#   (e) UDP blocked at bob's site (bob carried back): `banter nat-check`
#       on bob says TURN works over TCP only, and the path is TURN over
#       TCP (route "relay"); in (a) nat-check said "behind NAT" and TURN
#       over UDP;
#   (e2) another device of bob's (an rdv_probe logged in as bob) sends
#       alice offer after offer: the second replaces the first while it
#       is still checking, the third, 300 ms later, is refused (EBUSY,
#       "too soon"): a contact cannot make alice's node start ICE agents
#       and TURN allocations over and over;
#   (f) bob blocks alice: the direct path ends at once on both sides and
#       a message alice sends then never reaches bob (regression: the
#       path outlived the block).
# Prints the time from login to a connected path. Needs root, coturn,
# iptables, openssl; skips (77) otherwise.
# shellcheck disable=SC2015,SC2317,SC2034 # (t0 is read by nat_node_lib.sh)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nat_lib.sh"
require_root
command -v turnserver >/dev/null || t_skip "needs turnserver (Debian coturn)"
. "$here/nat_node_lib.sh"
nn_tools

nat_setup
nat_site a cone
nat_site b cone
nat_host a alice
nat_host b bob
nat_turn_start
nn_server alice bob mallory
for h in alice bob; do start "$h"; done
nn_pair alice bob

check_path "(a) two cone NATs" direct
path alice bob | grep -q 'srflx' || t_fail "(a)" "not server-reflexive: $(path alice bob)"
nc=$(b alice nat-check --json 2>&1)
[ "$(jq -r .nat <<<"$nc")" = behind ] && [ "$(jq -r .turn <<<"$nc")" = udp ] &&
    [ "$(jq -r .mapped <<<"$nc")" = "$(nat_site_addr a)" ] || t_fail "(a) nat-check" "$nc"
t_pass "(a) nat-check: behind NAT, seen as $(jq -r .mapped <<<"$nc"), TURN over UDP: $(jq -r .verdict <<<"$nc")"

# ---- (c) a forged offer from a non-contact ----
alice_dev=$("$RDV_PROBE" --key "$T/alice/identity.key" --print-key) ||
    t_fail "(c)" "alice's device key"
out=$(nat_exec pub "$RDV_PROBE" --key "$T/mallory.key" 198.18.0.1 7400 hello \
    "login=mallory:$(cat "$T/pw")" "target=alice:$alice_dev:x" ice=offer:alice sync 2>&1)
grep -q '^recv ice end user=alice .* error=ENOTCONTACT$' <<<"$out" || t_fail "(c)" "$out"
sleep 1
! grep -q 'mallory' "$T/alice-${NRUN[alice]}.err" || t_fail "(c)" "alice's node heard of mallory"
t_pass "(c) a forged ICE offer from a non-contact is refused by the server (ENOTCONTACT); alice's node hears nothing"

# ---- (b) bob behind a symmetric NAT: TURN ----
stop alice
stop bob
nat_mode b symmetric
# alice also keeps dialing where bob will be on her LAN in (d).
start alice --peer 198.19.1.12:7070
start bob
t0=$(now_ms)
check_path "(b) bob behind a symmetric NAT" relay
path alice bob | grep -qE 'TURN|relay' || t_fail "(b)" "not through TURN: $(path alice bob)"
out=$(b alice peers 2>&1)
grep -q 'relay' <<<"$out" || t_fail "(b) peers" "$out"

# ---- (d) the path changes while messages flow ----
for i in $(seq 1 20); do
    b alice send bob "moving $i" --wait 0 >/dev/null 2>&1 # queued or delivered: checked below
    [ "$i" = 5 ] && nat_move bob a
    sleep 0.2
done
[ "$(nat_host_addr bob)" = 198.19.1.12 ] || t_fail "(d)" "bob is at $(nat_host_addr bob)"
wait_for 45 route_is alice bob lan ||
    t_fail "(d)" "alice reaches bob over '$(route alice bob)' ($(path alice bob)), not the LAN"
_all_in() {
    [ "$(b bob history alice --json --limit 1000 2>/dev/null | jq '[.[] | select(.body | startswith("moving "))] | length')" = 20 ]
}
_all_acked() {
    [ "$(b alice history bob --json --limit 1000 2>/dev/null |
        jq '[.[] | select((.body | startswith("moving ")) and
            (.state == "delivered" or .state == "stored"))] | length')" = 20 ]
}
wait_for 60 _all_in || t_fail "(d)" "bob has $(b bob history alice --json --limit 1000 | jq -c '[.[] | .body]')"
wait_for 60 _all_acked || t_fail "(d)" "alice: $(b alice history bob --json --limit 1000 | jq -c '[.[] | [.body, .state]]')"
dups=$(b bob history alice --json --limit 1000 | jq -r '.[] | .body' | sort | uniq -d)
[ -z "$dups" ] || t_fail "(d)" "shown twice at bob: $dups"
relayed=$(b alice history bob --json --limit 1000 | jq '[.[] | select(.state == "stored")] | length')
t_pass "(d) bob carried into alice's LAN while 20 messages went out: each arrived once, all acknowledged ($relayed by the server's relay while bob had no path), the LAN path took over ($(path alice bob))"

# ---- (e) UDP blocked at bob's site: TURN over TCP ----
stop alice
stop bob
nat_move bob b
nat_mode b udp-blocked
start alice
start bob
t0=$(now_ms)
_logged_bob() { b bob rendezvous --json 2>/dev/null | grep -q '"user":"bob"'; }
wait_for 15 _logged_bob || t_fail "(e)" "bob is not logged in"
nc=$(b bob nat-check --json 2>&1)
[ "$(jq -r .turn <<<"$nc")" = tcp ] || t_fail "(e) nat-check" "$nc"
out=$(b bob nat-check 2>&1)
grep -q 'TCP only' <<<"$out" || t_fail "(e) nat-check" "$out"
t_pass "(e) nat-check with UDP blocked: $(jq -r .verdict <<<"$nc")"
check_path "(e) UDP blocked at bob's site" relay
path bob alice | grep -q 'TURN tcp' || t_fail "(e)" "not TURN over TCP: $(path bob alice)"

# ---- (e2) offer after offer from a contact's device ----
out=$(nat_exec pub "$RDV_PROBE" --key "$T/bob2.key" 198.18.0.1 7400 hello \
    "login=bob:$(cat "$T/pw")" "target=alice:$alice_dev:x" icehost=198.18.0.99 wait=1500 \
    ice=offer:alice wait=300 ice=offer:alice wait=300 ice=offer:alice wait=1000 2>&1)
grep -q '^recv ice end user=alice .* error=EBUSY$' <<<"$out" || t_fail "(e2)" "no EBUSY: $out"
grep -q "an ICE offer from bob's device .* too soon after the last one: refused" \
    "$T/alice-${NRUN[alice]}.err" || t_fail "(e2)" "alice's log: $(grep -i 'ice offer' "$T/alice-${NRUN[alice]}.err" | tail -n 3)"
t_pass "(e2) offer after offer from a contact's device: the third, 300 ms on, refused (EBUSY, too soon)"

# ---- (f) a block ends the direct path ----
b bob contact block alice >/dev/null 2>&1 || t_fail "(f)" "block"
_no_path() {
    local r
    r=$(route "$1" "$2")
    [ "$r" != relay ] && [ "$r" != direct ]
}
wait_for 10 _no_path alice bob && wait_for 10 _no_path bob alice ||
    t_fail "(f)" "the path outlived the block: alice $(route alice bob), bob $(route bob alice)"
b alice send bob "after the block" --wait 2 >/dev/null 2>&1
sleep 2
! b bob history alice --json 2>/dev/null | grep -qF '"body":"after the block"' ||
    t_fail "(f)" "a message reached bob after he blocked alice"
grep -q "no longer an approved contact" "$T/bob-${NRUN[bob]}.err" || t_fail "(f)" "bob's log"
t_pass "(f) bob blocks alice: the direct path ends on both sides, and alice's next message never reaches him"

stop alice
stop bob
echo "PASS: test_nat_nodes"
