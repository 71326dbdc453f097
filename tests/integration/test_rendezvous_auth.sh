#!/usr/bin/env bash
# test: seconds 34
# SPDX-License-Identifier: MIT
#
# test_rendezvous_auth.sh - banter-rendezvous authentication and directory,
# on loopback with rdv_probe (other 127.x source addresses stand for other
# clients to the per-address rate limit):
#   1. wrong password and unknown user both EPASSWORD; a disabled account
#      EDISABLED; the right password: RV_AUTH ok and a certificate signed
#      by the key the server proved, for the probe's own device key, 1 day (renewed while logged in);
#   2. the same device reconnects: authenticated without a password (and
#      what it sends right behind HELLO is handled as authenticated); a
#      second device for the same account; logout, then reconnecting is not
#      authenticated;
#   3. rate limit: an attempt right after a failure, and after 3 failures in
#      a row, is ERATE with retry_after_ms;
#   4. before login, RV_SEARCH and RV_PROFILE_SET are ERROR EAUTH;
#   5. profiles and search (department and title made public with
#      directory_public_fields): eq, contains, several criteria,
#      pagination, order by name, disabled users hidden, only the public
#      fields of non-contacts shown, every field set of oneself; an
#      "about" with a terminal escape (ESC, CSI) refused EINVAL; one's own
#      department refused EPERM (an admin sets it);
#   6. the password never appears in the log; SIGTERM exit 0; no sanitizer
#      report. Prints the login rate (Argon2id, 2 checks at a time).
# Needs $RDV_BIN and $RDV_PROBE (as test_rendezvous_basic.sh).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
RDV_PROBE=${RDV_PROBE:-$here/../../build/asan/tests/rdv_probe}
for v in RDV_BIN RDV_PROBE; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make test-run builds it, or set $v)"
done
RDV_BIN=$(cd "$(dirname "$RDV_BIN")" && pwd)/$(basename "$RDV_BIN")
RDV_PROBE=$(cd "$(dirname "$RDV_PROBE")" && pwd)/$(basename "$RDV_PROBE")
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

T=$(mktemp -d /tmp/bt-rdvauth.XXXXXX) || t_fail setup mktemp
SRV=
cleanup() {
    [ -n "$SRV" ] && kill -KILL "$SRV" 2>/dev/null
    [ -z "${BT_KEEP_TMP:-}" ] && rm -rf "$T"
    return 0
}
trap cleanup EXIT
cd "$T" || t_fail setup "cd $T"

PW="correct horse $RANDOM battery"
printf '%s\n' "$PW" >pw
for u in alice bob carol dave erin zed; do
    "$RDV_BIN" --db rdv.db user add "$u" --password-file pw >/dev/null 2>&1 || t_fail setup "user add $u"
done
"$RDV_BIN" --db rdv.db user disable zed >/dev/null 2>&1 || t_fail setup "disable zed"

printf 'directory_public_fields = display_name, department, title\n' >rdv.conf
PORT=
for _ in 1 2 3 4 5 6 7 8; do
    p=$((17000 + RANDOM % 900))
    "$RDV_BIN" --config rdv.conf --db rdv.db --listen "127.0.0.1:$p" >srv.log 2>srv.err </dev/null &
    SRV=$!
    up() { grep -q "listening on 127.0.0.1:$p," srv.err || ! kill -0 "$SRV" 2>/dev/null; }
    wait_for 10 up
    if grep -q "listening on 127.0.0.1:$p," srv.err; then PORT=$p; break; fi
done
[ -n "$PORT" ] || t_fail setup "the server did not start: $(cat srv.err)"

# pr SOURCE STEP...: the probe from 127.0.0.SOURCE, a fresh device key.
pr() {
    local src=$1
    shift
    "$RDV_PROBE" --source "127.0.0.$src" 127.0.0.1 "$PORT" hello "$@" 2>&1
}
# pk SOURCE KEY STEP...
pk() {
    local src=$1 key=$2
    shift 2
    "$RDV_PROBE" --source "127.0.0.$src" --key "$key" 127.0.0.1 "$PORT" hello "$@" 2>&1
}
has() { grep -qE "$2" <<<"$1"; }

