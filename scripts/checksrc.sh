#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Refuse banned functions everywhere, and over-long functions in the
# programs and the library (tests may be long and flat).
set -euo pipefail
MAX_FUNC_LINES=${MAX_FUNC_LINES:-100}
status=0
for f in "$@"; do
    if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok)[[:space:]]*\(' "$f" |
        grep -vE '^\s*[0-9]+:\s*(/\*|\*|//)'; then
        echo "$f: banned function (use snprintf, memcpy with a length, strtol, strtok_r)" >&2
        status=1
    fi
    case "$f" in
    tests/* | bench/*) continue ;;
    esac
    awk -v max="$MAX_FUNC_LINES" -v file="$f" '
        /^\{/ { start = NR }
        /^\}/ && start { if (NR - start > max) { printf "%s:%d: function is %d lines (max %d)\n", file, start, NR - start, max; bad = 1 } start = 0 }
        END { exit bad }' "$f" || status=1
done
exit $status
