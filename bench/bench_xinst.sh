#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_xinst.sh - routing between two rendezvous instances on one
# PostgreSQL against routing on one instance, in the same run
# (docs/cluster.md, "Capacity"): a throwaway PostgreSQL cluster
# (tests/integration/pg_lib.sh: initdb and pg_ctl as an unprivileged user,
# a unix socket only, removed at the end), then bench_rendezvous with
# BENCH_RDV_PG set: two instances rdv-a and rdv-b of one service, pairs of
# devices that are approved contacts, each sender keeping 32 copies
# unanswered; first every pair on rdv-a, then every receiver on rdv-b.
#
# Settings: BENCH_RDV_PAIRS (default 32), BENCH_RDV_SECONDS (5). Expects
# bin/banter-rendezvous and build/rel/bench_rendezvous (`make bench-xinst`
# builds them).
set -u
cd "$(dirname "$0")/.." || exit 1
for f in bin/banter-rendezvous build/rel/bench_rendezvous; do
    [ -x "$f" ] || {
        echo "bench_xinst: $f is missing (run: make bench-xinst)" >&2
        exit 1
    }
done
# shellcheck source=tests/integration/pg_lib.sh
. tests/integration/pg_lib.sh
pg_start || {
    echo "bench_xinst: PostgreSQL did not start" >&2
    exit 1
}
echo "bench_xinst: load average $(cut -d' ' -f1-3 /proc/loadavg)"
BENCH_RDV_PG=$PG_URL BENCH_RDV_CONNS=0 BENCH_RDV_PAIRS=${BENCH_RDV_PAIRS:-32} \
    BENCH_RDV_SECONDS=${BENCH_RDV_SECONDS:-5} build/rel/bench_rendezvous
