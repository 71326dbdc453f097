#!/usr/bin/env bash
# test: seconds 21
# SPDX-License-Identifier: MIT
#
# test_rendezvous_batch.sh - RV_BATCH (docs/rendezvous.md section 2.2)
# through a real banter-rendezvous (ASan build), with rdv_probe clients on
# loopback:
#   1. the server's HELLO lists "batch"; a batch of PINGs from a client
#      whose HELLO listed it is answered by one batch of as many PONGs;
#      the count cap: 64 messages are taken, 65 end the connection;
#   2. routing through batches both ways: 20 copies from ann to bob, all
#      "delivered", in order, checked by bob; the answers came batched;
#   3. who may send it: before HELLO, and after a HELLO without "batch",
#      it is refused (EPROTO) and none of its messages is handled; the
#      connection goes on;
#   4. a batch grants nothing: a message inside it needs the same right as
#      alone (RV_DELIVERED before login: EAUTH), and the messages after a
#      refused one are still handled;
#   5. malformed: nested, an item past the end, an empty item, no item:
#      BYE "malformed batch", the connection closed, nothing of it handled;
#      the server keeps serving and exits clean (no sanitizer report);
#   6. a message in a batch answered by a database job (RV_LOGOUT): the
#      batch's next message (a PING) is answered after it.
# Needs $RDV_BIN and $RDV_PROBE (the ASan builds by default).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"

# prb KEY STEP...: a probe whose HELLO lists "batch".
prb() {
    local key=$1
    shift
    "$RDV_PROBE" --key "$T/$key" 127.0.0.1 "$PORT" hellob "$@" 2>&1
}
# prn KEY STEP...: a probe that sends no HELLO of its own.
prn() {
    local key=$1
    shift
    "$RDV_PROBE" --key "$T/$key" 127.0.0.1 "$PORT" "$@" 2>&1
}
# pings N [FIRST]: the hex of an RV_BATCH of N PINGs (tokens FIRST..).
pings() {
    local i h=35 first=${2:-1}
    for ((i = 0; i < $1; i++)); do
        h+=$(printf '000940%016x' $((first + i)))
    done
    printf '%s\n' "$h"
}

rdv_setup ann bob
rdv_start main
for u in ann bob; do
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done
pr ann.key ready contact=request:bob >/dev/null
out=$(pr bob.key ready contact=approve:ann wait=200)
has "$out" '^recv contact ann state=approved' || t_fail setup "$out"

# ---- 1. negotiated, and the count cap ----
out=$(prb ann.key ready bpings=3 wait=500)
has "$out" '^recv hello name=banter-rendezvous features=.*(^|,| |=)batch(,|$)' ||
    t_fail "feature" "the server's HELLO does not list batch: $out"
has "$out" '^recv batch n=3$' && [ "$(count "$out" '^recv pong$')" -eq 3 ] ||
    t_fail "batch of pings" "$out"
t_pass "the server lists \"batch\"; a batch of 3 PINGs is answered by one batch of 3 PONGs"
out=$(prb ann.key ready "pt=$(pings 64)" wait=500)
has "$out" '^recv batch n=64$' && [ "$(count "$out" '^recv pong$')" -eq 64 ] ||
    t_fail "64 in a batch" "$out"
out=$(prb ann.key ready "pt=$(pings 65)" wait=500)
has "$out" '^recv bye malformed batch$' && has "$out" '^closed' && ! has "$out" '^recv pong$' ||
    t_fail "65 in a batch" "$out"
t_pass "64 messages in a batch are handled; 65 end the connection, none handled"

