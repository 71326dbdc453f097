#!/usr/bin/env bash
# test: seconds 24
# SPDX-License-Identifier: MIT
#
# test_admin.sh - banter-admin against a running banter-rendezvous (ASan
# builds) on loopback, with rdv_probe devices:
#   1. who may administer: an admin key runs everything; an auditor key
#      may look but a change is refused (EPERM, exit 5, audited); a device
#      key, an unknown key, and a wrong pinned server key are refused with
#      the cause (exit 5, 5, 4) and nothing runs;
#   2. every command's round trip (text and --json), the local
#      `banter-rendezvous user ...` commands going through the same code
#      (their actions are in the same audit log); the last admin key can
#      be neither removed nor demoted (ELAST); a profile value with a
#      terminal escape refused, and what the server sends shown with its
#      control characters escaped;
#   3. a revoked device: its live session ends at once, it can never log
#      in again (EREVOKED); session kick ends live sessions;
#   3b. session kick, log level, policy set: recorded before they act,
#      refused (EAUDIT) when the audit log cannot be written;
#   4. the organisation's policy: set by admins only, signed, pushed at
#      once and at login to devices whose HELLO asks for it, applied to
#      the directory's public fields, kept across a restart;
#   5. backup: a consistent copy that sqlite3 and the server open (on
#      PostgreSQL, RDV_DB=postgresql: refused, pg_dump's job, after the
#      same checks of the name);
#   6. audit verify: intact, then finds an edited entry and a deleted one
#      (changed with SQL behind the server's back: rdv_lib.sh's sql, on
#      either backend).
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
pg=false
[ "${RDV_DB:-sqlite}" = postgresql ] && pg=true
$pg || command -v sqlite3 >/dev/null || t_fail setup "sqlite3 is not installed (scripts/deps.sh)"

rdv_setup adm ann bob cat
rdv() { "$RDV_BIN" --db rdv.db "$@" 2>&1; }
SFP=$(rdv fingerprint)
rdv_start main
export BANTER_ADMIN_SERVER=127.0.0.1:$PORT BANTER_ADMIN_SERVER_KEY=$SFP
# adm KEY ARGS...: banter-admin with the key file $T/KEY; output and exit code
adm() {
    local key=$1
    shift
    "$ADMIN_BIN" --key "$T/$key" "$@" 2>&1
}
for k in boss audit stranger; do
    "$ADMIN_BIN" --key "$T/$k.key" keygen >"$T/$k.fp" 2>/dev/null || t_fail setup "keygen $k"
    mode=$(stat -c %a "$T/$k.key")
    [ "$mode" = 600 ] || t_fail setup "$k.key has mode $mode"
done
out=$(rdv admin add "$(cat boss.fp)" --role admin) || t_fail "admin add" "$out"
out=$(rdv admin add "$(cat audit.fp)" --role=auditor) || t_fail "admin add" "$out"
for u in ann bob; do
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done

# ---- 1. who may administer ----
out=$(adm boss.key status) || t_fail "admin status" "$out"
has "$out" '^accounts +4, 0 online' || t_fail "admin status" "$out"
out=$(adm audit.key user list) || t_fail "auditor list" "$out"
has "$out" '^ann ' || t_fail "auditor list" "$out"
out=$(adm audit.key user disable ann)
rc=$?
[ "$rc" -eq 5 ] && has "$out" 'auditor key may only look.*EPERM' || t_fail "auditor change" "exit $rc: $out"
out=$(adm stranger.key status)
rc=$?
[ "$rc" -eq 5 ] && has "$out" 'is not an admin key: on the server machine run .banter-rendezvous admin add' ||
    t_fail "unknown key" "exit $rc: $out"
