"""The Python client (clients/python) and odeservectl against a live daemon.

Run by tests/test_pyclient.sh with top_srcdir and top_builddir set. Starts
src/odeserved on free ports with temporary databases: one with auth
required (the client's tokens, scopes and every method), one with a small
rate limit (Retry-After handling). Numbers are checked against closed forms,
not against odeserve's own answers.
"""

import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

SRC = os.path.abspath(os.environ.get("top_srcdir", "."))
BUILD = os.environ.get("top_builddir", ".")
sys.path.insert(0, os.path.join(SRC, "clients", "python"))

sys.path.insert(0, os.path.join(SRC, "tests"))
from pydaemon import Daemon  # noqa: E402
from odeserve import ApiError, Client, ConnectionFailed, JobFailed  # noqa: E402
from odeserve import cli  # noqa: E402


# dy/dt = A y with A = [[-0.1, 2], [-2, -0.1]]: y(t) = e^{-0.1 t} R(-2t) y0.
A = [[-0.1, 2.0], [-2.0, -0.1]]
LINEAR = {
    "kind": "ode", "state_dim": 2, "description": "linear test model",
    "vector_field": {"layers": [{"weight": A, "bias": [0.0, 0.0], "activation": "identity"}]},
    "solver": {"method": "dopri5", "rtol": 1e-10, "atol": 1e-12},
}


def exact(y0, t):
    c, s, d = math.cos(2 * t), math.sin(2 * t), math.exp(-0.1 * t)
    return [d * (c * y0[0] + s * y0[1]), d * (-s * y0[0] + c * y0[1])]


def setUpModule():
    global D, ADMIN
    D = Daemon("--auth", "required", "--max-solve-points", "1000",
               "--seed-models", ",".join(os.path.join(SRC, "examples", f)
                                         for f in ("spiral.json", "cde-demo.json",
                                                   "sde-demo.json")),
               tokens=[("admin", "all")])
    ADMIN = D.tokens["admin"]


def tearDownModule():
    D.stop()


