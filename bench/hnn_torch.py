#!/usr/bin/python3
"""hnn_torch: issue #26's comparison with the reference HNN code (Greydanus et
al. 2019), side by side with odeserve in one run.

The reference code's way of using a Hamiltonian network is PyTorch autograd
of the scalar H (torch.autograd.grad of H summed over the batch) inside a
Python loop, or inside SciPy's solve_ivp. This script times, with Debian's
python3-torch, float64, one thread:

1. "grad": one gradient of H, a 2-W-W-1 tanh MLP (W = 200, Greydanus's
   default, and W = 64), at batch 1 and 256, in µs per state; and the
   explicit Strang-splitting loop built from it (three gradients per step:
   half kick, drift, half kick), in µs per step per trajectory. Next to it
   bench/bench_hamiltonian's line for the same network and batch: odeserve's
   gradient pass (grad_us), its forward pass and the bound (3 forward passes
   per gradient). The ratio is per gradient, the fair unit: odeserve refuses
   an explicit splitting on a non-separable H (docs/structured.md), so its
   steps use other methods.

2. "rollout": H trained on a harmonic oscillator (H = (q^2 + p^2)/2, the HNN
   loss on noisy derivatives, Adam; --train-steps), then rolled out for
   --periods periods from (1, 0) twice: by the reference code's integrator
   (solve_ivp RK45, rtol 1e-9, the autograd field at batch 1) and by a live
   odeserved (built tree's src/odeserved, temporary database) given the same
   weights as a "hamiltonian" model, through POST /trajectory with gauss4 and
   implicit_midpoint at fixed steps. Wall time of each, the largest relative
   energy error |H(t) - H(0)| / |H(0)| over the period ends, and its trend:
   the mean over the last tenth of the periods over the mean over the first
   tenth (about 1 for a bounded error, growing with the span for a drift).
   Times are wall and CPU (this process's for the reference; the daemon's,
   from /proc, for odeserve, so that a loaded machine moves them less).

Prints one JSON object per line and the load average. When torch is missing
it says how to get it and exits 0. Usage, from the build tree:
    /usr/bin/python3 bench/hnn_torch.py [--periods 1000] [--train-steps 400]
        [--skip-rollout] [--skip-grad]
Recorded in docs/benchmarks.md, "Hamiltonian".
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))

from anchor_common import require, setup_torch, time_calls  # noqa: E402


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def mlp(torch, width):
    nn = torch.nn
    return nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                         nn.Linear(width, 1))


def grad_h(torch, net, x):
    """dH/dx at the rows of x, as the reference code computes it."""
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(net(x).sum(), x)
    return g


def field(torch, net, x):
    g = grad_h(torch, net, x)
    return torch.stack([g[:, 1], -g[:, 0]], dim=1)


def strang_step(torch, net, x, h):
    """Kick (p by -h/2 dH/dq), drift (q by h dH/dp), kick: three gradients."""
    g = grad_h(torch, net, x)
    p = x[:, 1] - 0.5 * h * g[:, 0]
    x = torch.stack([x[:, 0], p], dim=1)
    g = grad_h(torch, net, x)
    q = x[:, 0] + h * g[:, 1]
    x = torch.stack([q, x[:, 1]], dim=1)
    g = grad_h(torch, net, x)
    return torch.stack([x[:, 0], x[:, 1] - 0.5 * h * g[:, 0]], dim=1)


def bench_lines():
    """bench_hamiltonian's step lines, keyed by (width, batch), general H."""
    exe = "bench/bench_hamiltonian"
    if not os.path.exists(exe):
        exe = os.path.join(HERE, "bench_hamiltonian")
    if not os.path.exists(exe):
        return {}
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    lines = {}
    for line in out.splitlines():
        o = json.loads(line)
        if o.get("bench") == "step" and o.get("H") == "general":
            lines[(o["width"], o["batch"])] = o
    return lines


def grad_part(torch):
    ours = bench_lines()
    for width in (200, 64):
        torch.manual_seed(26)
        net = mlp(torch, width)
        for batch in (1, 256):
            x = torch.rand(batch, 2) - 0.5
            reps = 7
            _, g_cpu, _ = time_calls(lambda: grad_h(torch, net, x), reps)
            steps = 20 if batch == 1 else 5

            def loop():
                y = x
                for _ in range(steps):
                    y = strang_step(torch, net, y, 0.01)
                return y

            _, s_cpu, _ = time_calls(loop, reps)
            line = {"bench": "grad", "width": width, "batch": batch,
                    "torch_grad_us": round(g_cpu * 1e6 / batch, 3),
                    "torch_step_us": round(s_cpu * 1e6 / steps / batch, 3)}
            o = ours.get((width, batch))
            if o:
                line.update({"odeserve_grad_us": o["grad_us"], "odeserve_fwd_us": o["fwd_us"],
                             "bound_grad_us": round(3 * o["fwd_us"], 3),
                             "ratio_vs_torch": round(g_cpu * 1e6 / batch / o["grad_us"], 1),
                             "odeserve_over_bound": round(o["grad_us"] / (3 * o["fwd_us"]), 2)})
            line["load"] = load()
            print(json.dumps(line), flush=True)


