# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2015,SC2034,SC2317
#
# rdv_lib.sh - what the rendezvous integration tests share: a scratch
# directory, accounts, one banter-rendezvous (the ASan build) on a free
# loopback port, rdv_probe clients in the foreground or the background,
# and cleanup of every process started, by PID, also on failure. Source it
# after lib.sh:
#
#   . "$here/lib.sh"; . "$here/rdv_lib.sh"
#   rdv_setup ann bob            # accounts (password in $T/pw), $T
#   rdv_start main               # server logs $T/main.err; $PORT, $SRV
#   out=$(pr a.key login=ann:"$PW" ready contact=request:bob)
#   bgp b bob.key ready wait=5000   # background probe, output $T/b.out
#   wait_out b '^recv contact ann state=incoming' 5
#   rdv_stop main                # SIGTERM, exit 0, no sanitizer report
#
# Needs $RDV_BIN and $RDV_PROBE (defaults: the ASan builds).
#
# RDV_DB=postgresql runs the same test on PostgreSQL: rdv_setup starts a
# throwaway cluster (pg_lib.sh) and $RDV_BIN becomes a wrapper that runs
# the real program with every `--db PATH` replaced by a database of that
# cluster named after PATH's real path (links to one file share one
# database, as they share the file) and `--state PATH`, so the server key,
# control socket and plug-in state stay where the test expects them
# (PATH.key, PATH.sock, PATH.plugins). `sql` then runs on that database.

RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
RDV_PROBE=${RDV_PROBE:-$here/../../build/asan/tests/rdv_probe}
for v in RDV_BIN RDV_PROBE; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make test-run builds it, or set $v)"
done
RDV_BIN=$(cd "$(dirname "$RDV_BIN")" && pwd)/$(basename "$RDV_BIN")
RDV_PROBE=$(cd "$(dirname "$RDV_PROBE")" && pwd)/$(basename "$RDV_PROBE")
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

T=
SRV=
PORT=
PW=
RDV_PIDS=()
declare -A BGP # background probe name -> PID

rdv_cleanup() {
    local p
    for p in "${RDV_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    [ -n "$SRV" ] && kill -KILL "$SRV" 2>/dev/null
    for p in "${RDV_PIDS[@]}" $SRV; do
        wait "$p" 2>/dev/null
    done
    [ -n "$T" ] && [ -z "${BT_KEEP_TMP:-}" ] && rm -rf "$T"
    # The PostgreSQL cluster too (pg_stop is idempotent): a test that sets
    # an EXIT trap of its own calling rdv_cleanup replaces the one
    # pg_start chained, and the cluster would outlive the test.
    if declare -F pg_stop >/dev/null; then pg_stop; fi
    return 0
}

# The PostgreSQL database that stands for the SQLite file path $1 (made on
# first use): its name.
rdv_pg_name() {
    local real
    real=$(realpath -m "$1")
    printf 't_%s\n' "$(printf '%s' "$real" | md5sum | cut -c1-16)"
}

# RDV_DB=postgresql: the cluster and the wrapper (see the top).
_rdv_pg_setup() {
    local here_lib
    here_lib=$(dirname "${BASH_SOURCE[0]}")
    # shellcheck source=tests/integration/pg_lib.sh
    . "$here_lib/pg_lib.sh"
    pg_start || t_fail setup "PostgreSQL did not start"
    RDV_BIN_REAL=$RDV_BIN
    RDV_BIN=$T/rdv-pg
    cat >"$RDV_BIN" <<EOS
#!/usr/bin/env bash
# banter-rendezvous on PostgreSQL for tests: --db PATH -> a database of
# the test's cluster named after PATH, and --state PATH.
db() {
    local real name
    real=\$(realpath -m "\$1")
    name=t_\$(printf '%s' "\$real" | md5sum | cut -c1-16)
    if [ ! -e "$PG_DIR/made.\$name" ]; then
        (cd / && runuser -u "$PG_USER" -- "$PG_BINDIR/psql" -X -q -h "$PG_SOCK" -p "$PG_PORT" \\
            -U "$PG_USER" -d postgres -c "CREATE DATABASE \$name") >/dev/null 2>&1
        : >"$PG_DIR/made.\$name"
    fi
    printf 'postgresql://%s@/%s?host=%s&port=%s\n' "$PG_USER" "\$name" "$PG_SOCK" "$PG_PORT"
}
args=()
while [ \$# -gt 0 ]; do
    case \$1 in
    --db) args+=(--db "\$(db "\$2")" --state "\$2"); shift 2 ;;
    --db=*) args+=(--db "\$(db "\${1#--db=}")" --state "\${1#--db=}"); shift ;;
    *) args+=("\$1"); shift ;;
    esac
done
exec "$RDV_BIN_REAL" "\${args[@]}"
EOS
    chmod 755 "$RDV_BIN"
}

