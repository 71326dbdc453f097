#!/usr/bin/env bash
# test: seconds 26
# SPDX-License-Identifier: MIT
# test_web.sh - the node's web interface, driven in Debian's headless
# Chromium (Playwright's playwright-core, tests/web/web_test.mjs) against two
# real nodes on a private LAN: alice in host 1, bob in host 2. Each browser
# runs in its node's network namespace, where the interface listens on
# 127.0.0.1:7420.
#   1. HTTP checks (curl): no key, a wrong key, a wrong Host (DNS
#      rebinding), a wrong Origin on the WebSocket and on an upload (even
#      with the key), a cross-site fetch, a key file of 0600, security
#      headers, no Access-Control-* header, the page and the WebSocket
#      refused to another local user's browser (no key: nothing).
#   2. chat: pages open, each sees the other, messages both ways, a file by
#      the picker and a dropped one (progress to done, accept, decline),
#      broadcast, settings kept by the node; the received file is intact.
#   3. hostile pages of other origins: no fetch, no WebSocket, no upload;
#      bad frames on the page's own WebSocket: errors, or closed.
#   4. bob comes back with a new key: the warning, then "trust the new key";
#      his node's web key is new too (a new one at every start): the one of
#      its last start gets 403 on the WebSocket.
#   5. with a rendezvous server in host 3: carol asks alice to be her
#      contact; alice accepts in her page and writes to her through the
#      server; the organisation's policy the server signed is shown in the
#      page's settings.
# Screenshots go to $WEB_SHOTS (default build/screenshots; `make
# screenshots` puts them in docs/screenshots). Needs root, node, chromium,
# curl, jq; installs tests/web/node_modules with npm when missing.
# shellcheck disable=SC2015 # "a && b || t_fail" is meant
set -u
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
BANTER_BIN=${BANTER_BIN:-$ROOT/build/asan/banter}
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
RDV_BIN=${RDV_BIN:-$ROOT/build/asan/banter-rendezvous}
ADMIN_BIN=${ADMIN_BIN:-$ROOT/build/asan/banter-admin}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
for tool in node npm curl jq cmp; do
    command -v "$tool" >/dev/null || t_skip "needs $tool (make deps)"
done
[ -x "$CHROMIUM" ] || t_skip "needs $CHROMIUM (make deps)"
export ASAN_OPTIONS=detect_leaks=1
WEB_SHOTS=${WEB_SHOTS:-$ROOT/build/screenshots}
T_START=$(now_ms)

# The test's npm packages (tests/web/package-lock.json).
if [ ! -f "$ROOT/tests/web/node_modules/playwright-core/package.json" ]; then
    (cd "$ROOT/tests/web" && npm ci --no-audit --no-fund --loglevel=error) ||
        t_fail setup "npm ci in tests/web failed (is the npm registry reachable?)"
fi

net_setup 3
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

A=$BT_TMP/a
B=$BT_TMP/b
WORK=$BT_TMP/work
mkdir -p "$A" "$B" "$WORK" "$BT_TMP/dl-a" "$BT_TMP/dl-b"
chmod 700 "$A" "$B"
printf 'download_dir = %s\n' "$BT_TMP/dl-a" >"$A/banter.conf"
printf 'download_dir = %s\n' "$BT_TMP/dl-b" >"$B/banter.conf"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WORK/report.bin"

start_node 1 alice "$A" alice
PA=$BG_PID
start_node 2 bob "$B" bob
PB=$BG_PID
wait_for 10 online "$A" bob && wait_for 10 online "$B" alice || t_fail setup "nodes do not see each other"

