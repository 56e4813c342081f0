"""PyTorch <-> odeserve model documents (docs/model-format.md).

export: a torchdiffeq-style vector field (an nn.Sequential of Linear layers
and activation modules, or a module holding one, or a TorchScript archive of
one, or a state_dict with the activations named) becomes an "ode" document;
a torchcde CDEFunc / initial / readout triple becomes a "cde" document.
import: a document becomes PyTorch modules again (float64), for users who
fine-tune elsewhere.

Only torch is needed, and only when a function here is called. Nothing here
runs code from a file: state_dicts are read with torch.load(weights_only=True)
and TorchScript archives with torch.jit.load (whose code is TorchScript, not
Python).
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

# odeserve's activation names -> the torch.nn module class names that compute
# them exactly (PyTorch's default arguments only).
_ACTIVATIONS = {
    "Tanh": "tanh", "ReLU": "relu", "Softplus": "softplus", "Sigmoid": "sigmoid",
    "ELU": "elu", "SiLU": "silu", "Identity": "identity",
    # the modules this file's import side makes for odeserve's own activations
    "Cube": "cube", "Square": "square", "Sin": "sin",
}
SUPPORTED = ("Linear",) + tuple(_ACTIVATIONS)
ACTIVATION_NAMES = ("identity", "tanh", "relu", "softplus", "sigmoid", "elu", "silu",
                    "cube", "square", "sin")

# torchcde's coefficient functions -> odeserve's interpolation names.
INTERPOLATIONS = {
    "linear": "linear", "linear_interpolation_coeffs": "linear",
    "rectilinear": "rectilinear",
    "natural_cubic": "natural_cubic", "natural_cubic_coeffs": "natural_cubic",
    "natural_cubic_spline_coeffs": "natural_cubic",
    "hermite_bdiff": "hermite_bdiff",
    "hermite_cubic_coefficients_with_backward_differences": "hermite_bdiff",
}


class BridgeError(ValueError):
    """A module or document that cannot be converted; the message says why."""


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise BridgeError("the PyTorch bridge needs torch (Debian: python3-torch)") from exc
    return torch


def _type_name(m: Any) -> str:
    # A TorchScript module keeps its Python class name as original_name.
    return getattr(m, "original_name", None) or type(m).__name__


def _check_default_args(m: Any, name: str, where: str) -> None:
    """Refuse activation modules whose arguments change the function."""
    bad = None
    if name == "Softplus" and (getattr(m, "beta", 1) != 1 or getattr(m, "threshold", 20) != 20):
        bad = "beta=1, threshold=20"
    if name == "ELU" and getattr(m, "alpha", 1.0) != 1.0:
        bad = "alpha=1"
    if bad:
        raise BridgeError(f"{where}: {name} is supported with its defaults only ({bad})")


def _linear(weight: Any, bias: Any, where: str) -> Dict[str, Any]:
    w = weight.detach().to(dtype=_torch().float64).tolist()
    if bias is None:
        b = [0.0] * len(w)
    else:
        b = bias.detach().to(dtype=_torch().float64).tolist()
    for i, row in enumerate(w):
        for j, v in enumerate(row):
            if not math.isfinite(v):
                raise BridgeError(f"{where}.weight[{i}][{j}] is not finite")
    for i, v in enumerate(b):
        if not math.isfinite(v):
            raise BridgeError(f"{where}.bias[{i}] is not finite")
    return {"weight": w, "bias": b, "activation": "identity"}


def _sequential_of(module: Any, where: str) -> Tuple[Any, str]:
    """The Sequential a vector-field module holds: itself, or its one
    Sequential child (torchdiffeq's examples keep it as `self.net`)."""
    name = _type_name(module)
    if name == "Sequential":
        return module, where
    seqs = [(n, c) for n, c in module.named_children() if _type_name(c) == "Sequential"]
    if len(seqs) == 1:
        return seqs[0][1], f"{where}.{seqs[0][0]}"
    if name == "Linear":
        return [module], where
    raise BridgeError(
        f"{where}: a {name} is not a Sequential and does not hold exactly one "
        f"(it holds {len(seqs)}); pass the Sequential, or a state_dict with activations")


def layers_from_module(module: Any, where: str = "module") -> List[Dict[str, Any]]:
    """The layers of a document's network from an nn.Sequential (or a module
    holding one, or a TorchScript archive of one): Linear layers with the
    activation module that follows each; an activation with no Linear before
    it (or after another activation) becomes an elementwise layer."""
    seq, where = _sequential_of(module, where)
    children = list(seq.named_children()) if hasattr(seq, "named_children") else \
        [("0", m) for m in seq]
    layers: List[Dict[str, Any]] = []
    open_linear = False  # the last layer is a Linear still waiting for its activation
    for n, m in children:
        name = _type_name(m)
        here = f"{where}[{n}]"
        if name == "Linear":
            layers.append(_linear(m.weight, m.bias, here))
            open_linear = True
        elif name in _ACTIVATIONS:
            _check_default_args(m, name, here)
            act = _ACTIVATIONS[name]
            if open_linear:
                layers[-1]["activation"] = act
                open_linear = False
            elif act != "identity":
                layers.append({"activation": act})
        else:
            raise BridgeError(f"{here}: {name} is not supported; supported modules: "
                              + ", ".join(SUPPORTED))
    if not any("weight" in layer for layer in layers):
        raise BridgeError(f"{where}: no Linear layer")
    return layers


def layers_from_state_dict(state: Mapping[str, Any], activations: Sequence[str],
                           prefix: str = "", where: str = "state_dict") -> List[Dict[str, Any]]:
    """The layers from a state_dict's `<prefix><i>.weight` / `.bias` pairs,
    in the order of i, with `activations` naming one activation per Linear
    (the last one usually "identity"). Numbers in the keys count as numbers
    (`net.2` before `net.10`, `fc2` before `fc10`); keys without one
    (`inp`, `hid`, `out`) keep the state_dict's order, which is the order
    the module registered them in."""
    idx: Dict[str, Tuple[Any, Any]] = {}
    for k, v in state.items():
        if not k.startswith(prefix):
            continue
        rest = k[len(prefix):]
        if rest in ("weight", "bias") or rest.endswith(".weight") or rest.endswith(".bias"):
            key, _, part = rest.rpartition(".")  # a bare Linear's keys have no dot: key ""
            w, b = idx.get(key, (None, None))
            idx[key] = (v, b) if part == "weight" else (w, v)
        else:
            raise BridgeError(f"{where}: {k} is not a Linear's weight or bias")
    if not idx:
        raise BridgeError(f"{where}: no weights under prefix {prefix!r}")

    def order(k: str) -> Tuple[Tuple[int, Union[int, str]], ...]:
        # "net.10" -> ("net", ".", 10): a layer's index compares as a number
        return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", k) if p)

    keys = list(idx)  # the state_dict's order
    if all(re.search(r"\d", k) for k in keys):
        keys.sort(key=order)
    if len(activations) != len(keys):
        raise BridgeError(f"{where}: {len(keys)} Linear layers ({', '.join(keys)}) but "
                          f"{len(activations)} activations given")
    layers = []
    for k, act in zip(keys, activations):
        w, b = idx[k]
        if w is None or getattr(w, "dim", lambda: 0)() != 2:
            raise BridgeError(f"{where}: {prefix}{k}.weight is missing or not a matrix")
        if act not in ACTIVATION_NAMES:
            raise BridgeError(f"activations: {act!r} is not one of {', '.join(ACTIVATION_NAMES)}")
        layer = _linear(w, b, f"{where}.{prefix}{k}")
        layer["activation"] = act
        layers.append(layer)
    return layers


def _widths(layers: Sequence[Mapping[str, Any]]) -> Tuple[int, int]:
    lin = [layer for layer in layers if "weight" in layer]
    return len(lin[0]["weight"][0]), len(lin[-1]["weight"])


def ode_document(layers: List[Dict[str, Any]], *, state_dim: Optional[int] = None,
                 augment_dim: int = 0, time_input: Optional[bool] = None,
                 solver: Optional[Mapping[str, Any]] = None,
                 description: Optional[str] = None) -> Dict[str, Any]:
    """An "ode" document around a network. The network maps [y; zeros of
    augment_dim] (with t appended last when time_input) to dy/dt. state_dim
    defaults to the output width minus augment_dim; time_input to whether the
    input is one wider than the output."""
    n_in, n_out = _widths(layers)
    if time_input is None:
        if n_in not in (n_out, n_out + 1):
            raise BridgeError(f"the network maps {n_in} values to {n_out}: a vector field "
                              f"needs as many outputs as inputs (one more input with time)")
        time_input = n_in == n_out + 1
    if n_in != n_out + (1 if time_input else 0):
        raise BridgeError(f"the network maps {n_in} values to {n_out}; with "
                          f"time_input={time_input} it should take {n_out + (1 if time_input else 0)}")
    if state_dim is None:
        state_dim = n_out - augment_dim
    if state_dim < 1 or state_dim + augment_dim != n_out:
        raise BridgeError(f"state_dim {state_dim} + augment_dim {augment_dim} must equal the "
                          f"network's output width {n_out}")
    doc: Dict[str, Any] = {"kind": "ode", "state_dim": state_dim}
    if augment_dim:
        doc["augment_dim"] = augment_dim
    if description:
        doc["description"] = description
    doc["vector_field"] = {"time_input": bool(time_input), "layers": layers}
    if solver:
        doc["solver"] = dict(solver)
    return doc


def cde_document(func_layers: List[Dict[str, Any]], initial_layers: List[Dict[str, Any]],
                 readout_layers: List[Dict[str, Any]], *, interpolation: str,
                 time_channel: bool = True, intensity: bool = False,
                 solver: Optional[Mapping[str, Any]] = None,
                 description: Optional[str] = None) -> Dict[str, Any]:
    """A "cde" document from torchcde's three networks: initial X(t0) -> z0,
    the CDEFunc z -> hidden x input (read row-major, as torchcde's
    `.view(..., hidden, input)`), and the readout."""
    interp = INTERPOLATIONS.get(interpolation)
    if interp is None:
        raise BridgeError(f"interpolation {interpolation!r}: one of "
                          + ", ".join(sorted(INTERPOLATIONS)))
    c_in, hidden = _widths(initial_layers)
    f_in, f_out = _widths(func_layers)
    r_in, _ = _widths(readout_layers)
    if f_in != hidden or f_out != hidden * c_in:
        raise BridgeError(f"the CDEFunc maps {f_in} -> {f_out}; with hidden {hidden} and "
                          f"{c_in} input channels it must map {hidden} -> {hidden * c_in}")
    if r_in != hidden:
        raise BridgeError(f"the readout takes {r_in} values, the hidden state has {hidden}")
    doc: Dict[str, Any] = {"kind": "cde", "input_channels": c_in, "hidden_dim": hidden,
                           "channels": {"time": bool(time_channel), "intensity": bool(intensity)},
                           "interpolation": interp}
    if description:
        doc["description"] = description
    doc.update({"initial": {"layers": initial_layers}, "vector_field": {"layers": func_layers},
                "readout": {"layers": readout_layers}})
    if solver:
        doc["solver"] = dict(solver)
    return doc


SDE_NOISE = ("diagonal", "scalar", "additive", "general")


def sde_document(drift_layers: List[Dict[str, Any]], diffusion_layers: List[Dict[str, Any]], *,
                 noise: str = "diagonal", calculus: str = "ito",
                 brownian_dim: Optional[int] = None, solver: Optional[Mapping[str, Any]] = None,
                 description: Optional[str] = None) -> Dict[str, Any]:
    """An "sde" document from torchsde's two networks: the drift f (h, with
    t appended when it takes one more input, -> state) and the diffusion g,
    shaped by `noise` (torchsde's noise_type): diagonal or scalar h (+ t)
    -> state; additive t -> state; general h (+ t) -> state x brownian_dim,
    row-major. `calculus` is torchsde's sde_type ("ito" or "stratonovich")."""
    if noise not in SDE_NOISE:
        raise BridgeError(f"noise {noise!r}: one of {', '.join(SDE_NOISE)}")
    if calculus not in ("ito", "stratonovich"):
        raise BridgeError(f"calculus {calculus!r}: ito or stratonovich")
    d_in, n = _widths(drift_layers)
    if d_in not in (n, n + 1):
        raise BridgeError(f"the drift maps {d_in} values to {n}: it takes the state "
                          f"({n}) or the state and t ({n + 1})")
    g_in, g_out = _widths(diffusion_layers)
    want_out = n * (brownian_dim or 0) if noise == "general" else n
    if noise == "general" and not brownian_dim:
        raise BridgeError("general noise needs brownian_dim")
    if noise != "general" and brownian_dim:
        raise BridgeError("brownian_dim is for general noise only")
    if g_out != want_out:
        raise BridgeError(f"the diffusion returns {g_out} values; {noise} noise on a state of "
                          f"{n} needs {want_out}")
    if noise == "additive":
        if g_in != 1:
            raise BridgeError(f"an additive diffusion takes t alone (1 input), not {g_in}")
        g_time = None
    else:
        if g_in not in (n, n + 1):
            raise BridgeError(f"the diffusion takes {g_in} values: the state ({n}) or the "
                              f"state and t ({n + 1})")
        g_time = g_in == n + 1
    doc: Dict[str, Any] = {"kind": "sde", "state_dim": n, "calculus": calculus, "noise": noise}
    if brownian_dim:
        doc["brownian_dim"] = brownian_dim
    if description:
        doc["description"] = description
    doc["drift"] = {"time_input": d_in == n + 1, "layers": drift_layers}
    doc["diffusion"] = {"layers": diffusion_layers} if g_time is None else \
        {"time_input": g_time, "layers": diffusion_layers}
    if solver:
        doc["solver"] = dict(solver)
    return doc


def hamiltonian_document(*, hamiltonian: Optional[List[Dict[str, Any]]] = None,
                         potential: Optional[List[Dict[str, Any]]] = None,
                         mass: Optional[Sequence[float]] = None,
                         kinetic: Optional[List[Dict[str, Any]]] = None,
                         solver: Optional[Mapping[str, Any]] = None,
                         description: Optional[str] = None) -> Dict[str, Any]:
    """A "hamiltonian" document (docs/structured.md): a Hamiltonian neural
    network H(q, p) (2 dof -> 1), or a separable H = T(p) + V(q) from a
    potential network (dof -> 1) with a mass vector or a kinetic network."""
    if (hamiltonian is None) == (potential is None):
        raise BridgeError("give a hamiltonian network, or a potential with mass or kinetic")
    doc: Dict[str, Any] = {"kind": "hamiltonian"}
    if hamiltonian is not None:
        n_in, n_out = _widths(hamiltonian)
        if n_out != 1 or n_in % 2:
            raise BridgeError(f"the Hamiltonian maps {n_in} values to {n_out}: it takes [q; p] "
                              "(2 dof values) and returns one")
        if mass is not None or kinetic is not None:
            raise BridgeError("mass and kinetic belong to a separable H (a potential)")
        doc["dof"] = n_in // 2
    else:
        assert potential is not None
        n_in, n_out = _widths(potential)
        if n_out != 1:
            raise BridgeError(f"the potential returns {n_out} values, not one")
        if (mass is None) == (kinetic is None):
            raise BridgeError("a potential needs exactly one of mass and kinetic")
        doc["dof"] = n_in
    if description:
        doc["description"] = description
    if hamiltonian is not None:
        doc["hamiltonian"] = {"layers": hamiltonian}
    else:
        doc["potential"] = {"layers": potential}
        if mass is not None:
            if len(mass) != doc["dof"] or not all(float(m) > 0 for m in mass):
                raise BridgeError(f"mass: {doc['dof']} positive numbers")
            doc["mass"] = [float(m) for m in mass]
        else:
            k_in, k_out = _widths(kinetic or [])
            if k_in != doc["dof"] or k_out != 1:
                raise BridgeError(f"the kinetic network maps {k_in} -> {k_out}; it must map "
                                  f"{doc['dof']} -> 1")
            doc["kinetic"] = {"layers": kinetic}
    if solver:
        doc["solver"] = dict(solver)
    return doc


def cnf_document(layers: List[Dict[str, Any]], *, base_mean: Optional[Sequence[float]] = None,
                 base_scale: Optional[Sequence[float]] = None,
                 solver: Optional[Mapping[str, Any]] = None,
                 description: Optional[str] = None) -> Dict[str, Any]:
    """A "cnf" document (docs/cnf.md) from an FFJORD-style vector field
    f(z, t): dim (+ 1, t appended last) -> dim; the base is N(mean, scale^2),
    standard normal by default."""
    n_in, n_out = _widths(layers)
    if n_in not in (n_out, n_out + 1):
        raise BridgeError(f"the vector field maps {n_in} values to {n_out}: it takes z ({n_out}) "
                          f"or z and t ({n_out + 1})")
    doc: Dict[str, Any] = {"kind": "cnf", "dim": n_out}
    if description:
        doc["description"] = description
    if (base_mean is None) != (base_scale is None):
        raise BridgeError("give both the base's mean and its scale, or neither")
    if base_mean is not None and base_scale is not None:
        if len(base_mean) != n_out or len(base_scale) != n_out:
            raise BridgeError(f"the base's mean and scale need {n_out} values each")
        doc["base"] = {"mean": [float(x) for x in base_mean],
                       "scale": [float(x) for x in base_scale]}
    doc["vector_field"] = {"time_input": n_in == n_out + 1, "layers": layers}
    if solver:
        doc["solver"] = dict(solver)
    return doc


def check_forward(module: Any, where: str = "module") -> None:
    """Refuse a vector field whose forward(t, y) is not what its document
    will compute. A module that holds its network (torchdiffeq's `self.net`)
    is exported as that network alone, so its forward must be
    self.net(y), or self.net(cat([y, t])) when the network takes one input
    more than it gives. Checked by running both on random states, whatever
    the code looks like: `self.net(y**3)`, `-self.net(y)` or t put first
    are refused. A Sequential (or Linear) is its own forward: nothing to do."""
    if _type_name(module) in ("Sequential", "Linear"):
        return
    seq, _ = _sequential_of(module, where)
    lin = [m for _, m in seq.named_children() if _type_name(m) == "Linear"]
    if not lin:
        return  # layers_from_module says why
    torch = _torch()
    n_in, n_out = int(lin[0].weight.shape[1]), int(lin[-1].weight.shape[0])
    if n_in not in (n_out, n_out + 1):
        return  # not a vector field: the document's builder says why
    dtype = lin[0].weight.dtype
    gen = torch.Generator().manual_seed(20261207)
    y = torch.randn(3, n_out, generator=gen, dtype=dtype)
    t = torch.tensor(0.375, dtype=dtype)
    shape = "self.net(y)" if n_in == n_out else "self.net(cat([y, t]))"
    with torch.no_grad():
        try:
            got = module(t, y)
        except Exception as exc:  # any failure of user code
            raise BridgeError(f"{where}: forward(t, y) failed on a batch of 3 states ({exc}); "
                              f"export the network itself (its Sequential) instead") from exc
        x = y if n_in == n_out else torch.cat([y, torch.ones_like(y[..., :1]) * t], dim=-1)
        want = seq(x)
    if not (isinstance(got, torch.Tensor) and got.shape == want.shape and
            torch.allclose(got, want, rtol=1e-6, atol=1e-9)):
        raise BridgeError(f"{where}: forward(t, y) is not {shape}: a document holds the network "
                          f"alone, so code around it (y**3, a sign, t first) would be lost; put "
                          f"it into the Sequential as layers (supported modules: "
                          f"{', '.join(SUPPORTED)}), or export a module whose forward is {shape}")


def load_vector_field(path: str, activations: Optional[Sequence[str]] = None,
                      prefix: str = "") -> List[Dict[str, Any]]:
    """load_network for an ode's or cnf's vector field: a TorchScript archive
    of a module holding its network must also pass check_forward."""
    layers = load_network(path, activations, prefix)
    torch = _torch()
    try:
        scripted = torch.jit.load(path, map_location="cpu")
    except (RuntimeError, ValueError):
        return layers  # a state_dict: no code to check
    check_forward(scripted, where=path)
    return layers


def load_network(path: str, activations: Optional[Sequence[str]] = None,
                 prefix: str = "") -> List[Dict[str, Any]]:
    """A network's layers from a file: a TorchScript archive (activations
    read from its modules), or a state_dict saved with torch.save (read
    without running code; `activations` required)."""
    torch = _torch()
    try:
        scripted = torch.jit.load(path, map_location="cpu")
    except (RuntimeError, ValueError):
        scripted = None
    if scripted is not None:
        if activations:
            raise BridgeError(f"{path}: a TorchScript archive names its own activations; "
                              "drop --activations")
        return layers_from_module(scripted, where=path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a bad file
        raise BridgeError(f"{path}: neither a TorchScript archive nor a state_dict ({exc})") from exc
    if not isinstance(state, Mapping):
        raise BridgeError(f"{path}: holds a {type(state).__name__}, not a state_dict")
    if not activations:
        raise BridgeError(f"{path}: a state_dict does not say which activations follow each "
                          "Linear; give them (--activations tanh,tanh,identity)")
    return layers_from_state_dict(state, activations, prefix, where=path)


# ---- document -> PyTorch ----

def _act_module(name: str) -> Any:
    torch = _torch()
    from . import _torch_modules as tm
    nn = torch.nn
    table = {"identity": nn.Identity, "tanh": nn.Tanh, "relu": nn.ReLU,
             "softplus": nn.Softplus, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "silu": nn.SiLU,
             "cube": tm.Cube, "square": tm.Square, "sin": tm.Sin}
    if name not in table:
        raise BridgeError(f"activation {name!r} is not known")
    return table[name]()


def network_to_torch(net: Mapping[str, Any]) -> Any:
    """A document's network as an nn.Sequential (float64)."""
    torch = _torch()
    mods = []
    for layer in net["layers"]:
        if "weight" in layer:
            w = torch.tensor(layer["weight"], dtype=torch.float64)
            lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(w)
                lin.bias.copy_(torch.tensor(layer["bias"], dtype=torch.float64))
            mods.append(lin)
        act = layer.get("activation", "identity")
        if act != "identity" or "weight" not in layer:
            mods.append(_act_module(act))
    return torch.nn.Sequential(*mods)


def ode_to_torch(doc: Mapping[str, Any]) -> Any:
    """An "ode" document as a torchdiffeq vector field: forward(t, y) on the
    solved state [y; augmentation] (batched: y of shape (..., n))."""
    _torch()
    from . import _torch_modules as tm
    if doc.get("kind") != "ode":
        raise BridgeError("ode_to_torch: not an ode document")
    vf = doc["vector_field"]
    return tm.ODEFunc(network_to_torch(vf), bool(vf.get("time_input", False)),
                      int(doc["state_dim"]), int(doc.get("augment_dim", 0)))


def cde_to_torch(doc: Mapping[str, Any]) -> Tuple[Any, Any, Any]:
    """A "cde" document as torchcde's (initial, func, readout): func(t, z)
    returns the hidden x input matrix, as torchcde.cdeint expects."""
    _torch()
    from . import _torch_modules as tm
    if doc.get("kind") != "cde":
        raise BridgeError("cde_to_torch: not a cde document")
    func = tm.CDEFunc(network_to_torch(doc["vector_field"]), int(doc["hidden_dim"]),
                      int(doc["input_channels"]))
    return network_to_torch(doc["initial"]), func, network_to_torch(doc["readout"])


def sde_to_torch(doc: Mapping[str, Any]) -> Tuple[Any, Any, Any]:
    """An "sde" document as torchsde wants it: (sde, drift, diffusion), where
    `sde` has noise_type, sde_type, f(t, y) and g(t, y) (for torchsde.sdeint),
    and drift / diffusion are forward(t, y) modules (TorchScript-able)."""
    torch = _torch()
    from . import _torch_modules as tm
    if doc.get("kind") != "sde":
        raise BridgeError("sde_to_torch: not an sde document")
    n = int(doc["state_dim"])
    noise = doc["noise"]
    m = int(doc.get("brownian_dim", 0)) if noise == "general" else 0
    drift = tm.ODEFunc(network_to_torch(doc["drift"]), bool(doc["drift"].get("time_input", False)),
                       n, 0)
    diffusion = tm.Diffusion(network_to_torch(doc["diffusion"]),
                             bool(doc["diffusion"].get("time_input", False)),
                             noise == "additive", n, m)

    class SDE(torch.nn.Module):
        noise_type = noise
        sde_type = doc["calculus"]

        def __init__(self) -> None:
            super().__init__()
            self.drift, self.diffusion = drift, diffusion

        def f(self, t: Any, y: Any) -> Any:
            return self.drift(t, y)

        def g(self, t: Any, y: Any) -> Any:
            return self.diffusion(t, y)

    return SDE(), drift, diffusion


def hamiltonian_to_torch(doc: Mapping[str, Any]) -> Dict[str, Any]:
    """A "hamiltonian" document's networks as nn.Sequentials (float64), by
    their document names ("hamiltonian", or "potential" and "kinetic"), and
    "mass" as a tensor when the document has one."""
    torch = _torch()
    if doc.get("kind") != "hamiltonian":
        raise BridgeError("hamiltonian_to_torch: not a hamiltonian document")
    out: Dict[str, Any] = {}
    for k in ("hamiltonian", "potential", "kinetic"):
        if k in doc:
            out[k] = network_to_torch(doc[k])
    if "mass" in doc:
        out["mass"] = torch.tensor(doc["mass"], dtype=torch.float64)
    return out


def cnf_to_torch(doc: Mapping[str, Any]) -> Any:
    """A "cnf" document's vector field as forward(t, z) (FFJORD's odefunc
    without the trace), float64."""
    _torch()
    from . import _torch_modules as tm
    if doc.get("kind") != "cnf":
        raise BridgeError("cnf_to_torch: not a cnf document")
    vf = doc["vector_field"]
    return tm.ODEFunc(network_to_torch(vf), bool(vf.get("time_input", False)), int(doc["dim"]), 0)
