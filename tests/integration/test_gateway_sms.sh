#!/usr/bin/env bash
# test: seconds 5
# SPDX-License-Identifier: MIT
#
# test_gateway_sms.sh - the SMS gateway plug-in (peer/plugin/gateways/sms.c,
# docs/plugins.md) against a real Kannel on loopback: bearerbox and smsbox
# (Debian's kannel) with a fake SMSC, and fakesmsc (kannel-extras) playing
# the phone network; a real banter-rendezvous, the gateway's node logged in
# as "smsgw" with the plug-in (given "@*": organisation accounts only),
# and ann's node, approved contacts.
#   1. ann's first message is answered with what the gateway does.
#   2. "+15551234567 TEXT" leaves as an SMS from the gateway's number,
#      signed "ann (Banter): ", and reaches the phone; ann is told.
#      "@bob TEXT" reaches the phone bound to bob in the gateway's
#      settings; "@carol TEXT" (no phone bound) is refused. Only
#      international numbers within plugin.sms.allow_prefixes: a short code
#      (also one bound to an account) and a number outside the prefixes are
#      refused with a reply; one within them is sent.
#   3. The phone's answer, naming no one, reaches ann (who wrote to it),
#      marked "not end-to-end encrypted"; a stranger's "@ann TEXT" reaches
#      ann too.
#   4. Refused: a stranger's SMS to an unknown user (@nobody) and one that
#      names no one reach nobody; on the get-url itself a wrong key (403),
#      an unknown user (404), a malformed request (400), a request too big,
#      the 11th SMS of one phone in a minute (429); a number with other
#      characters is not sent.
#   5. The gateway restarted (banter plugins restart sms): a new process,
#      and both directions work again (the phone's binding is kept); phones
#      from more numbers than it counts get 429, and do not lock out a
#      person sending from Banter.
# Kannel's three programs are started once, with their configuration in the
# scratch folder and free loopback ports, and stopped by PID on exit.
# Needs /usr/sbin/bearerbox, /usr/sbin/smsbox, /usr/lib/kannel/test/fakesmsc,
# curl; $BANTER_BIN, $RDV_BIN, $PLUGIN_HOST, $GATEWAY_DIR (build/rel/plugins).
# No root needed.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
BANTER_BIN=${BANTER_BIN:-$src/build/asan/banter}
RDV_BIN=${RDV_BIN:-$src/build/asan/banter-rendezvous}
PLUGIN_HOST=${PLUGIN_HOST:-$src/bin/banter-plugin-host}
GATEWAY_DIR=${GATEWAY_DIR:-$src/build/rel/plugins}
BEARERBOX=/usr/sbin/bearerbox SMSBOX=/usr/sbin/smsbox FAKESMSC=/usr/lib/kannel/test/fakesmsc
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
[ -x "$RDV_BIN" ] || t_fail setup "no $RDV_BIN (make build/asan/banter-rendezvous)"
[ -x "$PLUGIN_HOST" ] || t_fail setup "no $PLUGIN_HOST (make bin/banter-plugin-host)"
[ -f "$GATEWAY_DIR/sms.so" ] || t_fail setup "no $GATEWAY_DIR/sms.so (make)"
for p in "$BEARERBOX" "$SMSBOX" "$FAKESMSC"; do
    [ -x "$p" ] || t_skip "needs $p (Debian kannel and kannel-extras: make deps)"
done
command -v curl >/dev/null || t_skip "needs curl"
command -v jq >/dev/null || t_skip "needs jq"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

BT_TMP=$(mktemp -d /tmp/bt-sms.XXXXXX) || t_fail setup mktemp
T=$BT_TMP
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    [ -z "${BT_KEEP_TMP:-}" ] && rm -rf "$T"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$T" || t_fail setup "cd $T"
# shellcheck source=tests/integration/node.sh
. "$here/node.sh" # b, alive, gone, check_san, has_body

