#!/usr/bin/env bash
# test: seconds 16
# SPDX-License-Identifier: MIT
#
# test_cluster_pg.sh - three banter-rendezvous instances sharing one
# PostgreSQL (a throwaway cluster, pg_lib.sh), real nodes in network
# namespaces (docs/cluster.md, docs/rendezvous.md 8.2):
#   1. the instances start on one database, each with its instance key and
#      certificate; ada's node is given instance A only, bob's B and C (so
#      they are never on one instance); contact request and approval
#      between them cross instances;
#   2. a message between devices on different instances is "delivered"
#      when both are online, both ways; a status chosen on one of an
#      account's devices reaches its devices on other instances;
#   3. bob offline: ada's messages are "stored", and reach bob at his next
#      login, once;
#   4. bob's instance is killed (SIGKILL, by PID) while ada sends: bob's
#      node is served by the other instance within seconds, and every
#      message ada's node was told "delivered" or "stored" before, during
#      or after the kill reaches bob exactly once;
#   5. PostgreSQL restarted under the instances: they reconnect, and a
#      message is delivered again; what was acknowledged before is there.
# With links between the instances (cluster_listen, docs/rendezvous.md
# 8.3): the instances link to each other at start; the copies of part 2
# go over a link (the status counters of both instances say so); a link
# from garbage and one from an instance of another organisation are
# refused and the instances keep serving, and so is a link listing more
# devices than an instance may hold (rdv_probe xldevs=); a copy for a
# device of another account than the one it names goes over the link and
# is refused there (ENODEVICE); with the link's port cut
# (iptables in the test's namespace) a message still arrives, through the
# database, and the link comes back when the port is open again, also
# while a stranger floods the dialer's link port with connections that
# send nothing and another, from one address, holds connections to the
# port being dialed (at most 4 of them stay, closed after 5 s without a
# handshake); part 4
# kills an instance with copies in flight on its link.
# Needs root (namespaces), PostgreSQL's server programs (else skipped),
# $BANTER_BIN and $RDV_BIN (the ASan builds by default).
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
# shellcheck source=tests/integration/rnode.sh
. "$here/rnode.sh"
ADMIN_BIN=${ADMIN_BIN:-$here/../../build/asan/banter-admin}
RDV_PROBE=${RDV_PROBE:-$here/../../build/asan/tests/rdv_probe}
rnode_setup 3 ADMIN_BIN
# shellcheck source=tests/integration/pg_lib.sh
. "$here/pg_lib.sh"
pg_start || t_fail setup "PostgreSQL did not start"
URL=$PG_URL
rdv() { "$RDV_BIN" --db "$URL" --state "$T/org" "$@"; }

# The organisation key (the nodes pin it), accounts, three instances.
FP=$(rdv fingerprint 2>/dev/null) || t_fail setup "fingerprint on PostgreSQL"
for u in ada bob; do
    rdv user add "$u" --password-file "$T/pw" >/dev/null 2>&1 || t_fail setup "user add $u"
done
declare -A PORT=([a]=7401 [b]=7402 [c]=7403) LPORT=([a]=7411 [b]=7412 [c]=7413) IPID=()
for x in a b c; do
    rdv instance new "$T/inst_$x.key" --name "rdv-$x" >/dev/null 2>&1 || t_fail setup "instance $x"
    cp -p "$T/org.key" "$T/s_$x.key" || t_fail setup "org key for $x"
    printf 'db = %s\nstate = %s\ninstance = %s\ncluster_listen = 198.18.0.1:%s\n' "$URL" \
        "$T/s_$x" "$T/inst_$x.key" "${LPORT[$x]}" >"$T/$x.conf"
done
start_instance() { # x
    local x=$1
    bg 1 "$T/rdv-$x.log" "$RDV_BIN" --config "$T/$x.conf" --listen "198.18.0.1:${PORT[$x]}"
    IPID[$x]=$BG_PID
    wait_for 15 grep -q "listening on 198.18.0.1:${PORT[$x]}," "$T/rdv-$x.err" ||
        t_fail "start rdv-$x" "$(tail -n 5 "$T/rdv-$x.err")"
    wait_for 10 grep -q "cluster rdv_$x: joined the service" "$T/rdv-$x.err" ||
        t_fail "start rdv-$x" "did not join: $(tail -n 5 "$T/rdv-$x.err")"
}
for x in a b c; do start_instance "$x"; done
t_pass "three instances on one PostgreSQL joined the service"
link_up() { grep -q "link to instance rdv_$2 (.*) up" "$T/rdv-$1.err"; }
for p in "a b" "a c" "b c" "b a" "c a" "c b"; do
    # shellcheck disable=SC2086 # two words
    wait_for 10 link_up $p || t_fail links "no link ${p% *} -> ${p#* }: $(tail -n 5 "$T/rdv-${p% *}.err")"
