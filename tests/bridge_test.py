"""The PyTorch bridge (tools/odeserve-export, tools/odeserve-import) against a
live daemon.

Models are built here as torchdiffeq and torchcde users write them, with
random weights, exported, uploaded and solved by odeserve at rtol 1e-10; the
reference is SciPy's DOP853 at rtol 1e-12 on the PyTorch module itself (and
torchdiffeq / torchcde at rtol 1e-10 when they are importable, e.g. from
_vendor/ on PYTHONPATH). Answers must agree to 1e-7.
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from scipy.integrate import solve_ivp

SRC = os.path.abspath(os.environ.get("top_srcdir", "."))
sys.path.insert(0, os.path.join(SRC, "clients", "python"))
sys.path.insert(0, os.path.join(SRC, "tests"))

from pydaemon import Daemon  # noqa: E402
from odeserve import Client  # noqa: E402
from odeserve import torch_bridge as tb  # noqa: E402
from odeserve.bridge_cli import export_main, import_main  # noqa: E402

try:
    import torchdiffeq
except ImportError:
    torchdiffeq = None
try:
    import torchcde
except ImportError:
    torchcde = None

torch.set_default_dtype(torch.float64)
TOL = 1e-7


def run(main, *argv):
    out, err = io.StringIO(), io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        rc = main(list(argv), out=out)
    except SystemExit as e:
        rc = e.code
    finally:
        sys.stderr = old
    return rc, out.getvalue(), err.getvalue()


def scipy_solve(f, y0, ts):
    """f(t, y) on numpy arrays; states at ts (all >= 0), DOP853 at rtol 1e-12."""
    sol = solve_ivp(f, (0.0, max(ts)), np.asarray(y0, float), method="DOP853",
                    rtol=1e-12, atol=1e-12, dense_output=True)
    assert sol.success, sol.message
    return np.array([sol.sol(t) for t in ts])


def torch_field(module):
    def f(t, y):
        with torch.no_grad():
            return module(torch.tensor(t), torch.tensor(y)).numpy()
    return f


class ODEFunc(torch.nn.Module):
    """torchdiffeq's examples/ode_demo.py shape: the network as self.net."""

    def __init__(self, widths, acts, time_input=False):
        super().__init__()
        mods = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            mods.append(torch.nn.Linear(a, b))
            if i < len(acts):
                mods.append(acts[i]())
        self.net = torch.nn.Sequential(*mods)
        self.time_input = time_input

    def forward(self, t, y):
        if self.time_input:
            y = torch.cat([y, torch.ones_like(y[..., :1]) * t], dim=-1)
        return self.net(y)


class CDEFunc(torch.nn.Module):
    """torchcde's README CDEFunc: activations in forward, not as modules."""

    def __init__(self, input_channels, hidden_channels):
        super().__init__()
        self.input_channels, self.hidden_channels = input_channels, hidden_channels
        self.linear1 = torch.nn.Linear(hidden_channels, 16)
        self.linear2 = torch.nn.Linear(16, input_channels * hidden_channels)

    def forward(self, t, z):
        z = torch.nn.functional.softplus(self.linear1(z))
        z = self.linear2(z).tanh()
        return z.view(*z.shape[:-1], self.hidden_channels, self.input_channels)


def setUpModule():
    global D, C, TMP
    D = Daemon("--auth", "off", "--seed-models", os.path.join(SRC, "examples", "spiral.json"))
    C = Client(D.url)
    TMP = tempfile.mkdtemp(prefix="odeserve-bridge-")


def tearDownModule():
    C.close()
    D.stop()