# start PIDVAR LOG CMD...: CMD in the background, its PID in PIDVAR and PIDS.
start() {
    local var=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 </dev/null &
    printf -v "$var" '%s' "$!"
    PIDS+=("$!")
    disown "$!"
}
# stop PID WHAT: SIGTERM and wait for it (by PID), else fail.
stop() {
    kill -TERM "$1" 2>/dev/null
    wait_for 10 gone "$1" || t_fail "$2 stop" "still running 10 s after SIGTERM"
}
listens() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- free loopback ports: admin, smsbox, fake SMSC, sendsms, get-url, rendezvous ----
read -r P_ADMIN P_BOX P_SMSC P_SEND P_GET P_RDV < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])') || t_fail setup "no free ports"
KEY=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
GWNUM=+15550000 PHONE=+15551234567 STRANGER=+15559876543

# ---- Kannel ----
cat >"$T/kannel.conf" <<CONF
group = core
admin-port = $P_ADMIN
admin-password = $(head -c 12 /dev/urandom | base64 | tr -d '+/=')
admin-interface = 127.0.0.1
smsbox-port = $P_BOX
smsbox-interface = 127.0.0.1
box-deny-ip = "*.*.*.*"
box-allow-ip = 127.0.0.1
log-file = "$T/bearerbox.log"
log-level = 1

group = smsc
smsc = fake
smsc-id = fake
port = $P_SMSC
connect-allow-ip = 127.0.0.1
# (the fake SMSC has no interface setting: it listens on every address but
# takes only loopback connections)

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = $P_SEND
sendsms-interface = 127.0.0.1
log-file = "$T/smsbox.log"
log-level = 1

group = sendsms-user
username = smsgw
password = sendsms-secret
max-messages = 4
concatenation = true

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "http://127.0.0.1:$P_GET/sms?key=$KEY&from=%p&to=%P&text=%b"
CONF
start BB_PID "$T/bearerbox.out" "$BEARERBOX" "$T/kannel.conf"
wait_for 15 listens "$P_ADMIN" || t_fail kannel "bearerbox does not listen: $(tail -5 "$T/bearerbox.out")"
start SB_PID "$T/smsbox.out" "$SMSBOX" "$T/kannel.conf"
wait_for 15 grep -qs "Connected to bearerbox" "$T/smsbox.log" ||
    t_fail kannel "smsbox did not connect: $(tail -5 "$T/smsbox.out")"
# phone MT: fakesmsc sending nothing, printing what the network delivers
start FS_PID "$T/phone-1.out" "$FAKESMSC" -H 127.0.0.1 -r "$P_SMSC" -i 0.1 -m 0 "1 2 text x"
wait_for 15 grep -qs "Fakesmsc client connected" "$T/bearerbox.log" || t_fail kannel "fakesmsc did not connect"
t_pass "Kannel: bearerbox, smsbox and fakesmsc on loopback"

# ---- rendezvous and nodes ----
printf 'pass %s word\n' "$RANDOM" >"$T/pw"
for u in smsgw ann; do
    "$RDV_BIN" --db "$T/rdv.db" user add "$u" --password-file "$T/pw" >/dev/null 2>&1 || t_fail setup "user add $u"
done
FP=$("$RDV_BIN" --db "$T/rdv.db" fingerprint 2>/dev/null) || t_fail setup fingerprint
start SRV_PID "$T/rdv.err" "$RDV_BIN" --db "$T/rdv.db" --listen "127.0.0.1:$P_RDV"
wait_for 10 grep -q "listening on 127.0.0.1:$P_RDV," "$T/rdv.err" || t_fail rendezvous "did not start"

