"""What the anchor scripts (bench/w1_torch.py, w2_torch.py, w3_torch.py)
share: finding the reference libraries, and timing.

The anchors are the real torchdiffeq / torchcde, imported from PYTHONPATH
(never copied into this tree): `make bench` adds the folders under _vendor/
(git-ignored) to PYTHONPATH when they exist. When torch or a library is
missing, the scripts say how to get it and exit 0: the anchors are a
benchmark's comparison, not a build dependency.
"""
import importlib
import os
import statistics
import sys
import time

HOW = """\
{script}: skipped, cannot import {name} ({why}).
The anchors need PyTorch and the reference libraries, float64 on one thread:
  * torch: Debian's python3-torch (as root: apt-get install python3-torch),
    run with /usr/bin/python3;
  * torchdiffeq, torchcde and torchcde's own imports torchsde and
    trampoline: their sources on PYTHONPATH, e.g. in the source tree
      git clone https://github.com/rtqichen/torchdiffeq _vendor/torchdiffeq
      git clone https://github.com/patrick-kidger/torchcde _vendor/torchcde
      git clone https://github.com/google-research/torchsde _vendor/torchsde
      git clone https://gitlab.com/ferreum/trampoline _vendor/trampoline
    (make bench appends each _vendor/* folder to PYTHONPATH; _vendor/ is
    git-ignored), or pip install torchdiffeq torchcde in a Python with torch.
"""


def require(*names):
    """Import the named modules, or print how to get them and exit 0."""
    mods = []
    for name in names:
        try:
            mods.append(importlib.import_module(name))
        except Exception as e:  # ImportError, or a torch built for another Python
            sys.stdout.flush()
            print(HOW.format(script=os.path.basename(sys.argv[0]), name=name, why=e),
                  file=sys.stderr)
            sys.exit(0)
    return mods


def setup_torch(torch):
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)


MIN_RUN_S = 0.02  # bench_solve's: a timed run repeats the call for at least this long


def time_calls(fn, reps):
    """Median wall and this thread's CPU time per call of fn, in seconds,
    over `reps` timed runs after a warm-up (each run repeats fn for at least
    MIN_RUN_S, as bench_solve does). Returns (wall, cpu, fn's last result)."""
    out = fn()
    t0 = time.perf_counter()
    out = fn()
    once = time.perf_counter() - t0
    inner = 1 if once >= MIN_RUN_S else int(MIN_RUN_S / max(once, 1e-7)) + 1
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.thread_time(), time.perf_counter()
        for _ in range(inner):
            out = fn()
        wall.append((time.perf_counter() - t0) / inner)
        cpu.append((time.thread_time() - c0) / inner)
    return statistics.median(wall), statistics.median(cpu), out


def versions(torch, *mods):
    v = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for m in mods:
        v[m.__name__] = getattr(m, "__version__", "?")
    return v
