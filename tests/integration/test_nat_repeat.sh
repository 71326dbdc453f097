#!/usr/bin/env bash
# test: seconds 163
# SPDX-License-Identifier: MIT
#
# test_nat_repeat.sh - connecting through NAT is reliable, whoever starts
# first: real nodes (the ASan builds), the real rendezvous and coturn, in
# the namespaces of nat_lib.sh (helpers: nat_node_lib.sh). alice and bob
# are approved contacts; each round stops both nodes, starts one of them
# (chosen at random), waits a random 0-3 s, starts the other, and then
# needs both to see the other over the expected route, a chat message
# delivered over it and a 256 KiB file intact:
#   (a) both behind port-restricted cone NATs: route "direct", 10 rounds;
#   (b) bob behind a symmetric NAT: route "relay" (TURN), 10 rounds. Bob's
#       router changes to symmetric while both nodes run: its mappings are
#       lost, so bob's connection to the server dies unnoticed and the
#       server keeps it for a while (until its idle timeout). An offer
#       alice makes before bob's new node is there goes to that dead
#       connection; she offers again after ICELINK_ANSWER_MS without an
#       answer (the first rounds' connect times show it: about 15 s, 33 s
#       before that limit).
# Every round must succeed (100 %); prints, per topology, the success
# count and the connect times (from the second start to a path both
# report). REPEAT_ROUNDS changes the count; REPEAT_SEED makes the skews
# repeatable (printed). Needs root, coturn, iptables, jq; skips (77)
# otherwise.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nat_lib.sh"
require_root
command -v turnserver >/dev/null || t_skip "needs turnserver (Debian coturn)"
command -v jq >/dev/null || t_skip "needs jq"
. "$here/nat_node_lib.sh"
nn_tools
ROUNDS=${REPEAT_ROUNDS:-10}
SEED=${REPEAT_SEED:-$(($(date +%s) % 32768))}
RANDOM=$SEED
echo "rounds $ROUNDS, seed $SEED (REPEAT_SEED=$SEED repeats these skews)"

nat_setup
nat_site a cone
nat_site b cone
nat_host a alice
nat_host b bob
nat_turn_start
nn_server alice bob
start alice
start bob
nn_pair alice bob
wait_for 40 route_is alice bob direct || t_fail setup "no first path: $(route alice bob)"

# round TOPOLOGY ROUTE N : one round; prints its line; false on failure
# (the reason in FAIL_WHY).
round() {
    local topo=$1 want=$2 n=$3 first second skew_ms t1 ms f out
    stop alice
    stop bob
    if [ $((RANDOM % 2)) = 0 ]; then first=alice second=bob; else first=bob second=alice; fi
    skew_ms=$((RANDOM % 3001))
    start "$first"
    sleep "$((skew_ms / 1000)).$(printf '%03d' $((skew_ms % 1000)))"
    start "$second"
    t1=$(now_ms)
    if ! wait_for 40 route_is alice bob "$want" || ! wait_for 10 route_is bob alice "$want"; then
        FAIL_WHY="$first first, $second $skew_ms ms later: alice sees bob over '$(route alice bob)', bob alice over '$(route bob alice)'"
        return 1
    fi
    ms=$(($(now_ms) - t1))
    out=$(b alice send bob "$topo round $n" 2>&1)
    if ! grep -q "delivered to bob" <<<"$out"; then
        FAIL_WHY="round $n chat: $out"
        return 1
    fi
    f=$T/$topo-$n.bin
    head -c 262144 /dev/urandom >"$f"
    nn_file_send alice bob "$f"
    nn_file_finish "$topo round $n" bob "$f" # fails the test itself
    route_is alice bob "$want" || {
        FAIL_WHY="round $n: the route changed to $(route alice bob)"
        return 1
    }
    TIMES+=("$ms")
    echo "  round $n: $first first, $second after $skew_ms ms: $want in $ms ms ($(path alice bob))"
}

# rounds TOPOLOGY ROUTE
rounds() {
    local topo=$1 want=$2 ok=0 n
    TIMES=()
    for n in $(seq 1 "$ROUNDS"); do
        if round "$topo" "$want" "$n"; then
            ok=$((ok + 1))
        else
            echo "  round $n: FAILED: $FAIL_WHY"
        fi
    done
    echo "$topo: $ok of $ROUNDS rounds connected over $want; connect times (ms): ${TIMES[*]}"
    [ "$ok" = "$ROUNDS" ] || t_fail "$topo" "only $ok of $ROUNDS rounds succeeded"
    t_pass "$topo: $ok of $ROUNDS rounds with 0-3 s start skew: $want, a message delivered and a file intact each time"
}

rounds "(a) two cone NATs" direct
nat_mode b symmetric
rounds "(b) bob behind a symmetric NAT" relay

stop alice
stop bob
echo "PASS: test_nat_repeat"
