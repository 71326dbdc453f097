#!/usr/bin/env bash
# test: seconds 12
# SPDX-License-Identifier: MIT
#
# test_node_migrate.sh - a node database written by the previous code
# (schema 3, tests/data/node-v3: ada's home, the other parties' keys, the
# rendezvous server's database; its README.md says what is inside) is
# opened by today's binaries and migrates to contacts and devices (schema
# 4) with nothing lost. The whole cast comes back, each in its own host
# (lib.sh), with the names the README gives: the server in host 1 on a copy
# of parties/rdv.db, ada (her v3 home) in host 2, bob in host 3, carol's
# first key in host 4, dave's node (bound to the account dave) in host 5.
#
# The order is fixed so that every outcome is deterministic:
#   A. ada alone, the server not started yet: the migrated contacts (bob
#      verified; carol changed, replacing her first key; dave's LAN device
#      and the account @dave apart), history (24 rows) and transfers (4)
#      are there; `send dave` is ambiguous and lists both candidates;
#      `send @dave` is queued; `send carol` is refused (exit 6).
#   B. bob and carol's first key come back on the LAN: the outbox reaches
#      them once each (bob 2, carol 1); bob stays verified; carol stays
#      changed until `banter verify carol`, after which her first key gets
#      nothing more.
#   C. ada stops; the server starts; dave's node logs in without mDNS: the
#      copy the server held sealed for him (state stored in ada's history)
#      reaches him once and his mailbox (quota 1) is empty again.
#   D. ada starts again and logs in: the server lists dave's device for the
#      account, so dave's LAN contact is merged into @dave (contacts.h); the
#      outbox for both reaches dave through the relay once each, the
#      broadcast "Fire drill" once although the v3 database held it for both
#      of dave's rows; the failed message stays failed, never sent.
#   E. dave's node comes back with mDNS and shows its certificate on the
#      LAN: still ONE contact dave holding the whole history; `send dave`
#      is delivered. History across contacts: the v3 rows (the merged
#      broadcast once) plus what this test sent; the 4 transfers with their
#      states; exactly-once checked again after every restart.
# Why not "ada logs in while dave is away": the fixture's server keeps one
# copy per mailbox (rdv.conf) and holds one for dave already, so any relayed
# copy before dave's login is refused EQUOTA.
#
# The v3 database holds absolute paths below /tmp/banter-node-v3 (download
# folder, sources of outgoing files); nothing here reads them (only a
# receiver resumes a transfer, and bob's and carol's homes are new), so the
# test neither creates nor needs that folder.
#
# Needs root (namespaces) and jq. $BANTER_BIN and $RDV_BIN default to the
# ASan builds; every process's stderr is checked for sanitizer reports.
# Each check is reported; the test goes on after a failed check and fails
# at the end, so one run shows everything the migration loses.
# shellcheck disable=SC2015,SC2317 # "a && b || fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root

abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
for v in BANTER_BIN RDV_BIN; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make build/asan/banter build/asan/banter-rendezvous)"
done
BANTER_BIN=$(abs "$BANTER_BIN")
RDV_BIN=$(abs "$RDV_BIN")
command -v jq >/dev/null || t_skip "needs jq"
FIX=$(abs "$here/../data/node-v3")
[ -f "$FIX/ada/banter.db" ] || t_fail setup "no fixture at $FIX"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1
t_start=$(now_ms)

# ---- the fixture (tests/data/node-v3/README.md) ----

SRV=198.18.0.1:7400
SRV_FP="85391 67957 88716 15916 67279 31319 01170 43235"
V3_ROWS=24                              # table messages
FP_BOB="59735 54739 95828 27768 61748 59432 40465 25859"
FP_CAROL_OLD="77592 16617 81798 50194 10886 46599 36009 18434"
FP_CAROL_NEW="39500 77457 45573 28737 77209 79585 67018 77840"
FP_DAVE="35621 02804 10320 73115 29067 93462 88138 72893"
ID_CAROL_Q=b5740d3d7db56f38ec70806ee5a9d86d  # seq 16, queued to carol's first key
ID_STORED=9431426a1c2225f9bbae4412876e93d4   # seq 17, stored on the server for dave
ID_FAILED=9c317fd6d339fb73df2a58571f663f9e   # seq 18, failed EQUOTA
ID_DAVE_LAN_Q=a0f95d10d8387876b20bf3dd50df18c6 # seq 19, queued to dave's LAN device
ID_BOB_Q=3c18825e395721a026066e1bbc3c600f    # seq 20, queued to bob
ID_DAVE_RDV_Q=1f4de776edabecdad374bba2c19b1bbd # seq 21, queued to @dave
ID_FIRE=29851526d179b177086ca74bc7e7acea     # seqs 22-24, the broadcast (bob, dave twice)
SEALED_EXPIRES=1798850813079                 # rdv.db: when the sealed copy expires

