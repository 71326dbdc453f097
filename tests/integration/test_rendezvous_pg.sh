#!/usr/bin/env bash
# test: seconds 18
# SPDX-License-Identifier: MIT
# test_rendezvous_pg.sh - the rendezvous's PostgreSQL side against a real
# server: a throwaway cluster (pg_lib.sh: initdb + pg_ctl as nobody, unix
# socket only) runs tests/unit/test_rdv_pg.c (the schema migrated once and
# the same as SQLite's, the asynchronous connection: ordered queries,
# binary parameters, errors, LISTEN/NOTIFY, a killed session made again);
# then a crash of PostgreSQL itself (pg_ctl stop -m immediate, start): what
# was committed before is there, and the schema is not migrated twice.
#
# The unit tests of the db modules (test_rdv_db, test_rdv_contacts,
# test_rdv_mail, test_rdv_admin: rdv_dbtest.h), the database thread's
# (test_rdv_dbq) and the admin commands through it (test_rdv_acct) run
# again on PostgreSQL, each program
# on a database of its own (RDV_TEST_PG), so both backends give the same
# results.
#
# banter-rendezvous --db postgresql://... runs its commands there, and
# never prints the URL's password (also when the database cannot be
# opened).
#
# Needs $RDV_PG_TEST and $RDV_BIN (default: the ASan builds). Exit 77
# when PostgreSQL is not installed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/pg_lib.sh"

RDV_PG_TEST=${RDV_PG_TEST:-$here/../../build/asan/tests/test_rdv_pg}
RDV_CLUSTER_TEST=${RDV_CLUSTER_TEST:-$here/../../build/asan/tests/test_rdv_cluster}
RDV_BIN=${RDV_BIN:-$here/../../build/asan/banter-rendezvous}
for v in RDV_PG_TEST RDV_CLUSTER_TEST RDV_BIN; do
    [ -x "${!v}" ] || t_fail setup "no program at ${!v} (make test-run builds it)"
done
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1

pg_start || t_fail setup "cannot start a PostgreSQL cluster"

# The db modules' unit tests on PostgreSQL, beside test_rdv_pg.
unit_dir=$(dirname "$RDV_PG_TEST")
for t in ${RDV_PG_UNITS:-test_rdv_db test_rdv_contacts test_rdv_mail test_rdv_admin test_rdv_dbq test_rdv_acct}; do
    [ -x "$unit_dir/$t" ] || t_fail unit "no program at $unit_dir/$t (make test-run builds it)"
    # A locale whose lower() folds every letter and whose order is not
    # SQLite's bytes (where the system has one): the backend must not care.
    loc=$(locale -a 2>/dev/null | grep -i -m1 -E '^(en_US|C)\.utf-?8$')
    pg_sql "CREATE DATABASE $t TEMPLATE template0 ENCODING 'UTF8'${loc:+ LC_COLLATE '$loc' LC_CTYPE '$loc'}" \
        >/dev/null || t_fail unit "cannot make the database $t"
    RDV_TEST_PG=${PG_URL/\/banter?//$t?} "$unit_dir/$t" >"$PG_DIR/$t.log" 2>&1 || {
        cat "$PG_DIR/$t.log" >&2
        t_fail unit "$t failed against PostgreSQL"
    }
done
t_pass "the db modules' unit tests on PostgreSQL"
BANTER_TEST_PG=$PG_URL "$RDV_PG_TEST" || t_fail unit "test_rdv_pg failed against PostgreSQL"
t_pass "schema and asynchronous connection on PostgreSQL"
BANTER_TEST_PG=$PG_URL "$RDV_CLUSTER_TEST" || t_fail unit "test_rdv_cluster failed against PostgreSQL"
t_pass "instances: join, events between them, heartbeats and reaping (cluster.c)"

# A crash of the database server: committed rows survive, and the schema
# version is the same (test_rdv_pg migrated it; a restart migrates nothing).
v=$(pg_sql "SELECT version FROM banter_schema") || t_fail crash "no schema version"
pg_sql "INSERT INTO users (name, pwhash, admin, disabled, created, broadcast)
        VALUES ('crashsafe', 'h', 0, 0, 1, 0)" >/dev/null || t_fail crash "insert"
pg_restart immediate || t_fail crash "PostgreSQL did not come back"
[ "$(pg_sql "SELECT count(*) FROM users WHERE name = 'crashsafe'")" = 1 ] ||
    t_fail crash "a committed row was lost in the crash"
BANTER_TEST_PG=$PG_URL "$RDV_PG_TEST" >/dev/null 2>&1 || t_fail crash "test_rdv_pg after the crash"
[ "$(pg_sql "SELECT version FROM banter_schema")" = "$v" ] || t_fail crash "schema version changed"
t_pass "a PostgreSQL crash loses nothing committed"

# --db postgresql://...: the commands run there (every server path goes
# through the database thread, every db_* function has its PostgreSQL
# form); no password in what is printed, also when the database cannot be
# opened; no SQLite file made of the URL.
cd "$PG_DIR" || t_fail cli "cd"
secret="s3cret$RANDOM"
url=${PG_URL/nobody@/nobody:$secret@}
out=$("$RDV_BIN" --db "$url" user list 2>&1) || t_fail cli "user list on PostgreSQL failed: $out"
printf '%s\n' "$out" | grep -q "$secret" && t_fail cli "the password was printed: $out"
bad=${url/\/banter?//nosuchdb?}
out=$("$RDV_BIN" --db "$bad" user list 2>&1) && t_fail cli "user list on a missing database succeeded"
printf '%s\n' "$out" | grep -q "cannot open the database (PostgreSQL)" || t_fail cli "no clear error: $out"
printf '%s\n' "$out" | grep -q "$secret" && t_fail cli "the password was printed: $out"
[ -e postgresql: ] && t_fail cli "a SQLite file was made of the URL"
t_pass "--db postgresql://: the commands run on PostgreSQL; a failure is clear, the password unprinted"
