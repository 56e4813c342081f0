#!/usr/bin/python3
"""w2_torch: workload W2, training on torchdiffeq's examples/ode_demo.py
spiral, with the real torchdiffeq, for the ratio against bench/bench_train.

ode_demo.py's loop (func(y) = Linear(2, 50) tanh Linear(50, 2) of y**3;
20 windows of 10 samples from the true spiral, odeint with torchdiffeq's
defaults: dopri5, rtol 1e-7, atol 1e-9; loss mean |pred - target|;
loss.backward(); RMSprop lr 1e-3), float64 instead of the demo's float32,
one thread, from exactly what bench_train starts from: its initial
parameters, its 1000 samples of the true spiral and its window starts per
iteration (bench_train --print-setup, read from the file given as --setup),
so that both sides see the same losses (loss_first is the same number to
rounding). Timed, as in bench_train: from zero_grad to the optimiser step
(the gradient by backprop through the solver, or with --adjoint through
torchdiffeq.odeint_adjoint), not the window gathering.

Prints one JSON object per mode, named as bench_train's lines with a
"torchdiffeq_" prefix: median_ms_per_iter, median_cpu_ms_per_iter (wall
and this thread's CPU time), iters, loss_first, loss_last10.

Usage: w2_torch.py --setup FILE [--mode backprop|adjoint|both]
Needs torch and torchdiffeq (bench/anchor_common.py says how to get them).
"""
import argparse
import json
import statistics
import sys
import time

from anchor_common import require, setup_torch, versions

DATA, BT, HID = 1000, 10, 50


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--setup", required=True)
    ap.add_argument("--mode", default="both")
    a = ap.parse_args()
    torch, torchdiffeq = require("torch", "torchdiffeq")
    setup_torch(torch)
    with open(a.setup) as f:
        s = json.load(f)
    p = s["params"]
    if len(p) != 2 * HID + HID + HID * 2 + 2:
        sys.exit("w2_torch: the setup's parameters are not ode_demo's 2-50-2 network")
    t = torch.tensor(s["t"], dtype=torch.float64)
    true_y = torch.tensor(s["y"], dtype=torch.float64).view(DATA, 2)
    starts = [torch.tensor(w, dtype=torch.int64) for w in s["starts"]]
    info = versions(torch, torchdiffeq)
    modes = ["backprop", "adjoint"] if a.mode == "both" else [a.mode]
    for mode in modes:
        run(torch, torchdiffeq, mode, p, t, true_y, starts, info)


def run(torch, torchdiffeq, mode, p, t, true_y, starts, info):
    class ODEFunc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(2, HID), torch.nn.Tanh(),
                                           torch.nn.Linear(HID, 2))

        def forward(self, t, y):
            return self.net(y**3)

    func = ODEFunc().double()
    with torch.no_grad():  # mlp.h's layout: W1 (50 x 2), b1, W2 (2 x 50), b2
        v, i = torch.tensor(p, dtype=torch.float64), 0
        for prm in (func.net[0].weight, func.net[0].bias, func.net[2].weight, func.net[2].bias):
            prm.copy_(v[i:i + prm.numel()].view_as(prm))
            i += prm.numel()
    odeint = torchdiffeq.odeint_adjoint if mode == "adjoint" else torchdiffeq.odeint
    optimizer = torch.optim.RMSprop(func.parameters(), lr=1e-3)
    batch_t = t[:BT]
    wall, cpu, losses = [], [], []
    for s in starts:
        batch_y0 = true_y[s]
        batch_y = torch.stack([true_y[s + i] for i in range(BT)], dim=0)
        c0, t0 = time.thread_time(), time.perf_counter()
        optimizer.zero_grad()
        pred_y = odeint(func, batch_y0, batch_t)
        loss = torch.mean(torch.abs(pred_y - batch_y))
        loss.backward()
        optimizer.step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        losses.append(loss.item())
    line = {"bench": f"torchdiffeq_train_{mode}",
            "median_ms_per_iter": round(1e3 * statistics.median(wall), 4),
            "median_cpu_ms_per_iter": round(1e3 * statistics.median(cpu), 4),
            "iters": len(starts), "loss_first": round(losses[0], 5),
            "loss_last10": round(statistics.mean(losses[-10:]), 5)}
    line.update(info)
    print(json.dumps(line))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
