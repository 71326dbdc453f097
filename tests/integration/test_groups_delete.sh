#!/usr/bin/env bash
# test: seconds 60
# SPDX-License-Identifier: MIT
#
# test_groups_delete.sh - `banter group delete` end to end (the set-up of
# test_groups.sh, smaller): the real banter-rendezvous and three nodes in
# network namespaces (198.18.0.0/24): host 1 the server; host 2 ada and
# host 3 carol on one LAN (mDNS); host 4 bob, reached only through the
# server's relay (--no-mdns). Everyone is logged in, every pair approved.
#   1. ada creates "launch" with bob and carol; each says something
#      (one word, "zebrafish", to search for);
#   2. carol leaves, then deletes: the group, its history, its search
#      results, its chains are gone from her node (sqlite3), a tombstone
#      stays; nothing else changes for the others;
#   3. bob deletes while a member (--json: "left"): ada sees him leave;
#      bob's node holds nothing of the group;
#   4. no resurrection: ada (an admin) adds @bob to the old group again
#      and writes to it: bob's node refuses both (its log says so), lists
#      no group and stores none of it;
#   5. the slot is freed: bob's node is filled to GROUPS_MAX groups (rows
#      written with sqlite3 while it is stopped); ada's invitation to a new
#      group is refused, and bob's `group list` and log say why and what
#      to do; bob deletes one old group; ada's next invitation is taken;
#   6. usage: --help, a missing argument (2), no such group (5).
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
rnode_setup 4
rnode_users ada bob carol
start_server

