#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run`: start a node for the current user. The node arrives with the
# LAN node issue; until then this says what was built and what comes next.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x bin/banter ]; then
    exec bin/banter node --name "${BANTER_NAME:-$(id -un)}"
fi
echo "banter: the protocol library is built (build/rel/libbanter.a)."
echo "banter: the node (bin/banter) is not part of this build yet;"
echo "banter: run 'make test' to check the protocol core, 'make bench' for its speed."
