#!/usr/bin/env bash
# test: seconds 57
# SPDX-License-Identifier: MIT
#
# test_rendezvous_authz.sh - the authorization table of docs/rendezvous.md
# 2.1, checked message by message: every message type of shared/rvmsg.h
# and shared/msg.h (read from the headers) is sent by every kind of sender
#   unauth       a connection that never logged in
#   stranger     an account with no relation to the target
#   contact      an approved contact of the target
#   blocked      an approved contact the target blocked
#   disabled     a device bound to an account an admin disabled
#   broadcaster  an account with the broadcast right (an admin)
#   own          another device of the target's own account
# to a real banter-rendezvous (ASan build), and each answer is checked
# against the table below (this test's copy of the documented one). A
# type of rvmsg.h without a row here, or without its row in
# docs/rendezvous.md, fails the test: a new message type cannot be added
# without deciding who may send it. Types of msg.h without a row of their
# own follow the row "other" (refused). Then what the messages changed is
# checked: each sender changed its own profile only, the target received
# the copies of its contact and of the broadcaster and nothing else (the
# blocked contact's was answered "stored" and dropped), the requests of
# the stranger and the broadcaster are pending, RV_LOGOUT unbound the
# authenticated devices.
# Needs $RDV_BIN and $RDV_PROBE (the ASan builds by default).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"

kinds=(unauth stranger contact blocked disabled broadcaster own)

# The table: a row per message type, a cell per kind of sender, in the
# order of $kinds. A cell is what the answer must be:
#   auth:CODE      RV_AUTH ok=false with error CODE
#   err:CODE       ERROR CODE          refused   any ERROR
#   none           no answer, and no ERROR
#   result:N       RV_SEARCH_RESULT with total N (the target's phone: hidden)
#   contact:STATE  RV_CONTACTS with the target in STATE
#   status:S       RV_STATUS S         rcpt      RV_RECIPIENTS
#   seal:STATE[:CODE]  RV_STORED with that state (and error)
#   pong           PONG                closed    the server closed
#   (RV_PROBE from an authenticated device is refused EPERM here: the
#   senders are on loopback, which the server never probes;
#   test_doctor_probe.sh checks the results and the rate)
#   ice:CODE       RV_ICE_END from the server with error CODE (the target,
#                  alice, is not connected while the senders send: a
#                  contact's signaling gets EOFFLINE; test_rendezvous_ice.sh
#                  checks what a connected target gets)
# RV_SEAL_BROADCAST is RV_SEAL with the broadcast flag (type 145 for the
# probe).
read -r -d '' TABLE <<'EOF'
RV_LOGIN          auth:EPASSWORD   auth:EPASSWORD         auth:EPASSWORD  auth:EPASSWORD  auth:EPASSWORD   auth:EPASSWORD auth:EPASSWORD
RV_AUTH           err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_PROFILE_SET    err:EAUTH        none                   none            none            err:EAUTH        none none
RV_SEARCH         err:EAUTH        result:0               result:1        result:1        err:EAUTH        result:0 result:1
RV_SEARCH_RESULT  err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_CONTACT        err:EAUTH        contact:outgoing       none            none            err:EAUTH        contact:outgoing err:EINVAL
RV_CONTACTS       err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_STATUS         err:EAUTH        status:away            status:away     status:away     err:EAUTH        status:away status:away
RV_PRESENCE       err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_STORED         err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_DELIVERED      err:EAUTH        none                   none            none            err:EAUTH        none none
RV_KEEP           err:EAUTH        none                   none            none            err:EAUTH        none none
RV_BROADCAST_TO   err:EAUTH        err:EPERM              err:EPERM       err:EPERM       err:EAUTH        rcpt err:EPERM
RV_RECIPIENTS     err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_ICE_SERVERS    err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_ICE_OFFER      err:EAUTH        ice:ENOTCONTACT        ice:EOFFLINE    ice:EOFFLINE    err:EAUTH        ice:ENOTCONTACT ice:EOFFLINE
RV_ICE_ANSWER     err:EAUTH        ice:ENOTCONTACT        ice:EOFFLINE    ice:EOFFLINE    err:EAUTH        ice:ENOTCONTACT ice:EOFFLINE
RV_ICE_END        err:EAUTH        ice:ENOTCONTACT        ice:EOFFLINE    ice:EOFFLINE    err:EAUTH        ice:ENOTCONTACT ice:EOFFLINE
RV_PROBE          err:EAUTH        err:EPERM              err:EPERM       err:EPERM       err:EAUTH        err:EPERM err:EPERM
RV_PROBE_RESULT   err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_CERT           err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
RV_SEAL           seal:refused:EAUTH seal:refused:ENOTCONTACT seal:stored seal:stored     seal:refused:EAUTH seal:refused:ENOTCONTACT seal:stored
RV_SEAL_BROADCAST seal:refused:EAUTH seal:refused:EPERM   seal:refused:EPERM seal:refused:EPERM seal:refused:EAUTH seal:stored seal:refused:EPERM
RV_SEALED         err:EBADTYPE     err:EBADTYPE           err:EBADTYPE    err:EBADTYPE    err:EBADTYPE     err:EBADTYPE err:EBADTYPE
MSG_HELLO         err:EPROTO       err:EPROTO             err:EPROTO      err:EPROTO      err:EPROTO       err:EPROTO err:EPROTO
MSG_PING          pong             pong                   pong            pong            pong             pong pong
MSG_PONG          none             none                   none            none            none             none none
MSG_ERROR         none             none                   none            none            none             none none
other             refused          refused                refused         refused         refused          refused refused
RV_LOGOUT         auth:ELOGGEDOUT  auth:ELOGGEDOUT        auth:ELOGGEDOUT auth:ELOGGEDOUT auth:ELOGGEDOUT  auth:ELOGGEDOUT auth:ELOGGEDOUT
MSG_BYE           closed           closed                 closed          closed          closed           closed closed
EOF

