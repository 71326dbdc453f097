#!/usr/bin/env bash
# test: seconds 48
# SPDX-License-Identifier: MIT
# test_transfer.sh - file transfer between two real nodes on a private LAN
# (alice in host 1 sends, bob in host 2 receives):
#   1. empty, 1-byte, 61440, 3*61440 and 61441-byte files, a nested folder
#      tree and a 300 MiB file arrive intact, with no partial files left;
#   2. decline; 3. cancel by the receiver and by the sender mid-transfer;
#   4. SIGKILL of the receiver, then of the sender, mid-transfer: resumed;
#   5. after a clean restart the receiver resumes with its saved hash state,
#      reading nothing back; a partial file changed while it was stopped is
#      found and fetched again from the checkpoint before the change; a
#      changed checkpoint file is not trusted; a change no checkpoint covers
#      (after a SIGKILL) fails the file, which never gets its name;
#   6. a hostile peer (evil_peer) offering "../x", "/abs"... is declined
#      (and not kept: `transfers` does not list it); offers cancelled by
#      their sender before an answer, 300 times under new keys, are
#      forgotten (no rows in the database) and the node-wide offer rate
#      holds, while an established colleague's offer made during such a
#      flood still gets through; two senders' folders of the same name
#      accepted before data
#      arrives go to two folders; and
#      a symbolic link in the download folder is never followed; a stranger
#      sending FILE_MARK, FILE_STORED, CHUNK, ACCEPT, RESULT and CANCEL for
#      someone else's transfer changes nothing;
#   7. disk full on a small tmpfs: failed on both sides, chat still works,
#      resumed by `accept` once there is room;
#   8. two 100 MiB transfers at once; 9. chat round trips during a transfer.
# Every check prints PASS or FAIL with what it measured; a failed check does
# not stop the others (exit 1 at the end). Needs root, jq, and
# $EVIL_PEER (default build/asan/tests/evil_peer).
set -u
. "$(dirname "$0")/lib.sh"
require_root
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BANTER_BIN=${BANTER_BIN:-$ROOT/build/asan/banter}
EVIL_PEER=${EVIL_PEER:-$ROOT/build/asan/tests/evil_peer}
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
[ -x "$EVIL_PEER" ] || t_fail setup "no $EVIL_PEER (make build/asan/tests/evil_peer)"
for tool in jq cmp mount umount find dd tr sqlite3; do
    command -v "$tool" >/dev/null || t_skip "needs $tool"
done
export ASAN_OPTIONS=detect_leaks=1
export LC_ALL=C
CHUNK=61440 # XFER_CHUNK
MIB=1048576

SMALL_MNT="" # the tmpfs of check 7, mounted in host 2's mount namespace
cleanup() {
    local p
    # our background CLI jobs (send-file, listen) not waited for yet
    for p in $(jobs -p); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = banter ] && kill "$p" 2>/dev/null
    done
    if [ -n "$SMALL_MNT" ]; then
        host_exec 2 umount "$SMALL_MNT" 2>/dev/null || host_exec 2 umount -l "$SMALL_MNT" 2>/dev/null
        SMALL_MNT=""
    fi
    net_teardown
}
net_setup 2
trap cleanup EXIT
T_START=$(now_ms)

FAILS=0
fail() {
    printf 'FAIL: %s: %s\n' "$1" "${2:-}"
    FAILS=$((FAILS + 1))
}
pass() { t_pass "$1"; }
elapsed_ms() { echo $(($(now_ms) - $1)); }
# MB/s (10^6 bytes) for BYTES in MS milliseconds
rate() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.1f", (ms > 0 ? b / 1e6 / (ms / 1000) : 0) }'; }

# ---- nodes ----
NAMES=("" alice bob)
PIDS=()
RUNS=(0 0 0)
DL2=$BT_TMP/dl2 # bob's download_dir
SRC=$BT_TMP/src # what alice sends
mkdir -p "$BT_TMP/h1" "$BT_TMP/h2" "$DL2" "$SRC" "$BT_TMP/dl1"
chmod 700 "$BT_TMP/h1" "$BT_TMP/h2"
printf 'download_dir = %s\n' "$BT_TMP/dl1" >"$BT_TMP/h1/banter.conf"
printf '# test_transfer.sh\ndownload_dir = %s\n' "$DL2" >"$BT_TMP/h2/banter.conf"

b() {
    local i=$1
    shift
    "$BANTER_BIN" --home "$BT_TMP/h$i" "$@"
}
node_up() { b "$1" id >/dev/null 2>&1; }
start_node() { # i
    local i=$1
    RUNS[i]=$((RUNS[i] + 1))
    PIDS[i]=$(host_bg "$i" "$BT_TMP/${NAMES[i]}-${RUNS[i]}.log" "$BANTER_BIN" --home \
        "$BT_TMP/h$i" node --name "${NAMES[i]}" --port 7070)
    wait_for 5 node_up "$i" || t_fail start "${NAMES[i]} did not start"
}
gone() { ! kill -0 "$1" 2>/dev/null; }
sanitizer_check() { # i: the node's logs so far
    local f
    for f in "$BT_TMP/${NAMES[$1]}"-*.err; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$f"; then
            fail sanitizer "${f##*/}: $(grep -m3 -E 'ERROR|runtime error' "$f")"
            return 1
        fi
    done
    return 0
}
stop_node() { # i [signal]
    local i=$1 sig=${2:-TERM} t0
    t0=$(now_ms)
    kill -"$sig" "${PIDS[i]}" 2>/dev/null
    wait_for 15 gone "${PIDS[i]}" || t_fail stop "${NAMES[i]} did not stop after SIG$sig"
    echo "  ${NAMES[i]} stopped by SIG$sig in $(elapsed_ms "$t0") ms"
    [ "$sig" = KILL ] || sanitizer_check "$i"
}
online() { # i NAME: node i lists NAME online
    [ "$(b "$1" peers --json 2>/dev/null |
        jq -r --arg n "$2" '[.[] | select(.name == $n)][0].online')" = true ]
}
both_online() { online 1 bob && online 2 alice; }

