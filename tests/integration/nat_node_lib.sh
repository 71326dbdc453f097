# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2015,SC2034,SC2317
#
# nat_node_lib.sh - real nodes (the ASan builds) behind the NAT sites of
# nat_lib.sh, with one real banter-rendezvous in pub, for the tests of
# direct connections (test_nat_nodes.sh, test_nat_relay.sh,
# test_nat_repeat.sh). Source it after nat_lib.sh, once nat_setup ran:
#
#   nn_tools                      # BANTER_BIN, RDV_BIN, RDV_PROBE (absolute)
#   nn_server alice bob           # accounts, the server (and $T, $SRV, $FP)
#   start alice; start bob        # a node per host (options after the name)
#   nn_pair alice bob             # log both in, alice asks, bob approves
#   check_path "(a) ..." direct   # both reach the other over a route;
#                                 # chat and a 3 MiB file over it
#   stop alice                    # SIGTERM, no sanitizer report
#
# The nodes have no mDNS and no --peer unless given: the only way to each
# other is the rendezvous (its sealed relay) and ICE.

nn_abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }

nn_tools() {
    local v
    BANTER_BIN=$(nn_abs "${BANTER_BIN:-$NL_SRC/build/asan/banter}")
    RDV_BIN=$(nn_abs "${RDV_BIN:-$NL_SRC/build/asan/banter-rendezvous}")
    RDV_PROBE=$(nn_abs "${RDV_PROBE:-$NL_SRC/build/asan/tests/rdv_probe}")
    for v in BANTER_BIN RDV_BIN RDV_PROBE; do
        [ -x "${!v}" ] || t_fail setup "no program at ${!v}"
    done
    export ASAN_OPTIONS=detect_leaks=1
    export UBSAN_OPTIONS=print_stacktrace=1
}

# nn_server USER... : the accounts (password in $T/pw) and the rendezvous
# in pub on $SRV, naming coturn ($NL_TURN_IP) and its secret, and the
# lines of $NN_RDV_EXTRA (e.g. "stun = ...") when set. Sets T, SRV, FP (the
# server's fingerprint).
nn_server() {
    local u
    T=$NL_TMP
    SRV=198.18.0.1:7400
    FP=$("$RDV_BIN" --db "$T/r.db" fingerprint 2>/dev/null) || t_fail setup "fingerprint"
    printf 'pw for the nat test\n' >"$T/pw"
    chmod 600 "$T/pw"
    for u in "$@"; do
        "$RDV_BIN" --db "$T/r.db" user add "$u" --password-file "$T/pw" >/dev/null 2>&1 ||
            t_fail setup "user add $u"
    done
    cat >"$T/rdv.conf" <<CONF
turn = turn:$NL_TURN_IP:$NL_TURN_PORT
turn_secret = $NL_TURN_SECRET
${NN_RDV_EXTRA:-}
CONF
    chmod 600 "$T/rdv.conf"
    nat_bg pub "$T/srv.log" "$RDV_BIN" --config "$T/rdv.conf" --db "$T/r.db" --listen "$SRV"
    wait_for 10 grep -q "listening on $SRV" "$T/srv.err" ||
        t_fail "server" "$(tail -n 3 "$T/srv.err")"
}

# b HOST ARGS... : the banter CLI of HOST's node.
b() {
    local h=$1
    shift
    nat_exec "$h" "$BANTER_BIN" --home "$T/$h" "$@"
}

