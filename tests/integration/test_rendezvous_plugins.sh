#!/usr/bin/env bash
# test: seconds 31
# SPDX-License-Identifier: MIT
#
# test_rendezvous_plugins.sh - plug-ins hosted by the rendezvous server
# (rendezvous/plugins.h, docs/plugins.md "On the server"), on loopback with
# rdv_probe (rdv_lib.sh):
#   1. A plug-in that logs every event hears "@ann" log in and out; what it
#      sends is refused (a server plug-in sends no messages). The e-mail
#      gateway plug-in on the server mails bob (who opted in) that a sealed
#      message waits while he is offline: once a minute, with no content
#      (Debian's python3-aiosmtpd is the SMTP server).
#   2. One that segfaults and one that spins forever on every login: while
#      they crash and are killed, ann and bob log in again and again and
#      exchange a contact request; the segfaulting one is restarted with a
#      growing back-off; `banter-rendezvous plugins` shows each state and
#      last error.
#   3. disable, enable and restart through the control socket.
#   4. A plug-in key the server does not know stops it at start, naming the
#      line; SIGTERM stops the server and every host, with no sanitizer
#      report.
# Needs $RDV_BIN, $RDV_PROBE (rdv_lib.sh), $PLUGIN_HOST, $PLUGIN_DIR, jq.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"
PLUGIN_HOST=${PLUGIN_HOST:-$src/bin/banter-plugin-host}
PLUGIN_DIR=${PLUGIN_DIR:-$src/build/rel/tests/plugins}
GATEWAY_DIR=${GATEWAY_DIR:-$src/build/rel/plugins}
PY=/usr/bin/python3
[ -x "$PLUGIN_HOST" ] || t_fail setup "no $PLUGIN_HOST (make bin/banter-plugin-host)"
for p in audit segv spin; do
    [ -f "$PLUGIN_DIR/$p.so" ] || t_fail setup "no $PLUGIN_DIR/$p.so"
done
command -v jq >/dev/null || t_skip "needs jq"
[ -f "$GATEWAY_DIR/mail.so" ] || t_fail setup "no $GATEWAY_DIR/mail.so"
"$PY" -c 'import aiosmtpd' 2>/dev/null || t_skip "needs python3-aiosmtpd"
export ASAN_OPTIONS=detect_leaks=1

rdv_setup ann bob
cat >"$T/rdv.conf" <<CONF
plugins.host = $PLUGIN_HOST
plugin.audit.path = $PLUGIN_DIR/audit.so
plugin.segv.path = $PLUGIN_DIR/segv.so
plugin.spin.path = $PLUGIN_DIR/spin.so
plugin.spin.heartbeat_ms = 300
plugin.mail.path = $GATEWAY_DIR/mail.so
plugin.mail.domain = gw.example
plugin.mail.smtp_port = SMTP_PORT
plugin.mail.notify.bob = bob@example.org
CONF
# The SMTP server (Debian's python3-aiosmtpd) on a free loopback port.
MD=$T/maildir
for try in 1 2 3 4 5; do
    SMTP_PORT=$((18000 + RANDOM % 900))
    "$PY" -m aiosmtpd -n -c aiosmtpd.handlers.Mailbox -l "127.0.0.1:$SMTP_PORT" "$MD" \
        >"$T/smtp.log" 2>"$T/smtp.err" </dev/null &
    SMTP_PID=$!
    RDV_PIDS+=("$SMTP_PID")
    _smtp_up() { "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $SMTP_PORT))" 2>/dev/null; }
    wait_for 5 _smtp_up && break
    kill "$SMTP_PID" 2>/dev/null
done
sed -i "s/SMTP_PORT/$SMTP_PORT/" "$T/rdv.conf"
plugins() { "$RDV_BIN" --db rdv.db plugins "$@"; }
plug() { plugins --json | jq -r --arg n "$1" ".[] | select(.name == \$n) | .$2"; }
logged() { grep -q -- "$1" "$T/main.err"; }
# logged_n N TEXT: TEXT in N lines of the server's log or more.
logged_n() { [ "$(grep -c -- "$2" "$T/main.err")" -ge "$1" ]; }

# ---- 4a. a mistake in the plug-in keys stops the server at start ----
printf 'plugin.audit.path = /x.so\nplugin.audit.memory_mb = 1\n' >"$T/bad.conf"
out=$("$RDV_BIN" --config "$T/bad.conf" --db rdv.db --listen 127.0.0.1:0 2>&1)
rc=$?
[ "$rc" != 0 ] && grep -q "bad.conf line 2: plugin.audit.memory_mb" <<<"$out" ||
    t_fail config "exit $rc: $out"
t_pass "a bad plug-in key stops the server at start, naming the line"

rdv_start main --config "$T/rdv.conf"
wait_for 10 bash -c "[ \"\$('$RDV_BIN' --db rdv.db plugins --json | jq -r '.[] | select(.name==\"audit\") | .state')\" = running ]" ||
    t_fail start "$(plugins)"

# ---- 1. events ----
out=$(pr ann.key "login=ann:$PW" ready)
grep -q '^recv auth ok user=ann' <<<"$out" || t_fail login "$out"
wait_for 10 logged "plugin audit: info: event 4 @ann logged in" || t_fail login-event "$(grep audit "$T/main.err")"
wait_for 10 logged "plugin audit: info: event 5 @ann logged out" || t_fail logout-event "$(grep audit "$T/main.err")"
wait_for 10 logged "plugin audit: info: send result -15: a plug-in on the server sends no messages" ||
    t_fail send "$(grep audit "$T/main.err")"
