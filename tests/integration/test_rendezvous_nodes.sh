#!/usr/bin/env bash
# test: seconds 8
# SPDX-License-Identifier: MIT
#
# test_rendezvous_nodes.sh - real nodes and the real banter-rendezvous in
# network namespaces (198.18.0.0/24): host 1 runs the server, hosts 2 and 4
# are ada and carol (one LAN, mDNS on), host 3 is bob, a remote worker
# whose node never multicasts (--no-mdns).
#   1. login of all three; contact request, the requests list, approval;
#      presence pushed (online, then away with a text);
#   2. a message relayed through the server to an online contact:
#      "delivered" (ada and bob have ice = off in banter.conf, so the
#      sealed relay carries it, not a direct path); bob's node stops: ada sees him offline, her messages
#      are "stored" on the server, and reach bob when his node is back (no
#      duplicates after another restart);
#   3. SIGKILL of the server right after it acknowledged offline messages:
#      after a restart every one of them reaches bob;
#   4. sending to someone who is not an approved contact is refused;
#      blocking: ada's messages are accepted ("stored") but never reach bob;
#   5. organisation broadcast by carol (admin): online ada gets it at once,
#      offline bob at his next login; ada (no right) is refused;
#   6. a hostile client in carol's host (garbage, a stalled oversized
#      frame, unauthenticated requests, a junk frame, 1000 rapid
#      connections): ada and bob stay logged in and are served;
#   1b. a LAN host that says HELLO as "bob" (no certificate) hides nothing:
#      bob stays the organisation contact; send, verify, broadcast reach him;
#   7. on the LAN, ada's node shows carol as the organisation's account
#      "carol" (her certificate), also after the server is stopped.
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
rnode_users +carol ada bob dave

contact_json() {
    b "$T/$1" contacts --json 2>/dev/null | sed 's/^\[//; s/\]$//; s/},{/}\n{/g' |
        grep -F "\"user\":\"$2\""
}
contact_state() { contact_json "$1" "$2" | grep -qF "\"state\":\"$3\""; }
contact_status() { contact_json "$1" "$2" | grep -qF "\"status\":\"$3\""; }

start_server
# No direct path (ICE) between ada and bob: the relayed steps go through
# the server's sealed relay (all hosts share one bridge, so ICE's host
# candidates would connect them).
for u in ada bob; do
    mkdir -m 700 "$T/$u" && printf 'ice = off\n' >"$T/$u/banter.conf" || t_fail setup "$u's banter.conf"
done
start_rnode 2 ada
start_rnode 3 bob --no-mdns
start_rnode 4 carol
for u in ada bob carol; do rnode_login "$u" "$u"; done
t_pass "three nodes in three namespaces logged in to the server in a fourth"

# ---- 1. contacts and presence ----

b "$T/bob" listen --json >"$T/bob-listen.log" 2>/dev/null </dev/null &
BT_PIDS+=("$!")
run b "$T/ada" contact add bob
[ "$RC" -eq 0 ] || t_fail "contact request" "exit $RC: $OUT"
wait_for 10 contact_state bob ada incoming || t_fail "contact request" "bob: $(b "$T/bob" contacts --json)"
b "$T/bob" requests | grep -q "ada .*asks to be your contact" ||
    t_fail "requests" "$(b "$T/bob" requests 2>&1)"
contact_state ada bob outgoing || t_fail "contact request" "ada: $(b "$T/ada" contacts --json)"
# Before approval neither sees the other's presence.
contact_json bob ada | grep -q '"status":"offline"' || t_fail "no presence before approval" \
    "$(contact_json bob ada)"
run b "$T/bob" approve ada
[ "$RC" -eq 0 ] || t_fail "approve" "exit $RC: $OUT"
wait_for 10 contact_state ada bob approved && wait_for 10 contact_status ada bob online ||
    t_fail "approve" "ada: $(contact_json ada bob)"
wait_for 10 contact_status bob ada online || t_fail "approve" "bob: $(contact_json bob ada)"
t_pass "contact request, requests list, approval; presence shown only once approved"