out=$(adm ann.key user list)
rc=$?
[ "$rc" -eq 5 ] && has "$out" 'is a device of ann, not an admin key.*EAUTH' || t_fail "device key" "exit $rc: $out"
out=$(adm boss.key --server-key "$(cat stranger.fp)" status)
rc=$?
[ "$rc" -eq 4 ] && has "$out" "server's key is not the pinned one" || t_fail "pin" "exit $rc: $out"
out=$(adm boss.key --server 127.0.0.1:1 status)
rc=$?
[ "$rc" -eq 3 ] || t_fail "no server" "exit $rc: $out"
rows "SELECT disabled FROM users WHERE name = 'ann'" | grep -qx 0 || t_fail "auditor change" "ann was disabled"
out=$(adm boss.key audit tail -n 50) || t_fail "audit tail" "$out"
has "$out" 'auditor [0-9]+ user.disable name=ann: EPERM' || t_fail "audit of the refusal" "$out"
! has "$out" 'stranger|device' || t_fail "audit" "refused keys are not audited: $out"
grep -q 'admin request status refused from 127.0.0.1: .* is not an admin key' "$T/main.err" ||
    t_fail "log" "no line for the refused key"
out=$("$RDV_PROBE" --key "$T/stranger.key" 127.0.0.1 "$PORT" hello type=60 wait=200 2>&1)
has "$out" 'recv error (EJSON|ETRUNCATED|ESCHEMA)' || t_fail "malformed request" "$out"
out=$("$RDV_PROBE" --key "$T/stranger.key" 127.0.0.1 "$PORT" hello type=61 type=62 wait=200 2>&1)
[ "$(count "$out" '^recv error EBADTYPE$')" -eq 2 ] || t_fail "server-only types" "$out"
t_pass "admin runs, auditor looks (change: EPERM, exit 5, audited), unknown and device keys refused (exit 5, logged), wrong server key exit 4, no server exit 3, malformed request refused, ADM_RESULT and RV_POLICY from a client refused (EBADTYPE)"

# ---- 2. every command ----
printf 'new pass\n' >pw2
out=$(adm boss.key user add dan --password-file pw2) && has "$out" '^added user dan$' || t_fail "user add" "$out"
out=$(adm boss.key user add dan --password-file pw2)
[ $? -eq 1 ] && has "$out" 'already exists' || t_fail "user add twice" "$out"
out=$(adm boss.key user set dan department Sales) || t_fail "user set" "$out"
json=$(adm boss.key user show dan --json) || t_fail "user show" "$json"
has "$json" '"name":"dan".*"profile":\{"department":"Sales"\}' || t_fail "user show --json" "$json"
out=$(adm boss.key user passwd dan --password-file pw) || t_fail "user passwd" "$out"
out=$(pr dan.key "login=dan:$PW" ready)
has "$out" '^recv auth ok user=dan ' || t_fail "user passwd" "the new password does not log in: $out"
out=$(adm boss.key user grant dan broadcast) && has "$out" 'may now send organisation broadcasts' ||
    t_fail "grant" "$out"
out=$(adm boss.key user revoke dan broadcast) && has "$out" 'may no longer' || t_fail "revoke" "$out"
out=$(adm boss.key user grant dan admin)
[ $? -eq 1 ] && has "$out" 'no right "admin"' || t_fail "grant admin" "$out"
json=$(adm boss.key --json user list) || t_fail "user list --json" "$json"
has "$json" '^\{"users":\[\{"name":"adm","admin":true,.*"name":"dan".*\],"total":5\}$' ||
    t_fail "user list --json" "$json"
sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 450)
    INSERT INTO users (name, pwhash, admin, disabled, created, broadcast)
    SELECT 'zz' || substr(CAST(1000 + i AS TEXT), 2), 'x', 0, 1, 0, 0 FROM n" >/dev/null ||
    t_fail "many users" "sql"
json=$(adm boss.key --json user list) || t_fail "user list pages" "$json"
[ "$(grep -o '"name":"zz[0-9]*"' <<<"$json" | sort -u | wc -l)" -eq 450 ] && has "$json" '"total":455\}$' &&
    ! has "$json" '"next"' || t_fail "user list pages" "$(head -c 300 <<<"$json")"
