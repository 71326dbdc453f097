#!/usr/bin/env bash
# test: seconds 32
# SPDX-License-Identifier: MIT
#
# test_rendezvous_admin.sh - what an admin does to a running
# banter-rendezvous (ASan build), with rdv_probe clients on loopback:
#   1. broadcast by an admin to everyone: a connected device gets it at
#      once, an offline one at its next login; recipients are every enabled
#      account with a device but the sender; to one department (case
#      insensitive) only its members, whom an admin put there (an
#      account's own RV_PROFILE_SET with a department is EPERM);
#   2. a plain user: RV_BROADCAST_TO is ERROR EPERM; `user grant NAME
#      broadcast` gives the right to its live session at once, `user revoke`
#      takes it back;
#   3. `user disable NAME` ends the account's live sessions at once (RV_AUTH
#      EDISABLED; contacts see it offline; its copies refused ENOUSER); the
#      device gets EDISABLED when it reconnects; `user enable` undoes it;
#   4. the control socket: 0600 beside the database; a second server on the
#      same database refuses to start; one left by a killed server is
#      replaced; commands with no server running say so.
# Needs $RDV_BIN and $RDV_PROBE (the ASan builds by default).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"

rdv_setup adm ann bob cat dan eve zed
rdv() { "$RDV_BIN" --db rdv.db "$@" 2>&1; }
rdv_start main
for u in adm ann bob cat dan eve; do
    dept=Sales
    case $u in dan) dept=Ops ;; eve) dept=ops ;; esac
    out=$(rdv user set "$u" department "$dept") || t_fail "department $u" "$out" # the admins' field
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done
# nobody joins a department by themselves (it decides whom a broadcast to
# it reaches): ann's own RV_PROFILE_SET with one is refused EPERM
out=$(pr ann.key ready profile=department=Ops sync)
has "$out" '^recv error EPERM$' || t_fail "own department" "$out"

# ---- 1. broadcast ----
bgp b bob.key ready wait=2500
wait_out b '^ready$'
out=$(pr adm.key ready "bcast=:Stand-up in 5 minutes" stored=5)
has "$out" '^recv recipients total=5 page=0 users=ann,bob,cat,dan,eve$' ||
    t_fail "recipients" "expected everyone with a device but the sender (zed has none): $out"
[ "$(count "$out" 'state=delivered')" -eq 1 ] && [ "$(count "$out" 'state=stored')" -eq 4 ] ||
    t_fail "broadcast" "expected bob's copy delivered, 4 stored: $out"
bg_done b
grep -q '^recv sealed from=adm .* flags=1 body=Stand-up in 5 minutes check=ok$' "$T/b.out" ||
    t_fail "broadcast" "bob: $(cat "$T/b.out")"
out=$(pr cat.key ready sealed=1)
has "$out" '^recv sealed from=adm .* flags=1 body=Stand-up in 5 minutes check=ok$' ||
    t_fail "broadcast" "cat at login: $out"
t_pass "broadcast to everyone: the connected device at once, an offline one at its next login"
out=$(pr adm.key ready "bcast=OPS:Ops meeting" stored=2)
has "$out" '^recv recipients total=2 page=0 users=dan,eve$' && [ "$(count "$out" 'state=stored')" -eq 2 ] ||
    t_fail "department" "$out"
out=$(pr dan.key ready sealed=2)
has "$out" 'body=Ops meeting check=ok' && has "$out" 'body=Stand-up in 5 minutes' ||
    t_fail "department" "$out"
out=$(pr ann.key ready sealed=1 wait=300)
has "$out" 'Ops meeting' && t_fail "department" "ann (Sales) got the Ops broadcast: $out"
t_pass "broadcast to one department (case-insensitive): only its members, whom an admin put there (joining by oneself is EPERM)"

# ---- 2. the right ----
out=$(pr ann.key ready bto=:0)
has "$out" '^recv error EPERM$' || t_fail "EPERM" "$out"
# ann's connected device asks after each change was applied (files, not
# sleeps: on a loaded machine a change could land after a fixed delay).
bgp a ann.key ready waitfile="$T/granted" bto=:0 waitfile="$T/revoked" bto=:0
wait_out a '^ready$'
out=$(rdv user grant ann broadcast) || t_fail "grant" "$out"
has "$out" '^user ann may now send organisation broadcasts$' &&
    has "$out" '^the running server applied the change$' || t_fail "grant" "$out"