G=$T/gw A=$T/ann
mkdir -p "$G" "$A"
cat >"$G/banter.conf" <<CONF
plugins.host = $PLUGIN_HOST
plugin.sms.path = $GATEWAY_DIR/sms.so
plugin.sms.contacts = @*
plugin.sms.number = $GWNUM
plugin.sms.listen_port = $P_GET
plugin.sms.key = $KEY
plugin.sms.sendsms_port = $P_SEND
plugin.sms.sendsms_user = smsgw
plugin.sms.sendsms_password = sendsms-secret
plugin.sms.phone.bob = +15557654321
plugin.sms.phone.dave = 3669
plugin.sms.allow_prefixes = +1555, +44
CONF
# start_rnode NAME HOME: a node without mDNS, the rendezvous pinned; NODE_PID.
start_rnode() {
    start NODE_PID "$T/$1.err" "$BANTER_BIN" --home "$2" node --no-mdns --port 0 --name "$1" \
        --rendezvous "127.0.0.1:$P_RDV" --server-key "$FP"
    wait_for 10 b "$2" id >/dev/null 2>&1 || t_fail "start $1" "no answer on $2/control.sock"
}
start_rnode smsgw "$G"
GPID=$NODE_PID
start_rnode ann "$A"
APID=$NODE_PID
for h in "$G:smsgw" "$A:ann"; do
    b "${h%%:*}" login "${h#*:}" --password-file "$T/pw" >/dev/null 2>&1 || t_fail login "${h#*:}"
done
b "$A" contact add smsgw >/dev/null 2>&1 || t_fail contact "ann: contact add smsgw"
requested() { b "$G" requests 2>/dev/null | grep -q "ann"; }
wait_for 10 requested || t_fail contact "the gateway has no request from ann"
b "$G" approve ann >/dev/null 2>&1 || t_fail contact "approve"
approved() { b "$A" contacts --json 2>/dev/null | jq -e '.[] | select(.user == "smsgw" and .state == "approved")' >/dev/null; }
wait_for 10 approved || t_fail contact "$(b "$A" contacts --json)"
plugin_state() { b "$G" plugins --json 2>/dev/null | jq -r '.[] | select(.name == "sms") | .'"$1"; }
running() { [ "$(plugin_state state)" = running ]; }
wait_for 10 running || t_fail start "$(b "$G" plugins 2>&1)"
t_pass "rendezvous, the gateway node (@smsgw, plug-in running) and ann, approved contacts"

said() { b "$A" history smsgw --json --limit 200 2>/dev/null | jq -e --arg s "$1" '[.[] | select(.direction == "in") | .body | contains($s)] | any' >/dev/null; }
phone_got() { grep -qF "$1" "$T"/phone-*.out; }
# sms FROM TEXT: the phone network delivers one SMS to the gateway's number
# (a fakesmsc of its own, which then stays to print what comes back).
PHONE_N=1
sms() {
    stop "$FS_PID" fakesmsc
    PHONE_N=$((PHONE_N + 1))
    local n0
    n0=$(grep -c "Starting to service" "$T/smsbox.log")
    start FS_PID "$T/phone-$PHONE_N.out" "$FAKESMSC" -H 127.0.0.1 -r "$P_SMSC" -i 0.1 -m 1 "$1 $GWNUM text $2"
    serviced() { [ "$(grep -c "Starting to service" "$T/smsbox.log")" -gt "$n0" ]; }
    wait_for 15 serviced || t_fail sms "smsbox never got the SMS: $(tail -5 "$T/smsbox.log")"
}

# ---- 1. the notice ----
b "$A" send smsgw "hello?" >/dev/null || t_fail notice send
wait_for 10 said "leaves Banter's end-to-end encryption" || t_fail notice "$(b "$A" history smsgw)"
t_pass "the first message is answered with what the gateway does"

# ---- 2. out ----
b "$A" send smsgw "$PHONE Lunch at noon?" >/dev/null || t_fail out send
wait_for 15 phone_got "<$GWNUM $PHONE text ann (Banter): Lunch at noon?>" ||
    t_fail out "the phone got: $(grep 'Got message' "$T"/phone-*.out)"