out=$(adm boss.key user list) || t_fail "user list pages" "$out"
[ "$(wc -l <<<"$out")" -eq 456 ] && [ "$(count "$out" '^NAME ')" -eq 1 ] || t_fail "user list pages" "$(wc -l <<<"$out") lines"
sql "DELETE FROM users WHERE name LIKE 'zz%'" >/dev/null || t_fail "many users" "sql"
out=$(adm boss.key device list) || t_fail "device list" "$out"
[ "$(count "$out" '^(ann|bob|dan) ')" -eq 3 ] || t_fail "device list" "$out"
out=$(adm boss.key device list --user ann --json)
has "$out" '"devices":\[\{"user":"ann","fingerprint":"[0-9 ]{47}","key":"[0-9a-f]{64}"' &&
    has "$out" '"total":1' || t_fail "device list --user" "$out"
out=$(adm boss.key mailbox stats --json) && has "$out" '"copies":0' || t_fail "mailbox stats" "$out"
out=$(adm boss.key mailbox purge --older-than 30) && has "$out" '^deleted 0 stored copies' ||
    t_fail "mailbox purge" "$out"
out=$(adm boss.key config show) && has "$out" '^mailbox_ttl_days +30' || t_fail "config show" "$out"
out=$(adm boss.key log level) && has "$out" '^log level info$' || t_fail "log level" "$out"
out=$(adm boss.key log level debug) && has "$out" 'now debug' || t_fail "log level debug" "$out"
adm boss.key status >/dev/null
grep -q 'debug: connection from 127.0.0.1 accepted' "$T/main.err" || t_fail "log level debug" "no debug line"
out=$(adm boss.key log level loud)
[ $? -eq 1 ] && has "$out" 'no log level "loud".*EINVAL' || t_fail "log level loud" "$out"
out=$(adm audit.key log level info)
[ $? -eq 5 ] || t_fail "log level by an auditor" "$out"
out=$(adm boss.key log level info) || t_fail "log level info" "$out"
out=$(adm boss.key admin list) && [ "$(count "$out" ' (admin|auditor) ')" -eq 2 ] || t_fail "admin list" "$out"
out=$(adm boss.key admin add "$(cat stranger.fp)" --role auditor) || t_fail "remote admin add" "$out"
out=$(adm stranger.key status) || t_fail "remote admin add" "the new auditor cannot look: $out"
out=$(adm boss.key admin remove "$(cat stranger.fp)") || t_fail "admin remove" "$out"
out=$(adm stranger.key status)
[ $? -eq 5 ] || t_fail "admin remove" "the removed key still works: $out"
out=$(adm boss.key admin remove "$(cat boss.fp)")
[ $? -eq 1 ] && has "$out" 'last admin key.*\(ELAST\)' || t_fail "remove the last admin" "$out"
# nor made an auditor, which would leave no admin just the same
out=$(adm boss.key admin add "$(cat boss.fp)" --role auditor)
[ $? -eq 1 ] && has "$out" 'last admin key.*\(ELAST\)' || t_fail "demote the last admin" "$out"
out=$(adm boss.key admin list) && has "$out" "^$(cat boss.fp) +admin " || t_fail "demote the last admin" "$out"
out=$(adm boss.key log level info) || t_fail "demote the last admin" "the admin lost its role: $out"
out=$(adm boss.key admin add "$("$ADMIN_BIN" --key "$T/ann.key" fingerprint)" --role admin)
[ $? -eq 1 ] && has "$out" 'that key is a device of ann' || t_fail "device key as admin" "$out"
out=$(adm boss.key user delete dan) && has "$out" '^deleted user dan' || t_fail "user delete" "$out"
[ -z "$(rows "SELECT key FROM devices WHERE \"user\" = 'dan'")" ] || t_fail "user delete" "devices left"
out=$(adm boss.key user show dan)
[ $? -eq 1 ] && has "$out" 'no user dan' || t_fail "user delete" "$out"
# a deleted account's name is not handed to a new account unless asked:
# colleagues' nodes still take it for the person who had it
out=$(adm boss.key user add dan --password-file pw2)
[ $? -eq 1 ] && has "$out" 'belonged to an account deleted .*--reuse-name.*ERETIRED' || t_fail "name reuse" "$out"
out=$(rdv user add dan --password-file pw)
[ $? -eq 1 ] && has "$out" 'belonged to an account deleted .*--reuse-name' || t_fail "name reuse, local" "$out"
out=$(adm boss.key user add dan --password-file pw2 --reuse-name) && has "$out" '^added user dan$' &&
    has "$out" 'handed over' || t_fail "name reuse" "$out"
