#!/bin/sh
# http_overhead.sh: issue 13's single-connection overhead of a W1 request
# over /healthz, measured on W1's own model.
#
# Starts three daemons of its own (the build tree's src/odeserved, loopback,
# a free port, a temporary database, --auth off), all seeded with W1's
# model (bench_solve --print-model, served as "w1"): A at --log-level warn
# for the latencies, B at --log-level debug for the daemon's own account of
# each request ("request_stages" lines), C for CPU time (below). Then
# ROUNDS alternating rounds, each on one connection (wrk -t1 -c1,
# ROUND_DURATION each):
#   1. GET /healthz on A: its p50 (loopback TCP, libmicrohttpd, a tiny reply);
#   2. W1's request (bench_solve --print-request) on A: its p50;
#   3. the same solve in-process (bench_solve --only w1_single --model
#      W1.json --reps 21): median wall and CPU microseconds;
#   4. /healthz, then W1's request, on B: medians over each run's requests
#      of the stages the daemon logs (read, before_solve, solve,
#      after_solve, send, total, and overhead = its time minus the solve
#      calls; docs/operations.md, "Request stages").
# One JSON line per round: "overhead_us" = p50(W1) - p50(/healthz) -
# in-process solve (the issue's quantity, target 8); the daemon's side of
# it, "daemon_excess_us" = W1's daemon overhead ("daemon_overhead_us") -
# /healthz's time in the daemon ("daemon_healthz_us"), and the stages, of
# which "daemon_work_us" = read + before_solve + after_solve (the body, the
# parse and decode, the reply: the steadiest of them, where the send moves
# with the client's wake-up); the
# load average; then the medians over the rounds. The remainder of
# overhead_us is the client's (wrk sends 1.9 KB more and reads 5.9 KB
# more) and the kernel's loopback copies outside the daemon's clock.
# And the same in CPU time, which a shared machine moves far less than
# latencies: daemon C (warn, --keepalive-poll 0, so that no spin
# between requests is counted) serves /healthz and W1 on one connection
# while its threads' CPU time is read from /proc (schedstat);
# "cpu_overhead_us" = its CPU per W1 request - per /healthz request - the
# in-process solve's CPU ("cpu_w1_us", "cpu_healthz_us", "solve_cpu_us").
# Alternation exposes the parts to the same load; on a shared machine the
# daemon-side and CPU figures move less than the client-side ones.
# And once more with the client and a daemon D (warn) on one CPU (taskset;
# skipped without it, or with one CPU): "pinned_overhead_us" is the same
# difference with no wake-up of another CPU in it. On a VM whose idle CPUs
# halt (cpuidle haltpoll with no poll time), the client's CPU halts during
# the solve and the reply's send pays for waking it, which /healthz, back
# sooner, pays less for: there "overhead_us" is mostly that wake-up
# (docs/benchmarks.md, "One connection on a VM"), and the pinned figure is
# the daemon's and the client's own work.
#
# Usage, from the build tree (make builds both programs):
#   bench/http_overhead.sh
# Environment: ROUNDS (default 5), ROUND_DURATION (default 2s), BUILD (the
# build tree, default this script's parent: BUILD=another tree measures its
# daemon; one without request_stages gives 0 for those fields),
# ODESERVED_ARGS (added to every daemon's settings). Needs wrk, curl and python3 (a free port).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top}
rounds=${ROUNDS:-5}
round_duration=${ROUND_DURATION:-2s}
solve=$build/bench/bench_solve
lua=$top/bench/w1_trajectory.lua
for tool in wrk curl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "http_overhead: $tool is not installed" >&2; exit 1; }
done
[ -x "$solve" ] && [ -x "$build/src/odeserved" ] ||
    { echo "http_overhead: run make first ($solve, $build/src/odeserved)" >&2; exit 1; }

dir=$(mktemp -d)
. "$top/bench/w1_daemon.sh"
w1_cleanup
w1_files

w1_start a warn
port_a=$port
w1_start b debug
port_b=$port
ODESERVED_ARGS="${ODESERVED_ARGS:-} --keepalive-poll 0" w1_start c warn
port_c=$port
pid_c=$w1_pid
pin=
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt 1 ]; then
    pin="taskset -c 0"
    # D: every thread on CPU 0, as the client will be
    w1_start d warn
    port_d=$port
    taskset -a -p -c 0 "$w1_pid" >/dev/null
fi

