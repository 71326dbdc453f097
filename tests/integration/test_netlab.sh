#!/usr/bin/env bash
# test: seconds 19
# SPDX-License-Identifier: MIT
# test_netlab.sh - the NAT lab works: in each topology of nat_lib.sh, two
# ice_probe agents (libnice) behind their NATs connect, and ICE selects the
# pair the topology allows:
#   (a) both port-restricted cone (+ firewall)  -> srflx/srflx, direct
#   (b) one symmetric NAT                        -> a relay (TURN)
#   (c) both symmetric                           -> a relay
#   (d) UDP blocked on one side                  -> that side on TURN over TCP
#   (e) the delay line on an uplink: the connection still forms, the
#       measured round trip includes the line's delay
#   (f) bob carried into alice's LAN               -> host/host
#   (g) the product's path (tests/netlab/ice_peer: peer/net/ice, icecand,
#       icestream) through a symmetric NAT and TURN: 3 MB arrive intact;
#       a candidate pointing at the peer's loopback is refused (not
#       passed to libnice) when the peer is not on our LAN
# Prints the pair and the time to connect of each. Needs root, coturn,
# iptables; skips (77) otherwise.
#
#   ICE_PROBE=build/rel/tests/ice_probe WANLINE=build/rel/tests/wanline \
#       bash tests/integration/test_netlab.sh
set -u
. "$(dirname "$0")/nat_lib.sh"
require_root
ICE_PROBE=${ICE_PROBE:-$NL_SRC/build/rel/tests/ice_probe}
ICE_PEER=${ICE_PEER:-$NL_SRC/build/rel/tests/ice_peer}
[ -x "$ICE_PROBE" ] || t_skip "needs $ICE_PROBE (make build/rel/tests/ice_probe)"
[ -x "$ICE_PEER" ] || t_skip "needs $ICE_PEER (make build/rel/tests/ice_peer)"
command -v turnserver >/dev/null || t_skip "needs turnserver (Debian coturn)"
command -v openssl >/dev/null || t_skip "needs openssl"

nat_setup
nat_site a cone
nat_site b cone
nat_host a alice
nat_host b bob
nat_turn_start
read -r TURN_USER TURN_PASS < <(nat_turn_creds lab)

# probe_pair NAME [PROBE OPTIONS...] : alice (controlling) and bob
# (controlled) connect; their output in $NL_TMP/NAME-{alice,bob}.log.
probe_pair() {
    local name=$1 pa pb
    shift
    # No STUN server beside TURN: libnice 0.1.21 then takes 2 s to gather
    # (docs/ice.md); TURN's answer gives the server-reflexive candidate.
    local common=(--turn "$NL_TURN_IP:$NL_TURN_PORT"
        --turn-user "$TURN_USER" --turn-pass "$TURN_PASS" --turn-tcp --timeout 20 "$@")
    nat_exec a conntrack -F >/dev/null 2>&1
    nat_exec b conntrack -F >/dev/null 2>&1
    nat_bg alice "$NL_TMP/$name-alice.log" "$ICE_PROBE" --role controlling \
        --local "$NL_TMP/$name-alice.sdp" --remote "$NL_TMP/$name-bob.sdp" "${common[@]}"
    pa=$NL_LAST_PID
    nat_bg bob "$NL_TMP/$name-bob.log" "$ICE_PROBE" --role controlled \
        --local "$NL_TMP/$name-bob.sdp" --remote "$NL_TMP/$name-alice.sdp" "${common[@]}"
    pb=$NL_LAST_PID
    wait_for 30 _gone "$pa" "$pb" || t_fail "$name" "probes still running after 30 s"
    grep -q '^connected ' "$NL_TMP/$name-alice.log" &&
        grep -q '^connected ' "$NL_TMP/$name-bob.log" ||
        t_fail "$name" "no connection: $(cat "$NL_TMP/$name-alice.log" "$NL_TMP/$name-bob.log")"
}

_gone() {
    local p
    for p in "$@"; do _bt_alive "$p" && return 1; done
    return 0
}

# field LOG WHICH : "TYPE/TRANSPORT" of the local or remote candidate of
# the pair selected last (libnice may first report a pair that checks
# found first, then the nominated one); "turn" gives udp or tcp for a
# local relay.
field() {
    awk -v w="$2" '$1 == "connected" || $1 == "pair" { v = ""
        for (i = 2; i < NF; i++) if ($i == w) v = $(i + 1) }
        END { print v }' "$1"
}

show() {
    local name=$1
    printf '  %-22s alice: %s -> %s  bob: %s -> %s  gathered %s/%s ms, connected %s/%s ms%s\n' \
        "$name" \
        "$(field "$NL_TMP/$name-alice.log" local)" "$(field "$NL_TMP/$name-alice.log" remote)" \
        "$(field "$NL_TMP/$name-bob.log" local)" "$(field "$NL_TMP/$name-bob.log" remote)" \
        "$(awk '$1 == "gathered" { print $2; exit }' "$NL_TMP/$name-alice.log")" \
        "$(awk '$1 == "gathered" { print $2; exit }' "$NL_TMP/$name-bob.log")" \
        "$(awk '$1 == "connected" { print $2; exit }' "$NL_TMP/$name-alice.log")" \
        "$(awk '$1 == "connected" { print $2; exit }' "$NL_TMP/$name-bob.log")" \
        "$(t=$(field "$NL_TMP/$name-bob.log" turn) && [ -n "$t" ] && echo "  bob's TURN over $t")"
}

# Whether either side of NAME went through a relay.
relayed() {
    case "$(field "$NL_TMP/$1-alice.log" local) $(field "$NL_TMP/$1-bob.log" local)" in
    *relay*) return 0 ;;
    esac
    return 1
}

