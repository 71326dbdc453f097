#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make_node_v3_db.sh - makes tests/data/node-v3/: the home of a node ("ada")
# whose banter.db (schema version 3, peer/store.c) was written by real use of
# the real bin/banter and bin/banter-rendezvous of this commit, for the
# migration test of issue 11 (item 11). Not part of `make test`: a tool kept
# so the fixture can be made again the same way.
#
#   sudo bash tests/data/make_node_v3_db.sh        # after `make`
#
# Network namespaces from tests/integration/lib.sh (hosts on 198.18.0.0/24,
# mDNS through each host's own avahi-daemon), node helpers from node.sh, the
# server driven as test_rendezvous_nodes.sh does:
#   host 1  banter-rendezvous 198.18.0.1:7400, accounts ada and dave, a
#           mailbox of one stored copy per account (quota_messages = 1)
#   host 2  ada   (LAN + rendezvous, logged in as ada)   <- the home kept
#   host 3  bob   (LAN only)
#   host 4  carol (LAN only), first with one key, then with a new one
#   host 5  dave  (LAN + rendezvous, logged in as dave: his LAN node shows
#                  the organisation's certificate for the account dave)
# In order: discovery (every LAN row known), login and contact approval
# (the account row @dave), chat both ways, verify bob; transfers (bob -> ada
# done, ada -> dave done, carol -> ada offered, ada -> bob over a link slowed
# by tc to 8 Mbit/s, bob's node stopped mid-way: paused); carol restarts
# with a new key (changed row, send refused); then, with bob, carol and dave
# offline: messages queued, one stored on the server, one refused (EQUOTA),
# the server stopped, one more for @dave and a broadcast queued.
# What ada's database ends up holding is listed in node-v3/README.md, which
# this script writes from the database itself (node_v3_readme.py).
#
# Homes and files live under the fixed folder $WORK (/tmp/banter-node-v3) so
# the absolute paths the database records (download folder, the source of
# outgoing files) are known in advance; the folder must not exist, and is
# removed at the end (BT_KEEP_TMP=1 keeps it and the logs).
# Exit codes: 0 made, 1 failed (nothing in $OUT changed), 77 not root or a
# tool missing. Everything started here is ended by PID, also on failure.
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
require_root

abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
BANTER_BIN=${BANTER_BIN:-$ROOT/bin/banter}
RDV_BIN=${RDV_BIN:-$ROOT/bin/banter-rendezvous}
for v in BANTER_BIN RDV_BIN; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (run make first)"
done
BANTER_BIN=$(abs "$BANTER_BIN")
RDV_BIN=$(abs "$RDV_BIN")
for tool in jq python3 tc; do
    command -v "$tool" >/dev/null || t_skip "needs $tool"
done
python3 -c 'import sqlite3, hashlib' 2>/dev/null || t_skip "needs python3 with sqlite3"
OUT=${OUT:-$here/node-v3}
WORK=/tmp/banter-node-v3
[ -e "$WORK" ] && t_fail setup "$WORK exists (another run, or a kept one: remove it first)"
export LC_ALL=C

WORK_MADE=""
cleanup() {
    net_teardown
    [ -n "$WORK_MADE" ] && [ -z "${BT_KEEP_TMP:-}" ] && rm -rf "$WORK"
    return 0
}
net_setup 5
trap cleanup EXIT
mkdir -m 700 "$WORK" || t_fail setup "mkdir $WORK"
WORK_MADE=1
# shellcheck source=tests/integration/node.sh
. "$ROOT/tests/integration/node.sh"

# The commit of the code the binaries were built from: the last one that
# changed anything but this folder (the script itself is committed later).
CODE_COMMIT=$(git -C "$ROOT" log -1 --format=%H -- . ':!tests/data' 2>/dev/null) || CODE_COMMIT=unknown
CODE_DIRTY=$(git -C "$ROOT" status --porcelain -- . ':!tests/data' 2>/dev/null | head -n 5)

# ---- homes, server ----

