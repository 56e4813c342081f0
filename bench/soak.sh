#!/bin/sh
# bench/soak.sh: soak and overload against a daemon of its own (not in make check).
#
# Starts src/odeserved (the build tree's) on 127.0.0.1 with a temporary
# database and --auth off (the default eval_queue_limit, 256; ODESERVED_ARGS
# adds settings), then runs
# bench/soak.py: DURATION seconds (default 600) at CONNECTIONS (64) of mixed
# requests with a report each minute (errors, p50/p99 per route, RSS, open
# file descriptors, load average), an overload burst from
# OVERLOAD_CONNECTIONS (320) past eval_queue_limit (503 with Retry-After,
# then recovery), and LARGE_N (1000) bodies of
# LARGE_MB (15.5) MB with RSS against idle (a line every 100 bodies;
# LARGE_SECONDS, when set, ends that phase after so many seconds). One JSON object per line; exit
# status 1 when any error was seen. Needs /usr/bin/python3 (stdlib only).
# Results: docs/benchmarks.md, "Soak".
#   DURATION=150 LARGE_N=50 bench/soak.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
"$build/src/odeserved" --listen 127.0.0.1:0 --db "$dir/soak.db" --auth off \
    ${ODESERVED_ARGS:-} \
    2>"$dir/log" &
pid=$!
i=0
until port=$(sed -n 's/.*event=listening addr=[^ ]*:\([0-9]*\).*/\1/p' "$dir/log") && [ -n "$port" ]; do
    i=$((i + 1)); [ $i -lt 200 ] || { cat "$dir/log"; exit 1; }; sleep 0.1
done
cd "$top"
PORT=$port DAEMON_PID=$pid /usr/bin/python3 "$top/bench/soak.py"
