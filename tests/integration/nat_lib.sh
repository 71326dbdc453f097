# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2015,SC2034
# (SC2015: "a && b || t_fail ..." is meant, t_fail exits; SC2034: the NL_*
# variables are for the sourcing test.)
#
# nat_lib.sh - sites behind NAT routers, a "public internet" with STUN/TURN
# (coturn), and simulated WAN lines, in network namespaces, for Banter's
# integration tests and benches. Source it from a bash script run as root:
#
#   . "$(dirname "$0")/nat_lib.sh"
#   require_root
#   nat_setup                          # the public network (namespace pub)
#   nat_site a cone                    # site a: router + LAN, behind a NAT
#   nat_site b symmetric
#   nat_host a alice                   # host alice on site a's LAN
#   nat_host b bob
#   nat_turn_start                     # coturn in pub (UDP and TCP)
#   nat_wan_line b -d 25 -l 1          # site b's uplink: 25 ms each way, 1 % loss
#   nat_bg alice "$NL_TMP/a.log" prog  # run in alice's namespace
#
# Layout (every namespace name ends in -$$, so parallel runs stay apart):
#
#   nl-pub-$$    bridge pbr: 198.18.0.1/24 (TURN) and 198.18.0.2 (STUN);
#                a default route to a fake next hop 198.18.0.254, as a real
#                server has (coturn drops an allocation when relaying to an
#                unroutable private address fails with ENETUNREACH)
#   nl-S-$$      site S's router, site number N (1, 2, ... in order of
#                nat_site): wan0 198.18.0.(10+N)/24 on pbr, default route via
#                198.18.0.1; LAN bridge lbr 198.19.N.1/24; ip_forward on
#   nl-H-$$      host H on a site's LAN: lan0 198.19.N.(10+k)/24 (k-th host
#                of that site), default route via the router
#   nl-S-line-$$ after nat_wan_line S: the wanline wire between wan0 (its
#                end lr0) and the public bridge (its end lp0)
#
# NAT behaviours (nat_site, nat_mode):
#   cone        port-restricted cone: MASQUERADE (keeps the port when it
#               can) and a home router's firewall: only replies come in
#   symmetric   MASQUERADE --random-fully (a new port per destination) and
#               the same firewall: needs TURN
#   udp-blocked cone, and no UDP leaves the LAN: only TCP (TURN over TCP)
#   open        MASQUERADE without the firewall (unsolicited packets reach
#               the router; conntrack breaks hole punching when one side
#               starts later, see docs/ice.md)
#
# Interface names avoid veth*, docker*, virbr*, vnet* (Debian's libnice
# skips those). Addresses are in 198.18.0.0/15 only; nothing is attached to
# the root namespace, so no test packet can leave the machine. nat_teardown
# runs on EXIT, also after a failure: it stops the processes this library
# started (by PID, and whatever still runs inside its own namespaces),
# deletes the namespaces and the scratch directory ($NL_TMP, kept when
# NL_KEEP_TMP is set).
#
# Tools: WANLINE (default build/rel/tests/wanline beside this tree) for
# nat_wan_line; turnserver (Debian coturn) for nat_turn_start; iptables and
# conntrack. Helpers (t_pass, t_fail, t_skip, wait_for, now_ms,
# require_root) come from lib.sh.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NL_TMP=""            # scratch directory: logs, coturn's files, pid list
NL_PUB=""            # namespace of the public network
NL_NS=()             # every namespace made here (for teardown)
NL_PIDS=()           # PIDs started here
declare -A NL_SITE_N # site -> its number N
declare -A NL_SITE_K # site -> hosts made on it so far
declare -A NL_HOST_SITE
declare -A NL_LINE_PID # site -> PID of its wanline
declare -A NL_LINE_K   # site -> starts of its wanline
NL_NSITES=0
NL_TURN_IP=198.18.0.1
NL_STUN_IP=198.18.0.2
NL_TURN_PORT=3478
NL_TURN_SECRET=""
NL_TURN_REALM=banter.test
NL_LAST_PID=""
NL_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WANLINE=${WANLINE:-$NL_SRC/build/rel/tests/wanline}

# Namespace of a site or host name.
nat_ns() { printf 'nl-%s-%s\n' "$1" "$$"; }

