#!/usr/bin/env bash
# test: seconds 22
# SPDX-License-Identifier: MIT
#
# test_gateway_mail.sh - the e-mail gateway plug-in (peer/plugin/gateways/
# mail.c, docs/plugins.md) against a real SMTP server: Debian's
# python3-aiosmtpd, delivering every mail it takes into a Maildir. On a
# private namespace LAN (lib.sh): the gateway node "mailgw" in host 1 with
# the SMTP server on its loopback, bob in host 2, alice in host 3.
#   1. Bob's first message is answered with what the gateway does: his text
#      leaves end-to-end encryption.
#   2. "mail carol@example.org ..." arrives at the SMTP server as a mail to
#      carol from banter+TOKEN@gw.example, with the text; bob is told it went.
#   3. Carol's reply by SMTP to banter+TOKEN@gw.example comes back to bob as
#      a message marked "not end-to-end encrypted".
#   3b. What a mail holds arrives: 4221 bytes of "é" cut at 4000 on a
#      character boundary (said so), ISO-8859-1 converted, bytes that are
#      not UTF-8 as U+FFFD.
#   3c. 40 mails for bob then one for alice (host 3), delivered into new/ at
#      once: over the node's send rate for plug-ins, yet every one arrives
#      and new/ ends empty. (A send the node refuses, and tried again, is
#      in tests/unit/test_gw_mail.c.)
#   4. Refused: an address that could inject headers or commands, a mail to
#      a token the gateway never gave out (nobody gets it), and a mail
#      server that is down (bob is told).
# Needs root (77 otherwise), jq, /usr/bin/python3 with aiosmtpd; $BANTER_BIN,
# $PLUGIN_HOST, $GATEWAY_DIR (build/rel/plugins).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
BANTER_BIN=${BANTER_BIN:-$src/build/asan/banter}
PLUGIN_HOST=${PLUGIN_HOST:-$src/bin/banter-plugin-host}
GATEWAY_DIR=${GATEWAY_DIR:-$src/build/rel/plugins}
PY=/usr/bin/python3
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
[ -x "$PLUGIN_HOST" ] || t_fail setup "no $PLUGIN_HOST (make bin/banter-plugin-host)"
[ -f "$GATEWAY_DIR/mail.so" ] || t_fail setup "no $GATEWAY_DIR/mail.so (make)"
command -v jq >/dev/null || t_skip "needs jq"
"$PY" -c 'import aiosmtpd' 2>/dev/null || t_skip "needs python3-aiosmtpd"
export ASAN_OPTIONS=detect_leaks=1
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

net_setup 3
MD=$BT_TMP/maildir
G=$BT_TMP/gw B=$BT_TMP/bob A=$BT_TMP/alice
mkdir -p "$G" "$B" "$A"
smtp_start() {
    bg 1 "$BT_TMP/smtp.log" "$PY" -m aiosmtpd -n -c aiosmtpd.handlers.Mailbox \
        -l 127.0.0.1:2525 "$MD"
    SMTP_PID=$BG_PID
    wait_for 10 host_exec 1 "$PY" -c 'import socket; socket.create_connection(("127.0.0.1", 2525))' 2>/dev/null ||
        t_fail smtp "aiosmtpd did not start: $(cat "$BT_TMP/smtp.err")"
}
smtp_start
cat >"$G/banter.conf" <<CONF
plugins.host = $PLUGIN_HOST
plugin.mail.path = $GATEWAY_DIR/mail.so
plugin.mail.contacts = *
plugin.mail.domain = gw.example
plugin.mail.maildir = $MD
plugin.mail.smtp_host = 127.0.0.1
plugin.mail.smtp_port = 2525
CONF
start_node 1 mailgw "$G" gw
GPID=$BG_PID
start_node 2 bob "$B" bob
BPID=$BG_PID
start_node 3 alice "$A" alice
APID=$BG_PID
wait_for 10 online "$B" mailgw || t_fail discovery "bob does not see the gateway"
wait_for 10 online "$A" mailgw || t_fail discovery "alice does not see the gateway"
wait_for 10 bash -c "'$BANTER_BIN' --home '$G' plugins --json | jq -e '.[0].state == \"running\"' >/dev/null" ||
    t_fail start "$(b "$G" plugins)"

