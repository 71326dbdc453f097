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
#   2b. another device revoked (a second one of ann's): ann's node takes
#      the newer list, which still names bob's device, and keeps its
#      connection with it (the same TCP ports): a device already shown as
#      the LAN device it is has nothing to start over;
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

# ---- 2b. another revocation leaves the LAN device's connection alone ----
# A second device of ann's (a probe that logs in) is revoked: the newer
# list still names bob's device, which ann's node already shows as the
# LAN device it is, so their connection (its TCP ports) stays.
lan_conns() { host_exec 3 ss -Htn state established '( sport = :7070 or dport = :7070 )' dst 198.18.0.2 | awk '{print $3, $4}' | sort; }
before=$(lan_conns)
[ -n "$before" ] || t_fail "another" "no LAN connection between ann and bob: $(host_exec 3 ss -tn 2>&1)"
out=$(host_exec 1 "$RDV_PROBE" --key "$T/ann2.key" 198.18.0.1 7400 hello "login=ann:$PW" 2>&1)
afp=$(b "$T/ann" id --json | jq -r .fingerprint)
a2fp=$(adm device list --user ann --json | jq -r --arg f "$afp" '.devices[] | select(.fingerprint != $f) | .fingerprint' | head -1)
[ -n "$a2fp" ] || t_fail "another" "no second device of ann's: $out"
run adm device revoke "$a2fp"
[ "$RC" -eq 0 ] || t_fail "another" "exit $RC: $OUT"
wait_for 10 grep -q "revocation list changed: it names 2 devices" "$T/ann-1.err" ||
    t_fail "another" "ann's node did not take the newer list: $(tail -n 5 "$T/ann-1.err")"
sleep 1 # (a closed connection is dialed again after 0.5 s)
after=$(lan_conns)
[ "$after" = "$before" ] || t_fail "another" "the connection with bob's device started over: \"$before\" then \"$after\""
as_lan || t_fail "another" "$(bob_obj)"
t_pass "another device revoked: ann's node takes the newer list and keeps its connection with bob's device, already the LAN device it is"

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