wait_for 10 said "sent to $PHONE (as SMS: not end-to-end encrypted" || t_fail out "$(b "$A" history smsgw)"
t_pass "\"+NUMBER TEXT\" reaches the phone as an SMS from $GWNUM, signed; ann is told"
b "$A" send smsgw "@bob Page: the build is red" >/dev/null || t_fail page send
wait_for 15 phone_got "<$GWNUM +15557654321 text ann (Banter): Page: the build is red>" ||
    t_fail page "the phone got: $(grep 'Got message' "$T"/phone-*.out)"
b "$A" send smsgw "@carol are you there" >/dev/null || t_fail page send
wait_for 10 said "no phone number for @carol" || t_fail page "$(b "$A" history smsgw)"
t_pass "\"@bob TEXT\" reaches the phone bound to bob (plugin.sms.phone.bob); an account with none is refused"

# only international numbers, within plugin.sms.allow_prefixes
b "$A" send smsgw "81010 WIN a prize" >/dev/null || t_fail premium send
wait_for 10 said "not sent: 81010 is not an international number (+ and at least 8 digits)" ||
    t_fail premium "$(b "$A" history smsgw | tail -3)"
b "$A" send smsgw "+3669 WIN again" >/dev/null || t_fail premium send
wait_for 10 said "not sent: +3669 is not an international number" || t_fail premium "$(b "$A" history smsgw | tail -3)"
b "$A" send smsgw "@dave WIN a third time" >/dev/null || t_fail premium send
wait_for 10 said "not sent: 3669 is not an international number" || t_fail premium "$(b "$A" history smsgw | tail -3)"
b "$A" send smsgw "+33612345678 Bonjour" >/dev/null || t_fail prefixes send
wait_for 10 said "not sent: this gateway sends SMS only to numbers beginning +1555, +44" ||
    t_fail prefixes "$(b "$A" history smsgw | tail -3)"
b "$A" send smsgw "+447700900123 Hello from the UK list" >/dev/null || t_fail prefixes send
wait_for 15 phone_got "<$GWNUM +447700900123 text ann (Banter): Hello from the UK list>" ||
    t_fail prefixes "the phone got: $(grep 'Got message' "$T"/phone-*.out)"
phone_got "WIN" && t_fail premium "an SMS went to a short code: $(grep 'Got message' "$T"/phone-*.out)"
phone_got "Bonjour" && t_fail prefixes "an SMS went outside the allowed prefixes"
t_pass "refused with a reply: a short code, +3669, a page to a short code, a number outside allow_prefixes; +44... sent"

# ---- 3. in ----
sms "$PHONE" "Yes, see you at noon"
wait_for 10 said "[SMS from $PHONE, not end-to-end encrypted]
> Yes, see you at noon" || t_fail in "$(b "$A" history smsgw)"
t_pass "the phone's answer (naming no one) reaches ann, marked not end-to-end encrypted"
sms "$STRANGER" "@ann hi from a stranger"
wait_for 10 said "[SMS from $STRANGER, not end-to-end encrypted]
> hi from a stranger" || t_fail in "$(b "$A" history smsgw)"
t_pass "an SMS \"@ann TEXT\" from any phone reaches ann"