# ---- 1. login ----
out=$(pr 2 "login=alice:wrong")
has "$out" '^recv auth fail error=EPASSWORD ' || t_fail "wrong password" "$out"
out=$(pr 3 "login=nobody:$PW")
has "$out" '^recv auth fail error=EPASSWORD ' || t_fail "unknown user" "$out"
t_pass "wrong password and unknown user: both EPASSWORD"
out=$(pr 4 "login=zed:$PW")
has "$out" '^recv auth fail error=EDISABLED ' || t_fail "disabled" "$out"
t_pass "disabled account: EDISABLED"
out=$(pk 5 dev1.key "login=bob:$PW")
has "$out" '^recv auth ok user=bob admin=0$' &&
    has "$out" '^recv cert user=bob server=ok device=ok check=ok days=1$' ||
    t_fail "login" "expected RV_AUTH ok and a valid certificate: $out"
t_pass "login: RV_AUTH ok, certificate from the pinned server key for this device, valid a day"

# ---- 2. devices ----
out=$(pk 5 dev1.key)
has "$out" '^recv auth ok user=bob' && has "$out" '^recv cert user=bob .*check=ok' ||
    t_fail "device key" "reconnecting did not authenticate: $out"
t_pass "the bound device is authenticated by its key alone"
# HELLO's device lookup runs on the database thread: what the device sends
# right behind HELLO waits for it (handled as authenticated, answered
# after RV_AUTH), and a PING's PONG comes after RV_AUTH too.
out=$(pk 5 dev1.key status=away ping)
! has "$out" '^recv error EAUTH' && has "$out" '^recv pong' &&
    [ "$(grep -n '^recv auth ok' <<<"$out" | cut -d: -f1)" -lt "$(grep -n '^recv pong' <<<"$out" | cut -d: -f1)" ] ||
    t_fail "pipelined" "a message right behind HELLO was not handled as authenticated: $out"
t_pass "messages right behind HELLO are handled after its device lookup (no EAUTH; PONG after RV_AUTH)"
out=$(pk 6 dev2.key "login=bob:$PW")
has "$out" '^recv auth ok user=bob' || t_fail "second device" "$out"
out=$(pk 5 dev1.key)
has "$out" '^recv auth ok user=bob' || t_fail "second device" "the first one lost its binding: $out"
t_pass "a second device for the same account; the first stays bound"
out=$(pk 6 dev2.key logout)
has "$out" '^recv auth fail error=ELOGGEDOUT' || t_fail "logout" "$out"
out=$(pk 6 dev2.key)
has "$out" '^recv auth' && t_fail "logout" "still authenticated after logout: $out"
t_pass "logout: ELOGGEDOUT, and the device is no longer authenticated"

# ---- 3. rate limit ----
out=$(pr 7 "login=carol:wrong1" "login=carol:$PW")
has "$out" '^recv auth fail error=EPASSWORD' &&
    has "$out" '^recv auth fail error=ERATE retry_after_ms=[1-9]' || t_fail "rate" "$out"
t_pass "an attempt right after a failure: ERATE ($(grep ERATE <<<"$out"))"
out=$(pr 8 "login=dave:w1" wait=1100 "login=dave:w2" wait=2100 "login=dave:w3" "login=dave:w4")
[ "$(grep -c 'error=EPASSWORD' <<<"$out")" -eq 3 ] || t_fail "3 failures" "$out"
r=$(sed -n 's/^recv auth fail error=ERATE retry_after_ms=\([0-9]*\)$/\1/p' <<<"$out")
[ -n "$r" ] && [ "$r" -gt 3000 ] && [ "$r" -le 4000 ] ||
    t_fail "3 failures" "expected ERATE with retry_after_ms in 3000-4000: $out"