# ---- 2. routing, batched both ways ----
# (bgp sends a plain HELLO; this one must list batch.)
"$RDV_PROBE" --key "$T/bob.key" 127.0.0.1 "$PORT" hellob ready wait=4000 >"$T/b.out" 2>&1 &
BGP["b"]=$!
RDV_PIDS+=($!)
wait_out b '^ready$'
out=$(prb ann.key ready seals=bob:20 stored=20)
[ "$(count "$out" 'state=delivered error=-$')" -eq 20 ] || t_fail "routed, batched" "$out"
has "$out" '^recv batch n=' || t_fail "routed, batched" "no RV_STORED came batched: $out"
bg_done b
[ "$(grep '^recv sealed' "$T/b.out" | sed 's/.* body=\(.*\) check=ok$/\1/' | tr '\n' '|')" = \
    "$(for i in $(seq 1 20); do printf 'message %d|' "$i"; done)" ] ||
    t_fail "routed, batched" "not all 20 in order, checked: $(cat "$T/b.out")"
grep -q '^recv batch n=' "$T/b.out" || t_fail "routed, batched" "no RV_SEALED came batched"
[ "$(rows 'SELECT count(*) FROM sealed')" = 0 ] || t_fail "routed, batched" "copies were stored"
t_pass "20 copies routed in batches both ways: all delivered, in order, checked"

# ---- 3. who may send it ----
out=$(prn ann.key bpings=2 wait=300)
has "$out" '^recv error EPROTO$' && ! has "$out" '^recv pong$' || t_fail "before HELLO" "$out"
out=$(pr ann.key ready bpings=2 wait=300 ping wait=300)
has "$out" '^recv error EPROTO$' && [ "$(count "$out" '^recv pong$')" -eq 1 ] &&
    ! has "$out" '^recv batch' && ! has "$out" '^closed' || t_fail "without the feature" "$out"
t_pass "RV_BATCH before HELLO or without \"batch\" in HELLO: refused EPROTO, nothing in it handled"

# ---- 4. a batch grants nothing ----
dj=$(printf '{"id":"%s"}' 00112233445566778899aabbccddeeff | od -An -tx1 | tr -d ' \n')
len=$(printf '%04x' $((1 + ${#dj} / 2)))
out=$(prb eve.key "pt=35${len}2b${dj}000940$(printf '%016x' 7)" wait=500)
has "$out" '^recv error EAUTH$' && [ "$(count "$out" '^recv pong$')" -eq 1 ] ||
    t_fail "authorization" "$out"
t_pass "a message inside a batch needs the same right as alone (EAUTH); the next one is handled"

# ---- 5. malformed ----
ping1=000940$(printf '%016x' 1)
for bad in "35000c35${ping1}" "35${ping1}000940" "35${ping1}0000" "35"; do
    out=$(prb ann.key ready "pt=$bad" wait=500)
    has "$out" '^recv bye malformed batch$' && has "$out" '^closed' && ! has "$out" '^recv pong$' ||
        t_fail "malformed $bad" "$out"
done
out=$(prb ann.key ready bpings=2 wait=300)
[ "$(count "$out" '^recv pong$')" -eq 2 ] || t_fail "still serving" "$out"
t_pass "nested, truncated, empty item, empty: BYE \"malformed batch\", closed, nothing handled; the server serves on"

# ---- 6. a message in a batch answered by a database job ----
# RV_LOGOUT (answered once the database thread unbound the device) and a
# PING in one batch: the PONG comes after ELOGGEDOUT, as if each had come
# alone (the rest of the batch waits for the job). Last: ann logs out.
out=$(prb ann.key ready "pt=350003227b7d000940$(printf '%016x' 9)" wait=500)
lo=$(grep -n '^recv auth fail error=ELOGGEDOUT' <<<"$out" | head -n 1 | cut -d: -f1)
po=$(grep -n '^recv pong$' <<<"$out" | head -n 1 | cut -d: -f1)
[ -n "$lo" ] && [ -n "$po" ] && [ "$lo" -lt "$po" ] || t_fail "job in a batch" "$out"
t_pass "a batch's messages after one answered by a database job wait for it (ELOGGEDOUT, then PONG)"

rdv_stop main
echo "PASS: test_rendezvous_batch"
