#!/usr/bin/python3
"""w3_torch: workload W3 (bench/bench_cde.c, docs/cde.md section 7) with the
real torchcde and torchdiffeq, for the ratio against bench/bench_cde.

torchcde.hermite_cubic_coefficients_with_backward_differences,
torchcde.CubicSpline and torchcde.cdeint (backend torchdiffeq, dopri5,
rtol 1e-4, atol 1e-6, adjoint=False: evaluation, no gradient wanted), on a
float64 tensor, one thread, under torch.no_grad().

What is solved (the choice for irregular data; state it with the numbers):
torchcde needs one time grid for the whole batch. As in its irregular_data
example and its docs, time is a channel (channel 0 = the real observation
time, then the 2 data channels) and the path is parameterised by the
observation index: hermite coefficients on t = 0, 1, ..., 99 (torchcde's
default grid when no t is given), cdeint(X, func, z0, t=X.grid_points) so the
hidden state comes out at every observation (readout at all 100 observation
times). The 32 series are ONE tensor: one shared adaptive step for the batch.
cdeint's default passes no jump_t, so steps cross the knots (line
w3_torch_batch32); w3_torch_batch32_jump passes the interior knots as
options=dict(jump_t=...) (as bench_cde stops there). w3_torch_loop32 solves
the series one at a time (batch of 1, its own real times as the grid, no
time reparameterisation), the closest analogue of bench_cde's per-series
solves; w3_torch_loop32_jump the same with jump_t at its knots.

Same model and data as bench_cde: its xorshift generator is reproduced, so the
weights (PyTorch's default U(-1/sqrt(in), 1/sqrt(in)) for W and b, drawn in
the same order; W is out x in row-major in both) and the 32 spirals are
identical. Prints one JSON object per line, as bench_cde does: ms_per_batch
and cpu_ms_per_batch (wall and this thread's CPU time, 32 series; median of
--reps timed runs after a warm-up, --loop-reps for the loop32 lines, which
warm up on one series), nfe (calls of the vector field network:
in the batch32 lines each one a (32, 8) tensor evaluation, in the loop32
lines the sum over the 32 solves).

Training step (the train_* lines; --lines picks them like the others): one
iteration = forward solve of the 32 series, loss, loss.backward() through
the solver (cdeint adjoint=False: backprop, as bench_cde's w3_train lines
with "gradient": "backprop"), after zero_grad; NO optimiser step on either
side (the weights stay W3's, every rep is the same step). Loss: mse of the
readout of the final hidden state against the series' label (1 when the
spiral turns anticlockwise, else 0), the mean over the 32; torchcde's
irregular_data example uses binary cross-entropy there, but odeserve's
grad_cde has mse / l1 / cross_entropy and W3's readout gives one value, so
mse on both sides (the cost of the loss itself is negligible either way).
  train_batch32       torchcde's irregular_data example as written: the 32
                      series as one tensor, time as channel 0, index grid,
                      cdeint(..., t=X.interval), readout(z[:, -1]);
                      no jump_t (shared adaptive steps cross the knots);
  train_batch32_jump  the same with jump_t at the 98 interior knots (steps
                      end there, as bench_cde's w3_train_index32);
  train_loop32_jump   one solve per series in its own real times with jump_t
                      at its knots, losses summed (backward per series): the
                      closest analogue of bench_cde's w3_train lines (one
                      solve per series, steps ending at its knots); its
                      loss agrees with bench_cde's up to the solvers' rtol;
  train_loop32        the same without jump_t.
Each train line prints ms_per_step and cpu_ms_per_step (wall and thread CPU,
median of --train-reps, --loop-reps for the loop lines, after one warm-up
step), the loss and |grad| (all parameters) of the step, and nfe (forward
calls of the vector field; backward VJPs are autograd's). Every line says
where torchcde was imported from (torchcde_from: the library on PYTHONPATH,
never a copy in this tree).

Usage: w3_torch.py [--reps N (11)] [--loop-reps N (3)] [--train-reps N (11)]
                   [--lines batch32,batch32_jump,loop32,loop32_jump,
                            train_batch32,train_batch32_jump,train_loop32_jump,
                            train_loop32]
Needs torch, torchcde and torchdiffeq (bench/anchor_common.py says how to
get them).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

from anchor_common import require, setup_torch, versions

torch, torchcde, torchdiffeq = require("torch", "torchcde", "torchdiffeq")

BATCH, N_OBS, HIDDEN, DATA, WIDTH = 32, 100, 8, 2, 128
CH = 1 + DATA
M64 = (1 << 64) - 1


class XorShift:
    """bench_cde.c's urand(): xorshift64 (13, 7, 17), top 53 bits."""

    def __init__(self):
        self.s = 0x9E3779B97F4A7C15

    def urand(self):
        s = self.s
        s ^= (s << 13) & M64
        s ^= s >> 7
        s ^= (s << 17) & M64
        self.s = s
        return (s >> 11) * 2.0**-53


