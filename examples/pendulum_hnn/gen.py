#!/usr/bin/python3
"""The noisy pendulum of the HNN training acceptance test
(tests/check_hnn_train.c; docs/structured.md, "Training").

    H(q, p) = p^2 / 2 + (1 - cos q),   dq/dt = p,   dp/dt = -sin q,

Greydanus et al. (2019)'s pendulum task with unit constants. 25 trajectories
start at radius r ~ U(0.5, 1.3) in the (q, p) plane (energies 0.12 to 0.82,
well below the separatrix at 2) at a uniform angle, and are sampled every
0.2 time units for 50 points by SciPy's DOP853 at rtol 1e-12, atol 1e-12
(independent of odeserve's numerics). At each sample the exact derivative
is the field at the exact state; the dataset holds the state plus Gaussian
noise of standard deviation 0.01 and the derivative plus noise of standard
deviation 0.05, as four channels [q, p, dq/dt, dp/dt] (the "channels" rule
of objective.derivatives).

Seed 20261206 (numpy's default_rng). Writes pendulum.json (the dataset
upload document, docs/training-jobs.md) next to this script, or in the
directory given as the first argument.
Run: /usr/bin/python3 examples/pendulum_hnn/gen.py [outdir]
"""
import json
import os
import sys

import numpy as np
from scipy.integrate import solve_ivp

SEED = 20261206
N_SERIES = 25
N_POINTS = 50
DT = 0.2
NOISE_X = 0.01
NOISE_DX = 0.05


def field(_t, x):
    return [x[1], -np.sin(x[0])]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(SEED)
    t = np.arange(N_POINTS) * DT
    series = []
    for _ in range(N_SERIES):
        r = rng.uniform(0.5, 1.3)
        a = rng.uniform(0, 2 * np.pi)
        x0 = [r * np.cos(a), r * np.sin(a)]
        sol = solve_ivp(field, (0, t[-1]), x0, method="DOP853", t_eval=t, rtol=1e-12, atol=1e-12)
        x = sol.y.T
        dx = np.stack([x[:, 1], -np.sin(x[:, 0])], axis=1)
        xn = x + rng.normal(0, NOISE_X, x.shape)
        dxn = dx + rng.normal(0, NOISE_DX, dx.shape)
        y = np.concatenate([xn, dxn], axis=1)
        series.append({"t": [round(v, 12) for v in t.tolist()],
                       "y": [[float("%.10g" % v) for v in row] for row in y.tolist()]})
    with open(os.path.join(out, "pendulum.json"), "w") as f:
        json.dump({"series": series}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
