#!/usr/bin/env bash
# test: seconds 27
# SPDX-License-Identifier: MIT
# test_node_lan.sh - three nodes on a private LAN, each host with its own
# dbus-daemon and avahi-daemon: discovery both ways, messages both ways,
# broadcast, clean-stop and SIGKILL offline detection, the outbox
# delivered after the recipient restarts, a colleague listed by the node
# it connected to although that node's browse never saw it, and mDNS
# records pointing at the node's own host (loopback, unspecified) or at a
# group (multicast, broadcast) never dialed while a real colleague still
# is.
set -u
. "$(dirname "$0")/lib.sh"
require_root
BANTER_BIN=${BANTER_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/asan/banter}
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
command -v jq >/dev/null || t_skip "needs jq"
export ASAN_OPTIONS=detect_leaks=1

net_setup 3
b() {
    local home=$1
    shift
    "$BANTER_BIN" --home "$home" "$@"
}
NAMES=("" alice bob carol)
PIDS=()
start_node() { # i
    local i=$1
    PIDS[i]=$(host_bg "$i" "$BT_TMP/${NAMES[i]}.log" "$BANTER_BIN" --home "$BT_TMP/h$i" node \
        --name "${NAMES[i]}" --port 7070)
    wait_for 5 test -S "$BT_TMP/h$i/control.sock" || t_fail start "${NAMES[i]} did not start"
}
stop_node() { # i [signal]
    local i=$1 sig=${2:-TERM}
    kill -"$sig" "${PIDS[i]}" 2>/dev/null
    wait_for 10 bash -c "! kill -0 ${PIDS[i]} 2>/dev/null" || t_fail stop "${NAMES[i]} did not stop"
    if grep -qE 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$BT_TMP/${NAMES[i]}.err"; then
        t_fail sanitizer "${NAMES[i]}: $(grep -m3 -E 'ERROR|runtime error' "$BT_TMP/${NAMES[i]}.err")"
    fi
}
# online STATE i NAME: node i lists NAME with online=STATE
online() {
    [ "$(b "$BT_TMP/h$2" peers --json 2>/dev/null |
        jq -r --arg n "$3" '[.[] | select(.name == $n)][0].online')" = "$1" ]
}
elapsed_ms() { echo $(($(now_ms) - $1)); }

# ---- discovery, both ways ----
t0=$(now_ms)
for i in 1 2 3; do start_node "$i"; done
for i in 1 2 3; do
    for j in 1 2 3; do
        [ "$i" = "$j" ] && continue
        wait_for 5 online true "$i" "${NAMES[j]}" ||
            t_fail discovery "${NAMES[i]} does not list ${NAMES[j]} online"
    done
done
ms=$(elapsed_ms "$t0")
# How fast is bench/bench_discovery.sh's to say (a timed assertion here
# fails on a loaded machine for no fault of the node).
echo "discovery: all three nodes list each other online ${ms} ms after the first start"
t_pass "discovery both ways (${ms} ms)"

b "$BT_TMP/h1" peers --json | jq -e '.[] | select(.name == "bob") |
    .source == "lan" and .trust == "known" and (.addresses[0] | startswith("198.18.0.2"))' \
    >/dev/null || t_fail peers "bob's entry: $(b "$BT_TMP/h1" peers --json)"

# ---- messages both ways ----
b "$BT_TMP/h1" send bob "hello bob, see https://example.org/doc?id=7" ||
    t_fail message "alice -> bob exit $?"
b "$BT_TMP/h2" send alice "hi alice" || t_fail message "bob -> alice exit $?"
b "$BT_TMP/h2" history alice --json | jq -e '.[0].direction == "in" and
    .[0].body == "hello bob, see https://example.org/doc?id=7" and
    .[0].links == ["https://example.org/doc?id=7"] and .[1].direction == "out"' >/dev/null ||
    t_fail message "bob's history: $(b "$BT_TMP/h2" history alice --json)"
b "$BT_TMP/h1" history bob --json | jq -e '.[0].state == "delivered" and .[1].body == "hi alice"' \
    >/dev/null || t_fail message "alice's history: $(b "$BT_TMP/h1" history bob --json)"
t_pass "messages both ways"

# Order: 20 messages in a row arrive in order.
for k in $(seq 1 20); do b "$BT_TMP/h1" send carol "m$k" --wait 0 >/dev/null; done
wait_for 5 bash -c "[ \"\$('$BANTER_BIN' --home '$BT_TMP/h3' history alice --json | jq length)\" = 20 ]" ||
    t_fail order "carol got $(b "$BT_TMP/h3" history alice --json | jq length) of 20"
