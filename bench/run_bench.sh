#!/bin/sh
# run_bench.sh: `make bench`. odeserve's benchmarks and their anchors (the
# real torchdiffeq / torchcde, bench/w1_torch.py, w2_torch.py, w3_torch.py)
# side by side on the same problems and the same doubles, ROUNDS rounds; in
# each round every workload runs odeserve's program and the anchor's script
# one after the other (the order swapped every other round, so a drift in
# the machine's load does not favour one side). Per round: `uptime`'s load
# average, both medians and the ratio; at the end a markdown table of the
# medians over the rounds, for docs/benchmarks.md.
#
# ratio = anchor / odeserve (how many times faster odeserve is), on CPU-time
# medians (this thread's CPU time: other processes' turns on a shared
# machine do not count) except for HTTP, where both sides are wall time:
# the p50 latency of one request at one connection against torchdiffeq's
# in-process solve of the same request (the demo model spiral).
#
# Workloads (docs/benchmarks.md): W1 bench_solve w1_single / w1_batch256;
# W2 bench_train (ITERS iterations, backprop and adjoint); W3 bench_cde
# w3_batch32 against torchcde batched (index grid) and per series on real
# times with jump_t, and W3's training step (w3_train_index32, torchcde's
# irregular_data example's setup) against torchcde's (train_batch32); HTTP
# bench_http.sh against a daemon this script starts on a free loopback port
# with a temporary database and the demo model.
#
# Run from the build tree after make (make bench does both). Environment:
# ROUNDS (3), ITERS (W2, 200), HTTP_DURATION (wrk -d per connection count,
# 3s), PYTHON (default /usr/bin/python3 when it imports torch, else python3),
# PYTHONPATH (the folders under $srcdir/_vendor/ are appended), srcdir (.).
# Without torch or the libraries the anchors print how to get them and the
# odeserve side still runs; without wrk the HTTP rows are skipped.
set -eu

srcdir=${srcdir:-.}
rounds=${ROUNDS:-3}
iters=${ITERS:-200}
http_duration=${HTTP_DURATION:-3s}
bench=$srcdir/bench

if [ -z "${PYTHON:-}" ]; then
    if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
        PYTHON=/usr/bin/python3
    else
        PYTHON=python3
    fi
fi
for d in "$srcdir"/_vendor/*; do
    [ -d "$d" ] && PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$(cd "$d" && pwd)
done
export PYTHONPATH=${PYTHONPATH:-}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

for p in bench/bench_solve bench/bench_train bench/bench_cde src/odeserved; do
    if [ ! -x "$p" ]; then
        echo "run_bench: $p not found; run from the build tree after make" >&2
        exit 1
    fi
done

tmp=$(mktemp -d)
daemon=
cleanup() {
    if [ -n "$daemon" ]; then
        kill "$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# num FILE NAME KEY: KEY's number on the line of FILE whose "bench" is NAME.
num() {
    awk -v name="\"bench\": \"$2\"" -v key="\"$3\": " '
        index($0, name) && (i = index($0, key)) {
            v = substr($0, i + length(key)); sub(/[,}].*/, "", v); print v; exit }' "$1"
}

anchors=yes
if ! "$PYTHON" -c 'import torch, torchdiffeq, torchcde' >/dev/null 2>&1; then
    anchors=no
    "$PYTHON" "$bench/w3_torch.py" >&2 || true # says what is missing and how to get it
    echo "run_bench: no anchors ($PYTHON, PYTHONPATH=$PYTHONPATH); odeserve's side only" >&2
fi

# The inputs both sides share.
bench/bench_solve --print-model >"$tmp/w1.json"
bench/bench_solve --print-request >"$tmp/request.json"
bench/bench_train --print-setup "$iters" 0 >"$tmp/w2_setup.json"
# bench_solve on W1's document must be bench_solve's built-in W1.
bench/bench_solve --only w1_single --reps 1 | sed 's/"median[^,]*, //g; s/"us_per_nfe[^,]*, //' >"$tmp/a"
bench/bench_solve --only w1_single --reps 1 --model "$tmp/w1.json" |
    sed 's/"median[^,]*, //g; s/"us_per_nfe[^,]*, //' >"$tmp/b"
if ! cmp -s "$tmp/a" "$tmp/b"; then
    echo "run_bench: bench_solve --print-model's document does not reproduce bench_solve's W1:" >&2
    cat "$tmp/a" "$tmp/b" >&2
    exit 1
fi

