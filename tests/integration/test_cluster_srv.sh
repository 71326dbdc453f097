#!/usr/bin/env bash
# test: seconds 5
# SPDX-License-Identifier: MIT
#
# test_cluster_srv.sh - a node given the service by its DNS SRV name
# (docs/rendezvous.md 15.1), in a network namespace of its own whose
# /etc/resolv.conf (bind-mounted in the namespace's private mount
# namespace) points at a tiny DNS responder (srv_dns.py) on its 127.0.0.1:
#   1. the name is looked up (in the node's worker thread) and the node
#      connects to one of the two instances the SRV records name, each
#      with its own instance key, and logs in;
#   2. the instance it is on is killed by PID: the node moves to the other
#      one the answer named, still logged in;
#   3. the SRV records change to a third instance only, and the second is
#      stopped too: the node looks the name up again and is served by the
#      third.
# Needs root (namespaces), python3, $BANTER_BIN, $RDV_BIN (the ASan builds
# by default). Everything runs inside the test's namespace.
# shellcheck disable=SC2015,SC2317 # "a && b || t_fail" is meant; helpers run via wait_for
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
require_root
command -v python3 >/dev/null || t_skip "needs python3"

abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
BANTER_BIN=${BANTER_BIN:-$here/../../build/asan/banter}
RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
for v in BANTER_BIN RDV_BIN; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make test-run builds it, or set $v)"
done
BANTER_BIN=$(abs "$BANTER_BIN")
RDV_BIN=$(abs "$RDV_BIN")
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

net_setup 1
T=$BT_TMP
cd "$T" || t_fail setup "cd $T"
# shellcheck source=tests/integration/node.sh
. "$here/node.sh" # b, alive, gone, check_san, stop_node
rdv() { "$RDV_BIN" "$@"; }

printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' >"$T/resolv.conf"
host_exec 1 mount --bind "$T/resolv.conf" /etc/resolv.conf || t_fail setup "resolv.conf"
NAME=_banter._tcp.bt.test

DB=$T/r.db
FP=$(rdv --db "$DB" fingerprint 2>/dev/null) || t_fail setup "fingerprint"
printf 'correct horse 7 battery\n' >"$T/pw"
chmod 600 "$T/pw"
rdv --db "$DB" user add ada --password-file "$T/pw" >/dev/null 2>&1 || t_fail setup "user add"
for x in a b c; do
    rdv --db "$DB" instance new "$T/$x.key" --name "rdv-$x" >/dev/null 2>&1 || t_fail setup "$x.key"
    printf 'instance = %s\n' "$T/$x.key" >"$T/$x.conf"
    # One server per database path (its control socket is PATH.sock): the
    # others open the same file through links, the organisation key beside.
    [ "$x" = a ] || { ln -s "$DB" "$T/r$x.db" && cp -p "$DB.key" "$T/r$x.db.key"; } ||
        t_fail setup "r$x.db"
done
dbof() { [ "$1" = a ] && printf '%s\n' "$DB" || printf '%s/r%s.db\n' "$T" "$1"; }
PA=7101 PB=7102 PC=7103 # the namespace's own loopback: free

declare -A SPID
start_instance() { # x port
    SPID[$1]=$(host_bg 1 "$T/$1.log" "$RDV_BIN" --config "$T/$1.conf" --db "$(dbof "$1")" \
        --listen "127.0.0.1:$2")
    up() { grep -q "listening on 127.0.0.1:$2," "$T/$1.err"; }
    wait_for 15 up "$1" "$2" || t_fail "start $1" "$(tail -n 3 "$T/$1.err")"
}
printf '10 50 %s 127.0.0.1\n10 50 %s 127.0.0.1\n' "$PA" "$PB" >"$T/records"
host_bg 1 "$T/dns.log" python3 "$here/srv_dns.py" "$NAME" "$T/records" >/dev/null
# Readiness is the responder's own line, said after its bind: a probe that
# bound port 53 itself raced the responder's start on a slow machine.
dns_up() { grep -q '^listening on 127.0.0.1:53' "$T/dns.log"; }
wait_for 10 dns_up || t_fail setup "the DNS responder did not start: $(cat "$T/dns.err")"
start_instance a "$PA"
start_instance b "$PB"

# ---- 1. the name, looked up ----
N=$T/n
NPID=$(host_bg 1 "$T/ada-laptop.log" "$BANTER_BIN" --home "$N" node --no-mdns --port 0 \
    --name ada-laptop --rendezvous "$NAME" --server-key "$FP")
wait_for 10 b "$N" id >/dev/null 2>&1 || t_fail "start node" "no control socket"
rjson() { b "$1" rendezvous --json 2>&1; }
on_instance() { rjson "$N" | grep -qF "\"instance\":\"$1\",\"connected\":true,\"verified\":true"; }
on_any() { on_instance rdv-a || on_instance rdv-b; }
wait_for 20 on_any || t_fail "SRV" "not connected through the SRV name: $(rjson "$N")"
out=$(b "$N" login ada --password-file "$T/pw" 2>&1) || t_fail "SRV" "login: $out"
logged_in() { rjson "$N" | grep -qF '"user":"ada"'; }
wait_for 10 logged_in || t_fail "SRV" "not logged in: $(rjson "$N")"
if on_instance rdv-a; then first=a other=b; else first=b other=a; fi
rjson "$N" | grep -qF "\"server\":\"127.0.0.1:$([ $first = a ] && echo $PA || echo $PB)\"" ||
    t_fail "SRV" "the server named: $(rjson "$N")"
t_pass "SRV: $NAME looked up off the loop, the node is on rdv-$first and logged in"

# ---- 2. its instance dies ----
kill -KILL "${SPID[$first]}"
served() { on_instance "rdv-$other" && logged_in; }
wait_for 15 served || t_fail "failover" "not on rdv-$other: $(rjson "$N")"
t_pass "failover: rdv-$first killed by PID, the node is on rdv-$other from the same answer"

# ---- 3. the service changes ----
printf '10 50 %s 127.0.0.1\n' "$PC" >"$T/records"
start_instance c "$PC"
kill -TERM "${SPID[$other]}"
wait_for 10 gone "${SPID[$other]}" || t_fail "new answer" "rdv-$other did not stop"
check_san "$T/$other.err" "rdv-$other"
on_c() { on_instance rdv-c && logged_in; }
wait_for 40 on_c || t_fail "new answer" "not on rdv-c: $(rjson "$N")"
stop_node "$NPID" ada-laptop "node"
kill -TERM "${SPID[c]}"
wait_for 10 gone "${SPID[c]}" || t_fail "stop" "rdv-c did not stop"
check_san "$T/c.err" "rdv-c"
t_pass "new answer: the records now name rdv-c only, the others gone: the node looked the name up again and is on rdv-c"
