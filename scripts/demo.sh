#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo`: three colleagues on a private LAN made of network namespaces,
# each host with its own dbus-daemon and avahi-daemon (mDNS stays inside the
# namespaces). They find each other, chat, and one broadcasts. Everything is
# torn down at the end, also on Ctrl-C.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespaces)"; exit 1; }
BANTER=$PWD/bin/banter
[ -x "$BANTER" ] || { echo "build first: make"; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
names=("" ada grace linus)
b() { local i=$1; shift; "$BANTER" --home "$BT_TMP/h$i" "$@"; }

step "a LAN of three hosts (198.18.0.1-3), each with dbus-daemon and avahi-daemon"
net_setup 3
for i in 1 2 3; do
    host_bg "$i" "$BT_TMP/node$i.log" "$BANTER" --home "$BT_TMP/h$i" node \
        --name "${names[i]}" --port 7070 >/dev/null
    pids[i]=$BT_LAST_PID
done
grace=${pids[2]}
for i in 1 2 3; do wait_for 5 test -S "$BT_TMP/h$i/control.sock"; done
host_bg 2 "$BT_TMP/listen2.log" "$BANTER" --home "$BT_TMP/h2" listen >/dev/null
host_bg 3 "$BT_TMP/listen3.log" "$BANTER" --home "$BT_TMP/h3" listen >/dev/null

step "they find each other by mDNS (no configuration)"
t0=$(now_ms)
for i in 1 2 3; do
    wait_for 5 bash -c "[ \$('$BANTER' --home '$BT_TMP/h$i' peers --json | grep -o '\"online\":true' | wc -l) -eq 2 ]"
done
echo "everyone sees both colleagues after $(($(now_ms) - t0)) ms; ada's view:"
b 1 peers
echo; echo "ada's fingerprint, to compare aloud:"; b 1 id

step "ada -> grace, grace -> ada (end-to-end encrypted, acknowledged)"
b 1 send grace "Hi Grace, the build notes are at https://wiki.example/build"
b 2 send ada "Thanks Ada, reading them now."
b 1 history grace

step "linus broadcasts to everyone"
b 3 broadcast "Stand-up in 5 minutes"
sleep 0.5
echo "grace's listen window shows:"
cat "$BT_TMP/listen2.log"

step "grace leaves; the others see it at once"
kill -TERM "$grace"
sleep 1
b 1 peers

step "done: tearing down the namespaces and daemons"
