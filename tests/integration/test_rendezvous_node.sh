#!/usr/bin/env bash
# test: seconds 16
# SPDX-License-Identifier: MIT
#
# test_rendezvous_node.sh - `banter node --rendezvous` against the real
# banter-rendezvous on loopback (no namespaces, no root needed):
#   1. options: --rendezvous without --server-key (and a malformed key) is a
#      usage error; a node without them says "configured":false and login
#      names the fix; login with no terminal and no --password-file is
#      refused;
#   2. an impostor (a server with another key): the node refuses it with the
#      loud "has fingerprint X, not the pinned Y: refusing it" once (also as
#      a control event), is never connected, and login is impossible;
#   3. the server is down when the node starts: the node keeps running,
#      `banter rendezvous` says why it is not connected, and it connects by
#      itself when the server starts;
#   4. login: a wrong password exits 9, the right one 0; the password never
#      appears in a log; the certificate is stored 0600 and survives a
#      restart; the bound device is logged in again without a password;
#   5. the directory: search finds users; profile set (the department
#      refused with the reason: an admin sets it, `banter-rendezvous user
#      set`), then a search by department (case-insensitive) and by part
#      of the display name finds the change; logout forgets the account;
#   6. SIGKILL of the server: the node notices, keeps serving its control
#      socket, and reconnects when the server is back.
# Parts that need server features not built yet (the server answers ERROR
# EBADTYPE, or sends no certificate) print "SKIP: ..." and the test exits
# 77 at the end if everything else passed.
# Needs $BANTER_BIN (default build/asan/banter) and $RDV_BIN (default
# build/asan/banter-rendezvous). Ports: 17000-17899 from a random start.
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
for v in BANTER_BIN RDV_BIN; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make test-run builds it, or set $v)"
done
BANTER_BIN=$(abs "$BANTER_BIN")
RDV_BIN=$(abs "$RDV_BIN")
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

BT_TMP=$(mktemp -d /tmp/bt-rdvnode.XXXXXX) || t_fail setup mktemp
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
SKIPPED=()
skip_part() {
    printf 'SKIP: %s\n' "$1"
    SKIPPED+=("$1")
}

# ---- servers ----

# start_server NAME DB [PORT]: banter-rendezvous on 127.0.0.1:PORT (or the
# next free port from a random start); stderr in $T/NAME.err. Sets SRV_PID
# and SRV_PORT; returns when it logged "listening".
PORT_NEXT=$((17000 + RANDOM % 800))
start_server() {
    local name=$1 db=$2 fixed=${3:-}
    for _ in 1 2 3 4 5 6 7 8; do
        SRV_PORT=${fixed:-$PORT_NEXT}
        PORT_NEXT=$((PORT_NEXT + 1))
        "$RDV_BIN" --db "$db" --listen "127.0.0.1:$SRV_PORT" >>"$T/$name.log" 2>>"$T/$name.err" </dev/null &
        SRV_PID=$!
        PIDS+=("$SRV_PID")
        disown "$SRV_PID" # no "Killed" notice from bash after SIGKILL
        listening() { grep -q "listening on 127.0.0.1:$SRV_PORT," "$T/$name.err"; }
        exited() { gone "$SRV_PID" || listening; }
        wait_for 10 exited || t_fail "start $name" "no \"listening\" within 10 s"
        listening && return 0
        [ -z "$fixed" ] && grep -q "address already in use" "$T/$name.err" ||
            t_fail "start $name" "the server exited: $(tail -n 3 "$T/$name.err")"
    done
    t_fail "start $name" "no free port after 8 tries"
}

stop_server() {
    kill -TERM "$1"
    wait_for 10 gone "$1" || t_fail "$2 stop" "still running 10 s after SIGTERM"
    check_san "$T/$2.err" "$2"
}

# ---- nodes ----

# start_rnode NAME HOME LOGBASE PORT FP: a node without mDNS on a free port,
# with the rendezvous at 127.0.0.1:PORT pinned to FP. Sets NODE_PID.
start_rnode() {
    "$BANTER_BIN" --home "$2" node --no-mdns --port 0 --name "$1" \
        --rendezvous "127.0.0.1:$4" --server-key "$5" >"$T/$3.log" 2>"$T/$3.err" </dev/null &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    disown "$NODE_PID"
    wait_for 10 b "$2" id >/dev/null 2>&1 || t_fail "start $1" "no answer on $2/control.sock"
}