ADA=$WORK/ada
BOB=$WORK/bob
CAROL1=$WORK/carol-old
CAROL2=$WORK/carol-new
DAVE=$WORK/dave
DL=$WORK/downloads # ada's download_dir
SRCDIR=$WORK/outgoing # what ada sends
for h in "$ADA" "$BOB" "$CAROL1" "$CAROL2" "$DAVE"; do
    mkdir -m 700 "$h" && mkdir -p "$h-dl" &&
        printf 'download_dir = %s\n' "$h-dl" >"$h/banter.conf" || t_fail setup "home $h"
done
mkdir -p "$DL" "$SRCDIR" "$WORK/bob-files/notes" "$WORK/carol-files" || t_fail setup mkdir
printf 'download_dir = %s\n' "$DL" >"$ADA/banter.conf"

RDB=$WORK/rdv.db
RCONF=$WORK/rdv.conf # a small mailbox: one stored copy per account
printf 'quota_messages = 1\n' >"$RCONF"
SRV=198.18.0.1:7400
FP=$("$RDV_BIN" --db "$RDB" fingerprint 2>/dev/null) || t_fail setup "server fingerprint"
printf 'fixture password for node-v3\n' >"$WORK/pw"
chmod 600 "$WORK/pw"
for u in ada dave; do
    "$RDV_BIN" --db "$RDB" user add "$u" --password-file "$WORK/pw" >/dev/null 2>&1 ||
        t_fail setup "user add $u"
done

SRV_N=0
SRV_PID=""
start_server() {
    SRV_N=$((SRV_N + 1))
    bg 1 "$BT_TMP/srv$SRV_N.log" "$RDV_BIN" --config "$RCONF" --db "$RDB" --listen "$SRV"
    SRV_PID=$BG_PID
    wait_for 10 grep -q "listening on $SRV" "$BT_TMP/srv$SRV_N.err" ||
        t_fail "server start" "$(tail -n 3 "$BT_TMP/srv$SRV_N.err")"
}
stop_server() {
    kill -TERM "$SRV_PID" 2>/dev/null
    wait_for 10 gone "$SRV_PID" || t_fail "server stop" "still running 10 s after SIGTERM"
    SRV_PID=""
}

# start_n HOST LABEL NODENAME HOME [NODE OPTION...]: logs $BT_TMP/LABEL-K.*
declare -A NPID NRUN
start_n() {
    local host=$1 label=$2 name=$3 home=$4 k
    shift 4
    k=$((${NRUN[$label]:-0} + 1))
    NRUN[$label]=$k
    bg "$host" "$BT_TMP/$label-$k.log" "$BANTER_BIN" --home "$home" node --name "$name" \
        --port 7070 "$@"
    NPID[$label]=$BG_PID
    wait_for 10 b "$home" id >/dev/null 2>&1 || t_fail "start $label" "no control socket"
}
stop_n() {
    stop_node "${NPID[$1]}" "$1-${NRUN[$1]}" "$1"
    NPID[$1]=""
}
RDV_OPTS=(--rendezvous "$SRV" --server-key "$FP")

# ---- helpers over the CLI's JSON ----