touch "$T/granted"
wait_out a '^recv (recipients|error)' 10 || t_fail "grant" "no answer: $(cat "$T/a.out")"
out=$(rdv user revoke ann broadcast) || t_fail "revoke" "$out"
has "$out" '^the running server applied the change$' || t_fail "revoke" "$out"
touch "$T/revoked"
bg_done a
[ "$(grep -E '^recv (recipients|error)' "$T/a.out" | cut -d' ' -f2-3 | tr '\n' '|')" = "recipients total=5|error EPERM|" ] ||
    t_fail "grant/revoke" "expected recipients, then EPERM: $(cat "$T/a.out")"
out=$(rdv user grant ann broadcast)
out=$(rdv user grant ann broadcast)
has "$out" 'already had the broadcast right' || t_fail "grant twice" "$out"
out=$(rdv user grant nobody broadcast)
has "$out" 'no user nobody' || t_fail "grant unknown" "$out"
out=$(rdv user grant ann admin)
has "$out" 'usage: user grant NAME broadcast' || t_fail "grant admin" "$out"
rdv user list | grep -qE '^ann +no +no +yes ' || t_fail "list" "$(rdv user list)"
t_pass "EPERM for a plain user; grant and revoke reach its live session at once; user list shows the right"

# ---- 3. disable ----
pr ann.key ready contact=request:bob >/dev/null
pr bob.key ready contact=approve:ann >/dev/null
# (Both listen for up to 30 s and are ended after the checks: under a
# loaded run a fixed 3 s could end bob's session before the disable.)
bgp b bob.key ready wait=30000
wait_out b '^ready$' || t_fail "disable" "$(cat "$T/b.out")"
bgp a ann.key ready wait=30000
wait_out a '^ready$' || t_fail "disable" "$(cat "$T/a.out")"
grep -q '^recv contact bob state=approved status=online' "$T/a.out" || t_fail "disable" "$(cat "$T/a.out")"
t0=$(now_ms)
out=$(rdv user disable bob) || t_fail "disable" "$out"
has "$out" '^disabled user bob: it can no longer log in$' &&
    has "$out" '^the running server ended 1 live session of bob$' || t_fail "disable" "$out"
wait_out b '^recv auth fail error=EDISABLED' 2 || t_fail "disable" "bob: $(cat "$T/b.out")"
wait_out a '^recv presence bob offline' 2 || t_fail "disable" "ann: $(cat "$T/a.out")"
t=$(($(now_ms) - t0))
bob_dev=$(devkey bob.key)
out=$(pr ann.key ready "sealto=bob:$bob_dev:still there?" stored=1)
has "$out" 'state=refused error=ENOUSER$' || t_fail "disable" "$out"
out=$(pr bob.key ready contact=request:ann wait=200)
has "$out" '^recv auth fail error=EDISABLED' && has "$out" '^recv error EAUTH$' &&
    ! has "$out" '^recv auth ok' || t_fail "disable" "reconnecting: $out"
bg_kill a b
t_pass "user disable: the live session ended in $t ms (EDISABLED), contacts see offline, copies refused, reconnecting is EDISABLED"
out=$(rdv user enable bob)
has "$out" '^enabled user bob: it can log in again$' || t_fail "enable" "$out"
out=$(pr bob.key ready)
has "$out" '^recv auth ok user=bob ' || t_fail "enable" "$out"
t_pass "user enable: the device logs in by its key again"

# ---- 4. the control socket ----
mode=$(stat -c %a rdv.db.sock)
[ "$mode" = 600 ] || t_fail "socket" "rdv.db.sock has mode $mode"
"$RDV_BIN" --db rdv.db --listen 127.0.0.1:0 >second.log 2>second.err
rc=$?
[ "$rc" -eq 1 ] && grep -q 'another banter-rendezvous is serving this database' second.err ||
    t_fail "second server" "exit $rc: $(cat second.err)"
t_pass "the control socket is 0600; a second server on the same database refuses to start"
rdv_kill
[ -S rdv.db.sock ] || t_fail "stale socket" "the killed server's socket is gone"
out=$(rdv user disable zed)
has "$out" 'no server is running on rdv.db' || t_fail "no server" "$out"
rdv_start again
out=$(rdv user enable zed)
has "$out" 'the running server applied the change' || t_fail "stale socket" "$out"
rdv_stop again
[ -e rdv.db.sock ] && t_fail "socket" "left behind after a clean stop"
t_pass "a socket left by a killed server is replaced; without a server the command says so; removed at stop"
echo "PASS: test_rendezvous_admin"
