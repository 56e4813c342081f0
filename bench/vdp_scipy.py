#!/usr/bin/env python3
"""SciPy's side of bench/bench_hybrid: Van der Pol, mu = 1000, from (2, 0) to
t = 3000 with Radau and the analytic Jacobian at rtol = atol = 1e-6 (the
tolerances bench_hybrid gives rodas4). Prints the median of 5 solves.

    /usr/bin/python3 bench/vdp_scipy.py
"""
import time

import numpy as np
from scipy.integrate import solve_ivp

MU = 1000.0


def f(t, y):
    return [y[1], MU * (1 - y[0] ** 2) * y[1] - y[0]]


def jac(t, y):
    return [[0.0, 1.0], [-2 * MU * y[0] * y[1] - 1.0, MU * (1 - y[0] ** 2)]]


times = []
for _ in range(5):
    t0 = time.perf_counter()
    r = solve_ivp(f, (0, 3000), [2.0, 0.0], method="Radau", jac=jac, rtol=1e-6, atol=1e-6)
    times.append(time.perf_counter() - t0)
    assert r.success, r.message
print("SciPy Radau (analytic Jacobian) mu=1000 to t=3000, rtol=atol=1e-6: %.1f ms per solve "
      "(%d steps, %d NFE, %d Jacobians, %d LU); y(3000) = (%.6f, %.6g)"
      % (1e3 * float(np.median(times)), len(r.t) - 1, r.nfev, r.njev, r.nlu, r.y[0, -1], r.y[1, -1]))
