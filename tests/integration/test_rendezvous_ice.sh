#!/usr/bin/env bash
# test: seconds 18
# SPDX-License-Identifier: MIT
#
# test_rendezvous_ice.sh - what the rendezvous does for direct connections
# (docs/rendezvous.md 12), on a real banter-rendezvous (ASan build):
#   - a logged-in device gets RV_ICE_SERVERS with the configured STUN and
#     TURN URLs and TURN credentials in coturn's REST scheme (username
#     EXPIRY:ACCOUNT about turn_ttl_s ahead, password = base64 HMAC-SHA1
#     of it under turn_secret, checked here with openssl);
#   - ICE signaling from an approved contact reaches the connected target
#     device with the sender's account and device; from a stranger
#     (ENOTCONTACT), a contact the target blocked (EOFFLINE), to a device
#     of the target that is not connected (EOFFLINE) it is refused and the
#     target gets nothing;
#   - a flood of signaling is refused with ERATE past 32 per 10 s.
# Regression: on a server without the signaling module every one of these
# fails (the types are refused EBADTYPE and nothing is forwarded).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"

command -v openssl >/dev/null || t_skip "openssl is not installed"
rdv_setup alice cal bea sam
SECRET=north-wind-secret-$RANDOM
cat >rdv.conf <<CONF
stun = stun:198.18.0.1:3478
turn = turn:198.18.0.1:3478,turn:198.18.0.1:3478?transport=tcp
turn_secret = $SECRET
turn_ttl_s = 3600
CONF
chmod 600 rdv.conf
rdv_start main --config rdv.conf
for u in alice cal bea sam; do
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done
for u in cal bea; do
    pr "$u.key" ready contact=request:alice >/dev/null
    out=$(pr alice.key ready "contact=approve:$u" wait=200)
    has "$out" "^recv contact $u state=approved" || t_fail setup "$out"
done
out=$(pr alice.key ready contact=block:bea wait=200)
has "$out" '^recv contact bea state=blocked' || t_fail setup "$out"

# ---- credentials ----
now=$(date +%s)
out=$(pr alice.key ready wait=100)
line=$(grep '^recv ice servers ' <<<"$out") || t_fail credentials "no RV_ICE_SERVERS: $out"
has "$line" ' stun=stun:198.18.0.1:3478 turn=turn:198.18.0.1:3478 ' || t_fail credentials "$line"
user=$(sed -E 's/.* username=([^ ]*) .*/\1/' <<<"$line")
pass=$(sed -E 's/.* password=([^ ]*) .*/\1/' <<<"$line")
exp=${user%%:*}
[ "${user#*:}" = alice ] || t_fail credentials "username $user is not EXPIRY:alice"
[ "$exp" -ge $((now + 3590)) ] && [ "$exp" -le $((now + 3610)) ] ||
    t_fail credentials "expiry $exp is not about an hour after $now"
want=$(printf '%s' "$user" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64)
[ "$pass" = "$want" ] || t_fail credentials "password $pass, expected $want"
has "$line" " expires_ms=${exp}000$" || t_fail credentials "$line"
! grep -q "$SECRET" "$T/main.err" || t_fail credentials "the secret is in the log"
t_pass "a logged-in device gets the STUN/TURN URLs and TURN credentials $user (HMAC-SHA1 checked with openssl)"

# ---- signaling ----
alice_dev=$(devkey alice.key)
cal_dev=$(devkey cal.key)
bgp alice alice.key ready mark=listening wait=4000
wait_out alice '^mark listening' 10 || t_fail signaling "alice's probe did not start"
out=$(pr cal.key ready ice=offer:alice ice=answer:alice ice=end:alice sync wait=300)
! has "$out" '^recv ice end' || t_fail "contact" "refused: $out"
out=$(pr sam.key "target=alice:$alice_dev:x" ice=offer:alice sync)
has "$out" '^recv ice end user=alice .* error=ENOTCONTACT$' || t_fail stranger "$out"
out=$(pr bea.key ready ice=offer:alice sync)
has "$out" '^recv ice end user=alice .* error=EOFFLINE$' || t_fail blocked "$out"
other=$(printf '%064d' 7)
out=$(pr cal.key "target=alice:$other:x" send=31 sync)
has "$out" '^recv ice end user=alice .* error=EOFFLINE$' || t_fail "offline device" "$out"
bg_done alice 15
got=$(grep -E '^recv ice (offer|answer|end) ' "$T/alice.out")
[ "$(count "$got" '^recv ice ')" -eq 3 ] &&
    has "$got" "^recv ice offer user=cal device=${cal_dev:0:8} session=[0-9a-f]{8} cands=1 error=-$" &&
    has "$got" "^recv ice answer user=cal device=${cal_dev:0:8} " &&
    has "$got" "^recv ice end user=cal device=${cal_dev:0:8} .* error=-$" ||
    t_fail signaling "alice should get the contact's offer, answer and end only: $got"
t_pass "signaling from an approved contact is forwarded with its account and device; a stranger (ENOTCONTACT), a blocked contact and a device not connected (EOFFLINE) are refused and reach nothing"

# ---- rate ----
steps=()
for i in $(seq 1 40); do steps+=(ice=end:alice); done
out=$(pr cal.key ready "${steps[@]}" sync wait=200)
n=$(count "$out" '^recv error ERATE$')
[ "$n" -ge 1 ] && [ "$n" -le 8 ] || t_fail rate "expected ERATE past 32 messages, got $n: $(tail -n 3 <<<"$out")"
t_pass "a flood of signaling is refused with ERATE past 32 in 10 s"
rdv_stop main
echo "PASS: test_rendezvous_ice"
