#!/usr/bin/env bash
# test: seconds 5
# SPDX-License-Identifier: MIT
#
# test_node_security.sh - two `banter node`s on a private namespace LAN
# (lib.sh), alice in host 1 and bob in host 2, both with mDNS:
#   1. key change refused: bob comes back with a new identity under the same
#      name; alice lists him as "changed", refuses to send (exit 6, a message
#      about verify), emits a key_changed event; after `banter verify` the
#      next send is delivered;
#   2. no plaintext on the wire: a capture of TCP port 7070 in host 1 holds
#      packets but none of the marker texts that were delivered.
# Every node runs under ASan+UBSan; after SIGTERM its stderr must have no
# sanitizer report.
# Needs root (exit 77 otherwise), tcpdump, and $BANTER_BIN (default
# build/asan/banter: make build/asan/banter).
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

require_root
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
[ -x "$BANTER_BIN" ] || t_fail setup "no banter at $BANTER_BIN (make build/asan/banter, or set BANTER_BIN)"
BANTER_BIN=$(cd "$(dirname "$BANTER_BIN")" && pwd)/$(basename "$BANTER_BIN")
command -v tcpdump >/dev/null || t_skip "needs tcpdump"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1
t_start=$(now_ms)

net_setup 2

# ---- helpers ----

# shellcheck source=tests/integration/node.sh
. "$here/node.sh"
fp_of() { b "$1" id --json | sed -n 's/.*"fingerprint":"\([0-9 ]*\)".*/\1/p'; }

A=$BT_TMP/a
B1=$BT_TMP/b1
B2=$BT_TMP/b2

# ---- 1. key change refused ----

t0=$(now_ms)
start_node 1 alice "$A" alice
pa=$BG_PID
start_node 2 bob "$B1" bob1
pb=$BG_PID
wait_for 10 online "$A" bob || t_fail "key change" "alice never listed bob online"
echo "setup: alice lists bob online $(($(now_ms) - t0)) ms after the nodes started"
fp_old=$(fp_of "$B1")
[ -n "$fp_old" ] || t_fail "key change" "no fingerprint from bob's id --json"

bg 1 "$BT_TMP/listen.log" "$BANTER_BIN" --home "$A" listen --json
pl=$BG_PID
sleep 0.5 # let listen subscribe; the offline event below proves it did
alive "$pl" || t_fail "key change" "banter listen exited: $(cat "$BT_TMP/listen.err")"

stop_node "$pb" bob1 "bob (first key)"
t_pass "bob (first key) stopped cleanly, no sanitizer report"
wait_for 5 grep -q '"event":"offline".*"name":"bob"' "$BT_TMP/listen.log" ||
    t_fail "key change" "listen saw no offline event for bob"
wait_for 5 offline "$A" bob || t_fail "key change" "alice still lists bob online after his goodbye"

t0=$(now_ms)
start_node 2 bob "$B2" bob2
pb=$BG_PID
fp_new=$(fp_of "$B2")
[ -n "$fp_new" ] && [ "$fp_new" != "$fp_old" ] || t_fail "key change" "bob's new home did not get a new key"
wait_for 10 changed "$A" bob || t_fail "key change" "alice never listed bob as changed: $(peer_obj "$A" bob)"
echo "key change: alice lists bob as changed $(($(now_ms) - t0)) ms after the new bob started"
obj=$(peer_obj "$A" bob | grep '"trust":"changed"')
grep -qF "\"fingerprint\":\"$fp_new\"" <<<"$obj" || t_fail "key change" "the changed entry is not the new key: $obj"
grep -qF "\"replaces\":\"$fp_old\"" <<<"$obj" || t_fail "key change" "the changed entry does not replace the old key: $obj"
t_pass "key change: alice lists bob with \"trust\":\"changed\", replacing the old fingerprint"

out=$(b "$A" send bob hi 2>&1)
rc=$?
[ "$rc" -eq 6 ] || t_fail "send refused" "banter send bob hi exited $rc, not 6: $out"
grep -qi verify <<<"$out" || t_fail "send refused" "the refusal does not mention verify: $out"
t_pass "send to a changed key refused: exit 6, \"$out\""

wait_for 3 grep -q '"event":"key_changed"' "$BT_TMP/listen.log" ||
    t_fail "key_changed event" "listen got no key_changed event: $(cat "$BT_TMP/listen.log")"
grep '"event":"key_changed"' "$BT_TMP/listen.log" | grep -qF "\"fingerprint\":\"$fp_new\"" ||
    t_fail "key_changed event" "the event does not name the new key: $(grep key_changed "$BT_TMP/listen.log")"
grep -q 'WARNING: a new key says it is bob' "$BT_TMP/alice.err" ||
    t_fail "key_changed event" "alice's log has no warning"
t_pass "key_changed event on listen, warning in alice's log"