# ---- 4. refused ----
sms +15550001111 "@nobody where does this go"
sms +15550002222 "who reads this"
refusal() { grep -q "plugin sms: info: refused an SMS from $1" "$T/smsgw.err"; }
wait_for 10 refusal "+15550001111 to @nobody" || t_fail refused "@nobody: $(tail -3 "$T/smsgw.err")"
wait_for 10 refusal "+15550002222: it names no one" || t_fail refused "no one: $(tail -3 "$T/smsgw.err")"
sleep 1
said "where does this go" || said "who reads this" && t_fail refused "an SMS reached ann: $(b "$A" history smsgw)"
b "$A" history smsgw --json --limit 200 | grep -q "nobody" && t_fail refused "the unknown user leaked"
get() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P_GET$1"; }
code=$(get "/sms?key=wrong-key-wrong-key&from=%2B15550003333&to=%2B15550000&text=%40ann+forged")
[ "$code" = 403 ] || t_fail refused "a wrong key: HTTP $code"
code=$(get "/sms?key=$KEY&from=%2B15550003333&to=%2B15550000&text=%40nobody+hi")
[ "$code" = 404 ] || t_fail refused "an unknown user: HTTP $code"
code=$(get "/sms?key=$KEY&from=%2B15550003333&to=%2B15550000&text=%40ann+x&text=y")
[ "$code" = 400 ] || t_fail refused "a repeated parameter: HTTP $code"
code=$(get "/sms?key=$KEY&from=%2B15550003333&to=%2B15550000&text=$(head -c 9000 /dev/zero | tr '\0' a)")
[ "$code" = 400 ] || [ "$code" = 000 ] || t_fail refused "an oversized request: HTTP $code"
said "forged" && t_fail refused "a request with a wrong key was relayed"
for i in 1 2 3 4 5 6 7 8 9 10; do
    code=$(get "/sms?key=$KEY&from=%2B15550004444&to=%2B15550000&text=%40ann+flood+$i")
    [ "$code" = 202 ] || t_fail flood "SMS $i: HTTP $code"
done
code=$(get "/sms?key=$KEY&from=%2B15550004444&to=%2B15550000&text=%40ann+flood+11")
[ "$code" = 429 ] || t_fail flood "the 11th SMS in a minute: HTTP $code"
said "flood 10" && ! said "flood 11" || t_fail flood "$(b "$A" history smsgw --limit 5)"
b "$A" send smsgw "+1555;123 rm" >/dev/null
wait_for 10 said "write: +NUMBER TEXT" || t_fail refused "$(b "$A" history smsgw)"
running || t_fail refused "the plug-in is $(plugin_state state): $(plugin_state last_error)"
t_pass "refused: an unknown user or no one named (by SMS), a wrong key, a bad or oversized request, the 11th SMS of a phone in a minute, a bad number"

# ---- 5. restart ----
pid0=$(plugin_state pid)
b "$G" plugins restart sms >/dev/null 2>&1 || t_fail restart "$(b "$G" plugins 2>&1)"
restarted() { running && [ "$(plugin_state pid)" != "$pid0" ]; }
wait_for 15 restarted || t_fail restart "$(b "$G" plugins 2>&1)"
sms "$PHONE" "Still here"
wait_for 10 said "Still here" || t_fail restart "$(b "$A" history smsgw)"
# The new process counts from nothing. Phones writing in from many numbers
# fill its table of numbers (64): newcomers get 429 until a minute ends,
# but the people sending from Banter are counted apart, so ann, who has
# sent nothing through this process yet, still gets through.
full=no
for i in $(seq 100 190); do
    code=$(get "/sms?key=$KEY&from=%2B15557000$i&to=%2B15550000&text=%40nobody+x")
    [ "$code" = 429 ] && full=yes && break
done
[ "$full" = yes ] || t_fail crowd "91 new numbers in a minute were all counted"
b "$A" send smsgw "$PHONE After the restart" >/dev/null || t_fail restart send
wait_for 15 phone_got "<$GWNUM $PHONE text ann (Banter): After the restart>" ||
    t_fail crowd "ann was locked out by the phones: $(b "$A" history smsgw --limit 3)"
t_pass "after banter plugins restart sms both directions work (the phone's binding kept); phones from 65 numbers in a minute get 429 but do not lock out a sender"

# nothing of a message in the node's logs
grep -l "Lunch at noon\|Still here" "$T/smsgw.err" "$T/ann.err" 2>/dev/null && t_fail logs "message text in a node's log"
stop "$FS_PID" fakesmsc
stop "$APID" ann
stop "$GPID" smsgw
check_san "$T/ann.err" ann
check_san "$T/smsgw.err" gateway
stop "$SB_PID" smsbox
stop "$BB_PID" bearerbox
stop "$SRV_PID" rendezvous
check_san "$T/rdv.err" rendezvous
exit 0
