#!/usr/bin/python3
"""Write examples/cnf-demo.json, the example continuous normalizing flow
(docs/cnf.md): dim 2, vector field 3-32-32-2 (tanh) with the time appended
as its last input, weights drawn with NumPy's seeded generator and rounded
to 3 decimals, base N([0, 0], diag(1, 1)^2) spelled out; solver dopri5 at
rtol = atol = 1e-6. Untrained: its density is a smooth warp of the base,
enough to show log_prob, sample and the path between them.
    /usr/bin/python3 examples/gen_cnf_demo.py > examples/cnf-demo.json
"""
import json
import sys

import numpy as np


def linear(rng, n_in, n_out, scale, act):
    w = np.round(rng.normal(0, scale / np.sqrt(n_in), (n_out, n_in)), 3)
    b = np.round(rng.normal(0, 0.2, n_out), 3)
    return {"weight": w.tolist(), "bias": b.tolist(), "activation": act}


def main():
    rng = np.random.default_rng(27)
    doc = {
        "kind": "cnf",
        "description": "example continuous normalizing flow (examples/gen_cnf_demo.py): 2-D, "
                       "3-32-32-2 tanh field, untrained",
        "dim": 2,
        "base": {"mean": [0.0, 0.0], "scale": [1.0, 1.0]},
        "vector_field": {"time_input": True,
                         "layers": [linear(rng, 3, 32, 1.5, "tanh"),
                                    linear(rng, 32, 32, 1.5, "tanh"),
                                    linear(rng, 32, 2, 1.0, "identity")]},
        "solver": {"method": "dopri5", "rtol": 1e-6, "atol": 1e-6},
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
