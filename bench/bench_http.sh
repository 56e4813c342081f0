#!/bin/sh
# bench_http.sh: the trajectory endpoint under load, against a running daemon.
#
# Posts W1's single-trajectory request (bench_solve --print-request: the
# spiral model, y0 = (2, 0), 100 irregular times in [0, 25], dopri5 rtol 1e-6
# atol 1e-8) to /v1/models/spiral/trajectory with wrk. Two parts:
#   1. HTTP + JSON overhead at one connection: ROUNDS short wrk runs, each
#      followed by the same solve in-process (bench_solve --only w1_single
#      --model examples/spiral.json --reps 21: the daemon's model, not the
#      built-in W1; 21 runs of 20 ms, so that a burst of load on the host
#      shorter than ~0.2 s does not move the median);
#      the summary gives the median over rounds of (HTTP p50 / in-process
#      median - 1), robust to a machine whose load changes (alternation
#      exposes both to the same conditions);
#   2. throughput and latency at 1, 8 and 64 connections (DURATION each),
#      with the errors (connection errors and non-2xx replies).
#   3. with DAEMON_LOG set to the daemon's log file (and the daemon run with
#      --log-level debug): the server-side overhead of each request of part
#      1, its time in the daemon minus its solve's (same request, same
#      moment, so unaffected by the machine's load), and the median; and,
#      per round of part 1, the HTTP p50 over the p50 of the same requests'
#      solves as the daemon timed them (summary "http_vs_daemon_solve": the
#      client-side overhead with both sides measured at the same moment, so
#      far less sensitive to a changing load than part 1's alternation).
#   4. with DAEMON_PID set to the daemon's process id: the daemon's CPU time
#      (user + system, /proc/PID/stat) per request of each part 2 run
#      ("daemon_cpu_us_per_req"), robust to a loaded machine; against the
#      in-process solve's median_cpu_us it is the CPU each request costs
#      beyond its solve.
#   5. unless OVERHEAD_ROUNDS=0: issue 13's quantity, the one-connection
#      overhead of W1 over /healthz on W1's *own* model (parts 1-3 post W1's
#      request to the spiral demo model, 1730 NFE where W1's model takes
#      86): bench/http_overhead.sh, which starts daemons of its own from
#      the build tree, OVERHEAD_ROUNDS alternating rounds (default 3).
# REQUEST names another request body to post instead of W1's (part 1 still
# compares with W1's in-process solve; use parts 2 and 4).
# Prints one JSON line per measurement, then the summary lines. Run it on an
# otherwise idle machine: under contention, wrk's per-request p50 and the
# in-process median (of 20 ms runs) react differently to preemption.
#
# Usage, from the build tree, with a daemon serving the demo model (make run):
#   bench/bench_http.sh [BASE_URL]        (default http://127.0.0.1:8080)
# Environment: DURATION (part 2, wrk's -d, default 10s), CONNECTIONS (default
# "1 8 64"), ROUNDS (part 1, default 7), ROUND_DURATION (default 2s),
# DAEMON_LOG (part 3), DAEMON_PID (part 4), REQUEST, OVERHEAD_ROUNDS (part 5).
# Needs wrk (Debian: apt-get install wrk) and curl.
set -eu