t_pass "3 wrong passwords in a row: ERATE, retry_after_ms=$r (4 s backoff)"
sleep 4.2
out=$(pr 8 "login=dave:$PW")
has "$out" '^recv auth ok user=dave' || t_fail "after backoff" "$out"
t_pass "after the backoff the right password works (and resets the counters)"

# ---- 4. unauthenticated ----
out=$(pr 9 "search=0:10:user~a" "profile=title=x")
[ "$(grep -c '^recv error EAUTH$' <<<"$out")" -eq 2 ] || t_fail "EAUTH" "$out"
t_pass "RV_SEARCH and RV_PROFILE_SET before login: ERROR EAUTH"

# ---- 5. directory ----
# departments are set by an admin (here on the server machine), not by
# the accounts themselves
for ud in alice:Sales erin:sales bob:R\&D; do
    "$RDV_BIN" --db rdv.db user set "${ud%%:*}" department "${ud#*:}" >/dev/null 2>&1 ||
        t_fail setup "department of ${ud%%:*}"
done
pk 10 a.key "login=alice:$PW" "profile=display_name=Alice Archer" \
    "profile=title=Manager" "profile=email=alice@example.com" >/dev/null
pk 10 e.key "login=erin:$PW" "profile=display_name=Erin Eastwood" \
    "profile=title=Engineer" >/dev/null
out=$(pk 5 dev1.key "profile=display_name=Bob Baker" "profile=title=Engineer" \
    "search=0:10:department=SALES")
has "$out" '^recv result total=2 page=0 users=alice,erin$' || t_fail "eq" "$out"
has "$out" '^recv user alice display_name=Alice Archer department=Sales title=Manager$' ||
    t_fail "fields" "expected the public fields only, no e-mail (not a contact): $out"
t_pass "eq is case-insensitive; results ordered by name; only the public fields of a non-contact"
out=$(pk 5 dev1.key "search=0:10:display_name~ER" "search=0:10:title=engineer,department~sal")
has "$out" '^recv result total=3 page=0 users=alice,bob,erin$' &&
    has "$out" '^recv result total=1 page=0 users=erin$' || t_fail "contains" "$out"
t_pass "contains (case-insensitive substring); several criteria all match"
out=$(pk 5 dev1.key "search=0:2:user~e" "search=1:2:user~e" "search=5:2:user~e")
has "$out" '^recv result total=3 page=0 users=alice,dave$' &&
    has "$out" '^recv result total=3 page=1 users=erin$' &&
    has "$out" '^recv result total=3 page=5 users=$' || t_fail "pages" "$out"
t_pass "pagination: total 3, pages of 2, an empty page past the end"
out=$(pk 5 dev1.key "search=0:10:user=zed" "search=0:10:user~z")
has "$out" 'users=zed' && t_fail "disabled hidden" "$out"
t_pass "disabled users are not found"
out=$(pk 5 dev1.key "profile=title=" "search=0:10:user=bob")
has "$out" '^recv user bob display_name=Bob Baker department=R&D title=-$' ||
    t_fail "clear" "\"\" should clear only the title (and the searcher sees its own fields): $out"
t_pass "profile set changes only the fields given; \"\" clears; one sees one's own details"
out=$(pk 5 dev1.key "profile=department=Sales" sync "profile=department=" sync "search=0:10:user=bob")
[ "$(grep -c '^recv error EPERM$' <<<"$out")" -eq 2 ] &&
    has "$out" '^recv user bob display_name=Bob Baker department=R&D title=-$' ||
    t_fail "own department" "setting or clearing one's department must be EPERM: $out"