# wrk one connection, printing its JSON line
one_conn() { WRK_CONNECTIONS=1 wrk -t1 -c1 -d"$round_duration" -s "$lua" "$1" | grep '^{"bench"'; }
# the same on CPU 0, with daemon D
pinned_conn() { WRK_CONNECTIONS=1 $pin wrk -t1 -c1 -d"$round_duration" -s "$lua" "$1" | grep '^{"bench"'; }
# daemon C's CPU time so far, ns (all its threads)
cpu_ns() { cat /proc/"$pid_c"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# CPU microseconds of daemon C per request of a one-connection run of URL
cpu_per_req() {
    c0=$(cpu_ns)
    n=$(one_conn "$1" | num requests)
    awk -v a="$c0" -v b="$(cpu_ns)" -v n="$n" 'BEGIN { printf "%.2f\n", (n > 0) ? (b - a) / n / 1e3 : 0 }'
}

out=$dir/rounds
: >"$out"
for r in $(seq 1 "$rounds"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    h=$(WRK_BENCH=healthz one_conn "http://127.0.0.1:$port_a/healthz" | num p50_us)
    w=$(W1_REQUEST=$dir/req.json one_conn "http://127.0.0.1:$port_a/v1/models/w1/trajectory")
    s=$("$solve" --only w1_single --model "$dir/w1.json" --reps 21)
    ph=0 pw=0
    if [ -n "$pin" ]; then
        ph=$(WRK_BENCH=healthz pinned_conn "http://127.0.0.1:$port_d/healthz" | num p50_us)
        pw=$(W1_REQUEST=$dir/req.json pinned_conn "http://127.0.0.1:$port_d/v1/models/w1/trajectory" | num p50_us)
    fi
    ch=$(WRK_BENCH=healthz cpu_per_req "http://127.0.0.1:$port_c/healthz")
    cw=$(W1_REQUEST=$dir/req.json cpu_per_req "http://127.0.0.1:$port_c/v1/models/w1/trajectory")
    from=$(wc -l <"$dir/b.log")
    WRK_BENCH=healthz one_conn "http://127.0.0.1:$port_b/healthz" >/dev/null
    sed -n "$((from + 1)),\$p" "$dir/b.log" | grep ' event=request_stages ' >"$dir/stages" || true
    dh=$(sed -n 's/.* total_us=\([-0-9.]*\).*/\1/p' "$dir/stages" | median)
    from=$(wc -l <"$dir/b.log")
    W1_REQUEST=$dir/req.json one_conn "http://127.0.0.1:$port_b/v1/models/w1/trajectory" >/dev/null
    sed -n "$((from + 1)),\$p" "$dir/b.log" | grep ' event=request_stages ' >"$dir/stages" || true
    stage() { sed -n "s/.* $1_us=\([-0-9.]*\).*/\1/p" "$dir/stages" | median; }
    # the round's line: the p50s, the solve, the daemon's stages, CPU
    printf '{"round": %d, "healthz_p50_us": %s, "w1_p50_us": %s, "solve_us": %s, "solve_cpu_us": %s, "overhead_us": %.1f, "daemon_overhead_us": %s, "daemon_healthz_us": %s, "daemon_excess_us": %.2f, "daemon_read_us": %s, "daemon_before_solve_us": %s, "daemon_solve_us": %s, "daemon_after_solve_us": %s, "daemon_send_us": %s, "daemon_work_us": %.2f, "daemon_requests": %d, "w1_errors": %d, "cpu_healthz_us": %s, "cpu_w1_us": %s, "cpu_overhead_us": %.2f, "pinned_healthz_p50_us": %s, "pinned_w1_p50_us": %s, "pinned_overhead_us": %.1f, "load": "%s"}\n' \
        "$r" "$h" "$(printf '%s\n' "$w" | num p50_us)" "$(printf '%s\n' "$s" | num median_us)" \
        "$(printf '%s\n' "$s" | num median_cpu_us)" \
        "$(awk -v w="$(printf '%s\n' "$w" | num p50_us)" -v h="$h" -v s="$(printf '%s\n' "$s" | num median_us)" 'BEGIN { print w - h - s }')" \
        "$(stage overhead)" "$dh" "$(awk -v o="$(stage overhead)" -v h="$dh" 'BEGIN { print o - h }')" "$(stage read)" "$(stage before_solve)" "$(stage solve)" \
        "$(stage after_solve)" "$(stage send)" \
        "$(awk -v a="$(stage read)" -v b="$(stage before_solve)" -v c="$(stage after_solve)" 'BEGIN { print a + b + c }')" \
        "$(wc -l <"$dir/stages")" \
        "$(printf '%s\n' "$w" | awk '{ e = 0; if (match($0, /"errors": [0-9]+/)) e += substr($0, RSTART + 10, RLENGTH - 10); if (match($0, /"non_2xx": [0-9]+/)) e += substr($0, RSTART + 11, RLENGTH - 11); print e }')" \
        "$ch" "$cw" "$(awk -v w="$cw" -v h="$ch" -v s="$(printf '%s\n' "$s" | num median_cpu_us)" 'BEGIN { print w - h - s }')" \
        "$ph" "$pw" "$(awk -v w="$pw" -v h="$ph" -v s="$(printf '%s\n' "$s" | num median_us)" 'BEGIN { print (w > 0) ? w - h - s : 0 }')" \
        "$load" | tee -a "$out"
done
printf '{"summary": "http_overhead_w1_model", "rounds": %d, "median_overhead_us": %s, "median_daemon_overhead_us": %s, "median_daemon_excess_us": %s, "median_daemon_work_us": %s, "median_healthz_p50_us": %s, "median_w1_p50_us": %s, "median_solve_us": %s, "median_cpu_overhead_us": %s, "median_pinned_overhead_us": %s, "target_us": 8}\n' \
    "$rounds" "$(num overhead_us <"$out" | median)" "$(num daemon_overhead_us <"$out" | median)" "$(num daemon_excess_us <"$out" | median)" "$(num daemon_work_us <"$out" | median)" \
    "$(num healthz_p50_us <"$out" | median)" "$(num w1_p50_us <"$out" | median)" \
    "$(num solve_us <"$out" | median)" "$(num cpu_overhead_us <"$out" | median)" "$(num pinned_overhead_us <"$out" | median)"