done
t_pass "the instances linked to each other (Noise between instance keys, certificates checked)"
# An idle link notices a peer whose host died: TCP keepalive on both ends.
for f in sport dport; do # rdv-b's end of the link from rdv-a, then rdv-a's
    ka=$(host_exec 1 ss -Htno state established "( $f = :${LPORT[b]} )")
    grep -q "timer:(keepalive" <<<"$ka" || t_fail "keepalive" "$f ${LPORT[b]}: $ka"
done
t_pass "the links have TCP keepalive on both ends"

A=198.18.0.1:${PORT[a]}
BC=198.18.0.1:${PORT[b]},198.18.0.1:${PORT[c]}
for u in ada bob; do
    mkdir -m 700 "$T/$u" && printf 'ice = off\n' >"$T/$u/banter.conf" || t_fail setup "$u's conf"
done
# start_node NAME HOST SERVICE: the node, given the service's instances
# (rnode.sh's bookkeeping, so stop_rnode stops it).
start_node() {
    local k=$((${NRUN[$1]:-0} + 1))
    NRUN[$1]=$k
    bg "$2" "$T/$1-$k.log" "$BANTER_BIN" --home "$T/$1" node --name "$1" --no-mdns \
        --port 7070 --rendezvous "$3" --server-key "$FP"
    NPID[$1]=$BG_PID
    wait_for 10 b "$T/$1" id >/dev/null 2>&1 || t_fail "start $1" "no control socket"
}
on_instance() { b "$T/$1" rendezvous --json 2>/dev/null | grep -qF "\"instance\":\"$2\""; }
where() { b "$T/$1" rendezvous --json 2>/dev/null | grep -o '"instance":"[^"]*"' | cut -d'"' -f4; }
start_node ada 2 "$A"
start_node bob 3 "$BC"
rnode_login ada ada
rnode_login bob bob
wait_for 10 logged_in ada ada && wait_for 10 logged_in bob bob || t_fail login "not logged in"
BOB_ON=$(where bob)
[ "$(where ada)" = rdv-a ] && { [ "$BOB_ON" = rdv-b ] || [ "$BOB_ON" = rdv-c ]; } ||
    t_fail login "ada on $(where ada), bob on $BOB_ON"

contact_json() {
    b "$T/$1" contacts --json 2>/dev/null | sed 's/^\[//; s/\]$//; s/},{/}\n{/g' |
        grep -F "\"user\":\"$2\""
}
contact_state() { contact_json "$1" "$2" | grep -qF "\"state\":\"$3\""; }
run b "$T/ada" contact add bob
[ "$RC" -eq 0 ] || t_fail "contact request" "exit $RC: $OUT"
wait_for 15 contact_state bob ada incoming || t_fail "contact request" "bob: $(b "$T/bob" contacts --json)"
run b "$T/bob" approve ada
[ "$RC" -eq 0 ] || t_fail "approve" "exit $RC: $OUT"
wait_for 15 contact_state ada bob approved || t_fail "approve" "ada: $(contact_json ada bob)"
t_pass "ada on rdv-a, bob on $BOB_ON: contact request and approval across instances"

# ---- 2. delivered across instances ----
run b "$T/ada" send bob "across instances"
[ "$RC" -eq 0 ] && grep -q "delivered to bob" <<<"$OUT" || t_fail "across" "ada -> bob: $RC $OUT"
wait_for 10 has_body "$T/bob" ada "across instances" || t_fail "across" "bob did not get it"
run b "$T/bob" send ada "and back"
[ "$RC" -eq 0 ] && grep -q "delivered to ada" <<<"$OUT" || t_fail "across" "bob -> ada: $RC $OUT"
wait_for 10 has_body "$T/ada" bob "and back" || t_fail "across" "ada did not get it"
t_pass "a message between devices on different instances is delivered, both ways"

# ---- 2b. over the link; refusals; the link cut ----
"$ADMIN_BIN" --key "$T/boss.key" keygen >"$T/boss.fp" 2>/dev/null || t_fail setup "admin keygen"
rdv admin add "$(cat "$T/boss.fp")" --role auditor >/dev/null 2>&1 || t_fail setup "admin add"
stat() { # INSTANCE FIELD: a counter of `banter-admin status --json`
    host_exec 1 "$ADMIN_BIN" --key "$T/boss.key" --server "198.18.0.1:${PORT[$1]}" \
        --server-key "$FP" status --json 2>/dev/null | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}