url=${1:-http://127.0.0.1:8080}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-1 8 64}
rounds=${ROUNDS:-7}
round_duration=${ROUND_DURATION:-2s}
here=$(cd "$(dirname "$0")" && pwd)
solve=bench/bench_solve
[ -x "$solve" ] || solve="$here/bench_solve"

if ! command -v wrk >/dev/null 2>&1; then
    echo "bench_http: wrk is not installed; as root: apt-get install -y wrk" >&2
    exit 1
fi
if [ ! -x "$solve" ]; then
    echo "bench_http: $solve not found; run from the build tree after make" >&2
    exit 1
fi

req=$(mktemp)
out=$(mktemp)
trap 'rm -f "$req" "$out"' EXIT
if [ -n "${REQUEST:-}" ]; then cp "$REQUEST" "$req"; else "$solve" --print-request >"$req"; fi
endpoint="$url/v1/models/spiral/trajectory"
if ! curl -sf -H 'Content-Type: application/json' --data-binary @"$req" "$endpoint" >/dev/null; then
    echo "bench_http: POST $endpoint failed; is the daemon running with the spiral model (make run)?" >&2
    exit 1
fi

log_from=0
log_to=0
[ -n "${DAEMON_LOG:-}" ] && [ -r "$DAEMON_LOG" ] && log_from=$(wc -l <"$DAEMON_LOG")

# 1. The overhead at one connection: short wrk runs alternating with the
#    in-process solve, so a change in the machine's load hits both alike;
#    the median over the rounds of (HTTP p50 / in-process median).
ranges=$(mktemp)
trap 'rm -f "$req" "$out" "$ranges"' EXIT
for r in $(seq 1 "$rounds"); do
    [ -n "${DAEMON_LOG:-}" ] && [ -r "$DAEMON_LOG" ] && printf '%s %s' "$r" "$(wc -l <"$DAEMON_LOG")" >>"$ranges"
    W1_REQUEST=$req WRK_CONNECTIONS=1 wrk -t1 -c1 -d"$round_duration" \
        -s "$here/w1_trajectory.lua" "$endpoint" | grep '^{"bench"' | sed "s/^{/{\"round\": $r, /" |
        tee -a "$out"
    [ -n "${DAEMON_LOG:-}" ] && [ -r "$DAEMON_LOG" ] && printf ' %s\n' "$(wc -l <"$DAEMON_LOG")" >>"$ranges"
    "$solve" --only w1_single --model "$here/../examples/spiral.json" --reps 21 | sed "s/^{/{\"round\": $r, /" | tee -a "$out"
done

[ -n "${DAEMON_LOG:-}" ] && [ -r "$DAEMON_LOG" ] && log_to=$(wc -l <"$DAEMON_LOG")

# The daemon's own solve times of each round's requests (successful solves).
if [ -s "$ranges" ]; then
    while read -r r from to; do
        n=$(sed -n "$((from + 1)),${to}p" "$DAEMON_LOG" | grep ' event=trajectory_done ' | grep -c ' code=ok ' || true)
        [ "$n" -gt 0 ] || continue
        mid=$(( (n + 1) / 2 ))
        ms=$(sed -n "$((from + 1)),${to}p" "$DAEMON_LOG" | grep ' event=trajectory_done ' | grep ' code=ok ' |
            sed 's/.*elapsed_ms=\([0-9.]*\).*/\1/' | sort -g | sed -n "${mid}p")
        printf '{"round": %s, "daemon_solve": "w1_single", "p50_us": %.1f, "solves": %d}\n' "$r" "$(awk -v m="$ms" 'BEGIN { print m * 1000 }')" "$n" |
            tee -a "$out"
    done <"$ranges"
fi

# 2. Throughput at each connection count (wrk -d DURATION); 4. the
#    daemon's CPU per request.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
for c in $connections; do
    threads=$c
    [ "$threads" -gt 2 ] && threads=2
    [ -n "${DAEMON_PID:-}" ] && t0=$(cpu_ticks)
    line=$(W1_REQUEST=$req WRK_CONNECTIONS=$c wrk -t"$threads" -c"$c" -d"$duration" \
        -s "$here/w1_trajectory.lua" "$endpoint" | grep '^{"bench"')
    if [ -n "${DAEMON_PID:-}" ]; then
        t1=$(cpu_ticks)
        n=$(printf '%s\n' "$line" | sed 's/.*"requests": \([0-9]*\).*/\1/')
        line=$(printf '%s\n' "$line" | awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" \
            '{ sub(/}$/, sprintf(", \"daemon_cpu_us_per_req\": %.1f, \"load\": \"%s\"}", (b - a) / hz * 1e6 / n, load)); print }' \
            load="$(cut -d' ' -f1-3 /proc/loadavg)")
    fi
    printf '%s\n' "$line" | tee -a "$out"
done

