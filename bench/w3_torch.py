#!/usr/bin/python3
"""w3_torch: workload W3 (docs/cde.md section 7) in PyTorch, computed the way
torchcde + torchdiffeq compute it, for the ratio against bench/bench_cde.

Benchmark-only dependency: Debian's python3-torch (apt-get install
python3-torch); torchcde and torchdiffeq are not installed here, so the two
pieces of them that W3 uses are re-implemented below from their algorithms
(written for this file, following torchcde 0.2 / torchdiffeq 0.2):

  * torchcde.hermite_cubic_coefficients_with_backward_differences and
    CubicSpline.evaluate / .derivative (segment = bucketize(t) - 1, clamped;
    coefficients a, b, 2c, 3d per segment);
  * torchcde.cdeint's vector field (func(t, z) @ dX/dt(t)) and
    torchdiffeq.odeint(method="dopri5"): initial step by Hairer's rule (order
    4 exponent, RMS norms over the whole batch tensor), Dormand-Prince stages
    with the last two stages at nextafter(t1, -inf) ("perturb"), error ratio
    = RMS over the whole (batch, hidden) tensor of err / (atol + rtol *
    max(|y0|, |y1|)), accept if <= 1, step factor min(10, max(0.9 *
    ratio^(-1/5), 0.2 on reject / 1 on accept)), quartic dense output through
    the DPS_C_MID midpoint, optional jump_t (a step is cut at the next jump
    and f is re-evaluated at nextafter(jump, +inf) after it).

What is solved (the choice for irregular data; state it with the numbers):
torchcde needs one time grid for the whole batch. As in its irregular_data
example and its docs, time is a channel (channel 0 = the real observation
time, then the 2 data channels) and the path is parameterised by the
observation index: hermite coefficients on t = 0, 1, ..., 99 (torchcde's
default grid when no t is given), cdeint(X, func, z0, t=X.grid_points) so the
hidden state comes out at every observation (readout at all 100 observation
times). The 32 series are ONE tensor: one shared adaptive step for the batch.
cdeint's default passes no jump_t, so steps cross the knots (line
w3_torch_batch32); w3_torch_batch32_jump passes the interior knots as jump_t
(as bench_cde stops there). w3_torch_loop32 solves the series one at a time
(batch of 1, its own real times as the grid, no time reparameterisation), the
closest analogue of bench_cde's per-series solves.

Same model and data as bench_cde: its xorshift generator is reproduced, so the
weights (PyTorch's default U(-1/sqrt(in), 1/sqrt(in)) for W and b, drawn in
the same order; W is out x in row-major in both) and the 32 spirals are
identical. float64, torch.set_num_threads(1), inference under no_grad (the
benchmark is evaluation). Median of 11 timed runs after a warm-up. Prints
one JSON object per line, as bench_cde does: ms_per_batch (wall, 32 series),
nfe (right-hand sides: in the batch32 lines each one is a (32, 8) tensor
evaluation, in the loop32 lines the sum over the 32 solves), steps
(accepted) and rejected, summed the same way.

Checked by hand against SciPy's DOP853 (rtol 1e-12, segment by segment) on
the same splines: on real times the jump_t solve is within 8e-4 of it
(series 7; readout magnitude 4). The index-grid hermite path is a different
(and for uneven times much wilder) curve than the real-time one, and dopri5
at rtol 1e-4 is only within 2e-2 to 7e-2 of its exact solution there.
"""
import json
import math
import statistics
import sys
import time

import torch

BATCH, N_OBS, HIDDEN, DATA, WIDTH = 32, 100, 8, 2, 128
CH = 1 + DATA
REPS = 11
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
    """(times (B, N), values (B, N, CH) with time as channel 0)."""
    ts, xs = [], []
    for _ in range(BATCH):
        t = sorted(4 * math.pi * rng.urand() for _ in range(N_OBS))
        phase, radius = 2 * math.pi * rng.urand(), 0.5 + rng.urand()
        sense = -1.0 if rng.urand() < 0.5 else 1.0
        rows = []
        for ti in t:
            noise = 0.01 * (rng.urand() + rng.urand() + rng.urand() - 1.5)
            rows.append([ti, radius * math.cos(sense * ti + phase) + noise,
                         radius * math.sin(sense * ti + phase) - noise])
            rng.urand(), rng.urand()  # bench_cde's (unused) missing-value draws
        ts.append(t)
        xs.append(rows)
    return torch.tensor(ts, dtype=torch.float64), torch.tensor(xs, dtype=torch.float64)


