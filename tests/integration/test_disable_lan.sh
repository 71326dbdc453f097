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
ORGLAN_BEFORE="before the disable"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/orglan_lib.sh
. "$here/orglan_lib.sh"


not_org() { bob_obj | jq -e '(.account // "") != "bob" and .trust != "certified" and all(.devices[]; .trust != "certified")' >/dev/null; }
bob_has() { b "$T/bob" history @ann --json 2>/dev/null | grep -qF "\"body\":\"$1\""; }
# not_reached WHAT BODY: what ann sent to @bob (BODY) is not on bob's
# node, once a message ann sent after it to bob's device as the LAN
# device it now is got there (plus 10 s more).
not_reached() {
    run b "$T/ann" send "${BFP:0:17}" "marker $1"
    wait_for 30 bob_has "marker $1" ||
        t_fail "$1" "ann's message to the LAN device did not arrive: $OUT; ann shows it as $(bob_obj); TCP at bob's: $(host_exec 3 ss -Htan '( sport = :7070 or dport = :7070 )' 2>&1 | tr '\n' ' ')"
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
stop_server
t_pass "deleted: ann no longer shows bob's device certified as bob, and what she sends to @bob does not reach it"
echo "PASS: test_disable_lan"
