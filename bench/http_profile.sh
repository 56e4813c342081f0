#!/bin/sh
# http_profile.sh: where the daemon's CPU goes under load, by stage.
#
# Loads a running daemon with W1's trajectory request (or REQUEST) at
# CONNECTIONS connections (default 64) with wrk, records the daemon with
# `perf record` for SECONDS (default 4) in the middle of the run, and sorts
# the samples by symbol into stages: the solve (MLP, Runge-Kutta steps,
# dense output), JSON (parse, decode, encode the reply), malloc/free, libc
# copies and syscall wrappers, libmicrohttpd, the kernel (TCP over loopback,
# poll, scheduling: the cross-thread wake-ups show up here) and the rest.
# Prints the wrk line and one JSON line per stage with its share of the
# daemon's samples. docs/benchmarks.md has the current breakdown.
#
# Usage, from the build tree, with a daemon serving the demo model:
#   DAEMON_PID=$(pgrep -n odeserved) bench/http_profile.sh [BASE_URL]
# Needs wrk and perf (Debian: linux-perf), and permission to trace the
# daemon (root, or kernel.perf_event_paranoid <= 1).
set -eu

url=${1:-http://127.0.0.1:8080}
conns=${CONNECTIONS:-64}
seconds=${SECONDS_RECORDED:-4}
here=$(cd "$(dirname "$0")" && pwd)
solve=bench/bench_solve
[ -x "$solve" ] || solve="$here/bench_solve"
: "${DAEMON_PID:?set DAEMON_PID to the daemon's process id}"
for tool in wrk perf; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "http_profile: $tool is not installed" >&2
        exit 1
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${REQUEST:-}" ]; then cp "$REQUEST" "$tmp/req"; else "$solve" --print-request >"$tmp/req"; fi
endpoint="$url/v1/models/spiral/trajectory"
threads=$conns
[ "$threads" -gt 2 ] && threads=2
W1_REQUEST=$tmp/req WRK_CONNECTIONS=$conns wrk -t"$threads" -c"$conns" -d"$((seconds + 3))s" \
    -s "$here/w1_trajectory.lua" "$endpoint" >"$tmp/wrk" &
wrk_pid=$!
sleep 1
perf record -q -F 1999 -p "$DAEMON_PID" -o "$tmp/perf.data" -- sleep "$seconds" >/dev/null 2>&1
wait "$wrk_pid"
grep '^{"bench"' "$tmp/wrk"
perf report -i "$tmp/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | awk '
    /^ *[0-9.]+%/ {
        p = $1; sub(/%/, "", p); dso = $2; kind = $3; sym = $4
        if (kind == "[k]") s = "kernel: TCP, poll, scheduling"
        else if (sym ~ /vmath_|matvec|forward_tape|linear_forward|act_apply|^rk_|^ode_|stage_arg|dense|^num_|pow/) s = "solve"
        else if (dso ~ /jansson/ || sym ~ /render|codec_|parse_|json_|jbuf|strtod|lex_|hashtable|utf8|msort|cmp_tpair/) s = "JSON: parse, decode, encode"
        else if (sym ~ /malloc|_int_|free|unlink_chunk|consolidate|calloc|realloc|tcache/) s = "malloc/free"
        else if (dso ~ /microhttpd/) s = "libmicrohttpd"
        else if (dso ~ /libc/) s = "libc: copies, syscall wrappers, printf"
        else s = "other"
        share[s] += p
    }
    END { for (s in share) printf "%.1f\t{\"stage\": \"%s\", \"share_pct\": %.1f}\n", share[s], s, share[s] }' |
    sort -rn | cut -f2
