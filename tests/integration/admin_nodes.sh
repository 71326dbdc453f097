# shellcheck shell=bash
# admin_nodes.sh - for tests of banter-admin against real nodes on loopback
# (sourced after rdv_lib.sh and `rdv_setup`, with ADMIN_BIN and BANTER_BIN
# set): starts the server, authorizes an admin key ($T/boss.key) and
# gives adm (banter-admin with it), b WHO ARGS (banter in $T/WHO), and
# start_node / stop_node WHO (no mDNS, the rendezvous on loopback, a
# sanitizer check at stop). SFP: the server's fingerprint.
rdv_start main
export BANTER_ADMIN_SERVER=127.0.0.1:$PORT BANTER_ADMIN_SERVER_KEY=$SFP
"$ADMIN_BIN" --key "$T/boss.key" keygen >boss.fp 2>/dev/null || t_fail setup keygen
"$RDV_BIN" --db rdv.db admin add "$(cat boss.fp)" --role admin >/dev/null 2>&1 || t_fail setup "admin add"
adm() { "$ADMIN_BIN" --key "$T/boss.key" "$@" 2>&1; }
b() {
    local who=$1
    shift
    "$BANTER_BIN" --home "$T/$who" "$@"
}
declare -A NPID
NPORT=$((7100 + RANDOM % 800))
start_node() {
    local who=$1
    NPORT=$((NPORT + 1))
    "$BANTER_BIN" --home "$T/$who" node --name "$who" --no-mdns --port "$NPORT" --web-port 0 \
        --rendezvous "127.0.0.1:$PORT" --server-key "$SFP" >>"$T/$who.log" 2>>"$T/$who.err" </dev/null &
    NPID[$who]=$!
    RDV_PIDS+=($!)
    wait_for 10 b "$who" id >/dev/null 2>&1 || t_fail "start $who" "$(tail -n 5 "$T/$who.err")"
}
STOP_PID=
_gone() { ! kill -0 "$STOP_PID" 2>/dev/null; }
stop_node() {
    STOP_PID=${NPID[$1]}
    kill -TERM "$STOP_PID" 2>/dev/null
    wait_for 10 _gone || t_fail "stop $1" "still running"
    wait "$STOP_PID" 2>/dev/null
    check_san "$T/$1.err" "$1"
}
