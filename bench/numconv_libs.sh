#!/bin/sh
# numconv_libs.sh: W1's request and reply, their numbers converted by
# odeserve's codec (bench/bench_codec) and by the fastest libraries on this
# machine (bench/numconv_libs.cc: libstdc++'s to_chars / from_chars, fmt),
# ROUNDS alternating rounds, then the number conversions' share of issue 13's
# one-connection overhead: the reply's numbers written plus the request's
# read, at the fastest rate measured for each (docs/benchmarks.md, "The
# numbers' share of the one-connection overhead").
#
# Starts a daemon of its own (the build tree's src/odeserved, loopback, a
# free port, a temporary database, --auth off) serving W1's model, to take
# W1's reply as the daemon writes it; builds numconv_libs.cc with ${CXX:-g++}
# in a temporary folder (needs libfmt-dev; bootstrap installs it).
# Usage, from the build tree after make: bench/numconv_libs.sh
# Environment: ROUNDS (default 3), BUILD (the build tree, default this
# script's parent), CXX.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top}
rounds=${ROUNDS:-3}
cxx=${CXX:-g++}
for p in "$build/bench/bench_solve" "$build/bench/bench_codec" "$build/src/odeserved"; do
    [ -x "$p" ] || { echo "numconv_libs: run make first ($p)" >&2; exit 1; }
done
command -v "$cxx" >/dev/null 2>&1 || { echo "numconv_libs: no C++ compiler ($cxx)" >&2; exit 1; }
command -v curl >/dev/null 2>&1 || { echo "numconv_libs: curl is not installed" >&2; exit 1; }

dir=$(mktemp -d)
. "$top/bench/w1_daemon.sh"
w1_cleanup

"$cxx" -O2 -std=c++17 -o "$dir/numconv_libs" "$top/bench/numconv_libs.cc" -lfmt ||
    { echo "numconv_libs: the build failed (apt-get install g++ libfmt-dev)" >&2; exit 1; }
w1_files
w1_start d warn
cp "$dir/d.reply" "$dir/reply.json"
w1_stop_all
: >"$dir/rounds"
r=1
while [ "$r" -le "$rounds" ]; do
    # odeserve's reader on the request, its writer on the reply's doubles
    ours_read=$("$build/bench/bench_codec" --reps 7 "$dir/req.json" |
        grep '"codec_numbers"' | num codec_strtod_ns)
    reply_line=$("$build/bench/bench_codec" --reps 7 --reply "$dir/reply.json" | grep '"codec_reply"')
    ours_write=$(echo "$reply_line" | num codec_num_write_ns)
    libs_read=$("$dir/numconv_libs" --reps 7 "$dir/req.json")
    libs_write=$("$dir/numconv_libs" --reps 7 "$dir/reply.json")
    n_read=$(echo "$libs_read" | num numbers)
    # the reply's doubles (its few integers, "version" and the step counts,
    # are not written as doubles; the libraries' figure includes them)
    n_write=$(echo "$reply_line" | num numbers)
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    line=$(printf '{"round": %d, "request_numbers": %s, "reply_numbers": %s, "odeserve_read_ns": %s, "from_chars_ns": %s, "strtod_ns": %s, "odeserve_write_ns": %s, "to_chars_ns": %s, "fmt_ns": %s, "load": "%s"}' \
        "$r" "$n_read" "$n_write" "$ours_read" "$(echo "$libs_read" | num from_chars_ns)" \
        "$(echo "$libs_read" | num strtod_ns)" "$ours_write" \
        "$(echo "$libs_write" | num to_chars_ns)" "$(echo "$libs_write" | num fmt_ns)" "$load")
    echo "$line"
    echo "$line" >>"$dir/rounds"
    r=$((r + 1))
done
med() { num "$1" <"$dir/rounds" | median; }
best_read=$(printf '%s\n%s\n' "$(med odeserve_read_ns)" "$(med from_chars_ns)" | sort -g | head -1)
best_write=$(printf '%s\n%s\n%s\n' "$(med odeserve_write_ns)" "$(med to_chars_ns)" "$(med fmt_ns)" |
    sort -g | head -1)
awk -v nr="$n_read" -v nw="$n_write" -v br="$best_read" -v bw="$best_write" \
    -v or="$(med odeserve_read_ns)" -v ow="$(med odeserve_write_ns)" \
    -v fc="$(med from_chars_ns)" -v tc="$(med to_chars_ns)" -v fm="$(med fmt_ns)" 'BEGIN {
    printf "{\"summary\": \"numconv_libs\", \"rounds\": %d, \"odeserve_read_ns\": %s, \"from_chars_ns\": %s, \"odeserve_write_ns\": %s, \"to_chars_ns\": %s, \"fmt_ns\": %s, \"numbers_us_at_best\": %.2f, \"target_us\": 8}\n", '"$rounds"', or, fc, ow, tc, fm, (nr * br + nw * bw) / 1000
}'
