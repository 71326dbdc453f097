#!/usr/bin/env bash
# test: seconds 60
# SPDX-License-Identifier: MIT
#
# test_rendezvous_gone_nodes.sh - a stored copy whose sending device is no
# longer its account's does not make that device the account's on the
# receiving node (docs/protocol.md "A relayed copy is the server's word
# only while it says so"; docs/rendezvous.md 6.2 RV_SEAL_SENDER_GONE).
# The server on host 1; ann (host 2) and cat (host 3) are contacts, no
# LAN discovery, no direct path. ann's node is stopped; cat sends her a
# message (stored), then logs out (its device is unbound). ann comes back:
# the server lists cat with no device, then delivers the stored copy
# flagged sender-gone. Her node shows the text, marked unverified, and
# cat's old device is not a certified device of @cat. Before, the copy
# made it certified for @cat for a day (what sent @cat's messages to a
# deleted account's laptop once the name was given again).
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
rnode_setup 3
rnode_users ann cat

contact_json() {
    b "$T/$1" contacts --json 2>/dev/null | sed 's/^\[//; s/\]$//; s/},{/}\n{/g' |
        grep -F "\"user\":\"$2\""
}
contact_state() { contact_json "$1" "$2" | grep -qF "\"state\":\"$3\""; }
# cat_certified: ann's node takes a device as @cat's on the organisation's
# word (the account's contact itself is "certified" with no device too).
cat_certified() {
    b "$T/ann" peers --json 2>/dev/null |
        jq -e 'any(.[]; (.account // "") == "cat" and any(.devices[]?; .trust == "certified"))' >/dev/null
}
msg_json() { b "$T/ann" history cat --json 2>/dev/null | grep -F "\"body\":\"$1\""; }

start_server
for u in ann cat; do
    mkdir -m 700 "$T/$u" && printf 'ice = off\n' >"$T/$u/banter.conf" || t_fail setup "$u's banter.conf"
done
start_rnode 2 ann --no-mdns
start_rnode 3 cat --no-mdns
for u in ann cat; do rnode_login "$u" "$u"; done
run b "$T/cat" contact add ann
[ "$RC" -eq 0 ] || t_fail "contact" "exit $RC: $OUT"
wait_for 10 contact_state ann cat incoming || t_fail "contact" "$(b "$T/ann" contacts --json)"
run b "$T/ann" approve cat
[ "$RC" -eq 0 ] || t_fail "approve" "exit $RC: $OUT"
wait_for 10 contact_state cat ann approved || t_fail "approve" "$(contact_json cat ann)"
wait_for 20 cat_certified || t_fail "before" "ann's node never took cat's device as @cat's: $(b "$T/ann" peers --json)"

stop_rnode ann
run b "$T/cat" send ann "from cat, then logged out"
[ "$RC" -eq 0 ] && grep -q "stored on the rendezvous server" <<<"$OUT" || t_fail "stored" "exit $RC: $OUT"
run b "$T/cat" logout
[ "$RC" -eq 0 ] || t_fail "logout" "exit $RC: $OUT"

start_rnode 2 ann --no-mdns
wait_for 30 has_body "$T/ann" cat "from cat, then logged out" ||
    t_fail "delivered" "the stored copy never reached ann: $(b "$T/ann" history cat --json 2>&1)"
msg_json "from cat, then logged out" | grep -qF '"unverified":true' ||
    t_fail "unverified" "not marked unverified: $(msg_json "from cat, then logged out")"
! cat_certified || t_fail "not vouched" "the stored copy made cat's unbound device @cat's: $(b "$T/ann" peers --json)"
t_pass "a stored copy from a device no longer bound to cat reaches ann marked unverified, and does not make that device @cat's"

for u in ann cat; do stop_rnode "$u"; done
stop_server
echo "PASS: test_rendezvous_gone_nodes"
