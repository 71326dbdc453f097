#!/usr/bin/env bash
# test: seconds 15
# SPDX-License-Identifier: MIT
#
# test_doctor_nat.sh - `banter doctor`'s "mapping" check (the NAT's mapping
# behaviour from STUN answers) in the topologies that give each verdict:
# real nodes (the ASan builds), the real rendezvous and one coturn in the
# namespaces of nat_lib.sh (helpers: nat_node_lib.sh). The rendezvous names
# coturn's two addresses as the two vantage points: "stun =
# stun:198.18.0.2:3478" and "turn = turn:198.18.0.1:3478" (coturn answers
# Binding requests on both).
#   1. alice behind a cone NAT (MASQUERADE): "ok", "endpoint-independent
#      mapping", both addresses see the same mapping (also in the plain
#      output);
#   2. bob behind a symmetric NAT (MASQUERADE --random-fully): "warn",
#      "address/port-dependent mapping (a symmetric NAT)" with two
#      different mappings, "go through TURN";
#   no NAT: a third node in the public namespace (beside coturn): "ok",
#      "no NAT: the STUN server sees this host's own address";
#   3. UDP blocked at alice's site: "fail", "STUN unreachable (UDP
#      blocked?)"; back to endpoint-independent when UDP is let out again;
#   4. coturn down: bob's check is "fail", "STUN unreachable: nothing
#      listens" (the ICMP port unreachable, read from the socket's error
#      queue, tells it from UDP blocked in 3., where nothing comes back).
# Needs root, coturn, iptables, jq; skips (77) otherwise.
# shellcheck disable=SC2015,SC2317,SC2034 # NN_RDV_EXTRA is nat_node_lib.sh's
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nat_lib.sh"
require_root
command -v turnserver >/dev/null || t_skip "needs turnserver (Debian coturn)"
command -v jq >/dev/null || t_skip "needs jq"
. "$here/nat_node_lib.sh"
nn_tools

nat_setup
nat_site a cone
nat_site b symmetric
nat_host a alice
nat_host b bob
nat_turn_start
NN_RDV_EXTRA="stun = stun:$NL_STUN_IP:$NL_TURN_PORT"
nn_server alice bob pub
start alice
start bob
start pub # a node in the public network itself, beside coturn: no NAT
nn_login alice bob pub

# mapping H: the "mapping" check of H's `doctor --json` ({name, status, text}).
mapping() {
    b "$1" doctor --json 2>/dev/null | jq -c '.checks[] | select(.name == "mapping")'
}
# has_servers H: the rendezvous has named its STUN/TURN servers to H.
has_servers() {
    MAP=$(mapping "$1")
    [ -n "$MAP" ] && ! grep -q 'named no STUN' <<<"$MAP"
}
# is_map H STATUS TEXT: H's mapping check has STATUS and TEXT (in MAP).
is_map() {
    MAP=$(mapping "$1")
    [ "$(jq -r .status <<<"$MAP")" = "$2" ] && grep -qF -- "$3" <<<"$MAP"
}
# expect WHAT H STATUS TEXT: is_map within 40 s (a doctor call takes up to
# 10 s: its ICE gathering).
expect() {
    wait_for 40 is_map "$2" "$3" "$4" || t_fail "$1" "$2's mapping is not $3 with \"$4\": $MAP"
    echo "$1: $2: $(jq -r .text <<<"$MAP")"
}

wait_for 30 has_servers alice && wait_for 30 has_servers bob && wait_for 30 has_servers pub ||
    t_fail setup "the rendezvous named no STUN server: $MAP"
A_WAN=$(nat_site_addr a)
B_WAN=$(nat_site_addr b)
S1=$NL_STUN_IP:$NL_TURN_PORT
S2=$NL_TURN_IP:$NL_TURN_PORT

# ---- 1. cone NAT ----
expect "cone" alice ok "endpoint-independent mapping (a cone NAT): $S1 and $S2 both see this node as $A_WAN:"
t1=$(now_ms)
out=$(b alice doctor 2>&1) || t_fail "cone" "doctor exited $?: $out"
echo "cone: one doctor call (NAT check and mapping check) took $(($(now_ms) - t1)) ms"
grep -qE '^ok +mapping +endpoint-independent mapping' <<<"$out" || t_fail "cone" "plain output: $out"
t_pass "cone NAT (MASQUERADE): endpoint-independent mapping, direct connections likely"

# ---- 2. symmetric NAT ----
expect "symmetric" bob warn "address/port-dependent mapping (a symmetric NAT): $S1 sees this node as $B_WAN:"
txt=$(jq -r .text <<<"$MAP")
m1=$(sed -E 's/.* sees this node as ([0-9.]+:[0-9]+), .*/\1/' <<<"$txt")
m2=$(sed -E "s/.*, $S2 as ([0-9.]+:[0-9]+):.*/\1/" <<<"$txt")
[ -n "$m1" ] && [ "$m1" != "$txt" ] && [ "$m2" != "$txt" ] && [ "$m1" != "$m2" ] ||
    t_fail "symmetric" "not two different mappings: $txt"
grep -qF "will usually go through TURN" <<<"$txt" || t_fail "symmetric" "$txt"
t_pass "symmetric NAT (--random-fully): address/port-dependent mapping ($m1 vs $m2), TURN needed"

# ---- no NAT ----
expect "no NAT" pub ok "no NAT: the STUN server sees this host's own address 198.18.0."
t_pass "no NAT (a node on the public network): the mapped address is the host's own"

# ---- 3. UDP blocked ----
nat_mode a udp-blocked
expect "udp blocked" alice fail "STUN unreachable (UDP blocked?): no answer from $S1 and $S2"
nat_mode a cone
expect "udp back" alice ok "endpoint-independent mapping"
t_pass "UDP blocked: STUN unreachable; endpoint-independent again once UDP goes out"

# ---- 4. coturn down ----
nat_turn_stop
expect "coturn down" bob fail "STUN unreachable: nothing listens on $S1 and $S2 (ICMP port unreachable)"
t_pass "coturn down: STUN unreachable, nothing listens (the ICMP port unreachable came back through the symmetric NAT)"

stop alice
stop bob
stop pub