fp_of() { b "$1" id --json | jq -r .fingerprint; }
digits() { tr -d ' ' <<<"$1"; }
# peer_fp HOME FP: the peers --json object with that fingerprint.
peer_fp() { b "$1" peers --json 2>/dev/null | jq -c --arg f "$2" '.[] | select(.fingerprint == $f)'; }
online_fp() { [ "$(peer_fp "$1" "$2" | jq -r .online)" = true ]; }
offline_fp() { ! online_fp "$1" "$2"; }
trust_fp() { [ "$(peer_fp "$1" "$2" | jq -r .trust)" = "$3" ]; }
org_fp() { [ "$(peer_fp "$1" "$2" | jq -r '.org.account // empty')" = "$3" ]; }
contact_json() { b "$1" contacts --json 2>/dev/null | jq -c --arg u "$2" '.[] | select(.user == $u)'; }
contact_is() { [ "$(contact_json "$1" "$2" | jq -r ".$3")" = "$4" ]; }
logged_in() {
    local j
    j=$(b "$1" rendezvous --json 2>/dev/null)
    [ "$(jq -r .connected <<<"$j")" = true ] && [ "$(jq -r .user <<<"$j")" = "$2" ]
}
rdv_up() { [ "$(b "$1" rendezvous --json 2>/dev/null | jq -r .connected)" = true ]; }
rdv_down() { [ "$(b "$1" rendezvous --json 2>/dev/null | jq -r .connected)" = false ]; }
# The newest transfer of HOME matching a jq condition: its id.
xfer_id() { b "$1" transfers --json 2>/dev/null | jq -r "[.[] | select($2)][0].id // empty"; }
xfield() { b "$1" transfers --json 2>/dev/null | jq -r --arg id "$2" "[.[] | select(.id == \$id)][0].$3 // empty"; }
xstate_is() { [ "$(xfield "$1" "$2" state)" = "$3" ]; }

# say HOME PEER TEXT EXPECT: `banter send`, its output must hold EXPECT
# ("delivered", "stored", "queued"; queued exits 3).
say() {
    local out rc=0 want=0
    out=$(b "$1" send "$2" "$3" 2>&1) || rc=$?
    [ "$4" = queued ] && want=3
    [ "$rc" -eq "$want" ] && grep -q "^$4" <<<"$out" ||
        t_fail "send ${1##*/} -> $2" "wanted $4 (exit $want), got exit $rc: $out"
    printf '  %-9s -> %-12.12s %-9s %s\n' "${1##*/}" "$2" "$4" "$3"
}
# The history of HOME with PEER holds TEXT.
has_text() { b "$1" history "$2" --json 2>/dev/null | jq -e --arg t "$3" 'any(.[]; .body == $t)' >/dev/null; }

# ---- 1. four nodes on one LAN, the server in a fifth host ----

start_server
start_n 2 ada ada "$ADA" "${RDV_OPTS[@]}"
start_n 3 bob bob "$BOB"
start_n 4 carol-old carol "$CAROL1"
start_n 5 dave dave "$DAVE" "${RDV_OPTS[@]}"
FP_ADA=$(fp_of "$ADA")
FP_BOB=$(fp_of "$BOB")
FP_CAROL1=$(fp_of "$CAROL1")
FP_DAVE=$(fp_of "$DAVE")
for p in "$FP_BOB" "$FP_CAROL1" "$FP_DAVE"; do
    wait_for 20 online_fp "$ADA" "$p" || t_fail discovery "ada does not see $p: $(b "$ADA" peers 2>&1)"
done
wait_for 20 online_fp "$DAVE" "$FP_ADA" || t_fail discovery "dave does not see ada"
t_pass "ada sees bob, carol and dave on the LAN (each a known LAN peer)"

# ---- 2. accounts: ada and dave log in, dave approves ada ----

for u in ada dave; do
    h=$WORK/$u
    wait_for 15 rdv_up "$h" || t_fail "connect $u" "$(b "$h" rendezvous --json 2>&1)"
    out=$(b "$h" login "$u" --password-file "$WORK/pw" 2>&1) || t_fail "login $u" "$out"
    wait_for 10 logged_in "$h" "$u" || t_fail "login $u" "$(b "$h" rendezvous --json 2>&1)"
done
out=$(b "$ADA" contact add dave 2>&1) || t_fail "contact add dave" "$out"
wait_for 10 contact_is "$DAVE" ada state incoming || t_fail "request" "$(b "$DAVE" contacts --json)"
out=$(b "$DAVE" approve ada 2>&1) || t_fail "approve ada" "$out"
wait_for 10 contact_is "$ADA" dave state approved && wait_for 10 contact_is "$ADA" dave status online ||
    t_fail approve "$(contact_json "$ADA" dave)"