xb=${BOB_ON#rdv-}
fa=$(stat a link_forwarded)
rb=$(stat "$xb" link_received)
fb=$(stat "$xb" link_forwarded)
ra=$(stat a link_received)
[ "${fa:-0}" -ge 1 ] && [ "${rb:-0}" -ge 1 ] && [ "${fb:-0}" -ge 1 ] && [ "${ra:-0}" -ge 1 ] ||
    t_fail "over the link" "rdv-a forwarded ${fa:-?}, received ${ra:-?}; $BOB_ON received ${rb:-?}, forwarded ${fb:-?}"
t_pass "the copies between instances went over their link (rdv-a forwarded $fa, $BOB_ON received $rb)"

host_exec 1 bash -c "head -c 4096 /dev/urandom >/dev/tcp/198.18.0.1/${LPORT[a]}" 2>/dev/null
wait_for 10 grep -q "link from 198.18.0.1 refused" "$T/rdv-a.err" ||
    t_fail "garbage" "rdv-a did not refuse it: $(tail -n 3 "$T/rdv-a.err")"
# An instance of another organisation on the same database: linked by
# nobody, refusing the others.
"$RDV_BIN" --db "$URL" --state "$T/org2" fingerprint >/dev/null 2>&1 || t_fail setup "org2"
"$RDV_BIN" --db "$URL" --state "$T/org2" instance new "$T/inst_x.key" --name rdv-x >/dev/null 2>&1 ||
    t_fail setup "instance x"
cp -p "$T/org2.key" "$T/s_x.key" || t_fail setup "org2 key for x"
printf 'db = %s\nstate = %s\ninstance = %s\ncluster_listen = 198.18.0.1:7414\n' "$URL" "$T/s_x" \
    "$T/inst_x.key" >"$T/x.conf"
bg 1 "$T/rdv-x.log" "$RDV_BIN" --config "$T/x.conf" --listen "198.18.0.1:7404"
XPID=$BG_PID
wait_for 15 grep -q "link to 198.18.0.1:7414 refused: not an instance of this organisation" \
    "$T/rdv-a.err" || t_fail "other organisation" "rdv-a: $(tail -n 3 "$T/rdv-a.err")"
wait_for 10 grep -q "link from 198.18.0.1 refused: not an instance of this organisation" \
    "$T/rdv-x.err" || t_fail "other organisation" "rdv-x: $(tail -n 3 "$T/rdv-x.err")"
kill -TERM "$XPID"
wait_for 10 gone "$XPID" || t_fail "other organisation" "rdv-x still running"
check_san "$T/rdv-x.err" "rdv-x"
run b "$T/ada" send bob "after the refusals"
[ "$RC" -eq 0 ] && grep -q "delivered to bob" <<<"$OUT" || t_fail "refusals" "ada -> bob: $RC $OUT"
t_pass "links from garbage and from another organisation's instance refused; the instances still serve"

# A rogue instance (here the organisation key itself, whose empty XL_CERT
# is accepted) listing 200,000 devices on its link: closed at the cap. Its
# row in the shared table (named "main", as its certificate says; never
# dialed: the lower name dials) keeps the once-a-second read of the table
# from closing the link first while a loaded machine is still adding the
# devices.
pg_sql "INSERT INTO banter_instances (id, started, heartbeat, link) VALUES ('main', 0,
    (extract(epoch FROM now()) * 1000)::bigint + 3600000, '198.18.0.1:9')" >/dev/null ||
    t_fail setup "the rogue instance's row"
host_exec 1 "$RDV_PROBE" --key "$T/org.key" 198.18.0.1 "${LPORT[a]}" pt=01 xldevs=200000 \
    wait=1000 >"$T/xldevs.out" 2>&1
wait_for 10 grep -q "link to instance main (.*) closed: it lists more devices than an instance holds" \
    "$T/rdv-a.err" || t_fail "device flood" "rdv-a: $(grep main "$T/rdv-a.err" | tail -n 3)"
pg_sql "DELETE FROM banter_instances WHERE id = 'main'" >/dev/null || t_fail setup "rogue row"
run b "$T/ada" send bob "after the device flood"
[ "$RC" -eq 0 ] && grep -q "delivered to bob" <<<"$OUT" || t_fail "device flood" "ada -> bob: $RC $OUT"
t_pass "a link listing 200,000 devices closed at the cap (196,608); the instance still serves"