declare -A EXP ROWS
order=()
while read -r name cells; do
    [ -n "$name" ] || continue
    read -r -a c <<<"$cells"
    [ "${#c[@]}" -eq "${#kinds[@]}" ] || t_fail "table" "row $name has ${#c[@]} cells"
    for i in "${!kinds[@]}"; do EXP[$name,${kinds[i]}]=${c[i]}; done
    ROWS[$name]=1
    order+=("$name")
done <<<"$TABLE"

# ---- every type has its row, here and in the docs ----
declare -A CODE
mapfile -t rvtypes < <(sed -n '/typedef enum rv_type {/,/} rv_type;/p' "$root/shared/rvmsg.h" |
    grep -oE 'RV_[A-Z_]+ = 0x[0-9a-fA-F]+')
mapfile -t msgtypes < <(sed -n '/typedef enum msg_type {/,/} msg_type;/p' "$root/shared/msg.h" |
    grep -oE 'MSG_[A-Z_]+ = 0x[0-9a-fA-F]+')
[ "${#rvtypes[@]}" -ge 17 ] && [ "${#msgtypes[@]}" -ge 5 ] ||
    t_fail "headers" "cannot read the type lists of shared/rvmsg.h and shared/msg.h"
doc=$(sed -n '/^### 2.1 Who may send what/,/^## 3\./p' "$root/docs/rendezvous.md")
missing=()
for t in "${rvtypes[@]}"; do
    name=${t%% =*}
    hex=$(printf '%02x' "$((${t##*= }))")
    CODE[$name]=$hex
    [ -n "${ROWS[$name]:-}" ] || missing+=("$name (0x$hex) has no row in this test's table")
    grep -qE "^[|] \`$hex\` [|] $name [|]" <<<"$doc" ||
        missing+=("$name (0x$hex) has no row in the table of docs/rendezvous.md 2.1")
done
[ "${#missing[@]}" -eq 0 ] || t_fail "table" "$(printf '%s; ' "${missing[@]}")"
CODE[RV_SEAL_BROADCAST]=145
others=()
for t in "${msgtypes[@]}"; do
    name=${t%% =*}
    CODE[$name]=$(printf '%02x' "$((${t##*= }))")
    [ -n "${ROWS[$name]:-}" ] || others+=("$name")
done
for name in "${!ROWS[@]}"; do
    [ "$name" = other ] || [ -n "${CODE[$name]:-}" ] ||
        t_fail "table" "row $name names no type of shared/rvmsg.h or shared/msg.h"
