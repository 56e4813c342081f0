#!/bin/sh
# http_cpu.sh: what one request costs the daemon under load, in CPU time and
# kernel events, robust to a machine shared with other work.
#
# Against a running daemon, wrk posts the W1-sized trajectory request
# (REQUEST, default bench/http_small_request.json) at CONNECTIONS (default
# 64) for DURATION seconds (default 5) while `perf stat` counts, on the
# daemon only: task-clock (its CPU time), context switches, and the
# futex, poll, recvfrom, sendmsg and write system calls. Each divided by the
# requests wrk completed: CPU per request does not depend on the share of
# the cores the daemon got, where requests per second do. ROUNDS (default
# 3) runs; one JSON line each, with the load average, then the median.
#
# Usage, from the build tree, with a daemon serving the demo model:
#   DAEMON_PID=$(pgrep -n odeserved) bench/http_cpu.sh [BASE_URL]
# Needs wrk and perf (Debian: linux-perf) and permission to count the
# daemon's events (root, or kernel.perf_event_paranoid <= 1).
set -eu

url=${1:-http://127.0.0.1:8080}
conns=${CONNECTIONS:-64}
duration=${DURATION:-5}
rounds=${ROUNDS:-3}
here=$(cd "$(dirname "$0")" && pwd)
request=${REQUEST:-$here/http_small_request.json}
: "${DAEMON_PID:?set DAEMON_PID to the daemon's process id}"
for tool in wrk perf; do
    command -v "$tool" >/dev/null 2>&1 || { echo "http_cpu: $tool is not installed" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
threads=$conns
[ "$threads" -gt 2 ] && threads=2
endpoint="$url/v1/models/spiral/trajectory"
events=task-clock,context-switches,syscalls:sys_enter_futex,syscalls:sys_enter_poll
events=$events,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendmsg,syscalls:sys_enter_write

for r in $(seq 1 "$rounds"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    # perf counts from wrk's start to its end: it is started first and
    # stopped when wrk is done
    perf stat -x, -e "$events" -p "$DAEMON_PID" -o "$tmp/stat" &
    perf_pid=$!
    sleep 0.2
    W1_REQUEST=$request WRK_CONNECTIONS=$conns wrk -t"$threads" -c"$conns" -d"${duration}s" \
        -s "$here/w1_trajectory.lua" "$endpoint" >"$tmp/wrk"
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    n=$(grep -o '"requests": [0-9]*' "$tmp/wrk" | awk '{ print $2 }')
    awk -F, -v n="$n" -v r="$r" -v c="$conns" -v load="$load" '
        $1 ~ /^[0-9.]+$/ {
            k = $3; sub(/^syscalls:sys_enter_/, "", k); sub(/-/, "_", k)
            v[k] = (k == "task_clock") ? $1 * 1000 / n : $1 / n
        }
        END {
            printf "{\"bench\": \"http_cpu\", \"round\": %d, \"connections\": %d, \"requests\": %d, " \
                   "\"daemon_cpu_us_per_req\": %.1f, \"context_switches_per_req\": %.2f, " \
                   "\"futex_per_req\": %.2f, \"poll_per_req\": %.2f, \"recvfrom_per_req\": %.2f, " \
                   "\"sendmsg_per_req\": %.2f, \"write_per_req\": %.2f, \"load\": \"%s\"}\n",
                   r, c, n, v["task_clock"], v["context_switches"], v["futex"], v["poll"],
                   v["recvfrom"], v["sendmsg"], v["write"], load
        }' "$tmp/stat" | tee -a "$tmp/lines"
done
awk '{ match($0, /"daemon_cpu_us_per_req": [0-9.]+/); x[NR] = substr($0, RSTART + 25, RLENGTH - 25) + 0 }
     END {
         for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
         printf "{\"summary\": \"http_cpu\", \"rounds\": %d, \"median_daemon_cpu_us_per_req\": %.1f, \"min\": %.1f, \"max\": %.1f}\n",
                NR, x[int((NR + 1) / 2)], x[1], x[NR] }' "$tmp/lines"