# rdv_setup USER...: scratch directory (cd there), password, accounts
# (an account whose name starts with "adm" is an admin).
rdv_setup() {
    T=$(mktemp -d /tmp/bt-rdv.XXXXXX) || t_fail setup mktemp
    BT_TMP=$T # lib.sh's t_fail prints the logs found here
    trap rdv_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cd "$T" || t_fail setup "cd $T"
    [ "${RDV_DB:-sqlite}" = postgresql ] && _rdv_pg_setup
    PW="pass $RANDOM word"
    printf '%s\n' "$PW" >pw
    local u
    for u in "$@"; do
        local admin=()
        [[ $u == adm* ]] && admin=(--admin)
        "$RDV_BIN" --db rdv.db user add "$u" "${admin[@]}" --password-file pw >/dev/null 2>&1 ||
            t_fail setup "user add $u"
    done
}

# rdv_start NAME [OPTION...]: the server on a free port of 127.0.0.1
# (the same port again when $PORT is set), stderr in $T/NAME.err.
rdv_start() {
    local name=$1 p try
    shift
    for try in 1 2 3 4 5 6 7 8; do
        p=${PORT:-$((17000 + RANDOM % 900))}
        "$RDV_BIN" --db rdv.db --listen "127.0.0.1:$p" "$@" >"$T/$name.log" 2>"$T/$name.err" \
            </dev/null &
        SRV=$!
        _rdv_up() { grep -q "listening on 127.0.0.1:$p," "$T/$name.err" || ! kill -0 "$SRV" 2>/dev/null; }
        wait_for 10 _rdv_up
        if grep -q "listening on 127.0.0.1:$p," "$T/$name.err"; then
            PORT=$p
            return 0
        fi
        wait "$SRV" 2>/dev/null
        SRV=
        [ -n "${PORT:-}" ] && [ "$try" -ge 3 ] && break
        sleep 0.3
    done
    t_fail "start $name" "the server did not start: $(tail -n 5 "$T/$name.err")"
}

