#!/usr/bin/env bash
# test: seconds 3
# SPDX-License-Identifier: MIT
#
# test_cluster.sh - a node configured with the service, not one machine
# (docs/cluster.md), against real banter-rendezvous instances on loopback:
#   1. instances: `banter-rendezvous instance new` makes an instance key
#      and its certificate from the server (organisation) key; an instance
#      whose certificate is not for its key, or not from the server key it
#      runs with, refuses to start with the fix;
#   2. failover: a node given two instances (A, B) of one service, each
#      with its own key and certificate, pinning only the organisation key,
#      logs in on A; B stands by on the same SQLite file, A is killed by
#      PID (SIGKILL), and B serves in turn: the node is
#      served by B within a few seconds (10 s at most here), still logged
#      in by its device key, and says which instance it is on;
#   3. a forged instance: a server with its own organisation key that
#      certifies an instance key (the name copied from the real one) is
#      refused by the node with the reason ("signed by ..., not by the
#      pinned key"), never connected; listed first beside a real instance,
#      the node moves on to the real one;
#   4. banter-admin pinning the organisation key administers instance B,
#      and refuses the forged instance (exit 4, the reason).
# Regression: on the code before instances, the node refuses every
# instance key (part 2 fails: never connected).
# Needs $BANTER_BIN and $RDV_BIN (defaults: the ASan builds). Ports:
# 17000-17899 from a random start.
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
ADMIN_BIN=${ADMIN_BIN:-$here/../../build/asan/banter-admin}
for v in BANTER_BIN RDV_BIN ADMIN_BIN; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make test-run builds it, or set $v)"
done
BANTER_BIN=$(abs "$BANTER_BIN")
RDV_BIN=$(abs "$RDV_BIN")
ADMIN_BIN=$(abs "$ADMIN_BIN")
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

BT_TMP=$(mktemp -d /tmp/bt-cluster.XXXXXX) || t_fail setup mktemp
T=$BT_TMP
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    [ -z "${BT_KEEP_TMP:-}" ] && rm -rf "$T"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$T" || t_fail setup "cd $T"

# shellcheck source=tests/integration/node.sh
. "$here/node.sh" # b, alive, gone, check_san, stop_node
rdv() { "$RDV_BIN" "$@"; }

# free_port: FREE_PORT, a port of 127.0.0.1 nobody listens on now (each
# call a new one, from a random start; not in a subshell, so it advances).
PORT_NEXT=$((17000 + RANDOM % 800))
free_port() {
    while :; do
        FREE_PORT=$PORT_NEXT
        PORT_NEXT=$((PORT_NEXT + 1))
        [ "$PORT_NEXT" -gt 17899 ] && PORT_NEXT=17000
        ! (exec 3<>"/dev/tcp/127.0.0.1/$FREE_PORT") 2>/dev/null && break
    done
}

# start_instance NAME DB PORT CONF: an instance on 127.0.0.1:PORT with the
# --config CONF (instance = ...); stderr in $T/NAME.err; sets SRV_PID.
start_instance() {
    local name=$1 db=$2 port=$3 conf=$4
    "$RDV_BIN" --config "$conf" --db "$db" --listen "127.0.0.1:$port" >>"$T/$name.log" \
        2>>"$T/$name.err" </dev/null &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    disown "$SRV_PID"
    listening() { grep -q "listening on 127.0.0.1:$port," "$T/$name.err"; }
    exited() { gone "$SRV_PID" || listening; }
    wait_for 15 exited || t_fail "start $name" "no \"listening\" within 15 s"
    listening || t_fail "start $name" "the server exited: $(tail -n 3 "$T/$name.err")"
}

stop_server() {
    kill -TERM "$1"
    wait_for 10 gone "$1" || t_fail "$2 stop" "still running 10 s after SIGTERM"
    check_san "$T/$2.err" "$2"
}

