#!/usr/bin/env bash
# test: seconds 21
# SPDX-License-Identifier: MIT
#
# test_control_limits.sh - the control socket under a hostile local user
# (issue 12 item 5), on a private namespace LAN (lib.sh): alice in host 1,
# bob in host 2, bob chatting with alice throughout.
#   1. History paging: 30,000 messages put straight into alice's store
#      (copies of a real one, fresh ids) are all read, in order, by
#      `banter history bob --limit 100000 --json` and without --json,
#      although one reply holds at most a page (1000 messages, 1 MiB);
#      --before SEQ --limit N gives the N before SEQ; a ts of 2^53 is
#      printed as 9007199254740992 (not 9.00719925474099e+15).
#   2. A client that stops reading: it sends 60 history requests (each
#      answer a page of ~400 KB) and never reads, while 63 idle clients
#      hold the other slots. Past its 4 MiB of unwritten output it is
#      dropped at once: it sees the end of the stream, and its slot is
#      reused (`banter peers` answers while the 63 are still connected).
#      Before this fix it was only marked closing and held its slot for
#      ever (peers: "already serves 64 control clients").
#   3. A client that listens and stops reading while bob sends 160
#      messages of 32 KB (5 MB of events): dropped past 4 MiB.
# Alice's RSS and descriptor count are printed before, during and after.
# Needs root (exit 77 otherwise), python3, and $BANTER_BIN (default
# build/asan/banter).
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"

require_root
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
[ -x "$BANTER_BIN" ] || t_fail setup "no banter at $BANTER_BIN (make build/asan/banter, or set BANTER_BIN)"
BANTER_BIN=$(cd "$(dirname "$BANTER_BIN")" && pwd)/$(basename "$BANTER_BIN")
command -v python3 >/dev/null || t_skip "needs python3"
# A small quarantine: RSS shows what the node holds, not what ASan keeps.
export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16
export UBSAN_OPTIONS=print_stacktrace=1
N=${N_HISTORY:-30000}

net_setup 2
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

