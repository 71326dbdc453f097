#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_ice.sh - Banter's reliable stream over ICE (peer/net/icestream,
# shared/rstream, over peer/net/ice, driven by tests/netlab/ice_peer.c,
# which checks every byte) next to kernel TCP on the same simulated path,
# in one run:
#   - two hosts joined by a wanline: no delay, 50 ms RTT, 50 ms RTT with
#     1 % loss each way: the stream's MB/s and kernel TCP's (tcpcopy);
#   - two sites behind port-restricted cone NATs with coturn: the stream
#     on the direct (srflx) pair and through TURN (forced relay), with no
#     delay and with each uplink 12.5 ms each way (50 ms RTT either way).
# Targets (DESIGN.md): >= 20 MB/s at 50 ms RTT, >= 5 MB/s at 50 ms with
# 1 % loss, TURN >= 50 % of direct at 50 ms RTT. Exit 1 when one is
# missed.
# Needs root (namespaces), coturn and the netlab tools (make builds them);
# prints SKIP and exits 0 otherwise. BENCH_ICE_MB sets the size of each
# transfer (default 200). Measurements and their meaning: docs/ice.md.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "bench_ice: SKIP (needs root for network namespaces)"
    exit 0
fi
command -v turnserver >/dev/null || {
    echo "bench_ice: SKIP (needs turnserver: Debian coturn, make deps)"
    exit 0
}
for t in wanline tcpcopy ice_peer; do
    [ -x "$ROOT/build/rel/tests/$t" ] || {
        echo "bench_ice: build first (make build/rel/tests/$t)"
        exit 1
    }
done
. "$ROOT/tests/integration/nat_lib.sh"
PEER=$ROOT/build/rel/tests/ice_peer
TCPCOPY=$ROOT/build/rel/tests/tcpcopy
BYTES=$((${BENCH_ICE_MB:-200} * 1000000))
BUF=16777216
status=0

# tcp_rate A B ADDR_B : kernel TCP from host A to B, MB/s.
tcp_rate() {
    local log=$NL_TMP/tcp-$1.log
    nat_bg "$2" "$log" "$TCPCOPY" recv 5001
    wait_for 5 grep -q listening "${log%.log}.err" || t_fail bench_ice "tcpcopy"
    nat_exec "$1" "$TCPCOPY" send "$3" 5001 "$BYTES" || t_fail bench_ice "tcpcopy send"
    wait_for 120 grep -q bytes "$log" || t_fail bench_ice "tcpcopy did not finish"
    awk '{ print $6 }' "$log"
}

# stream_rate A B NAME [PROBE OPTIONS...] : the stream from A to B, MB/s.
stream_rate() {
    local a=$1 b=$2 name=$3
    shift 3
    nat_bg "$b" "$NL_TMP/$name-b.log" "$PEER" --role controlled --buf "$BUF" \
        --local "$NL_TMP/$name-b.sdp" --remote "$NL_TMP/$name-a.sdp" --bytes "$BYTES" \
        --timeout 120 "$@"
    nat_exec "$a" "$PEER" --role controlling --buf "$BUF" \
        --local "$NL_TMP/$name-a.sdp" --remote "$NL_TMP/$name-b.sdp" --bytes "$BYTES" \
        --timeout 120 "$@" >"$NL_TMP/$name-a.log" 2>"$NL_TMP/$name-a.err"
    wait_for 5 grep -q '^transfer' "$NL_TMP/$name-b.log" ||
        t_fail bench_ice "$name: $(cat "$NL_TMP/$name-a.log" "$NL_TMP/$name-b.log")"
    awk '$1 == "transfer" { print $7 }' "$NL_TMP/$name-b.log"
}

# check VALUE MIN : V="ok" or "MISSED" (and remember a miss).
check() {
    if awk -v v="$1" -v m="$2" 'BEGIN { exit !(v >= m) }'; then
        V=ok
    else
        V=MISSED
        status=1
    fi
}

nat_setup
echo "bench_ice: $((BYTES / 1000000)) MB one way per figure (MB = 10^6 bytes)"
k=0
for profile in "no delay:-d 0" "50 ms RTT:-d 25" "50 ms RTT + 1 % loss:-d 25 -l 1"; do
    k=$((k + 1))
    label=${profile%%:*}
    read -r -a opts <<<"${profile#*:}"
    netlab_line "x$k" "y$k" 198.18.7.1 198.18.7.2 "${opts[@]}"
    tcp=$(tcp_rate "x$k" "y$k" 198.18.7.2)
    st=$(stream_rate "x$k" "y$k" "line$k")
    goal=""
    case $label in
    "50 ms RTT") check "$st" 20 && goal="target >= 20: $V" ;;
    "50 ms RTT + 1 % loss") check "$st" 5 && goal="target >= 5: $V" ;;
    esac
    printf 'bench_ice: %-22s stream %8.1f MB/s   kernel TCP %8.1f MB/s   %s\n' \
        "$label" "$st" "$tcp" "$goal"
done

# Through NAT: direct (srflx/srflx) and through TURN.
nat_site a cone
nat_site b cone
nat_host a alice
nat_host b bob
nat_turn_start
read -r TURN_USER TURN_PASS < <(nat_turn_creds bench)
turn=(--turn "$NL_TURN_IP:$NL_TURN_PORT" --turn-user "$TURN_USER" --turn-pass "$TURN_PASS")
# turn_pair LABEL SUFFIX : direct and relayed; the ratio is checked when
# CHECK is set.
turn_pair() {
    local label=$1 sfx=$2 direct relayed ratio goal=""
    direct=$(stream_rate alice bob "direct$sfx" "${turn[@]}")
    relayed=$(stream_rate alice bob "relayed$sfx" "${turn[@]}" --force-relay)
    ratio=$(awk -v r="$relayed" -v d="$direct" 'BEGIN { printf "%.2f", (d > 0 ? r / d : 0) }')
    if [ -n "${CHECK:-}" ]; then
        check "$ratio" 0.5
        goal=", target >= 0.5: $V"
    fi
    printf 'bench_ice: %-22s stream %8.1f MB/s   direct %8.1f MB/s   %sx%s\n' \
        "$label" "$relayed" "$direct" "$ratio" "$goal"
    grep -h '^connected' "$NL_TMP/direct$sfx-a.log" "$NL_TMP/relayed$sfx-a.log" |
        sed 's/^/bench_ice:     /'
}
CHECK="" turn_pair "TURN, no delay" 0
# Both uplinks 12.5 ms each way: 50 ms RTT direct and through TURN alike.
nat_wan_line a -d 12.5
nat_wan_line b -d 12.5
CHECK=1 turn_pair "TURN, 50 ms RTT" 50
exit $status