ACC_DAVE=$(b "$ADA" peers --json | jq -r '.[] | select(.name == "dave" and .source == "rendezvous") | .fingerprint')
[ -n "$ACC_DAVE" ] || t_fail "account row" "ada has no rendezvous row for dave: $(b "$ADA" peers --json)"
wait_for 30 org_fp "$ADA" "$FP_DAVE" dave ||
    t_fail certificate "ada's LAN row of dave shows no certificate: $(peer_fp "$ADA" "$FP_DAVE")"
t_pass "ada and dave logged in, dave approved ada; ada has the account row @dave ($ACC_DAVE) and dave's LAN row showing the certificate for account dave"

# ---- 3. history ----

echo "history:"
say "$ADA" bob "Hi Bob, are you coming to the 10:00 review?" delivered
say "$BOB" ada "Yes, I'll bring the printouts." delivered
say "$ADA" bob "Great, room 4.12." delivered
say "$BOB" ada "See you there" delivered
out=$(b "$ADA" verify bob 2>&1) || t_fail "verify bob" "$out"
trust_fp "$ADA" "$FP_BOB" verified || t_fail "verify bob" "$(peer_fp "$ADA" "$FP_BOB")"
say "$ADA" carol "Carol, could you review my draft today?" delivered
say "$CAROL1" ada "Sure, send it over." delivered
say "$CAROL1" ada "I'll look after lunch." delivered
# "dave" names two rows for both of them (the LAN device and the account):
# the LAN device by its fingerprint, the account as @NAME.
say "$ADA" "$(digits "$FP_DAVE")" "Dave, over the LAN: lunch at noon?" delivered
say "$DAVE" "$(digits "$FP_ADA")" "LAN reply: noon is fine." delivered
say "$DAVE" "$(digits "$FP_ADA")" "LAN: I'll book a table." delivered
say "$ADA" @dave "Dave, through the server: the contract is signed." delivered
say "$ADA" @dave "Through the server: copy in the shared folder." delivered
say "$DAVE" @ada "Server reply: thanks, got it." delivered
say "$DAVE" @ada "Server reply: I'll file it." delivered
wait_for 10 has_text "$ADA" @dave "Server reply: I'll file it." || t_fail "relay" "ada lacks dave's reply"
wait_for 10 has_text "$ADA" "$(digits "$FP_DAVE")" "LAN: I'll book a table." || t_fail "lan" "ada lacks dave's LAN reply"
t_pass "history both ways with bob (now verified), carol, dave's LAN device and the account @dave"

# ---- 4. transfers ----

# 4a. bob -> ada: a folder of two files, accepted: done (incoming).
printf 'Meeting notes, 10:00 review\n- printouts: bob\n- room 4.12\n' >"$WORK/bob-files/notes/minutes.txt"
python3 -c 'import sys; sys.stdout.write("".join("action %03d: follow up\n" % i for i in range(150)))' \
    >"$WORK/bob-files/notes/actions.txt"
out=$(b "$BOB" send-file ada "$WORK/bob-files/notes" 2>&1) || t_fail "send-file bob" "$out"
got_in() { XID=$(xfer_id "$ADA" "$1"); [ -n "$XID" ]; }
wait_for 10 got_in '.direction == "in" and .state == "offered" and (.name | startswith("notes"))' ||
    t_fail "offer from bob" "$(b "$ADA" transfers --json)"
X_IN_DONE=$XID
out=$(b "$ADA" accept "$X_IN_DONE" 2>&1) || t_fail "accept" "$out"
wait_for 20 xstate_is "$ADA" "$X_IN_DONE" "done" || t_fail "incoming done" "$(b "$ADA" transfers --json)"
cmp -s "$WORK/bob-files/notes/actions.txt" "$DL/notes/actions.txt" ||
    t_fail "incoming done" "$(find "$DL" -type f)"
t_pass "incoming transfer from bob (a folder, 2 files) accepted and done"