rjson() { b "$1" rendezvous --json 2>&1; }
connected() { rjson "$1" | grep -q '"connected":true,"verified":true'; }
logged_in() { rjson "$1" | grep -qF "\"user\":\"$2\""; }
has_cert() { rjson "$1" | grep -qE '"cert_expires":[0-9]+'; }

# run CMD...: OUT (stdout and stderr) and RC of a command.
run() {
    RC=0
    OUT=$("$@" 2>&1) || RC=$?
}
unsupported() { grep -q 'EBADTYPE' <<<"$OUT"; }

# ---- setup: two servers' keys, accounts ----

DB=$T/r.db
EVIL=$T/evil.db
FP=$(rdv --db "$DB" fingerprint 2>/dev/null) || t_fail setup "fingerprint of $DB"
EVIL_FP=$(rdv --db "$EVIL" fingerprint 2>/dev/null) || t_fail setup "fingerprint of $EVIL"
[ "$FP" != "$EVIL_FP" ] || t_fail setup "two databases, one key"
PW='correct horse 7 battery'
printf '%s\n' "$PW" >"$T/pw"
printf 'wrong password\n' >"$T/bad"
chmod 600 "$T/pw" "$T/bad"
for u in ada bob carol; do
    rdv --db "$DB" user add "$u" --password-file "$T/pw" >/dev/null 2>&1 ||
        t_fail setup "user add $u"
done

# ---- 1. options ----

run "$BANTER_BIN" --home "$T/x" node --no-mdns --rendezvous 127.0.0.1:1
[ "$RC" -eq 2 ] && grep -q -- "--rendezvous and --server-key go together" <<<"$OUT" ||
    t_fail "options" "--rendezvous alone: exit $RC, $OUT"
run "$BANTER_BIN" --home "$T/x" node --no-mdns --rendezvous 127.0.0.1:1 --server-key 1234
[ "$RC" -eq 2 ] && grep -q "40 digits" <<<"$OUT" || t_fail "options" "short key: exit $RC, $OUT"
t_pass "options: --rendezvous needs --server-key, a malformed key is refused (exit 2)"

"$BANTER_BIN" --home "$T/plain" node --no-mdns --port 0 --name plain >"$T/plain.log" \
    2>"$T/plain.err" </dev/null &
pp=$!
PIDS+=("$pp")
wait_for 10 b "$T/plain" id >/dev/null 2>&1 || t_fail "not configured" "node did not start"
rjson "$T/plain" | grep -q '"configured":false' || t_fail "not configured" "$(rjson "$T/plain")"
run b "$T/plain" login ada --password-file "$T/pw"
[ "$RC" -eq 1 ] && grep -q "no rendezvous configured: start the node with --rendezvous" <<<"$OUT" ||
    t_fail "not configured" "login: exit $RC, $OUT"
if command -v setsid >/dev/null; then
    run setsid -w "$BANTER_BIN" --home "$T/plain" login ada </dev/null
    [ "$RC" -eq 2 ] && grep -q "no terminal" <<<"$OUT" ||
        t_fail "no terminal" "login without a terminal: exit $RC, $OUT"
fi
stop_node "$pp" plain "node without rendezvous"
t_pass "not configured: \"configured\":false, login names the fix, no terminal is refused"

# ---- 2. an impostor ----

start_server evilprobe "$EVIL" # a free port; the node dials it before the impostor is up
EVIL_PORT=$SRV_PORT
stop_server "$SRV_PID" evilprobe
A=$T/a
start_rnode ada-laptop "$A" a "$EVIL_PORT" "$FP"
pa=$NODE_PID
"$BANTER_BIN" --home "$A" listen --json >"$T/a-listen.log" 2>"$T/a-listen.err" </dev/null &
PIDS+=("$!")
wait_for 10 grep -q "listening for events" "$T/a-listen.err" ||
    t_fail "impostor" "listen did not attach: $(cat "$T/a-listen.err")"
start_server evil "$EVIL" "$EVIL_PORT"
evil_pid=$SRV_PID
refused="has fingerprint $EVIL_FP, not the pinned $FP: refusing it"
wait_for 35 grep -qF "$refused" "$T/a.err" ||
    t_fail "impostor" "no loud refusal in the log: $(tail -n 3 "$T/a.err")"
wait_for 5 grep -qF "$refused" "$T/a-listen.log" ||
    t_fail "impostor" "no rendezvous event: $(cat "$T/a-listen.log")"
