#!/usr/bin/env bash
# test: seconds 10
# SPDX-License-Identifier: MIT
#
# test_groups.sh - group conversations end to end (issue 17): the real
# banter-rendezvous and five nodes of four people in network namespaces
# (198.18.0.0/24): host 1 the server; host 2 ada's desk ("ada1") and
# host 3 carol, on one LAN (mDNS); host 4 ada's laptop ("ada2"), host 5
# bob and host 6 dave, reached only through the server's relay
# (--no-mdns). Everyone is logged in and each pair are approved contacts.
#   1. ada creates "launch" with bob, carol and dave from the CLI: every
#      node (ada's laptop too) lists it with the same four members;
#   2. each device says something; every device shows the same messages
#      in the same order (ids compared), ada's messages read as sent on
#      both of her devices, and her first message is "delivered to 3 of
#      3";
#   3. ada removes dave: every node lists three members, dave's says he
#      is no longer a member; what bob says then reaches the others and
#      leaves no trace in dave's database (checked with sqlite3);
#   4. bob's node stops; ada sends; it is stored on the server and bob
#      gets it at his next start;
#   5. `banter find` at carol's finds a word in both a group message and
#      a one-to-one message, each naming its conversation and id; bob's
#      and carol's GROUP control requests that they have no right to
#      make (remove, rename) are refused;
#   5b. `send-file %launch` offers the file to each other member;
#   6. a LAN stranger's GROUP_STATE (a rename "by @ada") is refused
#      EPERM and a bare GROUP_TEXT EBADTYPE; nothing changes.
# Needs root (namespaces). $BANTER_BIN and $RDV_BIN default to the ASan
# builds; every process's stderr is checked for sanitizer reports.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
command -v jq >/dev/null || t_skip "needs jq"
command -v sqlite3 >/dev/null || t_skip "needs sqlite3"
# shellcheck source=tests/integration/rnode.sh
. "$here/rnode.sh"
rnode_setup 6 PEER_PROBE
rnode_users ada bob carol dave
start_server

acct() { printf '%s\n' "${1%[12]}"; }
NODES="ada1 carol ada2 bob dave"

