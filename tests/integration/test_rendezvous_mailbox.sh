#!/usr/bin/env bash
# test: seconds 60
# SPDX-License-Identifier: MIT
#
# test_rendezvous_mailbox.sh - sealed copies through a real
# banter-rendezvous (ASan build), with rdv_probe clients on loopback:
#   1. a copy for an offline device is answered "stored", delivered at the
#      device's next login (opened and checked by the probe), and deleted
#      after its RV_DELIVERED: not delivered again; without RV_DELIVERED it
#      is delivered again; several arrive in order;
#   2. a copy for a connected device is routed without the disk: the
#      sender gets "delivered" once the device answered; one the device
#      does not answer is stored after 10 s and delivered at the next login,
#      unless the device answers it late (then that stored copy goes);
#   3. a second device: the contact's entry is updated with both keys; one
#      message is a copy per device, each with its own answer;
#   4. SIGKILL of the server right after it answered "stored" for 40
#      copies: after a restart all 40 are delivered;
#   5. quota (quota_messages = 3 in a config file): the 4th copy is
#      refused EQUOTA; delivering frees the mailbox; a sender's share of
#      quota_mb under one largest copy is refused at start;
#   6. expiry: copies whose time is up are deleted at the server's start
#      and never delivered;
#   7. refusals: ENOTCONTACT (also for an account that does not exist:
#      a non-contact learns nothing), ENODEVICE, EPERM (a broadcast flag
#      without the right), EAUTH before login (ENOUSER, for a disabled
#      contact: test_rendezvous_admin.sh);
#   8. two senders, one message id, one offline recipient: the copy stored
#      first (another contact who knew the id in advance) does not
#      displace the genuine one: both are stored, both arrive, each once;
#   9. RV_KEEP: a copy the device cannot take now is stored at once, the
#      device is not stalled, the copy comes at its next login; an
#      RV_DELIVERED naming the sending device answers that copy only;
#  10. a copy waits for its device while the device is another account's;
#  11. one sender's share (quota_messages = 4, quota_sender_percent = 50:
#      2 copies): ann's third copy is refused EQUOTA while cat, a second
#      contact, still stores 2 for bob; once bob took his copies ann's
#      share is free again;
#  12. a block takes back: bob blocks ann while 2 copies of hers wait for
#      him; they are deleted (cat's stays), and a copy ann sends after is
#      answered "stored" (the block stays invisible) and kept nowhere;
#  13. a name handed over (user delete, user add --reuse-name) starts with
#      an empty share: the deleted account's stored copies no longer hold
#      it, and they are still delivered, flagged sender-gone (0x02; the
#      new holder's copies not).
# Needs $RDV_BIN and $RDV_PROBE (the ASan builds by default).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"

rdv_setup ann bob cat
rdv_start main
for u in ann bob cat; do
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done
pr ann.key ready contact=request:bob >/dev/null
out=$(pr bob.key ready contact=approve:ann wait=200)
has "$out" '^recv contact ann state=approved' || t_fail setup "$out"
bob_dev=$(devkey bob.key)
stored() { rows 'SELECT count(*) FROM sealed'; }

# ---- 1. offline ----
out=$(pr ann.key ready "seal=bob:hello while you were out" stored=1)
has "$out" '^seal id=[0-9a-f]{32} to=bob devices=1$' &&
    has "$out" '^recv stored id=[0-9a-f]{32} device=[0-9a-f]{8} state=stored error=-$' ||
    t_fail "offline" "$out"
id=$(sed -n 's/^seal id=\([0-9a-f]*\) .*/\1/p' <<<"$out")
grep -q "state=stored" <<<"$(grep "recv stored id=$id device=${bob_dev:0:8}" <<<"$out")" ||
    t_fail "offline" "the answer names another id or device: $out"
[ "$(stored)" = 1 ] || t_fail "offline" "$(stored) rows stored"
out=$(pr bob.key ready sealed=1)
has "$out" "^recv sealed from=ann id=$id flags=0 body=hello while you were out check=ok$" ||
    t_fail "delivery at login" "$out"
# The list first, then the copies.
[ "$(grep -nE '^recv (contacts|sealed)' <<<"$out" | head -1 | cut -d: -f2 | cut -c1-13)" = "recv contacts" ] ||
    t_fail "delivery at login" "the copy came before the contact list: $out"
