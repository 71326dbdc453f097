#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# measure.sh - one transfer between two namespaces joined by a wanline (or
# a plain veth), for the figures in docs/ice.md. Root; run from the tree.
#
#   tests/netlab/measure.sh BYTES tcp|"PROBE OPTIONS" [WANLINE OPTIONS...]
#
#   tests/netlab/measure.sh 300000000 tcp -d 25            kernel TCP, 50 ms RTT
#   tests/netlab/measure.sh 20000000 "--mode sctp" -d 25 -l 1
# With no wanline options the two hosts share a plain veth. Prints one
# line: "tcp: bytes N secs S MBps R" or "OPTIONS: transfer bytes ... | failed ...".
# TMO (default 150) bounds a probe run in seconds.
set -u
. "$(dirname "$0")/../integration/nat_lib.sh"
require_root
BYTES=$1
PARGS=$2
shift 2
PROBE=${ICE_PROBE:-$NL_SRC/build/rel/tests/ice_probe}
TCPCOPY=${TCPCOPY:-$NL_SRC/build/rel/tests/tcpcopy}
nat_setup
netlab_line x y 198.18.7.1 198.18.7.2 "$@"
if [ "$PARGS" = tcp ]; then
    nat_bg y "$NL_TMP/y.log" "$TCPCOPY" recv 5001
    wait_for 5 grep -q listening "$NL_TMP/y.err" || t_fail measure "tcpcopy recv"
    nat_exec x "$TCPCOPY" send 198.18.7.2 5001 "$BYTES"
    wait_for "${TMO:-150}" grep -q bytes "$NL_TMP/y.log"
    echo "tcp: $(cat "$NL_TMP/y.log")"
    exit 0
fi
# shellcheck disable=SC2086 # PARGS is a list of options
nat_bg y "$NL_TMP/y.log" "$PROBE" --role controlled --local "$NL_TMP/y.sdp" \
    --remote "$NL_TMP/x.sdp" --bytes "$BYTES" --timeout "${TMO:-150}" $PARGS
# shellcheck disable=SC2086
nat_exec x "$PROBE" --role controlling --local "$NL_TMP/x.sdp" --remote "$NL_TMP/y.sdp" \
    --bytes "$BYTES" --timeout "${TMO:-150}" $PARGS >"$NL_TMP/x.log" 2>"$NL_TMP/x.err"
wait_for 5 grep -q transfer "$NL_TMP/y.log"
echo "$PARGS: $(grep -h transfer "$NL_TMP/y.log") | $(grep -h failed "$NL_TMP/x.log" "$NL_TMP/y.log")"
