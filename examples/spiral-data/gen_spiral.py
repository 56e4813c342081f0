#!/usr/bin/python3
"""Generate the reference spiral demo's data (torchdiffeq examples/ode_demo.py).

The true system dy/dt = (y**3) A with A = [[-0.1, 2.0], [-2.0, -0.1]] (y a
row vector), y0 = (2, 0), sampled at 1000 evenly spaced times on [0, 25],
solved with SciPy's DOP853 at rtol 1e-12, atol 1e-14. Writes spiral.csv in
the dataset CSV format (series,t,y1,y2), one series "spiral".

Usage: examples/spiral-data/gen_spiral.py > examples/spiral-data/spiral.csv
"""
import sys

import numpy as np
from scipy.integrate import solve_ivp

A = np.array([[-0.1, 2.0], [-2.0, -0.1]])


def rhs(_t, y):
    return (y ** 3) @ A


def main():
    t = np.linspace(0.0, 25.0, 1000)
    sol = solve_ivp(rhs, (0.0, 25.0), [2.0, 0.0], method="DOP853", t_eval=t,
                    rtol=1e-12, atol=1e-14)
    if not sol.success:
        sys.exit("solve failed: " + sol.message)
    out = sys.stdout
    out.write("series,t,y1,y2\n")
    for i, ti in enumerate(t):
        out.write("spiral,%r,%r,%r\n" % (float(ti), float(sol.y[0, i]), float(sol.y[1, i])))


if __name__ == "__main__":
    main()
