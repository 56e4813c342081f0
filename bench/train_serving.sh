#!/bin/sh
# bench/train_serving.sh: serving latency (p50, p99) while a training job
# runs on 0, 1 and 2 threads, against a daemon of its own (not in make
# check). Starts src/odeserved (the build tree's; BUILD= for another) on
# 127.0.0.1 with a temporary database and --auth off (ODESERVED_ARGS adds
# settings), then runs bench/train_serving.py (DURATION seconds a phase,
# default 20; CONNECTIONS clients, default 2). Needs /usr/bin/python3
# (stdlib only); bench/with_daemon.sh starts the daemon. Results:
# docs/benchmarks.md, "Training threads".
#   bench/train_serving.sh
set -eu
exec "$(dirname "$0")/with_daemon.sh" bench/train_serving.py
