#!/usr/bin/env bash
# test: seconds 17
# SPDX-License-Identifier: MIT
#
# test_admin_announce.sh - announcements and the revocation list on a
# running banter-rendezvous (ASan builds) on loopback, with banter-admin
# and rdv_probe devices standing for nodes:
#   1. `announce TEXT` (no terminal escape: C0, DEL or C1, in a text or
#      a department, refused before connecting): an online device that takes announcements gets it
#      at once, an offline one at its next login, a device whose HELLO did
#      not ask never gets it pushed; `announce --department D` reaches D
#      only; an auditor may not announce (EPERM), and it is audited
#      (without the text);
#   2. receipts: delivered and read, once each per device (EALREADY);
#      refused for an announcement not addressed to the device, an
#      unknown id (ENOENT) and before login (EAUTH); `announce report`
#      (and --json) counts devices addressed, received, and people read;
#      a user cannot put themselves into a department (RV_PROFILE_SET
#      with one is EPERM; the department's next announcement misses
#      them); an admin's `user set` can;
#   3. the revocation list: signed by the server key, sent at login, sent
#      at once to online devices when an admin revokes a device, holding
#      its key; certificates are valid for a day; `user disable` puts
#      the account's device keys on it (the login still answered
#      EDISABLED), `user enable` takes them off, `user delete` puts them
#      on; `device revoke` finds a deleted account's device by its
#      fingerprint and revokes it for good (EREVOKED even under the name
#      handed over again);
#   4. on PostgreSQL (RDV_DB=postgresql): an announcement taken while a
#      device that just authenticated still waits for its contact list
#      (the database thread held at tables by the test) reaches it once.
# Needs $RDV_BIN, $RDV_PROBE and $ADMIN_BIN (the ASan builds by default).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"
ADMIN_BIN=${ADMIN_BIN:-$here/../../build/asan/banter-admin}
[ -x "$ADMIN_BIN" ] || t_fail setup "no program at $ADMIN_BIN (make test-run builds it, or set ADMIN_BIN)"
ADMIN_BIN=$(cd "$(dirname "$ADMIN_BIN")" && pwd)/$(basename "$ADMIN_BIN")

rdv_setup adm ann bob cat
rdv() { "$RDV_BIN" --db rdv.db "$@" 2>&1; }
SFP=$(rdv fingerprint)
for u in ann cat; do
    out=$(rdv user set "$u" department Sales) || t_fail setup "$out"
done
out=$(rdv user set bob department Research) || t_fail setup "$out"
rdv_start main
export BANTER_ADMIN_SERVER=127.0.0.1:$PORT BANTER_ADMIN_SERVER_KEY=$SFP
adm() {
    local key=$1
    shift
    "$ADMIN_BIN" --key "$T/$key" "$@" 2>&1
}
for k in boss audit; do
    "$ADMIN_BIN" --key "$T/$k.key" keygen >"$T/$k.fp" 2>/dev/null || t_fail setup "keygen $k"
done
out=$(rdv admin add "$(cat boss.fp)" --role admin) || t_fail "admin add" "$out"
out=$(rdv admin add "$(cat audit.fp)" --role auditor) || t_fail "admin add" "$out"
# A probe that takes announcements (HELLO lists "policy" and "announce").
pa() {
    local key=$1
    shift
    "$RDV_PROBE" --key "$T/$key" 127.0.0.1 "$PORT" helloa "$@" 2>&1
}
bga() {
    local name=$1 key=$2
    shift 2
    "$RDV_PROBE" --key "$T/$key" 127.0.0.1 "$PORT" helloa "$@" >"$T/$name.out" 2>&1 &
    BGP[$name]=$!
    RDV_PIDS+=($!)
}
# every account's device is bound (first logins)
for u in ann bob cat; do
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done