out=$(b "$A" verify bob 2>&1) || t_fail verify "banter verify bob exited $?: $out"
# The old key is retired. Its mDNS advertisement may linger for the 1 s an
# mDNS goodbye takes to expire (RFC 6762 10.1), listed meanwhile as "new".
one_bob() { [ "$(peer_obj "$A" bob | wc -l)" -eq 1 ]; }
t0=$(now_ms)
wait_for 5 one_bob || t_fail verify "old and new bob both listed: $(peer_obj "$A" bob)"
echo "verify: the old key left alice's list $(($(now_ms) - t0)) ms after verify"
peer_obj "$A" bob | grep -q '"trust":"verified"' || t_fail verify "bob is not verified: $(peer_obj "$A" bob)"
t0=$(now_ms)
out=$(b "$A" send bob hi2 --wait 5 2>&1) || t_fail "send after verify" "exit $?: $out"
echo "send after verify: delivered in $(($(now_ms) - t0)) ms"
wait_for 2 has_body "$B2" alice hi2 || t_fail "send after verify" "bob's history has no hi2"
has_body "$B2" alice hi && t_fail "send refused" "the refused \"hi\" reached bob"
t_pass "after verify: send delivered (exit 0), bob's history has hi2 and not the refused hi"

# ---- 2. no plaintext on the wire ----

pcap=$BT_TMP/cap.pcap
bg 1 "$BT_TMP/tcpdump.log" tcpdump -Z root --immediate-mode -i bt1 -U -w "$pcap" tcp port 7070
ptd=$BG_PID
wait_for 5 grep -q 'listening on' "$BT_TMP/tcpdump.err" ||
    t_fail "wire" "tcpdump did not start: $(cat "$BT_TMP/tcpdump.err")"
m1="MARKER-$RANDOM$RANDOM-plaintext-check"
m2="BCAST-$RANDOM$RANDOM-plaintext-check"
m3="REPLY-$RANDOM$RANDOM-plaintext-check"
t0=$(now_ms)
out=$(b "$A" send bob "$m1" --wait 5 2>&1) || t_fail "wire" "send of the marker: exit $?: $out"
out=$(b "$A" broadcast "$m2" 2>&1) || t_fail "wire" "broadcast of the marker: exit $?: $out"
grep -q 'broadcast to 1 peers' <<<"$out" || t_fail "wire" "broadcast not to exactly 1 peer: $out"
out=$(b "$B2" send alice "$m3" --wait 5 2>&1) || t_fail "wire" "bob's reply: exit $?: $out"
wait_for 5 has_body "$B2" alice "$m2" || t_fail "wire" "bob never got the broadcast"
echo "wire: three markers delivered in $(($(now_ms) - t0)) ms"
has_body "$B2" alice "$m1" || t_fail "wire" "bob's history has no $m1"
has_body "$A" bob "$m3" || t_fail "wire" "alice's history has no $m3"
# A new session inside the capture too: bob restarts (same key), so the
# handshake and both HELLOs (which carry the names) are captured.
stop_node "$pb" bob2 "bob (new key)"
wait_for 5 offline "$A" bob || t_fail "wire" "alice still lists bob online after his goodbye"
t0=$(now_ms)
start_node 2 bob "$B2" bob2b
pb=$BG_PID
wait_for 5 online "$A" bob || t_fail "wire" "bob did not come back online"
echo "wire: bob back online $(($(now_ms) - t0)) ms after his restart"
# Positive control: bytes sent in clear to port 7070 must show up.
ctl_marker="CLEARTEXT-$RANDOM$RANDOM-control"
# shellcheck disable=SC2016 # expanded by the inner bash
host_exec 2 bash -c 'exec 3<>/dev/tcp/198.18.0.1/7070 && printf "%s" "$1" >&3' _ "$ctl_marker" ||
    t_fail "wire" "could not connect to alice from host 2"
sleep 0.3 # the last ACK reaches the capture (--immediate-mode: no 1 s ring block delay)
kill -INT "$ptd"
wait_for 5 gone "$ptd" || t_fail "wire" "tcpdump did not stop on SIGINT"
npk=$(tcpdump -r "$pcap" 2>/dev/null | wc -l)
echo "wire: captured $npk packets, $(stat -c %s "$pcap") bytes"
[ "$npk" -gt 0 ] || t_fail "wire" "the capture is empty"
[ "$(grep -a -c -F -- "$ctl_marker" "$pcap")" -gt 0 ] ||
    t_fail "wire" "the capture misses the cleartext control marker: it does not hold payloads"
for m in "$m1" "$m2" "$m3" "hi2" "alice"; do
    hits=$(grep -a -c -F -- "$m" "$pcap")
    [ "$hits" -eq 0 ] || t_fail "wire" "\"$m\" appears in clear in the capture ($hits)"
done
t_pass "no plaintext on the wire: $npk packets with a new handshake, no marker or name in them, all markers delivered (a cleartext control marker was seen)"

# ---- the end ----
kill -TERM "$pl" 2>/dev/null
stop_node "$pb" bob2b "bob (restarted)"
stop_node "$pa" alice alice
t_pass "nodes stopped cleanly, no sanitizer report"
echo "total: $(($(now_ms) - t_start)) ms"
exit 0