URL_A=$(b "$A" open --print) || t_fail open "banter open --print failed"
URL_B=$(b "$B" open --print) || t_fail open "banter open --print failed"
[[ $URL_A =~ ^http://127\.0\.0\.1:7420/\?t=[0-9a-f]{64}$ ]] || t_fail open "unexpected address"
KEY_A=${URL_A##*t=}
grep -q "$KEY_A" "$BT_TMP/alice.log" "$BT_TMP/alice.err" && t_fail open "the key is in the node's log"
[ "$(stat -c %a "$A/web.token")" = 600 ] || t_fail open "web.token is not 0600"
t_pass "banter open prints http://127.0.0.1:7420/?t=<64 hex digits>; web.token 0600; not logged"

# ---- 1. HTTP checks, inside host 1 ----
BASE=http://127.0.0.1:7420
# code [CURL ARGS...]: the HTTP status
code() { host_exec 1 curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
WS_HEADERS=(-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
expect() { # WHAT WANT GOT
    [ "$2" = "$3" ] || t_fail "http $1" "status $3, expected $2"
    t_pass "http $1: $3"
}
expect "no key" 401 "$(code "$BASE/")"
expect "asset without the key" 401 "$(code "$BASE/app.js")"
expect "wrong key" 403 "$(code "$BASE/?t=$(printf '%064d' 0)")"
expect "right key" 200 "$(code "$URL_A")"
expect "wrong Host (DNS rebinding), with the key" 421 "$(code -H 'Host: evil.example:7420' "$URL_A")"
expect "Host of another port, with the key" 421 "$(code -H 'Host: 127.0.0.1:7421' "$URL_A")"
expect "cross-site fetch of an asset" 403 "$(code -H 'Sec-Fetch-Site: cross-site' -H 'Sec-Fetch-Mode: no-cors' "$BASE/app.js")"
expect "same-site (other port) fetch" 403 "$(code -H 'Sec-Fetch-Site: same-site' "$BASE/app.js")"
expect "WebSocket without the key" 403 "$(code "${WS_HEADERS[@]}" -H "Origin: $BASE" "$BASE/ws")"
expect "WebSocket with a wrong key" 403 "$(code "${WS_HEADERS[@]}" -H "Origin: $BASE" "$BASE/ws?t=$(printf '%064d' 0)")"
expect "WebSocket with the key but no Origin" 403 "$(code "${WS_HEADERS[@]}" "$BASE/ws?t=$KEY_A")"
expect "WebSocket with the key, wrong Origin" 403 "$(code "${WS_HEADERS[@]}" -H 'Origin: http://evil.example' "$BASE/ws?t=$KEY_A")"
expect "WebSocket with the key, Origin of another port" 403 "$(code "${WS_HEADERS[@]}" -H 'Origin: http://127.0.0.1:8000' "$BASE/ws?t=$KEY_A")"
expect "WebSocket with the key and Origin" 101 "$(code --max-time 1 "${WS_HEADERS[@]}" -H "Origin: $BASE" "$BASE/ws?t=$KEY_A" || true)"
UP=("$BASE/upload?peer=bob&name=x.txt" -X POST --data-binary 'stolen')
expect "upload with the key, wrong Origin" 403 "$(code "${UP[@]}" -H "X-Banter-Token: $KEY_A" -H 'Origin: http://evil.example')"
expect "upload with the key, no Origin" 403 "$(code "${UP[@]}" -H "X-Banter-Token: $KEY_A")"
expect "upload with Origin, no key" 403 "$(code "${UP[@]}" -H "Origin: $BASE")"
expect "upload of a bad name" 400 "$(code "$BASE/upload?peer=bob&name=..%2Fx" -X POST --data-binary 'x' -H "X-Banter-Token: $KEY_A" -H "Origin: $BASE")"
# (curl's Expect: 100-continue lets the node refuse before the body is sent.)
expect "upload bigger than the free disk" 507 "$(code "${UP[@]}" -H "X-Banter-Token: $KEY_A" -H "Origin: $BASE" -H 'Expect: 100-continue' -H 'Content-Length: 999999999999999')"
[ -z "$(b "$A" transfers --json | jq -r '.[].name')" ] || t_fail http "a refused upload made a transfer"
[ -z "$(ls -A "$A/uploads" 2>/dev/null)" ] || t_fail http "a refused upload left files in uploads/"
t_pass "http: refused uploads made no transfer and left no file"
hdrs=$(host_exec 1 curl -s -D - -o /dev/null --max-time 5 "$URL_A" | tr -d '\r')
for h in "Content-Security-Policy: default-src 'none'; script-src 'self'" \
    'X-Content-Type-Options: nosniff' 'Referrer-Policy: no-referrer' 'X-Frame-Options: DENY' \
    'Set-Cookie: banter_7420=' 'HttpOnly; SameSite=Strict'; do
    grep -qF "$h" <<<"$hdrs" || t_fail headers "missing: $h"
done
grep -qi '^access-control-' <<<"$hdrs" && t_fail headers "an Access-Control header was sent"
grep -qF "$KEY_A" <<<"$hdrs" && t_fail headers "the key itself is in the cookie"
t_pass "headers: CSP, nosniff, no-referrer, DENY, HttpOnly SameSite=Strict cookie (not the key), no CORS"
# Another local user: no key (the file and the socket are 0600), no cookie.
expect "another user's browser (no key, no cookie)" 401 "$(code -A 'Mozilla/5.0' "$BASE/")"
t_pass "the node keeps serving after the refused requests ($(code "$URL_A"))"

# ---- 2. the pages ----
drive() { # PHASE [VAR=VALUE...]
    local phase=$1
    shift
    env URL_A="$URL_A" URL_B="$URL_B" NS_A="${BT_KEEPERS[1]}" NS_B="${BT_KEEPERS[2]}" \
        SETTINGS_A="$A/settings.json" \
        WORK="$WORK" SHOTS="$WEB_SHOTS" CHROMIUM="$CHROMIUM" "$@" \
        node "$ROOT/tests/web/web_test.mjs" "$phase" 2>&1 | tee "$BT_TMP/drive-$phase.log"
    [ "${PIPESTATUS[0]}" = 0 ] || t_fail "web $phase" "see above (screenshots of the failure in $WORK)"
}
t0=$(now_ms)
drive chat
got=$(find "$BT_TMP/dl-b" -name report.bin)
[ -n "$got" ] && cmp -s "$got" "$WORK/report.bin" || t_fail "web chat" "bob's report.bin differs"
[ -z "$(find "$BT_TMP/dl-b" -name dropped.bin)" ] || t_fail "web chat" "the declined file arrived"
b "$A" history bob --json | jq -e 'map(select(.body == "Hello Bob, the notes: https://example.org/notes?id=7" and .state == "delivered")) | length == 1' >/dev/null ||
    t_fail "web chat" "alice's history lacks the delivered message"
jq -e '.theme == "dark" and .font_size == 17' "$A/settings.json" >/dev/null ||
    t_fail "web chat" "settings.json: $(cat "$A/settings.json")"
[ "$(stat -c %a "$A/settings.json")" = 600 ] || t_fail "web chat" "settings.json is not 0600"
wait_for 5 test -z "$(ls -A "$A/uploads" 2>/dev/null)" ||
    t_fail "web chat" "the uploads of finished transfers are still there: $(ls -A "$A/uploads")"
t_pass "web chat: bob's copy is intact, the declined file never came, settings in settings.json (0600), uploads cleaned ($(($(now_ms) - t0)) ms)"

drive hostile
[ -z "$(b "$A" transfers --json | jq -r '.[] | select(.name == "x.bin") | .id')" ] ||
    t_fail "web hostile" "the hostile page's upload made a transfer"
t_pass "web hostile: no transfer from the hostile pages' uploads"

drive groups
b "$B" group list --json | jq -e '[.groups[] | select(.name == "web team")] | length == 0' >/dev/null ||
    t_fail "web groups" "bob's node still has the group he deleted: $(b "$B" group list --json)"
b "$A" group list --json | jq -e '.groups[] | select(.name == "web team" and .members_count == 1)' >/dev/null ||
    t_fail "web groups" "alice's node: $(b "$A" group list --json)"
t_pass "web groups: the group made in alice's page was bob's too, until he deleted it in his (banter group list: gone at bob's, alice alone)"
got=$(find "$BT_TMP/dl-b" -name group-plan.txt)
[ -n "$got" ] && cmp -s "$got" "$WORK/group-plan.txt" || t_fail "web groups" "bob's group-plan.txt differs or is missing"
no_uploads() { [ -z "$(find "$A/uploads" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ]; }
wait_for 10 no_uploads ||
    t_fail "web groups" "alice's upload folder stays after the group file is done: $(ls -la "$A/uploads")"
t_pass "web groups: the group file arrived whole; its upload folder went with its last transfer"

# ---- 4. bob comes back with a new key ----
OLD_FP_B=$(b "$B" id --json | jq -r .fingerprint)
OLD_KEY_B=${URL_B##*t=}
stop_node "$PB" bob bob
mv "$B/identity.key" "$B/identity.key.old"
start_node 2 bob "$B" bob2
PB=$BG_PID
NEW_FP_B=$(b "$B" id --json | jq -r .fingerprint)
wait_for 10 changed "$A" bob || t_fail keychange "alice does not see bob's key as changed"
URL_B=$(b "$B" open --print)
# A new web key at every start: a page kept from the last one (which would
# send it to whatever listens on its port) opens nothing now.
[ "${URL_B##*t=}" != "$OLD_KEY_B" ] || t_fail "web key" "bob's node kept its web key across a restart"
code2() { host_exec 2 curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
expect "WebSocket with the key of the node's last start" 403 \
    "$(code2 "${WS_HEADERS[@]}" -H "Origin: $BASE" "$BASE/ws?t=$OLD_KEY_B")"
expect "WebSocket with the key of this start" 101 \
    "$(code2 --max-time 1 "${WS_HEADERS[@]}" -H "Origin: $BASE" "$BASE/ws?t=${URL_B##*t=}" || true)"
# what the new key says before alice checked it: kept, marked unverified
b "$B" send alice "I have a new laptop" >/dev/null 2>&1 || t_fail keychange "bob's new key cannot send to alice"
said_unverified() {
    b "$A" history bob --json 2>/dev/null |
        jq -e 'map(select(.body == "I have a new laptop" and .unverified == true)) | length == 1' >/dev/null
}
wait_for 15 said_unverified ||
    t_fail keychange "alice's node did not keep bob's new key's words marked unverified: $(b "$A" history bob --json 2>&1)"
drive keychange OLD_FP_B="$OLD_FP_B" NEW_FP_B="$NEW_FP_B" BANTER_BIN="$BANTER_BIN" HOME_B="$B"

stop_node "$PB" bob2 bob

# ---- 5. contact requests through a rendezvous server (host 3) ----
# alice restarts with the server; carol (host 3, no LAN discovery) asks her.
contacts_phase() {
    local srv=198.18.0.3:7400 db=$BT_TMP/r.db fp out C=$BT_TMP/c
    [ -x "$RDV_BIN" ] || {
        echo "SKIP: web contacts: no $RDV_BIN"
        return 0
    }
    fp=$("$RDV_BIN" --db "$db" fingerprint 2>/dev/null) || t_fail contacts "server fingerprint"
    printf 'a password for the test\n' >"$BT_TMP/pw"
    chmod 600 "$BT_TMP/pw"
    for u in alice carol; do
        "$RDV_BIN" --db "$db" user add "$u" --password-file "$BT_TMP/pw" >/dev/null 2>&1 ||
            t_fail contacts "user add $u"
    done
    # the organisation's policy (as banter-admin policy set stores it): the
    # server signs it at start, the nodes get it at login, the page shows it
    sqlite3 "$db" "INSERT INTO policy (id, serial, issued, max_file_mb, history_days, flags,
        public_fields) VALUES (1, 1, 0, 5, 0, 2, 1)" || t_fail contacts "policy"
    # an admin key for banter-admin announce
    local adm=
    if [ -x "$ADMIN_BIN" ]; then
        "$ADMIN_BIN" --key "$BT_TMP/boss.key" keygen >"$BT_TMP/boss.fp" 2>/dev/null &&
            "$RDV_BIN" --db "$db" admin add "$(cat "$BT_TMP/boss.fp")" --role admin >/dev/null 2>&1 &&
            adm=1 || t_fail contacts "admin key"
    fi
    bg 3 "$BT_TMP/srv.log" "$RDV_BIN" --db "$db" --listen "$srv"
    wait_for 10 grep -q "listening on $srv" "$BT_TMP/srv.err" || t_fail contacts "server start"
    stop_node "$PA" alice alice
    bg 1 "$BT_TMP/alice2.log" "$BANTER_BIN" --home "$A" node --name alice --port 7070 \
        --rendezvous "$srv" --server-key "$fp"
    PA=$BG_PID
    mkdir -p "$C" && chmod 700 "$C"
    bg 3 "$BT_TMP/carol.log" "$BANTER_BIN" --home "$C" node --name carol --port 7070 --no-mdns \
        --rendezvous "$srv" --server-key "$fp"
    PC=$BG_PID
    for h in "$A:alice" "$C:carol"; do
        wait_for 15 bash -c "'$BANTER_BIN' --home '${h%%:*}' rendezvous --json 2>/dev/null |
            grep -q '\"connected\":true'" || t_fail contacts "${h#*:} not connected to the server"
        b "${h%%:*}" login "${h#*:}" --password-file "$BT_TMP/pw" >/dev/null ||
            t_fail contacts "login ${h#*:}"
    done
    if ! out=$(b "$C" contact add alice 2>&1); then
        echo "SKIP: web contacts: the server does not take contact requests yet ($out)"
        return 0
    fi
    # carol calls herself "BOB", the name of alice's LAN colleague as the
    # node compares names: the page must tell them apart (@carol, "same
    # name") by the node's rule ("fold"); invisible characters in a display
    # name the server refuses (test_rendezvous_auth)
    out=$(b "$C" profile set display_name BOB 2>&1) || t_fail contacts "profile set: $out"
    local ann=
    if [ -n "$adm" ]; then
        ann="Fire drill at 3 pm: please leave by the stairs."
        out=$(host_exec 3 "$ADMIN_BIN" --key "$BT_TMP/boss.key" --server "$srv" --server-key "$fp" \
            announce "$ann" 2>&1) || t_fail contacts "announce: $out"
    fi
    URL_A=$(b "$A" open --print)
    drive contacts REQ_FROM=carol ANN_TEXT="$ann"
    wait_for 10 bash -c "'$BANTER_BIN' --home '$C' contacts --json | jq -e '.[] |
        select(.user == \"alice\" and .state == \"approved\")' >/dev/null" ||
        t_fail contacts "carol does not see alice approved: $(b "$C" contacts --json)"
    wait_for 10 has_body "$C" "@alice" "Hello Carol, welcome aboard" ||
        t_fail contacts "carol did not get alice's message: $(b "$C" history @alice --json 2>&1)"
    t_pass "web contacts: carol sees alice approved and gets the message alice sent from her page"
    if [ -n "$adm" ]; then
        _read1() {
            host_exec 3 "$ADMIN_BIN" --key "$BT_TMP/boss.key" --server "$srv" --server-key "$fp" \
                announce report 1 --json 2>/dev/null | jq -e '.delivered == 2 and .people_read == 1' >/dev/null
        }
        wait_for 10 _read1 || t_fail announce "$(host_exec 3 "$ADMIN_BIN" --key "$BT_TMP/boss.key" \
            --server "$srv" --server-key "$fp" announce report 1 2>&1)"
        t_pass "web announce: shown in alice's page and counted read there (1 person read, 2 devices received)"
    fi
    stop_node "$PC" carol carol
}
contacts_phase

stop_node "$PA" alice alice
t_pass "web: nodes stopped cleanly, no sanitizer report ($(($(now_ms) - T_START)) ms in all)"
