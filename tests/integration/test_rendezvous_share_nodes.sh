#!/usr/bin/env bash
# test: seconds 90
# SPDX-License-Identifier: MIT
#
# test_rendezvous_share_nodes.sh - one sender's share of a mailbox with
# real nodes (docs/rendezvous.md 6.3): the server on host 1 keeps at most
# 4 copies for an account, of which one sending account may hold 1
# (quota_sender_percent = 25). bob (host 3) is offline; ada (host 2)
# sends him two messages: the first is stored, the second is refused
# EQUOTA (her share) and her node keeps it queued; carol (host 4), a
# second contact, still gets hers stored. bob comes back: he gets ada's
# first and carol's at once, and ada's node sends the second again by
# itself (after its 60 s rest) once her share is free: nothing is lost.
# Before the share, ada's second was stored and filled bob's mailbox
# with the first.
# Needs root (namespaces). $BANTER_BIN and $RDV_BIN default to the ASan
# builds; every process's stderr is checked for sanitizer reports.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
# shellcheck source=tests/integration/rnode.sh
. "$here/rnode.sh"
rnode_setup 4
rnode_users ada bob carol

contact_json() {
    b "$T/$1" contacts --json 2>/dev/null | sed 's/^\[//; s/\]$//; s/},{/}\n{/g' |
        grep -F "\"user\":\"$2\""
}
contact_state() { contact_json "$1" "$2" | grep -qF "\"state\":\"$3\""; }
contact_status() { contact_json "$1" "$2" | grep -qF "\"status\":\"$3\""; }
msg_state() { b "$T/$1" history "$2" --json 2>/dev/null | grep -F "\"body\":\"$3\"" | grep -qF "\"state\":\"$4\""; }

printf 'quota_messages = 4\nquota_sender_percent = 25\n' >"$T/share.conf"
start_server --config "$T/share.conf"
# The relay only (no direct path between the hosts of one bridge).
for u in ada bob carol; do
    mkdir -m 700 "$T/$u" && printf 'ice = off\n' >"$T/$u/banter.conf" || t_fail setup "$u's banter.conf"
done
start_rnode 2 ada
start_rnode 3 bob --no-mdns
start_rnode 4 carol --no-mdns
for u in ada bob carol; do rnode_login "$u" "$u"; done
for u in ada carol; do
    run b "$T/$u" contact add bob
    [ "$RC" -eq 0 ] || t_fail "contact $u" "exit $RC: $OUT"
    wait_for 10 contact_state bob "$u" incoming || t_fail "contact $u" "$(b "$T/bob" contacts --json)"
    run b "$T/bob" approve "$u"
    [ "$RC" -eq 0 ] || t_fail "approve $u" "exit $RC: $OUT"
    wait_for 10 contact_state "$u" bob approved || t_fail "approve $u" "$(contact_json "$u" bob)"
done
stop_rnode bob
for u in ada carol; do
    wait_for 65 contact_status "$u" bob offline || t_fail "offline" "$u still sees bob: $(contact_json "$u" bob)"
done

run b "$T/ada" send bob "first from ada"
[ "$RC" -eq 0 ] && grep -q "stored on the rendezvous server" <<<"$OUT" || t_fail "first" "exit $RC: $OUT"
t0=$(now_ms)
run b "$T/ada" send bob "second from ada"
[ "$RC" -ne 0 ] && grep -q "^queued" <<<"$OUT" || t_fail "over the share" "not refused for now: exit $RC: $OUT"
msg_state ada bob "second from ada" queued || t_fail "over the share" "$(b "$T/ada" history bob --json)"
run b "$T/carol" send bob "from carol"
[ "$RC" -eq 0 ] && grep -q "stored on the rendezvous server" <<<"$OUT" ||
    t_fail "second contact" "carol could not reach bob: exit $RC: $OUT"
t_pass "ada over her share of bob's mailbox: her second message is refused for now and stays queued; carol's is stored"

start_rnode 3 bob --no-mdns
for m in "first from ada:ada" "from carol:carol"; do
    wait_for 20 has_body "$T/bob" "${m#*:}" "${m%:*}" || t_fail "bob back" "\"${m%:*}\" missing"
done
wait_for 90 has_body "$T/bob" ada "second from ada" || t_fail "resent" "ada's second never reached bob"
t=$(($(now_ms) - t0))
wait_for 15 msg_state ada bob "second from ada" delivered || t_fail "resent" "$(b "$T/ada" history bob --json)"
n=$(b "$T/bob" history ada --json | grep -o '"body":"second from ada"' | wc -l)
[ "$n" -eq 1 ] || t_fail "resent" "bob has it $n times"
t_pass "bob back: ada's first and carol's arrive; ada's node sends the second again by itself ($t ms after the refusal) and it arrives once"

for u in ada bob carol; do stop_rnode "$u"; done
stop_server
echo "PASS: test_rendezvous_share_nodes"
