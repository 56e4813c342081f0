"""odeservectl: the odeserve API from the shell.

Every command talks to the daemon at --url (default: ODESERVE_URL, else
http://127.0.0.1:8080) with --token (default: ODESERVE_TOKEN). Exit status:
0 done, 1 the API answered an error (printed with its field) or could not
be reached, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

from .client import Client, DEFAULT_URL
from .errors import ApiError, ConnectionFailed, JobFailed


def _numbers(text: str, what: str) -> List[float]:
    """'1,2.5 3' -> [1.0, 2.5, 3.0]; 'a:b:n' -> n points from a to b."""
    text = text.strip()
    if text.count(":") == 2 and "," not in text:
        a, b, n = text.split(":")
        count = int(n)
        if count < 1:
            raise argparse.ArgumentTypeError(f"{what}: a:b:n needs n >= 1")
        lo, hi = float(a), float(b)
        values = [lo] if count == 1 else [lo + (hi - lo) * i / (count - 1) for i in range(count)]
    else:
        try:
            values = [float(x) for x in text.replace(",", " ").split()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what}: numbers separated by commas, or a:b:n") from None
    # JSON has no nan or inf (the client would refuse them with a traceback)
    if not all(math.isfinite(x) for x in values):
        raise argparse.ArgumentTypeError(f"{what}: finite numbers only, got {text!r}")
    return values


def _seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"expected seconds above 0, got {text!r}")
    return x


def _print_table(rows: Sequence[Sequence[Any]], header: Sequence[str], fmt: str, out: TextIO) -> None:
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in r])
        return
    cells = [[str(h) for h in header]] + [["" if v is None else (repr(v) if isinstance(v, float) else str(v))
                                            for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    for c in cells:
        out.write("  ".join(v.rjust(widths[i]) if i else v.ljust(widths[i])
                            for i, v in enumerate(c)).rstrip() + "\n")


def _json_out(doc: Any, out: TextIO) -> None:
    json.dump(doc, out, indent=1)
    out.write("\n")


def cmd_models(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    ms = c.models()
    if a.format == "json":
        _json_out(ms, out)
        return 0
    _print_table([(m["name"], m["kind"], m.get("state_dim"), m["latest_version"], m.get("versions"))
                  for m in ms], ["name", "kind", "state_dim", "latest", "versions"], a.format, out)
    return 0


def cmd_model(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    _json_out(c.model(a.name), out)
    return 0


def cmd_export(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    _json_out(c.export(a.name, a.version), out)
    return 0


def cmd_upload(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    with open(a.file, "rb") as f:
        v = c.upload(a.name, f.read())
    out.write(f"{a.name} version {v}\n")
    return 0


def cmd_delete(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    if a.version is None:
        c.delete_model(a.name)
        out.write(f"deleted {a.name}\n")
    else:
        c.delete_version(a.name, a.version)
        out.write(f"deleted {a.name} version {a.version}\n")
    return 0


def cmd_trajectory(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    solver: Dict[str, Any] = {}
    for k in ("method", "rtol", "atol", "max_steps", "step"):
        v = getattr(a, k)
        if v is not None:
            solver[k] = v
    extra: Dict[str, Any] = {}
    if a.samples is not None:
        extra["samples"] = a.samples
    if a.seed is not None:
        extra["seed"] = a.seed
    r = c.trajectory(a.name, a.y0, a.t, t0=a.t0, version=a.version, solver=solver or None, **extra)
    if a.format == "json":
        _json_out(r, out)
        return 0
    if "y" in r:
        ys = r["y"]
        header = ["t"] + [f"y{j}" for j in range(len(ys[0]) if ys else 0)]
        rows = [[t] + list(y) for t, y in zip(r["t"], ys)]
    else:  # an sde summary: mean and std per component
        mean, std = r["mean"], r["std"]
        d = len(mean[0]) if mean else 0
        header = ["t"] + [f"mean{j}" for j in range(d)] + [f"std{j}" for j in range(d)]
        rows = [[t] + list(m) + list(s) for t, m, s in zip(r["t"], mean, std)]
    _print_table(rows, header, a.format, out)
    return 0


def cmd_datasets(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    ds = c.datasets()
    if a.format == "json":
        _json_out(ds, out)
        return 0
    _print_table([(d["name"], d.get("series"), d.get("points"), d.get("channels"), d.get("label"))
                  for d in ds], ["name", "series", "points", "channels", "label"], a.format, out)
    return 0


def cmd_dataset_upload(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    with open(a.file, "rb") as f:
        raw = f.read()
    is_csv = a.file.endswith(".csv") if a.csv is None else a.csv
    s = c.upload_dataset(a.name, raw, csv=is_csv, kind=a.kind)
    if s.get("kind") == "points":
        out.write(f"{s['name']}: {s.get('points')} points of {s.get('channels')} dimensions\n")
    else:
        out.write(f"{s['name']}: {s.get('series')} series, {s.get('points')} points\n")
    return 0


def cmd_jobs(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    js = c.jobs(a.status)
    if a.format == "json":
        _json_out(js, out)
        return 0
    _print_table([(j["id"], j["status"], j.get("model"), j.get("dataset"), j.get("iteration"),
                   j.get("iterations"), j.get("train_loss")) for j in js],
                 ["id", "status", "model", "dataset", "iteration", "iterations", "train_loss"],
                 a.format, out)
    return 0


def cmd_job(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    _json_out(c.job(a.id), out)
    return 0


def cmd_train(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    with open(a.file, "rb") as f:
        try:
            spec = json.loads(f.read())
        except ValueError as exc:
            raise OSError(f"{a.file}: not a JSON job document: {exc}") from None
    job_id = c.train(spec)
    out.write(f"{job_id}\n")
    if a.wait:
        job = c.wait(job_id, progress=True)
        out.write(f"job {job_id} {job['status']}: version {job.get('result_version')}\n")
    return 0


def cmd_wait(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    job = c.wait(a.id, progress=not a.quiet, timeout=a.max_wait)
    out.write(f"job {a.id} {job['status']}: version {job.get('result_version')}\n")
    return 0


def cmd_cancel(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    job = c.cancel(a.id)
    out.write(f"job {a.id} {job.get('status')}\n")
    return 0


def cmd_logs(c: Client, a: argparse.Namespace, out: TextIO) -> int:
    m = c.metrics(a.id)
    if a.format == "json":
        _json_out(m, out)
        return 0
    n = len(m.get("iteration", []))
    cols = [k for k in ("iteration", "train_loss", "validation_loss", "elapsed_seconds") if k in m]
    _print_table([[m[k][i] for k in cols] for i in range(n)], cols, a.format, out)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="odeservectl", allow_abbrev=False,
        description="The odeserve HTTP API from the shell (docs/api.md).",
        epilog="Environment: ODESERVE_URL (default %s), ODESERVE_TOKEN. Exit status: 0 done, "
               "1 an API or connection error, 2 bad arguments." % DEFAULT_URL)
    p.add_argument("--url", help="the daemon, http[s]://host:port (default $ODESERVE_URL)")
    p.add_argument("--token", help="API token (default $ODESERVE_TOKEN)")
    p.add_argument("--cafile", help="CA bundle for https")
    p.add_argument("--timeout", type=_seconds, default=60.0, help="seconds per request (60)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name: str, fn: Any, help_: str, table: bool = False) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_, allow_abbrev=False)
        sp.set_defaults(fn=fn)
        if table:
            sp.add_argument("--format", choices=("table", "csv", "json"), default="table",
                            help="output format (table)")
        return sp

    add("models", cmd_models, "list the models", table=True)
    sp = add("model", cmd_model, "a model's metadata, versions and aliases (JSON)")
    sp.add_argument("name")
    sp = add("export", cmd_export, "a version's model document (JSON)")
    sp.add_argument("name")
    sp.add_argument("--version", default="latest", help="number, latest or an alias")
    sp = add("upload", cmd_upload, "store a model document file as the next version")
    sp.add_argument("name")
    sp.add_argument("file")
    sp = add("delete", cmd_delete, "delete a model, or one version of it")
    sp.add_argument("name")
    sp.add_argument("--version", type=int)
    sp = add("trajectory", cmd_trajectory, "a model's state at the given times", table=True)
    sp.add_argument("name")
    sp.add_argument("--y0", required=True, type=lambda s: _numbers(s, "--y0"),
                    help="the initial state, e.g. 2,0")
    sp.add_argument("--t", required=True, type=lambda s: _numbers(s, "--t"),
                    help="output times, e.g. 0.5,1,2 or 0:10:101 (101 points from 0 to 10)")
    sp.add_argument("--t0", type=float)
    sp.add_argument("--version")
    sp.add_argument("--method")
    sp.add_argument("--rtol", type=float)
    sp.add_argument("--atol", type=float)
    sp.add_argument("--max-steps", dest="max_steps", type=int)
    sp.add_argument("--step", type=float, help="fixed step (fixed-step and sde methods)")
    sp.add_argument("--samples", type=int, help="sde models: sample paths")
    sp.add_argument("--seed", type=int, help="sde models: the Brownian paths' seed")
    add("datasets", cmd_datasets, "list the datasets", table=True)
    sp = add("dataset-upload", cmd_dataset_upload, "upload a dataset file (JSON, or CSV by .csv)")
    sp.add_argument("name")
    sp.add_argument("file")
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--csv", dest="csv", action="store_true", default=None)
    g.add_argument("--json", dest="csv", action="store_false")
    sp.add_argument("--kind", choices=("series", "points"),
                    help="a CSV point set needs --kind points (a JSON body says its kind)")
    sp = add("jobs", cmd_jobs, "list the training jobs", table=True)
    sp.add_argument("--status", choices=("queued", "running", "succeeded", "failed", "cancelled"))
    sp = add("job", cmd_job, "a job's document (JSON)")
    sp.add_argument("id")
    sp = add("train", cmd_train, "queue a training job from a job document file; prints its id")
    sp.add_argument("file")
    sp.add_argument("--wait", action="store_true", help="wait for it, with a progress line")
    sp = add("wait", cmd_wait, "wait until a job has ended (exit 1 if it failed)")
    sp.add_argument("id")
    sp.add_argument("--max-wait", dest="max_wait", type=float, help="seconds, then exit 1")
    sp.add_argument("--quiet", action="store_true", help="no progress line")
    sp = add("cancel", cmd_cancel, "cancel a queued or running job")
    sp.add_argument("id")
    sp = add("logs", cmd_logs, "a job's loss curve", table=True)
    sp.add_argument("id")
    return p


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout) -> int:
    p = _parser()
    a = p.parse_args(argv)
    try:
        c = Client(a.url, a.token, timeout=a.timeout, cafile=a.cafile)
    except ValueError as exc:
        p.error(str(exc))
    try:
        with c:
            return int(a.fn(c, a, out))
    except ApiError as exc:
        sys.stderr.write(f"odeservectl: {exc}\n")
        return 1
    except BrokenPipeError:
        # the reader went away (`| head`): done, quietly; before OSError,
        # its base class. Python's own flush at exit would fail again.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ConnectionFailed, JobFailed, TimeoutError, OSError) as exc:
        sys.stderr.write(f"odeservectl: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