# nat_exec NAME CMD... : run CMD in the namespace of site or host NAME (or
# "pub").
nat_exec() {
    local ns
    ns=$(nat_ns "$1")
    shift
    ip netns exec "$ns" "$@"
}

# nat_bg NAME LOGFILE CMD... : nat_exec in the background; stdout to
# LOGFILE, stderr to LOGFILE with .log replaced by .err. Sets NL_LAST_PID
# (not when called in $(...)) and records the PID for teardown.
nat_bg() {
    local ns log=$2 err
    ns=$(nat_ns "$1")
    shift 2
    err=${log%.log}.err
    [ "$err" = "$log" ] && err=$log.err
    ip netns exec "$ns" "$@" >"$log" 2>"$err" </dev/null &
    NL_LAST_PID=$!
    disown "$NL_LAST_PID"
    NL_PIDS+=("$NL_LAST_PID")
    printf '%s\n' "$NL_LAST_PID" >>"$NL_TMP/pids"
}

_nl_netns() {
    local ns=$1
    ip netns add "$ns" || t_fail nat_lib "cannot add namespace $ns"
    NL_NS+=("$ns")
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
    return 0
}

# nat_setup : the public network. Installs the EXIT trap.
nat_setup() {
    local tool
    for tool in ip iptables conntrack awk; do
        command -v "$tool" >/dev/null || t_skip "needs $tool"
    done
    trap nat_teardown EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    NL_TMP=$(mktemp -d /tmp/bt-nat.XXXXXX) || t_fail nat_setup "mktemp"
    BT_TMP=$NL_TMP # t_fail shows the logs in it
    : >"$NL_TMP/pids"
    NL_TURN_SECRET=$(head -c 18 /dev/urandom | base64)
    NL_PUB=$(nat_ns pub)
    _nl_netns "$NL_PUB"
    # Bridges get a fixed MAC: otherwise a bridge takes its lowest port's,
    # which changes when a port is replaced (nat_wan_line, nat_move) and
    # leaves every neighbour's ARP entry pointing at nothing.
    ip -n "$NL_PUB" link add pbr address 02:00:00:00:00:01 type bridge &&
        ip -n "$NL_PUB" addr add "$NL_TURN_IP/24" dev pbr &&
        ip -n "$NL_PUB" addr add "$NL_STUN_IP/24" dev pbr &&
        ip -n "$NL_PUB" link set pbr up &&
        ip -n "$NL_PUB" neigh add 198.18.0.254 lladdr 02:00:00:00:00:fe dev pbr nud permanent &&
        ip -n "$NL_PUB" route add default via 198.18.0.254 dev pbr ||
        t_fail nat_setup "public network"
}

# nat_mode SITE cone|symmetric|udp-blocked|open : set the router's NAT and
# firewall (and forget the mappings it had).
nat_mode() {
    local s=$1 mode=$2 masq=(-j MASQUERADE)
    case $mode in
    cone | udp-blocked | open) ;;
    symmetric) masq+=(--random-fully) ;;
    *) t_fail nat_mode "unknown NAT mode '$mode'" ;;
    esac
    nat_exec "$s" iptables -t nat -F &&
        nat_exec "$s" iptables -F &&
        nat_exec "$s" iptables -P INPUT ACCEPT &&
        nat_exec "$s" iptables -P FORWARD ACCEPT &&
        nat_exec "$s" iptables -t nat -A POSTROUTING -o wan0 "${masq[@]}" ||
        t_fail nat_mode "iptables in site $s"
    if [ "$mode" != open ]; then
        nat_exec "$s" iptables -A INPUT -i lo -j ACCEPT &&
            nat_exec "$s" iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT &&
            nat_exec "$s" iptables -A INPUT -i wan0 -j DROP &&
            nat_exec "$s" iptables -A FORWARD -i wan0 -m conntrack \
                --ctstate ESTABLISHED,RELATED -j ACCEPT &&
            nat_exec "$s" iptables -A FORWARD -i wan0 -j DROP ||
            t_fail nat_mode "firewall in site $s"
    fi
    if [ "$mode" = udp-blocked ]; then
        nat_exec "$s" iptables -I FORWARD 1 -i lbr -o wan0 -p udp -j DROP ||
            t_fail nat_mode "udp block in site $s"
    fi
    nat_exec "$s" conntrack -F >/dev/null 2>&1
    return 0
}

