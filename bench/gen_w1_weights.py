#!/usr/bin/python3
"""The demo model examples/spiral.json: a 2 -> 64 -> 64 -> 2 (tanh, tanh,
identity) autonomous vector field (W1's architecture) fitted to the reference spiral (torchdiffeq ode_demo.py),

    dy/dt = (y^3) A,   A = [[-0.1, 2.0], [-2.0, -0.1]]

(y a row vector, y^3 elementwise: the torchdiffeq ode_demo system), so that
its trajectories spiral inwards the way a trained model's do (from y0 = (2, 0)
about eight turns on [0, 25], the radius falling from 2 to about 0.5).

Fit, all with fixed seeds:
  1. random hidden layers (W1 ~ N(0, 1), b1 ~ U(-2.5, 2.5), W2 ~ N(0, 1.5^2/64),
     b2 ~ N(0, 0.5^2)), the last layer by weighted least squares;
  2. every layer refined by L-BFGS (analytic gradients) on the same loss.
The loss is the squared error weighted by 1 / (|f|^2 + 1e-3), i.e. close to
relative, on a 41 x 41 grid over [-2.5, 2.5]^2 plus 1,500 points in
[-0.8, 0.8]^2 (the field is cubic: near the origin it is small, and an
absolute fit leaves spurious fixed points there; step 1 alone does).
[-2.5, 2.5]^2 holds every trajectory from the box [-2, 2]^2, since
V = y1^4 + y2^4 decreases along the true flow (dV/dt = -0.4 (y1^6 + y2^6)).

Writes examples/spiral.json (a model document, docs/model-format.md): the
demo model `make run` stores as "spiral", and what `bench_solve --model
examples/spiral.json` measures (the trained, harder case of W1; the
built-in W1 weights are untrained, PyTorch-default initialised). Prints a summary on stderr. Run from the source tree:
bench/gen_w1_weights.py (takes ~1 min).
"""
import json
import os
import sys

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # reproducible sums, and polite on a shared machine
import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
H = 64
SHAPES = [(H, 2), (H,), (H, H), (H,), (2, H), (2,)]


def field(y):
    return (y**3) @ A


def pack(ps):
    return np.concatenate([p.ravel() for p in ps])


def unpack(v):
    out, i = [], 0
    for s in SHAPES:
        n = int(np.prod(s))
        out.append(v[i:i + n].reshape(s))
        i += n
    return out


def net(v, y):
    W1, b1, W2, b2, W3, b3 = unpack(v)
    return np.tanh(np.tanh(y @ W1.T + b1) @ W2.T + b2) @ W3.T + b3


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(6)
    W1 = rng.normal(0, 1.0, (H, 2))
    b1 = rng.uniform(-2.5, 2.5, H)
    W2 = rng.normal(0, 1.5 / np.sqrt(H), (H, H))
    b2 = rng.normal(0, 0.5, H)
    g = np.linspace(-2.5, 2.5, 41)
    X = np.array([[a, b] for a in g for b in g])
    X = np.vstack([X, rng.uniform(-0.8, 0.8, (1500, 2))])
    F = field(X)
    wt = 1.0 / (np.sum(F**2, axis=1) + 1e-3)

    # 1. last layer by weighted least squares on random features
    P = np.tanh(np.tanh(X @ W1.T + b1) @ W2.T + b2)
    Phi = np.hstack([P, np.ones((len(P), 1))])
    sw = np.sqrt(wt)[:, None]
    sol = np.linalg.lstsq(Phi * sw, F * sw, rcond=None)[0]
    v0 = pack([W1, b1, W2, b2, sol[:H].T, sol[H]])

    # 2. all layers by L-BFGS
    def loss(v):
        W1, b1, W2, b2, W3, b3 = unpack(v)
        h1 = np.tanh(X @ W1.T + b1)
        h2 = np.tanh(h1 @ W2.T + b2)
        r = (h2 @ W3.T + b3 - F) * wt[:, None]
        val = 0.5 * np.sum(r * r / wt[:, None]) / len(X)
        gy = r / len(X)
        g2 = (gy @ W3) * (1 - h2**2)
        g1 = (g2 @ W2) * (1 - h1**2)
        return val, pack([g1.T @ X, g1.sum(0), g2.T @ h1, g2.sum(0), gy.T @ h2, gy.sum(0)])

    res = minimize(loss, v0, jac=True, method="L-BFGS-B", options={"maxiter": 3000})
    v = res.x
    W1, b1, W2, b2, W3, b3 = unpack(v)

    ts = np.linspace(0, 25, 6)
    fit = solve_ivp(lambda t, y: net(v, y), (0, 25), [2.0, 0.0], method="DOP853", rtol=1e-10,
                    atol=1e-12, t_eval=ts)
    true = solve_ivp(lambda t, y: field(y), (0, 25), [2.0, 0.0], method="DOP853", rtol=1e-10,
                     atol=1e-12, t_eval=ts)
    rk45 = solve_ivp(lambda t, y: net(v, y), (0, 25), [2.0, 0.0], method="RK45", rtol=1e-6,
                     atol=1e-8)
    print(f"loss {loss(v0)[0]:.3g} -> {res.fun:.3g} after {res.nit} L-BFGS iterations",
          file=sys.stderr)
    print(f"SciPy RK45 rtol 1e-6 atol 1e-8 on [0, 25] from (2, 0): nfev {rk45.nfev}",
          file=sys.stderr)
    for t, a, b in zip(ts, fit.y.T, true.y.T):
        print(f"t={t:5.1f}  model ({a[0]: .3f}, {a[1]: .3f})  |y| {np.hypot(*a):.3f}   "
              f"true ({b[0]: .3f}, {b[1]: .3f})  |y| {np.hypot(*b):.3f}", file=sys.stderr)

    doc = {
        "kind": "ode",
        "state_dim": 2,
        "description": "spiral: 2-64-64-2 tanh MLP fitted to dy/dt = (y^3) A, "
                       "A = [[-0.1, 2.0], [-2.0, -0.1]] (the demo model, "
                       "bench/gen_w1_weights.py)",
        "vector_field": {
            "time_input": False,
            "layers": [
                {"weight": W1.tolist(), "bias": b1.tolist(), "activation": "tanh"},
                {"weight": W2.tolist(), "bias": b2.tolist(), "activation": "tanh"},
                {"weight": W3.tolist(), "bias": b3.tolist(), "activation": "identity"},
            ],
        },
        "solver": {"method": "dopri5", "rtol": 1e-6, "atol": 1e-8},
    }
    write_doc(os.path.join(here, "..", "examples", "spiral.json"), doc)


def write_doc(path, doc):
    """The model document, one weight row per line (numbers as repr writes
    them: they read back to the same doubles)."""
    d = json.dumps
    vf = doc["vector_field"]
    out = ["{"]
    for k in ("kind", "state_dim", "description"):
        out.append(f"  {d(k)}: {d(doc[k])},")
    out.append('  "vector_field": {')
    out.append(f'    "time_input": {d(vf["time_input"])},')
    out.append('    "layers": [')
    for i, layer in enumerate(vf["layers"]):
        rows = ",\n".join("        " + d(r) for r in layer["weight"])
        out.append('      {"weight": [\n' + rows + "],")
        out.append(f'       "bias": {d(layer["bias"])},')
        out.append(f'       "activation": {d(layer["activation"])}}}'
                   + ("," if i + 1 < len(vf["layers"]) else ""))
    out.append("    ]")
    out.append("  },")
    out.append(f'  "solver": {d(doc["solver"])}')
    out.append("}")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")

if __name__ == "__main__":
    main()
