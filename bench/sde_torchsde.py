#!/usr/bin/python3
"""sde_torchsde: the torchsde side of bench/bench_sde (issue #25;
docs/benchmarks.md, "SDE").

The same problem and weights: drift and diffusion 2-64-64-2 (tanh, tanh,
identity), diagonal noise, Ito, y0 = (0.5, -0.3), dt = 0.01 on [0, 10], output
at the 101 times 0, 0.1, ..., 10; the weights are read from the model
document bench_sde writes (bench/bench_sde --write-model FILE). torchsde's
sdeint (method euler / milstein / reversible_heun, the last two as
bench_sde runs them: milstein Ito, reversible_heun Stratonovich on the same
networks), float64, one thread, under torch.no_grad(), with torchsde's
default Brownian motion (BrownianInterval). Lines: ms per sample path at
batch 1000 (one sdeint call of 1000 paths) and at batch 1 (median of
--batch1-reps calls), one JSON object each.

Usage:
    ./bench/bench_sde --write-model /tmp/sde_bench_model.json
    PYTHONPATH=/work/main/_vendor/torchsde:/work/main/_vendor/trampoline \\
        /usr/bin/python3 bench/sde_torchsde.py /tmp/sde_bench_model.json
Not part of make check.
"""
import json
import os
import statistics
import sys
import time

import torch

try:
    import torchsde
except ImportError:
    sys.exit("sde_torchsde: torchsde is not importable: put the real torchsde and trampoline "
             "on PYTHONPATH (see the docstring)")

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


class SDE(torch.nn.Module):
    noise_type = "diagonal"

    def __init__(self, doc, sde_type):
        super().__init__()
        self.sde_type = sde_type
        self.f_net = mlp(doc["drift"])
        self.g_net = mlp(doc["diffusion"])

    def f(self, t, y):
        return self.f_net(y)

    def g(self, t, y):
        return self.g_net(y)


def run(doc, method, batch):
    sde = SDE(doc, "stratonovich" if method == "reversible_heun" else "ito")
    y0 = torch.tensor([[0.5, -0.3]]).repeat(batch, 1)
    ts = torch.linspace(0, 10, 101)
    t0 = time.perf_counter()
    with torch.no_grad():
        torchsde.sdeint(sde, y0, ts, method=method, dt=0.01)
    return time.perf_counter() - t0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    doc = json.load(open(sys.argv[1]))
    reps = int(os.environ.get("BATCH1_REPS", "3"))
    print(json.dumps({"bench": "sde_torchsde", "load1": os.getloadavg()[0],
                      "torch": torch.__version__}))
    for method in ("euler", "milstein", "reversible_heun"):
        big = run(doc, method, 1000) / 1000
        one = statistics.median(run(doc, method, 1) for _ in range(reps))
        print(json.dumps({"method": method, "batch1000_ms_per_path": round(big * 1e3, 3),
                          "batch1_ms_per_path": round(one * 1e3, 1)}))
    print(json.dumps({"bench": "sde_torchsde", "load1_end": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