def train(torch, width, steps):
    """An HNN on the harmonic oscillator, the reference code's recipe: noisy
    (x, dx/dt) pairs on circles of radius 0.5-1.5, loss |J grad H - dx|^2."""
    torch.manual_seed(0)
    n = 2000
    r = 0.5 + torch.rand(n)
    a = 2 * math.pi * torch.rand(n)
    x = torch.stack([r * torch.cos(a), r * torch.sin(a)], dim=1)
    dx = torch.stack([x[:, 1], -x[:, 0]], dim=1) + 0.01 * torch.randn(n, 2)
    net = mlp(torch, width)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for i in range(steps):
        idx = torch.randint(0, n, (256,))
        xb = x[idx].requires_grad_(True)
        (g,) = torch.autograd.grad(net(xb).sum(), xb, create_graph=True)
        f = torch.stack([g[:, 1], -g[:, 0]], dim=1)
        loss = ((f - dx[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, float(loss)


def daemon_cpu(d):
    """The daemon's user + system CPU seconds so far (/proc/PID/stat)."""
    with open(f"/proc/{d.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def energy_stats(e):
    e0 = e[0]
    rel = [abs(v - e0) / abs(e0) for v in e[1:]]
    k = max(1, len(rel) // 10)
    first, last = sum(rel[:k]) / k, sum(rel[-k:]) / k
    return max(rel), (last / first if first > 0 else float("inf"))


def document(net, width):
    layers = []
    lin = [m for m in net if hasattr(m, "weight")]
    for i, m in enumerate(lin):
        layers.append({"weight": m.weight.detach().tolist(), "bias": m.bias.detach().tolist(),
                       "activation": "tanh" if i < len(lin) - 1 else "identity"})
    return {"kind": "hamiltonian", "dof": 1,
            "description": f"2-{width}-{width}-1 tanh H trained on a harmonic oscillator",
            "hamiltonian": {"layers": layers}}


def rollout_part(torch, periods, train_steps, width=200):
    import numpy as np
    from scipy.integrate import solve_ivp
    t0 = time.perf_counter()
    net, loss = train(torch, width, train_steps)
    print(json.dumps({"bench": "train", "width": width, "steps": train_steps,
                      "final_loss": loss, "s": round(time.perf_counter() - t0, 1),
                      "load": load()}), flush=True)
    period = 2 * math.pi  # the oscillator's; the learned H's differs slightly
    ts = [period * k for k in range(periods + 1)]

    def h_of(y):
        with torch.no_grad():
            return net(torch.tensor(y, dtype=torch.float64)).squeeze(-1).tolist()

    nfe = [0]

    def rhs(_, y):
        nfe[0] += 1
        return field(torch, net, torch.tensor(y, dtype=torch.float64).reshape(1, 2))[0].numpy()

    c0, w0 = time.process_time(), time.perf_counter()
    sol = solve_ivp(rhs, (0, ts[-1]), np.array([1.0, 0.0]), method="RK45", rtol=1e-9,
                    t_eval=ts)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    worst, trend = energy_stats(h_of(sol.y.T.tolist()))
    ref = {"bench": "rollout", "who": "reference: solve_ivp RK45 rtol 1e-9, autograd field",
           "periods": periods, "s": round(wall, 2), "cpu_s": round(cpu, 2), "nfe": nfe[0],
           "energy_err_max": worst, "energy_trend": round(trend, 2), "load": load()}
    print(json.dumps(ref), flush=True)

    from pydaemon import Daemon
    from odeserve import Client
    d = Daemon("--auth", "off", "--solve-timeout", "0", "--max-solve-points", "10000000")
    try:
        c = Client(d.url, timeout=3600)
        c.upload("hnn", document(net, width))
        for method, step in (("gauss4", 0.2), ("gauss4", 0.1), ("implicit_midpoint", 0.05),
                             ("implicit_midpoint", 0.02)):
            spans = ts[-1] / step
            w0, d0 = time.perf_counter(), daemon_cpu(d)
            r = c.trajectory("hnn", [1.0, 0.0], ts[1:], t0=0.0, method=method, step=step,
                             max_steps=int(spans * 1.1) + 2 * periods + 10)
            wall, dcpu = time.perf_counter() - w0, daemon_cpu(d) - d0
            energy = r["energy"]
            e0 = h_of([[1.0, 0.0]])[0]
            worst, trend = energy_stats([e0] + list(energy))
            print(json.dumps({"bench": "rollout", "who": f"odeserve {method} step {step}",
                              "periods": periods, "s": round(wall, 3),
                              "daemon_cpu_s": round(dcpu, 3),
                              "speedup_wall": round(ref["s"] / wall, 1),
                              "speedup_cpu": round(ref["cpu_s"] / dcpu, 1) if dcpu > 0 else None,
                              "steps": r.get("stats", {}).get("steps"),
                              "energy_err_max": worst, "energy_trend": round(trend, 2),
                              "energy_err_vs_reference": round(ref["energy_err_max"] / worst, 1)
                              if worst > 0 else None, "load": load()}), flush=True)
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--periods", type=int, default=1000)
    ap.add_argument("--train-steps", type=int, default=400)
    ap.add_argument("--skip-rollout", action="store_true")
    ap.add_argument("--skip-grad", action="store_true")
    a = ap.parse_args()
    (torch,) = require("torch")
    setup_torch(torch)
    print(json.dumps({"bench": "versions", "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "load": load()}), flush=True)
    if not a.skip_grad:
        grad_part(torch)
    if not a.skip_rollout:
        rollout_part(torch, a.periods, a.train_steps)


if __name__ == "__main__":
    main()
