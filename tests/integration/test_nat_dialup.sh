#!/usr/bin/env bash
# test: serial (each chat message must arrive within 2 s over the 56 kbit/s line)
# test: seconds 49
# SPDX-License-Identifier: MIT
#
# test_nat_dialup.sh - Banter over dial-up: real nodes (the ASan builds),
# the real rendezvous and coturn, in the namespaces of nat_lib.sh
# (helpers: nat_node_lib.sh). alice is behind a cone NAT on broadband;
# bob's site (cone NAT) reaches the public network through a wanline of
# 56 kbit/s each way, 150 ms each way (300 ms RTT between the nodes) and
# an 8 KiB modem buffer (topology (g)):
#   - bob logs in through it, and his contact list and alice's presence
#     arrive;
#   - the two nodes connect over ICE through the slow line;
#   - while alice sends bob a file over that path, each of her chat
#     messages is delivered within 2 s (the transfer yields to chat);
#   - the transfer completes and the file is intact, on the one
#     connection it started on (no keepalive or frame timer cut the slow
#     but live connection), which is still up after 20 s of silence.
# Prints the times. Needs root, coturn, iptables, jq and the wanline
# (make build/rel/tests/wanline); skips (77) otherwise.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nat_lib.sh"
require_root
command -v turnserver >/dev/null || t_skip "needs turnserver (Debian coturn)"
command -v jq >/dev/null || t_skip "needs jq"
[ -x "$WANLINE" ] || t_skip "needs $WANLINE (make build/rel/tests/wanline)"
. "$here/nat_node_lib.sh"
nn_tools

nat_setup
nat_site a cone
nat_site b cone
nat_host a alice
nat_host b bob
nat_wan_line b -d 150 -r 56k -q 8K
nat_turn_start
nn_server alice bob
start alice
start bob

# ---- login, contact list and presence through the modem ----
t1=$(now_ms)
nn_login alice bob
echo "login through 56 kbit/s: $(($(now_ms) - t1)) ms"
b alice contact add bob >/dev/null 2>&1 || t_fail contacts "alice: contact add bob"
_incoming() { b bob contacts --json 2>/dev/null | grep -q '"state":"incoming"'; }
wait_for 20 _incoming || t_fail contacts "bob got no request"
b bob approve alice >/dev/null 2>&1 || t_fail contacts "bob: approve alice"
t0=$(now_ms)
_sees() {
    b "$1" contacts --json 2>/dev/null |
        jq -e --arg n "$2" '.[] | select(.user == $n and .state == "approved" and .status == "online")' >/dev/null
}
wait_for 20 _sees bob alice || t_fail presence "bob: $(b bob contacts --json 2>&1)"
wait_for 20 _sees alice bob || t_fail presence "alice: $(b alice contacts --json 2>&1)"
t_pass "(g) login, the contact list and alice's presence arrive through 56 kbit/s and 300 ms RTT"

# ---- the path through the modem ----
wait_for 60 route_is alice bob direct && wait_for 20 route_is bob alice direct ||
    t_fail path "alice sees bob over '$(route alice bob)' ($(path alice bob)), bob alice over '$(route bob alice)'"
echo "(g) direct path after $(($(now_ms) - t0)) ms: $(path alice bob)"
_logged_path() { grep -q 'path to' "$T/alice-1.err"; }
wait_for 10 _logged_path || t_fail path "alice's node did not log its path"
paths0=$(grep -c 'path to' "$T/alice-1.err")

# ---- chat while a file goes ----
f=$T/modem.bin
head -c 131072 /dev/urandom >"$f"
nn_file_send alice bob "$f"
wait_for 30 nn_file_offer bob modem.bin || t_fail file "no offer at bob: $(cat "$f.send.log")"
mkdir -p "$T/in-modem.bin"
b bob accept "$NN_OFFER" --to "$T/in-modem.bin" >/dev/null 2>&1 || t_fail file "accept"
_moving() { grep -q '%' "$f.send.log"; }
wait_for 30 _moving || t_fail file "the transfer does not move: $(cat "$f.send.log")"
worst=0
times=()
for i in 1 2 3; do
    sleep 2
    _nn_gone "$NN_SEND" && t_fail chat "the transfer ended before chat $i: the file is too small for this line"
    t1=$(now_ms)
    out=$(b alice send bob "over the modem $i" --wait 30 2>&1)
    ms=$(($(now_ms) - t1))
    grep -q "delivered to bob" <<<"$out" || t_fail chat "message $i: $out"
    times+=("$ms")
    [ "$ms" -gt "$worst" ] && worst=$ms
done
echo "(g) chat during the transfer delivered in ${times[*]} ms"
[ "$worst" -le 2000 ] || t_fail chat "a message took $worst ms during the transfer (at most 2000): ${times[*]}"
t_pass "(g) three chat messages during the transfer each delivered within 2 s (${times[*]} ms)"

t1=$(now_ms)
wait_for 120 _nn_gone "$NN_SEND" || t_fail file "send-file still running: $(tail -n 2 "$f.send.log")"
wait "$NN_SEND" || t_fail file "send-file failed: $(tail -n 3 "$f.send.log")"
cmp -s "$f" "$T/in-modem.bin/modem.bin" || t_fail file "the received file differs"
n=$(grep -c 'path to' "$T/alice-1.err")
r=$(route alice bob)
[ "$n" = "$paths0" ] && [ "$r" = direct ] ||
    t_fail file "the path was made again during the transfer (route '$r', $n paths, $paths0 before): $(grep 'path' "$T/alice-1.err")"
t_pass "(g) a 128 KiB file arrived intact over the modem on the connection it started on ($(tail -n 1 "$f.send.log"))"

# ---- silence ----
sleep 20
route_is alice bob direct && route_is bob alice direct &&
    [ "$(grep -c 'path to' "$T/alice-1.err")" = "$paths0" ] ||
    t_fail idle "after 20 s of silence: alice sees bob over '$(route alice bob)', bob alice over '$(route bob alice)'"
out=$(b bob send alice "still here" 2>&1) && grep -q "delivered to alice" <<<"$out" || t_fail idle "$out"
t_pass "(g) after 20 s of silence the slow connection is still up and carries a message"

stop alice
stop bob
echo "PASS: test_nat_dialup"
