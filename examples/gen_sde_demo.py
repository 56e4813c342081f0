#!/usr/bin/python3
"""Write examples/sde-demo.json, the example neural SDE (docs/sde.md):
a 2-state Ito SDE with diagonal noise, drift 2-16-2 (tanh) with time input,
diffusion 2-16-2 (tanh, then softplus on the output so that g > 0), weights
drawn with NumPy's seeded generator and rounded to 3 decimals; solver
euler_maruyama with step 0.01.
    /usr/bin/python3 examples/gen_sde_demo.py > examples/sde-demo.json
"""
import json
import sys

import numpy as np


def linear(rng, n_in, n_out, scale, act):
    w = np.round(rng.normal(0, scale / np.sqrt(n_in), (n_out, n_in)), 3)
    b = np.round(rng.normal(0, 0.1, n_out), 3)
    return {"weight": w.tolist(), "bias": b.tolist(), "activation": act}


def main():
    rng = np.random.default_rng(25)
    doc = {
        "kind": "sde",
        "description": "example neural SDE (examples/gen_sde_demo.py): 2 states, diagonal Ito noise",
        "state_dim": 2,
        "calculus": "ito",
        "noise": "diagonal",
        "drift": {"time_input": True,
                  "layers": [linear(rng, 3, 16, 1.0, "tanh"), linear(rng, 16, 2, 0.5, "identity")]},
        "diffusion": {"time_input": False,
                      "layers": [linear(rng, 2, 16, 1.0, "tanh"), linear(rng, 16, 2, 0.3, "softplus")]},
        "solver": {"method": "euler_maruyama", "step": 0.01},
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