# The daemon: a free loopback port, a temporary database, the demo model.
http=no
if command -v wrk >/dev/null 2>&1 && command -v curl >/dev/null 2>&1; then
    src/odeserved --config "$srcdir/etc/odeserve.conf" --listen 127.0.0.1:0 \
        --db "$tmp/odeserve.db" --seed-models "$srcdir/examples/spiral.json" \
        2>"$tmp/daemon.log" &
    daemon=$!
    for _ in $(seq 1 100); do
        addr=$(sed -n 's/.*event=listening .*addr=\([^ ]*\).*/\1/p' "$tmp/daemon.log" | head -n 1)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    if [ -n "$addr" ] && curl -sf "http://$addr/healthz" >/dev/null; then
        http=yes
    else
        echo "run_bench: the daemon did not come up; HTTP rows skipped:" >&2
        cat "$tmp/daemon.log" >&2
    fi
else
    echo "run_bench: wrk or curl missing (apt-get install wrk curl); HTTP rows skipped" >&2
fi

echo "make bench: $rounds rounds, $(date -u '+%Y-%m-%d %H:%M UTC'), $(getconf _NPROCESSORS_ONLN) CPUs," \
    "$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { m = $2 } /^CPU family/ { f = $2 }
        /^Model:/ { n = $2 } END { printf "%s (family %s, model %s)", m, f, n }')"
echo "anchors: $PYTHON $("$PYTHON" -c 'import torch, torchdiffeq, torchcde; print("torch", torch.__version__, "torchdiffeq", torchdiffeq.__version__, "torchcde", torchcde.__version__)' 2>/dev/null || echo '(not importable)')"
echo "ratio = anchor / odeserve (CPU-time medians; HTTP: wall), > 1: odeserve faster"

results=$tmp/results # round workload odeserve anchor unit
: >"$results"
: >"$tmp/loads"

# row ROUND WORKLOAD ODESERVE ANCHOR UNIT: print and record one comparison.
row() {
    awk -v r="$1" -v w="$2" -v o="$3" -v a="$4" -v u="$5" 'BEGIN {
        ratio = (o + 0 > 0 && a + 0 > 0) ? sprintf(a / o >= 10 ? "%.1fx" : "%.2fx", a / o) : "-"
        printf "  %-22s odeserve %10s %-3s  anchor %10s %-3s  ratio %s\n", w, o, u, (a == "" ? "-" : a), u, ratio }'
    echo "$1 $2 ${3:--} ${4:--} $5" >>"$results"
}

# pair ROUND ODESERVE_CMD ANCHOR_CMD: both, in the round's order.
pair() {
    if [ $(($1 % 2)) -eq 1 ]; then
        eval "$2" || echo "run_bench: odeserve's side failed" >&2
        [ "$anchors" = no ] || eval "$3" || echo "run_bench: the anchor failed" >&2
    else
        [ "$anchors" = no ] || eval "$3" || echo "run_bench: the anchor failed" >&2
        eval "$2" || echo "run_bench: odeserve's side failed" >&2
    fi
    return 0
}