# ----------------------------------------------------------- torchcde ---
def hermite_coeffs(x, t):
    """Backward-difference Hermite cubic: per segment a, b, 2c, 3d."""
    h = (t[1:] - t[:-1]).unsqueeze(-1)
    d = (x[..., 1:, :] - x[..., :-1, :]) / h
    d_prev = torch.cat([d[..., :1, :], d[..., :-1, :]], dim=-2)
    a = x[..., :-1, :]
    b = d_prev
    two_c = 2 * (3 * (d - b) - d + d_prev) / h
    three_d = (d - b) / h**2 - two_c / h
    return a, b, two_c, three_d


class CubicSpline:
    def __init__(self, x, t):
        self._t = t
        self._a, self._b, self._two_c, self._three_d = hermite_coeffs(x, t)

    def grid_points(self):
        return self._t

    def _interpret_t(self, t):
        index = torch.bucketize(t, self._t).sub(1).clamp(0, self._b.size(-2) - 1)
        return t - self._t[index], index

    def evaluate(self, t):
        frac, index = self._interpret_t(t)
        frac = frac.unsqueeze(-1)
        inner = 0.5 * self._two_c[..., index, :] + self._three_d[..., index, :] * frac / 3
        inner = self._b[..., index, :] + inner * frac
        return self._a[..., index, :] + inner * frac

    def derivative(self, t):
        frac, index = self._interpret_t(t)
        frac = frac.unsqueeze(-1)
        inner = self._two_c[..., index, :] + self._three_d[..., index, :] * frac
        return self._b[..., index, :] + inner * frac


class VectorField:
    """cdeint's f(t, z) = func(t, z) @ dX/dt(t), counting evaluations."""

    def __init__(self, X, func):
        self.X, self.func, self.nfe = X, func, 0

    def __call__(self, t, z, perturb=None):
        if perturb is True:  # torchdiffeq's _PerturbFunc
            t = torch.nextafter(t, t + 1)
        elif perturb is False:
            t = torch.nextafter(t, t - 1)
        self.nfe += 1
        dX = self.X.derivative(t)
        return (self.func(t, z) @ dX.unsqueeze(-1)).squeeze(-1)


# --------------------------------------------------------- torchdiffeq ---
def _f64(v):
    return torch.tensor(v, dtype=torch.float64)


ALPHA = [1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]
BETA = [_f64(b) for b in (
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])]
C_ERROR = _f64([35 / 384 - 1951 / 21600, 0, 500 / 1113 - 22642 / 50085,
                125 / 192 - 451 / 720, -2187 / 6784 + 12231 / 42400,
                11 / 84 - 649 / 6300, -1 / 60])
C_MID = _f64([6025192743 / 30085553152 / 2, 0, 51252292925 / 65400821598 / 2,
              -2691868925 / 45128329728 / 2, 187940372067 / 1594534317056 / 2,
              -1776094331 / 19743644256 / 2, 11237099 / 235043384 / 2])


def rms(x):
    return x.pow(2).mean().sqrt()


def rk_step(f, y0, f0, t0, dt, t1):
    k = torch.empty(*f0.shape, 7, dtype=y0.dtype)
    k[..., 0] = f0
    for i, (a, b) in enumerate(zip(ALPHA, BETA)):
        ti, pert = (t1, False) if a == 1.0 else (t0 + a * dt, None)
        yi = y0 + k[..., :i + 1].matmul(b * dt).view_as(f0)
        k[..., i + 1] = f(ti, yi, pert)
    return yi, k[..., -1], k.matmul(dt * C_ERROR), k  # FSAL: y1 = last stage


def interp_fit(y0, y1, k, dt):
    ymid = y0 + k.matmul(dt * C_MID).view_as(y0)
    f0, f1 = k[..., 0], k[..., -1]
    return [y0, dt * f0,
            dt * (f1 - 4 * f0) - 11 * y0 - 5 * y1 + 16 * ymid,
            dt * (5 * f0 - 3 * f1) + 18 * y0 + 14 * y1 - 32 * ymid,
            2 * dt * (f1 - f0) - 8 * (y1 + y0) + 16 * ymid]


def interp_eval(coeffs, t0, t1, t):
    x = (t - t0) / (t1 - t0)
    total, xp = coeffs[0] + x * coeffs[1], x
    for c in coeffs[2:]:
        xp = xp * x
        total = total + xp * c
    return total