run b "$T/ada" status away "at lunch"
[ "$RC" -eq 0 ] || t_fail "status" "exit $RC: $OUT"
wait_for 10 contact_status bob ada away || t_fail "status" "bob: $(contact_json bob ada)"
contact_json bob ada | grep -qF '"text":"at lunch"' || t_fail "status text" "$(contact_json bob ada)"
wait_for 5 grep -q '"event":"presence".*"status":"away"' "$T/bob-listen.log" ||
    t_fail "presence event" "$(cat "$T/bob-listen.log")"
peer_obj "$T/bob" ada | grep -q '"source":"rendezvous"' || t_fail "peers" "$(peer_obj "$T/bob" ada)"
own_away() { b "$T/ada" rendezvous --json | grep -q '"status":"away","status_text":"at lunch"'; }
wait_for 5 own_away || t_fail "own status" "$(b "$T/ada" rendezvous --json)"
b "$T/ada" status online >/dev/null
t_pass "presence pushed: away with its text reached bob (event and peers, source rendezvous)"

# ---- 2. relayed messages, online and offline ----

peer_obj "$T/ada" bob | grep -q '"route":"server"' || t_fail "relay online" \
    "ada reaches bob otherwise than by the sealed relay: $(peer_obj "$T/ada" bob)"
run b "$T/ada" send bob "hello through the server"
[ "$RC" -eq 0 ] && grep -q "delivered to bob" <<<"$OUT" || t_fail "relay online" "exit $RC: $OUT"
has_body "$T/bob" ada "hello through the server" || t_fail "relay online" "not in bob's history"
run b "$T/bob" send ada "and back"
[ "$RC" -eq 0 ] && has_body "$T/ada" bob "and back" || t_fail "relay online" "reply: $RC $OUT"
t_pass "a message relayed to an online contact is delivered both ways (sealed, server sees ciphertext)"

# A LAN host that says it is "bob" (no certificate) never hides, replaces
# or takes the messages of the organisation contact bob.
if [ -x "${PEER_PROBE:-}" ]; then
    run host_exec 4 "$PEER_PROBE" 198.18.0.2 7070 conn 0 hello bob wait 500
    [ "$RC" -eq 0 ] || t_fail "LAN claim" "the probe failed: $OUT"
    org_bob() { b "$T/ada" peers --json | jq -e '[.[] | select(.name == "bob" and .account == "bob")] | length == 1' >/dev/null; }
    org_bob || t_fail "LAN claim" "ada lost the organisation contact bob: $(b "$T/ada" peers --json)"
    b "$T/ada" peers --json | jq -e '[.[] | select(.name | startswith("bob ("))] | length == 1' >/dev/null ||
        t_fail "LAN claim" "the LAN claimant is not listed apart: $(b "$T/ada" peers --json)"
    run b "$T/ada" send bob "still the real bob"
    [ "$RC" -eq 0 ] && grep -q "delivered to bob" <<<"$OUT" || t_fail "LAN claim" "send bob: $RC $OUT"
    run b "$T/ada" verify bob
    [ "$RC" -eq 0 ] || t_fail "LAN claim" "verify bob: $RC $OUT"
    org_bob || t_fail "LAN claim" "verify bob removed the organisation contact"
    run b "$T/ada" send @bob "and after verify"
    [ "$RC" -eq 0 ] && grep -q "delivered to" <<<"$OUT" || t_fail "LAN claim" "send @bob: $RC $OUT"
    run b "$T/ada" broadcast "to everyone"
    [ "$RC" -eq 0 ] || t_fail "LAN claim" "broadcast: $RC $OUT"
    for m in "still the real bob" "and after verify" "to everyone"; do
        wait_for 10 has_body "$T/bob" ada "$m" || t_fail "LAN claim" "bob did not get \"$m\""
    done
    t_pass "a LAN host saying HELLO as bob hides nothing: bob stays the organisation's, send, verify and broadcast reach him"