# start_rnode NAME HOME SERVICE FP: a node without mDNS, the rendezvous
# service SERVICE pinned to FP. Sets NODE_PID.
start_rnode() {
    "$BANTER_BIN" --home "$2" node --no-mdns --port 0 --name "$1" \
        --rendezvous "$3" --server-key "$4" >"$T/$1.log" 2>"$T/$1.err" </dev/null &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    disown "$NODE_PID"
    wait_for 10 b "$2" id >/dev/null 2>&1 || t_fail "start $1" "no answer on $2/control.sock"
}

rjson() { b "$1" rendezvous --json 2>&1; }
on_instance() { rjson "$1" | grep -qF "\"instance\":\"$2\",\"connected\":true,\"verified\":true"; }
logged_in() { rjson "$1" | grep -qF "\"user\":\"$2\""; }
run() {
    RC=0
    OUT=$("$@" 2>&1) || RC=$?
}

# ---- 1. instance keys and certificates ----

DB=$T/r.db
FP=$(rdv --db "$DB" fingerprint 2>/dev/null) || t_fail setup "fingerprint of $DB"
PW='correct horse 7 battery'
printf '%s\n' "$PW" >"$T/pw"
chmod 600 "$T/pw"
rdv --db "$DB" user add ada --password-file "$T/pw" >/dev/null 2>&1 || t_fail setup "user add ada"
run rdv --db "$DB" instance new "$T/a.key" --name rdv-a
[ "$RC" -eq 0 ] && [ -s "$T/a.key.cert" ] || t_fail "instance new" "exit $RC: $OUT"
run rdv --db "$DB" instance new "$T/b.key" --name rdv-b --days 30
[ "$RC" -eq 0 ] || t_fail "instance new" "exit $RC: $OUT"
run rdv --db "$DB" instance show "$T/b.key"
grep -q "name: *rdv-b" <<<"$OUT" && grep -qF "signed by:    $FP" <<<"$OUT" &&
    grep -q "this server key: signed it" <<<"$OUT" || t_fail "instance show" "$OUT"
run rdv --db "$DB" instance new "$T/x.key" --name "Bad Name"
[ "$RC" -eq 2 ] || t_fail "instance new" "a bad name: exit $RC"
printf 'instance = %s\n' "$T/a.key" >"$T/a.conf"
printf 'instance = %s\n' "$T/b.key" >"$T/b.conf"
# A certificate copied beside another key: the instance refuses to start.
rdv --db "$DB" instance new "$T/c.key" --name rdv-c >/dev/null 2>&1 || t_fail setup "c.key"
cp "$T/a.key.cert" "$T/c.key.cert"
printf 'instance = %s\n' "$T/c.key" >"$T/c.conf"
run rdv --config "$T/c.conf" --db "$DB" --listen 127.0.0.1:0
[ "$RC" -eq 1 ] && grep -q "was not made for this instance key by this server key" <<<"$OUT" ||
    t_fail "stolen certificate" "exit $RC: $OUT"
t_pass "instances: new signs a key with the server key, show reads it; a certificate of another key refused at start"

# ---- 2. failover: A dies, B serves ----

free_port
PA=$FREE_PORT
free_port
PB=$FREE_PORT
start_instance a "$DB" "$PA" "$T/a.conf"
pa=$SRV_PID
grep -q "instance key fingerprint" "$T/a.err" || t_fail "instance a" "$(cat "$T/a.err")"
N=$T/n
start_rnode ada-laptop "$N" "127.0.0.1:$PA,127.0.0.1:$PB" "$FP"
pn=$NODE_PID
wait_for 15 on_instance "$N" rdv-a || t_fail "failover" "not connected to A: $(rjson "$N")"
run b "$N" login ada --password-file "$T/pw"
[ "$RC" -eq 0 ] || t_fail "failover" "login: exit $RC: $OUT"
wait_for 10 logged_in "$N" ada || t_fail "failover" "not logged in: $(rjson "$N")"
# B stands by on the same database file (it serves nobody yet: the node
# is on A), then A dies. One server per database path owns its control
# socket (PATH.sock), so B opens the file through a link of another name,
# with a copy of the organisation key beside it.
ln -s "$DB" "$T/rb.db" && cp -p "$DB.key" "$T/rb.db.key" || t_fail setup "rb.db"
start_instance b "$T/rb.db" "$PB" "$T/b.conf"
pb=$SRV_PID
on_instance "$N" rdv-a || t_fail "failover" "the node left A early: $(rjson "$N")"
t0=$(date +%s%N)
kill -KILL "$pa"
wait_for 5 gone "$pa" || t_fail "failover" "A still running after SIGKILL"
served() { on_instance "$N" rdv-b && logged_in "$N" ada; }
wait_for 10 served || t_fail "failover" "not served by B within 10 s: $(rjson "$N")"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "instance rdv-b of the pinned service" "$T/ada-laptop.err" ||
    t_fail "failover" "no line naming the instance: $(tail -n 5 "$T/ada-laptop.err")"