grep -q '"event":"rendezvous"' "$T/a-listen.log" || t_fail "impostor" "event name"
# A reconnection (the failover schedule's full jitter: at most 30 s after
# the refusal, shared/failover.h): still one message. Each connection
# leaves one socket in TIME-WAIT, on the side that closed first (the
# node, after the handshake; or the server): two of them are the first
# connection and one more.
if command -v ss >/dev/null; then
    _evil_tries() {
        [ "$(ss -Htn state time-wait "( dport = :$EVIL_PORT or sport = :$EVIL_PORT )" | wc -l)" -ge 2 ]
    }
    wait_for 35 _evil_tries ||
        t_fail "impostor" "the node did not try again: $(ss -Htan "( dport = :$EVIL_PORT or sport = :$EVIL_PORT )")"
else
    sleep 4 # no ss (iproute2) to count them: the time they take
fi
n=$(grep -cF "not the pinned" "$T/a.err")
[ "$n" -eq 1 ] || t_fail "impostor" "the refusal was printed $n times, not once"
j=$(rjson "$A")
grep -q '"connected":false,"verified":false' <<<"$j" && grep -qF "$refused" <<<"$j" ||
    t_fail "impostor" "status: $j"
run b "$A" login ada --password-file "$T/pw"
[ "$RC" -eq 1 ] && grep -q "not connected to the rendezvous server" <<<"$OUT" ||
    t_fail "impostor" "login: exit $RC, $OUT"
stop_node "$pa" a "node facing an impostor"
stop_server "$evil_pid" evil
t_pass "impostor refused: one loud message and event, never connected, login impossible"

# ---- 3. the server is down when the node starts ----

start_server probe "$DB" # find a free port, then leave it free
PORT=$SRV_PORT
stop_server "$SRV_PID" probe
B=$T/b
start_rnode ada "$B" b "$PORT" "$FP"
pb=$NODE_PID
_down_seen() { j=$(rjson "$B") && grep -q '"connected":false' <<<"$j" &&
    grep -q "cannot connect to the rendezvous server" <<<"$j"; }
wait_for 10 _down_seen || t_fail "server down" "status: $j"
b "$B" id >/dev/null || t_fail "server down" "the node does not answer"
t0=$(now_ms)
start_server srv "$DB" "$PORT"
srv_pid=$SRV_PID
wait_for 35 connected "$B" || t_fail "server down" "not connected 35 s after the server started"
echo "server down: connected $(($(now_ms) - t0)) ms after the server started"
t_pass "server down at start: the node keeps running and connects when the server is up"

# ---- 4. login ----

run b "$B" login ada --password-file "$T/bad"
LOGIN=1
if [ "$RC" -ne 9 ] && unsupported; then
    skip_part "server does not support RV_LOGIN yet ($OUT)"
    LOGIN=0
else
    [ "$RC" -eq 9 ] && grep -q "refused the login" <<<"$OUT" ||
        t_fail "wrong password" "exit $RC, not 9: $OUT"
    rjson "$B" | grep -q '"auth_error":"EPASSWORD"' || t_fail "wrong password" "$(rjson "$B")"
    t_pass "wrong password: exit 9 ($OUT)"
    t0=$(now_ms)
    run b "$B" login ada --password-file "$T/pw"
    wait_s=$(sed -n 's/.*try again in \([0-9]*\) s.*/\1/p' <<<"$OUT")
    if [ "$RC" -eq 9 ] && [ -n "$wait_s" ] && [ "$wait_s" -le 10 ]; then
        echo "login: the server asks to wait $wait_s s after the failure"
        sleep "$wait_s.2"
        run b "$B" login ada --password-file "$T/pw"
    fi
    [ "$RC" -eq 0 ] && grep -q "logged in to the rendezvous server as ada" <<<"$OUT" ||
        t_fail "login" "exit $RC: $OUT"
    logged_in "$B" ada || t_fail "login" "status: $(rjson "$B")"
    t_pass "login: exit 0 after $(($(now_ms) - t0)) ms, status shows ada"
    for f in "$T"/*.log "$T"/*.err; do
        ! grep -qF "$PW" "$f" || t_fail "password" "the password is in ${f##*/}"
    done
    t_pass "the password is in no log"
fi

