#!/bin/sh
# SPDX-License-Identifier: MIT
# Debian's Chromium inside the network namespace of process $BANTER_NETNS_PID
# (a test host of tests/integration/lib.sh), where the node's web interface
# listens on 127.0.0.1. Playwright starts this as its browser executable.
[ -n "$BANTER_NETNS_PID" ] || { echo "chromium-netns.sh: BANTER_NETNS_PID is not set" >&2; exit 2; }
exec nsenter -t "$BANTER_NETNS_PID" -n -- "${CHROMIUM:-/usr/bin/chromium}" "$@"
