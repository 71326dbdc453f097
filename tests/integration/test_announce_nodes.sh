#!/usr/bin/env bash
# test: seconds 4
# SPDX-License-Identifier: MIT
#
# test_announce_nodes.sh - announcements from banter-admin to real nodes
# (ASan builds, loopback, no mDNS), and the report:
#   1. ann's and bob's nodes are logged in, cat's is stopped; an admin
#      announces: ann's `banter listen` prints it at once (and so marks it
#      read), bob's node keeps it unread; the report counts 2 of 3 devices
#      received, 1 person read;
#   2. bob's `banter history --announcements` shows it: 2 people read;
#      cat's node starts, gets it at login (3 received), and its page-less
#      `banter announcements --unread --json` shows it (3 read); shown
#      again it is not counted twice;
#   3. read while the server is away: a second announcement reaches bob,
#      the server stops, bob reads it, the server starts again: bob's node
#      tells it after logging in (the report counts bob).
# Needs $BANTER_BIN, $RDV_BIN, $RDV_PROBE and $ADMIN_BIN (the ASan builds).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"
ADMIN_BIN=${ADMIN_BIN:-$here/../../build/asan/banter-admin}
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
for v in ADMIN_BIN BANTER_BIN; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make test-run builds it, or set $v)"
done
ADMIN_BIN=$(cd "$(dirname "$ADMIN_BIN")" && pwd)/$(basename "$ADMIN_BIN")
BANTER_BIN=$(cd "$(dirname "$BANTER_BIN")" && pwd)/$(basename "$BANTER_BIN")

rdv_setup ann bob cat
SFP=$("$RDV_BIN" --db rdv.db fingerprint 2>/dev/null)
# shellcheck source=admin_nodes.sh
. "$here/admin_nodes.sh"
logged_in() { b "$1" rendezvous --json 2>/dev/null | grep -q "\"user\":\"$1\""; }
# report ID: "received/read" (devices received, people read)
report() { adm announce report "$1" --json | jq -r '"\(.delivered)/\(.people_read)"'; }
is_report() { [ "$(report "$1")" = "$2" ]; }
command -v jq >/dev/null || t_skip "needs jq"

for u in ann bob cat; do
    start_node "$u"
    wait_for 15 b "$u" login "$u" --password-file "$T/pw" >/dev/null 2>&1 || t_fail "login $u" "$(b "$u" rendezvous --json 2>&1)"
    wait_for 10 logged_in "$u" || t_fail "login $u" "$(b "$u" rendezvous --json)"
done
stop_node cat

# ---- 1. online now, shown by listen ----
"$BANTER_BIN" --home "$T/ann" listen --json >"$T/listen.out" 2>"$T/listen.err" &
LPID=$!
RDV_PIDS+=("$LPID")
wait_for 5 grep -q listening "$T/listen.err" || t_fail "listen" "$(cat "$T/listen.err")"
out=$(adm announce $'The office is closed on Friday.\nEnjoy the long weekend.') || t_fail "announce" "$out"
has "$out" '^announcement 1 to 3 devices of 3 people: 2 online have it now' || t_fail "announce" "$out"
_ev() { grep -q '"event":"announcement"' "$T/listen.out"; }
wait_for 5 _ev || t_fail "listen" "no announcement event: $(cat "$T/listen.out")"
grep -q '"announcement":{"id":1,.*"text":"The office is closed on Friday.\\nEnjoy the long weekend.",.*"read":null' "$T/listen.out" ||
    t_fail "listen" "$(cat "$T/listen.out")"
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
wait_for 5 is_report 1 "2/1" || t_fail "report after listen" "$(adm announce report 1)"
json=$(b bob announcements --json --limit 5 2>&1) || t_fail "bob's announcements" "$json"
t_pass "announce: ann's listen printed it at once, bob's node keeps it; the report: 2 devices received, 1 person read"

# ---- 2. history --announcements, offline at announce time ----
# (bob's --json listing above printed it too: shown is shown)
wait_for 5 is_report 1 "2/2" || t_fail "report after bob" "$(adm announce report 1)"
out=$(b bob history --announcements) || t_fail "history --announcements" "$out"
has "$out" '^\[.*\] announcement 1 from the organisation: The office is closed on Friday.' || t_fail "history --announcements" "$out"
start_node cat
wait_for 15 logged_in cat || t_fail "cat" "$(b cat rendezvous --json)"
wait_for 5 is_report 1 "3/2" || t_fail "report after cat's login" "$(adm announce report 1)"
json=$(b cat announcements --unread --json) || t_fail "cat's announcements" "$json"
[ "$(jq length <<<"$json")" = 1 ] && [ "$(jq -r '.[0].id' <<<"$json")" = 1 ] || t_fail "cat's announcements" "$json"
wait_for 5 is_report 1 "3/3" || t_fail "report after cat" "$(adm announce report 1)"
json=$(b cat announcements --unread --json) && [ "$(jq length <<<"$json")" = 0 ] || t_fail "read stays read" "$json"
out=$(b cat announcements) && has "$out" 'announcement 1 ' || t_fail "announcements" "$out"
out=$(adm announce report 1) && has "$out" '^  read by 3 people \(on 3 devices\)$' || t_fail "report text" "$out"
t_pass "history --announcements and announcements --unread show it and count once; cat's node got it at its next login: 3 received, 3 read"

# ---- 3. read while the server is away ----
out=$(adm announce "Second notice." --department "") || t_fail "announce 2" "$out"
# (listing would mark it read: wait through the report instead)
wait_for 5 is_report 2 "3/0" || t_fail "report 2" "$(adm announce report 2)"
rdv_stop main
out=$(b bob announcements --unread) && has "$out" 'announcement 2 .*Second notice' || t_fail "offline read" "$out"
rdv_start again
wait_for 20 logged_in bob || t_fail "bob again" "$(b bob rendezvous --json)"
wait_for 10 is_report 2 "3/1" || t_fail "told after login" "$(adm announce report 2)"
for u in ann bob cat; do stop_node "$u"; done
rdv_stop again
t_pass "read while the server was away: told after the next login (1 person read)"
echo "PASS: test_announce_nodes"
