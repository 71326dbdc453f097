#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_node.sh - node benchmarks between two network namespaces joined by
# a veth pair, with their baselines measured in the same run:
#
#   1. message round trip: PING/PONG with a node (bench_rtt banter) against
#      a bare TCP ping-pong of the same wire size (bench_rtt tcp/echo) on the
#      same veth; target ratio <= 1.5. The node runs as users run it, with
#      mDNS: B's namespace has its own system bus and avahi-daemon (in a
#      mount namespace with a private /run; allow-interfaces = B's veth), so
#      the node's loop holds its connection to avahi-daemon as on a desk
#      (with no dbus-daemon or avahi-daemon installed: --no-mdns, and the
#      output says so). A node with --no-mdns is measured too, as context,
#      and so is CHAT/ACK (stored durably before the ACK: one fdatasync of
#      SQLite's WAL per message).
#      Both ends of both tests run on one CPU (taskset): on this VM a wakeup
#      across CPUs costs about 45 us a round trip, and which runs get it
#      depends on where the scheduler puts the processes (a run of either
#      test showed 7 us or 50 us); on one CPU both measure the software path.
#      BENCH_NODE_BEFORE=PATH (another build of banter, e.g. main's) adds
#      the same PING/PONG against a node of that build, in the same run, for
#      a before/after comparison on a machine whose load moves the baseline.
#   2. node idle, with no connection and with one connected peer: resident
#      memory (target < 20 MiB), CPU over a 10 s window (target 0%) and the
#      wakeups (voluntary context switches, all threads) in that window.
#
# Needs root (namespaces); prints SKIP and exits 0 otherwise. Builds
# nothing: expects bin/banter and build/rel/bench_rtt (make bench builds
# them). Traffic stays in the two namespaces (198.18.1.0/24), mDNS too
# (B's avahi-daemon answers on B's veth only, whose far end is A); all it
# starts, and whatever runs in its namespaces, is stopped and removed on
# exit, also on failure.
set -euo pipefail

cd "$(dirname "$0")/.."
BANTER=$PWD/bin/banter
RTT=$PWD/build/rel/bench_rtt

N=${BENCH_NODE_N:-2000}          # round trips per measurement
IDLE_S=${BENCH_NODE_IDLE_S:-10}  # idle window
SIZE=27                          # PING frame: 2 + 16 + 1 + 8 bytes
PORT=7070                        # the node's port in B
ECHO_PORT=7071
NOMDNS_PORT=7073                 # the same build, --no-mdns
BEFORE_PORT=7072                 # BENCH_NODE_BEFORE's build (with mDNS when B has it)
BEFORE_NOMDNS_PORT=7074          # ... and with --no-mdns
ADDR_A=198.18.1.1
ADDR_B=198.18.1.2

if [ "$(id -u)" -ne 0 ]; then
    echo "bench_node: SKIP (needs root)"
    exit 0
fi
for f in "$BANTER" "$RTT"; do
    if [ ! -x "$f" ]; then
        echo "bench_node: $f is missing (run: make bin/banter build/rel/bench_rtt)" >&2
        exit 1
    fi
done

NS_A=banter-bench-a-$$
NS_B=banter-bench-b-$$
TMP=$(mktemp -d /tmp/bench_node.XXXXXX)
PIDS=()

# nap SECONDS: a sleep that a signal interrupts at once (bash runs traps
# only between commands, and `wait` is one it can leave early).
NAP_PID=
nap() {
    sleep "$1" &
    NAP_PID=$!
    wait "$NAP_PID"
    NAP_PID=
}