got=$(b "$BT_TMP/h3" history alice --json | jq -r '[.[].body] | join(",")')
[ "$got" = "$(seq -f 'm%g' -s, 1 20)" ] || t_fail order "order: $got"
t_pass "message order kept"

# ---- broadcast ----
b "$BT_TMP/h2" broadcast "fire drill at 3" | grep -q "to 2 peers" || t_fail broadcast "recipients"
for i in 1 3; do
    wait_for 3 bash -c "'$BANTER_BIN' --home '$BT_TMP/h$i' history bob --json |
        jq -e '.[] | select(.body == \"fire drill at 3\" and .broadcast)' >/dev/null" ||
        t_fail broadcast "${NAMES[i]} did not get it"
done
t_pass "broadcast reaches every node"

# offline_at i NAME: the node's time of the last offline event for NAME
offline_at() {
    jq -r --arg n "$2" 'select(.event == "offline" and .peer.name == $n) | .at' \
        "$BT_TMP/listen$1.log" 2>/dev/null | tail -1
}
for i in 1 2; do host_bg "$i" "$BT_TMP/listen$i.log" "$BANTER_BIN" --home "$BT_TMP/h$i" \
    listen --json >/dev/null; done
sleep 0.3

# ---- clean stop: offline for the others at once (BYE) ----
t0=$(now_ms)
stop_node 3
for i in 1 2; do
    wait_for 5 online false "$i" carol || t_fail clean-stop "${NAMES[i]} still lists carol online"
    wait_for 2 test -n "$(offline_at "$i" carol)" || t_fail clean-stop "no offline event"
    ms=$(($(offline_at "$i" carol) - t0))
    echo "clean stop: ${NAMES[i]} saw carol offline ${ms} ms after SIGTERM"
    # The goodbye, not the 15 s liveness timeout (LAN_TIMEOUT_MS), told them.
    [ "$ms" -lt 10000 ] || t_fail clean-stop "took ${ms} ms: the liveness timeout, not BYE"
done
t_pass "clean stop seen through the goodbye, well before the liveness timeout"

# ---- outbox: queued while carol is down, delivered when she is back ----
b "$BT_TMP/h1" send carol "while you were away"
rc=$?
[ "$rc" = 3 ] || t_fail outbox "send to an offline peer: exit $rc, expected 3"
b "$BT_TMP/h1" broadcast "broadcast while carol is away" >/dev/null
b "$BT_TMP/h1" history carol --json | jq -e '.[-1].state == "queued"' >/dev/null ||
    t_fail outbox "not queued"
# Restart alice too: the outbox is on disk, not in memory.
stop_node 1
start_node 1
start_node 3
wait_for 10 bash -c "'$BANTER_BIN' --home '$BT_TMP/h3' history alice --json |
    jq -e '[.[].body] | index(\"while you were away\") and index(\"broadcast while carol is away\")' >/dev/null" ||
    t_fail outbox "carol did not get the queued messages: $(b "$BT_TMP/h3" history alice --json)"
wait_for 5 bash -c "'$BANTER_BIN' --home '$BT_TMP/h1' history carol --json |
    jq -e 'all(.[]; .state != \"queued\")' >/dev/null" || t_fail outbox "still queued at alice"
# Delivered once: the 20 earlier messages were not stored twice.
n=$(b "$BT_TMP/h3" history alice --json --limit 1000 | jq length)
[ "$n" = 22 ] || t_fail outbox "carol has $n messages from alice, expected 22"
t_pass "outbox delivered after both nodes restarted"

# ---- SIGKILL: offline within the keepalive bound ----
wait_for 5 online true 1 bob || t_fail sigkill "bob not online before the test"
host_bg 1 "$BT_TMP/listen1.log" "$BANTER_BIN" --home "$BT_TMP/h1" listen --json >/dev/null
sleep 0.3
t0=$(now_ms)
stop_node 2 KILL
wait_for 20 online false 1 bob || t_fail sigkill "alice still lists bob online after 20 s"
wait_for 2 test -n "$(offline_at 1 bob)" || t_fail sigkill "no offline event"
ms=$(($(offline_at 1 bob) - t0))
echo "SIGKILL: bob offline for alice ${ms} ms after SIGKILL (bound: 15000 ms)"
t_pass "SIGKILL seen in ${ms} ms"

# ---- the accepting side lists a colleague from its connection ----
# dave never publishes (--no-mdns) and dials alice as a static peer:
# alice's browse never sees dave, so only the inbound connection (its
# handshake and HELLO) can make alice list him, and it must, at once.
# carol, whom dave never dials, must not hear of him at all.
NAMES[4]=dave
PIDS[4]=$(host_bg 2 "$BT_TMP/dave.log" "$BANTER_BIN" --home "$BT_TMP/h4" node --name dave \
    --port 7070 --no-mdns --peer 198.18.0.1:7070)
