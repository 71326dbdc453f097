# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2015,SC2034
# (SC2015: "a && b || t_fail ..." is meant, t_fail exits; SC2034: the BT_*
# variables are for the sourcing test.)
#
# lib.sh - a private LAN in network namespaces for Banter's integration
# tests. Source it from a test script (bash, run as root):
#
#   . "$(dirname "$0")/lib.sh"
#   require_root
#   net_setup 2                      # hosts 1 and 2 on one bridge
#   host_bg 1 "$BT_TMP/a.log" prog   # runs inside host 1
#   wait_for 2 grep -q found "$BT_TMP/a.log" || t_fail discovery "not found"
#   t_pass discovery
#
# Layout made by `net_setup N` (suffix $$ keeps parallel runs apart):
#   bt-sw-$$     the "switch": bridge btbr with ports bs1..bsN
#   bt-h$i-$$    host i: interface bt$i = 198.18.0.$i/24 (peer of bs$i), lo
# Each host has a "keeper" process (sleep infinity) in its own mount
# namespace with a private tmpfs on /run, holding that host's dbus-daemon
# (system bus at /run/dbus/system_bus_socket) and avahi-daemon. host_exec
# and host_bg enter the keeper's network and mount namespaces, so programs
# there see only their host's bus and daemon.
#
# Safety: test traffic stays inside these namespaces (198.18.0.0/15); each
# avahi-daemon runs with allow-interfaces=bt$i and use-ipv6=no, so mDNS never
# reaches the machine's real interfaces. Interface names avoid veth*,
# docker*, virbr*, vnet* (Debian's libnice skips those). net_teardown runs on
# EXIT and kills only the processes this library started or that live in
# its own namespaces.
#
# bash runs a trap only after the foreground command ends: poll with
# wait_for rather than a long `sleep`, so SIGTERM/SIGINT (and so teardown)
# are handled within 0.1 s.
#
# Exit codes: 0 pass, 1 fail, 77 skipped (not root or a tool is missing);
# the test runner is expected to count 77 as skipped.

BT_SW=""          # switch namespace
BT_HOSTS=()       # BT_HOSTS[i] = namespace of host i
BT_KEEPERS=()     # BT_KEEPERS[i] = keeper PID of host i
BT_PIDS=()        # PIDs from host_bg (also listed in $BT_TMP/pids)
BT_TMP=""         # scratch directory: configs, logs, pid list
BT_LAST_PID=""    # PID of the last host_bg (not set when called in $(...))

# ---- results ----

t_pass() { printf 'PASS: %s\n' "$1"; }

# Print the failure and the tail of every log, then exit 1 (teardown runs
# from the EXIT trap).
t_fail() {
    printf 'FAIL: %s: %s\n' "$1" "${2:-}"
    _bt_dump_logs
    exit 1
}

t_skip() {
    printf 'SKIP: %s\n' "$1"
    exit 77
}

require_root() {
    [ "$(id -u)" -eq 0 ] || t_skip "needs root"
}

_bt_dump_logs() {
    local f
    [ -n "$BT_TMP" ] && [ -d "$BT_TMP" ] || return 0
    for f in "$BT_TMP"/*.log "$BT_TMP"/*.err; do
        [ -s "$f" ] || continue
        printf -- '--- %s (last 40 lines)\n' "${f##*/}"
        tail -n 40 "$f"
    done
}

# ---- time and polling ----

# Microseconds since the epoch, without forking.
now_us() { printf '%s\n' "${EPOCHREALTIME//[!0-9]/}"; }
now_ms() { local u; u=$(now_us); printf '%s\n' $((u / 1000)); }