done
t_pass "${#rvtypes[@]} types of shared/rvmsg.h, each with its row here and in docs/rendezvous.md 2.1; ${#msgtypes[@]} of shared/msg.h (${#others[@]} by the row \"other\": ${others[*]})"

# ---- the senders ----
rdv_setup alice sam cal bea dee admin1
rdv_start main
for u in alice sam cal bea dee admin1; do
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done
out=$(pr alice2.key "login=alice:$PW" ready) # a second device of alice's
has "$out" '^recv auth ok user=alice ' && has "$out" '^recv contact alice state=self .*devices=2$' ||
    t_fail "login alice's second device" "$out"
PHONE=5550142
pr alice.key ready "profile=phone=$PHONE" "profile=about=the target" >/dev/null
for u in cal bea; do
    pr "$u.key" ready contact=request:alice >/dev/null
    out=$(pr alice.key ready "contact=approve:$u" wait=200)
    has "$out" "^recv contact $u state=approved" || t_fail setup "$out"
done
out=$(pr alice.key ready contact=block:bea wait=200)
has "$out" '^recv contact bea state=blocked' || t_fail setup "$out"
pr dee.key ready "profile=about=before" >/dev/null
"$RDV_BIN" --db rdv.db user disable dee >/dev/null 2>&1 || t_fail setup "disable dee"
alice_dev=$(devkey alice.key)
declare -A KEY=([unauth]=unauth.key [stranger]=sam.key [contact]=cal.key [blocked]=bea.key
    [disabled]=dee.key [broadcaster]=admin1.key [own]=alice2.key)
declare -A HELLO_RE=([unauth]='^recv auth' [stranger]='^recv auth ok user=sam '
    [contact]='^recv auth ok user=cal ' [blocked]='^recv auth ok user=bea '
    [disabled]='^recv auth fail error=EDISABLED ' [broadcaster]='^recv auth ok user=admin1 '
    [own]='^recv auth ok user=alice ')

# The types to send (TYPE:ROW), in the table's order; "other" stands for
# each msg.h type without its own row. RV_LOGOUT and BYE end the session:
# they go last, on a connection of their own.
sends=()
for name in "${order[@]}"; do
    if [ "$name" = other ]; then
        for o in "${others[@]}"; do sends+=("$o:other"); done
    elif [ "$name" != RV_LOGOUT ] && [ "$name" != MSG_BYE ]; then
        sends+=("$name:$name")
    fi
done
batches=()
for ((b = 0; b < ${#sends[@]}; b += 10)); do batches+=("${sends[*]:b:10}"); done
batches+=("RV_LOGOUT:RV_LOGOUT MSG_BYE:MSG_BYE")

# check KIND TYPE ROW SECTION: the section of output after "mark TYPE"
# against the cell.
check() {
    local kind=$1 type=$2 row=$3 sec=$4 cell=${EXP[$3,$1]} re
    case $cell in
    auth:*) re="^recv auth fail error=${cell#auth:} " ;;
    err:*) re="^recv error ${cell#err:}$" ;;
    refused) re='^recv error E[A-Z]+$' ;;
    none) re='' ;;
    result:*) re="^recv result total=${cell#result:} page=0 users=$([ "${cell#result:}" = 0 ] || echo alice)$" ;;
    contact:*) re="^recv contact alice state=${cell#contact:} " ;;
    status:*) re="^recv status ${cell#status:} " ;;
    rcpt) re='^recv recipients total=[1-9]' ;;
    seal:*:*) re="^recv stored .* state=$(cut -d: -f2 <<<"$cell") error=$(cut -d: -f3 <<<"$cell")$" ;;
    seal:*) re="^recv stored .* state=${cell#seal:} error=-$" ;;
    ice:*) re="^recv ice end user=alice .* error=${cell#ice:}$" ;;
    pong) re='^recv pong$' ;;
    closed) re='^closed' ;;
    *) t_fail "table" "cell $cell of $row" ;;
    esac
    if [ -n "$re" ] && ! grep -qE "$re" <<<"$sec"; then
        t_fail "$type from $kind" "expected $cell, got: ${sec:-nothing}"
    fi
    case $cell in
    err:* | refused | auth:* | seal:refused:*) ;;
    *) ! grep -qE '^recv (error|auth fail)|state=refused' <<<"$sec" ||
        t_fail "$type from $kind" "expected $cell, got: $sec" ;;
    esac
}