# Over a link the recipient device is still checked against the account:
# ada seals a copy addressed to herself but for a device of bob's (on
# $BOB_ON, listed over the link): forwarded, and refused there.
PW=$(cat "$T/pw")
host_bg 1 "$T/bobp.log" "$RDV_PROBE" --key "$T/bobp.key" 198.18.0.1 "${PORT[$xb]}" hello \
    "login=bob:$PW" ready wait=8000 >/dev/null
BOBP=$BT_LAST_PID
wait_for 10 grep -q "^ready" "$T/bobp.log" || t_fail "not hers" "bob's probe: $(tail -n 3 "$T/bobp.log")"
bobp_dev=$("$RDV_PROBE" --key "$T/bobp.key" --print-key)
fa=$(stat a link_forwarded)
out=$(host_exec 1 "$RDV_PROBE" --key "$T/adap.key" 198.18.0.1 "${PORT[a]}" hello "login=ada:$PW" \
    ready "sealto=ada:$bobp_dev:not hers" stored=1 2>&1)
grep -q 'state=refused error=ENODEVICE$' <<<"$out" || t_fail "not hers" "$out"
[ "$(stat a link_forwarded)" -gt "$fa" ] || t_fail "not hers" "not forwarded over the link"
kill -TERM "$BOBP"
wait_for 5 gone "$BOBP" || t_fail "not hers" "bob's probe still running"
t_pass "a copy for bob's device addressed to ada went over the link and was refused there (ENODEVICE)"

# A status chosen on one device reaches the account's devices on other
# instances: ada's second device (a probe) on $BOB_ON goes away; ada's
# node on rdv-a shows it (RV_STATUS from rdv-a, after its read), and
# bob's node sees ada away. Then ada's node goes back online: the probe
# is told. Once only the devices' list went to the other instances.
host_bg 1 "$T/adap2.log" "$RDV_PROBE" --key "$T/adap.key" 198.18.0.1 "${PORT[$xb]}" hello \
    "login=ada:$PW" ready "status=away:at lunch" wait=15000 >/dev/null
ADAP=$BT_LAST_PID
wait_for 10 grep -q "^ready" "$T/adap2.log" || t_fail "own status" "ada's probe: $(tail -n 3 "$T/adap2.log")"
my_status() { b "$T/ada" rendezvous --json 2>/dev/null | grep -qF "\"status\":\"$1\",\"status_text\":$2"; }
wait_for 10 my_status away '"at lunch"' ||
    t_fail "own status" "ada's node on rdv-a: $(b "$T/ada" rendezvous --json 2>&1)"
ada_away() { contact_json bob ada | grep -qF '"status":"away"'; }
wait_for 10 ada_away || t_fail "own status" "bob sees: $(contact_json bob ada)"
run b "$T/ada" status online
[ "$RC" -eq 0 ] || t_fail "own status" "status online: $RC $OUT"
# "online" after "away": the probe also hears "online" at its login and
# when its instance reads ada's node elsewhere, before
back_online() { sed -n '/^recv status away /,$p' "$T/adap2.log" | grep -q '^recv status online text=- '; }
wait_for 10 back_online ||
    t_fail "own status" "ada's probe on $BOB_ON: $(grep '^recv status' "$T/adap2.log")"
kill -TERM "$ADAP"
wait_for 5 gone "$ADAP" || t_fail "own status" "ada's probe still running"
t_pass "a status chosen on ada's device on $BOB_ON reaches her node on rdv-a (and bob), and back"

# ---- 2c. an admin's action on rdv-a reaches the devices on $BOB_ON ----
# chief (role admin) works on rdv-a only; every device here is a probe on
# $BOB_ON. A revoked device's session ends there at once, and a device there
# that takes the revocation list gets the new one; a kicked session ends;
# a disabled account's session ends; a policy set on rdv-a reaches a device
# on $BOB_ON (signed by that instance) and opens the department to searches
# there. Each of them once stayed on rdv-a: the device revoked or the
# account disabled went on chatting through the other instance.
"$ADMIN_BIN" --key "$T/chief.key" keygen >"$T/chief.fp" 2>/dev/null || t_fail setup "chief keygen"
rdv admin add "$(cat "$T/chief.fp")" --role admin >/dev/null 2>&1 || t_fail setup "chief add"
for u in cyd dee fay; do
    rdv user add "$u" --password-file "$T/pw" >/dev/null 2>&1 || t_fail setup "user add $u"
