#!/usr/bin/env bash
# test: seconds 25
# SPDX-License-Identifier: MIT
# test_autoaccept.sh - what a node accepts without asking (two real nodes on
# a private LAN; alice in host 1 sends, bob in host 2 receives into a 12 MiB
# tmpfs; bob's banter.conf: auto_accept_verified yes, auto_accept_max_mb 4,
# auto_accept_day_mb 10, auto_accept_keep_free_mb 3):
#   1. before bob verified alice, her offer waits (only verified colleagues);
#   2. after `banter verify alice`: a 3 MiB file is taken and arrives with no
#      accept; a 5 MiB one waits (over the per-offer limit); a 4 MiB one is
#      taken (7 MiB in the day, 5 MiB free after it);
#   3. a 3 MiB one waits: the disk would keep 2 MiB, under the 3 it keeps;
#      a 1 MiB one is taken (8 MiB in the day); a 3 MiB one waits (11 MiB
#      would pass the day's 10); bob's log says why for each that waits;
#   4. what waits is bob's to take: `accept` of the last one completes it;
#   5. the node-wide cap of waiting offers (offers_total 4 here) filled by
#      a stranger's offers refuses the stranger's next (EBUSY) but not
#      alice's: a verified colleague's offers are held by her own cap;
#   6. the node keeps serving (chat both ways), no sanitizer report.
# On the code before the budgets a verified colleague's offers were all
# taken while each was under auto_accept_max_mb, whatever the disk held.
set -u
. "$(dirname "$0")/lib.sh"
require_root
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BANTER_BIN=${BANTER_BIN:-$ROOT/build/asan/banter}
[ -x "$BANTER_BIN" ] || t_fail setup "no $BANTER_BIN (make build/asan/banter)"
EVIL_PEER=${EVIL_PEER:-$ROOT/build/asan/tests/evil_peer}
[ -x "$EVIL_PEER" ] || t_fail setup "no $EVIL_PEER (make build/asan/tests/evil_peer)"
for tool in jq cmp mount umount; do
    command -v "$tool" >/dev/null || t_skip "needs $tool"
done
export ASAN_OPTIONS=detect_leaks=1
export LC_ALL=C
MIB=1048576

SMALL_MNT=""
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    if [ -n "$SMALL_MNT" ]; then
        host_exec 2 umount "$SMALL_MNT" 2>/dev/null || host_exec 2 umount -l "$SMALL_MNT" 2>/dev/null
    fi
    net_teardown
}
net_setup 2
trap cleanup EXIT

NAMES=("" alice bob)
SRC=$BT_TMP/src
DL=$BT_TMP/dl # bob's download_dir: a tmpfs of 12 MiB in host 2
mkdir -p "$BT_TMP/h1" "$BT_TMP/h2" "$SRC" "$DL" "$BT_TMP/dl1"
chmod 700 "$BT_TMP/h1" "$BT_TMP/h2"
host_exec 2 mount -t tmpfs -o size=12m,mode=0700 bt-autoaccept "$DL" || t_fail setup "cannot mount a tmpfs in host 2"
SMALL_MNT=$DL
printf 'download_dir = %s\n' "$BT_TMP/dl1" >"$BT_TMP/h1/banter.conf"
cat >"$BT_TMP/h2/banter.conf" <<CONF
download_dir = $DL
auto_accept_verified = yes
auto_accept_max_mb = 4
auto_accept_day_mb = 10
auto_accept_keep_free_mb = 3
offers_total = 4
CONF

b() {
    local i=$1
    shift
    "$BANTER_BIN" --home "$BT_TMP/h$i" "$@"
}
node_up() { b "$1" id >/dev/null 2>&1; }
for i in 1 2; do
    PIDS[i]=$(host_bg "$i" "$BT_TMP/${NAMES[i]}.log" "$BANTER_BIN" --home "$BT_TMP/h$i" node \
        --name "${NAMES[i]}" --port 7070)
    wait_for 5 node_up "$i" || t_fail start "${NAMES[i]} did not start"
done
online() { [ "$(b "$1" peers --json 2>/dev/null | jq -r --arg n "$2" '[.[] | select(.name == $n)][0].online')" = true ]; }
wait_for 20 online 2 alice && wait_for 20 online 1 bob || t_fail discovery "alice and bob do not see each other"

