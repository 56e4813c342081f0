#!/usr/bin/python3
"""The stiff benchmark (bench/bench_stiff.c) next to SciPy's stiff solvers.

Runs bench/bench_stiff (which writes its weights to a file), then solves the
same neural ODE -- f(y) = W2 tanh(W1 y + b1) + b2, state 3, to t = 10 -- with
scipy.integrate.solve_ivp's Radau and BDF given the analytic Jacobian
W2 diag(1 - tanh^2) W1, and prints:
- the stiffness ratio max|lambda| / min|lambda| of the Jacobian along the
  reference solution;
- per method and tolerance: steps, Jacobians, LU factorisations, median CPU
  microseconds per solve, the max error over the 11 output times against
  Radau at rtol 1e-13 (a work-precision table, docs/solvers.md);
- the ratio SciPy's best / odeserve's best at rtol 1e-6 (target >= 20);
- per tolerance, auto / the best single implicit method (target <= 1.5).
CPU times are process CPU time (time.process_time), medians over repeats.

Usage: /usr/bin/python3 bench/stiff_scipy.py [path/to/bench_stiff]
(Debian's python3 has numpy and scipy; run from the build tree.)"""
import json
import os
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    from scipy.integrate import solve_ivp
    import scipy
except ImportError:
    print("stiff_scipy.py needs numpy and scipy (Debian: python3-scipy); skipped")
    sys.exit(0)

BENCH = sys.argv[1] if len(sys.argv) > 1 else "bench/bench_stiff"
RTOLS = [1e-4, 1e-6, 1e-8, 1e-10]
ATOL_OF = lambda r: r * 1e-3


def run_c(rtol, weights=None, repeat=200, methods="rodas4,esdirk4,auto"):
    cmd = [BENCH, "--rtol", repr(rtol), "--atol", repr(ATOL_OF(rtol)), "--repeat", str(repeat),
           "--methods", methods]
    if weights:
        cmd += ["--weights", weights]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        wpath = os.path.join(tmp, "w.json")
        c6 = run_c(1e-6, wpath, methods="rodas4,esdirk4,auto,dopri5")
        w = json.load(open(wpath))
    n, H = w["state"], w["hidden"]
    p = np.array(w["params"])
    W1 = p[:H * n].reshape(H, n)
    b1 = p[H * n:H * n + H]
    W2 = p[H * n + H:H * n + H + n * H].reshape(n, H)
    b2 = p[H * n + H + n * H:]
    y0, t = np.array(w["y0"]), np.array(w["t"])

    def f(_t, y):
        return W2 @ np.tanh(W1 @ y + b1) + b2

    def jac(_t, y):
        s = 1 - np.tanh(W1 @ y + b1) ** 2
        return (W2 * s) @ W1

    ref = solve_ivp(f, (0, t[-1]), y0, method="Radau", t_eval=t, rtol=1e-13, atol=1e-15,
                    jac=jac).y.T
    lam = [np.abs(np.linalg.eigvals(jac(0, y))) for y in ref]
    ratio = max(l.max() / l.min() for l in lam)
    print("stiffness ratio along the solution: max |lambda| / min |lambda| = %.3g" % ratio)
    print("load average: %s" % open("/proc/loadavg").read().split()[:3])
    print("scipy %s, numpy %s" % (scipy.__version__, np.__version__))

    def err_of(y):
        return float(np.max(np.abs(np.asarray(y).reshape(len(t), n) - ref)))

    rows = []
    for rtol in RTOLS:
        cs = c6 if rtol == 1e-6 else run_c(rtol)
        for r in cs:
            rows.append(("odeserve " + r["method"], rtol, r["steps"], r["nfe"], r["n_jac"],
                         r["n_lu"], r["median_cpu_us"], err_of(r["y"])))
        for meth in ("Radau", "BDF"):
            reps = 7
            times = []
            for _ in range(reps):
                c0 = time.process_time()
                sol = solve_ivp(f, (0, t[-1]), y0, method=meth, t_eval=t, rtol=rtol,
                                atol=ATOL_OF(rtol), jac=jac)
                times.append(time.process_time() - c0)
            # with t_eval, sol.t holds the output times: the steps from a run without
            steps = len(solve_ivp(f, (0, t[-1]), y0, method=meth, rtol=rtol, atol=ATOL_OF(rtol),
                                  jac=jac).t) - 1
            rows.append(("scipy " + meth, rtol, steps, sol.nfev, sol.njev, sol.nlu,
                         1e6 * sorted(times)[reps // 2], err_of(sol.y.T)))
    print("\n| solver | rtol (atol = rtol/1000) | steps | f evals | Jacobians | LUs "
          "| median CPU µs | max error |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %g | %d | %d | %d | %d | %.0f | %.2g |" % r)
    best_c = min(r[6] for r in rows if r[1] == 1e-6 and r[0].startswith("odeserve")
                 and "dopri5" not in r[0] and "auto" not in r[0])
    best_s = min(r[6] for r in rows if r[1] == 1e-6 and r[0].startswith("scipy"))
    print("\nrtol 1e-6: SciPy's best %.0f µs / odeserve's best %.1f µs = %.0fx (target >= 20x)"
          % (best_s, best_c, best_s / best_c))
    for rtol in RTOLS:
        single = min(r[6] for r in rows if r[1] == rtol and r[0].startswith("odeserve")
                     and "dopri5" not in r[0] and "auto" not in r[0])
        auto = [r[6] for r in rows if r[1] == rtol and r[0] == "odeserve auto"]
        if auto:
            print("rtol %g: auto %.1f µs / best single method %.1f µs = %.2f (target <= 1.5)"
                  % (rtol, auto[0], single, auto[0] / single))


if __name__ == "__main__":
    main()
