#!/bin/sh
# bench/train_serving.sh: serving latency (p50, p99) while a training job
# runs on 0, 1 and 2 threads, against a daemon of its own (not in make
# check). Starts src/odeserved (the build tree's; BUILD= for another) on
# 127.0.0.1 with a temporary database and --auth off (ODESERVED_ARGS adds
# settings), then runs bench/train_serving.py (DURATION seconds a phase,
# default 20; CONNECTIONS clients, default 2). Needs /usr/bin/python3
# (stdlib only). Results: docs/benchmarks.md, "Training threads".
#   bench/train_serving.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
"$build/src/odeserved" --listen 127.0.0.1:0 --db "$dir/bench.db" --auth off \
    ${ODESERVED_ARGS:-} \
    2>"$dir/log" &
pid=$!
i=0
until port=$(sed -n 's/.*event=listening addr=[^ ]*:\([0-9]*\).*/\1/p' "$dir/log") && [ -n "$port" ]; do
    i=$((i + 1)); [ $i -lt 200 ] || { cat "$dir/log"; exit 1; }; sleep 0.1
done
cd "$top"
PORT=$port DAEMON_PID=$pid /usr/bin/python3 "$top/bench/train_serving.py"