gone() { [ "$(stored)" = 0 ]; }
wait_for 5 gone || t_fail "deleted" "$(stored) rows left after RV_DELIVERED"
out=$(pr bob.key ready wait=500)
has "$out" '^recv sealed' && t_fail "deleted" "delivered twice: $out"
t_pass "offline: stored, delivered at login after the contact list, opened and checked, deleted after RV_DELIVERED"
pr ann.key ready "seal=bob:unanswered" stored=1 >/dev/null
out=$(pr bob.key ready noack sealed=1)
has "$out" 'body=unanswered check=ok' || t_fail "no answer" "$out"
out=$(pr bob.key ready sealed=1)
has "$out" 'body=unanswered check=ok' || t_fail "no answer" "not delivered again: $out"
wait_for 5 gone || t_fail "deleted" "$(stored) rows left"
out=$(pr ann.key ready seals=bob:3 stored=3)
[ "$(count "$out" 'state=stored')" -eq 3 ] || t_fail "order" "$out"
out=$(pr bob.key ready sealed=3)
[ "$(grep '^recv sealed' <<<"$out" | sed 's/.* body=\(.*\) check=.*/\1/' | tr '\n' '|')" = "message 1|message 2|message 3|" ] ||
    t_fail "order" "$out"
t_pass "a copy not answered is delivered again; several arrive in the order sent"

# ---- 2. routed ----
wait_for 5 gone
bgp b bob.key ready wait=2000
wait_out b '^ready$'
out=$(pr ann.key ready "seal=bob:are you online?" stored=1)
has "$out" 'state=delivered error=-$' || t_fail "routed" "$out"
bg_done b
grep -q '^recv sealed from=ann .* body=are you online? check=ok$' "$T/b.out" || t_fail "routed" "$(cat "$T/b.out")"
[ "$(stored)" = 0 ] || t_fail "routed" "a routed copy was written to the database"
t_pass "routed to the connected device, \"delivered\" once it answered; nothing written to the database"
late=00112233445566778899aabbccddeeff
bgp b bob.key ready noack wait=12500 "delivered=$late" wait=300
wait_out b '^ready$'
t0=$(now_ms)
out=$(pr ann.key ready "sealid=bob:$bob_dev:$late:answered late" "seal=bob:slow device" stored=2)
t=$(($(now_ms) - t0))
[ "$(count "$out" 'state=stored error=-$')" -eq 2 ] || t_fail "routed, no answer" "$out"
[ "$t" -ge 9500 ] && [ "$t" -le 12500 ] || t_fail "routed, no answer" "stored after $t ms, not 10 s"
bg_done b 20
# Routed once; its late RV_DELIVERED of the other one lets the stored
# copies flow again, so it may come twice (docs/rendezvous.md 6.3).
[ "$(grep -c 'body=slow device' "$T/b.out")" -ge 1 ] &&
    [ "$(grep -c 'body=answered late' "$T/b.out")" -eq 1 ] || t_fail "routed, no answer" "$(cat "$T/b.out")"
one_left() { [ "$(stored)" = 1 ]; }
wait_for 5 one_left || t_fail "late answer" "$(stored) rows: the late RV_DELIVERED did not delete its copy"
out=$(pr bob.key ready sealed=1 wait=300)
has "$out" 'body=slow device check=ok' || t_fail "routed, no answer" "not delivered at login: $out"
has "$out" 'body=answered late' && t_fail "late answer" "delivered again after its late RV_DELIVERED: $out"
t_pass "a device that does not answer: the copies are stored after $t ms; one it answers late is deleted, the other delivered at the next login"

# ---- 3. a second device ----
bgp a ann.key ready wait=2000
wait_out a '^ready$'
out=$(pr bob2.key "login=bob:$PW" ready)
has "$out" '^recv auth ok user=bob ' || t_fail "second device" "$out"
wait_out a '^recv contact bob state=approved .*devices=2$' || t_fail "second device" "$(cat "$T/a.out")"
bg_done a
bgp b bob.key ready wait=2000
wait_out b '^ready$'
out=$(pr ann.key ready "seal=bob:to both" stored=2)
has "$out" '^seal id=.* to=bob devices=2$' && [ "$(count "$out" 'state=delivered')" -eq 1 ] &&
    [ "$(count "$out" 'state=stored')" -eq 1 ] || t_fail "second device" "$out"
