#!/usr/bin/env bash
# test: seconds 32
# SPDX-License-Identifier: MIT
#
# test_rendezvous_robust.sh - a real banter-rendezvous (ASan build) keeps
# serving its logged-in users while it is abused, on loopback:
#   1. two logged-in devices (ann, bob) stay connected throughout;
#   2. requests before login (RV_CONTACT, RV_STATUS, RV_DELIVERED,
#      RV_BROADCAST_TO, RV_SEAL) are refused with EAUTH and the connection
#      stays open; random bytes, a 0xffff frame header, an unencrypted
#      65535-byte frame after the handshake and a short one all close their
#      connection at once; 1000 rapid connections and 100 handshakes that
#      quit are absorbed;
#   3. afterwards the two devices were never dropped, a copy from ann is
#      routed to bob and answered "delivered", and the server holds no more
#      descriptors than before;
#   4. a reader that stops reading (SIGSTOP) while 1500 copies are sent to
#      it: the server holds back (stores instead of queueing), its memory
#      stays bounded, every copy is answered, and the reader gets all 1500
#      once it reads again.
# Needs $RDV_BIN and $RDV_PROBE (the ASan builds by default).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"
# A small quarantine: freed memory is reused, so RSS shows what is held.
export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=8

rdv_setup ann bob cat
rdv_start main
for u in ann bob cat; do
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done
pr ann.key ready contact=request:bob contact=request:cat >/dev/null
pr bob.key ready contact=approve:ann >/dev/null
pr cat.key ready contact=approve:ann >/dev/null
nfds() { find "/proc/$SRV/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$SRV/status"; }

# ---- 1. two users stay connected ----
bgp a ann.key ready wait=40000
bgp b bob.key ready wait=40000
wait_out a '^ready$' && wait_out b '^ready$' || t_fail "setup" "$(cat "$T/a.out" "$T/b.out")"
fds0=$(nfds)

# ---- 2. abuse ----
out=$("$RDV_PROBE" 127.0.0.1 "$PORT" hello contact=request:bob status=away \
    delivered=00000000000000000000000000000000 bto=:0 "sealto=bob:$(devkey bob.key):x" stored=1 ping 2>&1)
[ "$(count "$out" '^recv error EAUTH$')" -eq 4 ] && has "$out" 'state=refused error=EAUTH$' &&
    has "$out" '^recv pong$' && has "$out" '^quiet$' || t_fail "before login" "$out"
t_pass "before login: RV_CONTACT, RV_STATUS, RV_DELIVERED, RV_BROADCAST_TO refused EAUTH, RV_SEAL answered refused EAUTH; the connection stays"
for n in 65535 17; do
    out=$("$RDV_PROBE" 127.0.0.1 "$PORT" hello ready "junk=$n" ping 2>&1)
    has "$out" '^closed$' && ! has "$out" '^recv pong$' || t_fail "junk frame $n" "$out"
done
# shellcheck disable=SC2016 # expanded by the inner bash
abuse=$(bash -c '
    T=/dev/tcp/127.0.0.1/$1
    exec 3<>$T && { head -c 4096 /dev/urandom >&3; timeout 2 cat <&3 >/dev/null 2>&1
        echo "garbage rc=$?"; exec 3>&-; }
    exec 3<>$T && { printf "\xff\xff" >&3; timeout 2 cat <&3 >/dev/null 2>&1
        echo "ffff rc=$?"; exec 3>&-; }
    ok=0; for _ in $(seq 1000); do exec 3<>$T && ok=$((ok + 1)); exec 3>&-; done
    echo "rapid ok=$ok"' _ "$PORT" 2>&1)
grep -q '^rapid ok=1000$' <<<"$abuse" && ! grep -q 'rc=124' <<<"$abuse" || t_fail "abuse" "$abuse"
for _ in $(seq 100); do
    "$RDV_PROBE" 127.0.0.1 "$PORT" bye >/dev/null 2>&1 &
    RDV_PIDS+=($!)
done
wait "${RDV_PIDS[@]: -100}" 2>/dev/null
t_pass "a 65535-byte and a 17-byte unencrypted frame, random bytes and a 0xffff header: closed at once; 1000 rapid connections and 100 handshakes that quit"

# ---- 3. the users were served throughout ----
out=$(pr ann.key ready "seal=bob:still here?" stored=1)
has "$out" 'state=delivered error=-$' || t_fail "after abuse" "$out"
wait_out b 'body=still here\? check=ok$' || t_fail "after abuse" "$(cat "$T/b.out")"
grep -q '^closed' "$T/a.out" "$T/b.out" && t_fail "after abuse" "a logged-in device was dropped"
fds_back() { [ "$(nfds)" -le "$fds0" ]; }
wait_for 5 fds_back || t_fail "descriptors" "$(nfds) held, $fds0 before"
t_pass "the logged-in devices were never dropped; a copy is routed and delivered; $(nfds) descriptors as before"

# ---- 4. a reader that stops reading ----
bgp c cat.key ready wait=60000
wait_out c '^ready$' || t_fail "slow reader" "$(cat "$T/c.out")"
rss0=$(rss_kb)
kill -STOP "${BGP[c]}"
out=$(pr ann.key ready "seals=cat:1500" stored=1500)
stored_n=$(count "$out" 'state=(stored|delivered) error=-$')
rss1=$(rss_kb)
kill -CONT "${BGP[c]}"
[ "$stored_n" -eq 1500 ] || t_fail "slow reader" "$stored_n of 1500 answered: $(grep -v '^seal' <<<"$out" | tail -n 5)"
[ $((rss1 - rss0)) -lt 65536 ] || t_fail "slow reader" "the server grew by $((rss1 - rss0)) KiB"
distinct() { grep '^recv sealed from=ann .*check=ok$' "$T/c.out" | sed 's/.* body=//' | sort -u | wc -l; }
got() { [ "$(distinct)" -ge 1500 ]; }
wait_for 60 got || t_fail "slow reader" "cat got $(distinct) distinct copies of 1500 ($(grep -c '^recv sealed' "$T/c.out") in all)"
t_pass "a reader that stopped: 1500 copies answered, the server grew by $((rss1 - rss0)) KiB, all delivered once it read again ($(grep -c '^recv sealed' "$T/c.out") with the ones sent twice after it stalled)"
bg_kill a b c
rdv_stop main
echo "PASS: test_rendezvous_robust"
