# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034
# rnode.sh - what the tests of real nodes and the real banter-rendezvous
# in lib.sh's hosts share: the programs, the hosts, the server's database
# with accounts, the server on host 1, and nodes that log in to it.
# Source after lib.sh (it sources node.sh):
#
#   . "$here/lib.sh"; . "$here/rnode.sh"
#   rnode_setup 4 RDV_PROBE      # 4 hosts; $T, $SRV, $DB, $FP, $T/pw ($PW)
#   rnode_users ada bob +carol   # accounts ("+": an admin)
#   start_server                 # host 1: $SRV_PID, logs $T/srvN.{log,err}
#   start_rnode 2 ada            # home $T/ada, logs $T/ada-K.*: $NPID, $NRUN, $HOST
#   rnode_login ada ada          # connected, then logged in as the account
#   stop_rnode ada               # SIGTERM, exit, no sanitizer report
#
# $BANTER_BIN and $RDV_BIN (and the programs named to rnode_setup) default
# to the ASan builds; every process's stderr is checked for sanitizer
# reports by stop_rnode and stop_server.

_rn_abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }

# rnode_setup HOSTS [VAR...]: the programs ($BANTER_BIN, $RDV_BIN and
# each VAR: RDV_PROBE, PEER_PROBE), HOSTS hosts, the scratch directory $T
# (the working directory), the server's database $DB and key $FP, its
# address $SRV (host 1, port 7400), a password file $T/pw (its text $PW).
rnode_setup() {
    local n=$1 v
    shift
    BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
    RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
    RDV_PROBE=${RDV_PROBE:-$here/../../build/asan/tests/rdv_probe}
    PEER_PROBE=${PEER_PROBE:-$here/../../build/asan/tests/peer_probe}
    for v in BANTER_BIN RDV_BIN "$@"; do
        [ -x "${!v}" ] || t_fail setup "no program at ${!v}"
        printf -v "$v" '%s' "$(_rn_abs "${!v}")"
    done
    export ASAN_OPTIONS=detect_leaks=1
    export UBSAN_OPTIONS=print_stacktrace=1
    net_setup "$n"
    T=$BT_TMP
    cd "$T" || t_fail setup "cd $T"
    # shellcheck source=tests/integration/node.sh
    . "$here/node.sh"
    SRV=198.18.0.1:7400
    DB=$T/r.db
    FP=$("$RDV_BIN" --db "$DB" fingerprint 2>/dev/null) || t_fail setup "fingerprint"
    printf 'pw for the test 1\n' >"$T/pw"
    chmod 600 "$T/pw"
    PW=$(cat "$T/pw")
}

# rnode_users NAME...: accounts with the password of $T/pw; "+NAME" is an
# admin.
rnode_users() {
    local u admin
    for u in "$@"; do
        admin=()
        [[ $u == +* ]] && admin=(--admin) && u=${u#+}
        "$RDV_BIN" --db "$DB" user add "$u" "${admin[@]}" --password-file "$T/pw" >/dev/null 2>&1 ||
            t_fail setup "user add $u"
    done
}

# start_server [OPTION...]: banter-rendezvous on host 1 ($SRV) with those
# options, its PID in $SRV_PID, the Nth start's logs in
# $T/srvN.{log,err}; returns once it listens.
SRV_N=0
start_server() {
    SRV_N=$((SRV_N + 1))
    bg 1 "$T/srv$SRV_N.log" "$RDV_BIN" --db "$DB" --listen "$SRV" "$@"
    SRV_PID=$BG_PID
    wait_for 10 grep -q "listening on $SRV" "$T/srv$SRV_N.err" ||
        t_fail "server start" "$(tail -n 3 "$T/srv$SRV_N.err")"
}

# stop_server: SIGTERM, gone within 10 s, no sanitizer report in any of
# its starts' logs.
stop_server() {
    local i
    kill -TERM "$SRV_PID"
    wait_for 10 gone "$SRV_PID" || t_fail "server stop" "still running"
    for ((i = 1; i <= SRV_N; i++)); do check_san "$T/srv$i.err" "server ($i)"; done
}

# start_rnode HOST NAME [OPTION...]: a node with home $T/NAME on HOST,
# logs $T/NAME-K.{log,err} (K: its Kth start); returns when its control
# socket answers.
declare -A NPID NRUN HOST
start_rnode() {
    local host=$1 name=$2 k
    shift 2
    k=$((${NRUN[$name]:-0} + 1))
    NRUN[$name]=$k
    HOST[$name]=$host
    bg "$host" "$T/$name-$k.log" "$BANTER_BIN" --home "$T/$name" node --name "$name" \
        --port 7070 --rendezvous "$SRV" --server-key "$FP" "$@"
    NPID[$name]=$BG_PID
    wait_for 10 b "$T/$name" id >/dev/null 2>&1 || t_fail "start $name" "no control socket"
}
stop_rnode() { stop_node "${NPID[$1]}" "$1-${NRUN[$1]}" "$1"; }

connected() { b "$T/$1" rendezvous --json 2>/dev/null | grep -q '"connected":true'; }
# logged_in NAME ACCOUNT: NAME's node is connected and logged in as ACCOUNT.
logged_in() {
    local j
    j=$(b "$T/$1" rendezvous --json 2>/dev/null)
    grep -q '"connected":true' <<<"$j" && grep -qF "\"user\":\"$2\"" <<<"$j"
}
# rnode_login NAME ACCOUNT: once connected (a node redials a server that was
# down after up to 30 s, FAILOVER_CAP_MS), log in with $T/pw.
rnode_login() {
    wait_for 60 connected "$1" || t_fail "connect $1" "$(b "$T/$1" rendezvous --json 2>&1)"
    run b "$T/$1" login "$2" --password-file "$T/pw"
    [ "$RC" -eq 0 ] || t_fail "login $1" "exit $RC: $OUT"
}

# run CMD...: its exit status in $RC, its output (both streams) in $OUT.
run() {
    RC=0
    OUT=$("$@" 2>&1) || RC=$?
}
