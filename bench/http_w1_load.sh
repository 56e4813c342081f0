#!/bin/sh
# http_w1_load.sh: issue 13 item 2's rate, W1 requests at 64 connections on
# W1's own model, with the load generator on the same cores.
#
# Starts a daemon of its own (bench/w1_daemon.sh: the build tree's
# src/odeserved, loopback, a free port, a temporary database, --auth off,
# default settings otherwise; ODESERVED_ARGS adds some) seeded with W1's model
# and, ROUNDS times, posts W1's request (bench_solve --print-request) to
# /v1/models/w1/trajectory with wrk at CONNECTIONS connections, once per
# client thread count in WRK_THREADS (default "1 2": the second client thread
# is one more sleeper for the daemon's replies to wake; docs/benchmarks.md,
# "The Zen 5 again"), then runs W1's solve in-process (bench_solve --only
# w1_single). One JSON line per run: requests per second, p50 / p99 and
# their ratio, errors and non-2xx, and the CPU per request of the daemon
# (all its threads, /proc schedstat) and of wrk (its user and system time,
# getrusage of the python3 that runs it), against the CPU per request that
# the target rate on NCPU cores allows. Then a summary per thread
# count (medians over the rounds).
#
# Usage, from the build tree after make: bench/http_w1_load.sh
# Environment: ROUNDS (default 4), DURATION (wrk -d, default 5s),
# CONNECTIONS (64), WRK_THREADS ("1 2"), TARGET (req/s, 25000), NCPU (online
# CPUs), BUILD (the build tree, default this script's parent),
# ODESERVED_ARGS. Needs wrk, curl and python3 (a free port).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top}
rounds=${ROUNDS:-4}
duration=${DURATION:-5s}
conns=${CONNECTIONS:-64}
threads_list=${WRK_THREADS:-1 2}
target=${TARGET:-25000}
ncpu=${NCPU:-$(getconf _NPROCESSORS_ONLN)}
lua=$top/bench/w1_trajectory.lua
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "http_w1_load: $tool is not installed" >&2; exit 1; }
done
[ -x "$build/bench/bench_solve" ] && [ -x "$build/src/odeserved" ] ||
    { echo "http_w1_load: run make first ($build/bench/bench_solve, $build/src/odeserved)" >&2; exit 1; }

dir=$(mktemp -d)
. "$top/bench/w1_daemon.sh"
w1_cleanup
w1_files
w1_start a warn
pid=$w1_pid
url="http://127.0.0.1:$port/v1/models/w1/trajectory"

# the daemon's CPU so far, ns (all its threads)
cpu_ns() { cat /proc/"$pid"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# wrk at T threads; prints its JSON line, then its CPU seconds (user +
# system of the reaped child, read by the python3 parent that ran it)
run_wrk() {
    W1_REQUEST=$dir/req.json WRK_CONNECTIONS=$conns python3 -c '
import os, resource, subprocess, sys
out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, check=True).stdout.decode()
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write([l for l in out.splitlines() if l.startswith("{\"bench\"")][0] + "\n")
print(r.ru_utime + r.ru_stime)
' wrk -t"$1" -c"$conns" -d"$duration" -s "$lua" "$url"
}

out=$dir/rounds
: >"$out"
for r in $(seq 1 "$rounds"); do
    for t in $threads_list; do
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        c0=$(cpu_ns)
        res=$(run_wrk "$t")
        c1=$(cpu_ns)
        line=$(printf '%s\n' "$res" | head -1)
        wrk_s=$(printf '%s\n' "$res" | tail -1)
        n=$(printf '%s\n' "$line" | num requests)
        p50=$(printf '%s\n' "$line" | num p50_us)
        p99=$(printf '%s\n' "$line" | num p99_us)
        printf '{"round": %d, "wrk_threads": %s, "connections": %s, "requests_per_s": %s, "p50_us": %s, "p99_us": %s, "p99_over_p50": %.2f, "errors": %s, "non_2xx": %s, "daemon_cpu_us": %.1f, "wrk_cpu_us": %.1f, "cpu_us_allowed": %.1f, "load": "%s"}\n' \
            "$r" "$t" "$conns" "$(printf '%s\n' "$line" | num requests_per_s)" "$p50" "$p99" \
            "$(awk -v a="$p99" -v b="$p50" 'BEGIN { print (b > 0) ? a / b : 0 }')" \
            "$(printf '%s\n' "$line" | num errors)" "$(printf '%s\n' "$line" | num non_2xx)" \
            "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { print (n > 0) ? (b - a) / n / 1e3 : 0 }')" \
            "$(awk -v s="$wrk_s" -v n="$n" 'BEGIN { print (n > 0) ? s * 1e6 / n : 0 }')" \
            "$(awk -v c="$ncpu" -v x="$target" 'BEGIN { print c * 1e6 / x }')" "$load" | tee -a "$out"
    done
    s=$("$build/bench/bench_solve" --only w1_single --model "$dir/w1.json" --reps 21)
    printf '{"round": %d, "solve_cpu_us": %s}\n' "$r" "$(printf '%s\n' "$s" | num median_cpu_us)" |
        tee -a "$out"
done
for t in $threads_list; do
    grep "\"wrk_threads\": $t," "$out" >"$dir/t" || true
    printf '{"summary": "http_w1_load", "wrk_threads": %s, "rounds": %d, "median_requests_per_s": %s, "min_requests_per_s": %s, "max_requests_per_s": %s, "median_p99_over_p50": %s, "median_daemon_cpu_us": %s, "median_wrk_cpu_us": %s, "median_solve_cpu_us": %s, "target_requests_per_s": %s}\n' \
        "$t" "$rounds" "$(num requests_per_s <"$dir/t" | median)" \
        "$(num requests_per_s <"$dir/t" | sort -g | head -1)" \
        "$(num requests_per_s <"$dir/t" | sort -g | tail -1)" \
        "$(num p99_over_p50 <"$dir/t" | median)" "$(num daemon_cpu_us <"$dir/t" | median)" \
        "$(num wrk_cpu_us <"$dir/t" | median)" "$(num solve_cpu_us <"$out" | median)" "$target"
done
