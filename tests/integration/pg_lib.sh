# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034
#
# pg_lib.sh - a throwaway PostgreSQL cluster for one test file. Source it
# (bash, as root or as any user) and call pg_start once:
#
#   . "$here/pg_lib.sh"
#   pg_start                 # cluster up; $PG_URL, $PG_DIR, $PG_SOCK
#   pg_restart               # stop (fast) and start it again, same data
#   pg_stop                  # also run on EXIT by the trap pg_start sets
#
# The cluster lives in a temporary directory owned by the user that runs
# it: `nobody` when we are root (PostgreSQL refuses to run as root), else
# ourselves. It listens on a unix socket in that directory only
# (listen_addresses=''), so nothing is reachable from the network and
# parallel runs cannot collide on a port; trust authentication for that
# socket only, which only the cluster's user and root can reach (0700).
# $PG_URL is a libpq connection URI for the database "banter"
# (postgresql://nobody@/banter?host=DIR) that the test hands to
# banter-rendezvous --db.
#
# Teardown: pg_stop stops the postmaster with `pg_ctl stop -m immediate`
# and, should that fail, SIGKILLs the postmaster by the PID in its pid
# file (only this cluster's), then removes the directory. pg_start chains
# an EXIT trap that calls pg_stop after any EXIT trap already set, so
# source this after rdv_lib.sh's rdv_setup or call pg_start after it.
#
# Exit 77 (skipped) when PostgreSQL's server programs are not installed.

PG_DIR=
PG_SOCK=
PG_URL=
PG_USER=
PG_PORT=5432
PG_BINDIR=

# Run a PostgreSQL program as the cluster's user, from / (that user may
# not enter the caller's directory; every path given is absolute).
_pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        "$@"
    fi
}

_pg_find_bindir() {
    local d
    for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
        [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && {
            PG_BINDIR=$d
            return 0
        }
    done
    command -v initdb >/dev/null && command -v pg_ctl >/dev/null &&
        PG_BINDIR=$(dirname "$(command -v initdb)") && return 0
    return 1
}

pg_stop() {
    [ -n "$PG_DIR" ] || return 0
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 20 stop >/dev/null 2>&1
        if [ -f "$PG_DIR/data/postmaster.pid" ]; then
            local pid
            pid=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)
            [[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
        fi
    fi
    [ -z "${BT_KEEP_TMP:-}" ] && rm -rf "$PG_DIR"
    PG_DIR=
    return 0
}

# pg_ctl start on the existing data directory, waiting until it accepts.
_pg_up() {
    _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$PG_SOCK' -p $PG_PORT" \
        start >/dev/null
}

pg_start() {
    _pg_find_bindir || {
        echo "SKIP: PostgreSQL server programs (initdb, pg_ctl) are not installed" >&2
        exit 77
    }
    if [ "$(id -u)" -eq 0 ]; then PG_USER=nobody; else PG_USER=$(id -un); fi
    PG_DIR=$(mktemp -d /tmp/bt-pg.XXXXXX) || return 1
    PG_SOCK=$PG_DIR/sock
    mkdir -p "$PG_SOCK"
    [ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$PG_DIR"
    chmod 0700 "$PG_DIR"
    local prev
    prev=$(trap -p EXIT | sed -n "s/^trap -- '\(.*\)' EXIT$/\1/p")
    # shellcheck disable=SC2064
    trap "${prev:+$prev; }pg_stop" EXIT
    _pg_as "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U "$PG_USER" -A trust -E UTF8 \
        --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        return 1
    }
    # fsync stays on: the tests check that what was acknowledged survives a
    # crash of the server, which needs it.
    _pg_up || {
        cat "$PG_DIR/server.log" >&2
        return 1
    }
    _pg_as "$PG_BINDIR/psql" -X -q -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_USER" -d postgres \
        -c "CREATE DATABASE banter" >/dev/null || return 1
    PG_URL="postgresql://$PG_USER@/banter?host=$PG_SOCK&port=$PG_PORT"
    return 0
}

# pg_restart [MODE]: stop (fast by default; "immediate" is a crash) and
# start the same cluster again.
pg_restart() {
    _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w -t 30 stop >/dev/null || return 1
    _pg_up
}

# pg_sql SQL: run SQL on the test database, rows unaligned and bare.
pg_sql() {
    _pg_as "$PG_BINDIR/psql" -X -q -A -t -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_USER" -d banter \
        -v ON_ERROR_STOP=1 -c "$1"
}