net_setup 5
T=$BT_TMP
cd "$T" || t_fail setup "cd $T"
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

FAILS=0
MARK=0
# fail NAME WHY: report a failed check and go on (the test fails at the end).
fail() {
    printf 'FAIL: %s: %s\n' "$1" "$2"
    FAILS=$((FAILS + 1))
}
# passed WHAT: PASS when no check failed since the last passed.
passed() {
    [ "$FAILS" -eq "$MARK" ] && t_pass "$1" || printf 'FAIL: %s (%d checks above)\n' "$1" $((FAILS - MARK))
    MARK=$FAILS
}
run() {
    RC=0
    OUT=$("$@" 2>&1) || RC=$?
}

# The homes: copies, so the fixture is never written.
mkdir -p "$T/srv" "$T/ada" "$T/bob" "$T/carol" "$T/dave" || t_fail setup mkdir
cp "$FIX/parties/rdv.db" "$FIX/parties/rdv.db.key" "$FIX/parties/rdv.conf" "$T/srv/" &&
    cp "$FIX/ada/banter.db" "$FIX/ada/identity.key" "$FIX/ada/banter.conf" "$T/ada/" &&
    cp "$FIX/parties/bob.key" "$T/bob/identity.key" &&
    cp "$FIX/parties/carol-old.key" "$T/carol/identity.key" &&
    cp "$FIX/parties/dave.key" "$T/dave/identity.key" || t_fail setup "copy the fixture"
