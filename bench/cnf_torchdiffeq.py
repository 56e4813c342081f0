#!/usr/bin/python3
"""cnf_torchdiffeq: the torchdiffeq side of bench/bench_cnf (issue #27;
docs/benchmarks.md, "CNF"), FFJORD-style (Grathwohl et al. 2019, their
odefunc: the divergence by autograd, the Hutchinson noise drawn once per
solve and held fixed, as FFJORD's before_odeint does).

The same problems, weights and points as bench_cnf, read from the files
`bench_cnf --write-models DIR` writes: log_prob of 1000 points integrating
[z, delta_logp] from t = 1 to t = 0 with torchdiffeq's dopri5 at
rtol = atol = 1e-5, float64, one thread, the time appended as the field's
last input; 2-D with the exact trace (one autograd pass per dimension, as
FFJORD's divergence_bf), 64-D with one Rademacher probe (one VJP). Lines:
microseconds of wall time per point at batch 1000 (best of --reps) and at
batch 1 (median), and the NFE, one JSON object each.

Usage:
    ./bench/bench_cnf --write-models /tmp/cnfbench
    PYTHONPATH=/work/main/_vendor/torchdiffeq /usr/bin/python3 bench/cnf_torchdiffeq.py /tmp/cnfbench
Not part of make check.
"""
import json
import math
import statistics
import sys
import time

import torch

try:
    from torchdiffeq import odeint
except ImportError:
    sys.exit("cnf_torchdiffeq: torchdiffeq is not importable: put it on PYTHONPATH (see the docstring)")

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


def mlp(doc_net):
    layers = []
    for l in doc_net["layers"]:
        w = torch.tensor(l["weight"])
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(torch.tensor(l["bias"]))
        layers.append(lin)
        act = l.get("activation", "identity")
        if act == "tanh":
            layers.append(torch.nn.Tanh())
        elif act != "identity":
            raise SystemExit(f"activation {act} not handled")
    return torch.nn.Sequential(*layers)


class ODEfunc(torch.nn.Module):
    def __init__(self, net, exact):
        super().__init__()
        self.net, self.exact, self.e, self.nfe = net, exact, None, 0

    def forward(self, t, state):
        z = state[0]
        self.nfe += 1
        with torch.enable_grad():
            z = z.requires_grad_(True)
            tt = torch.ones(z.shape[0], 1) * t
            f = self.net(torch.cat([z, tt], 1))
            if self.exact:
                div = 0.0
                for i in range(z.shape[1]):
                    div = div + torch.autograd.grad(f[:, i].sum(), z, create_graph=False,
                                                    retain_graph=True)[0][:, i]
            else:
                eJ = torch.autograd.grad(f, z, self.e, create_graph=False)[0]
                div = (eJ * self.e).sum(1)
        return f.detach(), -div.detach().view(-1, 1)


def log_prob(func, x):
    func.nfe = 0
    if not func.exact:
        func.e = torch.randint(0, 2, x.shape).to(x) * 2 - 1  # Rademacher, once per solve
    dlogp0 = torch.zeros(x.shape[0], 1)
    z, dlogp = odeint(func, (x, dlogp0), torch.tensor([1.0, 0.0]), rtol=1e-5, atol=1e-5,
                      method="dopri5")
    z0, a0 = z[-1], dlogp[-1]
    logn = -0.5 * (z0 ** 2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)
    return logn - a0.view(-1)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    for name, exact in (("2d", True), ("64d", False)):
        doc = json.load(open(f"{d}/cnf_{name}.json"))
        x = torch.tensor(json.load(open(f"{d}/cnf_{name}_x.json")))
        func = ODEfunc(mlp(doc["vector_field"]), exact)
        case = "2d_exact" if exact else "64d_hutch"
        best = math.inf
        with torch.no_grad():
            for _ in range(reps):
                t0 = time.perf_counter()
                lp = log_prob(func, x)
                best = min(best, time.perf_counter() - t0)
        print(json.dumps({"case": case, "points": x.shape[0], "impl": "torchdiffeq",
                          "us_per_point": round(best / x.shape[0] * 1e6, 2), "nfe": func.nfe,
                          "mean_log_prob": round(lp.mean().item(), 6)}))
        times = []
        with torch.no_grad():
            for _ in range(reps * 5):
                t0 = time.perf_counter()
                log_prob(func, x[:1])
                times.append(time.perf_counter() - t0)
        print(json.dumps({"case": case, "points": 1, "impl": "torchdiffeq",
                          "us_per_point": round(statistics.median(times) * 1e6, 2),
                          "nfe": func.nfe}))


if __name__ == "__main__":
    main()
