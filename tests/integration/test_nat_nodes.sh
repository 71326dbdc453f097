#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_nat_nodes.sh - direct connections through NAT between real nodes
# (the ASan builds), with a real banter-rendezvous and coturn, in the
# namespaces of nat_lib.sh. alice and bob are approved contacts at sites
# behind NAT routers; the server (and coturn) is on the "public" network;
# neither node has mDNS or a --peer: the only way to each other is the
# rendezvous and ICE.
#   (a) both port-restricted cone NATs: the nodes connect directly
#       (route "direct", server-reflexive candidates), a chat message is
#       delivered over it and a 3 MiB file arrives intact;
#   (b) bob behind a symmetric NAT (nodes restarted): the path is TURN
#       (route "relay"), chat and a file again;
#   (c) a forged ICE offer to alice's device from a non-contact (an
#       rdv_probe logged in as mallory) is refused by the server
#       (ENOTCONTACT) and alice's node starts nothing;
#   (d) the path changes while messages flow: bob is carried into alice's
#       LAN (his TURN path dies; alice has a --peer for his new address),
#       and 20 messages sent one every 200 ms around the move all arrive,
#       each once, all are acknowledged (delivered, or stored by the
#       server while bob had no path at all), and the LAN path is taken
#       over (route "lan", preferred to a direct one);
#   (e) UDP blocked at bob's site (bob carried back): `banter nat-check`
#       on bob says TURN works over TCP only, and the path is TURN over
#       TCP (route "relay"); in (a) nat-check said "behind NAT" and TURN
#       over UDP;
#   (f) bob blocks alice: the direct path ends at once on both sides and
#       a message alice sends then never reaches bob (regression: the
#       path outlived the block).
# Prints the time from login to a connected path. Needs root, coturn,
# iptables, openssl; skips (77) otherwise.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nat_lib.sh"
require_root
command -v turnserver >/dev/null || t_skip "needs turnserver (Debian coturn)"
abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
BANTER_BIN=$(abs "${BANTER_BIN:-$here/../../build/asan/banter}")
RDV_BIN=$(abs "${RDV_BIN:-$here/../../build/asan/banter-rendezvous}")
RDV_PROBE=$(abs "${RDV_PROBE:-$here/../../build/asan/tests/rdv_probe}")
for v in BANTER_BIN RDV_BIN RDV_PROBE; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v}"
done
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

nat_setup
T=$NL_TMP
nat_site a cone
nat_site b cone
nat_host a alice
nat_host b bob
nat_turn_start

# ---- the rendezvous, in pub ----
SRV=198.18.0.1:7400
DB=$T/r.db
FP=$("$RDV_BIN" --db "$DB" fingerprint 2>/dev/null) || t_fail setup "fingerprint"
printf 'pw for the nat test\n' >"$T/pw"
chmod 600 "$T/pw"
for u in alice bob mallory; do
    "$RDV_BIN" --db "$DB" user add "$u" --password-file "$T/pw" >/dev/null 2>&1 ||
        t_fail setup "user add $u"
done
cat >"$T/rdv.conf" <<CONF
turn = turn:$NL_TURN_IP:$NL_TURN_PORT
turn_secret = $NL_TURN_SECRET
CONF
chmod 600 "$T/rdv.conf"
nat_bg pub "$T/srv.log" "$RDV_BIN" --config "$T/rdv.conf" --db "$DB" --listen "$SRV"
wait_for 10 grep -q "listening on $SRV" "$T/srv.err" || t_fail "server" "$(tail -n 3 "$T/srv.err")"