chmod 600 "$T/srv/rdv.db.key" "$T"/*/identity.key
[ "$("$RDV_BIN" --db "$T/srv/rdv.db" fingerprint 2>/dev/null)" = "$SRV_FP" ] ||
    t_fail setup "the fixture server's fingerprint is not the README's"
# The sealed copy for dave expires 30 days after the fixture was made.
STORED_CHECK=1
if [ "$(now_ms)" -gt $((SEALED_EXPIRES - 3600000)) ]; then
    if command -v sqlite3 >/dev/null; then
        sqlite3 "$T/srv/rdv.db" "UPDATE sealed SET expires = $(($(now_ms) + 86400000))" ||
            t_fail setup "cannot renew the fixture's sealed copy"
        echo "note: the fixture's sealed copy had expired; renewed in the copy of rdv.db"
    else
        STORED_CHECK=0
        echo "note: the fixture's sealed copy has expired (no sqlite3 to renew it): its delivery is not checked"
    fi
fi

# start_party HOST NAME [ARGS...]: NAME's node in HOST, home $T/NAME, logs
# $T/NAME-K.{log,err} for its K-th run; PID in NPID[NAME].
declare -A NPID NRUN
start_party() {
    local host=$1 name=$2 k
    shift 2
    k=$((${NRUN[$name]:-0} + 1))
    NRUN[$name]=$k
    bg "$host" "$T/$name-$k.log" "$BANTER_BIN" --home "$T/$name" node --name "$name" --port 7070 "$@"
    NPID[$name]=$BG_PID
    wait_for 15 b "$T/$name" id >/dev/null 2>&1 ||
        t_fail "start $name" "no control socket: $(tail -n 5 "$T/$name-$k.err")"
}
stop_party() { stop_node "${NPID[$1]}" "$1-${NRUN[$1]}" "$1 (run ${NRUN[$1]})"; }
with_rdv=(--rendezvous "$SRV" --server-key "$SRV_FP")

SRV_N=0
start_server() {
    SRV_N=$((SRV_N + 1))
    bg 1 "$T/srv$SRV_N.log" "$RDV_BIN" --config "$T/srv/rdv.conf" --db "$T/srv/rdv.db" --listen "$SRV"
    SRV_PID=$BG_PID
    wait_for 15 grep -q "listening on $SRV" "$T/srv$SRV_N.err" ||
        t_fail "server start" "$(tail -n 5 "$T/srv$SRV_N.err")"
}
logged_in() {
    b "$T/$1" rendezvous --json 2>/dev/null |
        jq -e --arg u "$1" '.connected == true and .user == $u' >/dev/null
}

# ---- views through the CLI ----

# hist HOME: every contact's whole history, one JSON array (each row gets
# "contact": the contact's label).
hist() {
    local id name
    b "$1" peers --json | jq -r '.[] | "\(.id) \(.name)"' | while read -r id name; do
        b "$1" history "#$id" --json --limit 100000 | jq --arg c "$name" 'map(. + {contact: $c})'
    done | jq -s 'add // []'
}
# n_in HOME ID: how many incoming rows with that message id, all contacts.
n_in() { hist "$1" | jq --arg id "$2" '[.[] | select(.id == $id and .direction == "in")] | length'; }
has_in() { [ "$(n_in "$1" "$2")" -ge 1 ]; }
# out_states ID: the states of ada's outgoing rows with that id, sorted.
out_states() {
    hist "$T/ada" | jq -c --arg id "$1" '[.[] | select(.id == $id and .direction == "out") | .state] | sort'
}
# contacts NAME: ada's peers --json objects labelled NAME, as one array.
contacts() { b "$T/ada" peers --json | jq -c --arg n "$1" '[.[] | select(.name == $n)]'; }
n_rows() { hist "$T/ada" | jq length; }
# once HOME ID WHAT: the message arrives, and only once.
once() {
    wait_for 20 has_in "$1" "$2" || {
        fail "$3" "never arrived"
        return
    }
    local n
    n=$(n_in "$1" "$2")
    [ "$n" -eq 1 ] || fail "$3" "arrived $n times"
}
# delivered ID WHAT EXPECTED: ada's rows for ID end in the states EXPECTED
# (a sorted JSON array).
states_are() { [ "$(out_states "$1")" = "$2" ]; }
delivered() {
    wait_for 10 states_are "$1" "$3" || fail "$2" "ada's rows: $(out_states "$1"), expected $3"
}
transfers_ok() {
    local got want='[["1c5156636d96060b895c1415ec8b1447","out","paused"],["8e3242aec77fd831e98c7d0c42ec9ed5","in","offered"],["cb2bb1a47d6c8510ad3783e241a24bce","out","done"],["ed5be38796437057ad84d8f846353ff2","in","done"]]'
    got=$(b "$T/ada" transfers --json | jq -c '[.[] | [.id, .direction, .state]] | sort')
    [ "$got" = "$want" ] || fail "transfers ($1)" "$got"
}
SENT=0 # messages this test had ada store (sent, queued or delivered)

# ==== A. ada alone: what the migration made ====

start_party 2 ada "${with_rdv[@]}"
t_mig=$(($(now_ms) - t_start))

bobs=$(contacts bob)
jq -e --arg fp "$FP_BOB" 'length == 1 and .[0].trust == "verified" and
    (.[0].devices | length == 1 and .[0].fingerprint == $fp and .[0].trust == "verified")' \
    <<<"$bobs" >/dev/null || fail "migration: bob" "not one verified contact: $bobs"
carols=$(contacts carol)
jq -e --arg o "$FP_CAROL_OLD" --arg n "$FP_CAROL_NEW" 'length == 1 and .[0].trust == "changed" and
    .[0].replaces == $o and (.[0].devices | length == 2) and
    (.[0].devices | map(select(.fingerprint == $o and .trust == "known")) | length == 1) and
    (.[0].devices | map(select(.fingerprint == $n and .trust == "changed")) | length == 1)' \
    <<<"$carols" >/dev/null || fail "migration: carol" "not one contact, changed key replacing the first: $carols"
daves=$(contacts dave)
jq -e --arg fp "$FP_DAVE" 'length == 2 and
    (map(select(.source == "lan" and .fingerprint == $fp and .trust == "known")) | length == 1) and
    (map(select(.source == "rendezvous" and .account == "dave")) | length == 1)' <<<"$daves" >/dev/null ||
    fail "migration: dave" "not his LAN device and @dave apart: $daves"
n=$(n_rows)
[ "$n" -eq "$V3_ROWS" ] || fail "migration: history" "$n rows, v3 had $V3_ROWS"
# dave: his LAN device's 5 rows and @dave's 8, two contacts labelled dave.
for who in bob:6 carol:5 dave:13; do
    k=$(hist "$T/ada" | jq --arg c "${who%:*}" '[.[] | select(.contact == $c)] | length')
    [ "$k" -eq "${who#*:}" ] || fail "migration: history of ${who%:*}" "$k rows, expected ${who#*:}"
done
transfers_ok "after migration"
passed "A. migration: bob verified, carol changed (replaces her first key), dave's LAN device and @dave apart, $V3_ROWS history rows, 4 transfers (node up in ${t_mig} ms)"

n0=$(n_rows)
run b "$T/ada" send dave "which dave?"
[ "$RC" -eq 5 ] && grep -qF "dave (LAN, fingerprint ${FP_DAVE:0:11})" <<<"$OUT" && grep -qF "@dave" <<<"$OUT" ||
    fail "send dave (ambiguous)" "exit $RC: $OUT"
ID_A=""
A1=0 # 1 once ada's message to @dave is stored
run b "$T/ada" send @dave "To the account while the server is down."
if [ "$RC" -eq 3 ]; then
    A1=1
    SENT=$((SENT + 1))
    ID_A=$(hist "$T/ada" | jq -r '[.[] | select(.body == "To the account while the server is down.")][0].id')
else
    fail "send @dave" "not queued: exit $RC: $OUT"
fi
run b "$T/ada" send carol "refused"
[ "$RC" -eq 6 ] || fail "send carol (changed key)" "exit $RC: $OUT"
[ "$(n_rows)" -eq $((n0 + A1)) ] || fail "refused sends" "stored something: $(n_rows) rows, $n0 before"
passed "A. send dave is ambiguous (LAN dave and @dave listed), send @dave is queued, send carol refused (exit 6)"

# ==== B. bob and carol's first key on the LAN ====

start_party 3 bob
start_party 4 carol
once "$T/bob" "$ID_BOB_Q" "bob gets seq 20"
once "$T/bob" "$ID_FIRE" "bob gets the broadcast"
once "$T/carol" "$ID_CAROL_Q" "carol's first key gets seq 16"
delivered "$ID_BOB_Q" "seq 20" '["delivered"]'
delivered "$ID_CAROL_Q" "seq 16" '["delivered"]'
run b "$T/ada" send bob "Back on the LAN after the upgrade."
[ "$RC" -eq 0 ] && SENT=$((SENT + 1)) || fail "send bob" "exit $RC: $OUT"
jq -e '.[0].trust == "verified" and .[0].online == true' <<<"$(contacts bob)" >/dev/null ||
    fail "bob verified" "$(contacts bob)"
passed "B. bob (2) and carol's first key (1) got the v3 outbox over the LAN; bob still verified"

run b "$T/ada" send carol "still refused"
[ "$RC" -eq 6 ] || fail "send carol (first key back)" "exit $RC: $OUT"
jq -e --arg o "$FP_CAROL_OLD" '.[0].trust == "changed" and .[0].replaces == $o' <<<"$(contacts carol)" \
    >/dev/null || fail "carol changed" "$(contacts carol)"
run b "$T/ada" verify carol
[ "$RC" -eq 0 ] || fail "verify carol" "exit $RC: $OUT"
jq -e --arg n "$FP_CAROL_NEW" 'length == 1 and (.[0].devices | length == 1 and .[0].fingerprint == $n and
    .[0].trust == "verified")' <<<"$(contacts carol)" >/dev/null ||
    fail "verify carol" "the new key does not replace the first: $(contacts carol)"
run b "$T/ada" send carol "To your new laptop."
[ "$RC" -eq 3 ] && SENT=$((SENT + 1)) || fail "send carol after verify" "exit $RC: $OUT"
sleep 1
has_body "$T/carol" ada "To your new laptop." && fail "verify carol" "her replaced first key got a message"
passed "B. carol: refused (exit 6) until verify; then her new key is the one, her first key gets nothing more"

stop_party ada

# ==== C. the server, and dave's node without the LAN ====

start_server
start_party 5 dave "${with_rdv[@]}" --no-mdns
wait_for 15 logged_in dave || fail "dave login" "$(b "$T/dave" rendezvous --json 2>&1)"
[ "$STORED_CHECK" -eq 1 ] && once "$T/dave" "$ID_STORED" "dave gets the copy the server held (seq 17)"
passed "C. dave's node logged in and got the copy the server held sealed for him"

# ==== D. ada logs in: @dave and dave's LAN device are one contact ====

start_party 2 ada "${with_rdv[@]}"
wait_for 15 logged_in ada || fail "ada login" "$(b "$T/ada" rendezvous --json 2>&1)"
once "$T/dave" "$ID_DAVE_LAN_Q" "dave gets seq 19 (queued to his LAN device)"
once "$T/dave" "$ID_DAVE_RDV_Q" "dave gets seq 21 (queued to @dave)"
once "$T/dave" "$ID_FIRE" "dave gets the broadcast once"
[ -n "$ID_A" ] && once "$T/dave" "$ID_A" "dave gets what ada queued for @dave"
delivered "$ID_DAVE_LAN_Q" "seq 19" '["delivered"]'
delivered "$ID_DAVE_RDV_Q" "seq 21" '["delivered"]'
delivered "$ID_FIRE" "the broadcast" '["delivered","delivered"]'
[ -n "$ID_A" ] && delivered "$ID_A" "ada's message to @dave" '["delivered"]'
delivered "$ID_STORED" "seq 17" '["stored"]'
delivered "$ID_FAILED" "seq 18" '["failed"]'
[ "$(n_in "$T/dave" "$ID_FAILED")" -eq 0 ] || fail "seq 18" "a failed message was sent again"
daves=$(contacts dave)
jq -e --arg fp "$FP_DAVE" 'length == 1 and .[0].account == "dave" and
    (.[0].devices | length == 1 and .[0].fingerprint == $fp and .[0].trust == "certified")' \
    <<<"$daves" >/dev/null || fail "one dave" "$daves"
b "$T/ada" contacts --json | jq -e '.[] | select(.user == "dave") | .state == "approved" and .devices == 1' \
    >/dev/null || fail "contacts" "the server's list: $(b "$T/ada" contacts --json)"
passed "D. ada logged in: dave's LAN device joined @dave; seqs 19, 21 and the broadcast reached dave once, through the server (his node has no mDNS)"

# ==== E. dave on the LAN with his certificate ====

stop_party dave
start_party 5 dave "${with_rdv[@]}"
lan_dave() {
    b "$T/ada" peers --json | jq -e --arg fp "$FP_DAVE" '[.[] | select(.name == "dave") | .devices[] |
        select(.fingerprint == $fp and .online == true and .source == "lan")] | length == 1' >/dev/null
}
wait_for 20 lan_dave || fail "dave on the LAN" "$(contacts dave)"
wait_for 15 logged_in dave || fail "dave login (2)" "$(b "$T/dave" rendezvous --json 2>&1)"
b "$T/dave" rendezvous --json | jq -e '.cert_expires > 0' >/dev/null ||
    fail "dave's certificate" "$(b "$T/dave" rendezvous --json)"
daves=$(contacts dave)
jq -e 'length == 1 and .[0].account == "dave" and (.[0].devices | length == 1)' <<<"$daves" >/dev/null ||
    fail "one dave after the certificate" "$daves"
k=$(hist "$T/ada" | jq '[.[] | select(.contact == "dave")] | length')
[ "$k" -eq $((13 - 1 + A1)) ] ||
    fail "dave's history" "$k rows, expected 13 v3 rows with the broadcast once, + $A1 sent"
run b "$T/ada" send dave "One dave now."
[ "$RC" -eq 0 ] && SENT=$((SENT + 1)) || fail "send dave" "exit $RC: $OUT"
ID_E=$(hist "$T/ada" | jq -r '[.[] | select(.body == "One dave now.")][0].id')
once "$T/dave" "$ID_E" "dave gets send dave"
passed "E. dave on the LAN with his certificate: one contact dave holding both histories; send dave delivered"

# Nothing lost, nothing twice: the v3 rows (the broadcast held for both of
# dave's rows is one message once they are one contact) plus what was sent.
n=$(n_rows)
[ "$n" -eq $((V3_ROWS - 1 + SENT)) ] || fail "history total" "$n rows, expected $V3_ROWS - 1 + $SENT sent"
sleep 1
for x in "bob:$ID_BOB_Q" "bob:$ID_FIRE" "carol:$ID_CAROL_Q" "dave:$ID_DAVE_LAN_Q" \
    "dave:$ID_DAVE_RDV_Q" "dave:$ID_FIRE" ${ID_A:+"dave:$ID_A"}; do
    k=$(n_in "$T/${x%:*}" "${x#*:}")
    [ "$k" -eq 1 ] || fail "exactly once" "${x%:*} has $k copies of ${x#*:}"
done
[ "$STORED_CHECK" -eq 0 ] || [ "$(n_in "$T/dave" "$ID_STORED")" -eq 1 ] ||
    fail "exactly once" "dave has $(n_in "$T/dave" "$ID_STORED") copies of seq 17"
# carol's first key came back after ada's restart: it is a key claiming
# carol now, and still gets nothing.
has_body "$T/carol" ada "To your new laptop." && fail "verify carol" "her replaced first key got a message"
transfers_ok "at the end"
passed "E. $n history rows = $V3_ROWS v3 rows - 1 merged broadcast + $SENT sent; each queued message once; 4 transfers kept"

for p in ada bob carol dave; do stop_party "$p"; done
kill -TERM "$SRV_PID" 2>/dev/null
wait_for 10 gone "$SRV_PID" || fail "server stop" "still running"
check_san "$T/srv1.err" server
echo "total: $(($(now_ms) - t_start)) ms"
if [ "$FAILS" -gt 0 ]; then
    printf 'FAIL: %d checks failed\n' "$FAILS"
    _bt_dump_logs
    exit 1
fi
t_pass "every node and the server stopped cleanly, no sanitizer report"
exit 0