fi

t0=$(now_ms)
stop_rnode bob
wait_for 65 contact_status ada bob offline || t_fail "offline" "ada still sees bob: $(contact_json ada bob)"
off_ms=$(($(now_ms) - t0))
for i in 1 2 3; do
    run b "$T/ada" send bob "offline $i"
    [ "$RC" -eq 0 ] && grep -q "stored on the rendezvous server" <<<"$OUT" ||
        t_fail "offline send" "exit $RC: $OUT"
done
start_rnode 3 bob --no-mdns
for i in 1 2 3; do
    wait_for 15 has_body "$T/bob" ada "offline $i" || t_fail "offline delivery" "offline $i missing"
done
stop_rnode bob
start_rnode 3 bob --no-mdns
wait_for 15 logged_in bob bob || t_fail "bob again" "not logged in"
# A message sent now comes after whatever the server hands bob at login:
# once it is there, a copy handed again would be too.
wait_for 15 contact_status ada bob online || t_fail "bob again" "$(contact_json ada bob)"
run b "$T/ada" send bob "after the second start"
wait_for 15 has_body "$T/bob" ada "after the second start" || t_fail "bob again" "exit $RC: $OUT"
n=$(b "$T/bob" history ada --json | grep -o '"body":"offline [0-9]"' | wc -l)
[ "$n" -eq 3 ] || t_fail "no duplicates" "$n copies of the 3 offline messages"
t_pass "bob offline seen by ada after ${off_ms} ms; 3 messages stored on the server reached bob at his next login, once"

# ---- 3. SIGKILL of the server after it acknowledged ----

stop_rnode bob
wait_for 65 contact_status ada bob offline || t_fail "kill" "bob still online for ada"
for i in 1 2 3 4 5; do
    run b "$T/ada" send bob "durable $i"
    [ "$RC" -eq 0 ] && grep -q "stored" <<<"$OUT" || t_fail "durable send" "exit $RC: $OUT"
done
kill -KILL "$SRV_PID"
wait_for 5 gone "$SRV_PID" || t_fail "kill" "server still running"
start_server
start_rnode 3 bob --no-mdns
for i in 1 2 3 4 5; do
    wait_for 20 has_body "$T/bob" ada "durable $i" || t_fail "durable" "durable $i lost"
done
t_pass "SIGKILL of the server right after it acknowledged 5 offline messages: all 5 delivered after the restart"

# ---- 4. not a contact; blocking ----

wait_for 15 logged_in ada ada || t_fail "ada reconnect" "$(b "$T/ada" rendezvous 2>&1)"
run b "$T/ada" send dave "hi"
[ "$RC" -eq 5 ] || t_fail "not a contact" "exit $RC: $OUT"
run b "$T/ada" contact add dave
[ "$RC" -eq 0 ] || t_fail "request dave" "exit $RC: $OUT"
run b "$T/ada" send dave "hi"
[ "$RC" -ne 0 ] || t_fail "not approved" "sent to an unapproved account: $OUT"
wait_for 15 contact_status ada bob online || t_fail "bob back" "$(contact_json ada bob)"
run b "$T/bob" contact block ada
[ "$RC" -eq 0 ] || t_fail "block" "exit $RC: $OUT"
wait_for 10 contact_state bob ada blocked || t_fail "block" "$(contact_json bob ada)"
wait_for 10 contact_status ada bob offline || t_fail "block" "ada still sees bob's presence"
contact_state ada bob approved || t_fail "block is silent" "ada's view changed: $(contact_json ada bob)"
run b "$T/ada" send bob "you will not see this"
[ "$RC" -eq 0 ] || t_fail "blocked send" "ada was told something: exit $RC: $OUT"
b "$T/bob" contact unblock ada >/dev/null
# What ada sends once unblocked comes after the blocked message: once it
# is there, the blocked one would be too had it been passed on.
wait_for 10 contact_status ada bob online || t_fail "unblock" "$(contact_json ada bob)"
run b "$T/ada" send bob "after the unblock"
wait_for 15 has_body "$T/bob" ada "after the unblock" || t_fail "unblock" "exit $RC: $OUT"
! has_body "$T/bob" ada "you will not see this" || t_fail "block" "the message reached bob"
t_pass "not a contact: refused; blocked: ada's message accepted as stored, never delivered, ada not told"