class Export(unittest.TestCase):
    def test_ode_state_dict_and_torchscript(self):
        torch.manual_seed(0)
        f = ODEFunc([2, 16, 16, 2], [torch.nn.Tanh, torch.nn.Softplus])
        sd, ts_path = os.path.join(TMP, "f-sd.pt"), os.path.join(TMP, "f-ts.pt")
        torch.save(f.state_dict(), sd)
        torch.jit.save(torch.jit.script(f.net), ts_path)
        rc, out, err = run(export_main, sd, "--prefix", "net.", "--activations",
                           "tanh,softplus,identity", "--method", "dop853")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        rc, out2, err = run(export_main, ts_path, "--method", "dop853")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out2), doc)  # both files give the same document
        self.assertEqual((doc["state_dim"], doc["vector_field"]["time_input"]), (2, False))
        C.upload("bridge-ode", doc)
        ts, y0 = [0.5, 1.0, 2.0, 3.0], [0.7, -0.4]
        got = np.array(C.trajectory("bridge-ode", y0, ts, rtol=1e-10, atol=1e-12)["y"])
        ref = scipy_solve(torch_field(f), y0, ts)
        self.assertLess(np.max(np.abs(got - ref)), TOL)
        if torchdiffeq is not None:
            with torch.no_grad():
                tdq = torchdiffeq.odeint(f, torch.tensor(y0), torch.tensor([0.0] + ts),
                                         rtol=1e-10, atol=1e-12, method="dopri5")[1:].numpy()
            self.assertLess(np.max(np.abs(got - tdq)), TOL)
        else:
            print("bridge_test: torchdiffeq not importable; compared with SciPy only",
                  file=sys.stderr)

    def test_ode_time_input_augmented(self):
        torch.manual_seed(1)
        # state 2 + 1 augmented, t appended: 4 inputs, 3 outputs
        f = ODEFunc([4, 12, 3], [torch.nn.SiLU], time_input=True)
        path = os.path.join(TMP, "fa.pt")
        torch.jit.save(torch.jit.script(f.net), path)
        rc, out, err = run(export_main, path, "--augment-dim", "1")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual((doc["state_dim"], doc["augment_dim"], doc["vector_field"]["time_input"]),
                         (2, 1, True))
        C.upload("bridge-aug", doc)
        ts = [0.25, 1.0, 1.5]
        got = np.array(C.trajectory("bridge-aug", [0.3, 0.2], ts, rtol=1e-10, atol=1e-12,
                                    method="dop853", augmented=True)["y"])
        ref = scipy_solve(torch_field(f), [0.3, 0.2, 0.0], ts)
        self.assertLess(np.max(np.abs(got - ref)), TOL)

    def cde_triple(self, seed, channels=3, hidden=4):
        torch.manual_seed(seed)
        initial = torch.nn.Linear(channels, hidden)
        func = CDEFunc(channels, hidden)
        readout = torch.nn.Linear(hidden, 1)
        paths = {}
        for name, mod in (("initial", initial), ("readout", readout)):
            paths[name] = os.path.join(TMP, f"cde-{seed}-{name}.pt")
            torch.save(mod.state_dict(), paths[name])
        paths["func"] = os.path.join(TMP, f"cde-{seed}-func.pt")
        torch.save(func.state_dict(), paths["func"])
        return initial, func, readout, paths

    def export_cde(self, paths, interpolation):
        rc, out, err = run(export_main, "--kind", "cde", "--func", paths["func"],
                           "--func-activations", "softplus,tanh",
                           "--initial", paths["initial"], "--initial-activations", "identity",
                           "--readout", paths["readout"], "--readout-activations", "identity",
                           "--interpolation", interpolation, "--method", "dop853")
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def test_cde_linear_against_scipy(self):
        initial, func, readout, paths = self.cde_triple(2)
        doc = self.export_cde(paths, "linear_interpolation_coeffs")
        self.assertEqual((doc["input_channels"], doc["hidden_dim"], doc["interpolation"]),
                         (3, 4, "linear"))
        C.upload("bridge-cde", doc)
        t_obs = [0.0, 0.4, 1.5, 2.0]
        x = [[1.2, -0.3], [0.9, 3.1], [0.1, 2.8], [0.5, 0.0]]
        q = [0.0, 0.3, 1.0, 1.7, 2.0]
        got = np.array(C.cde("bridge-cde", {"t": t_obs, "x": x}, q, rtol=1e-10, atol=1e-12,
                             output="readout")["readout"])
        # The path X(t) = [t, linear interpolation of x]: dX/dt is constant on
        # each interval, so each interval is one smooth solve.
        X = np.array([[t] + row for t, row in zip(t_obs, x)])
        with torch.no_grad():
            z = initial(torch.tensor(X[0])).numpy()
        ref = {}
        for k in range(len(t_obs) - 1):
            a, b = t_obs[k], t_obs[k + 1]
            dX = (X[k + 1] - X[k]) / (b - a)

            def f(t, zz, dX=dX):
                with torch.no_grad():
                    return (func(torch.tensor(t), torch.tensor(zz)).numpy() @ dX)
            inside = [tq for tq in q if a <= tq <= b]
            sol = solve_ivp(f, (a, b), z, method="DOP853", rtol=1e-12, atol=1e-12,
                            dense_output=True)
            for tq in inside:
                ref.setdefault(tq, sol.sol(tq))
            z = sol.y[:, -1]
        with torch.no_grad():
            want = np.array([readout(torch.tensor(ref[tq])).numpy() for tq in q])
        self.assertLess(np.max(np.abs(got - want)), TOL)

    def test_cde_hermite_against_torchcde(self):
        if torchcde is None:
            self.skipTest("torchcde not importable (put _vendor/torchcde on PYTHONPATH)")
        initial, func, readout, paths = self.cde_triple(3)
        doc = self.export_cde(paths, "hermite_cubic_coefficients_with_backward_differences")
        C.upload("bridge-cde-h", doc)
        t_obs = torch.tensor([0.0, 0.4, 1.5, 2.0, 2.6])
        x = torch.tensor([[1.2, -0.3], [0.9, 3.1], [0.1, 2.8], [0.5, 0.0], [-0.2, 1.0]])
        Xd = torch.cat([t_obs[:, None], x], dim=1)
        coeffs = torchcde.hermite_cubic_coefficients_with_backward_differences(Xd, t=t_obs)
        X = torchcde.CubicSpline(coeffs, t=t_obs)
        with torch.no_grad():
            z = torchcde.cdeint(X=X, func=func, z0=initial(X.evaluate(X.interval[0])),
                                t=t_obs, rtol=1e-10, atol=1e-12, method="dopri5")
            want = readout(z).numpy()
        got = np.array(C.cde("bridge-cde-h", {"t": t_obs.tolist(), "x": x.tolist()},
                             rtol=1e-10, atol=1e-12)["readout"])
        self.assertLess(np.max(np.abs(got - want)), TOL)

    def test_sde_ornstein_uhlenbeck_statistics(self):
        """torchsde-style drift and additive diffusion exported and sampled:
        dh = A h dt + s dW with A = -I + 0.5 J (J the rotation generator) has
        mean e^{-t} R(t/2) h0 and covariance s^2 (1 - e^{-2t}) / 2 I; the
        sample mean and variance must agree within 4 standard errors."""
        drift = torch.nn.Sequential(torch.nn.Linear(2, 2))
        diffusion = torch.nn.Sequential(torch.nn.Linear(1, 2))
        sig = 0.5
        with torch.no_grad():
            drift[0].weight.copy_(torch.tensor([[-1.0, 0.5], [-0.5, -1.0]]))
            drift[0].bias.zero_()
            diffusion[0].weight.zero_()
            diffusion[0].bias.fill_(sig)
        paths = {}
        for k, m in (("drift", drift), ("diffusion", diffusion)):
            paths[k] = os.path.join(TMP, f"ou-{k}.pt")
            torch.jit.save(torch.jit.script(m), paths[k])
        rc, out, err = run(export_main, "--kind", "sde", "--drift", paths["drift"],
                           "--diffusion", paths["diffusion"], "--noise", "additive",
                           "--step", "0.001")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual((doc["noise"], doc["drift"]["time_input"]), ("additive", False))
        self.assertNotIn("time_input", doc["diffusion"])
        C.upload("bridge-ou", doc)
        n, t, y0 = 4000, 1.0, [1.0, -0.5]
        r = C.trajectory("bridge-ou", y0, [t], samples=n, seed=11)
        c, s_ = np.cos(0.5 * t), np.sin(0.5 * t)
        mean = np.exp(-t) * np.array([c * y0[0] + s_ * y0[1], -s_ * y0[0] + c * y0[1]])
        var = sig ** 2 * (1 - np.exp(-2 * t)) / 2
        got_mean, got_var = np.array(r["mean"][0]), np.array(r["std"][0]) ** 2
        self.assertTrue(np.all(np.abs(got_mean - mean) < 4 * np.sqrt(var / n)),
                        (got_mean, mean))
        self.assertTrue(np.all(np.abs(got_var - var) < 4 * var * np.sqrt(2 / (n - 1))),
                        (got_var, var))

    def test_hamiltonian_energy_and_gradient(self):
        """A Hamiltonian neural network (Greydanus et al.'s shape) exported
        and asked for H and its gradient: they equal the PyTorch module's H
        and autograd's gradient; a separable H with masses likewise."""
        torch.manual_seed(6)
        H = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        path = os.path.join(TMP, "hnn.pt")
        torch.jit.save(torch.jit.script(H), path)
        rc, out, err = run(export_main, "--kind", "hamiltonian", "--hamiltonian", path)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual(doc["dof"], 1)
        C.upload("bridge-hnn", doc)
        ys = torch.tensor([[0.3, -0.7], [1.5, 0.2], [-2.0, 1.0]], requires_grad=True)
        h = H(ys).sum()
        (grad,) = torch.autograd.grad(h, ys)
        r = C.post("bridge-hnn", "energy", {"y": ys.detach().tolist()})
        np.testing.assert_allclose(r["energy"], H(ys).detach().numpy()[:, 0], rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(r["gradient"], grad.numpy(), rtol=1e-10, atol=1e-13)
        # separable: V(q) a network, T = p^2 / (2 m)
        V = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Softplus(), torch.nn.Linear(8, 1))
        vpath = os.path.join(TMP, "potential.pt")
        torch.jit.save(torch.jit.script(V), vpath)
        rc, out, err = run(export_main, "--kind", "hamiltonian", "--potential", vpath,
                           "--mass", "1,2", "--method", "yoshida4", "--step", "0.01")
        self.assertEqual(rc, 0, err)
        C.upload("bridge-sep", json.loads(out))
        y = [0.4, -0.1, 0.5, 1.5]
        r = C.post("bridge-sep", "energy", {"y": y})
        with torch.no_grad():
            want = float(V(torch.tensor(y[:2]))[0]) + 0.5 * (y[2] ** 2 / 1 + y[3] ** 2 / 2)
        self.assertAlmostEqual(r["energy"], want, delta=1e-12)
        # back to PyTorch: the same networks
        rc, out, err = run(import_main, "--url", D.url, "--name", "bridge-sep",
                           "-o", os.path.join(TMP, "sep"))
        self.assertEqual((rc, out.split()), (0, [os.path.join(TMP, "sep-potential.pt")]), err)

    def test_cnf_log_prob_against_scipy(self):
        """An FFJORD-style vector field f(z, t) exported as a cnf: log_prob
        equals log N(z(0)) - integral of tr(df/dz) along the flow, solved by
        SciPy on the PyTorch module with autograd's Jacobian."""
        torch.manual_seed(7)
        f = ODEFunc([3, 16, 2], [torch.nn.Tanh], time_input=True)
        path = os.path.join(TMP, "cnf.pt")
        torch.jit.save(torch.jit.script(f.net), path)
        rc, out, err = run(export_main, "--kind", "cnf", path, "--base-mean", "0.5,0",
                           "--base-scale", "1,2")
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual((doc["dim"], doc["vector_field"]["time_input"]), (2, True))
        C.upload("bridge-cnf", doc)
        xs = [[0.3, -0.4], [1.2, 2.0]]
        r = C.post("bridge-cnf", "log_prob", {"x": xs, "solver": {"method": "dop853",
                                                                   "rtol": 1e-11, "atol": 1e-12}})
        mean, scale = np.array([0.5, 0.0]), np.array([1.0, 2.0])

        def aug(t, s):
            z = torch.tensor(s[:2])
            tt = torch.tensor(t)
            with torch.no_grad():
                dz = f(tt, z).numpy()
            J = torch.autograd.functional.jacobian(lambda v: f(tt, v), z).numpy()
            return np.concatenate([dz, [np.trace(J)]])
        for x, got in zip(xs, r["log_prob"]):
            sol = solve_ivp(aug, (1.0, 0.0), np.array(x + [0.0]), method="DOP853", rtol=1e-12,
                            atol=1e-12)
            z0, acc = sol.y[:2, -1], sol.y[2, -1]
            logn = float(np.sum(-0.5 * ((z0 - mean) / scale) ** 2 - np.log(scale)
                                - 0.5 * np.log(2 * np.pi)))
            self.assertAlmostEqual(got, logn + acc, delta=1e-7)
        rc, out, err = run(import_main, "--url", D.url, "--name", "bridge-cnf",
                           "-o", os.path.join(TMP, "cnf-back.pt"))
        self.assertEqual(rc, 0, err)
        back = torch.jit.load(os.path.join(TMP, "cnf-back.pt"))
        z, t = torch.tensor([0.1, 0.2]), torch.tensor(0.3)
        self.assertTrue(torch.equal(back(t, z), f(t, z)))

    def test_refusals_name_the_module(self):
        net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.LayerNorm(4),
                                  torch.nn.Linear(4, 2))
        path = os.path.join(TMP, "ln.pt")
        torch.jit.save(torch.jit.script(net), path)
        rc, _, err = run(export_main, path)
        self.assertEqual(rc, 2)
        self.assertIn("[1]: LayerNorm is not supported; supported modules: Linear, Tanh", err)
        net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Softplus(beta=2),
                                  torch.nn.Linear(4, 2))
        torch.jit.save(torch.jit.script(net), path)
        rc, _, err = run(export_main, path)
        self.assertEqual(rc, 2)
        self.assertIn("Softplus is supported with its defaults only", err)
        sd = os.path.join(TMP, "sd-noact.pt")
        torch.save(net.state_dict(), sd)
        rc, _, err = run(export_main, sd)
        self.assertEqual(rc, 2)
        self.assertIn("--activations", err)
        rc, _, err = run(export_main, sd, "--activations", "tanh,swish")
        self.assertEqual(rc, 2)
        self.assertIn("'swish' is not one of", err)
        bad = os.path.join(TMP, "not-torch.pt")
        with open(bad, "w") as fh:
            fh.write("hello")
        rc, _, err = run(export_main, bad, "--activations", "tanh")
        self.assertEqual(rc, 2)
        self.assertIn("neither a TorchScript archive nor a state_dict", err)
        # a pickled module is code, not data: refused by weights_only
        torch.save(net, sd)
        rc, _, err = run(export_main, sd, "--activations", "tanh,identity")
        self.assertEqual(rc, 2)

    def test_forward_beyond_the_network_is_refused(self):
        """torchdiffeq's ode_demo computes self.net(y**3): exported as its
        network alone that model would silently be another one. A forward
        that is self.net(y) or self.net(cat([y, t])) passes; y**3 as a Cube
        layer in the Sequential says the same thing and passes."""
        class Cubed(ODEFunc):
            def forward(self, t, y):
                return self.net(y ** 3)

        class TimeFirst(ODEFunc):
            def forward(self, t, y):
                return self.net(torch.cat([torch.ones_like(y[..., :1]) * t, y], dim=-1))

        torch.manual_seed(12)
        path = os.path.join(TMP, "fwd.pt")
        for f, ok in ((Cubed([2, 8, 2], [torch.nn.Tanh]), False),
                      (TimeFirst([3, 8, 2], [torch.nn.Tanh]), False),
                      (ODEFunc([2, 8, 2], [torch.nn.Tanh]), True),
                      (ODEFunc([3, 8, 2], [torch.nn.Tanh], time_input=True), True)):
            torch.jit.save(torch.jit.script(f), path)
            rc, out, err = run(export_main, path)
            if ok:
                self.assertEqual(rc, 0, err)
            else:
                self.assertEqual(rc, 2, f"{type(f).__name__} was exported: {out[:200]}")
                self.assertIn("forward(t, y) is not self.net(", err)
        with self.assertRaises(tb.BridgeError):
            tb.check_forward(Cubed([2, 8, 2], [torch.nn.Tanh]))
        cube = ODEFunc([2, 8, 2], [torch.nn.Tanh])
        cube.net = torch.nn.Sequential(tb.network_to_torch({"layers": [{"activation": "cube"}]})[0],
                                       *cube.net)
        tb.check_forward(cube)

    def test_deep_state_dict_keeps_the_layer_order(self):
        """Six Linear layers make a Sequential of 11 modules: net.10 is the
        last layer, not the second (string order put it before net.2). The
        widths are all 2, so a wrong order still has the right shapes and
        only the trajectory can tell."""
        torch.manual_seed(11)
        f = ODEFunc([2] * 7, [torch.nn.Tanh] * 5)
        sd = os.path.join(TMP, "deep.pt")
        torch.save(f.state_dict(), sd)
        y0, ts = [0.4, -0.2], [0.5, 1.0, 2.0]
        want = scipy_solve(torch_field(f), y0, ts)
        acts = ",".join(["tanh"] * 5 + ["identity"])
        for prefix in ("net.", ""):  # with the prefix, and with the keys' own "net."
            out = os.path.join(TMP, "deep.json")
            rc, _, err = run(export_main, sd, "--prefix", prefix, "--activations", acts,
                             "-o", out)
            self.assertEqual(rc, 0, err)
            name = "bridge-deep" + ("-p" if prefix else "")
            C.upload(name, out)
            got = C.trajectory(name, y0, ts, rtol=1e-10, atol=1e-12)["y"]
            np.testing.assert_allclose(got, want, atol=TOL, rtol=0, err_msg=prefix)
        # keys without numbers keep the state_dict's (the registration) order
        lin = [torch.nn.Linear(2, 3), torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)]
        state = {}
        for name, m in zip(("inp", "hid", "out"), lin):
            state[name + ".weight"], state[name + ".bias"] = m.weight, m.bias
        layers = tb.layers_from_state_dict(state, ["tanh", "tanh", "identity"])
        self.assertEqual([len(la["weight"]) for la in layers], [3, 4, 2])

    def test_upload_with_url(self):
        torch.manual_seed(4)
        f = ODEFunc([2, 8, 2], [torch.nn.Tanh])
        path = os.path.join(TMP, "u.pt")
        torch.jit.save(torch.jit.script(f.net), path)
        rc, out, err = run(export_main, path, "--url", D.url, "--name", "bridge-up")
        self.assertEqual((rc, out), (0, "bridge-up version 1\n"), err)
        self.assertEqual(C.model("bridge-up")["kind"], "ode")