done
adm_a() {
    host_exec 1 "$ADMIN_BIN" --key "$T/chief.key" --server "198.18.0.1:${PORT[a]}" \
        --server-key "$FP" "$@" 2>&1
}
declare -A PROBE=()
ORG_HEX=$("$RDV_PROBE" --key "$T/org.key" --print-key) # what signs the lists and policies
on_b() { # NAME USER [STEP...]: a device of USER (key NAME.key) on $BOB_ON, taking
    # policies and revocation lists
    local name=$1 user=$2
    shift 2
    host_bg 1 "$T/$name.log" "$RDV_PROBE" --key "$T/$name.key" --org "$ORG_HEX" 198.18.0.1 \
        "${PORT[$xb]}" helloa \
        "login=$user:$PW" ready "$@" wait=60000 >/dev/null
    PROBE[$name]=$BT_LAST_PID
    wait_for 20 grep -q "^ready" "$T/$name.log" ||
        t_fail "admin across" "$name: $(tail -n 3 "$T/$name.log")"
}
ended() { grep -qE "^(recv bye $2|recv auth fail error=$2)" "$T/$1.log"; } # and why
on_b watch bob
# A device ada adds on rdv-a, then revoked there: bob's device on $BOB_ON
# gets ada's entry with it, then without it (once only at its next list).
ada_devs() { grep -o '^recv contact ada state=approved .* devices=[0-9]*$' "$T/watch.log" | tail -n 1 |
    grep -o '[0-9]*$'; }
nd=$(ada_devs)
[ -n "$nd" ] || t_fail "admin across" "no entry for ada: $(cat "$T/watch.log")"
out=$(host_exec 1 "$RDV_PROBE" --key "$T/ada3.key" 198.18.0.1 "${PORT[a]}" hello "login=ada:$PW" ready 2>&1)
grep -q '^ready' <<<"$out" || t_fail "admin across" "ada's new device: $out"
devs_are() { [ "$(ada_devs)" = "$1" ]; }
wait_for 10 devs_are $((nd + 1)) || t_fail "admin across" "bob's device on $BOB_ON: $(grep ' ada ' "$T/watch.log")"
fp=$("$ADMIN_BIN" --key "$T/ada3.key" fingerprint 2>&1) || t_fail "admin across" "fingerprint: $fp"
out=$(adm_a device revoke "${fp:0:17}") || t_fail "admin across" "revoke ada3: $out"
wait_for 10 devs_are "$nd" || t_fail "admin across" "bob's device on $BOB_ON: $(grep ' ada ' "$T/watch.log")"
on_b dee dee
rdv user set cyd department Sales >/dev/null 2>&1 || t_fail setup "cyd's department" # the admins'
on_b cyd cyd
grep -q '^recv policy' "$T/watch.log" && t_fail "admin across" "a policy before any was set"
# status on rdv-a counts the whole service: 3 instances; ada's and bob's
# nodes and the three probes online, on any instance
ni=$(stat a cluster_instances) nd_on=$(stat a cluster_devices_online)
[ "$ni" = 3 ] && [ "${nd_on:-0}" -ge 5 ] ||
    t_fail "admin across" "status on rdv-a: $ni instances, $nd_on devices online"
# session list on rdv-a names the devices at the others, with their instance
fpw=$("$ADMIN_BIN" --key "$T/watch.key" fingerprint 2>&1)
out=$(adm_a session list --json)
grep -qF "\"user\":\"bob\",\"fingerprint\":\"$fpw\",\"instance\":\"rdv_$xb\"" <<<"$out" ||
    t_fail "admin across" "session list on rdv-a: $out"
grep -q '^recv revoked n=0 check=ok' "$T/watch.log" || t_fail "admin across" "watch: $(cat "$T/watch.log")"
fp=$(adm_a device list --user dee --json | grep -oE '"fingerprint":"[0-9 ]+"' | cut -d'"' -f4)
[ -n "$fp" ] || t_fail "admin across" "no fingerprint for dee's device"
out=$(adm_a device revoke "${fp:0:17}") && grep -q "revoked device $fp of dee" <<<"$out" ||
    t_fail "admin across" "revoke: $out"
wait_for 10 ended dee "device revoked by an admin" ||
    t_fail "admin across" "dee's device on $BOB_ON still connected: $(tail -n 3 "$T/dee.log")"
wait_for 10 grep -q '^recv revoked n=2 check=ok' "$T/watch.log" ||
    t_fail "admin across" "no new revocation list on $BOB_ON: $(grep revoked "$T/watch.log")"
out=$(adm_a session kick cyd) || t_fail "admin across" "kick: $out"
wait_for 10 ended cyd "session ended by an admin" ||
    t_fail "admin across" "cyd's session on $BOB_ON not ended: $(tail -n 3 "$T/cyd.log")"
