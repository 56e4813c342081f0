#!/usr/bin/env python3
"""Write the lagrangian example document (docs/structured.md, README).

pendulum.json  a pendulum as a Lagrangian network, L(q, v) = (1 - cos(e v)) / e^2 + cos q
               with e = 0.01: one hidden layer of two sin units, sin(q + pi/2) = cos q and
               sin(e v + pi/2) = cos(e v), then weights [1, -1/e^2] and bias 1/e^2. Its mass
               matrix d2L/dv2 = cos(e v) is 1 to within e^2 v^2 / 2, so the motion is the
               pendulum's, q'' = -sin q / cos(e v), to that relative size (5e-5 at v = 1),
               and the energy E = v sin(e v) / e - L is v^2/2 - cos q to within e^2 v^4 / 8.
               Exact weights, nothing trained: a one-layer MLP applies one activation to
               all its units, so the kinetic term is the small-angle side of a cosine.

Run from the repository root: python3 examples/lagrangian/gen.py
"""
import json
import math

E = 0.01


def pendulum():
    hidden = {"weight": [[1.0, 0.0], [0.0, E]], "bias": [math.pi / 2, math.pi / 2],
              "activation": "sin"}
    out = {"weight": [[1.0, -1.0 / E**2]], "bias": [1.0 / E**2], "activation": "identity"}
    return {"kind": "lagrangian", "dof": 1,
            "description": "pendulum: L = (1 - cos(0.01 v)) / 0.01^2 + cos q "
                           "(v^2/2 + cos q to 1e-4 relative; examples/lagrangian/gen.py)",
            "lagrangian": {"layers": [hidden, out]},
            "solver": {"method": "dop853", "rtol": 1e-10, "atol": 1e-10}}


if __name__ == "__main__":
    with open("examples/lagrangian/pendulum.json", "w") as f:
        json.dump(pendulum(), f)
        f.write("\n")
