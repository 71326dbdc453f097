#!/usr/bin/env bash
# test: seconds 4
# SPDX-License-Identifier: MIT
#
# test_admin_policy.sh - the organisation's policy from banter-admin to real
# nodes (ASan builds, loopback, no mDNS):
#   1. an admin sets max_file_mb and auto_accept; two logged-in nodes get
#      the signed policy (serial 2) at once and show it (`banter rendezvous`,
#      --json);
#   2. it is enforced: a file over the limit is refused by the sender's node
#      with the policy named (send-file exit 1), a smaller one is taken;
#   3. it is kept: a node restarted while the server is down still has it
#      (DIR/policy.bin, 0600, checked again at start); a policy.bin that was
#      changed is ignored with a line saying so, and the next one from the
#      server is taken again;
#   4. history_days deletes older history at once (what waits to be sent
#      stays); lan_discovery no keeps a node from starting mDNS.
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

rdv_setup ann bob
SFP=$("$RDV_BIN" --db rdv.db fingerprint 2>/dev/null)
# shellcheck source=admin_nodes.sh
. "$here/admin_nodes.sh"
connected() { b "$1" rendezvous --json 2>/dev/null | grep -q '"connected":true'; }
has_policy() { b "$1" rendezvous --json 2>/dev/null | grep -q "\"policy\":{\"serial\":$2,"; }

for u in ann bob; do
    start_node "$u"
    wait_for 15 connected "$u" || t_fail "connect $u" "$(b "$u" rendezvous --json 2>&1)"
    out=$(b "$u" login "$u" --password-file "$T/pw" 2>&1) || t_fail "login $u" "$out"
done
out=$(b ann contact add bob 2>&1) || t_fail "contact add" "$out"
_req() { b bob requests --json 2>/dev/null | grep -q ann; }
wait_for 10 _req || true
out=$(b bob approve ann 2>&1) || t_fail "approve" "$out"
b ann rendezvous --json | grep -q '"policy":null' || t_fail "no policy" "$(b ann rendezvous --json)"

# ---- 1. set and delivered ----
out=$(adm policy set max_file_mb 1) || t_fail "policy set" "$out"
out=$(adm policy set auto_accept no) || t_fail "policy set" "$out"
for u in ann bob; do
    wait_for 5 has_policy "$u" 2 || t_fail "policy at $u" "$(b "$u" rendezvous --json)"
done
json=$(b ann rendezvous --json)
has "$json" '"policy":\{"serial":2,"issued":[0-9]+,"max_file_mb":1,"auto_accept":false,"history_days":0,"lan_discovery":true\}' ||
    t_fail "policy json" "$json"
out=$(b ann rendezvous)
has "$out" '^policy: +2, signed by the server: files up to 1 MB, auto-accept forbidden, history kept, LAN discovery allowed$' ||
    t_fail "policy shown" "$out"
t_pass "policy set by banter-admin reached both logged-in nodes (serial 2) and is shown"

# ---- 2. enforced ----
head -c $((2 * 1024 * 1024)) /dev/urandom >big.bin
head -c 1000 /dev/urandom >small.bin
out=$(b ann send-file bob "$T/big.bin" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && has "$out" "big.bin is larger than the organisation's policy allows \(1 MB\)" ||
    t_fail "oversize refused" "exit $rc: $out"
# (files travel over a direct connection: between these two nodes, which
# only share the server, the small one waits for one)
out=$(b ann send-file bob "$T/small.bin" 2>&1)
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] && has "$out" '(queued|offered) .* 1 file' ||
    t_fail "small file" "exit $rc: $out"
t_pass "a 2 MiB file is refused by the sender with the policy named; a small one is accepted for sending"

# ---- 3. kept ----
[ "$(stat -c %a "$T/ann/policy.bin")" = 600 ] || t_fail "policy.bin" "mode $(stat -c %a "$T/ann/policy.bin")"
rdv_stop main
stop_node ann
start_node ann
b ann rendezvous --json | grep -q '"policy":{"serial":2,' || t_fail "kept" "$(b ann rendezvous --json)"
out=$(b ann send-file bob "$T/big.bin" 2>&1)
[ $? -ne 0 ] && has "$out" "organisation's policy" || t_fail "kept and enforced" "$out"
stop_node ann
printf '\x05' | dd of="$T/ann/policy.bin" bs=1 seek=60 conv=notrunc 2>/dev/null
start_node ann
b ann rendezvous --json | grep -q '"policy":null' || t_fail "changed policy.bin" "$(b ann rendezvous --json)"
grep -q "ignoring $T/ann/policy.bin" "$T/ann.err" || t_fail "changed policy.bin" "no line: $(tail -n 3 "$T/ann.err")"
rdv_start again
wait_for 15 has_policy ann 2 || t_fail "policy again" "$(b ann rendezvous --json)"
# bob, left running, redials on its back-off (full jitter, up to 30 s
# while the server was away): back before section 4 asks it for policy 4
wait_for 40 connected bob || t_fail "bob back" "$(b bob rendezvous --json)"
t_pass "kept across a restart without the server (0600, enforced); a changed policy.bin is ignored and the server's is taken again"

# ---- 4. history retention and LAN discovery ----
_approved() { b ann contacts --json 2>/dev/null | grep -q '"state":"approved"'; }
wait_for 10 _approved || t_fail "approved" "$(b ann contacts --json 2>&1)"
for m in "an old message" "a new message"; do
    out=$(b ann send bob "$m" 2>&1)
    has "$out" 'delivered to bob|stored on the rendezvous server' || t_fail "send" "$out"
done
sqlite3 "$T/ann/banter.db" "UPDATE messages SET ts = ts - 3 * 86400000 WHERE body = 'an old message'" ||
    t_fail "age a message" sqlite3
out=$(adm policy set history_days 2) || t_fail "policy set" "$out"
_pruned() { ! b ann history bob 2>/dev/null | grep -q 'an old message'; }
wait_for 5 _pruned || t_fail "retention" "$(b ann history bob 2>&1)"
b ann history bob | grep -q 'a new message' || t_fail "retention" "the new one went too"
grep -q "deleted 1 messages older than 2 days (the organisation's policy)" "$T/ann.err" ||
    t_fail "retention" "no line: $(tail -n 3 "$T/ann.err")"
out=$(adm policy set lan_discovery no) || t_fail "policy set" "$out"
wait_for 5 has_policy bob 4 || t_fail "policy 4" "$(b bob rendezvous --json)"
stop_node bob
# without --no-mdns: the kept policy keeps the node off the LAN (this
# host has no system D-Bus, so nothing could be published anyway)
start_node bob mdns
grep -q "LAN discovery is off: the organisation's policy forbids it" "$T/bob.err" ||
    t_fail "lan_discovery" "$(tail -n 5 "$T/bob.err")"
t_pass "history_days 2: a 3-day-old message deleted at once, the new one kept; lan_discovery no: a node started with mDNS does not start it"
for u in ann bob; do stop_node "$u"; done
rdv_stop again
echo "PASS: test_admin_policy"
