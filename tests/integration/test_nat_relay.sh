#!/usr/bin/env bash
# test: seconds 34
# SPDX-License-Identifier: MIT
#
# test_nat_relay.sh - when no direct pair exists: real nodes (the ASan
# builds), the real rendezvous and coturn, in the namespaces of nat_lib.sh
# (helpers: nat_node_lib.sh). alice and bob are approved contacts, each
# behind a symmetric NAT (--random-fully and a drop-unsolicited firewall):
#   (c) both symmetric: only TURN can join them; the path is "relay"
#       (a relayed candidate on at least one side), a chat message is
#       delivered and a 3 MiB file arrives intact over it;
#   (f) coturn goes down: the TURN path dies and both fall back to the
#       rendezvous's sealed relay (route "server"); a chat message is still
#       delivered through it; a file sent then waits (no offer reaches bob
#       while there is no path), and once coturn runs again the nodes find
#       a TURN path by themselves, the offer goes out, and the file arrives
#       intact;
#   own devices: alice's second device (alice2, at bob's site) and her
#       first reach each other directly through TURN too.
# Prints the time to each path. Needs root, coturn, iptables, jq; skips
# (77) otherwise.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nat_lib.sh"
require_root
command -v turnserver >/dev/null || t_skip "needs turnserver (Debian coturn)"
command -v jq >/dev/null || t_skip "needs jq"
. "$here/nat_node_lib.sh"
nn_tools

nat_setup
nat_site a symmetric
nat_site b symmetric
nat_host a alice
nat_host b bob
nat_turn_start
nn_server alice bob
start alice
start bob
nn_pair alice bob

# ---- (c) both symmetric: TURN ----
check_path "(c) both behind symmetric NATs" relay
path alice bob | grep -qE 'TURN|relay' || t_fail "(c)" "not through TURN: $(path alice bob)"
out=$(b alice peers 2>&1)
grep -q 'relay' <<<"$out" || t_fail "(c) peers" "$out"

# ---- (f) coturn down: the sealed relay for text, files wait ----
nat_turn_stop
t0=$(now_ms)
_fallen() { route_is "$1" "$2" server; }
wait_for 60 _fallen alice bob && wait_for 20 _fallen bob alice ||
    t_fail "(f)" "with coturn down alice reaches bob over '$(route alice bob)' ($(path alice bob)), bob alice over '$(route bob alice)'; expected server"
echo "(f) coturn down: back to the sealed relay after $(($(now_ms) - t0)) ms"
out=$(b alice send bob "through the server" 2>&1) && grep -q "delivered to bob" <<<"$out" ||
    t_fail "(f) chat" "$out"
_got() { b bob history alice --json 2>/dev/null | grep -qF '"body":"through the server"'; }
wait_for 5 _got || t_fail "(f) chat" "bob did not get it"
t_pass "(f) coturn down: both fall back to the server's sealed relay and a chat message is delivered through it"

f=$T/waiting.bin
head -c 2097152 /dev/urandom >"$f"
nn_file_send alice bob "$f"
sleep 3
! nn_file_offer bob waiting.bin || t_fail "(f) file" "an offer reached bob with no path"
st=$(b alice transfers --json 2>/dev/null | jq -r '[.[] | select(.name == "waiting.bin")][0].state')
[ "$st" = offered ] || t_fail "(f) file" "alice's transfer is '$st'"
route_is alice bob server || t_fail "(f) file" "alice reaches bob over '$(route alice bob)'"

nat_turn_start
t0=$(now_ms)
wait_for 150 route_is alice bob relay ||
    t_fail "(f)" "coturn back: alice still reaches bob over '$(route alice bob)' ($(path alice bob))"
echo "(f) coturn back: TURN again after $(($(now_ms) - t0)) ms ($(path alice bob))"
nn_file_finish "(f)" bob "$f" 30
t_pass "(f) a file sent while no path existed waited, went out once coturn was back, and arrived intact over TURN"

# ---- two devices of one account: a direct path between them ----
# alice2 is alice's second device, at bob's site (behind its symmetric
# NAT): the two of alice's devices reach each other through TURN as
# contacts' devices do (regression: the node refused an ICE offer from
# its own account's device and never made one to it).
nat_host b alice2
start alice2
nn_login_as alice2 alice
t0=$(now_ms)
_own_path() { grep -q "relay path to alice's device" "$T/$1-${NRUN[$1]}.err"; }
wait_for 60 _own_path alice && wait_for 10 _own_path alice2 ||
    t_fail "own devices" "no path between alice's devices: $(grep -h "alice's device" "$T/alice-${NRUN[alice]}.err" "$T/alice2-1.err")"
echo "own devices: a TURN path after $(($(now_ms) - t0)) ms: $(grep -h "path to alice's device" "$T/alice2-1.err" | tail -n 1)"
grep -q 'not a trusted device' "$T/alice-${NRUN[alice]}.err" "$T/alice2-1.err" &&
    t_fail "own devices" "an offer was refused"
out=$(b alice send bob "a copy for alice2" 2>&1) && grep -q "delivered to bob" <<<"$out" ||
    t_fail "own devices chat" "$out"
_copy() { b alice2 history bob --json 2>/dev/null | grep -qF '"body":"a copy for alice2"'; }
wait_for 10 _copy || t_fail "own devices" "alice2 has no copy of what alice sent"
t_pass "own devices: alice's two devices behind symmetric NATs reach each other through TURN; the copy of a message reaches the other device"

stop alice2
stop alice
stop bob
echo "PASS: test_nat_relay"