# nat_site SITE MODE : a router namespace behind which hosts can be put.
nat_site() {
    local s=$1 mode=$2 n ns
    n=$((NL_NSITES + 1))
    [ "$n" -le 200 ] || t_fail nat_site "too many sites"
    NL_NSITES=$n
    NL_SITE_N[$s]=$n
    NL_SITE_K[$s]=0
    ns=$(nat_ns "$s")
    _nl_netns "$ns"
    ip -n "$NL_PUB" link add "p-$n" type veth peer name wan0 netns "$ns" &&
        ip -n "$NL_PUB" link set "p-$n" master pbr up &&
        ip -n "$ns" addr add "198.18.0.$((10 + n))/24" dev wan0 &&
        ip -n "$ns" link set wan0 up &&
        ip -n "$ns" route add default via 198.18.0.1 &&
        ip -n "$ns" link add lbr address "02:00:00:00:01:$(printf %02x "$n")" type bridge &&
        ip -n "$ns" addr add "198.19.$n.1/24" dev lbr &&
        ip -n "$ns" link set lbr up &&
        ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 >/dev/null ||
        t_fail nat_site "site $s"
    nat_mode "$s" "$mode"
}

# Public address of a site's router.
nat_site_addr() { printf '198.18.0.%s\n' $((10 + NL_SITE_N[$1])); }

_nl_attach() {
    local h=$1 s=$2 n k ns rs
    n=${NL_SITE_N[$s]:-}
    [ -n "$n" ] || t_fail nat_host "no site $s"
    k=$((NL_SITE_K[$s] + 1))
    [ "$k" -le 200 ] || t_fail nat_host "too many hosts on site $s"
    NL_SITE_K[$s]=$k
    ns=$(nat_ns "$h")
    rs=$(nat_ns "$s")
    ip -n "$rs" link add "l-$h" type veth peer name lan0 netns "$ns" &&
        ip -n "$rs" link set "l-$h" master lbr up &&
        ip -n "$ns" addr add "198.19.$n.$((10 + k))/24" dev lan0 &&
        ip -n "$ns" link set lan0 up &&
        ip -n "$ns" route add default via "198.19.$n.1" &&
        wait_for 5 _nl_running "$ns" lan0 ||
        t_fail nat_host "host $h on site $s"
    NL_HOST_SITE[$h]=$s
}

# Whether interface $2 of namespace $1 has its carrier (libnice's gathering
# skips an interface that is not running yet).
_nl_running() { ip -n "$1" link show dev "$2" 2>/dev/null | grep -q 'LOWER_UP'; }

# nat_host SITE HOST : a host on the site's LAN (HOST: letters and digits,
# at most 10, so the router's "l-HOST" fits an interface name).
nat_host() {
    local s=$1 h=$2
    [[ $h =~ ^[a-z][a-z0-9]{0,9}$ ]] || t_fail nat_host "bad host name '$h'"
    _nl_netns "$(nat_ns "$h")"
    _nl_attach "$h" "$s"
}