t_pass "an account cannot set or clear its own department (EPERM): the admins set it"
# "about" may hold newlines and tabs, but no terminal escape: not ESC (C0),
# not CSI (C1, U+009B); the whole RV_PROFILE_SET is refused (the title
# with it), EINVAL. Sent as raw plaintexts: the probe's codec would not.
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
esc=$(hex '{"about":"a\u001b]0;owned\u0007b\u001b[2J"}')
csi=$(hex '{"about":"a\u009b2Jb","title":"Boss"}')
good=$(hex '{"about":"line one\nline\ttwo"}')
out=$(pk 5 dev1.key "pt=23$esc" sync "pt=23$csi" sync "pt=23$good" sync "search=0:10:user=bob")
[ "$(grep -c '^recv error EINVAL$' <<<"$out")" -eq 2 ] || t_fail "about" "expected 2 x EINVAL: $out"
has "$out" '^recv user bob display_name=Bob Baker department=R&D title=-$' ||
    t_fail "about" "the refused message changed the title: $out"
json=$("$RDV_BIN" --db rdv.db user show bob --json 2>&1)
has "$json" '"about":"line one\\nline\\ttwo"' || t_fail "about" "newline and tab not kept: $json"
t_pass "about: newlines and tabs kept; ESC and CSI (C0, C1) refused EINVAL, nothing of the message stored"
# a display name is read as a name: no bidi control (RLO, U+202E, would
# show "Bob" spelt backwards as someone else), no zero-width or tag
# character (two names that look the same), no leading @ ("@alice" would
# pass for alice's handle); the server says why (EINVAL), stores nothing,
# and existing ones stay (a stored one from before is sent cleaned)
rlo=$(hex '{"display_name":"Bob \u202eeoJ"}')
tag=$(hex '{"display_name":"Bob Baker\udb40\udc01"}')
at=$(hex '{"display_name":"@alice"}')
fw=$(hex '{"display_name":"\uff20alice"}')
sp=$(hex '{"display_name":"\u00a0@alice"}')
out=$(pk 5 dev1.key "pt=23$rlo" sync "pt=23$tag" sync "pt=23$at" sync "pt=23$fw" sync "pt=23$sp" sync "search=0:10:user=bob")
[ "$(grep -c '^recv error EINVAL$' <<<"$out")" -eq 5 ] || t_fail "display name" "expected 5 x EINVAL: $out"
has "$out" '^recv user bob display_name=Bob Baker department=R&D title=-$' ||
    t_fail "display name" "a refused display name was stored: $out"
t_pass "display name: bidi controls, tag characters, a leading @ (or ＠, or one after a space) refused EINVAL, nothing stored"

# ---- measurement ----
t0=$(now_ms)
bench=()
accts=(x alice bob dave erin) # one account per client: parallel tries of one account back off
for k in 1 2 3 4; do
    pk $((20 + k)) "b$k.key" "logins=${accts[k]}:$PW:10" >"bench$k.out" &
    bench+=($!)
done
wait "${bench[@]}"
t1=$(now_ms)
ok=$(cat bench*.out | sed -n 's/^logins 10 ok \([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
echo "login rate: $ok logins in $((t1 - t0)) ms with 4 clients ($(awk -v n="$ok" -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", n * 1000 / ms }') per second; Argon2id t=2 m=64 MiB, at most 2 at a time)"

# ---- 6. the end ----
grep -aqF "$PW" srv.err srv.log && t_fail "log" "the password appears in the log"
grep -q 'login failed for nobody from 127.0.0.3: no such account' srv.err &&
    grep -q 'login ok for bob from 127.0.0.5' srv.err || t_fail "log" "$(cat srv.err)"
kill -TERM "$SRV"
wait "$SRV"
rc=$?
SRV=
[ "$rc" -eq 0 ] || t_fail "stop" "exit $rc"
hits=$(grep -E 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' srv.err)
[ -z "$hits" ] || t_fail sanitizers "$hits"
t_pass "logs name the user and address, never the password; SIGTERM exit 0; no sanitizer report"
echo "PASS: test_rendezvous_auth"