# ---- 1. announce ----
bga a ann.key ready anns=2 arcpt=1:delivered arcpt=1:read arcpt=1:read arcpt=2:read sync
# bob's device (no "announce" in its HELLO) stays until ann's had the push.
bgp b bob.key ready waitfile="$T/pushed"
wait_out a '^ready$' && wait_out b '^ready$' || t_fail "announce" "$(cat "$T/a.out" "$T/b.out")"
grep -q '^recv revoked n=0 check=ok keys=-$' "$T/a.out" || t_fail "revocation list at login" "$(cat "$T/a.out")"
out=$(adm audit.key announce "not from an auditor")
[ $? -eq 5 ] && has "$out" 'EPERM' || t_fail "auditor announce" "$out"
# a terminal escape is refused before anything is announced: ESC (C0)
# and CSI as C1 (U+009B), which a terminal honouring C1 takes as ESC [
for bad in $'x\e[2Jy' $'x\xc2\x9b2Jy' $'x\xc2\x85y'; do
    out=$(adm boss.key announce "$bad")
    rc=$?
    [ $rc -eq 2 ] && has "$out" 'no control characters \(C0, DEL, C1' && ! grep -q $'\xc2\x9b\|\e' <<<"$out" || t_fail "announce escape refused" "rc $rc: $out"
done
out=$(adm boss.key announce "x" --department $'S\xc2\x9b')
[ $? -eq 2 ] && has "$out" 'no control characters' || t_fail "department escape refused" "$out"
out=$(adm boss.key announce $'Fire drill at 3 pm.\n\tBring your badge.') || t_fail "announce" "$out"
has "$out" '^announcement 1 to 3 devices of 3 people: 1 online have it now' || t_fail "announce" "$out"
wait_out a '^waited anns=2$' 10 || t_fail "announce push" "$(cat "$T/a.out")"
grep -q '^recv announce id=1 department=- text=Fire drill at 3 pm\.\\x0a\\x09Bring your badge\.$' "$T/a.out" ||
    t_fail "announce push" "$(cat "$T/a.out")"
: >"$T/pushed"
bg_done a
[ "$(grep -c '^recv error' "$T/a.out")" -eq 2 ] && grep -q '^recv error EALREADY$' "$T/a.out" &&
    grep -q '^recv error ENOENT$' "$T/a.out" || t_fail "receipts" "$(cat "$T/a.out")"
bg_done b
! grep -q 'recv announce' "$T/b.out" || t_fail "announce" "pushed to a node that did not ask: $(cat "$T/b.out")"
json=$(adm boss.key announce "Sales meeting moved to Thursday." --department sales --json) ||
    t_fail "announce --department" "$json"
has "$json" '^\{"id":2,"devices":2,"people":2,"sent_now":0,"department":"sales"\}$' || t_fail "announce --json" "$json"
t_pass "announce: pushed to the online device that takes it, never to one that did not ask; --department counts its devices only; an auditor is refused (EPERM)"

# ---- 2. receipts, report ----
out=$(pa cat.key "login=cat:$PW" anns=3 arcpt=1:delivered arcpt=2:read arcpt=2:delivered sync)
has "$out" '^recv announce id=1 ' && has "$out" '^recv announce id=2 department=sales text=Sales meeting' ||
    t_fail "announce at login" "$out"
has "$out" '^recv error EALREADY$' || t_fail "delivered after read" "$out"
out=$(pr bob.key ready arcpt=2:read arcpt=1:delivered arcpt=1:delivered sync)
[ "$(count "$out" '^recv error ENOENT$')" -eq 1 ] && [ "$(count "$out" '^recv error EALREADY$')" -eq 1 ] ||
    t_fail "receipt not addressed" "$out"
out=$("$RDV_PROBE" --key "$T/stranger.key" 127.0.0.1 "$PORT" hello arcpt=1:read sync 2>&1)
has "$out" '^recv error EAUTH$' || t_fail "receipt before login" "$out"
out=$(adm boss.key announce report 1) || t_fail "report" "$out"
has "$out" '^  addressed to 3 devices of 3 people$' && has "$out" '^  received by 3 devices \(3 people\)$' &&
    has "$out" '^  read by 1 people \(on 1 devices\)$' || t_fail "report 1" "$out"