# ---------------------------------------------------------------- model ---
class CDEFunc(torch.nn.Module):
    """torchcde's example vector field: Linear, relu, Linear, tanh, view."""

    def __init__(self):
        super().__init__()
        self.linear1 = torch.nn.Linear(HIDDEN, WIDTH)
        self.linear2 = torch.nn.Linear(WIDTH, HIDDEN * CH)

    def forward(self, t, z):
        z = self.linear1(z).relu()
        z = self.linear2(z).tanh()
        return z.view(*z.shape[:-1], HIDDEN, CH)


def make_model(rng):
    initial = torch.nn.Linear(CH, HIDDEN).double()
    func = CDEFunc().double()
    readout = torch.nn.Linear(HIDDEN, 1).double()
    with torch.no_grad():
        for lin in (initial, func.linear1, func.linear2, readout):
            bound = 1 / math.sqrt(lin.in_features)
            for p in (lin.weight, lin.bias):
                flat = [bound * (2 * rng.urand() - 1) for _ in range(p.numel())]
                p.copy_(torch.tensor(flat, dtype=torch.float64).view_as(p))
    return initial, func, readout


def make_data(rng):
    """(times (B, N), values (B, N, CH) with time as channel 0, labels (B,):
    1.0 when the spiral turns anticlockwise)."""
    ts, xs, labels = [], [], []
    for _ in range(BATCH):
        t = sorted(4 * math.pi * rng.urand() for _ in range(N_OBS))
        phase, radius = 2 * math.pi * rng.urand(), 0.5 + rng.urand()
        sense = -1.0 if rng.urand() < 0.5 else 1.0
        labels.append(1.0 if sense > 0 else 0.0)
        rows = []
        for ti in t:
            noise = 0.01 * (rng.urand() + rng.urand() + rng.urand() - 1.5)
            rows.append([ti, radius * math.cos(sense * ti + phase) + noise,
                         radius * math.sin(sense * ti + phase) - noise])
            rng.urand(), rng.urand()  # bench_cde's (unused) missing-value draws
        ts.append(t)
        xs.append(rows)
    return (torch.tensor(ts, dtype=torch.float64), torch.tensor(xs, dtype=torch.float64),
            torch.tensor(labels, dtype=torch.float64))


# ---------------------------------------------------------- benchmark ---
class Counted(torch.nn.Module):
    """The vector field, counting its calls (torchcde calls it once per
    right-hand side of the ODE it hands torchdiffeq)."""

    def __init__(self, func):
        super().__init__()
        self.func, self.nfe = func, 0

    def forward(self, t, z):
        self.nfe += 1
        return self.func(t, z)


def cde_forward(model, x, t, jump, stats):
    """torchcde's NeuralCDE.forward (its README), readout at every grid point."""
    initial, func, readout = model
    X = torchcde.CubicSpline(torchcde.hermite_cubic_coefficients_with_backward_differences(x, t), t)
    z0 = initial(X.evaluate(X.interval[0]))
    f = Counted(func)
    kw = {"options": {"jump_t": X.grid_points[1:-1]}} if jump else {}
    z = torchcde.cdeint(X=X, func=f, z0=z0, t=X.grid_points, adjoint=False, method="dopri5",
                        rtol=1e-4, atol=1e-6, **kw)
    stats["nfe"] += f.nfe
    return readout(z).squeeze(-1)


def cde_final(model, x, t, jump, stats):
    """The readout of the final hidden state (torchcde's irregular_data
    example: cdeint over X.interval, readout(z_T))."""
    initial, func, readout = model
    X = torchcde.CubicSpline(torchcde.hermite_cubic_coefficients_with_backward_differences(x, t), t)
    z0 = initial(X.evaluate(X.interval[0]))
    f = Counted(func)
    kw = {"options": {"jump_t": X.grid_points[1:-1]}} if jump else {}
    z = torchcde.cdeint(X=X, func=f, z0=z0, t=X.interval, adjoint=False, method="dopri5",
                        rtol=1e-4, atol=1e-6, **kw)
    stats["nfe"] += f.nfe
    return readout(z[..., -1, :]).squeeze(-1)