start_rnode 2 ada1
start_rnode 3 carol
start_rnode 4 ada2 --no-mdns
start_rnode 5 bob --no-mdns
start_rnode 6 dave --no-mdns
for h in $NODES; do rnode_login "$h" "$(acct "$h")"; done
approved() { b "$T/$1" contacts --json 2>/dev/null | jq -e --arg u "$2" '.[] | select(.user == $u and .state == "approved")' >/dev/null; }
for pair in ada:bob ada:carol ada:dave bob:carol bob:dave carol:dave; do
    x=${pair%:*} y=${pair#*:}
    hx=$x hy=$y
    [ "$x" = ada ] && hx=ada1
    run b "$T/$hx" contact add "$y"
    [ "$RC" -eq 0 ] || t_fail "contact add $pair" "exit $RC: $OUT"
    wait_for 10 b "$T/$hy" approve "$x" >/dev/null 2>&1 || t_fail "approve $pair" "$(b "$T/$hy" requests 2>&1)"
    wait_for 10 approved "$hx" "$y" || t_fail "approved $pair" "$(b "$T/$hx" contacts --json)"
done
for h in $NODES; do
    for u in ada bob carol dave; do
        [ "$u" = "$(acct "$h")" ] && continue
        wait_for 10 approved "$h" "$u" || t_fail "contacts of $h" "$(b "$T/$h" contacts --json)"
    done
done
lan_up() { b "$T/ada1" peers --json 2>/dev/null | jq -e '.[] | select(.account == "carol") | .devices[] | select(.online == true)' >/dev/null; }
wait_for 30 lan_up || t_fail "LAN" "ada1 should see carol on the LAN: $(b "$T/ada1" peers --json)"
t_pass "five nodes logged in as four accounts, every pair approved; ada1 and carol on one LAN"

# ---- 1. create ----

run b "$T/ada1" group create launch @bob carol @dave --json
[ "$RC" -eq 0 ] || t_fail "create" "exit $RC: $OUT"
GID=$(jq -r '.group.id' <<<"$OUT")
[ "${#GID}" -eq 32 ] || t_fail "create" "no group id: $OUT"
members() { b "$T/$1" group members "$GID" --json 2>/dev/null | jq -r '[.group.members[].id] | join(" ")'; }
is_member() { b "$T/$1" group members "$GID" --json 2>/dev/null | jq -e '.group.member == true' >/dev/null; }
for h in $NODES; do
    wait_for 20 is_member "$h" || t_fail "joined $h" "$(b "$T/$h" group list --json 2>&1)"
    [ "$(members "$h")" = "@ada @bob @carol @dave" ] || t_fail "members $h" "$(members "$h")"
done
t_pass "ada creates a group with bob, carol (by her contact name) and dave: all five devices list it with the same four members"

# ---- 2. talk ----

n=0
gsay() { # gsay HOME TEXT
    n=$((n + 1))
    run b "$T/$1" send "%launch" "$2"
    [ "$RC" -eq 0 ] || t_fail "send $2" "exit $RC: $OUT"
}
ghist() { b "$T/$1" history "%$GID" --json --limit 500 2>/dev/null | jq -r '.messages[] | "\(.id) \(.body)"'; }
gcount() { ghist "$1" | wc -l; }
all_have() { for h in $NODES; do [ "$(gcount "$h")" -eq "$1" ] || return 1; done; }
gsay ada1 "one from ada's desk"
gsay bob "two from bob"
gsay carol "three from carol"
gsay dave "four from dave"
gsay ada2 "five from ada's laptop"
wait_for 30 all_have "$n" || t_fail "talk" "$(for h in $NODES; do echo "$h: $(gcount "$h")"; done)"
ref=$(ghist ada1)
for h in $NODES; do
    [ "$(ghist "$h")" = "$ref" ] || t_fail "order" "ada1:
$ref
$h:
$(ghist "$h")"
done
for h in ada1 ada2; do
    b "$T/$h" history "%launch" --json | jq -e '[.messages[] | select(.direction == "out")] | length == 2' >/dev/null ||
        t_fail "own messages" "$h: $(b "$T/$h" history "%launch" --json)"
done
delivered_all() { b "$T/ada1" history "%launch" --json | jq -e '.messages[] | select(.body == "one from ada'"'"'s desk") | .delivered_to == 3 and .recipients == 3' >/dev/null; }
wait_for 20 delivered_all || t_fail "delivery" "$(b "$T/ada1" history "%launch" --json)"
t_pass "$n messages from all five devices (LAN and relay): the same ids in the same order everywhere; ada's read as hers on both her devices; 'delivered to 3 of 3'"

# ---- 3. remove ----

run b "$T/bob" group remove launch @dave
[ "$RC" -ne 0 ] || t_fail "remove by bob" "bob is no admin but removed dave: $OUT"
run b "$T/carol" group rename launch hijacked
[ "$RC" -ne 0 ] || t_fail "rename by carol" "carol is no admin but renamed it: $OUT"
run b "$T/ada1" group remove launch @dave
[ "$RC" -eq 0 ] || t_fail "remove" "exit $RC: $OUT"
three() { [ "$(members "$1")" = "@ada @bob @carol" ]; }
for h in ada1 carol ada2 bob; do
    wait_for 20 three "$h" || t_fail "removed at $h" "$(members "$h")"
done
wait_for 20 eval '! is_member dave' || t_fail "removed dave" "dave's node still says member"
gsay bob "after the removal: budget is secret"
n_after=$n
wait_for 30 eval '[ "$(gcount carol)" -eq '"$n_after"' ] && [ "$(gcount ada2)" -eq '"$n_after"' ]' ||
    t_fail "after removal" "carol $(gcount carol), ada2 $(gcount ada2)"
sleep 2
ghist dave | grep -q 'budget is secret' && t_fail "removed reads" "dave's node shows it"
[ "$(sqlite3 "$T/dave/banter.db" "SELECT count(*) FROM messages WHERE body LIKE '%secret%'")" = 0 ] ||
    t_fail "removed reads" "dave's store holds it"
run b "$T/dave" send "%launch" "still here?"
[ "$RC" -ne 0 ] || t_fail "removed sends" "dave could still send: $OUT"
t_pass "bob and carol may not remove or rename; ada removes dave: four devices list three members, dave's node knows it is out, stores nothing of what bob says next, and cannot send"

# ---- 4. offline ----

stop_rnode bob
gsay ada1 "while bob is away"
wait_for 20 eval '[ "$(gcount carol)" -eq '"$n"' ]' || t_fail "offline" "carol $(gcount carol)"
start_rnode 5 bob --no-mdns
wait_for 15 logged_in bob bob || t_fail "bob back" "$(b "$T/bob" rendezvous --json)"
wait_for 30 eval '[ "$(gcount bob)" -eq '"$n"' ]' || t_fail "offline" "bob has $(gcount bob) of $n after his restart"
[ "$(ghist bob)" = "$(ghist ada1)" ] || t_fail "order after restart" "$(ghist bob)"
t_pass "a message sent while bob's node was stopped reaches him at his next start, in its place"

# ---- 5. find ----

run b "$T/ada1" send carol "the budget, one to one"
[ "$RC" -eq 0 ] || t_fail "1:1" "exit $RC: $OUT"
found() { b "$T/carol" find budget --json 2>/dev/null; }
both() { found | jq -e '[.results[].conversation.kind] | sort == ["contact", "group"]' >/dev/null; }
wait_for 10 both || t_fail "find" "$(found)"
found | jq -e --arg g "$GID" '.results[] | select(.conversation.kind == "group") | .conversation.group == $g and (.message.id | length) == 32' >/dev/null ||
    t_fail "find" "$(found)"
run b "$T/carol" search budget --json
[ "$RC" -eq 0 ] && jq -e '.results | length == 2' <<<"$OUT" >/dev/null || t_fail "search" "$OUT"
t_pass "banter find (and search TEXT) at carol's finds the word in a group message and a one-to-one message, each naming its conversation and message id"

# ---- 5b. a file to the group ----

head -c 5000 /dev/urandom >"$T/plan.bin"
run b "$T/ada1" send-file "%launch" "$T/plan.bin"
[ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || t_fail "file to the group" "exit $RC: $OUT"
grep -q '^offered .* to @carol$' <<<"$OUT" && grep -q ' @bob$' <<<"$OUT" ||
    t_fail "file to the group" "one offer per member expected: $OUT"
offer_at_carol() { b "$T/carol" transfers --json 2>/dev/null | jq -e '.[] | select(.name == "plan.bin" and .direction == "in")' >/dev/null; }
wait_for 10 offer_at_carol || t_fail "file to the group" "carol has no offer: $(b "$T/carol" transfers --json)"
t_pass "a file to the group is one offer per other member (carol on the LAN has it to accept or decline; bob's waits)"

# ---- 6. a LAN stranger ----

# A device no one knows dials ada1 on the LAN and sends the group's next
# state "by @ada" renaming it, a distribution, and a bare GROUP_TEXT.
state=$(b "$T/ada1" group members "$GID" --json | jq -c '.group | {group: .id, v: (.version + 1),
    name: "taken over", creator: .creator, by: "@ada",
    members: [.members[] | {id} + (if .admin then {admin: true} else {} end)]}')
out=$(host_exec 6 "$PEER_PROBE" 198.18.0.2 7070 conn 0 hello mallory \
    raw 24 "{\"id\":\"00112233445566778899aabbccddeeff\",\"state\":$state}" expect error 3000 \
    raw 27 '{"id":"00112233445566778899aabbccddeeff","ts":1,"lc":1,"body":"bare text"}' expect error 3000 2>&1) ||
    t_fail "LAN stranger" "$out"
[ "$(grep -c 'got error conn 0' <<<"$out")" -eq 2 ] && grep -q 'got error conn 0 EPERM' <<<"$out" &&
    grep -q 'got error conn 0 EBADTYPE' <<<"$out" || t_fail "LAN stranger" "not refused EPERM and EBADTYPE: $out"
b "$T/ada1" group members "$GID" --json | jq -e '.group.name == "launch"' >/dev/null ||
    t_fail "LAN stranger" "the group was renamed: $(b "$T/ada1" group members "$GID" --json)"
b "$T/ada1" history "%launch" --json | grep -q 'bare text' && t_fail "LAN stranger" "stored a bare GROUP_TEXT"
t_pass "a LAN stranger's GROUP_STATE is refused EPERM and a bare GROUP_TEXT EBADTYPE; the group is unchanged"

for h in ada1 carol ada2 bob dave; do stop_rnode "$h"; done
stop_server
t_pass "clean stop, no sanitizer reports"
echo "PASS: test_groups"