wait_for 5 test -S "$BT_TMP/h4/control.sock" || t_fail inbound "dave did not start"
wait_for 5 online true 4 alice || t_fail inbound "dave does not list alice online"
wait_for 5 online true 1 dave || t_fail inbound "alice does not list dave, who connected to her"
b "$BT_TMP/h1" peers --json | jq -e '.[] | select(.name == "dave") |
    .source == "lan" and .trust == "known" and (.addresses[0] | startswith("198.18.0.2"))' \
    >/dev/null || t_fail inbound "dave's entry at alice: $(b "$BT_TMP/h1" peers --json)"
b "$BT_TMP/h1" send dave "you were not announced" || t_fail inbound "alice -> dave exit $?"
[ "$(b "$BT_TMP/h3" peers --json | jq '[.[] | select(.name == "dave")] | length')" = 0 ] ||
    t_fail inbound "carol lists dave, who never announced himself: $(b "$BT_TMP/h3" peers --json)"
t_pass "a node that connected is listed by the accepting side without mDNS"

# ---- mDNS records that point at no colleague are not dialed ----
# A neighbour (avahi-publish through host 2's daemon) announces services
# at 127.0.0.1 and 127.1.2.3 (alice's own loopback), 0.0.0.0 (her own
# host too), 224.0.0.5 and 255.255.255.255, port 7171, where a sentinel
# in alice's host listens on every address: nothing may connect to it.
# Alice logs each such service once. carol, restarted meanwhile, is still
# found and gets a message.
SENT=$(host_bg 1 "$BT_TMP/sentinel.log" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7171))
s.listen(16)
print("listening", flush=True)
while True:
    c, a = s.accept()
    print("accepted", a[0], flush=True)
    c.close()')
wait_for 5 grep -q listening "$BT_TMP/sentinel.log" || t_fail "false records" "no sentinel: $(cat "$BT_TMP/sentinel.err")"
PUBS=()
k=0
for addr in 127.0.0.1 127.1.2.3 0.0.0.0 224.0.0.5 255.255.255.255; do
    k=$((k + 1))
    PUBS+=("$(host_bg 2 "$BT_TMP/pub-a$k.log" avahi-publish -a -R "bt-false$k.local" "$addr")")
    PUBS+=("$(host_bg 2 "$BT_TMP/pub-s$k.log" avahi-publish -s -H "bt-false$k.local" "false$k" \
        _banter._tcp 7171 v=1 "fp=$(printf '9%039d' "$k")" "name=false$k")")
done
refusals() { grep -c "LAN discovery: not dialing \"false" "$BT_TMP/alice.err"; }
dialed() { grep -q accepted "$BT_TMP/sentinel.log"; }
dialed_or_refused() { dialed || [ "$(refusals)" -ge 5 ]; }
wait_for 15 dialed_or_refused ||
    t_fail "false records" "alice logged $(refusals) of 5 refused services: $(tail -n 5 "$BT_TMP/alice.err")"
! dialed || t_fail "false records" "alice dialed an announced loopback or unspecified address: $(cat "$BT_TMP/sentinel.log")"
stop_node 3
start_node 3
wait_for 10 online true 1 carol || t_fail "false records" "alice does not find carol again"
b "$BT_TMP/h1" send carol "after the false records" || t_fail "false records" "alice -> carol exit $?"
wait_for 5 bash -c "'$BANTER_BIN' --home '$BT_TMP/h3' history alice --json |
    jq -e 'any(.[]; .body == \"after the false records\")' >/dev/null" ||
    t_fail "false records" "carol did not get alice's message"
sleep 2 # time for a dial, had one been started
! dialed || t_fail "false records" "alice dialed an announced loopback or unspecified address: $(cat "$BT_TMP/sentinel.log")"
[ "$(refusals)" = 5 ] || t_fail "false records" "$(refusals) log lines for 5 services (want one each)"
for kind in loopback unspecified multicast "reserved or broadcast"; do
    grep -q "LAN discovery: not dialing \"false.*: the address is $kind" "$BT_TMP/alice.err" ||
        t_fail "false records" "no log line about a $kind address"
done
kill "${PUBS[@]}" "$SENT" 2>/dev/null
t_pass "mDNS records at loopback, unspecified, multicast and broadcast addresses: none dialed, one log line each; carol still found and reached"

stop_node 4
stop_node 1
stop_node 3
exit 0
