#!/bin/sh
# w2_bound.sh: issue 23 part 1 on W2 (torchdiffeq's ode_demo spiral as
# bench/bench_train runs it): each round measures this machine's two rates
# the bound is made of, the iteration, and the real torchdiffeq's iteration
# on the same setup, and prints the iteration against both the bound and
# torchdiffeq (docs/training.md, "Where the time goes, and the arithmetic
# bound").
#
# The rates (bench/bench_nn --cpu): "tanh_vm", the library's tanh per
# element, and the dgemm rate of "fwd_batch256_gemm_only" (the three GEMMs
# of W1's network on 256 states through OpenBLAS, 8,704 flops per state).
# The counts come from the round's own bench_train line: per iteration
# nfe_median forward passes of the 20-state batch (8,000 flops and 1,000
# tanh each) and bwd_nfe_median backward evaluations: VJPs with kept
# activations for backprop (16,000 flops each, no tanh), augmented-field
# evaluations for the adjoint (a forward and a VJP: 24,000 flops, 1,000
# tanh). bound = flops / dgemm rate + tanh count x tanh time; a faster tanh
# lowers the bound by as much as it lowers the iteration.
#
# One JSON line per round and mode: odeserve's and torchdiffeq's CPU ms per
# iteration (medians of ITERS iterations), the bound in us, and the two
# ratios; then the medians over the rounds. The targets: >= 100x
# torchdiffeq and <= 1.5x the bound. Without torch or torchdiffeq the
# torchdiffeq fields are null (bench/anchor_common.py says how to get them).
#
# Usage, from the build tree after make: bench/w2_bound.sh
# Environment: ROUNDS (default 3), ITERS (default 200), PYTHON (default
# /usr/bin/python3), PYTHONPATH (the folders under _vendor/ are appended).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3}
iters=${ITERS:-200}
python=${PYTHON:-/usr/bin/python3}
for d in "$top"/_vendor/*; do
    [ -d "$d" ] && PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$d
done
export PYTHONPATH="${PYTHONPATH:-}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
for p in bench/bench_nn bench/bench_train; do
    [ -x "$top/$p" ] || { echo "w2_bound: $top/$p not found; run make first" >&2; exit 1; }
done
case $rounds in
'' | *[!0-9]* | 0) echo "w2_bound: ROUNDS must be a whole number >= 1" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
"$top/bench/bench_train" --print-setup "$iters" >"$tmp/setup.json"
have_torch=1
if ! "$python" -c 'import torch, torchdiffeq' >/dev/null 2>&1; then
    have_torch=0
    "$python" "$top/bench/w2_torch.py" --setup "$tmp/setup.json" >&2 || true
fi

r=1
while [ "$r" -le "$rounds" ]; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    "$top/bench/bench_nn" --cpu >"$tmp/nn.txt"
    "$top/bench/bench_train" "$iters" 0 both >"$tmp/ode.txt"
    if [ "$have_torch" = 1 ]; then
        "$python" "$top/bench/w2_torch.py" --setup "$tmp/setup.json" --mode both >"$tmp/torch.txt"
    else
        : >"$tmp/torch.txt"
    fi
    "$python" - "$r" "$load" "$tmp" >"$tmp/round.txt" <<'EOF'
import json, sys
rnd, load, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def lines(name):
    out = {}
    for l in open(f"{tmp}/{name}"):
        l = l.strip()
        if l.startswith("{"):
            j = json.loads(l)
            if "bench" in j:
                out[j["bench"]] = j
    return out
nn, ode, torch = lines("nn.txt"), lines("ode.txt"), lines("torch.txt")
tanh_ns = nn["tanh_vm"]["ns_per_elem"]
gflops = 8704 / nn["fwd_batch256_gemm_only"]["ns_per_state"]  # flops per ns
for mode, bwd_flops, bwd_tanh in (("backprop", 16000, 0), ("adjoint", 24000, 1000)):
    o = ode[f"train_{mode}"]
    fwd, bwd = o["nfe_median"], o["bwd_nfe_median"]
    flops = fwd * 8000 + bwd * bwd_flops
    tanh = fwd * 1000 + bwd * bwd_tanh
    bound_us = (flops / gflops + tanh * tanh_ns) * 1e-3
    ms = o["median_cpu_ms_per_iter"]
    t = torch.get(f"torchdiffeq_train_{mode}")
    tms = t["median_cpu_ms_per_iter"] if t else None
    print(json.dumps({"round": rnd, "mode": mode, "odeserve_ms": ms,
                      "torchdiffeq_ms": tms,
                      "ratio": round(tms / ms, 1) if tms else None,
                      "bound_us": round(bound_us, 1),
                      "over_bound": round(ms * 1e3 / bound_us, 3),
                      "nfe": fwd, "bwd_nfe": bwd, "tanh_ns": tanh_ns,
                      "dgemm_gflops": round(gflops, 1), "load": load}))
EOF
    cat "$tmp/round.txt"
    cat "$tmp/round.txt" >>"$tmp/rounds.txt"
    r=$((r + 1))
done
"$python" - "$tmp/rounds.txt" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for mode in ("backprop", "adjoint"):
    m = [r for r in rows if r["mode"] == mode]
    med = lambda k: (round(statistics.median([r[k] for r in m]), 4)
                     if all(r[k] is not None for r in m) else None)
    print(json.dumps({"summary": "w2_bound", "mode": mode, "rounds": len(m),
                      "median_odeserve_ms": med("odeserve_ms"),
                      "median_torchdiffeq_ms": med("torchdiffeq_ms"),
                      "median_ratio": med("ratio"),
                      "min_ratio": min(r["ratio"] for r in m) if med("ratio") else None,
                      "median_bound_us": med("bound_us"),
                      "median_over_bound": med("over_bound"),
                      "max_over_bound": max(r["over_bound"] for r in m),
                      "targets": {"ratio": 100, "over_bound": 1.5}}))
EOF