out=$(adm boss.key user delete dan) || t_fail "user delete" "$out"
out=$(rdv user add dan --password-file pw --reuse-name) && has "$out" 'added user dan' || t_fail "name reuse, local" "$out"
out=$(adm boss.key audit tail -n 6)
has "$out" 'user.add name=dan: ERETIRED' && has "$out" 'user.add name=dan reuse_name=yes: ok' ||
    t_fail "name reuse audited" "$out"
out=$(adm boss.key user delete dan) || t_fail "user delete" "$out"
out=$(rdv user add eve --password-file pw) || t_fail "local user add" "$out"
out=$(rdv user set eve title Engineer) || t_fail "local user set" "$out"
out=$(adm boss.key user show eve) && has "$out" '^title +Engineer$' || t_fail "local then remote" "$out"
out=$(adm boss.key audit tail -n 3)
has "$out" 'local uid [0-9]+ user.add name=eve: ok' && has "$out" 'local uid [0-9]+ user.set name=eve field=title value="Engineer": ok' ||
    t_fail "local commands audited" "$out"
# a terminal escape (CSI, U+009B, which the request's codec lets by) is
# refused in a profile; its refusal is audited with the value, and
# banter-admin shows that escaped (\x9b; \u009b in --json), never raw
out=$(adm boss.key user set eve title $'x\xc2\x9b2Jy')
[ $? -eq 1 ] && has "$out" 'no control characters.*\(EINVAL\)' || t_fail "escape in a profile" "$out"
out=$(adm boss.key audit tail -n 1)
has "$out" 'value="x\\x9b2Jy"' || t_fail "audit tail escaped" "$out"
! grep -q $'\xc2\x9b' <<<"$out" || t_fail "audit tail escaped" "a raw CSI was printed"
out=$(adm boss.key audit tail -n 2 --json) # the user.set, then the audit tail
has "$out" 'x\\u009b2Jy' && ! grep -q $'\xc2\x9b' <<<"$out" || t_fail "audit tail --json escaped" "$out"
! grep -q 'new pass' rdv.db rdv.db-wal 2>/dev/null || t_fail "password" "a password is in the database in clear"
! grep -q 'new pass' "$T/main.err" || t_fail "password" "a password is in the log"
t_pass "user add/show/set/passwd/grant/revoke/list (455 accounts in 3 pages, one --json object)/delete, device list, mailbox stats/purge, config show, log level, admin list/add/remove round trips; local user commands run the same code and are audited; no password stored or logged"

# ---- 3. revoked device, kicked session ----
bgp a ann.key ready wait=10000
wait_out a '^ready$' || t_fail "revoke" "$(cat "$T/a.out")"
fp=$(adm boss.key device list --user ann --json | grep -oE '"fingerprint":"[0-9 ]+"' | cut -d'"' -f4)
[ -n "$fp" ] || t_fail "revoke" "no fingerprint for ann's device"
t0=$(now_ms)
out=$(adm boss.key device revoke "${fp:0:17}") || t_fail "revoke" "$out"
has "$out" "revoked device $fp of ann: it can no longer log in; its session was ended" ||
    t_fail "revoke" "$out"