b() {
    local h=$1
    shift
    nat_exec "$h" "$BANTER_BIN" --home "$T/$h" "$@"
}
declare -A NPID NRUN
start() {
    local h=$1 k
    k=$((${NRUN[$h]:-0} + 1))
    NRUN[$h]=$k
    nat_bg "$h" "$T/$h-$k.log" "$BANTER_BIN" --home "$T/$h" node --name "$h" --port 7070 \
        --no-mdns --rendezvous "$SRV" --server-key "$FP" "${@:2}"
    NPID[$h]=$NL_LAST_PID
    wait_for 10 b "$h" id >/dev/null 2>&1 || t_fail "start $h" "no control socket"
}
stop() {
    local h=$1 p=${NPID[$1]}
    kill -TERM "$p" 2>/dev/null
    _gone1() { ! kill -0 "$1" 2>/dev/null; }
    wait_for 15 _gone1 "$p" || t_fail "stop $h" "node did not exit within 15 s of SIGTERM"
    local hits
    hits=$(grep -E 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$T/$h-${NRUN[$h]}.err")
    [ -z "$hits" ] || t_fail "$h sanitizers" "$(head -n 5 <<<"$hits")"
}
logged_in() { b "$1" rendezvous --json 2>/dev/null | grep -q "\"user\":\"$1\""; }
# route H PEER: the route of PEER's first device as H's `peers --json` says.
route() {
    b "$1" peers --json 2>/dev/null | jq -r --arg n "$2" \
        '[.[] | select(.name == $n)][0].devices[0].route // empty'
}
path() {
    b "$1" peers --json 2>/dev/null | jq -r --arg n "$2" \
        '[.[] | select(.name == $n)][0].devices[0].path // empty'
}
route_is() { [ "$(route "$1" "$2")" = "$3" ]; }

for h in alice bob; do start "$h"; done
for h in alice bob; do
    wait_for 15 b "$h" rendezvous --json 2>/dev/null | grep -q '"connected":true' ||
        t_fail "connect $h" "$(b "$h" rendezvous --json 2>&1)"
    b "$h" login "$h" --password-file "$T/pw" >/dev/null 2>&1 || t_fail "login $h" "refused"
done
b alice contact add bob >/dev/null 2>&1 || t_fail contacts "alice: contact add bob"
_incoming() { b bob contacts --json 2>/dev/null | grep -q '"state":"incoming"'; }
wait_for 10 _incoming || t_fail contacts "bob got no request"
b bob approve alice >/dev/null 2>&1 || t_fail contacts "bob: approve alice"
t0=$(now_ms)

# check_path SITUATION ROUTE: both see each other over ROUTE; chat and a
# file over it.
PHASE=0
check_path() {
    local what=$1 want=$2 ms f
    PHASE=$((PHASE + 1))
    f=file$PHASE-$want
    if ! wait_for 40 route_is alice bob "$want" || ! wait_for 10 route_is bob alice "$want"; then
        t_fail "$what" "alice sees bob over '$(route alice bob)' ($(path alice bob)), bob sees alice over '$(route bob alice)'; expected $want"
    fi
    ms=$(($(now_ms) - t0))
    echo "$what: $want after $ms ms: alice -> bob $(path alice bob); bob -> alice $(path bob alice)"
    out=$(b alice send bob "hello over $want" 2>&1) && grep -q "delivered to bob" <<<"$out" ||
        t_fail "$what chat" "$out"
    _got() { b bob history alice --json 2>/dev/null | grep -qF "\"body\":\"hello over $want\""; }
    wait_for 5 _got || t_fail "$what chat" "bob did not get it"
    route_is alice bob "$want" || t_fail "$what chat" "the route changed: $(route alice bob)"
    head -c 3145728 /dev/urandom >"$T/$f.bin"
    b alice send-file bob "$T/$f.bin" --wait >"$T/send-$f.log" 2>&1 &
    local sp=$! id=""
    _offer() {
        id=$(b bob transfers --json 2>/dev/null | jq -r --arg n "$f.bin" \
            '[.[] | select(.direction == "in" and .state == "offered" and .name == $n)][0].id // empty')
        [ -n "$id" ]
    }
    wait_for 20 _offer || t_fail "$what file" "no offer at bob: $(cat "$T/send-$f.log")"
    mkdir -p "$T/in-$f"
    b bob accept "$id" --to "$T/in-$f" >/dev/null 2>&1 || t_fail "$what file" "accept"
    _sent() { ! kill -0 "$sp" 2>/dev/null; }
    wait_for 60 _sent || t_fail "$what file" "send-file still running: $(tail -n 2 "$T/send-$f.log")"
    wait "$sp" || t_fail "$what file" "send-file failed: $(tail -n 3 "$T/send-$f.log")"
    cmp -s "$T/$f.bin" "$T/in-$f/$f.bin" ||
        t_fail "$what file" "the received file differs"
    route_is alice bob "$want" || t_fail "$what file" "the route changed: $(route alice bob)"
    t_pass "$what: both reach the other over $want ($(path alice bob)); a chat message delivered and a 3 MiB file intact over it"
}

check_path "(a) two cone NATs" direct
path alice bob | grep -q 'srflx' || t_fail "(a)" "not server-reflexive: $(path alice bob)"
nc=$(b alice nat-check --json 2>&1)
[ "$(jq -r .nat <<<"$nc")" = behind ] && [ "$(jq -r .turn <<<"$nc")" = udp ] &&
    [ "$(jq -r .mapped <<<"$nc")" = "$(nat_site_addr a)" ] || t_fail "(a) nat-check" "$nc"
t_pass "(a) nat-check: behind NAT, seen as $(jq -r .mapped <<<"$nc"), TURN over UDP: $(jq -r .verdict <<<"$nc")"

# ---- (c) a forged offer from a non-contact ----
alice_dev=$("$RDV_PROBE" --key "$T/alice/identity.key" --print-key) ||
    t_fail "(c)" "alice's device key"
out=$(nat_exec pub "$RDV_PROBE" --key "$T/mallory.key" 198.18.0.1 7400 hello \
    "login=mallory:$(cat "$T/pw")" "target=alice:$alice_dev:x" ice=offer:alice sync 2>&1)
grep -q '^recv ice end user=alice .* error=ENOTCONTACT$' <<<"$out" || t_fail "(c)" "$out"
sleep 1
! grep -q 'mallory' "$T/alice-${NRUN[alice]}.err" || t_fail "(c)" "alice's node heard of mallory"
t_pass "(c) a forged ICE offer from a non-contact is refused by the server (ENOTCONTACT); alice's node hears nothing"

# ---- (b) bob behind a symmetric NAT: TURN ----
stop alice
stop bob
nat_mode b symmetric
# alice also keeps dialing where bob will be on her LAN in (d).
start alice --peer 198.19.1.12:7070
start bob
t0=$(now_ms)
check_path "(b) bob behind a symmetric NAT" relay
path alice bob | grep -qE 'TURN|relay' || t_fail "(b)" "not through TURN: $(path alice bob)"
out=$(b alice peers 2>&1)
grep -q 'relay' <<<"$out" || t_fail "(b) peers" "$out"

# ---- (d) the path changes while messages flow ----
for i in $(seq 1 20); do
    b alice send bob "moving $i" --wait 0 >/dev/null 2>&1 # queued or delivered: checked below
    [ "$i" = 5 ] && nat_move bob a
    sleep 0.2
done
[ "$(nat_host_addr bob)" = 198.19.1.12 ] || t_fail "(d)" "bob is at $(nat_host_addr bob)"
wait_for 45 route_is alice bob lan ||
    t_fail "(d)" "alice reaches bob over '$(route alice bob)' ($(path alice bob)), not the LAN"
_all_in() {
    [ "$(b bob history alice --json --limit 1000 2>/dev/null | jq '[.[] | select(.body | startswith("moving "))] | length')" = 20 ]
}
_all_acked() {
    [ "$(b alice history bob --json --limit 1000 2>/dev/null |
        jq '[.[] | select((.body | startswith("moving ")) and
            (.state == "delivered" or .state == "stored"))] | length')" = 20 ]
}
wait_for 60 _all_in || t_fail "(d)" "bob has $(b bob history alice --json --limit 1000 | jq -c '[.[] | .body]')"
wait_for 60 _all_acked || t_fail "(d)" "alice: $(b alice history bob --json --limit 1000 | jq -c '[.[] | [.body, .state]]')"
dups=$(b bob history alice --json --limit 1000 | jq -r '.[] | .body' | sort | uniq -d)
[ -z "$dups" ] || t_fail "(d)" "shown twice at bob: $dups"
relayed=$(b alice history bob --json --limit 1000 | jq '[.[] | select(.state == "stored")] | length')
t_pass "(d) bob carried into alice's LAN while 20 messages went out: each arrived once, all acknowledged ($relayed by the server's relay while bob had no path), the LAN path took over ($(path alice bob))"