CERT=0
if [ "$LOGIN" -eq 1 ]; then
    if wait_for 5 has_cert "$B"; then
        [ "$(stat -c %a "$B/cert.bin")" = 600 ] || t_fail "certificate" "cert.bin is not 0600"
        CERT=1
        t_pass "certificate stored in cert.bin (0600)"
    else
        skip_part "server does not send RV_CERT yet"
    fi
    stop_node "$pb" b "logged-in node"
    start_rnode ada "$B" b2 "$PORT" "$FP"
    pb=$NODE_PID
    [ "$CERT" -eq 0 ] || has_cert "$B" || t_fail "certificate" "not loaded after a restart"
    if wait_for 10 logged_in "$B" ada; then
        t_pass "restart: the bound device is logged in without a password"
    else
        skip_part "server does not authenticate a bound device after HELLO yet"
        run b "$B" login ada --password-file "$T/pw"
        [ "$RC" -eq 0 ] || t_fail "login again" "exit $RC: $OUT"
    fi
fi

# ---- 5. the directory ----

users_of() { b "$B" search "$@" --json 2>&1; }
if [ "$LOGIN" -eq 1 ]; then
    run b "$B" search user~o --json
    if [ "$RC" -ne 0 ] && unsupported; then
        skip_part "server does not support RV_SEARCH yet ($OUT)"
    else
        [ "$RC" -eq 0 ] && grep -q '"user":"bob"' <<<"$OUT" && grep -q '"user":"carol"' <<<"$OUT" ||
            t_fail "search" "user~o: exit $RC, $OUT"
        ! grep -q '"user":"ada"' <<<"$OUT" || t_fail "search" "user~o found ada: $OUT"
        t_pass "search user~o finds bob and carol"
        run b "$B" profile set display_name "Ada Lovelace"
        if [ "$RC" -ne 0 ] && unsupported; then
            skip_part "server does not support RV_PROFILE_SET yet ($OUT)"
        else
            [ "$RC" -eq 0 ] || t_fail "profile set" "exit $RC: $OUT"
            # the department is the organisation's: the node says so (exit
            # 1) and sends nothing; an admin sets it on the server
            run b "$B" profile set department Research
            [ "$RC" -eq 1 ] && grep -q "department is set by your organisation's admins" <<<"$OUT" ||
                t_fail "profile set department" "exit $RC: $OUT"
            rdv --db "$DB" user set ada department Research >/dev/null 2>&1 ||
                t_fail "user set department" "banter-rendezvous user set failed"
            j=$(users_of department=research)
            grep -q '"user":"ada"' <<<"$j" && grep -q '"department":"Research"' <<<"$j" ||
                t_fail "search by department" "$j"
            out=$(b "$B" search department=Research 'display_name~LOVE' 2>&1)
            grep -q "Ada Lovelace" <<<"$out" && grep -q Research <<<"$out" ||
                t_fail "search table" "$out"
            t_pass "profile set (the department refused: the admin's), then search by department and display name finds it"
        fi
    fi
    run b "$B" logout
    [ "$RC" -eq 0 ] || t_fail "logout" "exit $RC: $OUT"
    ! logged_in "$B" ada || t_fail "logout" "still ada: $(rjson "$B")"
    rjson "$B" | grep -q '"user":null,"admin":false,"error":null,"auth_error":null' ||
        t_fail "logout" "status: $(rjson "$B")"
    grep -q "logged out of the rendezvous server" "$T/b2.err" && ! grep -q "no longer accepts" "$T/b2.err" ||
        t_fail "logout" "log: $(tail -n 3 "$T/b2.err")"
    [ ! -e "$B/cert.bin" ] || t_fail "logout" "cert.bin is still there"
    run b "$B" search user=ada
    [ "$RC" -eq 1 ] && grep -q "not logged in" <<<"$OUT" || t_fail "logout" "search: $RC $OUT"
    t_pass "logout: no account, no certificate, search needs a login"
fi

# ---- 6. SIGKILL of the server ----

kill -KILL "$srv_pid"
wait_for 10 gone "$srv_pid" || t_fail "server killed" "still running"
disconnected() { ! connected "$1"; }
wait_for 20 disconnected "$B" || t_fail "server killed" "still connected"
b "$B" id >/dev/null || t_fail "server killed" "the node does not answer"
alive "$pb" || t_fail "server killed" "the node exited"
start_server srv2 "$DB" "$PORT"
srv_pid=$SRV_PID
wait_for 35 connected "$B" || t_fail "server killed" "not connected again"
t_pass "server killed and restarted: the node reconnects by itself"

stop_node "$pb" b2 "node"
stop_server "$srv_pid" srv2
t_pass "nodes and servers stopped cleanly, no sanitizer report"

if [ ${#SKIPPED[@]} -gt 0 ]; then
    printf 'SKIP: %d part(s) wait for server features (see above)\n' "${#SKIPPED[@]}"
    exit 77
fi
exit 0