wait_out a '^(recv bye device revoked by an admin|closed)' 2 || t_fail "revoke" "ann: $(cat "$T/a.out")"
t=$(($(now_ms) - t0))
out=$(pr ann.key "login=ann:$PW")
has "$out" '^recv auth fail error=EREVOKED' && ! has "$out" 'auth ok' || t_fail "revoked login" "$out"
out=$(pr ann.key wait=300)
! has "$out" 'auth ok' || t_fail "revoked hello" "$out"
bg_kill a
bgp b bob.key ready wait=10000
wait_out b '^ready$' || t_fail "kick" "$(cat "$T/b.out")"
out=$(adm boss.key session list) && has "$out" '^bob +[0-9 ]{47} 127\.0\.0\.1' || t_fail "session list" "$out"
t0=$(now_ms)
out=$(adm boss.key session kick bob) && has "$out" '^ended 1 session of bob' || t_fail "kick" "$out"
wait_out b '^(recv bye session ended by an admin|closed)' 2 || t_fail "kick" "bob: $(cat "$T/b.out")"
tk=$(($(now_ms) - t0))
bg_kill b
out=$(pr bob.key ready)
has "$out" '^recv auth ok user=bob ' || t_fail "kick" "bob cannot come back: $out"
t_pass "device revoke ended the live session in $t ms and the device is refused (EREVOKED); session list; session kick ended bob's session in $tk ms, and bob may log in again"

# ---- 3b. what changes only the running server is recorded first ----
# A failing audit log (a trigger stands for a full disk) refuses session
# kick, log level and policy set before they act; once it writes again,
# the entry says "accepted" before the action, and a failure after it
# gets an entry of its own.
bgp b bob.key ready wait=60000
wait_out b '^ready$' 10 || t_fail "audit first" "$(cat "$T/b.out")"
if $pg; then
    sql "CREATE FUNCTION audit_full() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END\$\$; CREATE TRIGGER audit_full BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_full()" >/dev/null ||
        t_fail "audit first" "cannot make the trigger"
else
    sql "CREATE TRIGGER audit_full BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END" >/dev/null ||
        t_fail "audit first" "cannot make the trigger"
fi
nlog=$(grep -c 'log level debug (set by' "$T/main.err")
out=$(adm boss.key session kick bob)
[ $? -eq 1 ] && has "$out" 'nothing was done: the audit log cannot record it.*EAUDIT' || t_fail "kick, no audit" "$out"
out=$(adm boss.key log level debug)
[ $? -eq 1 ] && has "$out" 'EAUDIT' || t_fail "log level, no audit" "$out"
out=$(adm boss.key policy set max_file_mb 30)
[ $? -eq 1 ] && has "$out" 'EAUDIT' || t_fail "policy set, no audit" "$out"
grep -q 'cannot append to the audit log' "$T/main.err" || t_fail "audit first" "not in the server's log"
[ "$(grep -c 'log level debug (set by' "$T/main.err")" = "$nlog" ] || t_fail "log level, no audit" "the level changed"
out=$(adm boss.key policy show) && has "$out" '^no policy set yet' || t_fail "policy set, no audit" "$out"
kill -0 "${BGP[b]}" 2>/dev/null && ! grep -qE '^(recv bye|closed)' "$T/b.out" ||
    t_fail "kick, no audit" "bob's session ended: $(cat "$T/b.out")"
if $pg; then
    sql "DROP TRIGGER audit_full ON audit; DROP FUNCTION audit_full()" >/dev/null
else
    sql "DROP TRIGGER audit_full" >/dev/null