t_pass "failover: A killed by PID, the node is served by B ${ms} ms after the kill, still logged in as ada"

# ---- 3. a forged instance ----

EVIL=$T/evil.db
EVIL_FP=$(rdv --db "$EVIL" fingerprint 2>/dev/null) || t_fail setup "fingerprint of $EVIL"
rdv --db "$EVIL" instance new "$T/f.key" --name rdv-a >/dev/null 2>&1 || t_fail setup "f.key"
printf 'instance = %s\n' "$T/f.key" >"$T/f.conf"
free_port
PF=$FREE_PORT
start_instance forger "$EVIL" "$PF" "$T/f.conf"
pf=$SRV_PID
M=$T/m
start_rnode bob-laptop "$M" "127.0.0.1:$PF" "$FP"
pm=$NODE_PID
refused="not the pinned $FP, and its instance certificate is signed by $EVIL_FP, not by the pinned key: refusing it"
wait_for 15 grep -qF "$refused" "$T/bob-laptop.err" ||
    t_fail "forged instance" "no refusal naming the cause: $(tail -n 3 "$T/bob-laptop.err")"
j=$(rjson "$M")
grep -q '"instance":null,"connected":false,"verified":false' <<<"$j" && grep -qF "$refused" <<<"$j" ||
    t_fail "forged instance" "status: $j"
stop_node "$pm" bob-laptop "node facing a forged instance"
# Listed before the real instance: refused, then the real one serves.
O=$T/o
start_rnode carol-laptop "$O" "127.0.0.1:$PF,127.0.0.1:$PB" "$FP"
po=$NODE_PID
wait_for 20 on_instance "$O" rdv-b || t_fail "forged instance" "not on B: $(rjson "$O")"
stop_node "$po" carol-laptop "node beside a forged instance"
t_pass "forged instance: refused with the reason, never connected; beside a real one the node moves on"

# ---- 4. banter-admin and instances ----

"$ADMIN_BIN" --key "$T/boss.key" keygen >"$T/boss.fp" 2>/dev/null || t_fail setup "admin keygen"
# (added through B's control socket: B runs on this database now)
run rdv --db "$DB" admin add "$(cat "$T/boss.fp")" --role admin
[ "$RC" -eq 0 ] || t_fail "admin" "admin add: $OUT"
run "$ADMIN_BIN" --key "$T/boss.key" --server "127.0.0.1:$PB" --server-key "$FP" session list
[ "$RC" -eq 0 ] && grep -q "^ada " <<<"$OUT" || t_fail "admin" "on instance B: exit $RC: $OUT"
run "$ADMIN_BIN" --key "$T/boss.key" --server "127.0.0.1:$PF" --server-key "$FP" status
[ "$RC" -eq 4 ] && grep -qF "instance certificate is signed by $EVIL_FP, not by the pinned key" <<<"$OUT" ||
    t_fail "admin" "forged instance: exit $RC: $OUT"
stop_node "$pn" ada-laptop "node that failed over"
stop_server "$pf" forger
stop_server "$pb" b
t_pass "banter-admin: administers an instance of the pinned service, refuses a forged one with the reason"