for r in $(seq 1 "$rounds"); do
    load=$(uptime | sed 's/.*load average: *//')
    load1=$(echo "$load" | cut -d, -f1)
    echo "$load1" >>"$tmp/loads"
    echo "round $r  load average $load"
    o=$tmp/o.$r
    a=$tmp/a.$r
    : >"$o"
    : >"$a"

    pair "$r" "bench/bench_solve --only w1_single --reps 15 >>'$o'
               bench/bench_solve --only w1_batch256 --sizes 1 --reps 15 >>'$o'" \
        "'$PYTHON' '$bench/w1_torch.py' --model '$tmp/w1.json' --request '$tmp/request.json' \
               --rows single,batch256 --reps 15 >>'$a'"
    row "$r" "W1 single" "$(num "$o" w1_single median_cpu_us)" \
        "$(num "$a" torchdiffeq_w1_single median_cpu_us)" us
    row "$r" "W1 batch256" "$(num "$o" w1_batch256 median_cpu_us)" \
        "$(num "$a" torchdiffeq_w1_batch256 median_cpu_us)" us

    pair "$r" "bench/bench_train '$iters' 0 both >>'$o'" \
        "'$PYTHON' '$bench/w2_torch.py' --setup '$tmp/w2_setup.json' >>'$a'"
    for m in backprop adjoint; do
        row "$r" "W2 $m" "$(num "$o" "train_$m" median_cpu_ms_per_iter)" \
            "$(num "$a" "torchdiffeq_train_$m" median_cpu_ms_per_iter)" ms
    done

    pair "$r" "bench/bench_cde >>'$o'" \
        "'$PYTHON' '$bench/w3_torch.py' --reps 5 --loop-reps 1 --train-reps 5 \
               --lines batch32,loop32_jump,train_batch32 >>'$a'"
    row "$r" "W3 vs torchcde batch" "$(num "$o" w3_batch32 cpu_ms_per_batch)" \
        "$(num "$a" w3_torch_batch32 cpu_ms_per_batch)" ms
    row "$r" "W3 vs torchcde loop" "$(num "$o" w3_batch32 cpu_ms_per_batch)" \
        "$(num "$a" w3_torch_loop32_jump cpu_ms_per_batch)" ms
    row "$r" "W3 train vs torchcde" "$(num "$o" w3_train_index32 cpu_ms_per_step)" \
        "$(num "$a" w3_torch_train_batch32 cpu_ms_per_step)" ms

    if [ "$http" = yes ]; then
        pair "$r" "OVERHEAD_ROUNDS=0 ROUNDS=1 ROUND_DURATION=2s DURATION='$http_duration' CONNECTIONS='1 64' \
                   '$bench/bench_http.sh' 'http://$addr' >>'$o'" \
            "'$PYTHON' '$bench/w1_torch.py' --model '$srcdir/examples/spiral.json' \
                   --request '$tmp/request.json' --name spiral --rows single --reps 7 >>'$a'"
        grep '"round"' "$o" | sed 's/{"round": [0-9]*, /{/' >"$tmp/h1" || true
        grep -v '"round"' "$o" | grep '"connections": 64' >"$tmp/h64" || true
        p50=$(num "$tmp/h1" http_w1_single p50_us)
        rps=$(num "$tmp/h64" http_w1_single requests_per_s)
        row "$r" "HTTP spiral p50 1 conn" "$p50" "$(num "$a" torchdiffeq_spiral_single median_us)" \
            us
        echo "  HTTP 64 connections   $rps req/s, non-2xx + errors:" \
            "$(num "$tmp/h64" http_w1_single errors) + $(num "$tmp/h64" http_w1_single non_2xx)"
        echo "$r HTTP 64 conn ${rps:--} - req/s" >>"$results"
    fi
    echo "  (odeserve lines: $(wc -l <"$o"), anchor lines: $(wc -l <"$a"))"
    cat "$o" "$a" >>"$tmp/all.jsonl"
done

echo
echo "Raw lines of the last round:"
cat "$tmp/o.$rounds" "$tmp/a.$rounds"
echo
echo "Summary (median over $rounds rounds; ratio: median of the per-round ratios, min-max)"
echo
awk '
    function median(s,    n, v, i, j, t) {
        n = split(s, v, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    function minmax(s,    n, v, i, lo, hi) {
        n = split(s, v, " "); lo = hi = v[1]
        for (i = 2; i <= n; i++) { if (v[i] + 0 < lo + 0) lo = v[i]; if (v[i] + 0 > hi + 0) hi = v[i] }
        return fmt(lo) "-" fmt(hi)
    }
    function fmt(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : x >= 1 ? sprintf("%.2f", x) : sprintf("%.3g", x) }
    {
        w = $2; for (i = 3; i <= NF - 3; i++) w = w " " $i
        o = $(NF - 2); a = $(NF - 1); u = $NF
        if (!(w in unit)) order[n++] = w
        unit[w] = u
        if (o != "-") os[w] = os[w] " " o
        if (a != "-") as[w] = as[w] " " a
        if (o != "-" && a != "-" && o > 0) rs[w] = rs[w] " " a / o
    }
    END {
        print "| workload | odeserve | anchor (torchdiffeq / torchcde) | ratio | ratio range |"
        print "|---|---|---|---|---|"
        for (k = 0; k < n; k++) {
            w = order[k]
            printf "| %s | %s %s | %s | %s | %s |\n", w,
                (w in os) ? fmt(median(os[w])) : "-", unit[w],
                (w in as) ? fmt(median(as[w])) " " unit[w] : "-",
                (w in rs) ? fmt(median(rs[w])) "x" : "-",
                (w in rs) ? minmax(rs[w]) : "-"
        }
    }' "$results"
echo
echo "load average (1 min) at the start of each round: $(tr '\n' ' ' <"$tmp/loads")"
