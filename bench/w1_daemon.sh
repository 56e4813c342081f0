# bench/w1_daemon.sh: sourced (". bench/w1_daemon.sh") by the scripts that
# serve W1's own model over HTTP (http_overhead.sh, http_w1_load.sh,
# numconv_libs.sh). Needs $build (the build tree) and $dir (the script's
# temporary directory, removed by its own cleanup), python3 and curl.
#
#   w1_files            $dir/w1.json and $dir/req.json: W1's model and
#                       request (bench_solve --print-model, --print-request)
#   w1_start NAME LEVEL a daemon (the build tree's src/odeserved, loopback, a
#                       free port, $dir/NAME/db, --auth off, --log-level
#                       LEVEL, W1's model seeded as "w1", ODESERVED_ARGS
#                       added) logging to $dir/NAME.log; waits until it
#                       answers /healthz and W1's request; sets port and
#                       w1_pid, and adds the pid to $pids
#   w1_stop_all         stops every daemon in $pids
#   w1_cleanup          on exit, or a signal (PIPE too: `| head -1` closes the
#                       pipe before the summary), stops them and removes $dir
#                       (or the daemons would outlive the script)
#   num KEY             KEY's number from a JSON line on stdin
#   median              the median of the numbers on stdin

pids=

w1_files() {
    "$build/bench/bench_solve" --print-model >"$dir/w1.json"
    "$build/bench/bench_solve" --print-request >"$dir/req.json"
}

# The port comes from a socket bound to port 0 and closed: at warn the
# daemon does not log its listening line.
w1_start() {
    mkdir "$dir/$1"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$build/src/odeserved" --listen "127.0.0.1:$port" --db "$dir/$1/db" --auth off \
        --log-level "$2" --seed-models "$dir/w1.json" ${ODESERVED_ARGS:-} 2>"$dir/$1.log" &
    w1_pid=$!
    pids="$pids $w1_pid"
    w1_i=0
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
        w1_i=$((w1_i + 1))
        [ $w1_i -lt 200 ] && kill -0 "$w1_pid" 2>/dev/null || { cat "$dir/$1.log" >&2; exit 1; }
        sleep 0.1
    done
    curl -sf -H 'Content-Type: application/json' --data-binary @"$dir/req.json" \
        "http://127.0.0.1:$port/v1/models/w1/trajectory" >"$dir/$1.reply" ||
        { echo "$0: W1's request failed on port $port" >&2; exit 1; }
}

w1_stop_all() {
    for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    pids=
}

w1_cleanup() {
    trap 'w1_stop_all; rm -rf "$dir"' EXIT
    trap 'exit 1' INT TERM HUP PIPE
}

num() { sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