declare -A NPID NRUN
# start HOST [NODE OPTIONS...] : HOST's node (logs $T/HOST-K.log/.err,
# K counting its starts).
start() {
    local h=$1 k
    k=$((${NRUN[$h]:-0} + 1))
    NRUN[$h]=$k
    nat_bg "$h" "$T/$h-$k.log" "$BANTER_BIN" --home "$T/$h" node --name "$h" --port 7070 \
        --no-mdns --rendezvous "$SRV" --server-key "$FP" "${@:2}"
    NPID[$h]=$NL_LAST_PID
    wait_for 10 b "$h" id >/dev/null 2>&1 || t_fail "start $h" "no control socket"
}
_nn_gone() { ! kill -0 "$1" 2>/dev/null; }
# stop HOST : SIGTERM, gone within 15 s, no sanitizer report.
stop() {
    local h=$1 p=${NPID[$1]} hits
    kill -TERM "$p" 2>/dev/null
    wait_for 15 _nn_gone "$p" || t_fail "stop $h" "node did not exit within 15 s of SIGTERM"
    hits=$(grep -E 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$T/$h-${NRUN[$h]}.err")
    [ -z "$hits" ] || t_fail "$h sanitizers" "$(head -n 5 <<<"$hits")"
}
logged_in() { b "$1" rendezvous --json 2>/dev/null | grep -q "\"user\":\"$1\""; }
# route H PEER: the route of PEER's first device as H's `peers --json` says.
route() {
    b "$1" peers --json 2>/dev/null | jq -r --arg n "$2" \
        '[.[] | select(.name == $n)][0].devices[0].route // empty'
}
path() {
    b "$1" peers --json 2>/dev/null | jq -r --arg n "$2" \
        '[.[] | select(.name == $n)][0].devices[0].path // empty'
}
route_is() { [ "$(route "$1" "$2")" = "$3" ]; }

# Whether H's node is connected to the server.
nn_connected() { b "$1" rendezvous --json 2>/dev/null | grep -q '"connected":true'; }

# nn_login H... : each node connected to the server, then logged in.
nn_login() {
    local h
    for h in "$@"; do
        wait_for 30 nn_connected "$h" || t_fail "connect $h" "$(b "$h" rendezvous --json 2>&1)"
        b "$h" login "$h" --password-file "$T/pw" >/dev/null 2>&1 || t_fail "login $h" "refused"
    done
}

# nn_login_as H ACCOUNT : H's node connected, then logged in as ACCOUNT
# (another device of it).
nn_login_as() {
    wait_for 30 nn_connected "$1" || t_fail "connect $1" "$(b "$1" rendezvous --json 2>&1)"
    b "$1" login "$2" --password-file "$T/pw" >/dev/null 2>&1 || t_fail "login $1" "refused"
}

# nn_pair A B : A and B log in, A asks B, B approves. Sets t0.
nn_pair() {
    local a=$1 bb=$2
    nn_login "$a" "$bb"
    b "$a" contact add "$bb" >/dev/null 2>&1 || t_fail contacts "$a: contact add $bb"
    _nn_incoming() { b "$1" contacts --json 2>/dev/null | grep -q '"state":"incoming"'; }
    wait_for 10 _nn_incoming "$bb" || t_fail contacts "$bb got no request"
    b "$bb" approve "$a" >/dev/null 2>&1 || t_fail contacts "$bb: approve $a"
    t0=$(now_ms)
}

# nn_file_offer H PEER NAME : the id of the incoming offer of file NAME
# from PEER's... (any) at H, in NN_OFFER; false when there is none.
nn_file_offer() {
    NN_OFFER=$(b "$1" transfers --json 2>/dev/null | jq -r --arg n "$2" \
        '[.[] | select(.direction == "in" and .state == "offered" and .name == $n)][0].id // empty')
    [ -n "$NN_OFFER" ]
}

# nn_file WHAT FROM TO FILE [TIMEOUT_S] : FROM has sent FILE (send-file
# --wait in the background, PID in NN_SEND); TO accepts it when offered
# (within TIMEOUT_S, 20 by default), the sender ends, and the copy is
# byte for byte the file.
nn_file_send() {
    local from=$1 to=$2 file=$3
    b "$from" send-file "$to" "$file" --wait >"$file.send.log" 2>&1 &
    NN_SEND=$!
}
nn_file_finish() {
    local what=$1 to=$2 file=$3 tmo=${4:-20} name dir
    name=$(basename "$file")
    dir=$T/in-$name
    wait_for "$tmo" nn_file_offer "$to" "$name" ||
        t_fail "$what file" "no offer at $to: $(cat "$file.send.log")"
    mkdir -p "$dir"
    b "$to" accept "$NN_OFFER" --to "$dir" >/dev/null 2>&1 || t_fail "$what file" "accept"
    wait_for 60 _nn_gone "$NN_SEND" ||
        t_fail "$what file" "send-file still running: $(tail -n 2 "$file.send.log")"
    wait "$NN_SEND" || t_fail "$what file" "send-file failed: $(tail -n 3 "$file.send.log")"
    cmp -s "$file" "$dir/$name" || t_fail "$what file" "the received file differs"
}

# check_path SITUATION ROUTE: alice and bob see each other over ROUTE
# (within 40 s); a chat message from alice is delivered and a 3 MiB file
# arrives intact over it. Prints the time since t0.
PHASE=0
check_path() {
    local what=$1 want=$2 ms f
    PHASE=$((PHASE + 1))
    f=$T/file$PHASE-$want.bin
    if ! wait_for 40 route_is alice bob "$want" || ! wait_for 10 route_is bob alice "$want"; then
        t_fail "$what" "alice sees bob over '$(route alice bob)' ($(path alice bob)), bob sees alice over '$(route bob alice)'; expected $want"
    fi
    ms=$(($(now_ms) - t0))
    echo "$what: $want after $ms ms: alice -> bob $(path alice bob); bob -> alice $(path bob alice)"
    out=$(b alice send bob "hello over $want $PHASE" 2>&1) && grep -q "delivered to bob" <<<"$out" ||
        t_fail "$what chat" "$out"
    _nn_got() { b bob history alice --json 2>/dev/null | grep -qF "\"body\":\"$1\""; }
    wait_for 5 _nn_got "hello over $want $PHASE" || t_fail "$what chat" "bob did not get it"
    route_is alice bob "$want" || t_fail "$what chat" "the route changed: $(route alice bob)"
    head -c 3145728 /dev/urandom >"$f"
    nn_file_send alice bob "$f"
    nn_file_finish "$what" bob "$f"
    route_is alice bob "$want" || t_fail "$what file" "the route changed: $(route alice bob)"
    t_pass "$what: both reach the other over $want ($(path alice bob)); a chat message delivered and a 3 MiB file intact over it"
}