wait_for 5 gone "${PROBE[cyd]}" || t_fail "admin across" "cyd's probe still running"
on_b cyd cyd
out=$(host_exec 1 "$RDV_PROBE" --key "$T/watch.key" 198.18.0.1 "${PORT[$xb]}" hello \
    "login=bob:$PW" ready search=0:10:department=sales 2>&1)
grep -q '^recv result total=0 ' <<<"$out" || t_fail "admin across" "department public already: $out"
out=$(adm_a policy set public_fields display_name,department) || t_fail "admin across" "policy: $out"
wait_for 10 grep -q '^recv policy serial=1 .*public=3$' "$T/watch.log" ||
    t_fail "admin across" "no policy on $BOB_ON: $(grep policy "$T/watch.log")"
out=$(host_exec 1 "$RDV_PROBE" --key "$T/watch.key" 198.18.0.1 "${PORT[$xb]}" hello \
    "login=bob:$PW" ready search=0:10:department=sales 2>&1)
grep -q '^recv user cyd ' <<<"$out" || t_fail "admin across" "department not public on $BOB_ON: $out"
out=$(adm_a user disable cyd) || t_fail "admin across" "disable: $out"
wait_for 10 ended cyd EDISABLED ||
    t_fail "admin across" "disabled cyd still on $BOB_ON: $(tail -n 3 "$T/cyd.log")"
# A login on $BOB_ON racing a disable on rdv-a: the shared table's row for
# fay's device is held back (an open transaction holds a row with its key,
# so $BOB_ON's write waits for it), and the disable on rdv-a, which looks
# for fay's devices in that table, finds none. Once the row is written,
# $BOB_ON reads the account again and ends the session (it once stayed).
fay_dev=$("$RDV_PROBE" --key "$T/fay.key" --print-key)
pg_sql "BEGIN; INSERT INTO banter_online (device, instance, \"user\", since)
    VALUES ('\\x$fay_dev', 'rdv_a', 'fay', 0); SELECT pg_sleep(3); ROLLBACK" >/dev/null 2>&1 &
hold=$!
sleep 0.3
on_b fay fay
out=$(adm_a user disable fay) || t_fail "admin across" "disable fay: $out"
kill -0 "$hold" 2>/dev/null || t_fail "admin across" "fay's row was written before the disable (machine too slow for the window): $out"
wait "$hold"
wait_for 10 ended fay EDISABLED ||
    t_fail "admin across" "fay, disabled while her login's row was written, still on $BOB_ON: $(tail -n 3 "$T/fay.log")"
out=$(adm_a announce "fire drill at three") || t_fail "admin across" "announce: $out"
wait_for 10 grep -q '^recv announce id=[0-9]* department=- text=fire drill at three$' "$T/watch.log" ||
    t_fail "admin across" "no announcement on $BOB_ON: $(grep announce "$T/watch.log")"
for n in watch dee cyd fay; do kill -TERM "${PROBE[$n]}" 2>/dev/null; done
# bob's probe devices (here and in "not hers") are revoked, so that ada's
# node, told of bob's devices on $BOB_ON, again finds his node alone and
# a message to bob is "delivered", not "stored" for a device gone.
for kf in bobp watch; do
    fp=$("$ADMIN_BIN" --key "$T/$kf.key" fingerprint 2>&1) && out=$(adm_a device revoke "${fp:0:17}") ||
        t_fail "admin across" "revoke $kf: $fp $out"
done
bob_alone() { contact_json ada bob | grep -qE '"devices":1[,}]'; }
wait_for 10 bob_alone || t_fail "admin across" "ada's node: $(contact_json ada bob)"
t_pass "admin actions on rdv-a reach $BOB_ON: a contact there sees a device added and revoked on rdv-a, a revoked device's session ends and the new revocation list arrives, a kicked session and a disabled account's end (also one whose login's row was written just after the disable), a policy arrives and opens the department to searches there, an announcement arrives at once; status counts $nd_on devices online on $ni instances, session list names them"

cut="INPUT -p tcp --dport ${LPORT[$xb]} -j REJECT --reject-with tcp-reset"
# shellcheck disable=SC2086 # the rule's words
host_exec 1 iptables -I $cut || t_fail "link cut" "iptables"
run b "$T/ada" send bob "link cut"
[ "$RC" -eq 0 ] && grep -qE "delivered to bob|stored on the rendezvous server" <<<"$OUT" ||
    t_fail "link cut" "ada -> bob: $RC $OUT"
