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
# TEST_JOBS=N runs up to N tests at once (default 1). Every integration
# test makes its own namespaces (named after its PID), scratch folders and
# loopback ports, so they do not meet; their output is still printed one
# test at a time, in the order they end.
set -u
passed=0
failed=0
skipped=0
failed_names=()
jobs=${TEST_JOBS:-1}
case $jobs in '' | *[!0-9]* | 0) jobs=1 ;; esac
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

tests=("$@")
declare -A running=() # index -> 1
next=0
while [ "$next" -lt ${#tests[@]} ] || [ ${#running[@]} -gt 0 ]; do
    while [ ${#running[@]} -lt "$jobs" ] && [ "$next" -lt ${#tests[@]} ]; do
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
