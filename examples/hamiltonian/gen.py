#!/usr/bin/env python3
"""Write the hamiltonian example documents (docs/structured.md).

pendulum.json  the exact pendulum, H = p^2 / 2 + 1 - cos q, in the separable
               "potential" + "mass" form: V(q) = 1 - sin(q + pi/2) is two
               linear layers around a sin activation, so the served energy is
               the pendulum's own, to rounding.
hnn.json       a general H(q, p): a 2-16-16-1 tanh network (the shape of a
               trained Hamiltonian neural network) with weights drawn from a
               fixed seed (standard library only, so the file is reproducible).

Run from the repository root: python3 examples/hamiltonian/gen.py
"""
import json
import math
import random


def linear(w, b, act):
    return {"weight": w, "bias": b, "activation": act}


def pendulum():
    v = [linear([[1.0]], [math.pi / 2], "sin"), linear([[-1.0]], [1.0], "identity")]
    return {"kind": "hamiltonian", "dof": 1,
            "description": "pendulum: H = p^2/2 + 1 - cos q (exact, separable)",
            "potential": {"layers": v}, "mass": [1.0],
            "solver": {"method": "yoshida4", "step": 0.01}}


def hnn(seed=26, width=16):
    rnd = random.Random(seed)
    g = lambda n, m, s: [[rnd.uniform(-s, s) for _ in range(m)] for _ in range(n)]
    layers = [linear(g(width, 2, 1.0), [rnd.uniform(-0.5, 0.5) for _ in range(width)], "tanh"),
              linear(g(width, width, 0.5), [rnd.uniform(-0.5, 0.5) for _ in range(width)], "tanh"),
              linear(g(1, width, 1.0), [0.0], "identity")]
    return {"kind": "hamiltonian", "dof": 1,
            "description": "a general (non-separable) H(q, p): a 2-16-16-1 tanh network with "
                           "seeded random weights, the shape of a trained HNN",
            "hamiltonian": {"layers": layers},
            "solver": {"method": "gauss4", "step": 0.05}}


if __name__ == "__main__":
    with open("examples/hamiltonian/pendulum.json", "w") as f:
        json.dump(pendulum(), f)
        f.write("\n")
    with open("examples/hamiltonian/hnn.json", "w") as f:
        json.dump(hnn(), f)
        f.write("\n")
