"""odeserve-export and odeserve-import: the PyTorch bridge from the shell.

Exit status: 0 done, 1 the upload failed (API or connection error), 2 bad
arguments or a module that cannot be converted (the message names it).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

from . import torch_bridge as tb
from .client import Client
from .errors import ApiError, ConnectionFailed


def _names(text: Optional[str]) -> Optional[List[str]]:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _solver(a: argparse.Namespace) -> Dict[str, Any]:
    s: Dict[str, Any] = {}
    for k in ("method", "rtol", "atol"):
        v = getattr(a, k)
        if v is not None:
            s[k] = v
    return s


def export_main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    p = argparse.ArgumentParser(
        prog="odeserve-export", allow_abbrev=False,
        description="Write an odeserve model document from PyTorch files: a torchdiffeq "
                    "vector field (kind ode), a torchcde initial / CDEFunc / readout "
                    "triple (kind cde), torchsde's drift and diffusion networks (kind sde), a "
                    "Hamiltonian neural network (kind hamiltonian) or an FFJORD vector field "
                    "(kind cnf). Each file is a TorchScript archive "
                    "(torch.jit.save(torch.jit.script(module))), whose activation modules "
                    "are read from it, or a state_dict (torch.save(module.state_dict())), "
                    "whose activations you name. Supported modules: "
                    + ", ".join(tb.SUPPORTED) + ".",
        epilog="Exit status: 0 done, 1 the upload failed, 2 bad arguments or an "
               "unsupported module.")
    p.add_argument("--kind", choices=("ode", "cde", "sde", "hamiltonian", "cnf"), default="ode")
    p.add_argument("file", nargs="?", help="ode, cnf: the vector field")
    p.add_argument("--activations", help="state_dict: one per Linear, e.g. tanh,tanh,identity")
    p.add_argument("--prefix", default="", help="state_dict: the keys' prefix, e.g. net.")
    p.add_argument("--state-dim", type=int, help="ode: default the output width - augment")
    p.add_argument("--augment-dim", type=int, default=0, help="ode: augmented zeros (0)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--time-input", dest="time_input", action="store_true", default=None,
                   help="ode: t is the network's last input (default: when it takes one more "
                        "value than it returns)")
    g.add_argument("--no-time-input", dest="time_input", action="store_false")
    p.add_argument("--func", help="cde: the CDEFunc (hidden -> hidden x input)")
    p.add_argument("--func-activations")
    p.add_argument("--initial", help="cde: the initial network (X(t0) -> z0)")
    p.add_argument("--initial-activations")
    p.add_argument("--readout", help="cde: the readout network (z -> output)")
    p.add_argument("--readout-activations")
    p.add_argument("--interpolation", help="cde: " + ", ".join(sorted(tb.INTERPOLATIONS)))
    p.add_argument("--no-time-channel", dest="time_channel", action="store_false",
                   help="cde: the path has no time channel (torchcde: t not prepended to X)")
    p.add_argument("--intensity", action="store_true", help="cde: intensity channels")
    p.add_argument("--drift", help="sde: the drift network (state (+ t) -> state)")
    p.add_argument("--drift-activations")
    p.add_argument("--diffusion", help="sde: the diffusion network (see --noise)")
    p.add_argument("--diffusion-activations")
    p.add_argument("--noise", default="diagonal", choices=tb.SDE_NOISE,
                   help="sde: torchsde's noise_type (diagonal)")
    p.add_argument("--calculus", default="ito", choices=("ito", "stratonovich"),
                   help="sde: torchsde's sde_type (ito)")
    p.add_argument("--brownian-dim", type=int, help="sde: Brownian motions of general noise")
    p.add_argument("--step", type=float, help="sde, hamiltonian: the solver's fixed step")
    p.add_argument("--hamiltonian", help="hamiltonian: H(q, p), 2 dof -> 1")
    p.add_argument("--hamiltonian-activations")
    p.add_argument("--potential", help="hamiltonian: V(q), dof -> 1 (with --mass or --kinetic)")
    p.add_argument("--potential-activations")
    p.add_argument("--kinetic", help="hamiltonian: T(p), dof -> 1")
    p.add_argument("--kinetic-activations")
    p.add_argument("--mass", help="hamiltonian: dof positive masses, e.g. 1,2")
    p.add_argument("--base-mean", help="cnf: the base's mean, dim numbers (default 0)")
    p.add_argument("--base-scale", help="cnf: the base's scale, dim numbers (default 1)")
    p.add_argument("--method")
    p.add_argument("--rtol", type=float)
    p.add_argument("--atol", type=float)
    p.add_argument("--description")
    p.add_argument("-o", "--output", help="write the document here (default stdout)")
    p.add_argument("--url", help="upload to this daemon instead (with --name)")
    p.add_argument("--name", help="the model's name for --url")
    p.add_argument("--token", help="API token for --url (default $ODESERVE_TOKEN)")
    a = p.parse_args(argv)
    try:
        if a.kind == "ode":
            if not a.file:
                p.error("ode: the vector field's file is required")
            layers = tb.load_vector_field(a.file, _names(a.activations), a.prefix)
            doc = tb.ode_document(layers, state_dim=a.state_dim, augment_dim=a.augment_dim,
                                  time_input=a.time_input, solver=_solver(a),
                                  description=a.description)
        elif a.kind == "sde":
            if not (a.drift and a.diffusion):
                p.error("sde: --drift and --diffusion are required")
            solver = _solver(a)
            if a.step is not None:
                solver["step"] = a.step
            doc = tb.sde_document(
                tb.load_network(a.drift, _names(a.drift_activations), a.prefix),
                tb.load_network(a.diffusion, _names(a.diffusion_activations), a.prefix),
                noise=a.noise, calculus=a.calculus, brownian_dim=a.brownian_dim,
                solver=solver, description=a.description)
        elif a.kind == "hamiltonian":
            solver = _solver(a)
            if a.step is not None:
                solver["step"] = a.step
            net = lambda f, acts: tb.load_network(f, _names(acts), a.prefix) if f else None
            doc = tb.hamiltonian_document(
                hamiltonian=net(a.hamiltonian, a.hamiltonian_activations),
                potential=net(a.potential, a.potential_activations),
                kinetic=net(a.kinetic, a.kinetic_activations),
                mass=[float(x) for x in _names(a.mass)] if a.mass else None,
                solver=solver, description=a.description)
        elif a.kind == "cnf":
            if not a.file:
                p.error("cnf: the vector field's file is required")
            doc = tb.cnf_document(
                tb.load_vector_field(a.file, _names(a.activations), a.prefix),
                base_mean=[float(x) for x in _names(a.base_mean)] if a.base_mean else None,
                base_scale=[float(x) for x in _names(a.base_scale)] if a.base_scale else None,
                solver=_solver(a), description=a.description)
        else:
            if not (a.func and a.initial and a.readout and a.interpolation):
                p.error("cde: --func, --initial, --readout and --interpolation are required")
            doc = tb.cde_document(
                tb.load_network(a.func, _names(a.func_activations), a.prefix),
                tb.load_network(a.initial, _names(a.initial_activations), a.prefix),
                tb.load_network(a.readout, _names(a.readout_activations), a.prefix),
                interpolation=a.interpolation, time_channel=a.time_channel,
                intensity=a.intensity, solver=_solver(a), description=a.description)
    except (tb.BridgeError, OSError) as exc:
        sys.stderr.write(f"odeserve-export: {exc}\n")
        return 2
    if a.url:
        if not a.name:
            p.error("--url needs --name")
        try:
            with Client(a.url, a.token) as c:
                v = c.upload(a.name, doc)
        except (ApiError, ConnectionFailed) as exc:
            sys.stderr.write(f"odeserve-export: {exc}\n")
            return 1
        out.write(f"{a.name} version {v}\n")
        return 0
    text = json.dumps(doc, indent=1) + "\n"
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    else:
        out.write(text)
    return 0


def import_main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    p = argparse.ArgumentParser(
        prog="odeserve-import", allow_abbrev=False,
        description="Write PyTorch modules (TorchScript, float64) from an odeserve model "
                    "document: an ode document gives the vector field forward(t, y); a cde "
                    "document gives initial, func (forward(t, z) -> hidden x input) and "
                    "readout archives; an sde document drift and diffusion archives "
                    "(forward(t, y), torchsde's f and g); a hamiltonian document its "
                    "networks (PREFIX-hamiltonian.pt, or -potential.pt and -kinetic.pt); a cnf "
                    "document its vector field forward(t, z). Load them with torch.jit.load.",
        epilog="Exit status: 0 done, 1 the download failed, 2 bad arguments.")
    p.add_argument("document", nargs="?", help="a model document file (or --url and --name)")
    p.add_argument("--url", help="export the document from this daemon")
    p.add_argument("--name", help="the model's name for --url")
    p.add_argument("--version", default="latest")
    p.add_argument("--token", help="API token for --url (default $ODESERVE_TOKEN)")
    p.add_argument("-o", "--output", required=True,
                   help="ode: the archive's path; cde: a prefix (PREFIX-initial.pt, "
                        "PREFIX-func.pt, PREFIX-readout.pt); sde: a prefix (PREFIX-drift.pt, "
                        "PREFIX-diffusion.pt)")
    a = p.parse_args(argv)
    try:
        if a.url:
            if not a.name:
                p.error("--url needs --name")
            try:
                with Client(a.url, a.token) as c:
                    doc = c.export(a.name, a.version)
            except (ApiError, ConnectionFailed) as exc:
                sys.stderr.write(f"odeserve-import: {exc}\n")
                return 1
        elif a.document:
            with open(a.document) as f:
                doc = json.load(f)
        else:
            p.error("a document file, or --url and --name")
        torch = tb._torch()
        if doc.get("kind") == "ode":
            torch.jit.save(torch.jit.script(tb.ode_to_torch(doc)), a.output)
            out.write(f"{a.output}\n")
        elif doc.get("kind") == "sde":
            _, drift, diffusion = tb.sde_to_torch(doc)
            for part, mod in (("drift", drift), ("diffusion", diffusion)):
                path = f"{a.output}-{part}.pt"
                torch.jit.save(torch.jit.script(mod), path)
                out.write(f"{path}\n")
        elif doc.get("kind") == "hamiltonian":
            for part, mod in tb.hamiltonian_to_torch(doc).items():
                if part == "mass":
                    continue
                path = f"{a.output}-{part}.pt"
                torch.jit.save(torch.jit.script(mod), path)
                out.write(f"{path}\n")
        elif doc.get("kind") == "cnf":
            torch.jit.save(torch.jit.script(tb.cnf_to_torch(doc)), a.output)
            out.write(f"{a.output}\n")
        elif doc.get("kind") == "cde":
            for part, mod in zip(("initial", "func", "readout"), tb.cde_to_torch(doc)):
                path = f"{a.output}-{part}.pt"
                torch.jit.save(torch.jit.script(mod), path)
                out.write(f"{path}\n")
        else:
            raise tb.BridgeError(f"kind {doc.get('kind')!r}: the bridge converts ode, cde, sde, "
                                 "hamiltonian and cnf")
    except (tb.BridgeError, OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"odeserve-import: {exc}\n")
        return 2
    return 0