# ---- transfers ----
# A transfer's field as node i sees it ("" when it has no such transfer).
xfield() { # i ID FIELD
    b "$1" transfers --json 2>/dev/null |
        jq -r --arg id "$2" --arg f "$3" '[.[] | select(.id == $id)][0][$f] // empty'
}
state_is() { [ "$(xfield "$1" "$2" state)" = "$3" ]; }
done_over() { # i ID BYTES: more than BYTES done
    local d
    d=$(xfield "$1" "$2" "done")
    [ -n "$d" ] && [ "${d%.*}" -gt "$3" ]
}
# OFFER: the id of bob's newest incoming offer named NAME still waiting.
got_offer() {
    OFFER=$(b 2 transfers --json 2>/dev/null | jq -r --arg n "$1" \
        '[.[] | select(.direction == "in" and .state == "offered" and .name == $n)][0].id // empty')
    [ -n "$OFFER" ]
}
# send_bg LOG PATH... : `send-file --wait` from alice to bob in the
# background (SEND_PID), timed from T_SEND.
send_bg() {
    local log=$1
    shift
    T_SEND=$(now_ms)
    b 1 send-file bob "$@" --wait >"$log" 2>&1 &
    SEND_PID=$!
}
# finish PID TIMEOUT_S: RC = its exit code (124 after killing it on timeout).
finish() {
    if wait_for "$2" gone "$1"; then
        wait "$1"
        RC=$?
    else
        kill "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        RC=124
    fi
}
# Leftover temporary files below a folder (printed).
partials() { find "$1" -name '.*.banter-partial*' 2>/dev/null; }
no_partials() { [ -z "$(partials "$1")" ]; }
# Stop a transfer a failed check left running, so it does not disturb the next.
abandon() { # ID
    b 1 cancel "$1" >/dev/null 2>&1
    b 2 cancel "$1" >/dev/null 2>&1
}
# LISTEN_PID: `listen --json` of node i into LOG.
listen_bg() { # i LOG
    b "$1" listen --json >"$2" 2>"$2.err" &
    LISTEN_PID=$!
    wait_for 10 grep -q "listening for events" "$2.err" || t_fail listen "$(cat "$2.err")"
}
listen_stop() {
    kill "$LISTEN_PID" 2>/dev/null
    wait "$LISTEN_PID" 2>/dev/null
}
# From a listen log of the side that did not restart: the bytes done when
# the transfer paused or failed (the sender: sent; the receiver: verified),
# and the offset it went on from afterwards.
resume_points() { # LOG ID -> "BEFORE OFFSET"
    jq -rs --arg id "$2" '[.[] | select(.transfer.id? == $id) | .transfer] as $e
        | ($e | map(.state == "paused" or .state == "failed") | index(true)) as $p
        | if $p == null then "none none" else
          "\($e[:$p + 1] | map(.done) | max // 0) \([$e[$p:][] | select(.state == "active")][0].done // "none")"
          end' "$1"
}

# ---- test data ----
t0=$(now_ms)
: >"$SRC/empty.bin"
head -c 1 /dev/urandom >"$SRC/one.bin"
head -c $CHUNK /dev/urandom >"$SRC/c1.bin"
head -c $((3 * CHUNK)) /dev/urandom >"$SRC/c3.bin"
head -c $((CHUNK + 1)) /dev/urandom >"$SRC/c1p.bin"
T=$SRC/tree
mkdir -p "$T/l1/l2/l3" "$T/emptydir"
echo "top level" >"$T/top.txt"
head -c 5000 /dev/urandom >"$T/top.bin"
: >"$T/empty.txt"
head -c 70000 /dev/urandom >"$T/l1/a.bin"
echo "level one" >"$T/l1/b.txt"
head -c 123457 /dev/urandom >"$T/l1/l2/c.bin"
echo "level two" >"$T/l1/l2/d.txt"
head -c $CHUNK /dev/urandom >"$T/l1/l2/l3/e.bin"
: >"$T/l1/l2/l3/empty.bin"
echo "level three" >"$T/l1/l2/l3/f.txt"
head -c $((300 * MIB)) /dev/urandom >"$SRC/big.bin"
echo "test data made in $(elapsed_ms "$t0") ms"

start_node 1
start_node 2
t0=$(now_ms)
wait_for 10 both_online || t_fail discovery "alice and bob do not see each other online"
echo "alice and bob online for each other after $(elapsed_ms "$t0") ms"

# ==== 1. files of every edge size, a folder tree, 300 MiB ====
# send_one CHECK PATH OFFER_NAME: send, accept into bob's download_dir,
# expect exit 0 and state done on both sides. ID is the transfer id.
send_one() {
    local check=$1 path=$2 name=$3 t1
    send_bg "$BT_TMP/send-$check.log" "$path"
    ID=""
    if ! wait_for 30 got_offer "$name"; then
        finish "$SEND_PID" 1
        fail "$check" "no offer named \"$name\" at bob (send-file: $(cat "$BT_TMP/send-$check.log"))"
        return 1
    fi
    ID=$OFFER
    T_OFFERED=$(now_ms)
    b 2 accept "$ID" >/dev/null || {
        fail "$check" "accept $ID: exit $?"
        abandon "$ID"
        return 1
    }
    t1=$(now_ms)
    finish "$SEND_PID" 120
    T_DONE=$(now_ms)
    if [ "$RC" != 0 ]; then
        fail "$check" "send-file --wait exit $RC: $(tail -3 "$BT_TMP/send-$check.log")"
        abandon "$ID"
        return 1
    fi
    if ! state_is 1 "$ID" "done" || ! wait_for 5 state_is 2 "$ID" "done"; then
        fail "$check" "states: alice $(xfield 1 "$ID" state), bob $(xfield 2 "$ID" state)"
        return 1
    fi
    return 0
}

for f in empty.bin one.bin c1.bin c3.bin c1p.bin; do
    size=$(stat -c %s "$SRC/$f")
    check="file-$size-bytes"
    send_one "$check" "$SRC/$f" "$f" || continue
    if ! cmp -s "$SRC/$f" "$DL2/$f"; then
        fail "$check" "$DL2/$f differs from the source"
    elif ! no_partials "$DL2"; then
        fail "$check" "leftover: $(partials "$DL2")"
    else
        pass "$check: $f ($size bytes) identical, offer to done $((T_DONE - T_OFFERED)) ms"
    fi
done

check=folder-tree
nfiles=$(find "$T" -type f | wc -l)
if send_one "$check" "$T" "tree ($nfiles files)"; then
    want=$(cd "$T" && find . -type f | sort)
    got=$(cd "$DL2/tree" 2>/dev/null && find . -type f | sort)
    bad=""
    while read -r f; do cmp -s "$T/$f" "$DL2/tree/$f" || bad="$bad $f"; done <<<"$want"
    if [ "$want" != "$got" ]; then
        fail "$check" "files differ: sent [$want] got [$got]"
    elif [ -n "$bad" ]; then
        fail "$check" "content differs:$bad"
    elif ! no_partials "$DL2"; then
        fail "$check" "leftover: $(partials "$DL2")"
    else
        note="the empty folder is not sent"
        [ -d "$DL2/tree/emptydir" ] && note="the empty folder was created"
        pass "$check: $nfiles files in 3 nested levels identical (2 empty files and an empty folder: $note), $((T_DONE - T_OFFERED)) ms"
    fi
fi

# ---- 1 (300 MiB): throughput ----
check=file-300MiB
size=$(stat -c %s "$SRC/big.bin")
send_bg "$BT_TMP/send-big.log" "$SRC/big.bin"
if wait_for 60 got_offer big.bin; then
    ID=$OFFER
    hash_ms=$(elapsed_ms "$T_SEND")
    b 2 accept "$ID" >/dev/null || fail "$check" "accept exit $?"
    t1=$(now_ms)
    finish "$SEND_PID" 150
    ms=$(elapsed_ms "$t1")
    if [ "$RC" != 0 ]; then
        fail "$check" "send-file --wait exit $RC: $(tail -3 "$BT_TMP/send-big.log")"
        abandon "$ID"
    elif ! state_is 1 "$ID" "done" || ! wait_for 5 state_is 2 "$ID" "done"; then
        fail "$check" "states: alice $(xfield 1 "$ID" state), bob $(xfield 2 "$ID" state)"
    elif ! cmp -s "$SRC/big.bin" "$DL2/big.bin"; then
        fail "$check" "received file differs"
    elif ! no_partials "$DL2"; then
        fail "$check" "leftover: $(partials "$DL2")"
    else
        pass "$check: identical; hashing + offer $hash_ms ms, accept to done $ms ms = $(rate "$size" "$ms") MB/s (ASan build)"
    fi
    rm -f "$DL2/big.bin"
