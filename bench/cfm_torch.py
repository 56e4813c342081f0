#!/usr/bin/python3
"""bench/cfm_torch.py: the PyTorch side of bench/bench_cfm (issue #27;
docs/benchmarks.md "CFM"): one flow-matching training iteration of a
3-64-64-2 tanh field (time as the third input), batch 256, float64, one
thread, Adam (lr 1e-3): x0 ~ N(0, I), the next 256 data points, t ~ U(0, 1),
the coupling (independent, or exact OT by scipy.optimize.linear_sum_assignment
on the squared-distance matrix, as torchcfm's exact OT plan does with POT),
x_t = (1 - t) x0 + t x1, the mean squared error against x1 - x0, backward,
Adam step. Prints one JSON line per coupling: microseconds of process CPU
time per iteration, the best of 5 runs of 200 iterations. "ot_centred" is
the same exact OT solved on the two clouds centred on their means (the
same optimal permutation, bench_cfm's cfm_couple does it): the tuned
PyTorch side for the comparison of the OT iteration.

Run: /usr/bin/python3 bench/cfm_torch.py"""
import json
import time

import numpy as np
import scipy.optimize
import torch

torch.set_num_threads(1)
torch.manual_seed(1)
D, H, B = 2, 64, 256
net = torch.nn.Sequential(torch.nn.Linear(D + 1, H), torch.nn.Tanh(), torch.nn.Linear(H, H),
                          torch.nn.Tanh(), torch.nn.Linear(H, D)).double()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
data = 3 + torch.randn(64 * B, D, dtype=torch.float64)


def iteration(k, ot):
    x0 = torch.randn(B, D, dtype=torch.float64)
    i0 = (k * B) % data.shape[0]
    x1 = data[i0:i0 + B]
    t = torch.rand(B, 1, dtype=torch.float64)
    if ot:
        if ot == "ot_centred":
            cost = torch.cdist(x0 - x0.mean(0), x1 - x1.mean(0)) ** 2
        else:
            cost = torch.cdist(x0, x1) ** 2
        _, col = scipy.optimize.linear_sum_assignment(cost.numpy())
        x1 = x1[torch.from_numpy(col)]
    xt = (1 - t) * x0 + t * x1
    loss = torch.nn.functional.mse_loss(net(torch.cat([xt, t], 1)), x1 - x0)
    opt.zero_grad()
    loss.backward()
    opt.step()


for ot in (False, "ot", "ot_centred"):
    best = float("inf")
    for _ in range(5):
        c0 = time.process_time()
        for k in range(200):
            iteration(k, ot)
        best = min(best, (time.process_time() - c0) / 200 * 1e6)
    print(json.dumps({"bench": "cfm_iteration_torch", "field": "3-64-64-2", "batch": B,
                      "coupling": ot or "independent", "us_per_iteration": round(best, 1),
                      "torch": torch.__version__}))
