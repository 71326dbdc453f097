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
# start_node WHO [mdns]: WHO's node (--no-mdns unless "mdns") on a port of
# this host that nothing listens on: tests run two at a time, so the next
# port after a random start is checked, and taken again should another
# program bind it first ("cannot listen").
start_node() {
    local who=$1 try mdns=(--no-mdns) pid
    [ "${2:-}" = mdns ] && mdns=()
    for try in 1 2 3 4 5 6 7 8; do
        NPORT=$((NPORT + 1))
        [ "$NPORT" -gt 7999 ] && NPORT=7100
        (exec 3<>"/dev/tcp/127.0.0.1/$NPORT") 2>/dev/null && continue
        "$BANTER_BIN" --home "$T/$who" node --name "$who" "${mdns[@]}" --port "$NPORT" --web-port 0 \
            --rendezvous "127.0.0.1:$PORT" --server-key "$SFP" >>"$T/$who.log" 2>>"$T/$who.err" </dev/null &
        pid=$!
        NPID[$who]=$pid
        RDV_PIDS+=("$pid")
        _node_up() { b "$who" id >/dev/null 2>&1 || ! kill -0 "$pid" 2>/dev/null; }
        wait_for 10 _node_up
        b "$who" id >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null && break
        wait "$pid" 2>/dev/null
        grep -q "cannot listen on TCP port $NPORT" "$T/$who.err" || break
    done
    t_fail "start $who" "$(tail -n 5 "$T/$who.err")"
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