t_pass "a server plug-in hears logins and logouts; it cannot send"

# ---- 1b. an offline account that opted in gets a notification mail ----
out=$(pr bob.key "login=bob:$PW" ready)
grep -q '^recv auth ok user=bob' <<<"$out" || t_fail notify "bob: $out"
pr ann.key ready contact=request:bob >/dev/null
out=$(pr bob.key ready contact=approve:ann wait=200)
grep -q '^recv contact ann state=approved' <<<"$out" || t_fail notify "approve: $out"
# bob is offline for the server (the copy is stored, not routed to his
# closing connection) once the plug-ins were told of his second logout.
wait_for 10 logged_n 2 "plugin audit: info: event 5 @bob logged out" ||
    t_fail notify "bob's logout: $(grep audit "$T/main.err")"
out=$(pr ann.key ready "seal=bob:secret words" stored=1)
grep -q '^seal id=' <<<"$out" || t_fail notify "seal: $out"
notified() { grep -l "^X-RcptTo: bob@example.org" "$MD"/new/* "$MD"/cur/* 2>/dev/null | head -1; }
_notified() { [ -n "$(notified)" ]; }
wait_for 10 _notified || t_fail notify "no mail: $(grep 'plugin mail' "$T/main.err")"
m=$(notified)
grep -q "^Subject: bob: a message waits" "$m" || t_fail notify "$(cat "$m")"
grep -q "secret words" "$m" && t_fail notify "the mail holds the message"
out=$(pr ann.key ready "seal=bob:more secret words" stored=1)
grep -q '^recv stored .* state=stored ' <<<"$out" || t_fail notify "second seal: $out"
# Stored: the plug-ins were told a second message waits. What is checked
# is that no mail follows: the time one would take stays a fixed wait.
sleep 1.5
[ "$(grep -l "^X-RcptTo: bob@example.org" "$MD"/new/* "$MD"/cur/* 2>/dev/null | wc -l)" = 1 ] ||
    t_fail notify "a second mail within the minute"
t_pass "an offline account that opted in is told by mail that a message waits (no content, once a minute)"

# ---- 2. crashes and hangs: the server keeps serving ----
for k in $(seq 1 8); do
    out=$(pr ann.key ready)
    grep -q '^recv auth ok user=ann' <<<"$out" || t_fail "serving $k" "ann: $out"
    out=$(pr bob.key "login=bob:$PW" ready)
    grep -q '^recv auth ok user=bob' <<<"$out" || t_fail "serving $k" "bob: $out"
done
# The segfaulting one crashes on the first event after each start: logins
# go on, one each time it runs again, until it crashed a second time.
segv_twice() {
    logged "plugin segv: restarting in 2000 ms" && [ "$(plug segv restarts)" -ge 2 ] && return 0
    [ "$(plug segv state)" = running ] && pr ann.key ready >/dev/null
    return 1
}
wait_for 20 segv_twice || t_fail segv "not crashed twice: $(plugins)"
out=$(pr ann.key ready contact=request:bob)
grep -q '^recv auth ok user=ann' <<<"$out" || t_fail contacts "$out"
t_pass "16 logins served while plug-ins crash and hang"
err_has() { plug "$1" last_error | grep -q -- "$2"; }
wait_for 10 err_has segv "signal 11" || t_fail segv "$(plug segv last_error)"
[ "$(plug segv restarts)" -ge 2 ] || t_fail segv "restarts $(plug segv restarts)"
logged "plugin segv: restarting in 2000 ms" || t_fail segv "no growing back-off"
t_pass "segfault: restarted with back-off ($(plug segv restarts) restarts), shown"
wait_for 10 err_has spin "heartbeat" || t_fail spin "$(plug spin last_error)"
t_pass "endless loop: killed at the heartbeat deadline"
plugins | grep -q "last error: crashed: killed by signal 11" || t_fail list "$(plugins)"

# ---- 3. disable, enable, restart ----
plugins disable audit >/dev/null || t_fail disable "exit $?"
wait_for 5 bash -c "[ \"\$('$RDV_BIN' --db rdv.db plugins --json | jq -r '.[] | select(.name==\"audit\") | \"\\(.state) \\(.pid)\"')\" = 'disabled 0' ]" ||
    t_fail disable "$(plugins)"
plugins enable audit >/dev/null || t_fail enable "exit $?"
wait_for 10 bash -c "[ \"\$('$RDV_BIN' --db rdv.db plugins --json | jq -r '.[] | select(.name==\"audit\") | .state')\" = running ]" ||
    t_fail enable "$(plugins)"
old=$(plug audit pid)
plugins restart audit >/dev/null || t_fail restart "exit $?"
wait_for 10 bash -c "p=\$('$RDV_BIN' --db rdv.db plugins --json | jq -r '.[] | select(.name==\"audit\") | \"\\(.state) \\(.pid)\"'); [ \"\${p% *}\" = running ] && [ \"\${p#* }\" != $old ]" ||
    t_fail restart "$(plugins)"
plugins enable nosuch >/dev/null 2>&1 && t_fail enable "an unknown plug-in was enabled"
t_pass "disable, enable and restart through the control socket"

# ---- 4b. stop ----
pids=$(plugins --json | jq -r '.[] | select(.pid > 0) | .pid')
rdv_stop main
for p in $pids; do
    _gone() { ! kill -0 "$p" 2>/dev/null; }
    wait_for 5 _gone || t_fail stop "host $p outlived the server"
done
t_pass "the server stops with every plug-in host"
exit 0