# 4b. ada -> dave's LAN device: one file, accepted: done (outgoing).
printf 'Agenda\n1. contract\n2. lunch\n' >"$SRCDIR/agenda.txt"
touch -d @1700000000 "$SRCDIR/agenda.txt"
out=$(b "$ADA" send-file "$(digits "$FP_DAVE")" "$SRCDIR/agenda.txt" 2>&1) || t_fail "send-file dave" "$out"
X_OUT_DONE=$(xfer_id "$ADA" '.direction == "out" and .name == "agenda.txt"')
[ -n "$X_OUT_DONE" ] || t_fail "send-file dave" "no transfer: $(b "$ADA" transfers --json)"
wait_for 10 xstate_is "$DAVE" "$X_OUT_DONE" offered || t_fail "offer at dave" "$(b "$DAVE" transfers --json)"
out=$(b "$DAVE" accept "$X_OUT_DONE" 2>&1) || t_fail "dave accept" "$out"
wait_for 20 xstate_is "$ADA" "$X_OUT_DONE" "done" || t_fail "outgoing done" "$(b "$ADA" transfers --json)"
t_pass "outgoing transfer to dave's LAN device accepted and done"

# 4c. carol -> ada: offered, never answered (incoming, offered).
printf 'Draft v2 (carol)\n%s\n' "$(seq 1 200 | tr '\n' ' ')" >"$WORK/carol-files/draft-v2.txt"
out=$(b "$CAROL1" send-file ada "$WORK/carol-files/draft-v2.txt" 2>&1) || t_fail "send-file carol" "$out"
wait_for 10 got_in '.direction == "in" and .state == "offered" and .name == "draft-v2.txt"' ||
    t_fail "offer from carol" "$(b "$ADA" transfers --json)"
X_IN_OFFERED=$XID
t_pass "incoming offer from carol left unanswered"

# 4d. ada -> bob over a slow link: bob accepts, then his node stops
# mid-way (outgoing, partial). The source is reproducible: SHAKE-256 of a
# fixed label, mtime fixed (the sender checks it before resuming).
BIG=$SRCDIR/site-photos.bin
BIG_SIZE=$((6 * 1048576))
python3 -c 'import hashlib, sys
sys.stdout.buffer.write(hashlib.shake_256(b"banter node-v3 fixture: site-photos.bin").digest(int(sys.argv[1])))' \
    "$BIG_SIZE" >"$BIG" || t_fail "big file" "python3"
touch -d @1700000000 "$BIG"
ip netns exec "$BT_SW" tc qdisc add dev bs3 root tbf rate 8mbit burst 16kb latency 50ms ||
    t_fail "slow link" "tc qdisc on bs3"
out=$(b "$ADA" send-file bob "$BIG" 2>&1) || t_fail "send-file bob" "$out"
X_OUT_PART=$(xfer_id "$ADA" '.direction == "out" and .name == "site-photos.bin"')
[ -n "$X_OUT_PART" ] || t_fail "send-file bob" "no transfer: $(b "$ADA" transfers --json)"
wait_for 15 xstate_is "$BOB" "$X_OUT_PART" offered || t_fail "offer at bob" "$(b "$BOB" transfers --json)"
out=$(b "$BOB" accept "$X_OUT_PART" 2>&1) || t_fail "bob accept" "$out"
midway() {
    local d
    d=$(xfield "$ADA" "$X_OUT_PART" "done")
    [ -n "$d" ] && [ "${d%.*}" -ge 1048576 ]
}
wait_for 30 midway || t_fail "partial" "ada never sent 1 MiB: $(b "$ADA" transfers --json)"
stop_n bob
xstate_is "$ADA" "$X_OUT_PART" "done" && t_fail "partial" "the transfer finished before bob stopped"
wait_for 10 offline_fp "$ADA" "$FP_BOB" || t_fail "partial" "ada still sees bob online"
ip netns exec "$BT_SW" tc qdisc del dev bs3 root 2>/dev/null
wait_for 10 xstate_is "$ADA" "$X_OUT_PART" paused || t_fail "partial" "$(b "$ADA" transfers --json)"
t_pass "outgoing transfer to bob paused mid-way: $(xfield "$ADA" "$X_OUT_PART" "done") of $BIG_SIZE bytes when bob's node stopped"

