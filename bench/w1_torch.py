#!/usr/bin/python3
"""w1_torch: workload W1 (bench/bench_solve.c, docs/benchmarks.md) with the
real torchdiffeq, for the ratio against bench_solve.

The same problem and the same doubles as bench_solve:
  * the vector field from a model document (--model): W1's built-in weights
    as bench/bench_solve --print-model prints them (make bench checks that bench_solve on that
    document reproduces its built-in run), or examples/spiral.json (the demo
    model bench_http.sh serves);
  * the output times and y0 = (2, 0) from bench_solve --print-request
    (--request FILE), the solver dopri5 with that request's rtol and atol;
  * the batch's 256 initial states from bench_solve's generator (xorshift64
    from its seed; trajectory b is bench_solve's trajectory b).
torchdiffeq.odeint(method="dopri5") on a float64 tensor, one thread, under
torch.no_grad() (evaluation); a batch is one (256, 2) tensor, which
torchdiffeq steps together (shared steps, RMS norm over the batch).

Prints one JSON object per line, named as bench_solve's rows with a
"torchdiffeq_" prefix: median_us / median_cpu_us per call (wall and this
thread's CPU time), nfe (evaluations of the (batch, 2) field), and for the
single trajectory max_abs_err against SciPy's DOP853 at rtol 1e-12, atol
1e-14 (bench_solve reports the same against its own dop853).

Usage: w1_torch.py --model FILE --request FILE [--rows single,batch256] [--reps N]
Needs torch and torchdiffeq (bench/anchor_common.py says how to get them).
"""
import argparse
import json
import sys

from anchor_common import require, setup_torch, time_calls, versions

M64 = (1 << 64) - 1


def batch_y0(n, dim):
    """bench_solve.c's make_y0 (uniform): xorshift64 (13, 7, 17) from its seed,
    4 u - 2 per component, trajectory by trajectory."""
    s, out = 0x9E3779B97F4A7C15, []
    for _ in range(n):
        row = []
        for _ in range(dim):
            s ^= (s << 13) & M64
            s ^= s >> 7
            s ^= (s << 17) & M64
            row.append(4 * ((s >> 11) * 2.0**-53) - 2)
        out.append(row)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--request", required=True)
    ap.add_argument("--rows", default="single,batch256")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--name", default="w1", help="row prefix (w1, spiral)")
    a = ap.parse_args()
    torch, torchdiffeq = require("torch", "torchdiffeq")
    setup_torch(torch)
    with open(a.model) as f:
        doc = json.load(f)
    with open(a.request) as f:
        req = json.load(f)
    vf = doc["vector_field"]
    if doc.get("kind") != "ode" or vf.get("time_input"):
        sys.exit("w1_torch: wants an autonomous ode model")
    layers = []
    for L in vf["layers"]:
        W = torch.tensor(L["weight"], dtype=torch.float64)
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(torch.tensor(L["bias"], dtype=torch.float64))
        layers.append(lin)
        act = L.get("activation", "identity")
        if act == "tanh":
            layers.append(torch.nn.Tanh())
        elif act == "relu":
            layers.append(torch.nn.ReLU())
        elif act != "identity":
            sys.exit(f"w1_torch: activation {act} not handled")

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(*layers)
            self.nfe = 0

        def forward(self, t, y):
            self.nfe += 1
            return self.net(y)

    func = Field()
    t = torch.tensor(req["t"], dtype=torch.float64)
    sv = req["solver"]
    rtol, atol = sv["rtol"], sv["atol"]
    y0_single = torch.tensor(req["y0"], dtype=torch.float64)
    dim = y0_single.numel()
    info = versions(torch, torchdiffeq)

    def solve(y0):
        func.nfe = 0
        return torchdiffeq.odeint(func, y0, t, method=sv["method"], rtol=rtol, atol=atol)

    with torch.no_grad():
        for row in a.rows.split(","):
            if row == "single":
                y0 = y0_single
            elif row.startswith("batch"):
                y0 = torch.tensor(batch_y0(int(row[5:]), dim), dtype=torch.float64)
            else:
                sys.exit(f"w1_torch: unknown row {row}")
            wall, cpu, y = time_calls(lambda: solve(y0), a.reps)
            line = {"bench": f"torchdiffeq_{a.name}_{row}", "median_us": round(1e6 * wall, 1),
                    "median_cpu_us": round(1e6 * cpu, 1), "nfe": func.nfe}
            if row == "single":
                line["max_abs_err"] = float("%.2e" % max_err(y.numpy(), vf, y0, req))
            line.update(info)
            print(json.dumps(line))
            sys.stdout.flush()


def max_err(y, vf, y0, req):
    """Largest deviation from SciPy's DOP853 (rtol 1e-12, atol 1e-14)."""
    import numpy as np
    from scipy.integrate import solve_ivp
    acts = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "identity": lambda v: v}
    net = [(np.array(L["weight"]), np.array(L["bias"]), acts[L.get("activation", "identity")])
           for L in vf["layers"]]

    def f(_, v):
        for W, b, act in net:
            v = act(W @ v + b)
        return v

    t = np.array(req["t"])
    ref = solve_ivp(f, (t[0], t[-1]), y0.numpy(), method="DOP853", t_eval=t, rtol=1e-12,
                    atol=1e-14)
    return float(np.max(np.abs(ref.y.T - y)))


if __name__ == "__main__":
    main()