def odeint_dopri5(f, y0, t, rtol, atol, jump_t=None, stats=None):
    rtol, atol = _f64(rtol), _f64(atol)
    safety, ifactor, dfactor = _f64(0.9), _f64(10.0), _f64(0.2)
    jumps = jump_t if jump_t is not None else torch.empty(0, dtype=torch.float64)
    nj = jumps.tolist()
    ji = min(sum(1 for j in nj if j <= t[0].item()), len(nj) - 1)
    # _before_integrate: f0 and the initial step (order - 1 = 4)
    f0 = f(t[0], y0)
    with torch.no_grad():
        scale = atol + y0.abs() * rtol
        d0, d1 = rms(y0 / scale), rms(f0 / scale)
        h0 = _f64(1e-6) if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        f1 = f(t[0] + h0, y0 + h0 * f0)
        d2 = rms((f1 - f0) / scale) / h0
        if d1 <= 1e-15 and d2 <= 1e-15:
            h1 = torch.max(_f64(1e-6), h0 * 1e-3)
        else:
            h1 = (0.01 / max(d1, d2)) ** (1.0 / 5)
        dt = torch.min(100 * h0, h1)
    y, fy, tp, tc, coeffs = y0, f0, t[0], t[0], [y0] * 5
    out = torch.empty(len(t), *y0.shape, dtype=y0.dtype)
    out[0] = y0
    acc = rej = 0
    for i in range(1, len(t)):
        while t[i] > tc:
            t1 = tc + dt
            on_jump = False
            if nj:
                on_jump = bool(tc < jumps[ji] < t1)
                if on_jump:
                    t1 = jumps[ji]
                    dt = t1 - tc
            y1, fy1, err, k = rk_step(f, y, fy, tc, dt, t1)
            with torch.no_grad():
                ratio = rms(err / (atol + rtol * torch.max(y.abs(), y1.abs())))
            if ratio <= 1:
                acc += 1
                coeffs = interp_fit(y, y1, k, dt)
                if on_jump:
                    if ji != len(nj) - 1:
                        ji += 1
                    fy1 = f(t1, y1, True)
                tp, tc, y, fy = tc, t1, y1, fy1
            else:
                rej += 1
                tp = tc  # torchdiffeq keeps t0 = t1 = the old end
            if ratio == 0:
                dt = dt * ifactor
            else:
                lo = torch.ones((), dtype=torch.float64) if ratio < 1 else dfactor
                dt = dt * torch.min(ifactor, torch.max(safety / ratio ** 0.2, lo))
        out[i] = interp_eval(coeffs, tp, tc, t[i])
    if stats is not None:
        stats["steps"] += acc
        stats["rejected"] += rej
    return out


# ---------------------------------------------------------- benchmark ---
def cde_forward(model, x, t, jump, stats):
    """torchcde's NeuralCDE.forward, readout at every grid point."""
    initial, func, readout = model
    X = CubicSpline(x, t)
    z0 = initial(X.evaluate(t[0]))
    vf = VectorField(X, func)
    jt = t[1:-1] if jump else None
    z = odeint_dopri5(vf, z0, t, rtol=1e-4, atol=1e-6, jump_t=jt, stats=stats)
    z = z.permute(*range(1, z.dim() - 1), 0, z.dim() - 1)  # cdeint's layout
    stats["nfe"] += vf.nfe
    return readout(z).squeeze(-1)


def run(name, once, series):
    times = []
    for r in range(-1, REPS):
        stats = {"steps": 0, "rejected": 0, "nfe": 0}
        t0 = time.perf_counter()
        once(stats)
        if r >= 0:
            times.append(time.perf_counter() - t0)
    print(json.dumps({
        "bench": name, "ms_per_batch": round(1e3 * statistics.median(times), 3),
        "nfe": stats["nfe"], "steps": stats["steps"], "rejected": stats["rejected"],
        "series_per_solve": series, "torch_version": torch.__version__, "threads": 1}))
    sys.stdout.flush()


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    rng = XorShift()
    model = make_model(rng)
    times, x = make_data(rng)
    index = torch.arange(N_OBS, dtype=torch.float64)
    with torch.no_grad():
        run("w3_torch_batch32", lambda s: cde_forward(model, x, index, False, s), BATCH)
        run("w3_torch_batch32_jump", lambda s: cde_forward(model, x, index, True, s), BATCH)

        def loop(s):
            for b in range(BATCH):
                cde_forward(model, x[b], times[b], False, s)

        run("w3_torch_loop32", loop, 1)

        def loop_jump(s):
            for b in range(BATCH):
                cde_forward(model, x[b], times[b], True, s)

        run("w3_torch_loop32_jump", loop_jump, 1)


if __name__ == "__main__":
    main()
