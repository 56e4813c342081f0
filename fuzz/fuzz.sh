#!/bin/sh
# fuzz/fuzz.sh: build every fuzz target with clang's libFuzzer (and ASan +
# UBSan) and run each for FUZZ_SECONDS (default 60) from the committed seed
# corpus. `make fuzz` calls it from a configured build tree; CI runs it.
#
# The sources the targets need (core, num, nn, model, codec and the route
# table) are compiled again with -fsanitize=fuzzer-no-link, so libFuzzer sees
# their branches; they are built into fuzz/build/ of the build tree. The
# corpus a run grows stays in fuzz/build/corpus/<target> (not committed).
# A crash stops the run, is copied to fuzz/regress/<target>/ in the source
# tree (tests/check_fuzz_replay then runs it on every make check) and the
# script fails. Environment: FUZZ_SECONDS, FUZZ_TARGETS (default all),
# FUZZ_JOBS (targets run at once, default one per CPU), CC
# (default clang), top_srcdir, top_builddir.
set -eu

src=${top_srcdir:-.}
build=${top_builddir:-.}
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-parse number model request dataset job router packed points}
cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc is not installed (Debian: apt-get install clang)" >&2
    exit 1
fi

out=$build/fuzz/build
mkdir -p "$out/obj"
flags="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=address,undefined -fno-sanitize-recover=undefined \
-I$build -I$src/src -I$src $(pkg-config --cflags jansson gnutls) -DODESERVE_FUZZ"
libs="$(pkg-config --libs jansson gnutls) -lmatheval -lopenblas -lm -lpthread"

# Builds and targets run FUZZ_JOBS at a time (default: one per CPU); each
# target is one process on one core, so this divides the wall time without
# shortening any target's own run.
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
case $jobs in
'' | *[!0-9]* | 0) echo "fuzz: FUZZ_JOBS must be a whole number >= 1, got '$jobs'" >&2; exit 1 ;;
esac

# The library sources the targets reach, compiled once with coverage.
sh "$src/fuzz/stubs.sh" "$src/src/http/handlers.h" >"$out/handler_stubs.c"
objs=""
stale=""
for f in $(cd "$src" && ls src/core/*.c src/num/*.c src/nn/*.c src/model/*.c src/codec/*.c) \
    src/http/routes.c; do
    o=$out/obj/$(echo "$f" | tr / _ | sed 's/\.c$/.o/')
    if [ ! -f "$o" ] || [ "$src/$f" -nt "$o" ]; then
        stale="$stale $src/$f $o"
    fi
    objs="$objs $o"
done
if [ -n "$stale" ]; then
    export cc flags
    # shellcheck disable=SC2016,SC2086
    printf '%s %s\n' $stale | xargs -P "$jobs" -n 2 sh -c '$cc $flags -fsanitize=fuzzer-no-link -c "$1" -o "$2"' sh
fi
# shellcheck disable=SC2086
$cc $flags -fsanitize=fuzzer-no-link -c "$out/handler_stubs.c" -o "$out/obj/handler_stubs.o"
objs="$objs $out/obj/handler_stubs.o"

# One target: build it, run it, and on a crash keep the input. Prints its
# result; returns 1 on a crash.
fuzz_one() {
    t=$1
    # shellcheck disable=SC2086
    $cc $flags -DFUZZ_LIBFUZZER -fsanitize=fuzzer "$src/fuzz/fuzz_$t.c" $objs $libs -o "$out/fuzz_$t" || return 1
    mkdir -p "$out/corpus/$t" "$out/crash/$t"
    echo "fuzz: $t for ${seconds}s"
    if ! "$out/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/crash/$t/" -print_final_stats=1 \
        "$out/corpus/$t" "$src/fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
        mkdir -p "$src/fuzz/regress/$t"
        for c in "$out/crash/$t"/*; do
            [ -f "$c" ] && cp "$c" "$src/fuzz/regress/$t/"
        done
        tail -40 "$out/$t.log" >&2
        echo "fuzz: $t FAILED; the input is in fuzz/regress/$t/" >&2
        return 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | awk '{ print $2 }')
    echo "fuzz: $t clean after ${runs:-?} runs in ${seconds}s"
}

status=0
# shellcheck disable=SC2086
set -- $targets
while [ $# -gt 0 ]; do
    pids=""
    n=0
    while [ $# -gt 0 ] && [ "$n" -lt "$jobs" ]; do
        fuzz_one "$1" &
        pids="$pids $!"
        n=$((n + 1))
        shift
    done
    for p in $pids; do
        wait "$p" || status=1
    done
done
exit $status