class Import(unittest.TestCase):
    def test_ode_import_solves_like_the_daemon(self):
        out_path = os.path.join(TMP, "spiral-import.pt")
        rc, out, err = run(import_main, "--url", D.url, "--name", "spiral", "-o", out_path)
        self.assertEqual(rc, 0, err)
        m = torch.jit.load(out_path)
        with open(os.path.join(SRC, "examples", "spiral.json")) as fh:
            doc = json.load(fh)
        # the weights come back bit for bit
        self.assertEqual(tb.layers_from_module(m.net),
                         [dict(layer, activation=layer.get("activation", "identity"))
                          for layer in doc["vector_field"]["layers"]])
        ts, y0 = [0.5, 2.0, 4.0], [2.0, 0.0]
        got = np.array(C.trajectory("spiral", y0, ts, method="dop853", rtol=1e-10,
                                    atol=1e-12)["y"])
        ref = scipy_solve(torch_field(m), y0, ts)
        self.assertLess(np.max(np.abs(got - ref)), TOL)

    def test_cde_import_export_round_trip(self):
        src = os.path.join(SRC, "examples", "cde-demo.json")
        prefix = os.path.join(TMP, "cde-demo")
        rc, out, err = run(import_main, src, "-o", prefix)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.split(), [f"{prefix}-{p}.pt" for p in ("initial", "func", "readout")])
        with open(src) as fh:
            doc = json.load(fh)
        rc, out, err = run(export_main, "--kind", "cde", "--func", f"{prefix}-func.pt",
                           "--initial", f"{prefix}-initial.pt", "--readout",
                           f"{prefix}-readout.pt", "--interpolation", doc["interpolation"],
                           "--method", "dopri5", "--rtol", "1e-06", "--atol", "1e-08")
        self.assertEqual(rc, 0, err)
        back = json.loads(out)

        def norm(net):
            return [dict(layer, activation=layer.get("activation", "identity"))
                    for layer in net["layers"]]
        for k in ("initial", "vector_field", "readout"):
            self.assertEqual(norm(back[k]), norm(doc[k]), k)
        for k in ("input_channels", "hidden_dim", "channels", "interpolation", "solver"):
            self.assertEqual(back[k], doc[k], k)
        func = torch.jit.load(f"{prefix}-func.pt")
        self.assertEqual(tuple(func(torch.tensor(0.0), torch.zeros(5, 4)).shape), (5, 4, 3))

    def test_sde_import_export_round_trip(self):
        src = os.path.join(SRC, "examples", "sde-demo.json")
        prefix = os.path.join(TMP, "sde-demo")
        rc, out, err = run(import_main, src, "-o", prefix)
        self.assertEqual(rc, 0, err)
        with open(src) as fh:
            doc = json.load(fh)
        rc, out, err = run(export_main, "--kind", "sde", "--drift", f"{prefix}-drift.pt",
                           "--diffusion", f"{prefix}-diffusion.pt", "--noise", doc["noise"],
                           "--calculus", doc["calculus"], "--method", doc["solver"]["method"],
                           "--step", str(doc["solver"]["step"]))
        self.assertEqual(rc, 0, err)
        back = json.loads(out)
        for k in ("state_dim", "calculus", "noise", "solver"):
            self.assertEqual(back[k], doc[k], k)
        for k in ("drift", "diffusion"):
            self.assertEqual(back[k].get("time_input", False), doc[k].get("time_input", False), k)
            self.assertEqual([dict(x, activation=x.get("activation", "identity"))
                              for x in back[k]["layers"]],
                             [dict(x, activation=x.get("activation", "identity"))
                              for x in doc[k]["layers"]], k)
        # general noise: g is a state x brownian matrix, as torchsde wants
        gdoc = {"kind": "sde", "state_dim": 2, "calculus": "ito", "noise": "general",
                "brownian_dim": 3,
                "drift": {"layers": [{"weight": [[1.0, 0.0], [0.0, 1.0]], "bias": [0.0, 0.0]}]},
                "diffusion": {"layers": [{"weight": [[0.1 * (i + j) for j in range(2)]
                                                     for i in range(6)], "bias": [0.0] * 6}]}}
        sde, _, _ = tb.sde_to_torch(gdoc)
        self.assertEqual((sde.noise_type, sde.sde_type), ("general", "ito"))
        g = sde.g(torch.tensor(0.0), torch.ones(4, 2))
        self.assertEqual(tuple(g.shape), (4, 2, 3))
        self.assertAlmostEqual(float(g[0, 1, 2]), 0.1 * (5 + 0) + 0.1 * (5 + 1))

    def test_bad_document(self):
        p = os.path.join(TMP, "cnf.json")
        with open(p, "w") as fh:
            json.dump({"kind": "lagrangian"}, fh)
        rc, _, err = run(import_main, p, "-o", os.path.join(TMP, "x.pt"))
        self.assertEqual(rc, 2)
        self.assertIn("the bridge converts ode, cde, sde, hamiltonian and cnf", err)


class Readme(unittest.TestCase):
    def test_bridge_example(self):
        """README.md's <!-- bridge-example --> commands run as written (with the
        test daemon's address) and upload a model that answers."""
        import re
        with open(os.path.join(SRC, "README.md")) as fh:
            text = fh.read()
        m = re.search(r"<!-- bridge-example -->\n```sh\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "README.md has no bridge-example block")
        script = m.group(1).replace("http://127.0.0.1:8080", D.url)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.join(SRC, "clients", "python"), os.environ.get("PYTHONPATH", "")]))
        # tools/ first; then this interpreter's directory, so that the scripts'
        # `env python3` is the one with torch
        env["PATH"] = os.pathsep.join([os.path.join(SRC, "tools"),
                                       os.path.dirname(sys.executable), env.get("PATH", "")])
        work = tempfile.mkdtemp(prefix="odeserve-readme-", dir=TMP)
        r = subprocess.run(["sh", "-e", "-c", script.replace("python3", sys.executable)],
                           cwd=work, env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("my-torch-model version 1", r.stdout)
        got = C.trajectory("my-torch-model", [1.0, 0.0], [1.0])["y"]
        self.assertEqual(len(got[0]), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