fi || t_fail "audit first" "cannot drop the trigger"
out=$(adm boss.key session kick bob) && has "$out" '^ended 1 session of bob' || t_fail "kick" "$out"
wait_out b '^(recv bye session ended by an admin|closed)' 10 || t_fail "kick" "bob: $(cat "$T/b.out")"
bg_kill b
out=$(adm boss.key log level verbose)
[ $? -eq 1 ] && has "$out" 'no log level "verbose"' || t_fail "log level verbose" "$out"
out=$(adm boss.key audit tail -n 4)
has "$out" 'session.kick name=bob: accepted' && has "$out" 'log.level level=verbose: accepted' &&
    has "$out" 'log.level level=verbose: EINVAL: no log level' || t_fail "audit first" "$out"
out=$(adm boss.key audit verify) && has "$out" 'is intact' || t_fail "audit first" "$out"
t_pass "with the audit log failing, session kick, log level and policy set are refused (EAUDIT, exit 1) and do nothing; then recorded as accepted before they act, a failure after that recorded too"

# ---- 4. the organisation's policy ----
out=$(adm boss.key policy show) && has "$out" '^no policy set yet' && has "$out" '^public_fields +display_name$' ||
    t_fail "policy show" "$out"
out=$(pr cat.key "login=cat:$PW" ready)
has "$out" '^recv auth ok user=cat ' || t_fail "policy" "$out"
out=$(adm boss.key user set cat department Sales) || t_fail "policy" "$out" # the admins' field
out=$(pr bob.key ready search=0:10:department=sales)
has "$out" '^recv result total=0 ' || t_fail "policy" "department is not public yet: $out"
"$RDV_PROBE" --key "$T/bob.key" 127.0.0.1 "$PORT" hellop ready wait=6000 >"$T/pol.out" 2>&1 &
BGP[pol]=$!
RDV_PIDS+=($!)
bgp plain bob.key ready wait=6000
wait_out pol '^ready$' && wait_out plain '^ready$' || t_fail "policy" "$(cat "$T/pol.out" "$T/plain.out")"
grep -q 'recv policy' "$T/pol.out" && t_fail "policy" "a policy before any was set"
out=$(adm audit.key policy set max_file_mb 25)
[ $? -eq 5 ] || t_fail "policy set by an auditor" "$out"
out=$(adm boss.key policy set max_file_mb 25) && has "$out" '^policy 1, signed' && has "$out" '^max_file_mb +25$' ||
    t_fail "policy set" "$out"
wait_out pol '^recv policy serial=1 max_file_mb=25 history_days=0 auto_accept=1 lan=1 public=1$' 2 ||
    t_fail "policy push" "$(cat "$T/pol.out")"
out=$(adm boss.key policy set auto_accept no) || t_fail "policy set" "$out"
out=$(adm boss.key policy set public_fields display_name,department) || t_fail "policy set" "$out"
wait_out pol '^recv policy serial=3 max_file_mb=25 history_days=0 auto_accept=0 lan=1 public=3$' 2 ||
    t_fail "policy push" "$(cat "$T/pol.out")"
out=$(adm boss.key policy set retention 5)
[ $? -eq 1 ] && has "$out" 'is not a policy rule' || t_fail "policy set bad rule" "$out"
out=$(adm boss.key policy set history_days 99999999)
[ $? -eq 1 ] || t_fail "policy set bad value" "$out"
out=$(pr bob.key ready search=0:10:department=sales)
has "$out" '^recv result total=1 page=0 users=cat$' || t_fail "policy public_fields" "$out"
bg_done pol
bg_done plain
grep -q 'recv policy' "$T/plain.out" && t_fail "policy" "sent to a node that did not ask: $(cat "$T/plain.out")"
out=$("$RDV_PROBE" --key "$T/bob.key" 127.0.0.1 "$PORT" hellop ready 2>&1)
has "$out" '^recv policy serial=3 ' || t_fail "policy at login" "$out"
t_pass "policy: set by an admin only, signed and pushed at once to devices that take it (serial 1..3), at login too, never to others; public_fields changes the directory at once; bad rules refused"

# ---- 5. backup ----
if $pg; then
    out=$(adm boss.key backup snap.db)
    [ $? -eq 1 ] && has "$out" 'pg_dump' || t_fail "backup on PostgreSQL" "$out"
    [ ! -e snap.db ] || t_fail "backup on PostgreSQL" "a file was made"