# ---- 5. organisation broadcast ----

stop_rnode bob
# carol's node found the server gone at its SIGKILL (section 3) and retries
# with back-off (at most every 30 s, with jitter): wait until it is back.
wait_for 40 logged_in carol carol || t_fail "org broadcast" "carol not back: $(b "$T/carol" rendezvous 2>&1)"
run b "$T/carol" broadcast --org "all hands at ten"
[ "$RC" -eq 0 ] || t_fail "org broadcast" "exit $RC: $OUT"
wait_for 10 has_body "$T/ada" @carol "all hands at ten" || t_fail "org broadcast" "ada did not get it"
b "$T/ada" history @carol --json | grep -q '"broadcast":true' || t_fail "org broadcast" "not marked"
start_rnode 3 bob --no-mdns
wait_for 15 has_body "$T/bob" @carol "all hands at ten" || t_fail "org broadcast" "bob did not get it"
run b "$T/ada" broadcast --org "me too"
[ "$RC" -eq 1 ] && grep -q "broadcast right" <<<"$OUT" || t_fail "no right" "exit $RC: $OUT"
t_pass "org broadcast: online ada at once, offline bob at his next login; refused without the right"

# ---- 6. a hostile client next to logged-in users ----

# From carol's host: raw garbage, a frame header promising 64 KiB that
# never comes, a junk frame after a real handshake, unauthenticated
# requests, and 1000 rapid connections. ada and bob keep being served.
hostile() {
    local i
    for i in $(seq 1000); do
        exec 3<>/dev/tcp/198.18.0.1/7400 || return 1
        exec 3>&-
    done
    exec 3<>/dev/tcp/198.18.0.1/7400 && head -c 4096 /dev/urandom >&3 && exec 3>&-
    exec 3<>/dev/tcp/198.18.0.1/7400 && printf '\377\377abc' >&3 && sleep 0.2 && exec 3>&-
    return 0
}
export -f hostile
t0=$(now_ms)
host_exec 4 bash -c hostile || t_fail "hostile" "could not connect"
if [ -x "$RDV_PROBE" ]; then
    out=$(host_exec 4 "$RDV_PROBE" --key "$T/probe.key" 198.18.0.1 7400 hello \
        search=0:10:user~a contact=request:ada status=busy wait=300 junk=70000 2>&1)
    grep -q 'EAUTH' <<<"$out" || t_fail "unauthenticated" "no EAUTH: $out"
fi
hostile_ms=$(($(now_ms) - t0))
alive "$SRV_PID" || t_fail "hostile" "the server died"
run b "$T/ada" send bob "still served"
[ "$RC" -eq 0 ] && grep -q "delivered to bob" <<<"$OUT" && has_body "$T/bob" ada "still served" ||
    t_fail "hostile" "ada -> bob after the storm: exit $RC, $OUT"
logged_in ada ada && logged_in bob bob || t_fail "hostile" "a logged-in user was dropped"
t_pass "garbage, a stalled oversized frame, unauthenticated requests, a junk frame and 1000 rapid connections (${hostile_ms} ms): ada and bob still logged in and served"

# ---- 7. the certificate on the LAN ----

org_of() { peer_obj "$T/ada" carol | grep -q '"org":{"account":"carol"'; }
wait_for 20 org_of || t_fail "certificate" "ada's view of carol: $(peer_obj "$T/ada" carol)"
stop_server
org_of || t_fail "certificate" "lost when the server stopped"
t_pass "LAN: ada's node shows carol as the organisation's account carol, also with the server down"

for u in ada bob carol; do stop_rnode "$u"; done
t_pass "clean stop, no sanitizer reports"