json=$(adm boss.key announce report 2 --json) || t_fail "report --json" "$json"
has "$json" '"devices":2,"delivered":1,"read_devices":1,"people":2,"people_delivered":1,"people_read":1' ||
    t_fail "report 2" "$json"
out=$(adm boss.key announce report 9)
[ $? -eq 1 ] && has "$out" 'no announcement 9' || t_fail "report unknown" "$out"
out=$(adm audit.key announce report 1) || t_fail "auditor report" "$out"
out=$(adm boss.key audit tail -n 20)
has "$out" 'announce text=\([0-9]+ bytes\): ok' && has "$out" 'announce text=\([0-9]+ bytes\) department="sales": ok' &&
    has "$out" 'announce text=\([0-9]+ bytes\): EPERM' || t_fail "audit" "$out"
! has "$out" 'Fire drill' || t_fail "audit" "the text is in the log: $out"
t_pass "receipts once per device (EALREADY), refused when not addressed or unknown (ENOENT) and before login (EAUTH); the report counts 3/3 received and 1 person read; audited without the text"

# ---- 2b. a department is the organisation's ----
# bob (Research) cannot put himself into Sales: RV_PROFILE_SET with a
# department is refused EPERM, and the next announcement to Sales does not
# reach him; an admin's `user set` does move him.
out=$(pr bob.key ready profile=department=sales sync)
has "$out" '^recv error EPERM$' || t_fail "own department" "not refused: $out"
[ "$(rows "SELECT department FROM profiles WHERE \"user\" = 'bob'")" = Research ] ||
    t_fail "own department" "stored: $(rows "SELECT department FROM profiles")"
json=$(adm boss.key announce "Sales: the new price list." --department sales --json) ||
    t_fail "own department" "$json"
has "$json" '^\{"id":3,"devices":2,"people":2,' || t_fail "own department" "addressed to more: $json"
[ "$(rows "SELECT count(*) FROM announce_to WHERE ann = 3 AND \"user\" = 'bob'")" = 0 ] ||
    t_fail "own department" "addressed to bob"
out=$(pa bob.key ready wait=500)
! has "$out" 'new price list' || t_fail "own department" "bob got it: $out"
out=$(adm boss.key user set bob department Sales) || t_fail "admin sets the department" "$out"
json=$(adm boss.key announce "Sales: welcome, bob." --department sales --json) ||
    t_fail "admin sets the department" "$json"
has "$json" '^\{"id":4,"devices":3,"people":3,' || t_fail "admin sets the department" "$json"
out=$(pa bob.key ready anns=1 arcpt=4:delivered sync)
has "$out" '^recv announce id=4 department=sales text=Sales: welcome, bob\.$' ||
    t_fail "admin sets the department" "$out"
! has "$out" 'new price list' || t_fail "own department" "bob got it later: $out"
t_pass "a user setting their own department is refused (EPERM) and an announcement to that department does not reach them; an admin's user set does"

# ---- 3. the revocation list ----
out=$(pa ann.key ready)
has "$out" '^recv cert user=ann server=ok device=ok check=ok days=1$' || t_fail "certificate of a day" "$out"
bga a2 ann.key ready waitfile="$T/a2.end" # ended by bg_kill
wait_out a2 '^ready$' || t_fail "revoked push" "$(cat "$T/a2.out")"
fp=$(adm boss.key device list --user cat --json | grep -oE '"fingerprint":"[0-9 ]+"' | cut -d'"' -f4)
out=$(adm boss.key device revoke "$fp") || t_fail "revoke" "$out"
catkey=$(devkey cat.key)
wait_out a2 "^recv revoked n=1 check=ok keys=${catkey:0:8}\$" 5 || t_fail "revoked push" "$(cat "$T/a2.out")"
bg_kill a2
out=$(pa bob.key ready)
has "$out" "^recv revoked n=1 check=ok keys=${catkey:0:8}\$" || t_fail "revoked at login" "$out"
out=$(pa cat.key "login=cat:$PW")
has "$out" '^recv auth fail error=EREVOKED' || t_fail "revoked login" "$out"
t_pass "revocation list: signed, at login, pushed at once on revoke with the device's key; certificates last a day"