NODES="ada carol bob"
start_rnode 2 ada
start_rnode 3 carol
start_rnode 4 bob --no-mdns
for h in $NODES; do rnode_login "$h" "$h"; done
approved() { b "$T/$1" contacts --json 2>/dev/null | jq -e --arg u "$2" '.[] | select(.user == $u and .state == "approved")' >/dev/null; }
for pair in ada:bob ada:carol bob:carol; do
    x=${pair%:*} y=${pair#*:}
    run b "$T/$x" contact add "$y"
    [ "$RC" -eq 0 ] || t_fail "contact add $pair" "exit $RC: $OUT"
    wait_for 10 b "$T/$y" approve "$x" >/dev/null 2>&1 || t_fail "approve $pair" "$(b "$T/$y" requests 2>&1)"
    wait_for 10 approved "$x" "$y" || t_fail "approved $pair" "$(b "$T/$x" contacts --json)"
    wait_for 10 approved "$y" "$x" || t_fail "approved $pair" "$(b "$T/$y" contacts --json)"
done
t_pass "three nodes logged in, every pair approved"

# ---- 1. a group, and what is said in it ----

run b "$T/ada" group create launch @bob @carol --json
[ "$RC" -eq 0 ] || t_fail "create" "exit $RC: $OUT"
GID=$(jq -r '.group.id' <<<"$OUT")
[ "${#GID}" -eq 32 ] || t_fail "create" "no group id: $OUT"
members() { b "$T/$1" group members "$GID" --json 2>/dev/null | jq -r '[.group.members[].id] | join(" ")'; }
is_member() { b "$T/$1" group members "$GID" --json 2>/dev/null | jq -e '.group.member == true' >/dev/null; }
for h in $NODES; do wait_for 20 is_member "$h" || t_fail "joined $h" "$(b "$T/$h" group list --json 2>&1)"; done
gcount() { b "$T/$1" history "%$GID" --json --limit 500 2>/dev/null | jq -r '.messages | length'; }
for h in $NODES; do
    run b "$T/$h" send "%$GID" "zebrafish from $h"
    [ "$RC" -eq 0 ] || t_fail "send $h" "exit $RC: $OUT"
done
all_three() { for h in $NODES; do [ "$(gcount "$h")" = 3 ] || return 1; done; }
wait_for 30 all_three || t_fail "talk" "$(for h in $NODES; do echo "$h: $(gcount "$h")"; done)"
rows() { sqlite3 "$T/$1/banter.db" "$2"; }
G="x'$GID'"
[ "$(rows carol "SELECT count(*) FROM group_chains WHERE grp = $G")" -gt 0 ] || t_fail "chains" "carol holds no chain"
t_pass "ada creates launch with bob and carol; three messages on every node"

# ---- 2. carol leaves, then deletes ----

run b "$T/carol" group leave launch
[ "$RC" -eq 0 ] || t_fail "leave" "exit $RC: $OUT"
wait_for 20 eval '[ "$(members ada)" = "@ada @bob" ]' || t_fail "carol left" "$(members ada)"
run b "$T/carol" group delete launch --json
[ "$RC" -eq 0 ] || t_fail "delete after leave" "exit $RC: $OUT"
jq -e --arg g "$GID" '.id == $g and .name == "launch" and .left == false and .messages >= 3' <<<"$OUT" >/dev/null ||
    t_fail "delete after leave" "$OUT"
run b "$T/carol" group list --json
jq -e '.groups | length == 0' <<<"$OUT" >/dev/null || t_fail "carol's list" "$OUT"
run b "$T/carol" history "%$GID"
[ "$RC" -eq 5 ] || t_fail "carol's history" "exit $RC (5 expected): $OUT"
run b "$T/carol" find zebrafish --json
jq -e '.results | length == 0' <<<"$OUT" >/dev/null || t_fail "carol's search" "$OUT"
[ "$(rows carol "SELECT (SELECT count(*) FROM groups) + (SELECT count(*) FROM group_chains)
    + (SELECT count(*) FROM messages WHERE grp = $G AND state <> 0)")" = 0 ] ||
    t_fail "carol's store" "$(rows carol "SELECT 'groups', count(*) FROM groups UNION ALL SELECT 'chains', count(*) FROM group_chains UNION ALL SELECT 'messages', count(*) FROM messages WHERE grp = $G")"
[ "$(rows carol "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zebrafish'")" = 0 ] ||
    t_fail "carol's index" "the full-text index still finds it"
[ "$(rows carol "SELECT count(*) FROM group_tombstones WHERE id = $G")" = 1 ] || t_fail "tombstone" "none at carol's"
[ "$(gcount ada)" = 3 ] && [ "$(gcount bob)" = 3 ] || t_fail "others" "ada $(gcount ada), bob $(gcount bob)"
t_pass "carol left, then deleted: group, history, search results, chains gone from her node, a tombstone kept; ada and bob keep theirs"

# ---- 3. bob deletes while a member ----

run b "$T/bob" group delete "$GID" --json
[ "$RC" -eq 0 ] || t_fail "delete while member" "exit $RC: $OUT"
jq -e '.left == true' <<<"$OUT" >/dev/null || t_fail "delete while member" "$OUT"
wait_for 30 eval '[ "$(members ada)" = "@ada" ]' || t_fail "bob's leave" "ada sees $(members ada)"
[ "$(rows bob "SELECT count(*) FROM groups")" = 0 ] || t_fail "bob's store" "a group row left"
[ "$(rows bob "SELECT count(*) FROM messages WHERE grp = $G AND flags & 4 = 0")" = 0 ] || t_fail "bob's store" "history left"
run b "$T/bob" find zebrafish --json
jq -e '.results | length == 0' <<<"$OUT" >/dev/null || t_fail "bob's search" "$OUT"
t_pass "bob deleted while a member: ada sees him leave; nothing of the group is left on bob's node"

# ---- 4. no resurrection ----

run b "$T/ada" group invite launch @bob
[ "$RC" -eq 0 ] || t_fail "re-add" "exit $RC: $OUT"
run b "$T/ada" send "%$GID" "zebrafish again, bob?"
[ "$RC" -eq 0 ] || t_fail "late message" "exit $RC: $OUT"
# Over the LAN or relayed, as the route goes.
bob_refused() { cat "$T"/bob-*.err 2>/dev/null | grep -c 'refused a \(relayed \)\?group_\(state\|msg\) from \(ada: \)\?\(a device with \)\?no right to it, or \(for a group\|its group was\) deleted here'; }
wait_for 30 eval '[ "$(bob_refused)" -ge 2 ]' || t_fail "late traffic" "bob's log: $(cat "$T"/bob-*.err | tail -20)"
run b "$T/bob" group list --json
jq -e '.groups | length == 0' <<<"$OUT" >/dev/null || t_fail "resurrected" "$OUT"
[ "$(rows bob "SELECT count(*) FROM messages WHERE body LIKE '%again, bob%'")" = 0 ] || t_fail "resurrected" "bob's store holds the late message"
[ "$(rows bob "SELECT count(*) FROM groups")" = 0 ] || t_fail "resurrected" "a group row"
t_pass "ada re-adds @bob to the deleted group and writes to it: bob's node refuses both and lists no group"

# ---- 5. the slot is freed ----

stop_rnode bob
state=$(rows ada "SELECT state FROM groups WHERE id = $G")
[ -n "$state" ] || t_fail "fill" "no state to copy"
# 1000 groups bob left long ago: ada's state with another id and name each.
sq_state=$(printf '%s' "$state" | sed "s/'/''/g")
sqlite3 "$T/bob/banter.db" "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 1000)
    INSERT INTO groups (id, state, member, epoch, chain, epoch_started, created)
    SELECT randomblob(16), replace('$sq_state', '\"launch\"', '\"old ' || i || '\"'), 0, 1, x'00', 0, i FROM k;
    UPDATE groups SET state = replace(state, '$GID', lower(hex(id)));" || t_fail "fill" "sqlite3"
[ "$(rows bob "SELECT count(*) FROM groups")" = 1000 ] || t_fail "fill" "$(rows bob "SELECT count(*) FROM groups")"
start_rnode 4 bob --no-mdns
wait_for 15 logged_in bob bob || t_fail "bob back" "$(b "$T/bob" rendezvous --json)"
run b "$T/ada" group create full @bob --json
[ "$RC" -eq 0 ] || t_fail "invite at the cap" "exit $RC: $OUT"
FULL=$(jq -r '.group.id' <<<"$OUT")
told() { grep -q "refused an invitation to the group \"full\" from @ada: this node holds 1000 groups, the most it may; delete old ones" "$T/bob-2.err"; }
wait_for 30 told || t_fail "refusal told" "bob's log: $(tail -20 "$T/bob-2.err")"
run b "$T/bob" group list
grep -q '^! 1 invitation refused .*this node holds 1000 groups, the most it may; delete old ones: banter group delete GROUP$' <<<"$OUT" ||
    t_fail "refusal in the list" "$(tail -3 <<<"$OUT"); $(b "$T/bob" group list --json | jq -c "{limit, refused, n: (.groups | length), first: .groups[0]}"); $(rows ada "SELECT state FROM groups WHERE id = $G")"
[ "$(rows bob "SELECT count(*) FROM groups WHERE id = x'$FULL'")" = 0 ] || t_fail "at the cap" "the invitation was kept"
run b "$T/bob" group delete "old 7"
[ "$RC" -eq 0 ] || t_fail "delete an old group" "exit $RC: $OUT"
grep -q '^deleted the group old 7 ' <<<"$OUT" || t_fail "delete an old group" "$OUT"
run b "$T/ada" group create room @bob --json
[ "$RC" -eq 0 ] || t_fail "invite after delete" "exit $RC: $OUT"
ROOM=$(jq -r '.group.id' <<<"$OUT")
joined_room() { b "$T/bob" group members "$ROOM" --json 2>/dev/null | jq -e '.group.member == true' >/dev/null; }
wait_for 30 joined_room || t_fail "invite after delete" "bob did not join: $(b "$T/bob" group members "$ROOM" 2>&1)"
t_pass "at 1000 groups ada's invitation is refused, bob's log and group list say so and what to do; one old group deleted, the next invitation is taken"

# ---- 6. usage ----

run b "$T/bob" group delete --help
[ "$RC" -eq 0 ] && grep -q 'delete GROUP \[--json\]' <<<"$OUT" || t_fail "--help" "exit $RC: $OUT"
run b "$T/bob" group delete
[ "$RC" -eq 2 ] || t_fail "usage" "exit $RC (2 expected): $OUT"
run b "$T/bob" group delete "no such group"
[ "$RC" -eq 5 ] || t_fail "no such group" "exit $RC (5 expected): $OUT"
t_pass "group delete --help, a missing GROUP (exit 2), no such group (exit 5)"

for h in $NODES; do stop_rnode "$h"; done
stop_server
t_pass "clean stop, no sanitizer reports"
echo "PASS: test_groups_delete"