bg_done b
out=$(pr bob2.key ready sealed=1 logout)
has "$out" 'body=to both check=ok' || t_fail "second device" "$out"
wait_for 5 gone || t_fail "second device" "$(stored) rows left"
t_pass "a second device: pushed to contacts with both keys; one copy routed and delivered, the other stored and delivered at its login"

# ---- 4. SIGKILL right after "stored" ----
out=$(pr ann.key ready seals=bob:40 stored=40)
[ "$(count "$out" 'state=stored error=-$')" -eq 40 ] || t_fail "durability" "$out"
rdv_kill
rdv_start again
out=$(pr bob.key ready sealed=40)
got=$(grep '^recv sealed' <<<"$out" | grep -c 'check=ok')
distinct=$(grep '^recv sealed' <<<"$out" | sed 's/.* body=\(.*\) check=.*/\1/' | sort -u | wc -l)
[ "$got" -eq 40 ] && [ "$distinct" -eq 40 ] || t_fail "durability" "$got copies, $distinct distinct: $out"
wait_for 5 gone || t_fail "durability" "$(stored) rows left"
t_pass "SIGKILL right after 40 \"stored\" answers: all 40 delivered after the restart"

# ---- 5. quota ----
# (The whole mailbox: one sender may fill it here; 11 has the share.)
rdv_stop again
# A sender's share under one largest copy (65459 bytes) is refused at
# start: such a copy would wait for good. The message names both settings
# and the least value of each.
printf 'quota_mb = 1\nquota_sender_percent = 5\n' >tiny.conf
out=$(timeout 20 "$RDV_BIN" --db rdv.db --listen 127.0.0.1:0 --config tiny.conf 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && ! has "$out" 'listening on' &&
    has "$out" 'tiny.conf: quota_sender_percent = 5 of quota_mb = 1 leaves one sender 52429 bytes' &&
    has "$out" 'raise quota_sender_percent to at least 7 or quota_mb to at least 2' ||
    t_fail "share under one copy" "exit $rc: $out"
printf 'quota_messages = 3\nquota_mb = 1\nquota_sender_percent = 100\n' >quota.conf
rdv_start quota --config quota.conf
out=$(pr ann.key ready seals=bob:5 stored=5)
[ "$(count "$out" 'state=stored')" -eq 3 ] && [ "$(count "$out" 'state=refused error=EQUOTA$')" -eq 2 ] ||
    t_fail "quota" "$out"
out=$(pr bob.key ready sealed=3)
[ "$(count "$out" '^recv sealed')" -eq 3 ] || t_fail "quota" "$out"
wait_for 5 gone
out=$(pr ann.key ready seals=bob:1 stored=1)
has "$out" 'state=stored error=-$' || t_fail "quota" "not freed: $out"
out=$(pr bob.key ready sealed=1)
t_pass "quota of 3 copies: the 4th and 5th refused EQUOTA; delivering frees the mailbox; a sender share under one largest copy refused at start"

# ---- 6. expiry ----
wait_for 5 gone
out=$(pr ann.key ready seals=bob:2 stored=2)
rdv_stop quota
sql "UPDATE sealed SET expires = created - 1" || t_fail "expiry" "cannot age the copies"
rdv_start expiry
wait_for 5 grep -q 'deleted 2 expired stored copies' "$T/expiry.err" ||
    t_fail "expiry" "no deletion logged: $(cat "$T/expiry.err")"
[ "$(stored)" = 0 ] || t_fail "expiry" "$(stored) rows left"
out=$(pr bob.key ready wait=500)
has "$out" '^recv sealed' && t_fail "expiry" "an expired copy was delivered: $out"
t_pass "expired copies are deleted at the start (and hourly) and never delivered"

# ---- 7. refusals ----
out=$(pr cat.key ready "sealto=bob:$bob_dev:hi" stored=1)
has "$out" 'state=refused error=ENOTCONTACT$' || t_fail "ENOTCONTACT" "$out"
other=$(devkey other.key)
out=$(pr ann.key ready "sealto=bob:$other:hi" "sealto=nobody:$bob_dev:hi" "bsealto=bob:$bob_dev:hi" stored=3)
has "$out" 'state=refused error=ENODEVICE$' && has "$out" 'state=refused error=ENOTCONTACT$' &&
    has "$out" 'state=refused error=EPERM$' || t_fail "refusals" "$out"
out=$("$RDV_PROBE" 127.0.0.1 "$PORT" hello "sealto=bob:$bob_dev:hi" stored=1 delivered=00000000000000000000000000000000 2>&1)
has "$out" 'state=refused error=EAUTH$' && has "$out" '^recv error EAUTH$' || t_fail "EAUTH" "$out"
[ "$(stored)" = 0 ] || t_fail "refusals" "a refused copy was stored"
t_pass "ENOTCONTACT (a non-contact, an unknown account alike), ENODEVICE, EPERM (broadcast flag without the right), EAUTH before login"

# ---- 8. one id, two senders ----
pr cat.key ready contact=request:bob >/dev/null
out=$(pr bob.key ready contact=approve:cat wait=200)
has "$out" '^recv contact cat state=approved' || t_fail "same id" "$out"
id=0123456789abcdef0123456789abcdef
out=$(pr cat.key ready "sealid=bob:$bob_dev:$id:not from ann" stored=1)
has "$out" "^recv stored id=$id device=${bob_dev:0:8} state=stored error=-$" || t_fail "same id" "$out"
out=$(pr ann.key ready "sealid=bob:$bob_dev:$id:the genuine one" stored=1)
has "$out" "^recv stored id=$id device=${bob_dev:0:8} state=stored error=-$" || t_fail "same id" "$out"
[ "$(stored)" = 2 ] || t_fail "same id" "$(stored) rows stored, expected both copies"
out=$(pr bob.key ready sealed=2 wait=300)
has "$out" "^recv sealed from=cat id=$id flags=0 body=not from ann check=ok$" &&
    has "$out" "^recv sealed from=ann id=$id flags=0 body=the genuine one check=ok$" &&
    [ "$(count "$out" '^recv sealed ')" -eq 2 ] || t_fail "same id" "expected both copies once: $out"
wait_for 5 gone || t_fail "same id" "$(stored) rows left after RV_DELIVERED"
out=$(pr bob.key ready wait=300)
has "$out" '^recv sealed' && t_fail "same id" "delivered again: $out"
t_pass "one id from two senders for an offline device: both stored, both delivered, each once"

# ---- 9. RV_KEEP and RV_DELIVERED naming the sender ----
# bob's device cannot take ann's copy now (a node answers RV_KEEP, say,
# for a group message of a group it does not know): it is stored (ann
# hears "stored" at once, not after 10 s), bob is not stalled (cat's
# copy right after is routed and "delivered"), the kept copy is not sent
# again on that connection, and it comes at bob's next login. (Before
# RV_KEEP such a copy went unanswered: after 10 s bob was stalled and
# everything for him was held back for the rest of the session.)
bgp b bob.key ready keep wait=2000 ack wait=2500
wait_out b '^ready$'
t0=$(now_ms)
out=$(pr ann.key ready "seal=bob:not now" stored=1)
t=$(($(now_ms) - t0))
has "$out" 'state=stored error=-$' || t_fail "keep" "ann: $out"
[ "$t" -lt 8000 ] || t_fail "keep" "ann's kept copy was answered after $t ms: the timeout, not RV_KEEP"
sleep 2.2
out=$(pr cat.key ready "seal=bob:right after" stored=1)
has "$out" 'state=delivered error=-$' || t_fail "keep" "cat's copy after a kept one was not routed: $out"
bg_done b 20
[ "$(grep -c 'body=not now' "$T/b.out")" -eq 1 ] && grep -q 'body=right after' "$T/b.out" ||
    t_fail "keep" "$(cat "$T/b.out")"
out=$(pr bob.key ready sealed=1 wait=300)
has "$out" '^recv sealed from=ann .* body=not now check=ok$' || t_fail "keep" "not delivered at the next login: $out"
wait_for 5 gone || t_fail "keep" "$(stored) rows left"
# Two senders, one id, both routed to bob, who answers only cat's, naming
# cat's device: cat hears "delivered", ann's copy stays bob's to answer
# (stored when bob leaves, delivered at his next login). Without the
# sender named the server answered the oldest copy, ann's, "delivered"
# and forgot it.
cat_dev=$(devkey cat.key)
id=fedcba9876543210fedcba9876543210
bgp b bob.key ready noack wait=2500 "delivered=$id:$cat_dev" wait=500
wait_out b '^ready$'
bgp a ann.key ready "sealid=bob:$bob_dev:$id:the genuine one" stored=1
wait_out b 'body=the genuine one' || t_fail "named" "$(cat "$T/b.out")"
out=$(pr cat.key ready "sealid=bob:$bob_dev:$id:the decoy" stored=1)
has "$out" "^recv stored id=$id device=${bob_dev:0:8} state=delivered error=-$" || t_fail "named" "cat: $out"
bg_done b 20
bg_done a 20
grep -q "^recv stored id=$id device=${bob_dev:0:8} state=stored error=-$" "$T/a.out" ||
    t_fail "named" "ann's copy, which bob never answered: $(cat "$T/a.out")"
out=$(pr bob.key ready sealed=1 wait=300)
has "$out" "^recv sealed from=ann id=$id flags=0 body=the genuine one check=ok$" &&
    ! has "$out" 'body=the decoy' || t_fail "named" "at the next login: $out"
wait_for 5 gone || t_fail "named" "$(stored) rows left"
t_pass "RV_KEEP: the copy is stored at once, the device not stalled (the next copy routed), not sent again on that connection, delivered at the next login; RV_DELIVERED naming the sender answers that sender's copy only"

# ---- 10. a device bound to another account since ----
# A copy for bob's device waits; the device logs in as cat instead: cat's
# session does not get bob's copy (it is sealed to the device key, so the
# node could open it and show bob's message under cat's login); once the
# device is bob's again it comes.
out=$(pr ann.key ready "seal=bob:for bob only" stored=1)
has "$out" 'state=stored error=-$' || t_fail "rebound" "$out"
out=$(pr bob.key noack ready logout sync)
has "$out" '^recv auth fail error=ELOGGEDOUT' || t_fail "rebound" "logout: $out"
out=$(pr bob.key "login=cat:$PW" ready wait=500)
has "$out" '^recv auth ok user=cat ' || t_fail "rebound" "the device did not log in as cat: $out"
has "$out" 'for bob only' && t_fail "rebound" "bob's copy went to the device while it is cat's: $out"
out=$(pr bob.key logout sync)
out=$(pr bob.key "login=bob:$PW" ready sealed=1 wait=300)
has "$out" '^recv sealed from=ann .* body=for bob only check=ok$' || t_fail "rebound" "not delivered once bob's again: $out"
wait_for 5 gone || t_fail "rebound" "$(stored) rows left"
t_pass "a copy for a device is delivered only while the device is bound to the account it was sent to"

rdv_stop expiry
grep -q 'copies: .* 2 expired' "$T/expiry.err" || t_fail "stats" "no expired copies counted"

# ---- 11. one sender's share of a mailbox ----
# ann (a contact, or a broadcaster alike) used to fill bob's whole mailbox
# and every other sender got EQUOTA until bob came back.
from() { rows "SELECT count(*) FROM sealed WHERE to_user = 'bob' AND from_user = '$1'"; }
printf 'quota_messages = 4\nquota_mb = 1\nquota_sender_percent = 50\n' >share.conf
rdv_start share --config share.conf
out=$(pr ann.key ready seals=bob:3 stored=3)
[ "$(count "$out" 'state=stored error=-$')" -eq 2 ] && [ "$(count "$out" 'state=refused error=EQUOTA$')" -eq 1 ] ||
    t_fail "share" "ann: $out"
[ "$(from ann)" = 2 ] || t_fail "share" "$(from ann) copies of ann's stored"
out=$(pr cat.key ready seals=bob:2 stored=2)
[ "$(count "$out" 'state=stored error=-$')" -eq 2 ] || t_fail "share" "cat, a second contact, could not store: $out"
[ "$(from cat)" = 2 ] || t_fail "share" "$(from cat) copies of cat's stored"
out=$(pr bob.key ready sealed=4 wait=300)
[ "$(count "$out" '^recv sealed from=ann ')" -eq 2 ] && [ "$(count "$out" '^recv sealed from=cat ')" -eq 2 ] ||
    t_fail "share" "bob: $out"
wait_for 5 gone || t_fail "share" "$(stored) rows left"
out=$(pr ann.key ready "seal=bob:message 3 again" stored=1)
has "$out" 'state=stored error=-$' || t_fail "share" "ann's share not freed: $out"
out=$(pr bob.key ready sealed=1 wait=300)
has "$out" 'body=message 3 again check=ok' || t_fail "share" "$out"
wait_for 5 gone || t_fail "share" "$(stored) rows left"
t_pass "one sender holds at most its share (2 of 4): ann's 3rd copy refused EQUOTA, cat still stores 2; delivered, ann's share is free again"

# ---- 12. a block takes back what the blocked one stored ----
out=$(pr ann.key ready seals=bob:2 stored=2)
[ "$(count "$out" 'state=stored error=-$')" -eq 2 ] || t_fail "block" "ann: $out"
out=$(pr cat.key ready "seal=bob:from cat, before the block" stored=1)
has "$out" 'state=stored error=-$' || t_fail "block" "cat: $out"
[ "$(from ann)" = 2 ] || t_fail "block" "$(from ann) copies of ann's stored"
# bob blocks ann from a session that takes no copy (they stay stored).
out=$(pr bob.key noack ready contact=block:ann wait=500)
ann_gone() { [ "$(from ann)" = 0 ]; }
wait_for 5 ann_gone || t_fail "block" "$(from ann) copies of ann's still stored after bob blocked her: $out"
[ "$(from cat)" = 1 ] || t_fail "block" "cat's copy went too: $(from cat)"
out=$(pr ann.key ready "seal=bob:after the block" stored=1)
has "$out" 'state=stored error=-$' || t_fail "block" "the block showed to ann: $out"
[ "$(from ann)" = 0 ] || t_fail "block" "a copy from ann was stored after the block"
out=$(pr bob.key ready sealed=1 wait=500)
has "$out" '^recv sealed from=cat .*body=from cat, before the block check=ok$' && ! has "$out" 'from=ann' ||
    t_fail "block" "bob: $out"
t_pass "bob blocks ann: her 2 stored copies are deleted (cat's stays), and what she sends after is answered \"stored\" and kept nowhere"

# ---- 13. a name handed over starts with an empty share ----
# cat fills its share of bob's mailbox, then its account is deleted and
# the name handed to a new account (--reuse-name) with a new device. The
# old copies used to count as the new account's share (EQUOTA for good
# until bob took them); now the new cat stores its own 2, and bob gets
# all 4, the old ones as from cat, sealed by the old device.
out=$(pr cat.key ready seals=bob:2 stored=2)
[ "$(count "$out" 'state=stored error=-$')" -eq 2 ] || t_fail "name handed over" "cat: $out"
out=$("$RDV_BIN" --db rdv.db user delete cat 2>&1) || t_fail "name handed over" "delete: $out"
out=$("$RDV_BIN" --db rdv.db user add cat --password-file pw --reuse-name 2>&1) ||
    t_fail "name handed over" "add: $out"
[ "$(from cat)" = 2 ] || t_fail "name handed over" "$(from cat) copies of the old cat's stored"
out=$(pr cat2.key "login=cat:$PW" ready contact=request:bob)
has "$out" '^recv auth ok user=cat ' || t_fail "name handed over" "login: $out"
out=$(pr bob.key noack ready contact=approve:cat wait=300)
has "$out" '^recv contact cat state=approved' || t_fail "name handed over" "approve: $out"
out=$(pr cat2.key ready seals=bob:2 stored=2)
[ "$(count "$out" 'state=stored error=-$')" -eq 2 ] ||
    t_fail "name handed over" "the old cat's copies hold the new cat's share: $out"
out=$(pr bob.key ready sealed=4 wait=300)
[ "$(count "$out" '^recv sealed from=cat .*check=ok$')" -eq 4 ] || t_fail "name handed over" "bob: $out"
# The old cat's 2 come flagged RV_SEAL_SENDER_GONE (0x02: the server no
# longer vouches for their device, so bob's node does not take the old
# laptop as the new cat's); the new cat's 2 do not. Before, all 4 flags=0.
[ "$(count "$out" '^recv sealed from=cat .* flags=2 body=message [12] check=ok$')" -eq 2 ] &&
    [ "$(count "$out" '^recv sealed from=cat .* flags=0 body=message [12] check=ok$')" -eq 2 ] ||
    t_fail "name handed over" "the old cat's copies are not marked gone, or the new cat's are: $out"
wait_for 5 gone || t_fail "name handed over" "$(stored) rows left"
t_pass "a name handed over (--reuse-name) starts with an empty share: the new cat stores 2 while the old cat's 2 wait; bob gets all 4, the old cat's 2 flagged sender-gone, the new cat's not"
rdv_stop share
echo "PASS: test_rendezvous_mailbox"
