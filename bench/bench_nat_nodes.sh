#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_nat_nodes.sh - a file transfer between two real nodes (bin/banter,
# the release build) through NAT, with the real banter-rendezvous and
# coturn (tests/integration/nat_lib.sh): two sites behind port-restricted
# cone NATs, each uplink a wanline of 12.5 ms each way (50 ms RTT between
# the nodes, through TURN too), the file sent with `send-file` once over
# the direct path (srflx) and once through TURN (bob's NAT made
# symmetric), then once more over the direct path with 1 % random loss
# each way (alice's uplink drops 1 % of the packets in each direction).
# Everything the product does is in the figure: Noise, the transfer
# engine, hashing, writing, rstream, libnice. Beside each direct figure,
# kernel TCP (tcpcopy, the system's congestion control) from alice to bob
# on the same path in the same run (through both NATs: site b's router
# forwards one TCP port to bob for it).
# Targets (DESIGN.md): >= 20 MB/s at 50 ms RTT; >= 5 MB/s at 50 ms RTT
# with 1 % loss; through TURN >= 50 % of direct. Exit 1 when one is
# missed. Needs root, coturn, the wanline and tcpcopy (make
# build/rel/tests/wanline build/rel/tests/tcpcopy) and bin/; prints SKIP
# otherwise. BENCH_NAT_MB sets the file size (default 200), BENCH_NAT_LOSS_MB
# the one with loss (default 100).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "bench_nat_nodes: SKIP (needs root for network namespaces)"
    exit 0
fi
command -v turnserver >/dev/null || {
    echo "bench_nat_nodes: SKIP (needs turnserver: Debian coturn, make deps)"
    exit 0
}
for p in bin/banter bin/banter-rendezvous build/rel/tests/wanline build/rel/tests/tcpcopy; do
    [ -x "$ROOT/$p" ] || {
        echo "bench_nat_nodes: build first (make $p)"
        exit 1
    }
done
. "$ROOT/tests/integration/nat_lib.sh"
BANTER=$ROOT/bin/banter
RDV=$ROOT/bin/banter-rendezvous
TCPCOPY=$ROOT/build/rel/tests/tcpcopy
MB=${BENCH_NAT_MB:-200}
LOSS_MB=${BENCH_NAT_LOSS_MB:-100}
status=0

nat_setup
T=$NL_TMP
nat_site a cone
nat_site b cone
nat_host a alice
nat_host b bob
nat_turn_start
nat_wan_line a -d 12.5
nat_wan_line b -d 12.5

SRV=198.18.0.1:7400
FP=$("$RDV" --db "$T/r.db" fingerprint 2>/dev/null) || t_fail bench "fingerprint"
printf 'bench password\n' >"$T/pw"
for u in alice bob; do
    "$RDV" --db "$T/r.db" user add "$u" --password-file "$T/pw" >/dev/null 2>&1 || t_fail bench "user"
done
printf 'turn = turn:%s:%s\nturn_secret = %s\n' "$NL_TURN_IP" "$NL_TURN_PORT" "$NL_TURN_SECRET" \
    >"$T/rdv.conf"
nat_bg pub "$T/srv.log" "$RDV" --config "$T/rdv.conf" --db "$T/r.db" --listen "$SRV"
wait_for 10 grep -q "listening on" "$T/srv.err" || t_fail bench "server"

b() {
    local h=$1
    shift
    nat_exec "$h" "$BANTER" --home "$T/$h" "$@"
}
declare -A NPID
start() {
    nat_bg "$1" "$T/$1.log" "$BANTER" --home "$T/$1" node --name "$1" --port 7070 --no-mdns \
        --web-port 0 --rendezvous "$SRV" --server-key "$FP"
    NPID[$1]=$NL_LAST_PID
    wait_for 10 b "$1" id >/dev/null 2>&1 || t_fail bench "start $1"
}
stop() {
    kill -TERM "${NPID[$1]}" 2>/dev/null
    _g() { ! kill -0 "$1" 2>/dev/null; }
    wait_for 15 _g "${NPID[$1]}"
}
route() {
    b "$1" peers --json 2>/dev/null | jq -r --arg n "$2" \
        '[.[] | select(.name == $n)][0].devices[0].route // empty'
}
route_is() { [ "$(route "$1" "$2")" = "$3" ]; }

start alice
start bob
for h in alice bob; do
    _up() { b "$1" rendezvous --json 2>/dev/null | grep -q '"connected":true'; }
    wait_for 15 _up "$h" || t_fail bench "connect $h"
    b "$h" login "$h" --password-file "$T/pw" >/dev/null 2>&1 || t_fail bench "login $h"
done
b alice contact add bob >/dev/null 2>&1
_inc() { b bob contacts --json 2>/dev/null | grep -q '"state":"incoming"'; }
wait_for 10 _inc || t_fail bench "request"
b bob approve alice >/dev/null 2>&1
head -c $((MB * 1000000)) /dev/urandom >"$T/data.bin"

