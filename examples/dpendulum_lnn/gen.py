#!/usr/bin/python3
"""The noisy double pendulum of the LNN training acceptance test
(tests/check_lnn_dp.c; docs/structured.md, "Training: lagrangian").

Two unit masses on massless rods of unit length, g = 1, angles from the
downward vertical:

    L = w1^2 + w2^2 / 2 + w1 w2 cos(q1 - q2) + 2 cos q1 + cos q2,
    E = w1^2 + w2^2 / 2 + w1 w2 cos(q1 - q2) - 2 cos q1 - cos q2,

(w = dq/dt), whose Euler-Lagrange equations are solved here in closed form
(M = [[2, c], [c, 1]], c = cos(q1 - q2)). N_SERIES trajectories start at
angles ~ U(-AMP, AMP) and angular velocities ~ U(-AMP/2, AMP/2), and are
sampled every DT for N_POINTS points by SciPy's DOP853 at rtol = atol =
1e-12 (independent of odeserve's numerics). At each sample the exact time
derivative is the field at the exact state; the dataset holds the state
plus Gaussian noise of standard deviation NOISE_X and the derivative plus
noise of standard deviation NOISE_DX, as eight channels
[q1, q2, w1, w2, dq1/dt, dq2/dt, dw1/dt, dw2/dt] (the "channels" rule of
objective.derivatives).

The rollouts of the test start from N_TEST states (drawn like the training
states, by a separate generator, so none is a training state) and are
compared with the exact motion, written to truth.json: every OUT_DT up to
HORIZON, the state and its energy.

Seed 20261207 (numpy's default_rng; the test states from seed + 1). Writes
dpendulum.json (the dataset upload document, docs/training-jobs.md) and
truth.json next to this script, or in the directory given as the first
argument. Run: /usr/bin/python3 examples/dpendulum_lnn/gen.py [outdir]
"""
import json
import os
import sys

import numpy as np
from scipy.integrate import solve_ivp

SEED = 20261207
N_SERIES = 10
N_POINTS = 50
DT = 0.1
AMP = 1.0
NOISE_X = 0.01
NOISE_DX = 0.05
N_TEST = 5
HORIZON = 20.0
OUT_DT = 0.05


def accel(q1, q2, w1, w2):
    s, c = np.sin(q1 - q2), np.cos(q1 - q2)
    # dL/dq - (d2L/dw dq) w, then M a = rhs with M = [[2, c], [c, 1]]
    r1 = -2 * np.sin(q1) - w2 * w2 * s
    r2 = -np.sin(q2) + w1 * w1 * s
    det = 2 - c * c
    return (r1 - c * r2) / det, (2 * r2 - c * r1) / det


def field(_t, x):
    a1, a2 = accel(*x)
    return [x[2], x[3], a1, a2]


def energy(x):
    q1, q2, w1, w2 = x[..., 0], x[..., 1], x[..., 2], x[..., 3]
    return w1 * w1 + 0.5 * w2 * w2 + w1 * w2 * np.cos(q1 - q2) - 2 * np.cos(q1) - np.cos(q2)


def draw(rng):
    return [rng.uniform(-AMP, AMP), rng.uniform(-AMP, AMP),
            rng.uniform(-AMP / 2, AMP / 2), rng.uniform(-AMP / 2, AMP / 2)]


def solve(x0, t):
    sol = solve_ivp(field, (0, t[-1]), x0, method="DOP853", t_eval=t, rtol=1e-12, atol=1e-12)
    return sol.y.T


def num(v):
    return float("%.10g" % v)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(SEED)
    t = np.arange(N_POINTS) * DT
    series = []
    for _ in range(N_SERIES):
        x = solve(draw(rng), t)
        a1, a2 = accel(x[:, 0], x[:, 1], x[:, 2], x[:, 3])
        dx = np.stack([x[:, 2], x[:, 3], a1, a2], axis=1)
        xn = x + rng.normal(0, NOISE_X, x.shape)
        dxn = dx + rng.normal(0, NOISE_DX, dx.shape)
        y = np.concatenate([xn, dxn], axis=1)
        series.append({"t": [round(v, 12) for v in t.tolist()],
                       "y": [[num(v) for v in row] for row in y.tolist()]})
    with open(os.path.join(out, "dpendulum.json"), "w") as f:
        json.dump({"series": series}, f, separators=(",", ":"))
        f.write("\n")
    trng = np.random.default_rng(SEED + 1)
    to = np.round(np.arange(int(round(HORIZON / OUT_DT)) + 1) * OUT_DT, 12)
    runs = []
    for _ in range(N_TEST):
        x0 = draw(trng)
        x = solve(x0, to)
        runs.append({"y0": x0, "y": [[num(v) for v in row] for row in x.tolist()],
                     "energy": [num(v) for v in energy(x).tolist()]})
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump({"t": to.tolist(), "runs": runs}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