# ---- 3b. disable, enable, delete: the account's devices on the list ----
bga a3 ann.key ready waitfile="$T/a3.end" # ended by bg_kill
wait_out a3 '^ready$' || t_fail "disable push" "$(cat "$T/a3.out")"
bobkey=$(devkey bob.key)
# times LINE: how often a3 got the list LINE.
times() { grep -cxF "$1" "$T/a3.out"; }
twice() { [ "$(times "$1")" -ge 2 ]; }
out=$(adm boss.key user disable bob) || t_fail "disable" "$out"
wait_out a3 "^recv revoked n=2 check=ok keys=${bobkey:0:8},${catkey:0:8}\$" 10 ||
    t_fail "disable push" "$(cat "$T/a3.out")"
out=$(pa bob.key "login=bob:$PW")
has "$out" '^recv auth fail error=EDISABLED' && ! has "$out" EREVOKED || t_fail "disabled login" "$out"
out=$(adm boss.key user enable bob) || t_fail "enable" "$out"
wait_for 10 twice "recv revoked n=1 check=ok keys=${catkey:0:8}" || t_fail "enable push" "$(cat "$T/a3.out")"
out=$(pa bob.key ready)
has "$out" "^recv auth ok user=bob " || t_fail "enabled" "$out"
printf 'pw of dan 1\n' >"$T/pw2"
out=$(adm boss.key user add dan --password-file "$T/pw2") || t_fail "user add dan" "$out"
out=$(pr dan.key "login=dan:pw of dan 1" ready)
has "$out" "^recv auth ok user=dan " || t_fail "login dan" "$out"
dankey=$(devkey dan.key)
danfp=$(adm boss.key device list --user dan --json | grep -oE '"fingerprint":"[0-9 ]+"' | cut -d'"' -f4)
[ -n "$danfp" ] || t_fail "login dan" "no fingerprint for dan's device"
out=$(adm boss.key user delete dan) || t_fail "delete" "$out"
wait_out a3 "^recv revoked n=2 check=ok keys=${dankey:0:8},${catkey:0:8}\$" 10 ||
    t_fail "delete push" "$(cat "$T/a3.out")"
bg_kill a3
t_pass "revocation list: user disable adds the account's device keys (its login still EDISABLED), user enable takes them off, user delete adds them"

# ---- 3c. a deleted account's device revoked for good ----
# No account has dan's device bound any more; only the delete's mark
# names it. `device revoke` finds it by a prefix of its fingerprint and
# makes the mark an admin's revocation: audited, still on the list, and
# refused at login even once the name is handed over again (a mark alone
# is taken off when the key logs in to that name).
out=$(adm boss.key device revoke "${danfp:0:17}") &&
    has "$out" "^revoked device $danfp of the deleted account dan: it can no longer log in" ||
    t_fail "revoke a deleted account's device" "$out"
by=$(rows "SELECT revoked_by FROM revoked WHERE \"user\" = 'dan'")
[ -n "$by" ] && [ "$by" != "(account deleted)" ] || t_fail "revoke a deleted account's device" "revoked_by: $by"
out=$(adm boss.key audit tail -n 3) && has "$out" "device.revoke .*: ok" ||
    t_fail "revoke a deleted account's device audited" "$out"
out=$(adm boss.key device revoke "${danfp:0:17}")
[ $? -eq 1 ] && has "$out" 'ENOENT' || t_fail "revoke twice" "$out"
out=$(pa bob.key ready)
has "$out" "^recv revoked n=2 check=ok keys=${dankey:0:8},${catkey:0:8}\$" ||
    t_fail "revoked deleted device listed" "$out"
