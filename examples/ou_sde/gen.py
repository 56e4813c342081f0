#!/usr/bin/python3
"""The Ornstein-Uhlenbeck data set of the sde training acceptance test
(docs/sde.md, "Training"; tests/check_sde_train.c).

    dX = A X dt + S dW,   S = diag(sigma),   X in R^2,

sampled at irregular times with the exact transition law, independent of
odeserve's numerics:

    X(t + d) | X(t) ~ N(expm(A d) X(t), Q(d)),
    Q(d) = int_0^d expm(A s) S S^T expm(A s)^T ds,

the mean by scipy.linalg.expm, Q by Van Loan's block exponential (the
integral exactly), checked against the stationary Lyapunov form
Q(d) = P - expm(A d) P expm(A d)^T with A P + P A^T + S S^T = 0.

Writes ou_train.json (the dataset the job trains on) and ou_test.json
(held-out series: the band's coverage is measured on their transitions) in
the dataset format of docs/training-jobs.md, and truth.json (A, sigma).
Run: /usr/bin/python3 examples/ou_sde/gen.py [outdir]
"""
import json
import os
import sys

import numpy as np
from scipy.linalg import expm, solve_continuous_lyapunov

A = np.array([[-0.8, 1.0], [-1.0, -0.6]])
SIGMA = np.array([0.3, 0.5])
SEED = 20261206


def transition(d):
    """Mean matrix and covariance of the exact transition over d."""
    n = A.shape[0]
    ss = np.diag(SIGMA ** 2)
    # Van Loan: expm([[-A, SS^T], [0, A^T]] d) = [[., F^-1 Q], [0, F^T]]
    block = np.zeros((2 * n, 2 * n))
    block[:n, :n] = -A
    block[:n, n:] = ss
    block[n:, n:] = A.T
    e = expm(block * d)
    f = e[n:, n:].T
    q = f @ e[:n, n:]
    q = 0.5 * (q + q.T)
    p = solve_continuous_lyapunov(A, -ss)
    q_lyap = p - f @ p @ f.T
    assert np.allclose(q, q_lyap, rtol=1e-9, atol=1e-12), (q, q_lyap)
    return f, q


def series(rng, n_obs):
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(0.05, 0.4, n_obs - 1))])
    x = np.empty((n_obs, 2))
    x[0] = rng.normal(0.0, 2.0, 2)  # away from the stationary law: the relaxation shows A
    for i in range(1, n_obs):
        f, q = transition(t[i] - t[i - 1])
        x[i] = rng.multivariate_normal(f @ x[i - 1], q)
    return {"t": [round(v, 10) for v in t.tolist()],
            "y": [[round(v, 10) for v in row] for row in x.tolist()]}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(SEED)
    train = {"series": [series(rng, 21) for _ in range(200)]}
    test = {"series": [series(rng, 21) for _ in range(50)]}
    for name, doc in (("ou_train.json", train), ("ou_test.json", test)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump({"A": A.tolist(), "sigma": SIGMA.tolist()}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
