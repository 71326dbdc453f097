#!/usr/bin/env bash
# test: seconds 16
# SPDX-License-Identifier: MIT
#
# test_rendezvous_backoff.sh - the login backoff cannot be reset by one's
# own logins, and counts an IPv6 source per /64 (docs/rendezvous.md 3). On
# a real banter-rendezvous (ASan build) with rdv_probe clients:
#   1. plain guesses at other accounts' passwords, 1.2 s apart, from one
#      address: the third is refused ERATE (2 failures: 2 s of backoff);
#   2. the same guesses from another address, each after a successful
#      login to the guesser's own account: refused at the same point (a
#      success forgets that account's failures, never the address's);
#   3. IPv6, in a network namespace of its own (addresses of two /64s on
#      its loopback): after two failures from fd00:b7:0:1::2, a guess
#      from its /64 neighbour fd00:b7:0:1::3 is ERATE; one from another
#      /64 is checked.
# Needs $RDV_BIN and $RDV_PROBE (the ASan builds by default); part 3 needs
# root (skipped, and said so, without it).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"

NS=
SRV6=
cleanup6() {
    [ -n "$SRV6" ] && kill -KILL "$SRV6" 2>/dev/null && wait "$SRV6" 2>/dev/null
    [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
    rdv_cleanup
}

rdv_setup me v1 v2 v3 v4 w1 w2 w3 w4 x1 x2 x3 x4
trap cleanup6 EXIT
rdv_start main

# outcomes OUTPUT: the first answer after each "mark gN" (the guesses), in
# order: EPASSWORD, ERATE, ok...
outcomes() {
    awk '/^mark / { cur = $2; seen = 0; next }
         cur ~ /^g/ && !seen && /^recv auth / {
             seen = 1
             if ($3 == "ok") print "ok"; else { sub(/^error=/, "", $4); print $4 }
         }' <<<"$1" | tr '\n' ' '
}

# ---- 1. plain guesses ----
out=$("$RDV_PROBE" --source 127.0.0.21 --key "$T/p.key" 127.0.0.1 "$PORT" hello \
    mark=g1 login=v1:guess wait=1200 mark=g2 login=v2:guess wait=1200 \
    mark=g3 login=v3:guess wait=1200 mark=g4 login=v4:guess 2>&1)
plain=$(outcomes "$out")
[ "$plain" = "EPASSWORD EPASSWORD ERATE EPASSWORD " ] ||
    t_fail "plain guesses" "expected the third refused: $plain: $out"
t_pass "plain guesses 1.2 s apart: $plain"

# ---- 2. interleaved with one's own logins ----
out=$("$RDV_PROBE" --source 127.0.0.22 --key "$T/me.key" 127.0.0.1 "$PORT" hello \
    mark=g1 login=w1:guess wait=1200 mark=own "login=me:$PW" mark=g2 login=w2:guess wait=1200 \
    mark=own "login=me:$PW" mark=g3 login=w3:guess wait=1200 \
    mark=own "login=me:$PW" mark=g4 login=w4:guess 2>&1)
mixed=$(outcomes "$out")
has "$out" '^recv auth ok user=me ' || t_fail "interleaved" "no own login succeeded: $out"
[ "$mixed" = "$plain" ] ||
    t_fail "interleaved" "guesses between own logins: $mixed, plain ones: $plain: $out"
grep -q 'login ok for me from 127.0.0.22' "$T/main.err" || t_fail "log" "$(cat "$T/main.err")"
t_pass "guesses between one's own successful logins are refused at the same point: $mixed"
rdv_stop main

# ---- 3. IPv6: one count per /64 ----
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
    echo "SKIP: the IPv6 /64 part needs root and ip (tests/unit/test_rdv_ratelimit.c covers the key)"
    echo "PASS: test_rendezvous_backoff"
    exit 0
fi
NS=bt-rl6-$$
ip netns add "$NS" || t_fail "ipv6" "cannot make a network namespace"
ip -n "$NS" link set lo up || t_fail "ipv6" "cannot set up the namespace's loopback"
for a in fd00:b7:0:1::1 fd00:b7:0:1::2 fd00:b7:0:1::3 fd00:b7:0:2::5; do
    ip -n "$NS" -6 addr add "$a/64" dev lo nodad || t_fail "ipv6" "cannot add $a"
done
p6=17071
# ip netns exec execs the server: $! is the server itself.
ip netns exec "$NS" "$RDV_BIN" --db rdv.db --listen "[fd00:b7:0:1::1]:$p6" >"$T/v6.log" \
    2>"$T/v6.err" </dev/null &
SRV6=$!
up6() { grep -q 'listening on \[fd00:b7:0:1::1\]' "$T/v6.err" || ! kill -0 "$SRV6" 2>/dev/null; }
wait_for 10 up6
grep -q 'listening on \[fd00:b7:0:1::1\]' "$T/v6.err" || t_fail "ipv6" "$(cat "$T/v6.err")"
pr6() {
    local src=$1
    shift
    ip netns exec "$NS" "$RDV_PROBE" --source "$src" fd00:b7:0:1::1 "$p6" hello "$@" 2>&1
}
out=$(pr6 fd00:b7:0:1::2 mark=g1 login=x1:guess wait=1100 mark=g2 login=x2:guess)
[ "$(outcomes "$out")" = "EPASSWORD EPASSWORD " ] || t_fail "ipv6" "$out"
out=$(pr6 fd00:b7:0:1::3 mark=g3 login=x3:guess)
[ "$(outcomes "$out")" = "ERATE " ] ||
    t_fail "ipv6" "a guess from the same /64 right after two failures: $out"
out=$(pr6 fd00:b7:0:2::5 mark=g4 login=x4:guess)
[ "$(outcomes "$out")" = "EPASSWORD " ] || t_fail "ipv6" "another /64: $out"
grep -q 'login failed for x3 from fd00:b7:0:1::3: too many failures' "$T/v6.err" ||
    t_fail "ipv6 log" "$(cat "$T/v6.err")"
kill -TERM "$SRV6"
wait "$SRV6"
rc=$?
SRV6=
[ "$rc" -eq 0 ] || t_fail "ipv6 stop" "exit $rc"
check_san "$T/v6.err" "ipv6 server"
t_pass "IPv6: after two failures from fd00:b7:0:1::2, its /64 neighbour ::3 is refused ERATE; another /64 is not"
echo "PASS: test_rendezvous_backoff"