class Basics(unittest.TestCase):
    def setUp(self):
        self.c = Client(D.url, ADMIN)

    def tearDown(self):
        self.c.close()

    def test_health_version_solvers(self):
        self.assertTrue(self.c.health())
        self.assertTrue(self.c.ready())
        self.assertIn("version", json.dumps(self.c.version()))
        names = [s["name"] for s in self.c.solvers()]
        self.assertIn("dopri5", names)

    def test_env_defaults(self):
        old = dict(os.environ)
        try:
            os.environ["ODESERVE_URL"] = D.url
            os.environ["ODESERVE_TOKEN"] = ADMIN
            with Client() as c:
                self.assertEqual(c.url, D.url)
                self.assertIn("spiral", [m["name"] for m in c.models()])
        finally:
            os.environ.clear()
            os.environ.update(old)

    def test_bad_url(self):
        with self.assertRaises(ValueError):
            Client("ftp://example.org")

    def test_unreachable(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        # bound, never listening: connections are refused, and the port stays
        # ours (closed, a daemon of a parallel test could be given it)
        try:
            with self.assertRaises(ConnectionFailed):
                Client(f"http://127.0.0.1:{port}", timeout=5).models()
            self.assertFalse(Client(f"http://127.0.0.1:{port}", timeout=5).health())
        finally:
            s.close()


class Models(unittest.TestCase):
    def setUp(self):
        self.c = Client(D.url, ADMIN)

    def tearDown(self):
        self.c.close()

    def test_upload_export_versions_aliases(self):
        name = "py-linear"
        v1 = self.c.upload(name, LINEAR)
        self.assertEqual(v1, 1)
        v2 = self.c.upload(name, json.dumps(LINEAR))  # JSON text
        self.assertEqual(v2, 2)
        path = os.path.join(D.dir, "linear.json")
        with open(path, "w") as f:
            json.dump(LINEAR, f)
        self.assertEqual(self.c.upload(name, path), 3)  # a file
        meta = self.c.model(name)
        self.assertEqual(meta["kind"], "ode")
        self.assertEqual([v["version"] for v in meta["versions"]], [1, 2, 3])
        doc = self.c.export(name, 2)
        self.assertEqual(doc["vector_field"]["layers"][0]["weight"], A)
        self.c.set_alias(name, "stable", 1)
        self.assertEqual(self.c.model(name)["aliases"].get("stable"), 1)
        self.assertEqual(self.c.export(name, "stable")["kind"], "ode")
        hist = self.c.history(name)
        self.assertEqual(hist[-1]["alias"], "stable")
        self.c.delete_alias(name, "stable")
        self.assertEqual(self.c.model(name)["aliases"], {})
        self.c.delete_version(name, 3)
        self.assertEqual([v["version"] for v in self.c.model(name)["versions"]], [1, 2])
        self.c.delete_model(name)
        with self.assertRaises(ApiError) as cm:
            self.c.model(name)
        self.assertEqual((cm.exception.status, cm.exception.code, cm.exception.field),
                         (404, "not_found", "name"))

    def test_bad_document_names_field(self):
        bad = json.loads(json.dumps(LINEAR))
        bad["vector_field"]["layers"][0]["weight"][1][0] = "x"
        with self.assertRaises(ApiError) as cm:
            self.c.upload("py-bad", bad)
        e = cm.exception
        self.assertEqual((e.status, e.code), (422, "invalid_argument"))
        self.assertEqual(e.field, "vector_field.layers[0].weight[1][0]")
        self.assertIn("error", e.body)

    def test_nan_is_refused_before_sending(self):
        with self.assertRaises(ValueError):
            self.c.trajectory("spiral", [float("nan"), 0.0], [1.0])

    def test_unsupported_media_type(self):
        with self.assertRaises(ApiError) as cm:
            self.c.request("POST", "/v1/models/py-x/versions", raw=b"{}",
                           content_type="text/plain")
        self.assertEqual((cm.exception.status, cm.exception.code),
                         (415, "unsupported_media_type"))


class Trajectories(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Client(D.url, ADMIN)
        cls.c.upload("py-exact", LINEAR)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_single_against_closed_form(self):
        ts = [0.5, 3.1, 0.2, 7.0, 0.5]
        r = self.c.trajectory("py-exact", [2.0, 0.0], ts)
        self.assertEqual(r["t"], ts)
        for t, y in zip(ts, r["y"]):
            for a, b in zip(y, exact([2.0, 0.0], t)):
                self.assertAlmostEqual(a, b, delta=1e-7)
        self.assertGreater(r["stats"]["nfe"], 0)

    def test_batch_solver_keywords_backward(self):
        y0s = [[2.0, 0.0], [0.5, -1.0]]
        r = self.c.trajectory("py-exact", y0s, [-1.0, 2.5], t0=0.0, version=1,
                              method="tsit5", rtol=1e-11, atol=1e-13)
        for b, y0 in enumerate(y0s):
            for i, t in enumerate([-1.0, 2.5]):
                for a, e in zip(r["y"][b][i], exact(y0, t)):
                    self.assertAlmostEqual(a, e, delta=1e-8)

    def test_numpy_arrays(self):
        import numpy as np
        with Client(D.url, ADMIN, arrays=True) as c:
            r = c.trajectory("py-exact", np.array([[1.0, 1.0], [0.0, 1.0]]), np.linspace(0, 1, 5))
            self.assertIsInstance(r["y"], np.ndarray)
            self.assertEqual(r["y"].shape, (2, 5, 2))
            ref = np.array([[exact(y0, t) for t in np.linspace(0, 1, 5)]
                            for y0 in ([1.0, 1.0], [0.0, 1.0])])
            self.assertLess(float(np.max(np.abs(r["y"] - ref))), 1e-7)

    def test_wrong_shape_names_field(self):
        with self.assertRaises(ApiError) as cm:
            self.c.trajectory("py-exact", [1.0, 2.0, 3.0], [1.0])
        self.assertEqual((cm.exception.status, cm.exception.field), (422, "y0"))
        with self.assertRaises(ApiError) as cm:
            self.c.trajectory("py-exact", [1.0, 2.0], [1.0], rtol=-1)
        self.assertEqual(cm.exception.field, "solver.rtol")

    def test_too_large(self):
        with self.assertRaises(ApiError) as cm:
            self.c.trajectory("py-exact", [1.0, 2.0], [i / 10 for i in range(600)])
        self.assertEqual((cm.exception.status, cm.exception.code), (413, "too_large"))

    def test_solver_failure(self):
        with self.assertRaises(ApiError) as cm:
            self.c.trajectory("spiral", [2.0, 0.0], [25.0], max_steps=5)
        self.assertEqual((cm.exception.status, cm.exception.code), (422, "solver_failed"))
        self.assertIn("t_reached", cm.exception.body["error"])

    def test_cde(self):
        obs = {"t": [0.0, 0.4, 1.5], "x": [[1.2, None], [0.9, 3.1], [None, 2.8]]}
        r = self.c.cde("cde-demo", obs, output="both")
        self.assertEqual(r["t"], obs["t"])
        self.assertEqual(len(r["readout"]), 3)
        self.assertEqual(len(r["hidden"][0]), 4)
        pair = self.c.cde("cde-demo", (obs["t"], obs["x"]), [1.0])
        batch = self.c.cde("cde-demo", [{"observations": obs, "t": [1.0]},
                                        {"observations": obs}])
        self.assertEqual(pair["readout"], batch["series"][0]["readout"])
        self.assertEqual(len(batch["series"][1]["readout"]), 3)
        with self.assertRaises(ApiError) as cm:
            self.c.cde("cde-demo", obs, [9.0])
        self.assertEqual(cm.exception.field, "t[0]")

    def test_sde_keys_go_to_top_level(self):
        r = self.c.trajectory("sde-demo", [1.0, 0.0], [0.5, 1.0], samples=50, seed=7,
                              quantiles=[0.1, 0.9])
        self.assertEqual((r["seed"], r["n_samples"]), (7, 50))
        self.assertEqual(sorted(r["quantiles"]), ["0.1", "0.9"])
        again = self.c.trajectory("sde-demo", [1.0, 0.0], [0.5, 1.0], samples=50, seed=7,
                                  quantiles=[0.1, 0.9])
        self.assertEqual(r["mean"], again["mean"])


def series_of(y0, ts):
    return {"t": ts, "y": [exact(y0, t) for t in ts]}


class DatasetsAndJobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Client(D.url, ADMIN)

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_datasets(self):
        ts = [i * 0.1 for i in range(20)]
        s = self.c.upload_dataset("py-ds-json", {"series": [series_of([1.0, 0.0], ts)]})
        self.assertEqual((s["series"], s["points"], s["channels"]), (1, 20, 2))
        csv = "series,t,y1,y2\na,0,1,0\na,0.5,0.9,-0.8\nb,0,0,1\n"
        s = self.c.upload_dataset("py-ds-csv", csv)
        self.assertEqual((s["series"], s["points"]), (2, 3))
        names = [d["name"] for d in self.c.datasets()]
        self.assertIn("py-ds-json", names)
        self.assertEqual(self.c.dataset("py-ds-csv")["channels"], 2)
        with self.assertRaises(ApiError) as cm:
            self.c.upload_dataset("py-ds-csv", csv)
        self.assertEqual((cm.exception.status, cm.exception.code), (409, "conflict"))
        with self.assertRaises(ApiError) as cm:
            self.c.upload_dataset("py-ds-bad", "series,t,y1\na,0,1\na,0,2\n")
        self.assertEqual((cm.exception.status, cm.exception.field), (422, "line[3].t"))
        back = self.c.dataset_series("py-ds-json", limit=1)
        self.assertEqual((back["kind"], back["total"]), ("series", 1))
        self.assertEqual(back["series"][0]["t"], ts)
        s = self.c.upload_dataset("py-ds-points", "x1,x2\n0.5,1\n2,3\n", kind="points")
        self.assertEqual((s["kind"], s["points"]), ("points", 2))
        self.assertEqual(self.c.dataset_series("py-ds-points")["points"], [[0.5, 1.0], [2.0, 3.0]])
        self.c.delete_dataset("py-ds-csv")
        self.assertNotIn("py-ds-csv", [d["name"] for d in self.c.datasets()])

    def job_spec(self, iterations):
        return {"model": "py-trained",
                "init": {"kind": "ode", "state_dim": 2, "hidden": [8], "activation": "tanh"},
                "dataset": "py-train", "iterations": iterations,
                "objective": {"loss": "mse"}, "optimizer": {"name": "adam", "lr": 0.01},
                "solver": {"method": "dopri5", "rtol": 1e-5, "atol": 1e-7}, "seed": 1}

    def test_train_wait_metrics(self):
        ts = [i * 0.1 for i in range(11)]
        try:
            self.c.upload_dataset("py-train", {"series": [series_of([1.0, 0.0], ts),
                                                          series_of([0.0, 1.0], ts)]})
        except ApiError as e:
            if e.status != 409:
                raise
        job_id = self.c.train(self.job_spec(25), validation={"every": 5})
        progress = io.StringIO()
        seen = []
        job = self.c.wait(job_id, progress=True, stream=progress, poll=0.1,
                          on_update=lambda j: seen.append(j["status"]))
        self.assertEqual(job["status"], "succeeded")
        self.assertEqual(seen[-1], "succeeded")
        self.assertIn(f"job {job_id} succeeded: 25/25", progress.getvalue())
        m = self.c.metrics(job_id)
        self.assertEqual(m["iteration"][-1], 25)
        self.assertEqual(len(m["train_loss"]), len(m["iteration"]))
        self.assertIn(job_id, [j["id"] for j in self.c.jobs("succeeded")])
        v = job["result_version"]
        self.assertEqual(self.c.export("py-trained", v)["kind"], "ode")
        # cancel a long one: wait raises JobFailed carrying the job
        long_id = self.c.train(self.job_spec(10 ** 6))
        self.c.cancel(long_id)
        with self.assertRaises(JobFailed) as cm:
            self.c.wait(long_id, poll=0.1, timeout=60)
        self.assertEqual(cm.exception.job["status"], "cancelled")
        with self.assertRaises(ApiError) as cm:
            self.c.cancel(long_id)
        self.assertEqual((cm.exception.status, cm.exception.code), (409, "conflict"))

    def test_bad_job_names_field(self):
        spec = self.job_spec(5)
        spec["optimizer"]["lr"] = -1
        with self.assertRaises(ApiError) as cm:
            self.c.train(spec)
        self.assertEqual((cm.exception.status, cm.exception.field), (422, "optimizer.lr"))
        with self.assertRaises(ApiError) as cm:
            self.c.job(999999)
        self.assertEqual((cm.exception.status, cm.exception.field), (404, "id"))


class Auth(unittest.TestCase):
    def test_tokens_and_scopes(self):
        with Client(D.url, ADMIN) as admin:
            made = admin.create_token("py-reader", ["read"], expires="1d")
            self.assertTrue(made["token"].startswith("ods_"))
            self.assertIn("py-reader", [t["name"] for t in admin.tokens()])
            with Client(D.url, made["token"]) as reader:
                self.assertIn("spiral", [m["name"] for m in reader.models()])
                with self.assertRaises(ApiError) as cm:
                    reader.upload("py-denied", LINEAR)
                self.assertEqual((cm.exception.status, cm.exception.code),
                                 (403, "permission_denied"))
                admin.revoke_token("py-reader")
                with self.assertRaises(ApiError) as cm:
                    reader.models()
                self.assertEqual(cm.exception.status, 401)
        with Client(D.url, None) as anon:
            with self.assertRaises(ApiError) as cm:
                anon.models()
            self.assertEqual((cm.exception.status, cm.exception.code), (401, "unauthenticated"))
        with Client(D.url, "ods_0000000000000000_" + "0" * 64) as wrong:
            with self.assertRaises(ApiError) as cm:
                wrong.models()
            self.assertEqual(cm.exception.status, 401)


class Readme(unittest.TestCase):
    def test_python_example(self):
        """README.md's <!-- python-example --> block runs and prints what it says."""
        with open(os.path.join(SRC, "README.md")) as f:
            text = f.read()
        m = re.search(r"<!-- python-example -->\n```python\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "README.md has no python-example block")
        code = m.group(1).replace('"http://127.0.0.1:8080"', repr(D.url))
        code = code.replace(repr(D.url) + ")", repr(D.url) + ", token=%r)" % ADMIN)
        out = io.StringIO()
        old = sys.stdout
        sys.stdout = out
        env = {}
        try:
            exec(compile(code, "README.md", "exec"), env)
        finally:
            sys.stdout = old
            if "c" in env:
                env["c"].close()
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 2)
        self.assertEqual(len(json.loads(lines[0])), 2)
        self.assertEqual(lines[1], "422 invalid_argument y0")


class RateLimit(unittest.TestCase):
    def test_retry_after(self):
        d = Daemon("--auth", "off", "--rate-limit", "1", "--rate-burst", "1")
        try:
            with Client(d.url, retries=0) as c:
                # two requests within the second refused: a loaded machine may
                # put a second between them (the token is back), so try again
                refused = None
                for _ in range(20):
                    try:
                        c.models()
                        c.models()
                    except ApiError as e:
                        refused = e
                        break
                self.assertIsNotNone(refused, "no 429 in 20 pairs of requests")
                self.assertEqual((refused.status, refused.code), (429, "rate_limited"))
                self.assertGreater(refused.retry_after, 0)
            with Client(d.url, retries=3) as c:
                c.models()
                t0 = time.monotonic()
                c.models()  # waits as told, then succeeds
                self.assertGreater(time.monotonic() - t0, 0.5)
        finally:
            d.stop()


class CommandLine(unittest.TestCase):
    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        old = sys.stderr
        sys.stderr = err
        try:
            rc = cli.main(["--url", D.url, "--token", ADMIN, *argv], out=out)
        finally:
            sys.stderr = old
        return rc, out.getvalue(), err.getvalue()

    def test_models_table_and_json(self):
        rc, out, _ = self.run_cli("models")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"(?m)^spiral\s+ode\s+2\s+1\s+1$")
        rc, out, _ = self.run_cli("models", "--format", "json")
        self.assertIn("cde-demo", [m["name"] for m in json.loads(out)])

    def test_trajectory_csv(self):
        with Client(D.url, ADMIN) as c:
            c.upload("py-cli", LINEAR)
        rc, out, _ = self.run_cli("trajectory", "py-cli", "--y0", "2,0", "--t", "0:1:3",
                                  "--rtol", "1e-10", "--format", "csv")
        self.assertEqual(rc, 0)
        lines = out.strip().split("\n")
        self.assertEqual(lines[0], "t,y0,y1")
        self.assertEqual(len(lines), 4)
        for line in lines[1:]:
            t, a, b = map(float, line.split(","))
            ea, eb = exact([2.0, 0.0], t)
            self.assertAlmostEqual(a, ea, delta=1e-7)
            self.assertAlmostEqual(b, eb, delta=1e-7)

    def test_bad_numbers_are_bad_arguments(self):
        """nan and inf are bad arguments (exit 2), not a traceback."""
        for bad in ("0", "-1", "inf"):
            with self.assertRaises(SystemExit) as cm, open(os.devnull, "w") as null:
                old, sys.stderr = sys.stderr, null
                try:
                    cli.main(["--url", D.url, "--timeout", bad, "models"])
                finally:
                    sys.stderr = old
            self.assertEqual(cm.exception.code, 2, bad)
        for t in ("nan", "1,inf", "0:inf:3"):
            err = io.StringIO()
            old = sys.stderr
            sys.stderr = err
            try:
                with self.assertRaises(SystemExit) as cm:
                    cli.main(["--url", D.url, "trajectory", "spiral", "--y0", "2,0", "--t", t])
            finally:
                sys.stderr = old
            self.assertEqual(cm.exception.code, 2, t)
            self.assertIn("finite numbers only", err.getvalue())

    def test_output_into_a_closed_pipe(self):
        """`odeservectl ... | head -1` ends quietly with 0, not 'Broken pipe' and 1."""
        # its own daemon: a reply (2.5 MB of CSV) far beyond the pipe's buffer
        d = Daemon("--auth", "off", "--seed-models", os.path.join(SRC, "examples", "spiral.json"))
        try:
            env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "clients", "python"))
            p = subprocess.Popen([sys.executable, "-m", "odeserve", "--url", d.url, "trajectory",
                                  "spiral", "--y0", "2,0", "--t", "0:10:50000", "--format", "csv"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            self.assertEqual(p.stdout.readline(), b"t,y0,y1\n")
            p.stdout.close()
            err = p.stderr.read()
            p.stderr.close()
            self.assertEqual((p.wait(timeout=60), err), (0, b""))
        finally:
            d.stop()

    def test_upload_jobs_logs(self):
        path = os.path.join(D.dir, "cli-model.json")
        with open(path, "w") as f:
            json.dump(LINEAR, f)
        rc, out, _ = self.run_cli("upload", "py-cli-up", path)
        self.assertEqual((rc, out), (0, "py-cli-up version 1\n"))
        rc, out, _ = self.run_cli("export", "py-cli-up")
        self.assertEqual(json.loads(out)["state_dim"], 2)
        rc, out, _ = self.run_cli("jobs")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("id"))
        cloud = os.path.join(D.dir, "cloud.csv")
        with open(cloud, "w") as f:
            f.write("x1,x2\n0.5,1\n2,3\n-1,0\n")
        rc, out, err = self.run_cli("dataset-upload", "py-cli-cloud", cloud, "--kind", "points")
        self.assertEqual((rc, out), (0, "py-cli-cloud: 3 points of 2 dimensions\n"), err)
        rc, out, _ = self.run_cli("datasets", "--format", "csv")
        self.assertTrue(out.startswith("name,series,points,channels,label"))

    def test_errors_exit_1_with_field(self):
        rc, _, err = self.run_cli("trajectory", "spiral", "--y0", "1,2,3", "--t", "1")
        self.assertEqual(rc, 1)
        self.assertIn("422 invalid_argument", err)
        self.assertIn("(field y0)", err)
        rc, _, err = self.run_cli("model", "no-such-model")
        self.assertEqual(rc, 1)
        self.assertIn("404 not_found", err)

    def test_usage_exit_2(self):
        with self.assertRaises(SystemExit) as cm:
            cli.main(["trajectory", "spiral", "--y0", "a,b", "--t", "1"], out=io.StringIO())
        self.assertEqual(cm.exception.code, 2)

    def test_installed_package(self):
        """pip install clients/python gives the package and an odeservectl script."""
        target = tempfile.mkdtemp(prefix="odeserve-pip-")
        try:
            src = os.path.join(D.dir, "pkg")
            shutil.copytree(os.path.join(SRC, "clients", "python"), src,
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                            "--no-build-isolation", "--no-index", "--target", target, src],
                           check=True, capture_output=True)
            env = dict(os.environ, PYTHONPATH=target, ODESERVE_URL=D.url, ODESERVE_TOKEN=ADMIN)
            out = subprocess.run([os.path.join(target, "bin", "odeservectl"), "models"],
                                 env=env, capture_output=True, text=True, check=True)
            self.assertIn("spiral", out.stdout)
            helptext = subprocess.run([sys.executable, "-m", "odeserve", "trajectory", "--help"],
                                      env=env, capture_output=True, text=True, check=True)
            self.assertIn("--y0", helptext.stdout)
            typed = os.path.join(target, "odeserve", "py.typed")
            self.assertTrue(os.path.exists(typed))
        finally:
            shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
