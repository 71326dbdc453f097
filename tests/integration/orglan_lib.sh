#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# orglan_lib.sh - sourced by test_revoke_lan.sh and test_disable_lan.sh:
# the real banter-rendezvous in host 1 (198.18.0.1:7400, accounts ann and
# bob, an admin key boss), ann's node in host 2 and bob's in host 3, both
# logged in and on one LAN (mDNS); it waits until each node shows the
# other's device as the organisation's account, and bob's message
# $ORGLAN_BEFORE is in ann's @bob history. Then t_pass, and the caller
# goes on with rnode.sh's helpers (stop_server, start_rnode /
# stop_rnode, connected, run: RC, OUT), adm (banter-admin from host 1),
# BFP (bob's fingerprint), bob_obj, as_org, as_lan, has_org_msg.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
command -v jq >/dev/null || t_skip "needs jq"

ADMIN_BIN=${ADMIN_BIN:-$here/../../build/asan/banter-admin}
# shellcheck source=tests/integration/rnode.sh
. "$here/rnode.sh"
rnode_setup 3 ADMIN_BIN
rnode_users ann bob
"$ADMIN_BIN" --key "$T/boss.key" keygen >"$T/boss.fp" 2>/dev/null || t_fail setup keygen
"$RDV_BIN" --db "$DB" admin add "$(cat "$T/boss.fp")" --role admin >/dev/null 2>&1 || t_fail setup "admin add"
start_server
adm() { host_exec 1 "$ADMIN_BIN" --key "$T/boss.key" --server "$SRV" --server-key "$FP" "$@" 2>&1; }
start_rnode 2 ann
start_rnode 3 bob
rnode_login ann ann
rnode_login bob bob
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