cleanup() {
    local p i
    [ -n "$NAP_PID" ] && kill "$NAP_PID" 2>/dev/null
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        for i in $(seq 1 30); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    # What forked inside the namespaces (B's dbus-daemon and avahi-daemon).
    for ns in "$NS_A" "$NS_B"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$p" 2>/dev/null || true
        done
    done
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "bench_node: $*" >&2
    for log in "$TMP"/*.log; do
        [ -s "$log" ] && sed "s|^|  $(basename "$log"): |" "$log" >&2
    done
    exit 1
}

# ---- namespaces ----
if ! ip netns add "$NS_A" 2>/dev/null; then
    echo "bench_node: SKIP (cannot create network namespaces here)"
    exit 0
fi
ip netns add "$NS_B"
# Created inside the namespaces, so the names never appear on the host.
ip link add bnA netns "$NS_A" type veth peer name bnB netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/24" dev bnA
ip -n "$NS_B" addr add "$ADDR_B/24" dev bnB
for ns in "$NS_A" "$NS_B"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_A" link set bnA up
ip -n "$NS_B" link set bnB up

# wait_for FILE PATTERN WHAT: until FILE has a line matching PATTERN (5 s).
wait_for() {
    local i
    for i in $(seq 1 50); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$3 did not start"
}

# ---- B's system bus and avahi-daemon: mDNS as on a desk ----
# A keeper process holds a mount namespace with a private /run for them;
# a node of B runs in B's network namespace and that mount namespace.
KEEPER=
MDNS=1
for tool in dbus-daemon avahi-daemon nsenter unshare; do
    command -v "$tool" >/dev/null || MDNS=
done
if [ -n "$MDNS" ]; then
    printf '%s\n' "[server]" "host-name=bench-b-$$" "use-ipv4=yes" "use-ipv6=no" \
        "allow-interfaces=bnB" "enable-dbus=yes" "[wide-area]" "enable-wide-area=no" \
        "[publish]" "publish-hinfo=no" "publish-workstation=no" >"$TMP/avahi.conf"
    # shellcheck disable=SC2016 # $1 is the inner shell's
    ip netns exec "$NS_B" unshare -m --propagation private bash -c '
        mount -t tmpfs tmpfs /run && mkdir -p /run/dbus /run/avahi-daemon &&
            dbus-daemon --system --fork &&
            avahi-daemon --no-drop-root --no-chroot -f "$1" -D && exec sleep infinity' \
        keeper "$TMP/avahi.conf" >"$TMP/keeper.log" 2>&1 </dev/null &
    KEEPER=$!
    PIDS+=("$KEEPER")
    for i in $(seq 1 100); do
        [ "$(cat "/proc/$KEEPER/comm" 2>/dev/null)" = sleep ] && break
        kill -0 "$KEEPER" 2>/dev/null || break
        sleep 0.1
    done
    [ "$(cat "/proc/$KEEPER/comm" 2>/dev/null)" = sleep ] ||
        fail "B's dbus-daemon and avahi-daemon did not start"
fi

# start_node NS NAME LOG [ARGS...]: a release node in NS, in B with mDNS
# (when B has its daemons) unless ARGS hold --no-mdns; sets NODE_PID
# (taskset, `ip netns exec`, nsenter and env exec: $! is the node itself).
start_node() {
    local ns=$1 name=$2 log=$3 mdns=(--no-mdns)
    shift 3
    mkdir -p "$TMP/$name"
    # The CHAT rate limit (docs/limits.md: 20 a second) would refuse the
    # CHAT/ACK round trips with ERATE: the benchmark measures the path.
    echo "chat_rate = 0" >"$TMP/$name/banter.conf"
    local pin=() run=(ip netns exec "$ns")
    [ -n "${PIN_NODE:-}" ] && pin=("${PIN[@]}")
    if [ "$ns" = "$NS_B" ] && [ -n "$KEEPER" ]; then
        run=(nsenter -t "$KEEPER" -n -m -- env -u DBUS_SYSTEM_BUS_ADDRESS)
        mdns=()
    fi
    [[ " $* " == *" --no-mdns "* ]] && mdns=()
    "${pin[@]}" "${run[@]}" "${NODE_BIN:-$BANTER}" --home "$TMP/$name" node --name "$name" \
        "${mdns[@]}" "$@" >"$log" 2>&1 &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    wait_for "$log" "listening on port" "node $name"
}

# PIN: one CPU for both ends of the round trips (see above).
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)

# B as users run it (mDNS when B has its daemons, the default web port),
# and the same build with --no-mdns; BENCH_NODE_BEFORE's build both ways.
PIN_NODE=1 start_node "$NS_B" bench-b "$TMP/node-b.log" --port "$PORT"
PID_B=$NODE_PID
OTHERS=()
PIN_NODE=1 start_node "$NS_B" bench-nomdns "$TMP/node-nomdns.log" --port "$NOMDNS_PORT" \
    --web-port 0 --no-mdns
OTHERS+=("$NODE_PID")
BEFORE=${BENCH_NODE_BEFORE:-}
if [ -n "$BEFORE" ]; then
    [ -x "$BEFORE" ] || fail "BENCH_NODE_BEFORE: $BEFORE is not an executable"
    NODE_BIN=$BEFORE PIN_NODE=1 start_node "$NS_B" bench-before "$TMP/node-before.log" \
        --port "$BEFORE_PORT" --web-port 0
    OTHERS+=("$NODE_PID")
    NODE_BIN=$BEFORE PIN_NODE=1 start_node "$NS_B" bench-before-nomdns \
        "$TMP/node-before-nomdns.log" --port "$BEFORE_NOMDNS_PORT" --web-port 0 --no-mdns
    OTHERS+=("$NODE_PID")
fi
"${PIN[@]}" ip netns exec "$NS_B" "$RTT" echo "$ECHO_PORT" >"$TMP/echo.log" 2>&1 &
PIDS+=($!)
wait_for "$TMP/echo.log" "listening" "echo server"
nap 1 # the mDNS nodes' first exchanges with avahi-daemon are over

# ---- round trips ----
# field LINE KEY: the value of KEY=... in a RESULT line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

run_a() { timeout 90 "${PIN[@]}" ip netns exec "$NS_A" "$RTT" "$@"; }

tcp_out=$(run_a tcp "$ADDR_B" "$ECHO_PORT" "$SIZE" "$N" 2>"$TMP/tcp.log") ||
    fail "TCP baseline failed"
banter_out=$(run_a banter "$ADDR_B" "$PORT" "$N" 2>"$TMP/client.log") ||
    fail "Banter client failed"
tcp=$(grep '^RESULT tcp ' <<<"$tcp_out" || true)
ping=$(grep '^RESULT banter_ping ' <<<"$banter_out" || true)
chat=$(grep '^RESULT banter_chat ' <<<"$banter_out" || true)
if [ -z "$tcp" ] || [ -z "$ping" ] || [ -z "$chat" ]; then
    fail "no results in: $tcp_out $banter_out"
fi

ping_size=$(field "$ping" size)
[ "$ping_size" = "$SIZE" ] || fail "PING frame is $ping_size bytes, baseline used $SIZE"

tcp_med=$(field "$tcp" median_us)
ping_med=$(field "$ping" median_us)
chat_med=$(field "$chat" median_us)
ratio=$(awk -v a="$ping_med" -v b="$tcp_med" 'BEGIN { printf "%.2f", a / b }')
met=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.5 ? "met" : "NOT met") }')
as_run=$([ -n "$KEEPER" ] && echo "with mDNS, as users run it" ||
    echo "--no-mdns: no dbus-daemon or avahi-daemon here")

echo "bench_node: round trip over a veth between two namespaces, $N each, medians (p99)"
printf '  bare TCP ping-pong, %d bytes      %8.1f us  (%s us)  (baseline)\n' \
    "$SIZE" "$tcp_med" "$(field "$tcp" p99_us)"
printf '  Banter PING/PONG, %d-byte frames  %8.1f us  (%s us)  ratio %s  (node %s)\n' \
    "$ping_size" "$ping_med" "$(field "$ping" p99_us)" "$ratio" "$as_run"
printf '  target: ratio <= 1.5 -> %s%s\n' "$met" "$([ ${#PIN[@]} -gt 0 ] && echo " (both ends on CPU 0)")"
printf '  context: CHAT+ACK, %d-byte frame, stored durably before the ACK  %.1f us  (%s us)\n' \
    "$(field "$chat" size)" "$chat_med" "$(field "$chat" p99_us)"

# again PORT LABEL: PING/PONG against the node on PORT, then the bare TCP
# ping-pong again right after it, and the ratio of the two.
again() {
    local out tout p t
    out=$(run_a banter --ping-only "$ADDR_B" "$1" "$N" 2>"$TMP/client-$1.log") ||
        fail "Banter client ($2) failed"
    tout=$(run_a tcp "$ADDR_B" "$ECHO_PORT" "$SIZE" "$N" 2>"$TMP/tcp-$1.log") ||
        fail "TCP baseline failed"
    p=$(grep '^RESULT banter_ping ' <<<"$out" || true)
    t=$(grep '^RESULT tcp ' <<<"$tout" || true)
    if [ -z "$p" ] || [ -z "$t" ]; then
        fail "no results in: $out $tout"
    fi
    printf '  %-34s PING/PONG %.1f us, bare TCP again %.1f us: ratio %s\n' "$2:" \
        "$(field "$p" median_us)" "$(field "$t" median_us)" \
        "$(awk -v a="$(field "$p" median_us)" -v b="$(field "$t" median_us)" \
            'BEGIN { printf "%.2f", a / b }')"
}
again "$NOMDNS_PORT" "this build, --no-mdns"
if [ -n "$BEFORE" ]; then
    echo "  before: $BEFORE"
    again "$BEFORE_PORT" "before$([ -n "$KEEPER" ] && echo ", with mDNS")"
    again "$BEFORE_NOMDNS_PORT" "before, --no-mdns"
fi

# The other nodes go (an mDNS node may have found B and connected).
for p in "${OTHERS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
done
for p in "${OTHERS[@]}"; do
    wait "$p" 2>/dev/null || true
done

# ---- idle ----
HZ=$(getconf CLK_TCK)

# rss_kib PID; cpu_ticks PID: utime + stime of all threads; cpu_ns PID: CPU
# time of all threads in ns (schedstat: exact, where ticks are rounded so a
# window can gain a tick from a few microseconds); vcsw PID: voluntary
# context switches of all threads.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%d", s }'; }
vcsw() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches:/ { s += $2 } END { print s }'; }

# idle PID:LABEL[:WAKE]...: measure each PID over the same IDLE_S-second
# window and print one line for each; WAKE is the most wakeups expected
# (with no connection there is nothing to do, so 0).
idle() {
    local spec pid label wake rss d ns v cpu verdict
    local -A t0 n0 v0
    for spec in "$@"; do
        pid=${spec%%:*}
        kill -0 "$pid" 2>/dev/null || fail "node ${spec#*:} exited"
        t0[$pid]=$(cpu_ticks "$pid")
        n0[$pid]=$(cpu_ns "$pid")
        v0[$pid]=$(vcsw "$pid")
    done
    nap "$IDLE_S"
    for spec in "$@"; do
        pid=${spec%%:*}
        label=${spec#*:}
        wake=
        if [[ $label == *:* ]]; then
            wake=${label##*:}
            label=${label%:*}
        fi
        kill -0 "$pid" 2>/dev/null || fail "node $label exited"
        d=$(($(cpu_ticks "$pid") - t0[$pid]))
        ns=$(($(cpu_ns "$pid") - n0[$pid]))
        v=$(($(vcsw "$pid") - v0[$pid]))
        rss=$(rss_kib "$pid")
        # Ticks as the target is stated (1 tick = 0.1%); the exact figure decides:
        # 0% means under 0.01% (1 ms of CPU in 10 s).
        cpu=$(awk -v d="$d" -v s="$IDLE_S" -v hz="$HZ" 'BEGIN { printf "%.2f", d / (s * hz) * 100 }')
        verdict=$(awk -v r="$rss" -v ns="$ns" -v s="$IDLE_S" 'BEGIN {
            print "RSS " (r < 20480 ? "met" : "NOT met") ", CPU " \
                (ns / (s * 1e9) * 100 < 0.01 ? "met" : "NOT met") }')
        if [ -n "$wake" ]; then
            verdict+=", wakeups <= $wake $([ "$v" -le "$wake" ] && echo met || echo "NOT met")"
        fi
        printf '  %-30s RSS %4.1f MiB  CPU %s%% (%d ticks; exact %.3f ms = %.4f%%)  wakeups %d\n' \
            "$label" "$(awk -v r="$rss" 'BEGIN { print r / 1024 }')" "$cpu" "$d" \
            "$(awk -v ns="$ns" 'BEGIN { print ns / 1e6 }')" \
            "$(awk -v ns="$ns" -v s="$IDLE_S" 'BEGIN { print ns / (s * 1e9) * 100 }')" "$v"
        printf '  %-30s -> %s\n' "" "$verdict"
    done
}

echo "bench_node: node idle, ${IDLE_S} s window (targets: RSS < 20 MiB, CPU 0%, no polling);"
echo "  wakeups = voluntary context switches of all the node's threads in the window"
# The client has closed its connection; let the node notice and settle.
nap 2
[ -z "$(ip netns exec "$NS_B" ss -Htn state established)" ] ||
    fail "a benchmark client or another node is still connected"
idle "$PID_B:B, no connection:0"

start_node "$NS_A" bench-a "$TMP/node-a.log" --port "$PORT" --peer "$ADDR_B:$PORT"
PID_A=$NODE_PID
for i in $(seq 1 50); do
    [ -n "$(ip netns exec "$NS_B" ss -Htn state established "( sport = :$PORT )")" ] && break
    [ "$i" -eq 50 ] && fail "node A did not connect to node B"
    sleep 0.1
done
nap 2
idle "$PID_B:B, one peer connected (A)" "$PID_A:A, connected to B"