# (a) both port-restricted cone with a firewall: a direct, server-reflexive
# pair on both sides.
probe_pair cone-cone
show cone-cone
[ "$(field "$NL_TMP/cone-cone-alice.log" local)" = srflx/udp ] &&
    [ "$(field "$NL_TMP/cone-cone-bob.log" local)" = srflx/udp ] &&
    [ "$(field "$NL_TMP/cone-cone-alice.log" remote)" = srflx/udp ] ||
    t_fail "cone-cone" "expected srflx/srflx: $(cat "$NL_TMP"/cone-cone-*.log)"
t_pass "(a) both cone + firewall: direct srflx/srflx"

# (b) one symmetric NAT: no direct pair can work, TURN carries it.
nat_mode b symmetric
probe_pair cone-symmetric
show cone-symmetric
relayed cone-symmetric || t_fail "cone-symmetric" "expected a relay: $(cat "$NL_TMP"/cone-symmetric-*.log)"
t_pass "(b) one symmetric: relayed"

# (c) both symmetric.
nat_mode a symmetric
probe_pair symmetric-symmetric
show symmetric-symmetric
relayed symmetric-symmetric || t_fail "symmetric-symmetric" "expected a relay"
t_pass "(c) both symmetric: relayed"

# (d) UDP blocked leaving bob's site: bob can only reach TURN over TCP.
nat_mode a cone
nat_mode b udp-blocked
probe_pair udp-blocked
show udp-blocked
[ "$(field "$NL_TMP/udp-blocked-bob.log" local)" = relay/udp ] &&
    [ "$(field "$NL_TMP/udp-blocked-bob.log" turn)" = tcp ] ||
    t_fail "udp-blocked" "expected bob on a relay over TCP: $(cat "$NL_TMP"/udp-blocked-bob.log)"
t_pass "(d) UDP blocked: TURN over TCP"

# (e) the delay line on bob's uplink (25 ms each way): still connects, and
# ping through it shows the delay.
nat_mode b cone
nat_wan_line b -d 25
rtt=$(nat_exec bob ping -c 3 -i 0.2 -W 2 "$NL_TURN_IP" 2>/dev/null |
    awk -F/ '/^rtt/ { printf "%d", $5 }')
[ -n "$rtt" ] && [ "$rtt" -ge 45 ] && [ "$rtt" -le 200 ] ||
    t_fail "wan line" "ping through the line: '${rtt}' ms, expected about 50"
probe_pair cone-cone-50ms
show cone-cone-50ms
[ "$(field "$NL_TMP/cone-cone-50ms-bob.log" local)" = srflx/udp ] ||
    t_fail "cone-cone-50ms" "expected srflx: $(cat "$NL_TMP"/cone-cone-50ms-*.log)"
t_pass "(e) cone + 50 ms line: direct, ping ${rtt} ms"

# (f) bob joins alice's LAN: the host candidates pair up.
nat_move bob a
probe_pair same-lan
show same-lan
[ "$(field "$NL_TMP/same-lan-alice.log" local)" = host/udp ] &&
    [ "$(field "$NL_TMP/same-lan-bob.log" local)" = host/udp ] ||
    t_fail "same-lan" "expected host/host: $(cat "$NL_TMP"/same-lan-*.log)"
t_pass "(f) bob moved into alice's LAN: host/host ($(nat_host_addr bob))"

# (g) bob back behind a symmetric NAT; the product's modules end to end.
# alice's description gets a forged loopback candidate on its way.
nat_move bob b
nat_mode b symmetric
common=(--turn "$NL_TURN_IP:$NL_TURN_PORT" --turn-user "$TURN_USER" --turn-pass "$TURN_PASS"
    --timeout 30 --bytes 3000000)
nat_bg bob "$NL_TMP/peer-bob.log" "$ICE_PEER" --role controlled \
    --local "$NL_TMP/peer-bob.sdp" --remote "$NL_TMP/peer-alice.fwd" "${common[@]}"
pb=$NL_LAST_PID
nat_bg alice "$NL_TMP/peer-alice.log" "$ICE_PEER" --role controlling \
    --local "$NL_TMP/peer-alice.sdp" --remote "$NL_TMP/peer-bob.sdp" "${common[@]}"
pa=$NL_LAST_PID
wait_for 10 test -s "$NL_TMP/peer-alice.sdp" || t_fail "ice_peer" "alice did not gather"
{
    cat "$NL_TMP/peer-alice.sdp"
    echo "candidate:99 1 udp 2130706431 127.0.0.1 22 typ host"
} >"$NL_TMP/peer-alice.tmp" && mv "$NL_TMP/peer-alice.tmp" "$NL_TMP/peer-alice.fwd"
wait_for 40 _gone "$pa" "$pb" || t_fail "ice_peer" "still running after 40 s"
grep -q '^remote accepted [1-9][0-9]* rejected 1 EPERM$' "$NL_TMP/peer-bob.log" ||
    t_fail "ice_peer" "the loopback candidate was not refused: $(cat "$NL_TMP/peer-bob.log")"
grep -q '^transfer bytes 3000000 ' "$NL_TMP/peer-bob.log" &&
    grep -q '^acknowledged' "$NL_TMP/peer-alice.log" ||
    t_fail "ice_peer" "transfer: $(cat "$NL_TMP/peer-alice.log" "$NL_TMP/peer-bob.log")"
relayed peer || t_fail "ice_peer" "expected a relay: $(cat "$NL_TMP/peer-bob.log")"
show peer
t_pass "(g) ice + icecand + icestream through a symmetric NAT: 3 MB intact, $(awk '$1 == "transfer" { print $7 }' "$NL_TMP/peer-bob.log") MB/s; loopback candidate refused"
exit 0