# check_san FILE WHAT: no sanitizer report in FILE.
check_san() {
    local hits
    hits=$(grep -E 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$1")
    [ -z "$hits" ] || t_fail "sanitizers ($2)" "$hits"
}

# rdv_stop NAME: SIGTERM, exit 0 within 10 s, no sanitizer report.
rdv_stop() {
    local rc=0
    kill -TERM "$SRV" 2>/dev/null
    _rdv_gone() { ! kill -0 "$SRV" 2>/dev/null; }
    wait_for 10 _rdv_gone || t_fail "$1 stop" "still running 10 s after SIGTERM"
    wait "$SRV" 2>/dev/null || rc=$?
    SRV=
    [ "$rc" -eq 0 ] || t_fail "$1 stop" "exit $rc after SIGTERM: $(tail -n 5 "$T/$1.err")"
    check_san "$T/$1.err" "$1"
}

# rdv_kill: SIGKILL the server (a crash).
rdv_kill() {
    kill -KILL "$SRV" 2>/dev/null
    wait "$SRV" 2>/dev/null
    SRV=
}

# pr KEY STEP...: a probe with the device key in $T/KEY, HELLO first.
pr() {
    local key=$1
    shift
    "$RDV_PROBE" --key "$T/$key" 127.0.0.1 "$PORT" hello "$@" 2>&1
}

# bgp NAME KEY STEP...: pr in the background, output in $T/NAME.out.
bgp() {
    local name=$1 key=$2
    shift 2
    "$RDV_PROBE" --key "$T/$key" 127.0.0.1 "$PORT" hello "$@" >"$T/$name.out" 2>&1 &
    BGP[$name]=$!
    RDV_PIDS+=($!)
}

# bg_done NAME [TIMEOUT_S]: wait for a background probe to end.
bg_done() {
    local pid=${BGP[$1]}
    _bg_gone() { ! kill -0 "$pid" 2>/dev/null; }
    wait_for "${2:-15}" _bg_gone || t_fail "$1" "the probe did not finish: $(tail -n 5 "$T/$1.out")"
    wait "$pid" 2>/dev/null
    return 0
}

# bg_kill NAME...: end background probes (quietly).
bg_kill() {
    local n
    for n in "$@"; do
        kill -KILL "${BGP[$n]}" 2>/dev/null
        wait "${BGP[$n]}" 2>/dev/null
    done
    return 0
}

# wait_out NAME REGEX [TIMEOUT_S]: until a line of $T/NAME.out matches.
wait_out() {
    _has_out() { grep -qE "$2" "$T/$1.out" 2>/dev/null; }
    wait_for "${3:-5}" _has_out "$1" "$2"
}

# wait_count NAME REGEX N [TIMEOUT_S]: until N lines of $T/NAME.out match
# (a later event of a kind already seen: wait_out would match the first).
wait_count() {
    _has_count() { [ "$(grep -cE "$2" "$T/$1.out" 2>/dev/null)" -ge "$3" ]; }
    wait_for "${4:-5}" _has_count "$1" "$2" "$3"
}

# has TEXT REGEX, count TEXT REGEX
has() { grep -qE "$2" <<<"$1"; }
count() { grep -cE "$2" <<<"$1"; }

# The device key (hex) a probe with key file KEY proves.
devkey() { "$RDV_PROBE" --key "$T/$1" --print-key; }

# sql SQL: run SQL on the database (also while the server runs); prints
# the first column of each row.
sql() {
    if [ "${RDV_DB:-sqlite}" = postgresql ]; then
        local name
        name=$(rdv_pg_name "$T/rdv.db")
        (cd / && _pg_as "$PG_BINDIR/psql" -X -q -A -t -h "$PG_SOCK" -p "$PG_PORT" \
            -U "$PG_USER" -d "$name" -v ON_ERROR_STOP=1 -c "$1")
    else
        "$RDV_PROBE" --sql "$T/rdv.db" "$1"
    fi
}
rows() { sql "$1"; }

# RDV_DB=postgresql: hold the server's database thread (or its cluster
# connection) at a table, to order events on purpose.
#   pg_hold FD TABLE     a session of the test (its input on FD, 7 to 9)
#                        locks TABLE (ACCESS EXCLUSIVE) and stays open:
#                        every statement that reads TABLE waits
#   pg_lockwaits N       true when N statements or more wait for a lock
#   pg_release FD        that session commits and ends
declare -A PG_HOLD_PID
pg_hold() {
    local fd=$1
    rm -f "$T/hold$fd.in" "$T/hold$fd.out"
    mkfifo "$T/hold$fd.in" || t_fail "pg_hold" "mkfifo"
    (cd / && _pg_as "$PG_BINDIR/psql" -X -q -A -t -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_USER" \
        -d "$(rdv_pg_name "$T/rdv.db")" -v ON_ERROR_STOP=1 <"$T/hold$fd.in" >"$T/hold$fd.out" 2>&1) &
    PG_HOLD_PID[$fd]=$!
    RDV_PIDS+=($!)
    eval "exec $fd>\"\$T/hold$fd.in\""
    printf 'BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; SELECT %s;\n' "$2" "'locked'" >&"$fd"
    wait_out "hold$fd" '^locked$' || t_fail "pg_hold" "cannot lock $2: $(cat "$T/hold$fd.out")"
}
pg_lockwaits() {
    [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
              AND wait_event_type = 'Lock'")" -ge "$1" ]
}
pg_release() {
    printf 'COMMIT;\n\\q\n' >&"$1" # \q: the probes started since hold the pipe open too
    eval "exec $1>&-"
    wait "${PG_HOLD_PID[$1]}"
}
