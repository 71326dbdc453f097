#!/usr/bin/env bash
# test: seconds 60
# SPDX-License-Identifier: MIT
#
# test_lapse_lan.sh - the organisation's vouching for a LAN device lapses
# (docs/protocol.md section 11, "The organisation's word lapses"): the
# setup of test_revoke_lan.sh (the real banter-rendezvous, host 1; ann's
# node, host 2; bob's, host 3; one LAN by mDNS), then
#   1. before: ann's node shows bob's device as account bob, certified;
#   2. ann's node is stopped; bob logs out (his node forgets its
#      certificate) and the server goes down, so ann's node hears nothing
#      of it. A day passes for ann's node: the time until which the
#      organisation vouches for bob's device is moved to the past in her
#      store while it is stopped (no clock is faked in a running node).
#      Restarted, without the server, ann's node meets bob's device on
#      the LAN with no certificate: it is shown `lapsed` under @bob, her
#      log says why, what ann sends to @bob is not sent to it (it stays
#      queued while the device is connected), and what it sends is stored
#      under @bob marked unverified. On the old code the device stayed
#      certified: the message went to it at once and was bob's word.
#   3. the server is back and bob logs in again: his node shows its new
#      certificate, ann's node vouches for the device again (certified)
#      and the queued message reaches bob's node.
# Needs root (namespaces) and sqlite3. $BANTER_BIN, $RDV_BIN and
# $ADMIN_BIN default to the ASan builds; every process's stderr is
# checked for sanitizer reports.
# shellcheck disable=SC2015,SC2317,SC2119
ORGLAN_BEFORE="before the lapse"
here=$(cd "$(dirname "$0")" && pwd)
command -v sqlite3 >/dev/null || { echo "SKIP: test_lapse_lan: needs sqlite3"; exit 77; }
# shellcheck source=tests/integration/orglan_lib.sh
. "$here/orglan_lib.sh"

dev_trust() { bob_obj | jq -r --arg f "$BFP" '.devices[] | select(.fingerprint == $f) | .trust'; }
[ "$(dev_trust)" = certified ] || t_fail "before" "bob's device is not certified: $(bob_obj)"

# ---- 2. a day away from the server ----
stop_rnode ann
run b "$T/bob" logout
[ "$RC" -eq 0 ] || t_fail "logout" "exit $RC: $OUT"
stop_server
sqlite3 "$T/ann/banter.db" "UPDATE devices SET vouched_until = (CAST(strftime('%s', 'now') AS INTEGER) - 60) * 1000
    WHERE trust = 4 AND contact = (SELECT key FROM contacts WHERE account = 'bob')" ||
    t_fail "a day" "cannot edit ann's store"
start_rnode 2 ann
lapsed() { bob_obj | jq -e '.account == "bob" and .trust == "lapsed" and any(.devices[]; .trust == "lapsed" and .online == true)' >/dev/null; }
wait_for 30 lapsed || t_fail "lapsed" "ann does not show bob's device lapsed: $(bob_obj)"
grep -q "a device of @bob (${BFP:0:11}.*no current organisation certificate" "$T/ann-2.err" ||
    t_fail "lapsed" "no note in ann's log: $(tail -n 5 "$T/ann-2.err")"
run b "$T/ann" send @bob "secret while lapsed"
msg_state() { b "$T/ann" history @bob --json 2>/dev/null | jq -r --arg m "$1" '.[]? | select(.body == $m) | .state'; }
delivered() { [ "$(msg_state "$1")" = delivered ]; }
! wait_for 10 delivered "secret while lapsed" || t_fail "lapsed" "ann's message to @bob went to the lapsed device"
[ "$(msg_state "secret while lapsed")" = queued ] || t_fail "lapsed" "not queued: $(b "$T/ann" history @bob --json 2>&1)"
lapsed || t_fail "lapsed" "bob's device is no longer connected: $(bob_obj)"
bob_has() { b "$T/bob" history @ann --json 2>/dev/null | grep -qF "\"body\":\"$1\""; }
! bob_has "secret while lapsed" || t_fail "lapsed" "bob's node has what ann sent to @bob"
run b "$T/bob" send @ann "bob while lapsed"
unverified() { b "$T/ann" history @bob --json 2>/dev/null | jq -e '.[]? | select(.body == "bob while lapsed") | .unverified == true' >/dev/null; }
wait_for 30 unverified || t_fail "lapsed" "what the lapsed device said is not marked unverified under @bob: $(b "$T/ann" history @bob --json 2>&1)"
t_pass "lapsed: a day on, bob's device without a certificate is shown lapsed under @bob, ann's log says why, nothing for @bob goes to it, and what it says is unverified"

# ---- 3. vouched for again ----
start_server
rnode_login bob bob
wait_for 30 grep -q "shows a certificate for bob again" "$T/ann-2.err" ||
    t_fail "again" "ann's node did not take bob's new certificate: $(tail -n 5 "$T/ann-2.err")"
[ "$(dev_trust)" = certified ] || t_fail "again" "not certified: $(bob_obj)"
wait_for 30 bob_has "secret while lapsed" || t_fail "again" "the queued message did not reach bob's node"
stop_rnode ann
stop_rnode bob
stop_server
t_pass "vouched again: bob's new certificate makes his device certified at once, and the queued message reaches it"
echo "PASS: test_lapse_lan"
