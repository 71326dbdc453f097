#!/usr/bin/env bash
# test: seconds 5
# SPDX-License-Identifier: MIT
#
# test_revoke_lan.sh - a revoked device stops being the organisation's on
# the LAN (issue 14, device revoke): the real banter-rendezvous and two
# logged-in nodes in network namespaces (198.18.0.0/24): host 1 the
# server, host 2 ann's node ("ann"), host 3 bob's ("bob"), ann and bob on
# one LAN (mDNS), banter-admin from host 1.
#   1. before: ann's node shows bob's device as the organisation's account
#      bob (its certificate), and what bob says on the LAN is @bob's;
#   2. an admin revokes bob's device: within a few seconds ann's node
#      (which got the signed revocation list from the server) shows it as
#      an unverified LAN device (no account, trust "known"), logs why, and
#      what it says next is no longer @bob's (it cannot speak for the
#      account any more); bob's node is refused at login (EREVOKED);
#   3. the list is kept (DIR/revoked.bin, 0600): ann's node restarted
#      while the server is down still does not take bob's certificate,
#      which is still valid for hours.
# Needs root (namespaces). $BANTER_BIN, $RDV_BIN and $ADMIN_BIN default to
# the ASan builds; every process's stderr is checked for sanitizer reports.
# shellcheck disable=SC2015,SC2317
ORGLAN_BEFORE="before the revocation"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/orglan_lib.sh
. "$here/orglan_lib.sh"

# ---- 2. revoke ----
dfp=$(adm device list --user bob --json | jq -r '.devices[0].fingerprint')
[ "$dfp" = "$BFP" ] || t_fail "device list" "$dfp is not $BFP"
t0=$(date +%s%N)
run adm device revoke "$BFP"
[ "$RC" -eq 0 ] && grep -q "revoked device" <<<"$OUT" || t_fail "revoke" "exit $RC: $OUT"
wait_for 10 as_lan || t_fail "demoted" "ann still shows bob's device as the organisation's: $(bob_obj)"
t=$((($(date +%s%N) - t0) / 1000000))
grep -q "the organisation revoked device ${BFP:0:11} of bob" "$T/ann-1.err" ||
    t_fail "demoted" "no line in ann's log: $(tail -n 5 "$T/ann-1.err")"
run b "$T/bob" send @ann "after the revocation"
wait_for 10 grep -q "after the revocation" <(b "$T/ann" history "${BFP:0:17}" 2>/dev/null) ||
    t_fail "after" "not in the LAN device's history: $(b "$T/ann" history "${BFP:0:17}" 2>&1)"
! has_org_msg "after the revocation" || t_fail "org rights" "what the revoked device said is @bob's"
wait_for 15 connected bob || t_fail "bob's login" "$(b "$T/bob" rendezvous --json 2>&1)"
! b "$T/bob" rendezvous --json | jq -e '.user == "bob"' >/dev/null || t_fail "bob's session" "$(b "$T/bob" rendezvous --json)"
run b "$T/bob" login bob --password-file "$T/pw"
[ "$RC" -ne 0 ] && grep -q "EREVOKED\|revoked this device" <<<"$OUT" || t_fail "bob's login" "exit $RC: $OUT"
t_pass "revoked: ann shows bob's device as an unverified LAN device after $t ms, it no longer speaks for @bob, and bob's node is refused (EREVOKED)"

# ---- 3. kept ----
[ "$(stat -c %a "$T/ann/revoked.bin")" = 600 ] || t_fail "revoked.bin" "mode $(stat -c %a "$T/ann/revoked.bin")"
stop_server
stop_rnode ann
start_rnode 2 ann
wait_for 30 as_lan || t_fail "kept" "after a restart without the server: $(bob_obj)"
! as_org || t_fail "kept" "bob's certificate was taken again"
stop_rnode ann
stop_rnode bob
t_pass "the revocation list is kept (0600): a restarted node without its server still refuses bob's certificate"
echo "PASS: test_revoke_lan"