# bob's transfer named NAME: its field F ("" when none)
tfield() { b 2 transfers --json 2>/dev/null | jq -r --arg n "$1" --arg f "$2" '[.[] | select(.name == $n)][0][$f] // empty'; }
state_is() { [ "$(tfield "$1" state)" = "$2" ]; }
mk() { head -c $(($2 * MIB)) /dev/urandom >"$SRC/$1"; }
send() { b 1 send-file bob "$SRC/$1" >/dev/null 2>&1 || t_fail send "send-file $1: exit $?"; }
# taken NAME: arrives whole with nobody accepting
taken() {
    send "$1"
    wait_for 20 state_is "$1" done || t_fail "$2" "$1 was not taken: $(tfield "$1" state) $(tfield "$1" error)"
    host_exec 2 cmp -s "$SRC/$1" "$DL/$1" || t_fail "$2" "$1 differs"
}
# waits NAME WHY: offered, still waiting 2 s later, bob's log says WHY
waits() {
    send "$1"
    wait_for 10 state_is "$1" offered || t_fail "$2" "no offer of $1: $(tfield "$1" state)"
    sleep 2
    state_is "$1" offered || t_fail "$2" "$1 did not wait: $(tfield "$1" state)"
    ! host_exec 2 test -e "$DL/$1" || t_fail "$2" "$1 is in the download folder"
    wait_for 5 grep -q "offer of $(stat -c %s "$SRC/$1") bytes from the device .* waits for you: .*$3" \
        "$BT_TMP/bob.err" || t_fail "$2" "bob's log does not say why $1 waits ($3): $(grep 'waits for you' "$BT_TMP/bob.err")"
}
for f in a:3 big:5 b:4 c:3 d:1 e:3 pre:1; do mk "${f%%:*}.bin" "${f##*:}"; done

# ---- 1. not verified: waits ----
send pre.bin
wait_for 10 state_is pre.bin offered || t_fail unverified "no offer"
sleep 2
state_is pre.bin offered || t_fail unverified "alice's offer was taken before bob verified her: $(tfield pre.bin state)"
b 2 decline "$(tfield pre.bin id)" >/dev/null || t_fail unverified "decline: exit $?"
t_pass "unverified: alice's offer waits for bob until he has verified her"

# ---- 2. verified: within the limits, taken ----
b 2 verify alice >/dev/null || t_fail verify "banter verify alice: exit $?"
taken a.bin verified
waits big.bin max-file auto_accept_max_mb
taken b.bin verified
t_pass "verified: 3 and 4 MiB files taken without an accept, a 5 MiB one waits (over auto_accept_max_mb 4)"

# ---- 3. the disk's reserve and the day's budget ----
waits c.bin keep-free auto_accept_keep_free_mb
taken d.bin keep-free
t_pass "keep free: a 3 MiB file waits with 5 MiB free (3 kept), a 1 MiB one is taken"
waits e.bin per-day auto_accept_day_mb
t_pass "per day: with 8 MiB taken today a 3 MiB file waits (auto_accept_day_mb 10)"

# ---- 4. bob takes what waits ----
b 2 accept "$(tfield e.bin id)" >/dev/null || t_fail accept "accept e.bin: exit $?"
wait_for 20 state_is e.bin done || t_fail accept "e.bin: $(tfield e.bin state) $(tfield e.bin error)"
host_exec 2 cmp -s "$SRC/e.bin" "$DL/e.bin" || t_fail accept "e.bin differs"
t_pass "what waits is bob's to take: accepted by hand, it arrives whole"

# ---- 5. the node's cap of waiting offers ----
# big.bin and c.bin wait (2 of 4); a stranger's offers fill the rest
out=$(host_exec 1 "$EVIL_PEER" 198.18.0.2 7070 s1.txt s2.txt s3.txt 2>"$BT_TMP/evil.err")
[ "$(grep -c -- '-> none' <<<"$out")" -eq 2 ] && grep -q '"s3.txt" -> file_decline EBUSY.*the node.s limit 4' <<<"$out" ||
    t_fail cap "the stranger's offers: $out $(cat "$BT_TMP/evil.err")"
host_exec 2 rm -f "$DL/a.bin" "$DL/b.bin" # room on the disk again
mk f.bin 1
taken f.bin cap
t_pass "the node's cap of 4 waiting offers, full with a stranger's: the stranger's next is refused EBUSY, alice's is taken"

# ---- 6. still serving ----
b 2 send alice "still here" >/dev/null && b 1 send bob "me too" >/dev/null || t_fail chat "chat after the offers"
for i in 1 2; do
    kill "${PIDS[i]}" 2>/dev/null
    gone() { ! kill -0 "$1" 2>/dev/null; }
    wait_for 15 gone "${PIDS[i]}" || t_fail stop "${NAMES[i]} did not stop"
    PIDS[i]=""
    if grep -qE 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$BT_TMP/${NAMES[i]}.err"; then
        t_fail sanitizer "$(grep -m3 -E 'ERROR|runtime error' "$BT_TMP/${NAMES[i]}.err")"
    fi
done
t_pass "chat both ways after the offers; both nodes stopped cleanly with no sanitizer report"
