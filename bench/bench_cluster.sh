#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_cluster.sh - 100,000 concurrent authenticated connections across
# several rendezvous instances on this machine (`make bench-cluster`;
# docs/cluster.md, "Capacity"). This machine allows 20,000 open files per
# process and that cannot be raised, so both sides are split: N instances
# (BENCH_CLUSTER_INSTANCES, default 6), each with its own bench_rendezvous
# client process holding TOTAL/N connections (BENCH_CLUSTER_CONNS, default
# 100,000) from eight loopback source addresses (127.0.0.2-9). Each
# instance has its own SQLite database and its own accounts
# (bench_rendezvous binds the device keys before it starts); with
# BENCH_CLUSTER_PG=1 the instances run on PostgreSQL instead: one
# throwaway PostgreSQL server (tests/integration/pg_lib.sh, removed at the
# end), one database in it per client, and on each database the two
# instances rdv-a and rdv-b of bench_rendezvous's BENCH_RDV_PG (rdv-a holds
# the client's connections and is the one measured; instance 0's client
# then routes on rdv-a and from rdv-a to rdv-b instead of with RV_BATCH).
#
# 1. all clients connect at once; once every one reports "holding", the
#    sum is the connections held at that moment; target 100,000;
# 2. server memory per connection, per instance (RSS growth / its
#    connections, the marginal figure, and the settled one 12 s later, when
#    the login burst has drained); target <= 1,024 bytes;
# 3. while the others keep holding, instance 0's client measures routing
#    between online devices on one instance (and its PING/PONG baseline),
#    without and then with RV_BATCH (other pairs, whose HELLO lists
#    "batch"; the ratios are printed), and first logins with Argon2id
#    (off the loop); target 400,000/s;
# 4. the others report how many they still held at the end.
# Everything started is stopped by PID at the end, also on failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BENCH=${BENCH_RDV:-$root/build/rel/bench_rendezvous}
export BENCH_RDV_BIN=${BENCH_RDV_BIN:-$root/bin/banter-rendezvous}
N=${BENCH_CLUSTER_INSTANCES:-6}
TOTAL=${BENCH_CLUSTER_CONNS:-100000}
for f in "$BENCH" "$BENCH_RDV_BIN"; do
    [ -x "$f" ] || { echo "bench_cluster: no program at $f (make bench-cluster builds it)"; exit 1; }
done
per=$(((TOTAL + N - 1) / N))
D=$(mktemp -d /tmp/bench_cluster.XXXXXX) || exit 1
PIDS=()
cleanup() {
    local p
    touch "$D/hold.go" "$D/hold.done"
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
pgurl() { :; }
if [ "${BENCH_CLUSTER_PG:-0}" = 1 ]; then
    # shellcheck source=tests/integration/pg_lib.sh
    . "$root/tests/integration/pg_lib.sh"
    pg_start || { echo "bench_cluster: PostgreSQL did not start"; exit 1; }
    for i in $(seq 0 $((N - 1))); do
        _pg_as "$PG_BINDIR/psql" -X -q -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_USER" -d postgres \
            -c "CREATE DATABASE bench$i" >/dev/null || exit 1
    done
    pgurl() { echo "postgresql://$PG_USER@/bench$1?host=$PG_SOCK&port=$PG_PORT"; }
fi
echo "bench_cluster: load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "bench_cluster: $N instances, $per connections each ($((per * N)) in all), one client process per instance"
for i in $(seq 0 $((N - 1))); do
    BENCH_RDV_PG=$(pgurl "$i") BENCH_RDV_CONNS=$per BENCH_RDV_HOLD=$D/hold BENCH_RDV_MEASURE=$([ "$i" -eq 0 ] && echo 1 || echo 0) \
        BENCH_RDV_PAIRS=${BENCH_RDV_PAIRS:-64} "$BENCH" >"$D/$i.out" 2>&1 &
    PIDS+=($!)
done

# 1. until every client holds its connections (or one died)
t0=$(date +%s)
while :; do
    ready=0
    for i in $(seq 0 $((N - 1))); do
        grep -q "holding" "$D/$i.out" && ready=$((ready + 1))
        kill -0 "${PIDS[$i]}" 2>/dev/null || grep -q "holding" "$D/$i.out" || {
            echo "bench_cluster: client $i ended early:"
            cat "$D/$i.out"
            exit 1
        }
    done
    [ "$ready" -eq "$N" ] && break
    [ $(($(date +%s) - t0)) -gt 1800 ] && { echo "bench_cluster: not all held within 30 min"; exit 1; }
    sleep 2
done
t1=$(date +%s)
held=0
for i in $(seq 0 $((N - 1))); do
    h=$(sed -n 's/^bench_rendezvous: holding \([0-9]*\) connections.*/\1/p' "$D/$i.out")
    held=$((held + h))
    mem=$(sed -n 's/^bench_rendezvous: server memory per connection: \([0-9]*\) bytes.*/\1/p' "$D/$i.out")
    marg=$(sed -n 's/^bench_rendezvous: server memory per connection, marginal.*: \([0-9]*\) bytes.*/\1/p' "$D/$i.out")
    settled=$(sed -n 's/^bench_rendezvous: server memory per connection, settled.*: \([0-9]*\) bytes.*/\1/p' "$D/$i.out")
    echo "bench_cluster: instance $i: $h connections held, server memory $mem bytes each (marginal $marg; settled 12 s later $settled)"
done
echo "bench_cluster: $held authenticated connections held at once across $N instances (set up in $((t1 - t0)) s); target 100000"

# 3. routing and logins on instance 0 while the others hold
touch "$D/hold.go"
wait "${PIDS[0]}"
rc0=$?
echo "bench_cluster: load average $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E "baseline|routed|first logins" "$D/0.out" | sed 's/^bench_rendezvous:/bench_cluster: instance 0:/'
touch "$D/hold.done"
still=0
for i in $(seq 1 $((N - 1))); do
    wait "${PIDS[$i]}"
    h=$(sed -n 's/^bench_rendezvous: still held at the end: \([0-9]*\).*/\1/p' "$D/$i.out")
    still=$((still + ${h:-0}))
done
echo "bench_cluster: still held by instances 1-$((N - 1)) after instance 0's measurements: $still"
[ "$rc0" -eq 0 ] && [ "$held" -ge "$TOTAL" ]
