#!/bin/bash
# http_ceiling.sh: how many W1 requests per second this machine can answer
# over HTTP at all, with the load generator on the same cores, measured
# rather than assumed (issue 13 item 2's target is a rate; this is its bound).
#
# Against a running daemon, wrk at CONNECTIONS (default 64) connections
# posts, in turn, (a) nothing: GET /healthz, the cheapest request the
# daemon answers (loopback TCP, libmicrohttpd, a 15-byte reply), and (b)
# the W1-sized trajectory request (REQUEST, default
# bench/http_small_request.json). For each it reads the CPU time per request
# of the daemon (/proc/DAEMON_PID/stat) and of wrk (bash's `times` of its
# child), so the figures do not depend on the CPU share either gets on a
# loaded machine. Then, with NCPU cores (default: online CPUs):
#   ceiling_w1        = NCPU / (daemon + wrk CPU per W1 request):
#                       the rate at full use of every core, as served now;
#   ceiling_ideal     = NCPU / (healthz daemon + healthz wrk + the solve):
#                       a server whose every cost beyond the solve were that
#                       of /healthz (no JSON, no copies), same client;
#   solve_bound       = NCPU / W1's solve (bench_solve --only w1_single, the
#                       request bench/http_small_request.json is sized like):
#                       the issue's "solve-bound limit".
# Prints one JSON line per run and a summary line.
#
# Usage, from the build tree, with a daemon serving the demo model:
#   DAEMON_PID=$(pgrep -n odeserved) bench/http_ceiling.sh [BASE_URL]
set -eu

url=${1:-http://127.0.0.1:8080}
conns=${CONNECTIONS:-64}
duration=${DURATION:-5}
ncpu=${NCPU:-$(getconf _NPROCESSORS_ONLN)}
here=$(cd "$(dirname "$0")" && pwd)
request=${REQUEST:-$here/http_small_request.json}
solve=bench/bench_solve
[ -x "$solve" ] || solve="$here/bench_solve"
: "${DAEMON_PID:?set DAEMON_PID to the process id of the daemon}"
command -v wrk >/dev/null || { echo "http_ceiling: wrk is not installed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
threads=$conns
[ "$threads" -gt 2 ] && threads=2

# cu = user + system seconds of this shell's finished children (wrk), from
# `times` run in this shell itself (in a subshell it would count none)
children_cpu() {
    times >"$tmp/times"
    cu=$(awk 'NR == 2 {
        split($1, u, "m"); split($2, s, "m"); sub(/s/, "", u[2]); sub(/s/, "", s[2]);
        printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$tmp/times")
}

# run NAME LUA-OR-EMPTY PATH: one wrk run; sets rps, d_us, w_us
run() {
    local name=$1 script=$2 path=$3 t0 t1 n
    t0=$(cpu_ticks)
    if [ -n "$script" ]; then
        W1_REQUEST=$request WRK_CONNECTIONS=$conns wrk -t"$threads" -c"$conns" -d"${duration}s" \
            -s "$script" "$url$path" >"$tmp/out"
    else
        wrk -t"$threads" -c"$conns" -d"${duration}s" "$url$path" >"$tmp/out"
    fi
    t1=$(cpu_ticks)
    children_cpu
    if [ -n "$script" ]; then
        n=$(grep -o '"requests": [0-9]*' "$tmp/out" | awk '{ print $2 }')
    else
        n=$(awk '/requests in/ { print $1 }' "$tmp/out")
    fi
    rps=$(awk -v n="$n" -v d="$duration" 'BEGIN { printf "%.0f", n / d }')
    d_us=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / hz * 1e6 / n }')
    w_us=$(awk -v a="$wrk_cpu" -v b="$cu" -v n="$n" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
    wrk_cpu=$cu
    printf '{"bench": "http_ceiling", "request": "%s", "connections": %s, "requests_per_s": %s, "daemon_cpu_us_per_req": %s, "wrk_cpu_us_per_req": %s, "load": "%s"}\n' \
        "$name" "$conns" "$rps" "$d_us" "$w_us" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

children_cpu
wrk_cpu=$cu
run healthz "" /healthz
h_d=$d_us h_w=$w_us
run w1 "$here/w1_trajectory.lua" /v1/models/spiral/trajectory
w_d=$d_us w_w=$w_us w_rps=$rps
solve_us=$("$solve" --only w1_single --reps 21 |
    grep -o '"median_cpu_us": [0-9.]*' | head -1 | awk '{ print $2 }')
awk -v n="$ncpu" -v hd="$h_d" -v hw="$h_w" -v wd="$w_d" -v ww="$w_w" -v s="$solve_us" -v r="$w_rps" 'BEGIN {
    printf "{\"summary\": \"http_ceiling\", \"ncpu\": %d, \"solve_cpu_us\": %.1f, \"w1_requests_per_s\": %s, " \
           "\"ceiling_w1\": %.0f, \"ceiling_ideal\": %.0f, \"solve_bound\": %.0f}\n",
           n, s, r, n * 1e6 / (wd + ww), n * 1e6 / (hd + hw + s), n * 1e6 / s }'
