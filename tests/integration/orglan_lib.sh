#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# orglan_lib.sh - sourced by test_revoke_lan.sh and test_disable_lan.sh:
# the real banter-rendezvous in host 1 (198.18.0.1:7400, accounts ann and
# bob, an admin key boss), ann's node in host 2 and bob's in host 3, both
# logged in and on one LAN (mDNS); it waits until each node shows the
# other's device as the organisation's account, and bob's message
# $ORGLAN_BEFORE is in ann's @bob history. Then t_pass, and the caller
# goes on with: adm (banter-admin from host 1), start_srv, start_rnode /
# stop_rnode, connected, run (RC, OUT), BFP (bob's fingerprint), bob_obj,
# as_org, as_lan, has_org_msg.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
command -v jq >/dev/null || t_skip "needs jq"

abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
ADMIN_BIN=${ADMIN_BIN:-$here/../../build/asan/banter-admin}
for v in BANTER_BIN RDV_BIN ADMIN_BIN; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v}"
done
BANTER_BIN=$(abs "$BANTER_BIN")
RDV_BIN=$(abs "$RDV_BIN")
ADMIN_BIN=$(abs "$ADMIN_BIN")
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

net_setup 3
T=$BT_TMP
cd "$T" || t_fail setup "cd $T"
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

SRV=198.18.0.1:7400
DB=$T/r.db
FP=$("$RDV_BIN" --db "$DB" fingerprint 2>/dev/null) || t_fail setup "fingerprint"
printf 'pw for the test 1\n' >"$T/pw"
chmod 600 "$T/pw"
for u in ann bob; do
    "$RDV_BIN" --db "$DB" user add "$u" --password-file "$T/pw" >/dev/null 2>&1 || t_fail setup "user add $u"
done
"$ADMIN_BIN" --key "$T/boss.key" keygen >"$T/boss.fp" 2>/dev/null || t_fail setup keygen
"$RDV_BIN" --db "$DB" admin add "$(cat "$T/boss.fp")" --role admin >/dev/null 2>&1 || t_fail setup "admin add"
start_srv() {
    bg 1 "$T/srv-$1.log" "$RDV_BIN" --db "$DB" --listen "$SRV"
    SRV_PID=$BG_PID
    wait_for 10 grep -q "listening on $SRV" "$T/srv-$1.err" || t_fail "server start" "$(tail -n 3 "$T/srv-$1.err")"
}
start_srv 1
adm() { host_exec 1 "$ADMIN_BIN" --key "$T/boss.key" --server "$SRV" --server-key "$FP" "$@" 2>&1; }

declare -A NPID NRUN
start_rnode() { # start_rnode HOST NAME: home $T/NAME, logs $T/NAME-K.*
    local host=$1 name=$2 k
    k=$((${NRUN[$name]:-0} + 1))
    NRUN[$name]=$k
    bg "$host" "$T/$name-$k.log" "$BANTER_BIN" --home "$T/$name" node --name "$name" \
        --port 7070 --rendezvous "$SRV" --server-key "$FP"
    NPID[$name]=$BG_PID
    wait_for 10 b "$T/$name" id >/dev/null 2>&1 || t_fail "start $name" "no control socket"
}
stop_rnode() { stop_node "${NPID[$1]}" "$1-${NRUN[$1]}" "$1"; }
connected() { b "$T/$1" rendezvous --json 2>/dev/null | grep -q '"connected":true'; }
run() {
    RC=0
    OUT=$("$@" 2>&1) || RC=$?
}
start_rnode 2 ann
start_rnode 3 bob
for h in ann bob; do
    wait_for 15 connected "$h" || t_fail "connect $h" "$(b "$T/$h" rendezvous --json 2>&1)"
    run b "$T/$h" login "$h" --password-file "$T/pw"
    [ "$RC" -eq 0 ] || t_fail "login $h" "exit $RC: $OUT"
done
BFP=$(b "$T/bob" id --json | jq -r .fingerprint)
[ -n "$BFP" ] && [ "$BFP" != null ] || t_fail setup "bob's fingerprint: $(b "$T/bob" id --json)"
# The peers --json object holding bob's device, and what it says.
bob_obj() { b "$T/ann" peers --json 2>/dev/null | jq -c --arg f "$BFP" '.[] | select(any(.devices[]?; .fingerprint == $f))'; }
as_org() { bob_obj | jq -e '.account == "bob" and any(.devices[]; .online == true)' >/dev/null; }
as_lan() { bob_obj | jq -e '(has("account") | not) and .trust == "known" and .online == true' >/dev/null; }
wait_for 30 as_org || t_fail "LAN" "ann should see bob's device as @bob on the LAN: $(b "$T/ann" peers --json)"
ann_org() { b "$T/bob" peers --json 2>/dev/null | jq -e 'any(.[]; .account == "ann" and any(.devices[]; .online == true))' >/dev/null; }
wait_for 30 ann_org || t_fail "LAN" "bob should see ann's device as @ann on the LAN: $(b "$T/bob" peers --json)"
send_before() { b "$T/bob" send @ann "$ORGLAN_BEFORE" >/dev/null 2>&1; }
wait_for 10 send_before || t_fail "send before" "$(b "$T/bob" send @ann "$ORGLAN_BEFORE" 2>&1)"
has_org_msg() { b "$T/ann" history @bob --json 2>/dev/null | grep -qF "\"body\":\"$1\""; }
wait_for 10 has_org_msg "$ORGLAN_BEFORE" || t_fail "before" "not in @bob's history: $(b "$T/ann" history @bob 2>&1)"
t_pass "before: bob's device is @bob on ann's LAN and what it says is @bob's"
