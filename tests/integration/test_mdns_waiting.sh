#!/usr/bin/env bash
# test: seconds 60
# SPDX-License-Identifier: MIT
#
# test_mdns_waiting.sh - a colleague announced while LAN discovery's table
# (peer/net/mdns.c, 1,024 services) is full of found services is found
# once room is made, though avahi announces a service only once. The
# engine alone: a watching probe (mdns_probe) in host 1, whose daemon may
# give it more resolvers than the table holds (so the table is the limit),
# the neighbour (mdns_probe --flood) in host 2, carol and dave (probes) in
# host 3:
#   1. the neighbour announces 1,016 services, 8 at each of 127 made-up
#      addresses, and 8 more at another: the watcher finds all 1,024;
#   2. carol is announced (host 1's daemon lists her: the watcher has
#      heard of her), then the 8 withdrawn: the watcher finds carol;
#   3. 8 more are announced (7 find room), then dave (waits behind the
#      8th); the watcher refutes the 1,016 (mdns_refute): the 8th and dave
#      are found in place of refuted ones.
# Section 2 fails on a table that forgets a service announced while it is
# full. Needs root (exit 77 otherwise), avahi-browse and the probe
# ($MDNS_PROBE).
# shellcheck disable=SC2317 # helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/node.sh
. "$here/node.sh"

require_root
probe=${MDNS_PROBE:-$here/../../build/asan/tests/mdns_probe}
[ -x "$probe" ] || t_fail setup "no probe at $probe (build it, or set MDNS_PROBE)"
command -v avahi-browse >/dev/null || t_skip "needs avahi-browse"
export ASAN_OPTIONS=detect_leaks=1

TABLE=1024 # MDNS_MAX_SERVICES
CAP=8      # MDNS_MAX_PER_ADDR
MANY=$((TABLE - CAP))

net_setup 3
PLOG=$BT_TMP/probe.log

# Host 1's daemon: resolvers for more than the table (its default
# objects-per-client-max, 1,024, counts the browser and entry group too)
# and records for them all.
sed -i 's/^\[server\]$/[server]\nobjects-per-client-max=4096\ncache-entries-max=16384/' \
    "$(_bt_avahi_conf 1)"
avahi_restart 1 || t_fail setup "host 1's avahi-daemon did not restart"

# found_n PREFIX: distinct services "PREFIX..." the watcher found.
found_n() { awk -v p="$1" '$1 == "found" && index($3, p) == 1 { n[$3] = 1 }
    END { print length(n) }' "$PLOG"; }
found_ge() { [ "$(found_n "$1")" -ge "$2" ]; }
lines_ge() { [ "$(grep -c "$1" "$PLOG")" -ge "$2" ]; }
# listed NAME: host 1's daemon lists the node NAME's service now (its
# instance name is "NAME [<5 fingerprint digits>]").
listed() {
    host_exec 1 avahi-browse -p -t -k "_banter._tcp" 2>/dev/null |
        grep "^+;" | grep -qF ";IPv4;$1\\032\\091"
}
# flood PREFIX N HOST ADDR [PER]: the neighbour's services, once its
# daemon announced them; the PID in $BG_PID.
flood() {
    bg 2 "$BT_TMP/flood-$1.log" "$probe" --flood "$2" "$1" 7171 300 "$3" "$4" ${5:+"$5"}
    wait_for 60 grep -q "^established $2" "$BT_TMP/flood-$1.log" ||
        t_fail flood "the neighbour could not publish $2: $(cat "$BT_TMP/flood-$1.err")"
}

bg 1 "$PLOG" "$probe" watcher 7002 300 w-
WATCHER=$BG_PID

# ---- 1. the table full of found services ----
t0=$(now_ms)
flood w "$MANY" bt-w 198.19.1.1 "$CAP"
W=$BG_PID
flood x "$CAP" bt-x.local 198.19.2.1
X=$BG_PID
wait_for 90 found_ge w- "$MANY" || t_fail full "the watcher found $(found_n w-) of $MANY"
wait_for 30 found_ge x- "$CAP" || t_fail full "the watcher found $(found_n x-) of $CAP"
echo "table full: $TABLE found $(($(now_ms) - t0)) ms after the flood's start"
t_pass "$TABLE services at $((TABLE / CAP)) addresses found"

# ---- 2. carol, announced while it is full, found when room is made ----
bg 3 "$BT_TMP/carol.log" "$probe" carol 7070 300
CAROL=$BG_PID
# Once host 1's daemon lists her, it has told the watcher's browser (its
# REMOVEs for the 8 withdrawn below come after that, on one connection).
wait_for 30 listed carol || t_fail waiting "host 1's daemon does not list carol"
lines_ge "^found [0-9]* carol " 1 && t_fail waiting "carol found in a full table"
kill -TERM "$X"
wait_for 10 gone "$X" || t_fail waiting "the neighbour did not exit"
wait_for 30 lines_ge "^lost " "$CAP" ||
    t_fail waiting "the watcher lost $(grep -c '^lost ' "$PLOG") of $CAP withdrawn"
t0=$(now_ms)
wait_for 30 lines_ge "^found [0-9]* carol 198\.18\.0\.3:7070$" 1 ||
    t_fail waiting "the watcher never found carol, announced while its table was full"
echo "carol found $(($(now_ms) - t0)) ms after $CAP found services were withdrawn"
t_pass "carol, announced while the table was full, found when $CAP left"

# ---- 3. refuted services give way to those waiting ----
flood y "$CAP" bt-y.local 198.19.3.1
Y=$BG_PID
wait_for 30 found_ge y- $((CAP - 1)) || t_fail refuted "the watcher found $(found_n y-) of $((CAP - 1))"
bg 3 "$BT_TMP/dave.log" "$probe" dave 7071 300
DAVE=$BG_PID
wait_for 30 listed dave || t_fail refuted "host 1's daemon does not list dave"
if [ "$(found_n y-)" != $((CAP - 1)) ] || lines_ge "^found [0-9]* dave " 1; then
    t_fail refuted "found $(found_n y-) y and dave ($(grep -c ' dave ' "$PLOG")) in a full table"
fi
kill -USR1 "$WATCHER"
wait_for 30 lines_ge "^refuted $MANY$" 1 || t_fail refuted "the watcher did not refute the $MANY"
wait_for 30 found_ge y- "$CAP" || t_fail refuted "the 8th of y not found after the refutations"
wait_for 30 lines_ge "^found [0-9]* dave 198\.18\.0\.3:7071$" 1 ||
    t_fail refuted "dave not found after the refutations"
t_pass "$MANY refuted: the services waiting for room found"

kill -TERM "$W" "$Y" "$CAROL" "$DAVE"
kill -TERM "$WATCHER"
wait_for 10 gone "$WATCHER" || t_fail stop "the watcher did not exit"
check_san "$BT_TMP/probe.err" watcher
exit 0