A=$BT_TMP/a
B=$BT_TMP/b
report() { # WHEN: alice's RSS and descriptors
    local rss fds
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pa/status" 2>/dev/null)
    fds=$(find "/proc/$pa/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo "alice $1: RSS ${rss:-?} kB, $fds descriptors"
}

start_node 1 alice "$A" alice
pa=$BG_PID
start_node 2 bob "$B" bob
pb=$BG_PID
wait_for 10 online "$A" bob || t_fail setup "alice never listed bob online"
b "$B" send alice "seed from bob" --wait 5 >/dev/null || t_fail setup "bob could not send"
wait_for 5 has_body "$A" bob "seed from bob" || t_fail setup "alice has no seed"

# ---- 30,000 messages straight into alice's store ----
stop_node "$pa" alice "alice (before the insert)"
python3 - "$A/banter.db" "$N" <<'PY' || t_fail setup "cannot insert into alice's store"
import sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
cols = [r[1] for r in c.execute("PRAGMA table_info(messages)")]
keep = [k for k in cols if k not in ("seq", "id", "body")]
seed = c.execute("SELECT seq FROM messages WHERE body = 'seed from bob'").fetchone()[0]
sel = ", ".join(keep)
c.execute(
    "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?) "
    f"INSERT INTO messages (id, body, {sel}) "
    f"SELECT randomblob(16), printf('bulk %06d %s', i, substr(hex(zeroblob(100)), 1, 150)), {sel} "
    "FROM k, messages WHERE messages.seq = ?", (n, seed))
# The newest one was written at 2^53 ms by its sender's clock: printed exactly.
c.execute("UPDATE messages SET ts = 9007199254740992 WHERE seq = (SELECT max(seq) FROM messages)")
c.commit()
print("inserted", c.execute("SELECT count(*) FROM messages").fetchone()[0] - 1)
PY
start_node 1 alice "$A" alice
pa=$BG_PID
wait_for 10 online "$A" bob || t_fail setup "alice never listed bob online again"
report "before"

# Bob chats with alice throughout; each message must arrive.
chat_loop() {
    local i=0
    while [ ! -e "$BT_TMP/stop-chat" ]; do
        i=$((i + 1))
        b "$B" send alice "chat $i" --wait 5 >/dev/null 2>&1 || echo "chat $i not delivered"
        echo "$i" >"$BT_TMP/chat-count"
        sleep 0.2
    done
}
chat_loop >"$BT_TMP/chat.log" 2>&1 &
chat_pid=$!

# ---- 1. history paging ----
t0=$(now_ms)
b "$A" history bob --limit 100000 --json >"$BT_TMP/hist.json" 2>"$BT_TMP/hist.err" ||
    t_fail "history --json" "exited $?: $(head -c 300 "$BT_TMP/hist.err")"
report "after history --json"
python3 - "$BT_TMP/hist.json" "$N" <<'PY' || t_fail "history --json" "incomplete (above)"
import json, sys
msgs = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
bulk = [m for m in msgs if m["body"].startswith("bulk ")]
seqs = [m["seq"] for m in msgs]
ok = len(bulk) == n and seqs == sorted(set(seqs))
ok = ok and [int(m["body"].split()[1]) for m in bulk] == list(range(1, n + 1))
ok = ok and all(isinstance(m["ts"], int) for m in msgs)
ok = ok and b'"ts":9007199254740992,' in open(sys.argv[1], "rb").read()
print(f"history --json: {len(msgs)} messages, {len(bulk)} bulk, seqs in order: {ok}")
sys.exit(0 if ok else 1)
PY
t_pass "history --limit 100000 --json: all $N stored messages, in order, in $(($(now_ms) - t0)) ms"
lines=$(b "$A" history bob --limit 100000 | grep -c '< bob: bulk ')
[ "$lines" -eq "$N" ] || t_fail "history" "$lines bulk lines printed, wanted $N"
t_pass "history --limit 100000: $lines bulk lines printed"
some=$(b "$A" history bob --limit 2500 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$some" -eq 2500 ] || t_fail "history --limit 2500" "$some messages"
mid=$(python3 -c 'import json,sys; m=[x for x in json.load(open(sys.argv[1])) if x["body"].startswith("bulk 010000 ")]; print(m[0]["seq"])' "$BT_TMP/hist.json")
got=$(b "$A" history bob --before "$mid" --limit 1500 --json |
    python3 -c 'import json,sys; m=json.load(sys.stdin); print(len(m), m[0]["body"][:11], m[-1]["body"][:11])')
[ "$got" = "1500 bulk 008500 bulk 009999" ] || t_fail "history --before" "got \"$got\""
t_pass "history --before $mid --limit 1500: the 1500 before it ($got)"

# ---- 2. a client that stops reading ----
cat >"$BT_TMP/stall.py" <<'PY'
import json, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(path)
    return s
idle = [conn() for _ in range(63)]  # the other slots, held without a word
s = conn()
req = (json.dumps({"cmd": "history", "peer": "bob", "limit": 1000}) + "\n").encode()
s.sendall(req * 60)  # and never read the answers
print("sent", flush=True)
open(mode, "w").close()  # tells the test to look
time.sleep(float(sys.argv[3]))
s.settimeout(5)
got = 0
try:
    while True:  # drain what was queued: the end comes if the node dropped us
        d = s.recv(1 << 20)
        if not d:
            print("eof after", got, "bytes", flush=True)
            break
        got += len(d)
except socket.timeout:
    print("no eof after", got, "bytes", flush=True)
PY
rm -f "$BT_TMP/stalled"
python3 "$BT_TMP/stall.py" "$A/control.sock" "$BT_TMP/stalled" 8 >"$BT_TMP/stall.log" 2>&1 &
stall_pid=$!
wait_for 10 test -e "$BT_TMP/stalled" || t_fail "stalled client" "the script did not start"
report "during (64 clients, one not reading)"
# Its slot is free again while the 63 idle ones are still connected.
t0=$(now_ms)
wait_for 6 b "$A" peers >/dev/null 2>&1 ||
    t_fail "stalled client" "banter peers refused while 63 idle clients remain: the stalled client kept its slot"
t_pass "stalled client dropped, its slot reused by banter peers after $(($(now_ms) - t0)) ms"
report "during (63 idle clients, the stalled one dropped)"
wait_for 20 gone "$stall_pid"
grep -q '^eof after' "$BT_TMP/stall.log" || t_fail "stalled client" "$(cat "$BT_TMP/stall.log")"
t_pass "stalled client saw the end of the stream: $(grep eof "$BT_TMP/stall.log")"
wait_for 5 b "$A" peers >/dev/null 2>&1 || t_fail "after" "peers does not answer"

# ---- 3. a listener that stops reading while bob floods ----
cat >"$BT_TMP/listen.py" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"listen"}\n')
print("listening", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.2)
s.settimeout(5)
got = 0
try:
    while True:
        d = s.recv(1 << 20)
        if not d:
            print("eof after", got, "bytes", flush=True)
            break
        got += len(d)
except socket.timeout:
    print("no eof after", got, "bytes", flush=True)
PY
rm -f "$BT_TMP/flood-done"
python3 "$BT_TMP/listen.py" "$A/control.sock" "$BT_TMP/flood-done" >"$BT_TMP/listen.log" 2>&1 &
listen_pid=$!
wait_for 10 grep -q listening "$BT_TMP/listen.log" || t_fail "stalled listener" "did not start"
# 160 of 32 KB: 5 MB, within the LAN's chat rate (a burst of 100, then 20
# a second); a message deferred by it (send exit 3) still arrives.
big=$(head -c 32000 /dev/zero | tr '\0' 'l')
for i in $(seq 160); do
    b "$B" send alice "flood $i $big" >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || t_fail "stalled listener" "bob's send $i exited $rc"
    [ $((i % 40)) -eq 0 ] && report "during the flood ($i of 160 messages of 32 KB)"
done
wait_for 30 has_body "$A" bob "flood 160 $big" || t_fail "stalled listener" "alice lacks the last message"
touch "$BT_TMP/flood-done"
wait_for 15 gone "$listen_pid"
grep -q '^eof after' "$BT_TMP/listen.log" || t_fail "stalled listener" "$(cat "$BT_TMP/listen.log")"
t_pass "a listener that stopped reading during 5 MB of events was dropped ($(tail -n 1 "$BT_TMP/listen.log"))"
report "after"

# ---- bob chatted throughout ----
touch "$BT_TMP/stop-chat"
wait_for 10 gone "$chat_pid"
sent=$(cat "$BT_TMP/chat-count" 2>/dev/null || echo 0)
[ "$sent" -gt 0 ] && ! grep -q 'not delivered' "$BT_TMP/chat.log" ||
    t_fail "chat throughout" "$(head -n 3 "$BT_TMP/chat.log") ($sent sent)"
wait_for 5 has_body "$A" bob "chat $sent" || t_fail "chat throughout" "alice lacks \"chat $sent\""
t_pass "bob chatted throughout: $sent messages, each delivered"

stop_node "$pa" alice alice
stop_node "$pb" bob bob
t_pass "nodes stopped cleanly, no sanitizer report"
