#!/bin/sh
# Run each test program given under valgrind, $(nproc) at a time; fail if any
# reports an invalid access or a definite/indirect leak. CK_FORK=no keeps a
# Check suite in one process so the leak check at exit sees all of it.
set -u
jobs=$(nproc 2>/dev/null || echo 2)
export OPENBLAS_NUM_THREADS=1 CK_FORK=no
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh -c '
    t={}
    if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=99 "./$t" >"$t.vg.log" 2>&1; then
        echo "VALGRIND PASS: $t"
    else
        echo "VALGRIND FAIL: $t (log: $t.vg.log)"; tail -n 40 "$t.vg.log"; exit 1
    fi'