else
    out=$(adm boss.key backup snap.db) && has "$out" "backed up the database to .*/snap.db" ||
        t_fail "backup" "$out"
    [ "$(stat -c %a snap.db)" = 600 ] || t_fail "backup" "mode $(stat -c %a snap.db)"
    [ "$(sqlite3 snap.db 'PRAGMA integrity_check')" = ok ] || t_fail "backup" "integrity_check"
    out=$(adm boss.key backup snap.db)
    [ $? -eq 1 ] && has "$out" 'no backup: cannot create' || t_fail "backup over a file" "$out"
fi
out=$(adm boss.key backup ../x.db)
[ $? -eq 2 ] && has "$out" 'bad argument' || t_fail "backup path" "$out"
[ ! -e ../x.db ] || t_fail "backup path" "written outside"
out=$(adm boss.key backup rdv.db-journal)
[ $? -eq 1 ] && has "$out" 'is not a backup name' || t_fail "backup as a journal" "$out"
[ ! -e rdv.db-journal ] || t_fail "backup as a journal" "rdv.db-journal was made"
if $pg; then
    t_pass "backup: refused on PostgreSQL (pg_dump), the name checked the same; no path outside"
else
    t_pass "backup: a 0600 copy that passes integrity_check; an existing file is never replaced; no path outside"
fi

# ---- 6. audit verify ----
out=$(adm boss.key audit verify) && has "$out" 'the audit log is intact: [0-9]+ entries' || t_fail "verify" "$out"
n=$(rows "SELECT count(*) FROM audit")
# (on PostgreSQL the edited entry is put back instead of the backup)
$pg && { sql "CREATE TABLE audit_kept AS SELECT seq, target FROM audit WHERE seq = 3" >/dev/null ||
    t_fail "tamper" "sql"; }
sql "UPDATE audit SET target = 'name=mallory' WHERE seq = 3" >/dev/null || t_fail "tamper" "sql"
out=$(adm boss.key audit verify)
[ $? -eq 1 ] && has "$out" 'tampered with: entry 3: it was changed' || t_fail "verify edited" "$out"
rdv_stop main
if $pg; then
    sql "UPDATE audit SET target = (SELECT target FROM audit_kept) WHERE seq = 3;
         DROP TABLE audit_kept" >/dev/null || t_fail "tamper" "sql"
else
    cp snap.db rdv.db && rm -f rdv.db-wal rdv.db-shm
fi
rdv_start snap
out=$(adm boss.key audit verify) && has "$out" 'intact' || t_fail "backup opens" "$out"
out=$(adm boss.key user list) && has "$out" '^bob ' || t_fail "backup opens" "$out"
out=$(adm boss.key policy show) && has "$out" '^policy 3, signed' || t_fail "policy kept" "$out"
grep -q 'directory: public fields: display_name,department (the organisation.s policy)' "$T/snap.err" ||
    t_fail "policy kept" "$(grep directory "$T/snap.err")"
sql "DELETE FROM audit WHERE seq = 5" >/dev/null || t_fail "tamper" "sql"
out=$(adm boss.key audit verify)
[ $? -eq 1 ] && has "$out" 'entry 6: an entry before it is missing' || t_fail "verify deleted" "$out"
sql "UPDATE audit SET seq = 5 WHERE seq = 6" >/dev/null || t_fail "tamper" "sql"
out=$(adm boss.key audit verify)
[ $? -eq 1 ] && has "$out" 'entry 5: it was changed' || t_fail "verify renumbered" "$out"
rdv_stop snap
$pg && what="the database, restarted, serves with the policy" ||
    what="the backup serves as the database, with the policy"
t_pass "audit verify: intact ($n entries), then finds an edited entry, a deleted one and a renumbered one; $what"
echo "PASS: test_admin"