# ---- 5. carol's key changes ----

stop_n carol-old
wait_for 10 offline_fp "$ADA" "$FP_CAROL1" || t_fail "carol stop" "ada still sees carol online"
start_n 4 carol-new carol "$CAROL2"
FP_CAROL2=$(fp_of "$CAROL2")
[ "$FP_CAROL2" != "$FP_CAROL1" ] || t_fail "carol new key" "same key"
wait_for 20 trust_fp "$ADA" "$FP_CAROL2" changed || t_fail "key change" "$(b "$ADA" peers --json)"
[ "$(peer_fp "$ADA" "$FP_CAROL2" | jq -r .replaces)" = "$FP_CAROL1" ] ||
    t_fail "key change" "the changed row does not replace carol's first key: $(peer_fp "$ADA" "$FP_CAROL2")"
out=$(b "$ADA" send carol "Is this really you?" 2>&1)
rc=$?
[ "$rc" -eq 6 ] || t_fail "send refused" "exit $rc, not 6: $out"
wait_for 10 online_fp "$CAROL2" "$FP_ADA" || t_fail "carol new" "does not see ada"
say "$CAROL2" ada "Hi Ada, new laptop, same Carol." delivered
wait_for 5 has_text "$ADA" "$(digits "$FP_CAROL2")" "Hi Ada, new laptop, same Carol." ||
    t_fail "carol new" "ada did not store the message of the changed key"
stop_n carol-new
wait_for 10 offline_fp "$ADA" "$FP_CAROL2" || t_fail "carol new stop" "ada still sees her"
t_pass "carol came back with a new key: ada has the known row and the changed row replacing it; send refused (exit 6); her message from the new key is stored"

# ---- 6. what stays unsent ----