awk '
    function num(key,    m) {
        if (!match($0, "\"" key "\": [0-9.]+")) return -1
        m = substr($0, RSTART, RLENGTH); sub(/.*: /, "", m); return m + 0
    }
    /"round"/ && /"http_w1_single"/ { p50[num("round")] = num("p50_us") }
    /"round"/ && /"bench": "w1_single"/ { solve[num("round")] = num("median_us") }
    /"round"/ && /"daemon_solve"/ { dsolve[num("round")] = num("p50_us") }
    !/"round"/ && /"http_w1_single"/ {
        c = num("connections"); rps[c] = num("requests_per_s")
        err[c] = num("errors") + num("non_2xx"); order[n++] = c
    }
    END {
        k = 0
        for (r in p50) if (r in solve && solve[r] > 0) ratio[k++] = p50[r] / solve[r]
        for (i = 0; i < k; i++) for (j = i + 1; j < k; j++)
            if (ratio[j] < ratio[i]) { t = ratio[i]; ratio[i] = ratio[j]; ratio[j] = t }
        m = 0
        for (r in p50) if (r in dsolve && dsolve[r] > 0) dratio[m++] = p50[r] / dsolve[r]
        for (i = 0; i < m; i++) for (j = i + 1; j < m; j++)
            if (dratio[j] < dratio[i]) { t = dratio[i]; dratio[i] = dratio[j]; dratio[j] = t }
        if (m > 0)
            printf "{\"summary\": \"http_vs_daemon_solve\", \"rounds\": %d, \"median_overhead_pct\": %.1f, \"min_overhead_pct\": %.1f, \"max_overhead_pct\": %.1f, \"target_pct\": 20}\n", m, (dratio[int((m - 1) / 2)] - 1) * 100, (dratio[0] - 1) * 100, (dratio[m - 1] - 1) * 100
        if (k > 0)
            printf "{\"summary\": \"http_overhead_1conn\", \"rounds\": %d, \"median_overhead_pct\": %.1f, \"min_overhead_pct\": %.1f, \"max_overhead_pct\": %.1f, \"target_pct\": 20}\n", k, (ratio[int((k - 1) / 2)] - 1) * 100, (ratio[0] - 1) * 100, (ratio[k - 1] - 1) * 100
        for (i = 0; i < n; i++) {
            c = order[i]
            printf "{\"summary\": \"scaling\", \"connections\": %d, \"requests_per_s\": %.1f, \"vs_1conn\": %.2f, \"errors\": %d}\n", c, rps[c], (order[0] in rps && rps[order[0]] > 0) ? rps[c] / rps[order[0]] : 0, err[c]
        }
    }' "$out"

if [ -n "${DAEMON_LOG:-}" ] && [ -r "$DAEMON_LOG" ]; then
    pairs=$(mktemp)
    awk '
        function val(key,    m) {
            if (!match($0, key "=[^ ]+")) return ""
            m = substr($0, RSTART, RLENGTH); sub(/^[^=]*=/, "", m); return m
        }
        / event=trajectory_done / { solve[val("request_id")] = val("elapsed_ms") + 0 }
        / event=request method=POST / { dur[val("request_id")] = val("duration_ms") + 0 }
        END { for (id in solve) if (id in dur) printf "%.6f %.6f\n", dur[id] - solve[id], solve[id] }
    ' <<EOF >"$pairs"
$(sed -n "$((log_from + 1)),${log_to}p" "$DAEMON_LOG")
EOF
    n=$(wc -l <"$pairs")
    if [ "$n" -gt 0 ]; then
        mid=$(( (n + 1) / 2 ))
        d=$(cut -d' ' -f1 "$pairs" | sort -g | sed -n "${mid}p")
        s=$(cut -d' ' -f2 "$pairs" | sort -g | sed -n "${mid}p")
        awk -v n="$n" -v d="$d" -v s="$s" 'BEGIN {
            printf "{\"summary\": \"server_side\", \"requests\": %d, \"p50_overhead_us\": %.1f, \"p50_solve_us\": %.1f, \"overhead_pct\": %.1f}\n", n, d * 1000, s * 1000, d / s * 100 }'
    fi
    rm -f "$pairs"
fi

# 5. The overhead on W1's own model (its own daemons; docs/benchmarks.md).
overhead_rounds=${OVERHEAD_ROUNDS:-3}
if [ "$overhead_rounds" -gt 0 ]; then
    BUILD=${BUILD:-$(pwd)} ROUNDS=$overhead_rounds ROUND_DURATION=$round_duration "$here/http_overhead.sh"
fi