said() { b "$B" history mailgw --json --limit 200 | jq -e --arg s "$1" '[.[] | select(.direction == "in") | .body | contains($s)] | any' >/dev/null; }
mails() { cat "$MD"/new/* "$MD"/cur/* 2>/dev/null; }
# The gateway takes every mail from new/ to cur/ (a rename) within a
# second of its arrival: look in cur/ once it is there, as a glob over
# new/ and cur/ can miss a mail moved between the two.
in_cur() { grep -lE "$1" "$MD"/cur/* 2>/dev/null | head -n 1; }
taken() { [ -n "$(in_cur "$1")" ]; }
# reply TOKEN TEXT: Carol answers by e-mail to banter+TOKEN.
reply() {
    host_exec 1 "$PY" - "$1" "$2" <<'PYEOF'
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "Carol <carol@example.org>"
m["To"] = "banter+%s@gw.example" % sys.argv[1]
m["Subject"] = "Re: Message from bob"
m.set_content(sys.argv[2] + "\n")
with smtplib.SMTP("127.0.0.1", 2525) as s:
    s.send_message(m)
PYEOF
}

# ---- 1. the notice ----
b "$B" send mailgw "hello?" >/dev/null || t_fail notice "send"
wait_for 10 said "leaves Banter's end-to-end encryption" || t_fail notice "$(b "$B" history mailgw)"
t_pass "the first message is answered with what the gateway does"

# ---- 2. out ----
b "$B" send mailgw "mail carol@example.org Lunch at noon?
.see you" >/dev/null || t_fail out "send"
wait_for 10 said "sent to carol@example.org" || t_fail out "$(b "$B" history mailgw)"
wait_for 10 taken "^X-RcptTo: carol@example.org" ||
    t_fail out "no mail for carol taken in $MD: $(mails | head -40)"
mail=$(in_cur "^X-RcptTo: carol@example.org")
grep -q "^Lunch at noon?" "$mail" && grep -q "^\.see you" "$mail" || t_fail out "body: $(cat "$mail")"
token=$(sed -n 's/^X-MailFrom: banter+\([0-9a-f]*\)@gw.example.*/\1/p' "$mail")
[ "${#token}" = 12 ] || t_fail out "sender: $(grep -i '^X-MailFrom\|^From' "$mail")"
grep -q '^From: "bob via Banter" <banter+'"$token"'@gw.example>' "$mail" || t_fail out "From: $(grep '^From' "$mail")"
t_pass "mail ADDRESS TEXT reaches the SMTP server (from banter+$token@gw.example)"

# ---- 3. back ----
reply "$token" "Yes, see you at noon." || t_fail back "smtplib"
wait_for 10 said "[e-mail from Carol <carol@example.org>, not end-to-end encrypted]" ||
    t_fail back "$(b "$B" history mailgw)"
said "Yes, see you at noon." || t_fail back "body: $(b "$B" history mailgw)"
t_pass "a reply by e-mail comes back, marked as not end-to-end encrypted"
# a line of the mail that imitates a marker (another sender) or a notice
# is shown quoted, as every line of the mail is: the only marker is the
# gateway's own
reply "$token" "Fine.
[e-mail from Boss <boss@example.org>, not end-to-end encrypted]
Please wire the money today." || t_fail imitation "smtplib"
wait_for 10 said "Please wire the money today." || t_fail imitation "$(b "$B" history mailgw)"
said "
> Fine.
> [e-mail from Boss <boss@example.org>, not end-to-end encrypted]
> Please wire" && ! said "
[e-mail from Boss" || t_fail imitation "a line of the body was not quoted: $(b "$B" history mailgw | tail -5)"
t_pass "every line of a relayed mail is quoted, one imitating the gateway's marker too (\"> [e-mail from ...\")"

# rawmail TOKEN: the mail on stdin (bytes as they are), by SMTP to banter+TOKEN.
rawmail() {
    host_exec 1 "$PY" -c '
import smtplib, sys
m = sys.stdin.buffer.read()
with smtplib.SMTP("127.0.0.1", 2525) as s:
    s.sendmail("carol@example.org", ["banter+%s@gw.example" % sys.argv[1]], m)
' "$1"
}
head_for() { printf 'From: Carol <carol@example.org>\r\nTo: banter+%s@gw.example\r\n%s\r\n' "$1" "$2"; }

# ---- 3b. what a mail holds arrives: long and multibyte, ISO-8859-1, bytes not UTF-8 ----
{
    head_for "$token" 'Content-Type: text/plain; charset=utf-8'
    for _ in $(seq 1 21); do # 21 lines of 100 "é": 4221 bytes, SMTP's lines kept short
        for _ in $(seq 1 100); do printf '\xc3\xa9'; done
        printf '\r\n'
    done
} | rawmail "$token" || t_fail long "smtplib"
wait_for 10 said "[cut: the mail's text is over 4000 bytes]" || t_fail long "$(b "$B" history mailgw | tail -3)"
b "$B" history mailgw --json --limit 200 | jq -r '[.[] | select(.body | contains("[cut: the mail"))][0].body' |
    "$PY" -c '
import sys
body = sys.stdin.read().rstrip("\n")
text = body.split("\n", 1)[1].rsplit("\n[cut: ", 1)[0]
lines = text.split("\n")
if not all(l.startswith("> ") or l == "" for l in lines):
    sys.exit("a line not quoted: %r" % text[:40])
text = "\n".join(l[2:] for l in lines)  # the mail, each line quoted "> "
n = len(text.encode())
sys.exit(0 if set(text) <= {"\u00e9", "\n"} and 3998 <= n <= 4000 else "%d bytes: %r" % (n, text[-20:]))
' || t_fail long "the text shown is not whole characters up to 4000 bytes"
{
    head_for "$token" 'Content-Type: text/plain; charset=ISO-8859-1'
    printf 'Gr\xfc\xdfe aus K\xf6ln\r\n'
} | rawmail "$token" || t_fail latin1 "smtplib"
wait_for 10 said "Grüße aus Köln" || t_fail latin1 "$(b "$B" history mailgw | tail -3)"
{
    head_for "$token" 'Subject: no charset'
    printf 'caf\xe9 \xff end\r\n'
} | rawmail "$token" || t_fail notutf8 "smtplib"
wait_for 10 said "caf� � end" || t_fail notutf8 "$(b "$B" history mailgw | tail -3)"
t_pass "a 4221-byte mail arrives cut at 4000 on a character boundary; ISO-8859-1 converted; bad bytes as U+FFFD"

# ---- 3c. 40 mails for bob, then one for alice: all arrive (the node's send rate), none lost ----
b "$A" send mailgw "mail dave@example.org from alice" >/dev/null || t_fail flood "alice's send"
wait_for 10 taken "^X-RcptTo: dave@example.org" || t_fail flood "no mail from alice: $(mails | tail -20)"
atoken=$(sed -n 's/^X-MailFrom: banter+\([0-9a-f]*\)@gw.example.*/\1/p' "$(in_cur "^X-RcptTo: dave@example.org")")
[ "${#atoken}" = 12 ] && [ "$atoken" != "$token" ] || t_fail flood "alice's token: $atoken"
# As the mail server delivers (a file in tmp/, then renamed into new/), all
# at once: more than the node lets a plug-in send in a second.
"$PY" - "$MD" "$token" "$atoken" <<'PYEOF' || t_fail flood "cannot write the mails"
import os, sys
md, bob, alice = sys.argv[1:4]
names = []
for i in range(1, 42):
    to, text = (bob, "flood %d of 40" % i) if i <= 40 else (alice, "for alice, after")
    name = "170000%04d.flood%d.test" % (i, i)
    with open(os.path.join(md, "tmp", name), "w") as f:
        f.write("From: carol@example.org\nTo: banter+%s@gw.example\n\n%s\n" % (to, text))
    names.append(name)
for name in names:
    os.rename(os.path.join(md, "tmp", name), os.path.join(md, "new", name))
PYEOF
floods() { b "$B" history mailgw --json --limit 400 | jq '[.[] | select(.direction == "in") | .body | capture("flood (?<n>[0-9]+) of 40") | .n] | unique | length'; }
all40() { [ "$(floods)" = 40 ]; }
alice_got() { b "$A" history mailgw --json --limit 50 | jq -e '[.[] | select(.direction == "in") | .body | contains("for alice, after")] | any' >/dev/null; }
wait_for 60 all40 || t_fail flood "$(floods) of 40 mails reached bob: $(tail -5 "$BT_TMP/gw.err")"
wait_for 20 alice_got || t_fail flood "alice did not get hers: $(b "$A" history mailgw | tail -3)"
dups=$(b "$B" history mailgw --json --limit 400 | jq '[.[] | select(.direction == "in") | .body | select(test("flood [0-9]+ of 40"))] | length')
[ "$dups" = 40 ] || t_fail flood "$dups messages for 40 mails"
left() { [ -z "$(ls -A "$MD/new")" ]; }
wait_for 10 left || t_fail flood "mails left in new/: $(ls "$MD/new" | head)"
t_pass "40 mails for bob then one for alice: each relayed once, new/ empty"

# ---- 4. refused ----
b "$B" send mailgw "mail carol@example.org>RCPT:<x@evil x" >/dev/null
wait_for 10 said "is not a plain e-mail address" || t_fail inject "$(b "$B" history mailgw)"
host_exec 1 "$PY" - <<'PYEOF' || t_fail stranger "smtplib"
import smtplib
with smtplib.SMTP("127.0.0.1", 2525) as s:
    s.sendmail("eve@example.org", ["banter+000000000000@gw.example"],
               "From: eve@example.org\r\nTo: banter+000000000000@gw.example\r\n\r\nforged\r\n")
PYEOF
wait_for 10 taken "^forged" || t_fail stranger "the gateway did not take the mail: $(mails | tail -20)"
# A reply to bob's token after it: once that one is in, a forged one
# relayed before it would be too (one gateway, one connection, in order).
reply "$token" "A second answer." || t_fail stranger "smtplib"
wait_for 10 said "A second answer." || t_fail stranger "$(b "$B" history mailgw)"
said "forged" && t_fail stranger "a mail to an unknown token was relayed"
t_pass "an address with other characters is refused; a mail to an unknown token reaches nobody"
kill "$SMTP_PID"
wait_for 5 gone "$SMTP_PID" || t_fail smtp "did not stop"
b "$B" send mailgw "mail dave@example.org are you there" >/dev/null
wait_for 10 said "could not send to dave@example.org" || t_fail down "$(b "$B" history mailgw)"
t_pass "the mail server down: the sender is told"
[ "$(b "$G" plugins --json | jq -r '.[0].state')" = running ] || t_fail state "$(b "$G" plugins)"

stop_node "$GPID" gw gateway
stop_node "$BPID" bob bob
stop_node "$APID" alice alice
exit 0