# ---- every type from every sender ----
n=0
about() { sql "SELECT about FROM profiles WHERE \"user\" = '$1'"; }
for k in "${!kinds[@]}"; do
    kind=${kinds[k]}
    src=127.0.0.$((40 + k))
    # Nobody but alice's own device may change her profile: checked before it runs.
    [ "$kind" != own ] || [ "$(about alice)" = "the target" ] ||
        t_fail "changes" "alice's profile changed: $(about alice)"
    # Batches of at most 10 types per connection (a connection is closed at
    # its 17th refused message).
    for batch in "${batches[@]}"; do
        read -r -a this <<<"$batch"
        steps=(hello sync "target=alice:$alice_dev:$PHONE")
        for s in "${this[@]}"; do
            type=${s%%:*}
            steps+=("mark=$type" "send=${CODE[$type]}" sync)
        done
        out=$("$RDV_PROBE" --source "$src" --key "$T/${KEY[$kind]}" 127.0.0.1 "$PORT" "${steps[@]}" 2>&1)
        rc=$?
        [ "$rc" -eq 0 ] || t_fail "$kind" "the probe failed (exit $rc): $out"
        head=$(sed '/^mark /,$d' <<<"$out")
        if [ "$kind" = unauth ]; then
            ! grep -q '^recv auth' <<<"$head" || t_fail "$kind" "authenticated: $head"
        else
            grep -qE "${HELLO_RE[$kind]}" <<<"$head" || t_fail "$kind" "not the sender meant: $head"
        fi
        for s in "${this[@]}"; do
            type=${s%%:*}
            sec=$(awk -v m="mark $type" '$0 == m { on = 1; next } /^mark / { on = 0 } on' <<<"$out")
            check "$kind" "$type" "${s#*:}" "$sec"
            n=$((n + 1))
        done
    done
done
t_pass "$n answers, $((${#sends[@]} + 2)) types from each of ${#kinds[@]} kinds of sender, as the table says"

# ---- what they changed ----
[ "$(about alice)" = "set by the authorization test" ] || t_fail "changes" "alice's own device: $(about alice)"
[ "$(about dee)" = before ] || t_fail "changes" "the disabled account's profile changed"
for u in sam cal bea admin1; do
    [ "$(about "$u")" = "set by the authorization test" ] || t_fail "changes" "$u: $(about "$u")"
done
n=$(sql "SELECT count(*) FROM devices WHERE \"user\" IN ('sam', 'cal', 'bea', 'admin1')")
[ "$n" = 0 ] || t_fail "changes" "RV_LOGOUT left $n devices bound"
[ "$(sql "SELECT count(*) FROM devices WHERE \"user\" = 'alice'")" = 1 ] ||
    t_fail "changes" "RV_LOGOUT from alice's second device did not unbind it alone"
[ "$(sql "SELECT count(*) FROM devices WHERE \"user\" = 'dee'")" = 1 ] ||
    t_fail "changes" "a disabled account's device was unbound by an unauthenticated RV_LOGOUT"
# Their senders' devices were unbound by the run's RV_LOGOUT before alice
# fetches: the server no longer vouches for them (flag 0x02,
# RV_SEAL_SENDER_GONE, docs/rendezvous.md 6.2).
out=$(pr alice.key ready sealed=3 wait=500)
[ "$(count "$out" '^recv sealed ')" -eq 3 ] &&
    has "$out" '^recv sealed from=alice id=[0-9a-f]* flags=2 body=authorization test check=ok$' &&
    has "$out" '^recv sealed from=cal id=[0-9a-f]* flags=2 body=authorization test check=ok$' &&
    has "$out" '^recv sealed from=admin1 id=[0-9a-f]* flags=3 body=authorization test check=ok$' ||
    t_fail "changes" "alice should get the contact's copy, her own device's and the broadcast only: $out"
has "$out" '^recv contact sam state=incoming ' && has "$out" '^recv contact admin1 state=incoming ' ||
    t_fail "changes" "the requests: $out"
t_pass "each sender changed its own profile only; alice got her contact's copy, her other device's and the broadcast, not the blocked contact's; RV_LOGOUT unbound the authenticated devices only"
rdv_stop main
echo "PASS: test_rendezvous_authz"