out=$(adm boss.key user add dan --password-file "$T/pw2" --reuse-name) || t_fail "user add dan again" "$out"
out=$(pr dan.key "login=dan:pw of dan 1")
has "$out" '^recv auth fail error=EREVOKED' && ! has "$out" 'auth ok' ||
    t_fail "revoked deleted device login" "$out"
t_pass "device revoke finds a deleted account's device by its fingerprint: audited, on the revocation list, refused at login (EREVOKED) also under the name handed over again"

# ---- 4. PostgreSQL: an announcement taken while a login's list is read ----
# The database thread is held at tables (sessions of the test: pg_hold)
# so that a login and an announcement interleave as they once did under
# load: bob's HELLO lookup waits at `devices`; the admin's request comes
# behind it (its role lookup then waits at `admin_keys`); bob is attached
# and his contact list waits at `contacts`; only then is the announcement
# taken and the devices online listed. bob's device is not listed (its
# waiting announcements were not asked for yet): it gets the announcement
# once, from its own pending job. It once got it twice (listed, and from
# the pending job), and its second receipt was refused EALREADY.
if [ "${RDV_DB:-sqlite}" = postgresql ]; then
    req=$(printf '\x60{"id":1,"cmd":"announce","args":{"text":"race drill"}}' | od -An -tx1 | tr -d ' \n')
    bgp boss boss.key ping waitfile="$T/go" pt="$req" mark=sent wait=10000
    wait_out boss '^recv pong' || t_fail "race" "$(cat "$T/boss.out")"
    pg_hold 7 devices
    pg_hold 8 admin_keys
    pg_hold 9 contacts
    waiting() { sql "SELECT query FROM pg_stat_activity WHERE datname = current_database()
                     AND wait_event_type = 'Lock'" | grep -q "$1"; }
    bga race bob.key wait=10000
    wait_for 5 waiting devices || t_fail "race" "bob's HELLO lookup did not wait"
    : >"$T/go"
    wait_out boss '^mark sent$' || t_fail "race" "$(cat "$T/boss.out")"
    # The server read the request (its end of the admin's connection holds
    # no bytes): its role lookup was queued then, in the same callback,
    # behind bob's HELLO lookup and before anything that lookup's answer
    # queues.
    boss_read() {
        local lp
        lp=$(ss -Htnp state established "( dport = :$PORT )" | grep "pid=${BGP[boss]}," | awk '{ print $3 }')
        [ -n "$lp" ] && [ "$(ss -Htn state established "( sport = :$PORT and dport = :${lp##*:} )" |
            awk '{ print $1 }')" = 0 ]
    }
    wait_for 5 boss_read || t_fail "race" "the server did not read the admin's request"
    pg_release 7
    wait_for 5 waiting admin_keys || t_fail "race" "the admin's request did not come before bob's list"
    wait_out race '^recv auth ok user=bob' || t_fail "race" "$(cat "$T/race.out")"
    pg_release 8
    wait_for 5 waiting contacts || t_fail "race" "bob's list did not wait"
    pg_release 9
    wait_out race '^recv announce id=[0-9]+ department=- text=race drill$' ||
        t_fail "race" "$(cat "$T/race.out")"
    # Another connection of bob's device: its jobs come after the first's.
    out=$(pa bob.key ready)
    has "$out" 'text=race drill$' || t_fail "race" "$out"
    n=$(grep -c 'text=race drill$' "$T/race.out")
    bg_kill race boss
    [ "$n" -eq 1 ] || t_fail "race" "bob's device got the announcement $n times: $(cat "$T/race.out")"
    t_pass "PostgreSQL: an announcement taken while a login's contact list is read reaches that device once"
fi
rdv_stop main
echo "PASS: test_admin_announce"
