#!/usr/bin/env bash
# test: seconds 40
# SPDX-License-Identifier: MIT
#
# test_disable_lan.sh - a disabled or deleted account's devices stop
# being the organisation's on the LAN (docs/admin.md "someone leaves"):
# the setup of test_revoke_lan.sh (the real banter-rendezvous, host 1;
# ann's node, host 2; bob's, host 3; ann and bob on one LAN by mDNS;
# banter-admin from host 1), then
#   1. before: ann's node shows bob's device as account bob, certified;
#   2. `user disable bob`: the server puts bob's device key on the signed
#      revocation list (still bound) and lists no device of bob to his
#      contacts: ann's node shows it as an unverified LAN device (no
#      account, not certified), what ann sends to @bob does not reach it
#      (a message ann sent after it to that LAN device did), what it says
#      is not @bob's; bob's login is refused with EDISABLED (not
#      EREVOKED: the account's state answers);
#   3. `user enable bob` takes the key off the list again: bob logs in,
#      ann's node shows the device as bob's again, certified, and what
#      ann sends to @bob reaches it;
#   4. `user delete bob` lists the key before the device goes: ann's node
#      no longer shows it certified as bob, and what ann sends to @bob
#      does not reach it.
# Needs root (namespaces). $BANTER_BIN, $RDV_BIN and $ADMIN_BIN default to
# the ASan builds; every process's stderr is checked for sanitizer reports.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
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
send_before() { b "$T/bob" send @ann "before the disable" >/dev/null 2>&1; }
wait_for 10 send_before || t_fail "send before" "$(b "$T/bob" send @ann "before the disable" 2>&1)"
has_org_msg() { b "$T/ann" history @bob --json 2>/dev/null | grep -qF "\"body\":\"$1\""; }
wait_for 10 has_org_msg "before the disable" || t_fail "before" "not in @bob's history: $(b "$T/ann" history @bob 2>&1)"
t_pass "before: bob's device is @bob on ann's LAN and what it says is @bob's"


not_org() { bob_obj | jq -e '(.account // "") != "bob" and .trust != "certified" and all(.devices[]; .trust != "certified")' >/dev/null; }
bob_has() { b "$T/bob" history @ann --json 2>/dev/null | grep -qF "\"body\":\"$1\""; }
# not_reached WHAT BODY: what ann sent to @bob (BODY) is not on bob's
# node, once a message ann sent after it to bob's device as the LAN
# device it now is got there (plus 10 s more).
not_reached() {
    run b "$T/ann" send "${BFP:0:17}" "marker $1"
    wait_for 30 bob_has "marker $1" || t_fail "$1" "ann's message to the LAN device did not arrive: $OUT"
    ! wait_for 10 bob_has "$2" || t_fail "$1" "bob's node got what ann sent to @bob over the LAN"
}

# ---- 2. disable ----
run adm user disable bob
[ "$RC" -eq 0 ] && grep -q "disabled user bob" <<<"$OUT" || t_fail "disable" "exit $RC: $OUT"
wait_for 20 as_lan || t_fail "disabled" "ann still shows bob's device as the organisation's: $(bob_obj)"
grep -q "the organisation revoked device ${BFP:0:11} of bob" "$T/ann-1.err" ||
    t_fail "disabled" "no line in ann's log: $(tail -n 5 "$T/ann-1.err")"
run b "$T/ann" send @bob "secret after the disable"
not_reached disabled "secret after the disable"
run b "$T/bob" send @ann "bob after the disable"
wait_for 30 grep -q "bob after the disable" <(b "$T/ann" history "${BFP:0:17}" 2>/dev/null) ||
    t_fail "disabled" "not in the LAN device's history: $(b "$T/ann" history "${BFP:0:17}" 2>&1)"
! has_org_msg "bob after the disable" || t_fail "disabled" "what disabled bob's device said is @bob's"
run b "$T/bob" login bob --password-file "$T/pw"
[ "$RC" -ne 0 ] && grep -q "EDISABLED\|account is disabled" <<<"$OUT" && ! grep -q "EREVOKED\|revoked" <<<"$OUT" ||
    t_fail "bob's login" "exit $RC: $OUT"
t_pass "disabled: ann shows bob's device as an unverified LAN device, what she sends to @bob does not reach it, it no longer speaks for @bob, and bob's login is refused (EDISABLED)"

# ---- 3. enable ----
run adm user enable bob
[ "$RC" -eq 0 ] && grep -q "enabled user bob" <<<"$OUT" || t_fail "enable" "exit $RC: $OUT"
login_bob() { b "$T/bob" login bob --password-file "$T/pw" >/dev/null 2>&1; }
wait_for 30 login_bob || t_fail "enabled" "bob cannot log in: $(b "$T/bob" login bob --password-file "$T/pw" 2>&1)"
wait_for 30 as_org || t_fail "enabled" "ann does not show bob's device as @bob again: $(bob_obj)"
bob_obj | jq -e '.account == "bob" and any(.devices[]; .trust == "certified")' >/dev/null ||
    t_fail "enabled" "not certified: $(bob_obj)"
send_after() { b "$T/ann" send @bob "after the enable" >/dev/null 2>&1; }
wait_for 30 send_after || t_fail "enabled" "$(b "$T/ann" send @bob "after the enable" 2>&1)"
wait_for 30 bob_has "after the enable" || t_fail "enabled" "ann's message to @bob did not reach bob's node"
t_pass "enabled: bob's device is @bob's again on ann's LAN, certified, and gets what ann sends to @bob"

# ---- 4. delete ----
run adm user delete bob
[ "$RC" -eq 0 ] && grep -q "deleted user bob" <<<"$OUT" || t_fail "delete" "exit $RC: $OUT"
wait_for 20 not_org || t_fail "deleted" "ann still shows bob's device certified as bob: $(bob_obj)"
run b "$T/ann" send @bob "secret after the delete"
not_reached deleted "secret after the delete"
stop_rnode ann
stop_rnode bob
stop_node "$SRV_PID" srv-1 server
t_pass "deleted: ann no longer shows bob's device certified as bob, and what she sends to @bob does not reach it"
echo "PASS: test_disable_lan"