wait_for 10 has_body "$T/bob" ada "link cut" || t_fail "link cut" "bob did not get it"
wait_for 10 grep -q "link to instance rdv_$xb (.*) closed" "$T/rdv-a.err" ||
    t_fail "link cut" "rdv-a did not see the link close"
# While it is cut, a stranger keeps rdv-a's link port busy with connections
# that send nothing, 100 new ones a second (each one closed is forgotten,
# so none stays long enough to time out): rdv-a's own dial to $BOB_ON must
# still find a free slot.
cat >"$T/flood.py" <<'PY'
import socket, sys, time
host, port, n, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks = []
while True:
    for s in list(socks):
        try:
            if s.recv(1, socket.MSG_DONTWAIT) == b"":
                s.close()
                socks.remove(s)
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            socks.remove(s)
    for _ in range(n if len(socks) < 300 else 0):
        try:
            s = socket.create_connection((host, port), 2)
        except OSError:
            break
        s.settimeout(None)  # MSG_DONTWAIT then returns at once
        socks.append(s)
    time.sleep(pause)
PY
r0=$(stat a links_refused)
host_bg 1 "$T/flood.log" python3 "$T/flood.py" 198.18.0.1 "${LPORT[a]}" 5 0.05 >/dev/null
FLOOD=$BT_LAST_PID
flooding() { [ "$(stat a links_refused)" -ge $((r0 + 20)) ]; }
wait_for 10 flooding || t_fail "flood" "rdv-a refused $r0 then $(stat a links_refused): $(tail -n 3 "$T/flood.err")"
# shellcheck disable=SC2086
host_exec 1 iptables -D $cut || t_fail "link cut" "iptables -D"
# And another stranger, from ada's host (198.18.0.2), opens 12 connections
# to $BOB_ON's link port at once and holds them, sending nothing: one
# address keeps at most 4 in their handshake (the rest are closed at once),
# and those go after 5 s without a Noise handshake; rdv-a's link to
# $BOB_ON must come back meanwhile.
cat >"$T/hold.py" <<'PY'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = [socket.create_connection((host, port), 2) for _ in range(n)]
for s in socks:
    s.settimeout(None)  # MSG_DONTWAIT then returns at once
def held():
    k = 0
    for s in socks:
        try:
            if s.recv(1, socket.MSG_DONTWAIT) != b"":
                k += 1
        except BlockingIOError:
            k += 1
        except OSError:
            pass
    return k
t0 = time.monotonic()
time.sleep(1)
print("held1=%d" % held(), flush=True)
while held() and time.monotonic() - t0 < 15:
    time.sleep(0.2)
print("held2=%d after %.1f s" % (held(), time.monotonic() - t0), flush=True)
PY
rx=$(stat "$xb" links_refused)
host_bg 2 "$T/hold.log" python3 "$T/hold.py" 198.18.0.1 "${LPORT[$xb]}" 12 >/dev/null
HOLD=$BT_LAST_PID
up_again() { [ "$(grep -c "link to instance rdv_$xb (.*) up" "$T/rdv-a.err")" -ge 2 ]; }
wait_for 15 up_again || t_fail "link cut" "the link did not come back (strangers in handshakes on its port)"
kill -TERM "$FLOOD"
wait_for 5 gone "$FLOOD" || t_fail "flood" "the flood still running"
wait_for 5 grep -q "^held1=" "$T/hold.log" || t_fail "one address" "$(cat "$T/hold.log" "$T/hold.err")"
held1=$(sed -n 's/^held1=//p' "$T/hold.log")
[ "$held1" -le 4 ] || t_fail "one address" "198.18.0.2 holds $held1 connections in their handshake"
rx2=$(stat "$xb" links_refused)
[ "$rx2" -ge $((rx + 8)) ] || t_fail "one address" "rdv-$xb refused $rx, then $rx2 links"
fa=$(stat a link_forwarded)
run b "$T/ada" send bob "over the link again"
[ "$RC" -eq 0 ] && grep -q "delivered to bob" <<<"$OUT" || t_fail "link back" "ada -> bob: $RC $OUT"
[ "$(stat a link_forwarded)" -gt "$fa" ] || t_fail "link back" "not forwarded over the link"
t_pass "link to $BOB_ON cut: the message went through the database; the link came back and carries copies again"
wait_for 15 grep -q "^held2=" "$T/hold.log" || t_fail "one address" "$(cat "$T/hold.log")"
# The last closed within 5 s and a tick of its accept (the rest at once),
# well before the 10 s for a handshake and certificate.
held2=$(sed -n 's/^held2=\([0-9]*\) after \([0-9]*\)\..*/\1 \2/p' "$T/hold.log")
[ "${held2% *}" = 0 ] && [ "${held2#* }" -le 8 ] || t_fail "one address" "$(cat "$T/hold.log")"
wait_for 5 gone "$HOLD" || t_fail "one address" "the stranger still running"
t_pass "one address held $held1 of its 12 connections to a link port in their handshake (the others refused at once), closed after ${held2#* } s without a handshake; the link came back meanwhile"