echo "left unsent:"
# To carol's first key, named by its fingerprint (the name now resolves to
# the changed key): queued, she is offline.
say "$ADA" "$(digits "$FP_CAROL1")" "To your old laptop: the draft is in the share." queued
# dave's node stops: the server stores the relayed message, the LAN one waits.
stop_n dave
wait_for 65 contact_is "$ADA" dave status offline || t_fail "dave offline" "$(contact_json "$ADA" dave)"
wait_for 10 offline_fp "$ADA" "$FP_DAVE" || t_fail "dave offline" "LAN row still online"
say "$ADA" @dave "While you are away: sign page 3 too." stored
# The server keeps one copy per account (quota_messages = 1): the next
# message for dave is refused, EQUOTA, recorded as failed (exit 1).
out=$(b "$ADA" send @dave "And page 4, please." 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q 'refused the message for @dave: EQUOTA' <<<"$out" ||
    t_fail "failed relay" "exit $rc: $out"
printf '  %-9s -> %-12.12s %-9s %s\n' ada @dave failed "And page 4, please. (EQUOTA)"
say "$ADA" "$(digits "$FP_DAVE")" "LAN, while you are away: table for 4." queued
say "$ADA" bob "Bob, the photos will resume when you are back." queued
# The server stops: what ada sends to @dave now stays in her outbox.
stop_server
wait_for 30 rdv_down "$ADA" || t_fail "server down" "$(b "$ADA" rendezvous --json)"
say "$ADA" @dave "Server down: this waits in my outbox." queued
out=$(b "$ADA" broadcast "Fire drill at 15:00, everyone out." 2>&1) ||
    t_fail broadcast "exit $?: $out"
grep -q '^broadcast to 3 peers' <<<"$out" || t_fail broadcast "not to 3 peers: $out"
echo "  broadcast: $out"
t_pass "queued: to bob, to carol's first key, to dave's LAN device, to @dave, a broadcast (3 rows); one relayed message stored on the server, one failed"

# ---- 7. stop, checkpoint, copy ----

stop_n ada
python3 - "$ADA/banter.db" "$RDB" <<'EOF' || t_fail checkpoint "python3"
import sqlite3, sys
for path in sys.argv[1:]:
    db = sqlite3.connect(path)
    busy, log, done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0, path
    db.execute("PRAGMA journal_mode")
    db.close()
EOF
for f in "$ADA/banter.db-wal" "$RDB-wal"; do
    [ ! -s "$f" ] || t_fail checkpoint "$f not empty"
done

STAGE=$BT_TMP/node-v3
mkdir -p "$STAGE/ada" "$STAGE/parties" "$STAGE/files/downloads" "$STAGE/files/outgoing" || t_fail copy mkdir
cp "$ADA/banter.db" "$ADA/identity.key" "$ADA/banter.conf" "$STAGE/ada/" || t_fail copy ada
cp "$BOB/identity.key" "$STAGE/parties/bob.key" &&
    cp "$CAROL1/identity.key" "$STAGE/parties/carol-old.key" &&
    cp "$CAROL2/identity.key" "$STAGE/parties/carol-new.key" &&
    cp "$DAVE/identity.key" "$STAGE/parties/dave.key" &&
    cp "$RDB" "$STAGE/parties/rdv.db" &&
    cp "$RDB.key" "$STAGE/parties/rdv.db.key" &&
    cp "$RCONF" "$STAGE/parties/rdv.conf" &&
    cp "$WORK/pw" "$STAGE/parties/password" || t_fail copy parties
cp -r "$DL/." "$STAGE/files/downloads/" && cp "$SRCDIR/agenda.txt" "$STAGE/files/outgoing/" ||
    t_fail copy files

jq -n --arg work "$WORK" --arg srv "$SRV" --arg srvfp "$FP" --arg commit "$CODE_COMMIT" \
    --arg dirty "$CODE_DIRTY" --arg big "$BIG" --argjson bigsize "$BIG_SIZE" \
    --arg ada "$FP_ADA" --arg bob "$FP_BOB" --arg carol1 "$FP_CAROL1" --arg carol2 "$FP_CAROL2" \
    --arg dave "$FP_DAVE" --arg accdave "$ACC_DAVE" \
    --arg xin "$X_IN_DONE" --arg xoff "$X_IN_OFFERED" --arg xout "$X_OUT_DONE" --arg xpart "$X_OUT_PART" \
    '{work: $work, server: $srv, server_fp: $srvfp, commit: $commit, dirty: $dirty,
      big: $big, big_size: $bigsize,
      parties: {($ada): "ada (this node)", ($bob): "bob (parties/bob.key)",
                ($carol1): "carol, first key (parties/carol-old.key)",
                ($carol2): "carol, new key (parties/carol-new.key)",
                ($dave): "dave, his LAN node (parties/dave.key)",
                ($accdave): "account dave (name-derived key)"},
      transfers: {($xin): "incoming, accepted, done", ($xoff): "incoming, offered, never answered",
                  ($xout): "outgoing, accepted, done", ($xpart): "outgoing, interrupted mid-way"}}' \
    >"$BT_TMP/meta.json" || t_fail readme "meta"
python3 "$here/node_v3_readme.py" "$STAGE/ada/banter.db" "$BT_TMP/meta.json" \
    "$STAGE/parties/rdv.db" >"$STAGE/README.md" ||
    t_fail readme "node_v3_readme.py"

rm -f "$STAGE/ada/banter.db-wal" "$STAGE/ada/banter.db-shm" "$STAGE/parties/rdv.db-wal" \
    "$STAGE/parties/rdv.db-shm"
# Replace $OUT only now that everything is made.
rm -rf "$OUT.new" && cp -r "$STAGE" "$OUT.new" && rm -rf "$OUT" && mv "$OUT.new" "$OUT" ||
    t_fail copy "$OUT"
chmod 600 "$OUT/ada/identity.key" "$OUT/parties/"*.key "$OUT/parties/password"
t_pass "made $OUT ($(du -sk "$OUT" | cut -f1) KiB)"
exit 0