# The LAN address of a host.
nat_host_addr() {
    nat_exec "$1" ip -4 -o addr show dev lan0 | awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

# nat_move HOST SITE : the host leaves its LAN and joins SITE's (a laptop
# carried into the office). Its processes keep running; its address
# changes.
nat_move() {
    local h=$1 s=$2 old
    old=${NL_HOST_SITE[$h]:-}
    [ -n "$old" ] || t_fail nat_move "no host $h"
    ip -n "$(nat_ns "$old")" link del "l-$h" || t_fail nat_move "unplug $h"
    _nl_attach "$h" "$s"
}

# nat_wan_line SITE [WANLINE OPTIONS...] : put a wanline on the site's
# uplink (A = the router's side, so A->B is upload: "-d 25/30" delays
# upload 25 ms and download 30 ms). Once per site; its log is
# $NL_TMP/line-SITE.err.
nat_wan_line() {
    local s=$1 n rs ls
    shift
    n=${NL_SITE_N[$s]:-}
    [ -n "$n" ] || t_fail nat_wan_line "no site $s"
    [ -x "$WANLINE" ] || t_skip "needs $WANLINE (make build/rel/tests/wanline)"
    rs=$(nat_ns "$s")
    ls=$(nat_ns "$s-line")
    _nl_netns "$ls"
    # Re-plug: router wan0 <-> lr0 [wanline] lp0 <-> p-N on the bridge.
    ip -n "$NL_PUB" link del "p-$n" &&
        ip -n "$ls" link add lr0 type veth peer name wan0 netns "$rs" &&
        ip -n "$ls" link add lp0 type veth peer name "p-$n" netns "$NL_PUB" &&
        ip -n "$NL_PUB" link set "p-$n" master pbr up &&
        ip -n "$ls" link set lr0 up &&
        ip -n "$ls" link set lp0 up &&
        ip -n "$rs" addr add "198.18.0.$((10 + n))/24" dev wan0 &&
        ip -n "$rs" link set wan0 up &&
        ip -n "$rs" route add default via 198.18.0.1 ||
        t_fail nat_wan_line "links of site $s"
    # The router's wan0 is new (a new MAC): pub must not keep the old one.
    ip -n "$NL_PUB" neigh del "198.18.0.$((10 + n))" dev pbr 2>/dev/null
    nat_exec "$s" conntrack -F >/dev/null 2>&1
    nat_bg "$s-line" "$NL_TMP/line-$s.log" "$WANLINE" "$@" lr0 lp0
    NL_LINE_PID[$s]=$NL_LAST_PID
    wait_for 5 grep -q 'wanline: ready' "$NL_TMP/line-$s.err" ||
        t_fail nat_wan_line "wanline did not start"
}

# nat_wan_reline SITE [WANLINE OPTIONS...] : the site's wanline (after
# nat_wan_line) starts again with other options (packets in flight on the
# old one are lost). Its log is $NL_TMP/line-SITE-K.err, K counting.
nat_wan_reline() {
    local s=$1 p k
    shift
    p=${NL_LINE_PID[$s]:-}
    [ -n "$p" ] || t_fail nat_wan_reline "no wanline on site $s"
    _bt_kill "$p"
    k=$((${NL_LINE_K[$s]:-1} + 1))
    NL_LINE_K[$s]=$k
    nat_bg "$s-line" "$NL_TMP/line-$s-$k.log" "$WANLINE" "$@" lr0 lp0
    NL_LINE_PID[$s]=$NL_LAST_PID
    wait_for 5 grep -q 'wanline: ready' "$NL_TMP/line-$s-$k.err" ||
        t_fail nat_wan_reline "wanline did not start"
}

# netlab_line NAME_A NAME_B ADDR_A ADDR_B [WANLINE OPTIONS...] : two hosts
# joined by nothing but a wanline (no NAT): namespaces nl-NAME_A-$$ and
# nl-NAME_B-$$, interface lan0 each, addresses ADDR_A/24 and ADDR_B/24 in
# one subnet. Without options after the addresses, a plain veth joins
# them (the baseline path).
netlab_line() {
    local a=$1 b=$2 aa=$3 ab=$4 nsa nsb ls
    shift 4
    nsa=$(nat_ns "$a")
    nsb=$(nat_ns "$b")
    _nl_netns "$nsa"
    _nl_netns "$nsb"
    if [ $# -eq 0 ]; then
        ip -n "$nsa" link add lan0 type veth peer name lan0 netns "$nsb" ||
            t_fail netlab_line "veth $a-$b"
    else
        [ -x "$WANLINE" ] || t_skip "needs $WANLINE (make build/rel/tests/wanline)"
        ls=$(nat_ns "$a-$b-line")
        _nl_netns "$ls"
        ip -n "$ls" link add la type veth peer name lan0 netns "$nsa" &&
            ip -n "$ls" link add lb type veth peer name lan0 netns "$nsb" &&
            ip -n "$ls" link set la up && ip -n "$ls" link set lb up ||
            t_fail netlab_line "links $a-$b"
    fi
    ip -n "$nsa" addr add "$aa/24" dev lan0 && ip -n "$nsa" link set lan0 up &&
        ip -n "$nsb" addr add "$ab/24" dev lan0 && ip -n "$nsb" link set lan0 up ||
        t_fail netlab_line "addresses $a-$b"
    wait_for 5 _nl_running "$nsa" lan0 && wait_for 5 _nl_running "$nsb" lan0 ||
        t_fail netlab_line "lan0 has no carrier"
    if [ $# -gt 0 ]; then
        nat_bg "$a-$b-line" "$NL_TMP/line-$a-$b.log" "$WANLINE" "$@" la lb
        wait_for 5 grep -q 'wanline: ready' "$NL_TMP/line-$a-$b.err" ||
            t_fail netlab_line "wanline did not start"
    fi
}

# ---- STUN and TURN ----

# nat_turn_start [TURNSERVER OPTIONS...] : coturn in pub, TURN on
# $NL_TURN_IP:3478 and STUN on $NL_STUN_IP:3478 (STUN and TURN on one
# ip:port make libnice's gathering take 2 s), UDP and TCP, TURN REST
# credentials under $NL_TURN_SECRET (nat_turn_creds), no TLS, no CLI,
# files in $NL_TMP. Returns when both ports answer.
nat_turn_start() {
    command -v turnserver >/dev/null || t_skip "needs turnserver (Debian coturn)"
    nat_bg pub "$NL_TMP/turnserver.log" turnserver -n \
        --listening-ip="$NL_TURN_IP" --listening-ip="$NL_STUN_IP" --relay-ip="$NL_TURN_IP" \
        --listening-port="$NL_TURN_PORT" --min-port=49152 --max-port=65535 \
        --use-auth-secret --static-auth-secret="$NL_TURN_SECRET" --realm="$NL_TURN_REALM" \
        --userdb="$NL_TMP/turndb" --pidfile="$NL_TMP/turnserver.pid" \
        --no-cli --no-tls --no-dtls --no-rfc5780 --no-software-attribute \
        --log-file="$NL_TMP/turn.log" --simple-log --no-stdout-log "$@"
    NL_TURN_PID=$NL_LAST_PID
    wait_for 10 _nl_listening tcp "$NL_TURN_IP:$NL_TURN_PORT" &&
        wait_for 10 _nl_listening udp "$NL_TURN_IP:$NL_TURN_PORT" ||
        t_fail nat_turn_start "coturn did not start"
}

_nl_listening() {
    local what=$1 where=$2
    if [ "$what" = tcp ]; then
        ip netns exec "$NL_PUB" ss -Hltn "src $where" 2>/dev/null | grep -q .
    else
        ip netns exec "$NL_PUB" ss -Hlun "src $where" 2>/dev/null | grep -q .
    fi
}

# Stop coturn (a TURN server that goes away: pitfall "a dead TURN server
# fails silently").
nat_turn_stop() {
    [ -n "${NL_TURN_PID:-}" ] || return 0
    _bt_kill "$NL_TURN_PID"
    NL_TURN_PID=""
}

# nat_turn_creds USER [TTL_S] : print "USERNAME PASSWORD", coturn's TURN
# REST credentials: USERNAME = expiry:USER, PASSWORD =
# base64(HMAC-SHA1(secret, USERNAME)).
nat_turn_creds() {
    local u
    u="$(($(date +%s) + ${2:-3600})):$1"
    printf '%s %s\n' "$u" "$(printf '%s' "$u" |
        openssl dgst -sha1 -hmac "$NL_TURN_SECRET" -binary | base64)"
}

# ---- teardown ----

# nat_teardown : stop what was started here, delete the namespaces and
# the scratch directory. Idempotent.
nat_teardown() {
    local pids=() p ns
    if [ -n "$NL_TMP" ] && [ -f "$NL_TMP/pids" ]; then
        while read -r p; do [ -n "$p" ] && pids+=("$p"); done <"$NL_TMP/pids"
    fi
    pids+=("${NL_PIDS[@]}")
    for p in "${pids[@]}"; do
        # Only processes still in one of our namespaces: a recorded PID
        # that exited may have been reused by another.
        for ns in "${NL_NS[@]}"; do
            if ip netns pids "$ns" 2>/dev/null | grep -qx "$p"; then
                _bt_descendants "$p"
                printf '%s\n' "$p"
            fi
        done
    done | sort -u | {
        mapfile -t victims
        _bt_kill "${victims[@]}"
    }
    for ns in "${NL_NS[@]}"; do
        mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
        _bt_kill "${pids[@]}"
        ip netns del "$ns" 2>/dev/null
    done
    [ -n "$NL_TMP" ] && [ -z "${NL_KEEP_TMP:-}" ] && rm -rf "$NL_TMP"
    NL_NS=()
    NL_PIDS=()
    NL_TMP=""
    BT_TMP=""
    return 0
}
