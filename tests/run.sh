#!/usr/bin/env bash
# Run every test program given, then print one summary line:
# "N passed, N failed" (", N skipped" when a test exited 77). cmocka
# binaries count their own tests; other programs (integration scripts)
# count as one test each. Each test's output is printed whole when it ends,
# followed by "time: NAME Ns".
#
# An argument "pg:PATH" runs the integration test PATH with
# RDV_DB=postgresql (rdv_lib.sh: the same test on a PostgreSQL database);
# it is named "NAME@pg" in the output.
#
# TEST_JOBS=N runs up to N tests at once (default 1; `make test` passes
# 3). Every integration test makes its own namespaces (named after its
# PID), scratch folders and loopback ports, so they do not meet; their
# output is still printed one test at a time, in the order they end.
#
# A script declares, in a comment line among its first 10 ("# test: ..."):
#   # test: serial (WHY)  it runs alone: nothing else runs beside it (its
#                       checks are timing- or CPU-sensitive: deadlines,
#                       CPU use, a slow line's delivery times; say which)
#   # test: seconds N   about how long it takes alone (to order the run)
# The run starts the serial tests first, one at a time, then the others,
# longest first (so two long tests do not end the run alone); a test
# without a hint counts as 0 s and keeps its place. A unit test's hints
# are in its source, tests/unit/NAME.c: "/* test: seconds N */".
set -u
passed=0
failed=0
skipped=0
failed_names=()
jobs=${TEST_JOBS:-1}
case $jobs in '' | *[!0-9]* | 0) jobs=1 ;; esac
tests_dir=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d /tmp/bt-run.XXXXXX) || exit 1
trap 'rm -rf "$scratch"' EXIT

# A test's name in the output: its file's, "@pg" added for "pg:PATH".
name_of() {
    case $1 in
    pg:*) echo "$(basename "${1#pg:}")@pg" ;;
    *) basename "$1" ;;
    esac
}

# Count the results of one finished test: $1 its path, $2 its exit code,
# $3 the file holding its output, $4 its seconds.
account() {
    local t=$1 rc=$2 log=$3 secs=$4 p f
    cat "$log"
    echo "time: $(name_of "$t") ${secs}s"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$log" | tail -1)
    if [ -n "$p" ] || [ -n "$f" ]; then
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        if [ "$rc" -ne 0 ] && [ -z "$f" ]; then failed=$((failed + 1)); fi
    elif [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    elif [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1))
        return
    else
        failed=$((failed + 1))
    fi
    [ "$rc" -ne 0 ] && failed_names+=("$(name_of "$t")")
}

# One test in the background: its output, then its exit code and seconds
# in $scratch/N.rc once it is over.
start() {
    local n=$1 t=$2
    (
        s=$SECONDS
        case $t in
        pg:*) RDV_DB=postgresql "${t#pg:}" >"$scratch/$n.log" 2>&1 ;;
        *) "$t" >"$scratch/$n.log" 2>&1 ;;
        esac
        rc=$?
        echo "$rc $((SECONDS - s))" >"$scratch/$n.tmp" && mv "$scratch/$n.tmp" "$scratch/$n.rc"
    ) &
}

# The hints of test $1 (see the top): "SERIAL SECONDS", SERIAL 1 or 0.
# A script holds them; a unit test binary tests/.../NAME has them in its
# source, tests/unit/NAME.c, as "/* test: ... */".
hints() {
    local f=${1#pg:} serial=0 secs=0 line
    if [ -f "$f" ] && [ "$(head -c 2 "$f" 2>/dev/null)" != "#!" ]; then
        f=$tests_dir/unit/$(basename "$f").c
    fi
    if [ -f "$f" ]; then
        while IFS= read -r line; do
            line=${line%' */'}
            line=${line#'/* '}
            case $line in
            '# test: serial' | '# test: serial '* | 'test: serial' | 'test: serial '*) serial=1 ;;
            '# test: seconds '* | 'test: seconds '*)
                secs=${line#*test: seconds }
                case $secs in '' | *[!0-9]*) secs=0 ;; esac
                ;;
            esac
        done < <(head -n 10 "$f")
    fi
    echo "$serial $secs"
}

# The order of the run: serial tests first, then longest first; equal
# ones keep the order given.
tests=()
serial=()
while read -r _ _ _ s t; do
    tests+=("$t")
    serial+=("$s")
done < <(
    i=0
    for t in "$@"; do
        read -r s secs < <(hints "$t")
        printf '%d %d %d %d %s\n' $((1 - s)) $((1000000 - secs)) "$i" "$s" "$t"
        i=$((i + 1))
    done | sort -k1,1n -k2,2n -k3,3n
)

declare -A running=() # index -> 1
alone=                # the index of the serial test running, if any
next=0
while [ "$next" -lt ${#tests[@]} ] || [ ${#running[@]} -gt 0 ]; do
    while [ ${#running[@]} -lt "$jobs" ] && [ "$next" -lt ${#tests[@]} ] && [ -z "$alone" ]; do
        if [ "${serial[next]}" = 1 ]; then
            [ ${#running[@]} -gt 0 ] && break
            alone=$next
        fi
        start "$next" "${tests[next]}"
        running[$next]=1
        next=$((next + 1))
    done
    wait -n 2>/dev/null
    for n in "${!running[@]}"; do
        [ -f "$scratch/$n.rc" ] || continue
        read -r rc secs <"$scratch/$n.rc"
        account "${tests[n]}" "$rc" "$scratch/$n.log" "$secs"
        rm -f "$scratch/$n.rc" "$scratch/$n.log"
        unset "running[$n]"
        [ "$alone" = "$n" ] && alone=
    done
done
echo
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ ${#failed_names[@]} -eq 0 ]
