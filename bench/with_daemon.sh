#!/bin/sh
# bench/with_daemon.sh: run a Python bench client against a daemon of its own.
#
# Starts src/odeserved (the build tree's; BUILD= for another) on 127.0.0.1,
# port chosen by the kernel, with a temporary database and --auth off
# (ODESERVED_ARGS adds settings), waits for its listening line, then runs
# /usr/bin/python3 SCRIPT from the source tree with PORT and DAEMON_PID set.
# The daemon is stopped and its directory removed on exit; the exit status
# is the client's. soak.sh and train_serving.sh are this with their client.
#   bench/with_daemon.sh bench/soak.py
set -eu
[ $# -eq 1 ] || { echo "usage: $0 SCRIPT.py" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top}
script=$1
case $script in /*) ;; *) script=$top/$script ;; esac
dir=$(mktemp -d)
pid= client=
cleanup() {
    [ -n "$client" ] && kill "$client" 2>/dev/null
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    rm -rf "$dir"
}
# A signal only runs the EXIT trap by way of exit; and the shell takes a
# signal only between commands, so the client runs in the background under
# wait, which a signal interrupts (a foreground client would hold the daemon
# up until it ended by itself).
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE
: >"$dir/log" # exists before the first look for the listening line
"$build/src/odeserved" --listen 127.0.0.1:0 --db "$dir/bench.db" --auth off \
    ${ODESERVED_ARGS:-} \
    2>"$dir/log" &
pid=$!
i=0
until port=$(sed -n 's/.*event=listening addr=[^ ]*:\([0-9]*\).*/\1/p' "$dir/log") && [ -n "$port" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/log"; exit 1; }
    i=$((i + 1)); [ $i -lt 200 ] || { cat "$dir/log"; exit 1; }; sleep 0.1
done
cd "$top"
PORT=$port DAEMON_PID=$pid /usr/bin/python3 "$script" &
client=$!
status=0
wait "$client" || status=$?
client=
exit "$status"
