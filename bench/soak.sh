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
exec "$(dirname "$0")/with_daemon.sh" bench/soak.py
