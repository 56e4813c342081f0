#!/bin/sh
# bench_http.sh: the trajectory endpoint under load, against a running daemon.
#
# Posts W1's single-trajectory request (bench_solve --print-request: the
# spiral model, y0 = (2, 0), 100 irregular times in [0, 25], dopri5 rtol 1e-6
# atol 1e-8) to /v1/models/spiral/trajectory with wrk at 1, 8 and 64
# connections, then runs the same solve in-process (bench_solve --only
# w1_single --model examples/spiral.json: the daemon's spiral, not the
# built-in untrained W1) for comparison. Prints one JSON line per measurement and a
# summary: the HTTP + JSON overhead at one connection (p50 over the
# in-process median) and the throughput scaling.
#
# Usage, from the build tree, with a daemon serving the demo model (make run):
#   bench/bench_http.sh [BASE_URL]        (default http://127.0.0.1:8080)
# Environment: DURATION (wrk's -d, default 10s), CONNECTIONS (default "1 8 64").
# Needs wrk (Debian: apt-get install wrk) and curl.
set -eu

url=${1:-http://127.0.0.1:8080}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-1 8 64}
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
"$solve" --print-request >"$req"
endpoint="$url/v1/models/spiral/trajectory"
if ! curl -sf -H 'Content-Type: application/json' --data-binary @"$req" "$endpoint" >/dev/null; then
    echo "bench_http: POST $endpoint failed; is the daemon running with the spiral model (make run)?" >&2
    exit 1
fi

for c in $connections; do
    threads=$c
    [ "$threads" -gt 2 ] && threads=2
    W1_REQUEST=$req WRK_CONNECTIONS=$c wrk -t"$threads" -c"$c" -d"$duration" \
        -s "$here/w1_trajectory.lua" "$endpoint" | grep '^{"bench"' | tee -a "$out"
done
"$solve" --only w1_single --model "$here/../examples/spiral.json" | tee -a "$out"

# Summary: HTTP p50 at one connection against the in-process median; req/s
# at each connection count against one connection.
awk '
    /"bench": "http_w1_single"/ {
        match($0, /"connections": [0-9]+/); c = substr($0, RSTART + 15, RLENGTH - 15) + 0
        match($0, /"requests_per_s": [0-9.]+/); rps[c] = substr($0, RSTART + 18, RLENGTH - 18) + 0
        match($0, /"p50_us": [0-9.]+/); p50[c] = substr($0, RSTART + 10, RLENGTH - 10) + 0
        match($0, /"errors": [0-9]+/); err[c] = substr($0, RSTART + 10, RLENGTH - 10) + 0
        match($0, /"non_2xx": [0-9]+/); err[c] += substr($0, RSTART + 11, RLENGTH - 11) + 0
        order[n++] = c
    }
    /"bench": "w1_single"/ {
        match($0, /"median_us": [0-9.]+/); solve = substr($0, RSTART + 13, RLENGTH - 13) + 0
    }
    END {
        if (solve > 0 && (1 in p50))
            printf "{\"summary\": \"http_overhead_1conn\", \"solve_median_us\": %.1f, \"http_p50_us\": %.1f, \"overhead_pct\": %.1f}\n", solve, p50[1], (p50[1] / solve - 1) * 100
        for (i = 0; i < n; i++) {
            c = order[i]
            if (1 in rps && rps[1] > 0)
                printf "{\"summary\": \"scaling\", \"connections\": %d, \"requests_per_s\": %.1f, \"vs_1conn\": %.2f, \"errors\": %d}\n", c, rps[c], rps[c] / rps[1], err[c]
        }
    }' "$out"