# tcp_rate MB : kernel TCP from alice to bob through both NATs (site b
# forwards port 5001 to bob), MB/s.
TK=0
tcp_rate() {
    local log bob_ip
    TK=$((TK + 1))
    log=$T/tcp$TK.log
    bob_ip=$(nat_host_addr bob)
    nat_exec b iptables -t nat -C PREROUTING -i wan0 -p tcp --dport 5001 -j DNAT \
        --to-destination "$bob_ip:5001" 2>/dev/null ||
        nat_exec b iptables -t nat -A PREROUTING -i wan0 -p tcp --dport 5001 -j DNAT \
            --to-destination "$bob_ip:5001" || t_fail bench "port forward"
    nat_exec b iptables -C FORWARD -i wan0 -p tcp -d "$bob_ip" --dport 5001 -j ACCEPT 2>/dev/null ||
        nat_exec b iptables -I FORWARD 1 -i wan0 -p tcp -d "$bob_ip" --dport 5001 -j ACCEPT ||
        t_fail bench "port forward"
    nat_bg bob "$log" "$TCPCOPY" recv 5001
    wait_for 5 grep -q listening "${log%.log}.err" || t_fail bench "tcpcopy recv"
    nat_exec alice "$TCPCOPY" send "$(nat_site_addr b)" 5001 $(($1 * 1000000)) ||
        t_fail bench "tcpcopy send"
    wait_for 120 grep -q bytes "$log" || t_fail bench "tcpcopy did not finish"
    awk '{ printf "%.1f", $6 }' "$log"
}

# send WANT [FILE MB] : the file over route WANT; prints MB/s from accept
# to done.
K=0
send() {
    local want=$1 data=${2:-$T/data.bin} mb=${3:-$MB} id="" t1 t2 sp
    K=$((K + 1))
    wait_for 40 route_is alice bob "$want" || t_fail bench "route $(route alice bob), not $want"
    b alice send-file bob "$data" --wait >"$T/send$K.log" 2>&1 &
    sp=$!
    _offer() {
        id=$(b bob transfers --json 2>/dev/null |
            jq -r '[.[] | select(.direction == "in" and .state == "offered")][0].id // empty')
        [ -n "$id" ]
    }
    wait_for 60 _offer || t_fail bench "no offer"
    mkdir -p "$T/in$K"
    t1=$(now_ms)
    b bob accept "$id" --to "$T/in$K" >/dev/null 2>&1 || t_fail bench "accept"
    wait "$sp" || t_fail bench "send-file: $(tail -n 2 "$T/send$K.log")"
    t2=$(now_ms)
    cmp -s "$data" "$T/in$K/$(basename "$data")" || t_fail bench "the file differs"
    rm -f "$T/in$K/$(basename "$data")"
    awk -v b=$((mb * 1000000)) -v ms=$((t2 - t1)) 'BEGIN { printf "%.1f", b / ms / 1000 }'
}

echo "bench_nat_nodes: a $MB MB file (MB = 10^6 bytes), two cone NATs, 50 ms RTT, release build"
direct=$(send direct)
path=$(b alice peers --json | jq -r '[.[] | select(.name == "bob")][0].devices[0].path')
if awk -v v="$direct" 'BEGIN { exit !(v >= 20) }'; then V=ok; else V=MISSED; status=1; fi
tcp=$(tcp_rate "$MB")
printf 'bench_nat_nodes: direct (%s)  %8.1f MB/s   kernel TCP %s MB/s   target >= 20: %s\n' \
    "$path" "$direct" "$tcp" "$V"
stop alice
stop bob
nat_mode b symmetric
start alice
start bob
relayed=$(send relay)
path=$(b alice peers --json | jq -r '[.[] | select(.name == "bob")][0].devices[0].path')
ratio=$(awk -v r="$relayed" -v d="$direct" 'BEGIN { printf "%.2f", (d > 0 ? r / d : 0) }')
if awk -v v="$ratio" 'BEGIN { exit !(v >= 0.5) }'; then V=ok; else V=MISSED; status=1; fi
printf 'bench_nat_nodes: TURN (%s)  %8.1f MB/s   %sx direct, target >= 0.5: %s\n' \
    "$path" "$relayed" "$ratio" "$V"
stop alice
stop bob

# ---- 1 % loss each way on the direct path ----
nat_mode b cone
nat_wan_reline a -d 12.5 -l 1 -s 7
head -c $((LOSS_MB * 1000000)) /dev/urandom >"$T/lossy.bin"
start alice
start bob
lossy=$(send direct "$T/lossy.bin" "$LOSS_MB")
path=$(b alice peers --json | jq -r '[.[] | select(.name == "bob")][0].devices[0].path')
if awk -v v="$lossy" 'BEGIN { exit !(v >= 5) }'; then V=ok; else V=MISSED; status=1; fi
tcp=$(tcp_rate "$LOSS_MB")
printf 'bench_nat_nodes: direct, 1 %% loss each way (%s, %s MB)  %8.1f MB/s   kernel TCP %s MB/s   target >= 5: %s\n' \
    "$path" "$LOSS_MB" "$lossy" "$tcp" "$V"
stop alice
stop bob
exit $status