else
    finish "$SEND_PID" 1
    fail "$check" "no offer: $(cat "$BT_TMP/send-big.log")"
fi

# ==== 9. chat round trips while 300 MiB flow ====
# pings N: N acknowledged sends (exit 0 = bob acknowledged), PINGS_MS their
# times in ms, PINGS_BAD how many failed or took over 2 s.
pings() {
    local k
    PINGS_MS=()
    PINGS_BAD=0
    for ((k = 1; k <= $1; k++)); do
        ping_once "ping $k"
    done
}
ping_once() { # TEXT: one acknowledged send, its time added to PINGS_MS
    local tp prc ms
    tp=$(now_us)
    b 1 send bob "$1" --wait 5 >/dev/null
    prc=$?
    ms=$((($(now_us) - tp) / 1000))
    PINGS_MS+=("$ms")
    { [ "$prc" = 0 ] && [ "$ms" -lt 2000 ]; } || PINGS_BAD=$((PINGS_BAD + 1))
}
check=chat-during-transfer
ID=""
pings 5
idle=("${PINGS_MS[@]}")
# Five sends, each begun while the transfer is active; when the transfer
# is over before five went (a fast run), the file is sent again (at most
# four times), so the check does not depend on the transfer's speed.
PINGS_MS=()
PINGS_BAD=0
rounds=0
why=""
while [ ${#PINGS_MS[@]} -lt 5 ] && [ "$rounds" -lt 4 ] && [ -z "$why" ]; do
    rounds=$((rounds + 1))
    send_bg "$BT_TMP/send-chat.log" "$SRC/big.bin"
    if ! wait_for 60 got_offer big.bin; then
        finish "$SEND_PID" 1
        why="no offer"
        break
    fi
    ID=$OFFER
    b 2 accept "$ID" --to "$BT_TMP/in9" >/dev/null || why="accept exit $?"
    wait_for 10 done_over 2 "$ID" 0
    while [ ${#PINGS_MS[@]} -lt 5 ] && state_is 1 "$ID" active; do
        ping_once "ping ${#PINGS_MS[@]}"
    done
    finish "$SEND_PID" 150
    if [ "$RC" != 0 ] || ! cmp -s "$SRC/big.bin" "$BT_TMP/in9/big.bin"; then
        why="the transfer: exit $RC, $(xfield 2 "$ID" state)"
    fi
    abandon "$ID"
    rm -rf "$BT_TMP/in9"
done
if [ -n "$why" ]; then
    fail "$check" "$why"
elif [ "$PINGS_BAD" != 0 ]; then
    fail "$check" "$PINGS_BAD of ${#PINGS_MS[@]} sends failed or took over 2 s: ${PINGS_MS[*]} ms"
elif [ ${#PINGS_MS[@]} -lt 5 ]; then
    fail "$check" "only ${#PINGS_MS[@]} sends began during $rounds transfers (${PINGS_MS[*]} ms)"
else
    pass "$check: 5 acknowledged sends, each begun during a transfer ($rounds of the file): ${PINGS_MS[*]} ms (idle: ${idle[*]} ms)"
fi

# ==== 2. decline ====
check=decline
send_bg "$BT_TMP/send-decline.log" "$SRC/c3.bin"
if wait_for 30 got_offer c3.bin; then
    ID=$OFFER
    b 2 decline "$ID" >/dev/null || fail "$check" "decline exit $?"
    finish "$SEND_PID" 10
    if [ "$RC" != 7 ]; then
        fail "$check" "send-file --wait exit $RC, expected 7: $(cat "$BT_TMP/send-decline.log")"
    elif ! state_is 1 "$ID" declined || ! state_is 2 "$ID" declined; then
        fail "$check" "states: alice $(xfield 1 "$ID" state), bob $(xfield 2 "$ID" state)"
    else
        pass "$check: send-file exit 7 $(elapsed_ms "$T_SEND") ms after the send; declined on both sides"
    fi
else
    finish "$SEND_PID" 1
    fail "$check" "no offer"
fi

# ==== 3. cancel mid-transfer, from the receiver and from the sender ====
# cancel_mid CHECK NODE_THAT_CANCELS DIR
cancel_mid() {
    local check=$1 who=$2 dir=$3 at t1
    send_bg "$BT_TMP/send-$check.log" "$SRC/big.bin"
    if ! wait_for 60 got_offer big.bin; then
        finish "$SEND_PID" 1
        fail "$check" "no offer"
        return
    fi
    ID=$OFFER
    b 2 accept "$ID" --to "$dir" >/dev/null || fail "$check" "accept exit $?"
    if ! wait_for 30 done_over "$who" "$ID" 0 || ! wait_for 5 test -n "$(partials "$dir")"; then
        fail "$check" "no progress at ${NAMES[who]}: $(xfield "$who" "$ID" state), in $dir: $(ls -a "$dir")"
    fi
    at=$(xfield "$who" "$ID" "done")
    t1=$(now_ms)
    b "$who" cancel "$ID" >/dev/null || fail "$check" "cancel exit $?"
    finish "$SEND_PID" 10
    if [ "$RC" != 8 ]; then
        fail "$check" "send-file --wait exit $RC, expected 8: $(tail -3 "$BT_TMP/send-$check.log")"
    elif ! wait_for 5 state_is 1 "$ID" cancelled || ! wait_for 5 state_is 2 "$ID" cancelled; then
        fail "$check" "states: alice $(xfield 1 "$ID" state), bob $(xfield 2 "$ID" state)"
    elif ! wait_for 3 test -z "$(find "$dir" -type f)"; then
        fail "$check" "files left on bob's side: $(find "$dir" -type f)"
    else
        pass "$check: cancelled by ${NAMES[who]} at $at of $size bytes; sender exit 8 after $(elapsed_ms "$t1") ms; both cancelled; the partial file in bob's folder is gone"
    fi
    abandon "$ID"
}
cancel_mid cancel-by-receiver 2 "$BT_TMP/in3a"
cancel_mid cancel-by-sender 1 "$BT_TMP/in3b"

# ==== 4. SIGKILL the receiver, then the sender, mid-transfer ====
check=sigkill-receiver
D4=$BT_TMP/in4a
listen_bg 1 "$BT_TMP/listen4a.log"
send_bg "$BT_TMP/send-$check.log" "$SRC/big.bin"
if wait_for 60 got_offer big.bin; then
    ID=$OFFER
    b 2 accept "$ID" --to "$D4" >/dev/null || fail "$check" "accept exit $?"
    wait_for 30 done_over 2 "$ID" $((size / 3)) || fail "$check" "bob did not reach a third"
    bob_at=$(xfield 2 "$ID" "done")
    stop_node 2 KILL
    t1=$(now_ms)
    wait_for 5 state_is 1 "$ID" paused || fail "$check" "alice: $(xfield 1 "$ID" state), not paused"
    start_node 2
    finish "$SEND_PID" 120
    ms=$(elapsed_ms "$t1")
    read -r before offset < <(resume_points "$BT_TMP/listen4a.log" "$ID")
    if [ "$RC" != 0 ]; then
        fail "$check" "send-file --wait exit $RC: $(tail -3 "$BT_TMP/send-$check.log")"
        abandon "$ID"
    elif ! wait_for 5 state_is 2 "$ID" "done"; then
        fail "$check" "bob's state: $(xfield 2 "$ID" state)"
    elif ! cmp -s "$SRC/big.bin" "$D4/big.bin"; then
        fail "$check" "received file differs"
    elif ! no_partials "$D4"; then
        fail "$check" "leftover: $(partials "$D4")"
    else
        resent="?"
        [[ $offset =~ ^[0-9]+$ && $before =~ ^[0-9]+$ ]] && resent=$((before - offset))
        pass "$check: bob had verified >= $bob_at bytes when killed; alice had sent $before, resumed from $offset (re-sent ~$resent bytes = $(awk -v r="${resent//\?/0}" 'BEGIN { printf "%.1f", r / 1048576 }') MiB); done and identical $ms ms after the kill"
    fi
    rm -rf "$D4"
else
    finish "$SEND_PID" 1
    fail "$check" "no offer"
fi
listen_stop

check=sigkill-sender
D4=$BT_TMP/in4b
listen_bg 2 "$BT_TMP/listen4b.log"
send_bg "$BT_TMP/send-$check.log" "$SRC/big.bin"
if wait_for 60 got_offer big.bin; then
    ID=$OFFER
    b 2 accept "$ID" --to "$D4" >/dev/null || fail "$check" "accept exit $?"
    wait_for 30 done_over 2 "$ID" $((size / 3)) || fail "$check" "bob did not reach a third"
    stop_node 1 KILL
    t1=$(now_ms)
    finish "$SEND_PID" 5 # its node died: it ends too
    wait_for 5 state_is 2 "$ID" paused || fail "$check" "bob: $(xfield 2 "$ID" state), not paused"
    start_node 1
    if wait_for 120 state_is 2 "$ID" "done"; then
        ms=$(elapsed_ms "$t1")
        read -r before offset < <(resume_points "$BT_TMP/listen4b.log" "$ID")
        if ! wait_for 5 state_is 1 "$ID" "done"; then
            fail "$check" "alice's state: $(xfield 1 "$ID" state)"
        elif ! cmp -s "$SRC/big.bin" "$D4/big.bin"; then
            fail "$check" "received file differs"
        elif ! no_partials "$D4"; then
            fail "$check" "leftover: $(partials "$D4")"
        else
            pass "$check: bob had verified $before bytes when alice was killed, went on from $offset; done and identical $ms ms after the kill (send-file exited $RC with its node)"
        fi
    else
        fail "$check" "not done: alice $(xfield 1 "$ID" state) $(xfield 1 "$ID" "done"), bob $(xfield 2 "$ID" state) $(xfield 2 "$ID" "done") $(xfield 2 "$ID" error)"
        abandon "$ID"
    fi
    rm -rf "$D4"
else
    finish "$SEND_PID" 1
    fail "$check" "no offer"
fi
listen_stop
wait_for 10 both_online || fail "$check" "not online again"

# ==== 5. resume after a restart: saved hash state, and changed files ====
CKPT=$((8 * MIB)) # XSINK_CHECKPOINT: a checkpoint of the hash every 8 MiB
# interrupt CHECK SIGNAL DIR: send big.bin, stop bob with SIGNAL once he has
# a third. Leaves bob stopped; ID, PART (the partial file), PSIZE (its size),
# HSTATE (its checkpoint file). Returns 1 (after a fail) when that failed.
interrupt() {
    local check=$1 sig=$2 dir=$3
    send_bg "$BT_TMP/send-$check.log" "$SRC/big.bin"
    if ! wait_for 60 got_offer big.bin; then
        finish "$SEND_PID" 1
        fail "$check" "no offer"
        return 1
    fi
    ID=$OFFER
    b 2 accept "$ID" --to "$dir" >/dev/null || fail "$check" "accept exit $?"
    wait_for 30 done_over 2 "$ID" $((size / 3)) || fail "$check" "bob did not reach a third"
    stop_node 2 "$sig"
    PART=$(find "$dir" -name '.big.bin.*.banter-partial' ! -name '*.hstate.banter-partial' | head -1)
    HSTATE=$(find "$dir" -name '.big.bin.*.hstate.banter-partial' | head -1)
    if [ ! -f "$PART" ] || [ ! -f "$HSTATE" ]; then
        fail "$check" "no partial file and checkpoints: $(ls -la "$dir")"
        start_node 2
        finish "$SEND_PID" 60
        abandon "$ID"
        return 1
    fi
    PSIZE=$(stat -c %s "$PART")
}
# flip FILE OFFSET: change 64 bytes there (each + 1), keeping the size.
flip() {
    dd if="$1" bs=1 skip="$2" count=64 status=none | tr '\000-\377' '\001-\377\000' |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# resumed CHECK DIR T1 EXPECT_OFFSET: after bob's restart, the transfer ends
# done and identical, resumed from EXPECT_OFFSET ("" to skip that).
resumed() {
    local check=$1 dir=$2 t1=$3 expect=$4 ms before offset
    finish "$SEND_PID" 120
    ms=$(elapsed_ms "$t1")
    read -r before offset < <(resume_points "$BT_TMP/listen-$check.log" "$ID")
    if [ "$RC" != 0 ]; then
        fail "$check" "send-file --wait exit $RC: $(tail -3 "$BT_TMP/send-$check.log")"
        abandon "$ID"
    elif ! wait_for 5 state_is 2 "$ID" "done"; then
        fail "$check" "bob's state: $(xfield 2 "$ID" state)"
    elif ! cmp -s "$SRC/big.bin" "$dir/big.bin"; then
        fail "$check" "received file differs"
    elif ! no_partials "$dir"; then
        fail "$check" "leftover: $(partials "$dir")"
    elif [ -n "$expect" ] && [ "$offset" != "$expect" ]; then
        fail "$check" "resumed from $offset, expected $expect (alice had sent $before)"
    else
        RESUMED_MS=$ms
        return 0
    fi
    return 1
}
bob_said() { grep -F "$1" "$BT_TMP/bob-${RUNS[2]}.err"; }

# 5a. A clean stop seals a checkpoint: the restart reads nothing back.
check="resume-saved-state"
D5=$BT_TMP/in5a
listen_bg 1 "$BT_TMP/listen-$check.log"
if interrupt "$check" TERM "$D5"; then
    t1=$(now_ms)
    start_node 2
    if resumed "$check" "$D5" "$t1" "$PSIZE"; then
        if ! wait_for 5 bob_said "resumed at $PSIZE bytes with the saved hash state" >/dev/null; then
            fail "$check" "bob did not resume with the saved state: $(grep transfer "$BT_TMP/bob-${RUNS[2]}.err")"
        else
            pass "$check: stopped at $PSIZE bytes, resumed there with the saved hash state (nothing re-read), done and identical $RESUMED_MS ms after the restart"
        fi
    fi
fi
rm -rf "$D5"
listen_stop
wait_for 10 both_online || fail "$check" "not online again"

# 5b. The partial file changed while bob was stopped (same size): found at
# the restart, and fetched again from the last checkpoint before the change.
check="tampered-partial"
D5=$BT_TMP/in5b
listen_bg 1 "$BT_TMP/listen-$check.log"
if interrupt "$check" TERM "$D5"; then
    at=$((PSIZE / 2 + 1000))
    flip "$PART" "$at"
    cmp -s <(dd if="$PART" bs=1 skip="$at" count=64 status=none) \
        <(dd if="$SRC/big.bin" bs=1 skip="$at" count=64 status=none) &&
        fail "$check" "the bytes were not changed"
    expect=$((at / CKPT * CKPT))
    t1=$(now_ms)
    start_node 2
    if resumed "$check" "$D5" "$t1" "$expect"; then
        if ! bob_said "the partial file changed after $expect bytes" >/dev/null; then
            fail "$check" "bob did not report the change: $(grep transfer "$BT_TMP/bob-${RUNS[2]}.err")"
        else
            pass "$check: 64 bytes changed at $at of $PSIZE; found at the restart, fetched again from $expect (the checkpoint before); done and identical $RESUMED_MS ms after the restart"
        fi
    fi
fi
rm -rf "$D5"
listen_stop
wait_for 10 both_online || fail "$check" "not online again"

# 5c. A changed checkpoint file is not trusted: the partial file is read
# again and checked against the checkpoints that are still authentic.
check="tampered-checkpoints"
D5=$BT_TMP/in5c
listen_bg 1 "$BT_TMP/listen-$check.log"
if interrupt "$check" TERM "$D5"; then
    hsize=$(stat -c %s "$HSTATE")
    flip "$HSTATE" $((hsize - 100)) # inside the last (sealed) checkpoint
    t1=$(now_ms)
    start_node 2
    if resumed "$check" "$D5" "$t1" "$PSIZE"; then
        if ! bob_said "re-read $PSIZE bytes of the partial file" >/dev/null; then
            fail "$check" "bob did not re-read the partial file: $(grep transfer "$BT_TMP/bob-${RUNS[2]}.err")"
        else
            pass "$check: the sealed checkpoint was changed: bob re-read the $PSIZE bytes and went on from there; done and identical $RESUMED_MS ms after the restart"
        fi
    fi
fi
rm -rf "$D5"
listen_stop
wait_for 10 both_online || fail "$check" "not online again"

# 5d. After a SIGKILL no checkpoint vouches for the last bytes: a change
# there is found by the hash of the whole file, which never gets its name.
check="tampered-after-kill"
D5=$BT_TMP/in5d
listen_bg 1 "$BT_TMP/listen-$check.log"
if interrupt "$check" KILL "$D5"; then
    last=$((PSIZE / CKPT * CKPT))
    if [ $((PSIZE - last)) -lt 200 ]; then
        last=$((last - CKPT)) # the kill came right at a checkpoint
    fi
    at=$(((last + PSIZE) / 2))
    flip "$PART" "$at"
    t1=$(now_ms)
    start_node 2
    finish "$SEND_PID" 120
    err=$(xfield 2 "$ID" error)
    if [ "$RC" = 0 ]; then
        fail "$check" "send-file --wait succeeded with a changed file"
    elif ! state_is 2 "$ID" failed || [[ $err != *"does not match the hash"* ]]; then
        fail "$check" "bob: $(xfield 2 "$ID" state) \"$err\""
    elif [ -e "$D5/big.bin" ]; then
        fail "$check" "the changed file got its final name"
    elif ! no_partials "$D5"; then
        fail "$check" "the failed file's partial files are left: $(partials "$D5")"
    else
        t2=$(now_ms)
        if ! b 2 accept "$ID" >/dev/null; then
            fail "$check" "accept again: exit $?"
        elif ! wait_for 60 state_is 2 "$ID" "done" || ! wait_for 5 state_is 1 "$ID" "done"; then
            fail "$check" "not done again: alice $(xfield 1 "$ID" state), bob $(xfield 2 "$ID" state) $(xfield 2 "$ID" error)"
        elif ! cmp -s "$SRC/big.bin" "$D5/big.bin"; then
            fail "$check" "received file differs after accepting again"
        else
            pass "$check: 64 bytes changed at $at, after the last checkpoint ($last) of $PSIZE: bob failed it (\"$err\"), nothing kept; accepted again: done and identical in $(elapsed_ms "$t2") ms"
        fi
    fi
    abandon "$ID"
fi
rm -rf "$D5"
listen_stop
wait_for 10 both_online || fail "$check" "not online again"

# ==== 6. a hostile peer's names; a symbolic link in the download folder ====
check=evil-names
BAD=("../../etc/x" "/abs" $'a\x01b' "ok/../../y" 'back\slash' ".x.banter-partial")
# what fpath quotes in its reason for each
QUOTED=('"../../etc/x"' '"/abs"' '"a\x01b"' '"ok/../../y"' '"back\\slash"' '".x.banter-partial"')
outside=("/tmp/etc/x" "/abs" "$BT_TMP/y")
pre=()
for p in "${outside[@]}"; do [ -e "$p" ] && pre+=("$p"); done
snap() { find "$BT_TMP" -path "$BT_TMP/h?" -prune -o ! -name '*.log' ! -name '*.err' -print | sort; }
before_snap=$(snap)
out=$(host_exec 1 "$EVIL_PEER" 198.18.0.2 7070 "${BAD[@]}" good.txt 2>"$BT_TMP/evil.err")
erc=$?
printf "  evil_peer: %s\n" "${out//$'\n'/$'\n  evil_peer: '}"
ok=1
for k in "${!BAD[@]}"; do
    q=${QUOTED[k]}
    line=$(grep -F -- "offer " <<<"$out" | sed -n "$((k + 1))p")
    id=$(awk '{print $2}' <<<"$line")
    if [[ $line != *" -> file_decline unsafe file name $q"* ]]; then
        fail "$check" "${BAD[k]@Q}: answer [$line]"
        ok=0
        continue
    fi
    # refused offers are answered and not kept (docs/limits.md)
    st=$(b 2 transfers --json | jq -r --arg id "$id" '.[] | select(.id == $id) | .state')
    if [ -n "$st" ]; then
        fail "$check" "${BAD[k]@Q}: bob keeps the refused offer ($st)"
        ok=0
    fi
    # accepting a refused offer anyway must not write anything either
    b 2 accept "$id" >/dev/null 2>&1 && {
        fail "$check" "accept of the refused offer ${BAD[k]@Q} succeeded"
        ok=0
    }
done
good=$(grep -F '"good.txt"' <<<"$out")
gid=$(awk '{print $2}' <<<"$good")
if [[ $good != *"-> none"* ]] || ! state_is 2 "$gid" offered; then
    fail "$check" "the harmless name was not left offered: [$good] $(xfield 2 "$gid" state)"
    ok=0
fi
b 2 decline "$gid" >/dev/null 2>&1
for p in "${outside[@]}"; do
    [[ " ${pre[*]} " == *" $p "* ]] && continue
    [ -e "$p" ] && {
        fail "$check" "$p was created"
        ok=0
    }
done
after_snap=$(snap)
[ "$before_snap" = "$after_snap" ] || {
    fail "$check" "files appeared: $(diff <(echo "$before_snap") <(echo "$after_snap") | grep '^>')"
    ok=0
}
[ "$erc" = 1 ] || {
    fail "$check" "evil_peer exit $erc (expected 1: the harmless offer gets no answer) $(cat "$BT_TMP/evil.err")"
    ok=0
}
kill -0 "${PIDS[2]}" 2>/dev/null || t_fail "$check" "bob's node died"
[ "$ok" = 1 ] && pass "$check: ${#BAD[@]} unsafe names declined with the name in the reason, not kept at bob, accept refused, nothing created; a harmless name stays offered"

# ==== 6a. offering and cancelling, again and again ====
# mallory offers 100 files with long names and cancels the offer at once,
# 300 times, under a fresh key every 25 offers (a key costs nothing; each
# stays within its device's own offer rate). An offer cancelled before bob
# answered it is forgotten: no row in bob's database, nothing in
# `transfers`; the node's offer rate for all devices together (10 a
# second, 100 at once) declines the rest ERATE. alice's offer right after
# is still taken.
check=offer-churn
DB2=$BT_TMP/h2/banter.db
rows() { # "TRANSFERS FILES": bob's stored rows
    sqlite3 -cmd ".timeout 5000" "$DB2" \
        "SELECT (SELECT count(*) FROM transfers) || ' ' || (SELECT count(*) FROM transfer_files)"
}
rows0=$(rows)
out=$(host_exec 1 "$EVIL_PEER" --churn 300 198.18.0.2 7070 2>"$BT_TMP/churn.err")
erc=$?
echo "  evil_peer: $out"
rows1=$(rows)
listed=$(b 2 transfers --all --json | jq '[.[] | select(.name == "churn (100 files)")] | length')
read -r ms nrate taken < <(sed -nE \
    's/^churn 300 cycles [0-9]+ keys ([0-9]+) ms: declined ([0-9]+) rate, [0-9]+ other; ([0-9]+) taken$/\1 \2 \3/p' \
    <<<"$out")
most=$((100 + 10 * (${ms:-0} + 999) / 1000 + 5)) # burst + rate * time, and a little
if [ "$erc" != 0 ] || [ -z "${taken:-}" ]; then
    fail "$check" "evil_peer exit $erc [$out] $(cat "$BT_TMP/churn.err")"
elif ! kill -0 "${PIDS[2]}" 2>/dev/null; then
    t_fail "$check" "bob's node died"
elif [ "$listed" != 0 ]; then
    fail "$check" "bob lists $listed cancelled offers (rows before \"$rows0\", after \"$rows1\")"
elif [ "$rows1" != "$rows0" ]; then
    fail "$check" "bob's stored transfers and files went from \"$rows0\" to \"$rows1\""
elif [ "$taken" -gt "$most" ]; then
    fail "$check" "$taken offers taken in $ms ms: over the node's offer rate (at most $most)"
elif send_one "$check" "$SRC/c1.bin" "c1.bin"; then
    pass "$check: 300 offers of 100 files cancelled at once from 12 keys in $ms ms: $taken taken then forgotten, $nrate declined ERATE (at most $most may pass); bob's rows \"$rows0\" before and after, none listed; alice's next offer taken and done"
fi

# ==== 6a. a colleague's offer during a flood of new keys ====
# bob has written to alice, so her device is an established colleague's:
# her offers count against her own rate only, and a flood of new keys that
# empties the node-wide bucket does not keep them out (on the code before,
# her offer was declined ERATE while the flood lasted).
check=offer-during-flood
if ! b 2 send alice "before the flood" >/dev/null; then
    fail "$check" "bob cannot write to alice"
else
    # A flood that lasts until it is stopped (evil_peer itself, not a
    # shell: its PID is the one to end).
    nsenter -t "$(_bt_keeper 1)" -n -m -- "$EVIL_PEER" --churn 100000 198.18.0.2 7070 \
        >"$BT_TMP/flood.out" 2>"$BT_TMP/flood.err" &
    FLOOD_PID=$!
    # The node-wide bucket is empty once a stranger's single offer (a key
    # of its own, within its own rate) is declined ERATE. (The flood keeps
    # it so while it outpaces the refill; a loaded machine may slow it for
    # a moment: a stranger's offer taken then waits for bob, declined
    # below, and the next probe looks again.)
    bucket_empty() {
        empty=""
        for _ in $(seq 1 100); do
            probe=$(host_exec 1 "$EVIL_PEER" 198.18.0.2 7070 probe.txt 2>/dev/null)
            if [[ $probe == *"file_decline ERATE"* ]]; then
                empty=yes
                return 0
            fi
            sleep 0.05
        done
        return 1
    }
    bucket_empty
    # stranger's probes the node took: they wait for bob; decline them
    while got_offer probe.txt; do b 2 decline "$OFFER" >/dev/null || break; done
    if [ -z "$empty" ]; then
        fail "$check" "no stranger's offer was declined ERATE during the flood (last: $probe)"
    else
        send_bg "$BT_TMP/send-$check.log" "$SRC/c3.bin"
        if ! wait_for 10 got_offer c3.bin; then
            finish "$SEND_PID" 1
            fail "$check" "alice's offer did not reach bob during the flood: $(tail -2 "$BT_TMP/send-$check.log")"
        elif ! kill -0 "$FLOOD_PID" 2>/dev/null; then
            fail "$check" "the flood was over before alice's offer arrived: $(cat "$BT_TMP/flood.err")"
        else
            ID=$OFFER
            bucket_empty
            after=$probe
            b 2 accept "$ID" >/dev/null || fail "$check" "accept: exit $?"
            finish "$SEND_PID" 60
            if [ "$RC" != 0 ] || ! wait_for 5 state_is 2 "$ID" "done"; then
                fail "$check" "send-file exit $RC, bob: $(xfield 2 "$ID" state) $(xfield 2 "$ID" error)"
            elif [[ $after != *"file_decline ERATE"* ]]; then
                fail "$check" "no stranger's offer after alice's was declined ERATE: $after"
            else
                pass "$check: while new keys flooded bob (strangers' offers declined ERATE before and after), alice's offer reached him and arrived whole"
            fi
        fi
    fi
    kill "$FLOOD_PID" 2>/dev/null
    wait "$FLOOD_PID" 2>/dev/null
    while got_offer probe.txt; do b 2 decline "$OFFER" >/dev/null || break; done
fi

# ==== 6b. two senders, one folder name ====
# mallory offers "Photos/a.txt" and goes away; bob accepts it (it waits,
# paused, with its names chosen). alice then sends her folder Photos: its
# data must not go into the folder accepted from mallory (protocol 7.1, a
# folder is renamed as a whole), so the accept reserves the top folder.
# Cancelling mallory's transfer removes its folder again, being empty.
check=folder-per-sender
D6=$BT_TMP/in6f
mkdir -p "$SRC/Photos"
echo "from alice" >"$SRC/Photos/a.txt"
out=$(host_exec 1 "$EVIL_PEER" 198.18.0.2 7070 "Photos/a.txt" 2>"$BT_TMP/evil-photos.err")
mid=$(awk '/^offer / {print $2}' <<<"$out")
if [ -z "$mid" ] || ! b 2 accept "$mid" --to "$D6" >/dev/null; then
    fail "$check" "mallory's offer [$out] not accepted: $(xfield 2 "$mid" state) $(cat "$BT_TMP/evil-photos.err")"
else
    send_bg "$BT_TMP/send-$check.log" "$SRC/Photos"
    if ! wait_for 30 got_offer "Photos/a.txt"; then
        finish "$SEND_PID" 1
        fail "$check" "no offer from alice: $(cat "$BT_TMP/send-$check.log")"
    else
        ID=$OFFER
        b 2 accept "$ID" --to "$D6" >/dev/null || fail "$check" "accept exit $?"
        finish "$SEND_PID" 30
        got=$(cd "$D6" && find . | sort | tr '\n' ' ')
        if [ "$RC" != 0 ] || ! state_is 2 "$ID" done; then
            fail "$check" "alice's transfer: exit $RC, bob: $(xfield 2 "$ID" state) $(xfield 2 "$ID" error)"
            abandon "$ID"
        elif ! cmp -s "$SRC/Photos/a.txt" "$D6/Photos (1)/a.txt" || [ -e "$D6/Photos/a.txt" ]; then
            fail "$check" "alice's file is not alone in \"Photos (1)\": $got"
        elif [ ! -d "$D6/Photos" ]; then
            fail "$check" "no folder reserved for mallory's transfer: $got"
        else
            b 2 cancel "$mid" >/dev/null
            if [ -e "$D6/Photos" ]; then
                fail "$check" "mallory's empty folder stays after the cancel: $(cd "$D6" && find . | sort | tr '\n' ' ')"
            else
                pass "$check: mallory's \"Photos/a.txt\" accepted first (paused), then alice's: hers went to \"Photos (1)\", \"Photos\" stayed mallory's (empty), and went with its cancel"
            fi
        fi
    fi
fi
b 2 cancel "$mid" >/dev/null 2>&1
rm -rf "$D6" "$SRC/Photos"

check=symlink-in-download-dir
OUT=$BT_TMP/outside
mkdir -p "$OUT" "$SRC/folder/sub"
echo "one" >"$SRC/folder/x.txt"
echo "two" >"$SRC/folder/sub/y.txt"
ln -s "$OUT" "$DL2/folder"
ln -s "$OUT/link.bin" "$DL2/link.bin" # dangling: a file would be created there
cp "$SRC/c1p.bin" "$SRC/link.bin"
ok=1
if send_one "$check" "$SRC/folder" "folder (2 files)"; then
    [ -z "$(find "$OUT" -mindepth 1)" ] || {
        fail "$check" "written through the link: $(find "$OUT")"
        ok=0
    }
    { cmp -s "$SRC/folder/x.txt" "$DL2/folder (1)/x.txt" &&
        cmp -s "$SRC/folder/sub/y.txt" "$DL2/folder (1)/sub/y.txt"; } || {
        fail "$check" "not in \"folder (1)\": $(ls -la "$DL2")"
        ok=0
    }
else
    ok=0
fi
if send_one "$check" "$SRC/link.bin" "link.bin"; then
    [ -z "$(find "$OUT" -mindepth 1)" ] || {
        fail "$check" "written through the link: $(find "$OUT")"
        ok=0
    }
    cmp -s "$SRC/link.bin" "$DL2/link (1).bin" || {
        fail "$check" "not in \"link (1).bin\": $(ls -la "$DL2")"
        ok=0
    }
    [ -L "$DL2/link.bin" ] || {
        fail "$check" "the link was replaced"
        ok=0
    }
else
    ok=0
fi
[ "$ok" = 1 ] && pass "$check: a folder and a file named like links went to \"folder (1)\" and \"link (1).bin\"; the link target stayed empty"

# ==== 6b. a stranger speaking for someone else's transfer is ignored ====
# mallory (a third device, on host 1) sends FILE_MARK, FILE_STORED, a CHUNK
# of junk, FILE_ACCEPT, FILE_RESULT ok and FILE_CANCEL for the id of
# alice's transfer to bob, to both of them: only the transfer's own peer
# may speak for it, so the transfer goes on and arrives intact.
check=stranger-meddles
D6=$BT_TMP/in6b
send_bg "$BT_TMP/send-$check.log" "$SRC/big.bin"
if wait_for 60 got_offer big.bin; then
    ID=$OFFER
    b 2 accept "$ID" --to "$D6" >/dev/null || fail "$check" "accept exit $?"
    wait_for 30 done_over 2 "$ID" $((size / 4)) || fail "$check" "bob did not reach a quarter"
    m1=$(host_exec 1 "$EVIL_PEER" --meddle "$ID" 198.18.0.2 7070 2>"$BT_TMP/meddle1.err")
    r1=$?
    m2=$(host_exec 1 "$EVIL_PEER" --meddle "$ID" 198.18.0.1 7070 2>"$BT_TMP/meddle2.err")
    r2=$?
    finish "$SEND_PID" 120
    if [ "$r1" != 0 ] || [ "$r2" != 0 ]; then
        fail "$check" "evil_peer exit $r1/$r2: $(cat "$BT_TMP/meddle1.err" "$BT_TMP/meddle2.err")"
    elif [ "$RC" != 0 ]; then
        fail "$check" "send-file --wait exit $RC: $(tail -3 "$BT_TMP/send-$check.log")"
        abandon "$ID"
    elif ! state_is 1 "$ID" "done" || ! state_is 2 "$ID" "done"; then
        fail "$check" "states: alice $(xfield 1 "$ID" state), bob $(xfield 2 "$ID" state)"
    elif ! cmp -s "$SRC/big.bin" "$D6/big.bin"; then
        fail "$check" "received file differs"
    elif [[ $m1 != *", 0 answers" || $m2 != *", 0 answers" ]]; then
        fail "$check" "the nodes answered the stranger: bob: $m1; alice: $m2"
    else
        pass "$check: to bob: $m1; to alice: $m2; the transfer went on, done and identical"
    fi
    rm -rf "$D6"
else
    finish "$SEND_PID" 1
    fail "$check" "no offer"
fi

# ==== 7. disk full ====
check="disk-full"
SMALL=$BT_TMP/small
mkdir -p "$SMALL"
head -c $((40 * MIB)) /dev/urandom >"$SRC/big40.bin"
if host_exec 2 mount -t tmpfs -o size=20m,mode=0700 bt-xfer-small "$SMALL"; then
    SMALL_MNT=$SMALL
    listen_bg 1 "$BT_TMP/listen7.log"
    send_bg "$BT_TMP/send-$check.log" "$SRC/big40.bin"
    if wait_for 30 got_offer big40.bin; then
        ID=$OFFER
        b 2 accept "$ID" --to "$SMALL" >/dev/null || fail "$check" "accept exit $?"
        finish "$SEND_PID" 60
        e1=$(xfield 1 "$ID" error)
        e2=$(xfield 2 "$ID" error)
        part=$(host_exec 2 find "$SMALL" -name '.big40.bin.*.banter-partial' \
            ! -name '*.hstate.banter-partial' -printf '%s\n' | head -1)
        if [ "$RC" != 1 ]; then
            fail "$check" "send-file --wait exit $RC, expected 1: $(tail -3 "$BT_TMP/send-$check.log")"
        elif ! state_is 1 "$ID" failed || ! state_is 2 "$ID" failed; then
            fail "$check" "states: alice $(xfield 1 "$ID" state), bob $(xfield 2 "$ID" state)"
        elif [[ $e1 != *"disk is full"* || $e2 != *"disk is full"* ]]; then
            fail "$check" "errors: alice \"$e1\", bob \"$e2\""
        elif ! kill -0 "${PIDS[2]}" 2>/dev/null; then
            t_fail "$check" "bob's node died"
        elif ! b 2 send alice "still chatting" >/dev/null || ! b 1 send bob "still chatting" >/dev/null; then
            fail "$check" "chat after the failure does not work"
        elif [ -z "$part" ] || [ "$part" -le 0 ]; then
            fail "$check" "the partial file is gone: $(host_exec 2 ls -la "$SMALL")"
        else
            pass "$check: failed on both sides (alice: \"$e1\"; bob: \"$e2\"), send-file exit 1, chat works both ways, partial kept ($part bytes)"
        fi
        check=disk-full-resume
        t1=$(now_ms)
        if ! host_exec 2 mount -o remount,size=100m "$SMALL"; then
            fail "$check" "remount failed"
        elif ! b 2 accept "$ID" >/dev/null; then
            fail "$check" "accept again: exit $?"
        elif ! wait_for 60 state_is 2 "$ID" "done"; then
            fail "$check" "not done: bob $(xfield 2 "$ID" state) $(xfield 2 "$ID" error)"
        elif ! wait_for 5 state_is 1 "$ID" "done"; then
            fail "$check" "alice's state: $(xfield 1 "$ID" state) $(xfield 1 "$ID" error)"
        elif ! host_exec 2 cmp -s "$SRC/big40.bin" "$SMALL/big40.bin"; then
            fail "$check" "received file differs"
        elif [ -n "$(host_exec 2 find "$SMALL" -name '.*.banter-partial*')" ]; then
            fail "$check" "leftover partial files"
        else
            read -r before offset < <(resume_points "$BT_TMP/listen7.log" "$ID")
            if [[ ! $offset =~ ^[0-9]+$ ]] || [ "$offset" -le 0 ]; then
                fail "$check" "did not resume from the kept part: offset $offset"
            else
                pass "$check: after growing the tmpfs, accept resumed it from $offset (alice had sent $before when it failed): done and identical in $(elapsed_ms "$t1") ms"
            fi
        fi
        abandon "$ID"
    else
        finish "$SEND_PID" 1
        fail "$check" "no offer"
    fi
    listen_stop
    host_exec 2 umount "$SMALL" 2>/dev/null || {
        fail "$check" "cannot unmount the tmpfs (bob still holds it open?): lazy unmount"
        host_exec 2 umount -l "$SMALL"
    }
    SMALL_MNT=""
else
    fail "$check" "cannot mount a tmpfs in host 2"
fi
rm -f "$SRC/big40.bin"

# ==== 8. two transfers at once ====
check=two-at-once
head -c $((100 * MIB)) /dev/urandom >"$SRC/m1.bin"
head -c $((100 * MIB)) /dev/urandom >"$SRC/m2.bin"
D8=$BT_TMP/in8
send_bg "$BT_TMP/send-m1.log" "$SRC/m1.bin"
p1=$SEND_PID
send_bg "$BT_TMP/send-m2.log" "$SRC/m2.bin"
p2=$SEND_PID
if wait_for 30 got_offer m1.bin && id1=$OFFER && wait_for 30 got_offer m2.bin && id2=$OFFER; then
    b 2 accept "$id1" --to "$D8" >/dev/null || fail "$check" "accept 1: exit $?"
    b 2 accept "$id2" --to "$D8" >/dev/null || fail "$check" "accept 2: exit $?"
    t1=$(now_ms)
    # how often both were seen part-way at the same time (a figure)
    both=0
    polls=0
    while ! gone "$p1" || ! gone "$p2"; do
        polls=$((polls + 1))
        k=$(b 2 transfers --json 2>/dev/null | jq --arg a "$id1" --arg b "$id2" \
            '[.[] | select((.id == $a or .id == $b) and .done > 0 and .done < .size)] | length')
        [ "$k" = 2 ] && both=$((both + 1))
        [ "$polls" -ge 600 ] && break
        sleep 0.05
    done
    finish "$p1" 120
    rc1=$RC
    finish "$p2" 120
    rc2=$RC
    ms=$(elapsed_ms "$t1")
    if [ "$rc1" != 0 ] || [ "$rc2" != 0 ]; then
        fail "$check" "send-file exits $rc1 and $rc2"
        abandon "$id1"
        abandon "$id2"
    elif ! wait_for 5 state_is 2 "$id1" "done" || ! wait_for 5 state_is 2 "$id2" "done"; then
        fail "$check" "bob: $(xfield 2 "$id1" state) and $(xfield 2 "$id2" state)"
    elif ! cmp -s "$SRC/m1.bin" "$D8/m1.bin" || ! cmp -s "$SRC/m2.bin" "$D8/m2.bin"; then
        fail "$check" "a received file differs"
    elif ! no_partials "$D8"; then
        fail "$check" "leftover: $(partials "$D8")"
    else
        pass "$check: both identical, done $ms ms after the accepts = $(rate $((200 * MIB)) "$ms") MB/s together; both seen part-way at once in $both of $polls polls"
    fi
else
    finish "$p1" 1
    finish "$p2" 1
    fail "$check" "the two offers did not both arrive"
fi
rm -rf "$D8" "$SRC/m1.bin" "$SRC/m2.bin"

# ---- every transfer is over: no folder is held open ----
check=no-open-folders
held=()
while read -r t; do
    [ -d "$t" ] && held+=("$t")
done < <(find "/proc/${PIDS[2]}/fd" -type l -printf '%l\n' 2>/dev/null)
ntx=$(b 2 transfers --json | jq length)
if [ ${#held[@]} -gt 0 ]; then
    fail "$check" "bob holds ${#held[@]} folder descriptors after $ntx transfers are over: ${held[*]}"
else
    pass "$check: bob holds no folder open after $ntx incoming transfers ended"
fi

# ---- the nodes stop cleanly, with nothing for the sanitizers ----
stop_node 1
stop_node 2
sanitizer_check 1 && sanitizer_check 2 && pass "sanitizers: no report in $((RUNS[1] + RUNS[2])) node runs"
total=$(elapsed_ms "$T_START")
echo "total: $total ms"
if [ "$FAILS" -gt 0 ]; then
    echo "$FAILS check(s) failed"
    _bt_dump_logs
    exit 1
fi
exit 0