# ---- (e) UDP blocked at bob's site: TURN over TCP ----
stop alice
stop bob
nat_move bob b
nat_mode b udp-blocked
start alice
start bob
t0=$(now_ms)
_logged_bob() { b bob rendezvous --json 2>/dev/null | grep -q '"user":"bob"'; }
wait_for 15 _logged_bob || t_fail "(e)" "bob is not logged in"
nc=$(b bob nat-check --json 2>&1)
[ "$(jq -r .turn <<<"$nc")" = tcp ] || t_fail "(e) nat-check" "$nc"
out=$(b bob nat-check 2>&1)
grep -q 'TCP only' <<<"$out" || t_fail "(e) nat-check" "$out"
t_pass "(e) nat-check with UDP blocked: $(jq -r .verdict <<<"$nc")"
check_path "(e) UDP blocked at bob's site" relay
path bob alice | grep -q 'TURN tcp' || t_fail "(e)" "not TURN over TCP: $(path bob alice)"

# ---- (f) a block ends the direct path ----
b bob contact block alice >/dev/null 2>&1 || t_fail "(f)" "block"
_no_path() {
    local r
    r=$(route "$1" "$2")
    [ "$r" != relay ] && [ "$r" != direct ]
}
wait_for 10 _no_path alice bob && wait_for 10 _no_path bob alice ||
    t_fail "(f)" "the path outlived the block: alice $(route alice bob), bob $(route bob alice)"
b alice send bob "after the block" --wait 2 >/dev/null 2>&1
sleep 2
! b bob history alice --json 2>/dev/null | grep -qF '"body":"after the block"' ||
    t_fail "(f)" "a message reached bob after he blocked alice"
grep -q "no longer an approved contact" "$T/bob-${NRUN[bob]}.err" || t_fail "(f)" "bob's log"
t_pass "(f) bob blocks alice: the direct path ends on both sides, and alice's next message never reaches him"

stop alice
stop bob
echo "PASS: test_nat_nodes"
