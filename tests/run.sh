#!/usr/bin/env bash
# Run every test program given, then print one summary line:
# "N passed, N failed" (", N skipped" when a test exited 77). cmocka
# binaries count their own tests; other programs (integration scripts)
# count as one test each.
set -u
passed=0
failed=0
skipped=0
failed_names=()
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
    if [ -n "$p" ] || [ -n "$f" ]; then
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        if [ "$rc" -ne 0 ] && [ -z "$f" ]; then failed=$((failed + 1)); fi
    elif [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    elif [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1))
        continue
    else
        failed=$((failed + 1))
    fi
    [ "$rc" -ne 0 ] && failed_names+=("$(basename "$t")")
done
echo
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ ${#failed_names[@]} -eq 0 ]