# wait_for TIMEOUT_S CMD... : run CMD every 0.1 s until it succeeds (0) or
# TIMEOUT_S (may be fractional) has passed (1).
wait_for() {
    local timeout_us deadline
    timeout_us=$(awk -v t="$1" 'BEGIN { printf "%d", t * 1000000 }')
    shift
    deadline=$(($(now_us) + timeout_us))
    while true; do
        "$@" && return 0
        [ "$(now_us)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# ---- hosts ----

_bt_keeper() {
    local k=${BT_KEEPERS[$1]:-}
    [ -n "$k" ] || {
        echo "lib.sh: no host $1" >&2
        return 1
    }
    printf '%s\n' "$k"
}

# host_exec i CMD... : run CMD in host i (network + mount namespace), in
# the current directory, with no inherited system bus address.
host_exec() {
    local k
    k=$(_bt_keeper "$1") || return 1
    shift
    nsenter -t "$k" -n -m --wd="$PWD" -- env -u DBUS_SYSTEM_BUS_ADDRESS "$@"
}

# host_bg i LOGFILE CMD... : host_exec in the background, stdout to
# LOGFILE, stderr to LOGFILE with .log replaced by .err (or LOGFILE.err).
# Echoes the PID (which is CMD's own: nsenter and env exec it) and records
# it for net_teardown, also when called inside $(...).
host_bg() {
    local k log=$2 err pid
    k=$(_bt_keeper "$1") || return 1
    shift 2
    err=${log%.log}.err
    [ "$err" = "$log" ] && err=$log.err
    nsenter -t "$k" -n -m --wd="$PWD" -- env -u DBUS_SYSTEM_BUS_ADDRESS "$@" \
        >"$log" 2>"$err" </dev/null &
    pid=$!
    disown "$pid" # no "Terminated" notice from bash when teardown kills it
    BT_PIDS+=("$pid")
    BT_LAST_PID=$pid
    printf '%s\n' "$pid" >>"$BT_TMP/pids"
    printf '%s\n' "$pid"
}

_bt_avahi_conf() { printf '%s/avahi-h%s.conf\n' "$BT_TMP" "$1"; }

_bt_write_avahi_conf() {
    # host-name: every namespace shares the machine's UTS name; without a
    # name of their own the daemons would collide and rename themselves.
    cat >"$(_bt_avahi_conf "$1")" <<EOF
[server]
host-name=bt-h$1
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=bt$1
enable-dbus=yes
disallow-other-stacks=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
publish-domain=no
publish-aaaa-on-ipv4=no
publish-a-on-ipv6=no

[reflector]
enable-reflector=no
EOF
}

# Whether host i's avahi-daemon is up and has finished registering its host
# name (server state AVAHI_SERVER_RUNNING = 2), asked over its D-Bus.
avahi_running() {
    host_exec "$1" dbus-send --system --print-reply --reply-timeout=1000 \
        --dest=org.freedesktop.Avahi / org.freedesktop.Avahi.Server.GetState 2>/dev/null |
        grep -q 'int32 2$'
}

_bt_avahi_gone() { ! host_exec "$1" avahi-daemon -c 2>/dev/null; }

avahi_start() {
    host_exec "$1" avahi-daemon --no-drop-root --no-chroot -f "$(_bt_avahi_conf "$1")" -D ||
        return 1
    wait_for 10 avahi_running "$1"
}

avahi_stop() {
    host_exec "$1" avahi-daemon -k 2>/dev/null
    wait_for 10 _bt_avahi_gone "$1"
}

avahi_restart() {
    avahi_stop "$1" && avahi_start "$1"
}

_bt_keeper_ready() {
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = sleep ]
}

# net_setup N : build the LAN and start dbus-daemon + avahi-daemon in each
# host; returns when every daemon is running. Installs the EXIT trap.
net_setup() {
    local n=$1 i ns tool
    for tool in ip nsenter unshare dbus-daemon dbus-send avahi-daemon awk; do
        command -v "$tool" >/dev/null || t_skip "needs $tool"
    done
    trap net_teardown EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    BT_TMP=$(mktemp -d /tmp/bt-net.XXXXXX) || t_fail net_setup "mktemp"
    : >"$BT_TMP/pids"

    BT_SW=bt-sw-$$
    ip netns add "$BT_SW" || t_fail net_setup "cannot add namespace $BT_SW"
    ip -n "$BT_SW" link add btbr type bridge mcast_snooping 0 &&
        ip -n "$BT_SW" link set btbr up &&
        ip -n "$BT_SW" link set lo up || t_fail net_setup "bridge"

    for ((i = 1; i <= n; i++)); do
        ns=bt-h$i-$$
        BT_HOSTS[i]=$ns
        ip netns add "$ns" || t_fail net_setup "cannot add namespace $ns"
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
        # Made inside the switch namespace: nothing appears in the host's.
        ip -n "$BT_SW" link add "bs$i" type veth peer name "bt$i" netns "$ns" &&
            ip -n "$BT_SW" link set "bs$i" master btbr up &&
            ip -n "$ns" addr add "198.18.0.$i/24" dev "bt$i" &&
            ip -n "$ns" link set "bt$i" up &&
            ip -n "$ns" link set lo up || t_fail net_setup "links of host $i"
        _bt_write_avahi_conf "$i"
        # shellcheck disable=SC2016 # $1 is expanded by the inner bash
        ip netns exec "$ns" unshare -m --propagation private bash -c '
            mount -t tmpfs tmpfs /run || exit 1
            mkdir -p /run/dbus /run/avahi-daemon
            dbus-daemon --system --fork || exit 1
            avahi-daemon --no-drop-root --no-chroot -f "$1" -D || exit 1
            exec sleep infinity' keeper "$(_bt_avahi_conf "$i")" \
            >"$BT_TMP/keeper-h$i.log" 2>&1 </dev/null &
        BT_KEEPERS[i]=$!
        disown "${BT_KEEPERS[i]}"
    done
    for ((i = 1; i <= n; i++)); do
        wait_for 10 _bt_keeper_ready "${BT_KEEPERS[i]}" ||
            t_fail net_setup "host $i did not start its daemons"
    done
    for ((i = 1; i <= n; i++)); do
        wait_for 10 avahi_running "$i" || t_fail net_setup "avahi-daemon in host $i not running"
    done
}

# PIDs of the children (recursively) of PID $1.
_bt_descendants() {
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        _bt_descendants "$c"
        printf '%s\n' "$c"
    done
}

# Whether PID $1 still runs: one of its threads is not a zombie (a zombie,
# exited but not yet reaped by its parent, does not run: daemons that
# forked are reaped late by PID 1). The main thread alone is not enough:
# killed, it shows "Z" while the other threads are still exiting, and
# those still hold the process's files (a listening port: the next
# server on it would get EADDRINUSE).
_bt_alive() {
    local f stat
    for f in "/proc/$1/task/"*/stat; do
        stat=$(cat "$f" 2>/dev/null) || continue
        stat=${stat##*) }
        [ "${stat%% *}" != Z ] && return 0
    done
    return 1
}

# Send TERM to the given PIDs, wait up to 2 s, then KILL what is left.
_bt_kill() {
    local p left i
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null
    for ((i = 0; i < 20; i++)); do
        left=()
        for p in "$@"; do _bt_alive "$p" && left+=("$p"); done
        [ ${#left[@]} -eq 0 ] && return 0
        sleep 0.1
    done
    kill -KILL "${left[@]}" 2>/dev/null
    return 0
}

# net_teardown : kill every process started here or living in our
# namespaces, delete the namespaces and the scratch directory. Idempotent.
net_teardown() {
    local pids=() p ns i f
    if [ -n "$BT_TMP" ] && [ -f "$BT_TMP/pids" ]; then
        while read -r p; do [ -n "$p" ] && pids+=("$p"); done <"$BT_TMP/pids"
    fi
    pids+=("${BT_PIDS[@]}")
    for p in "${pids[@]}"; do
        # Only processes that are still in one of our namespaces: a
        # recorded PID that exited may have been reused by another.
        for ns in "${BT_HOSTS[@]}"; do
            if ip netns pids "$ns" 2>/dev/null | grep -qx "$p"; then
                _bt_descendants "$p"
                printf '%s\n' "$p"
            fi
        done
    done | sort -u | {
        mapfile -t victims
        _bt_kill "${victims[@]}"
    }
    # The daemons: by their PID files in each host's private /run, then
    # whatever else is left in the namespace (the keeper included).
    for i in "${!BT_KEEPERS[@]}"; do
        for f in avahi-daemon/pid dbus/pid; do
            p=$(cat "/proc/${BT_KEEPERS[i]}/root/run/$f" 2>/dev/null) || continue
            [[ $p =~ ^[0-9]+$ ]] && ip netns pids "${BT_HOSTS[i]}" 2>/dev/null | grep -qx "$p" &&
                _bt_kill "$p"
        done
    done
    for ns in "${BT_HOSTS[@]}" "$BT_SW"; do
        [ -n "$ns" ] || continue
        mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
        _bt_kill "${pids[@]}"
        ip netns del "$ns" 2>/dev/null
    done
    [ -n "$BT_TMP" ] && [ -z "${BT_KEEP_TMP:-}" ] && rm -rf "$BT_TMP"
    BT_HOSTS=()
    BT_KEEPERS=()
    BT_PIDS=()
    BT_SW=""
    BT_TMP=""
    return 0
}