# ---- 3. stored while offline ----
stop_rnode bob
for i in 1 2 3; do
    run b "$T/ada" send bob "offline $i"
    [ "$RC" -eq 0 ] && grep -q "stored on the rendezvous server" <<<"$OUT" ||
        t_fail "offline" "offline $i: $RC $OUT"
done
start_node bob 3 "$BC"
for i in 1 2 3; do
    wait_for 20 has_body "$T/bob" ada "offline $i" || t_fail "offline" "offline $i missing"
done
t_pass "bob offline: ada's messages stored, delivered at his next login ($(where bob))"

# ---- 4. bob's instance killed under traffic ----
BOB_ON=$(where bob)
x=${BOB_ON#rdv-}
other=b
[ "$x" = b ] && other=c
: >"$T/acked"
sender() { # messages one after another; each acknowledged one is written down
    local i out
    for ((i = 1; i <= 40; i++)); do
        out=$(b "$T/ada" send bob "burst $i" 2>&1) &&
            grep -qE "delivered to bob|stored on the rendezvous server" <<<"$out" &&
            echo "burst $i" >>"$T/acked"
        sleep 0.1
    done
}
sender &
SENDER=$!
BT_PIDS+=("$SENDER")
wait_for 20 grep -q "burst 10$" "$T/acked" || t_fail "kill" "the sender did not start"
kill -KILL "${IPID[$x]}"
t0=$(now_ms)
wait_for 5 gone "${IPID[$x]}" || t_fail "kill" "rdv-$x still running"
on_other() { on_instance bob "rdv-$other" && logged_in bob bob; }
wait_for 20 on_other || t_fail "failover" "bob not on rdv-$other: $(b "$T/bob" rendezvous --json)"
fail_ms=$(($(now_ms) - t0))
wait "$SENDER"
n_acked=$(wc -l <"$T/acked")
[ "$n_acked" -ge 30 ] || t_fail "kill" "only $n_acked of 40 sends acknowledged"
missing=0
while read -r body; do
    wait_for 20 has_body "$T/bob" ada "$body" || { missing=$((missing + 1)) && echo "missing: $body"; }
done <"$T/acked"
[ "$missing" -eq 0 ] || t_fail "kill" "$missing acknowledged messages never reached bob"
dups=$(b "$T/bob" history ada --json | grep -o '"body":"burst [0-9]*"' | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || t_fail "kill" "$dups messages reached bob twice"
t_pass "rdv-$x killed while ada sent: bob served by rdv-$other after ${fail_ms} ms; all $n_acked acknowledged messages arrived once"

# ---- 5. PostgreSQL restarted ----
pg_restart fast || t_fail "pg restart" "$(tail -n 5 "$PG_DIR/server.log")"
rejoined() { grep -c "cluster rdv_$1: joined the service" "$T/rdv-$1.err" | grep -qv '^1$'; }
wait_for 20 rejoined a || t_fail "pg restart" "rdv-a did not join again: $(tail -n 5 "$T/rdv-a.err")"
delivered_after() {
    run b "$T/ada" send bob "after the restart $1"
    [ "$RC" -eq 0 ] && grep -qE "delivered to bob" <<<"$OUT"
}
k=0
retry() { k=$((k + 1)) && delivered_after "$k"; }
wait_for 30 retry || t_fail "pg restart" "no delivery after the restart: $OUT"
wait_for 10 has_body "$T/bob" ada "after the restart $k" || t_fail "pg restart" "bob did not get it"
n=$(b "$T/bob" history ada --json | grep -o '"body":"burst [0-9]*"' | sort -u | wc -l)
[ "$n" -ge "$n_acked" ] || t_fail "pg restart" "bob's history lost messages ($n < $n_acked)"
t_pass "PostgreSQL restarted: the instances connected again, a message is delivered, nothing lost"

stop_rnode ada
stop_rnode bob
for y in a b c; do
    [ "$y" = "$x" ] && continue
    kill -TERM "${IPID[$y]}"
    wait_for 10 gone "${IPID[$y]}" || t_fail stop "rdv-$y still running"
    check_san "$T/rdv-$y.err" "rdv-$y"
done
t_pass "nodes and instances stopped cleanly, no sanitizer report"
