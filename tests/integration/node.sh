# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# node.sh - helpers for tests that run `banter node` in lib.sh's hosts.
# Source after lib.sh; needs $BANTER_BIN and $BT_TMP (from net_setup).

# b HOME CMD...: the CLI against the node of HOME.
b() {
    local home=$1
    shift
    "$BANTER_BIN" --home "$home" "$@"
}

# alive PID: running, its files held (lib.sh's _bt_alive: every thread
# looked at, not only the main one).
alive() { _bt_alive "$1"; }
gone() { ! alive "$1"; }

# bg HOST LOG CMD...: host_bg, the PID in $BG_PID (not run in $(...), so
# that t_fail in here ends the test).
bg() {
    host_bg "$@" >/dev/null
    BG_PID=$BT_LAST_PID
}

# start_node HOST NAME HOME LOGBASE: the PID in $BG_PID; returns when the
# control socket answers.
start_node() {
    bg "$1" "$BT_TMP/$4.log" "$BANTER_BIN" --home "$3" node --name "$2" --port 7070
    wait_for 10 b "$3" id >/dev/null 2>&1 || t_fail "start $2" "node did not answer on $3/control.sock"
}

# check_san ERRFILE WHAT: fail when a sanitizer reported anything.
check_san() {
    local hits
    hits=$(grep -E 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$1" 2>/dev/null)
    [ -z "$hits" ] || t_fail "$2 sanitizers" "$(printf '%s\n' "$hits" | head -n 5) (see ${1##*/})"
}

# stop_node PID LOGBASE WHAT: SIGTERM, wait for the exit, check sanitizers.
stop_node() {
    kill -TERM "$1" 2>/dev/null
    wait_for 10 gone "$1" || t_fail "$3 stop" "node did not exit within 10 s of SIGTERM"
    check_san "$BT_TMP/$2.err" "$3"
}

# peer_obj HOME NAME: the peers --json objects (one per line) named NAME.
peer_obj() {
    b "$1" peers --json 2>/dev/null | sed 's/^\[//; s/\]$//; s/},{/}\n{/g' |
        grep -F "\"name\":\"$2\""
}
online() { peer_obj "$1" "$2" | grep -q '"online":true'; }
offline() { ! online "$1" "$2"; }
has_body() { b "$1" history "$2" --json 2>/dev/null | grep -qF "\"body\":\"$3\""; }
changed() { peer_obj "$1" "$2" | grep -q '"trust":"changed"'; }