def params_of(model):
    return [p for m in model for p in m.parameters()]


def train_batch(model, x, index, labels, jump):
    def once(stats):
        for p in params_of(model):
            p.grad = None
        loss = torch.nn.functional.mse_loss(cde_final(model, x, index, jump, stats), labels)
        loss.backward()
        stats["loss"] = loss.item()
    return once


def train_loop(model, times, x, labels, jump, n=BATCH):
    def once(stats):
        for p in params_of(model):
            p.grad = None
        total = 0.0
        for b in range(n):
            y = cde_final(model, x[b], times[b], jump, stats)
            loss = (y - labels[b]) ** 2 / BATCH
            loss.backward()
            total += loss.item()
        stats["loss"] = total
    return once


def time_reps(once, warm, reps):
    """One warm-up call of warm, then reps timed calls of once (each with
    fresh stats): the median wall and this thread's CPU seconds, and the
    last call's stats."""
    wall, cpu = [], []
    warm({"nfe": 0})
    for _ in range(reps):
        stats = {"nfe": 0}
        c0, t0 = time.thread_time(), time.perf_counter()
        once(stats)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return statistics.median(wall), statistics.median(cpu), stats


def run_train(name, once, warm, reps, model, info):
    wall, cpu, stats = time_reps(once, warm, reps)
    gnorm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in params_of(model)))
    line = {"bench": name, "ms_per_step": round(1e3 * wall, 3),
            "cpu_ms_per_step": round(1e3 * cpu, 3),
            "loss": stats["loss"], "grad_norm": gnorm, "nfe": stats["nfe"],
            "gradient": "backprop", "optimiser_step": False, "reps": reps}
    line.update(info)
    print(json.dumps(line))
    sys.stdout.flush()


def run(name, once, warm, series, reps, info):
    wall, cpu, stats = time_reps(once, warm, reps)
    line = {"bench": name, "ms_per_batch": round(1e3 * wall, 3),
            "cpu_ms_per_batch": round(1e3 * cpu, 3), "nfe": stats["nfe"],
            "series_per_solve": series}
    line.update(info)
    print(json.dumps(line))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=11)
    ap.add_argument("--loop-reps", type=int, default=3, help="for the loop32 lines (32 solves each)")
    ap.add_argument("--train-reps", type=int, default=11, help="for the train_batch32 lines")
    ap.add_argument("--lines", default="batch32,batch32_jump,loop32,loop32_jump,"
                    "train_batch32,train_batch32_jump,train_loop32_jump,train_loop32")
    a = ap.parse_args()
    setup_torch(torch)
    info = versions(torch, torchcde, torchdiffeq)
    info["torchcde_from"] = os.path.dirname(torchcde.__file__)  # the real library, not a copy
    rng = XorShift()
    model = make_model(rng)
    times, x, labels = make_data(rng)
    index = torch.arange(N_OBS, dtype=torch.float64)

    def batch(jump):
        return lambda s: cde_forward(model, x, index, jump, s)

    def loop(jump, n=BATCH):
        def once(s):
            for b in range(n):
                cde_forward(model, x[b], times[b], jump, s)
        return once

    # a loop line warms up on one series: each of its 32 solves is a call like the first
    work = {"batch32": (batch(False), batch(False), BATCH, a.reps),
            "batch32_jump": (batch(True), batch(True), BATCH, a.reps),
            "loop32": (loop(False), loop(False, 1), 1, a.loop_reps),
            "loop32_jump": (loop(True), loop(True, 1), 1, a.loop_reps)}
    # a train loop line warms up on one series, as the evaluation loops
    train = {"train_batch32": (train_batch(model, x, index, labels, False),
                               train_batch(model, x, index, labels, False), a.train_reps),
             "train_batch32_jump": (train_batch(model, x, index, labels, True),
                                    train_batch(model, x, index, labels, True), a.train_reps),
             "train_loop32_jump": (train_loop(model, times, x, labels, True),
                                   train_loop(model, times, x, labels, True, 1), a.loop_reps),
             "train_loop32": (train_loop(model, times, x, labels, False),
                              train_loop(model, times, x, labels, False, 1), a.loop_reps)}
    for line in a.lines.split(","):
        if line in train:
            once, warm, reps = train[line]
            run_train("w3_torch_" + line, once, warm, reps, model, info)
            continue
        once, warm, series, reps = work[line]
        with torch.no_grad():
            run("w3_torch_" + line, once, warm, series, reps, info)


if __name__ == "__main__":
    main()
