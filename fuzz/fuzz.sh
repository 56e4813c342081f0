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
# script fails. Environment: FUZZ_SECONDS, FUZZ_TARGETS (default all), CC
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

# The library sources the targets reach, compiled once with coverage.
sh "$src/fuzz/stubs.sh" "$src/src/http/handlers.h" >"$out/handler_stubs.c"
objs=""
for f in $(cd "$src" && ls src/core/*.c src/num/*.c src/nn/*.c src/model/*.c src/codec/*.c) \
    src/http/routes.c; do
    o=$out/obj/$(echo "$f" | tr / _ | sed 's/\.c$/.o/')
    if [ ! -f "$o" ] || [ "$src/$f" -nt "$o" ]; then
        # shellcheck disable=SC2086
        $cc $flags -fsanitize=fuzzer-no-link -c "$src/$f" -o "$o"
    fi
    objs="$objs $o"
done
# shellcheck disable=SC2086
$cc $flags -fsanitize=fuzzer-no-link -c "$out/handler_stubs.c" -o "$out/obj/handler_stubs.o"
objs="$objs $out/obj/handler_stubs.o"

status=0
for t in $targets; do
    # shellcheck disable=SC2086
    $cc $flags -DFUZZ_LIBFUZZER -fsanitize=fuzzer "$src/fuzz/fuzz_$t.c" $objs $libs -o "$out/fuzz_$t"
    mkdir -p "$out/corpus/$t" "$out/crash/$t"
    echo "fuzz: $t for ${seconds}s"
    if ! "$out/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/crash/$t/" -print_final_stats=1 \
        "$out/corpus/$t" "$src/fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
        status=1
        mkdir -p "$src/fuzz/regress/$t"
        for c in "$out/crash/$t"/*; do
            [ -f "$c" ] && cp "$c" "$src/fuzz/regress/$t/"
        done
        tail -40 "$out/$t.log" >&2
        echo "fuzz: $t FAILED; the input is in fuzz/regress/$t/" >&2
    else
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | awk '{ print $2 }')
        echo "fuzz: $t clean after ${runs:-?} runs in ${seconds}s"
    fi
done
exit $status
