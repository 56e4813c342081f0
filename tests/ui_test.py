"""The dashboard (ui/, src/http/ui.c) in a real headless Chromium against a
live daemon.

Each view is opened by its URL; Chromium runs the page's JavaScript (the
API calls and Chart.js) and the test reads the DOM it leaves: the model list
holds the demo models, the trajectory plots are drawn with the right number
of series and points, a finished job's loss curve and a dataset's preview
are drawn, errors show with their code, and no Content-Security-Policy
violation is logged. With --screenshots DIR it also writes a PNG per view
(docs/ui/ holds the committed ones: tools/ui-screenshots.sh).
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

SRC = os.path.abspath(os.environ.get("top_srcdir", "."))
sys.path.insert(0, os.path.join(SRC, "clients", "python"))
sys.path.insert(0, os.path.join(SRC, "tests"))

from pydaemon import Daemon  # noqa: E402
from odeserve import Client  # noqa: E402

SHOTS = None


def chromium():
    for name in ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


CHROME = chromium()


def browse(url, shot=None, budget=6000):
    """The DOM after the page's scripts ran, and Chromium's log."""
    profile = tempfile.mkdtemp(prefix="odeserve-chrome-")
    args = [CHROME, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
            "--enable-logging=stderr", "--v=0", f"--virtual-time-budget={budget}",
            "--window-size=1280,1000"]
    try:
        out = subprocess.run(args + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=120)
        if shot:
            subprocess.run(args + [f"--screenshot={shot}", url], capture_output=True,
                           timeout=120)
        return out.stdout, out.stderr
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def plots(dom):
    """[(title, series, points, state)] of every plot the page drew."""
    out = []
    for m in re.finditer(r'<div class="plot(?: square)?"([^>]*)>', dom):
        a = dict(re.findall(r'data-([a-z]+)="([^"]*)"', m.group(1)))
        out.append((a.get("title"), int(a.get("series", -1)), int(a.get("points", -1)),
                    a.get("chart")))
    return out


def setUpModule():
    global D, C, JOB
    if CHROME is None:
        raise unittest.SkipTest("no Chromium (Debian: chromium-headless-shell)")
    ex = os.path.join(SRC, "examples")
    D = Daemon("--auth", "off", "--ui-dir", os.path.join(SRC, "ui"), "--seed-models",
               ",".join(os.path.join(ex, f) for f in ("spiral.json", "cde-demo.json",
                                                        "sde-demo.json")))
    C = Client(D.url)
    ts = [i * 0.1 for i in range(30)]
    C.upload_dataset("ui-data", {"series": [
        {"t": ts, "y": [[1.0 - 0.05 * t, 0.2 * t] for t in ts]},
        {"t": ts[:10], "y": [[0.5, None if i == 3 else 0.1 * i] for i in range(10)]}]})
    C.upload_dataset("ui-points", {"kind": "points",
                                   "points": [[0.1 * i, (0.1 * i) ** 2] for i in range(25)]})
    JOB = C.train({"model": "ui-trained", "dataset": "ui-data", "iterations": 30,
                   "init": {"kind": "ode", "state_dim": 2, "hidden": [8]},
                   "validation": {"every": 10}, "seed": 1})
    C.wait(JOB, poll=0.1, timeout=120)


def tearDownModule():
    C.close()
    D.stop()


class Pages(unittest.TestCase):
    def open(self, frag, shot=None):
        dom, log = browse(D.url + "/" + frag, os.path.join(SHOTS, shot) if SHOTS and shot else None)
        self.assertNotIn("Refused to", log, "a Content-Security-Policy violation:\n" + log)
        self.assertNotIn("Uncaught", log, "a script error:\n" + log)
        self.assertIn('aria-busy="false"', dom, "the view did not finish:\n" + dom[-2000:])
        return dom

    def test_model_list(self):
        dom = self.open("#/", "models.png")
        self.assertIn('id="model-list" data-count="4"', dom)
        for name in ("spiral", "cde-demo", "sde-demo", "ui-trained"):
            self.assertIn(f'href="#/models/{name}"', dom)

    def test_ode_model_plots(self):
        dom = self.open("#/models/spiral", "model-ode.png")
        p = plots(dom)
        self.assertIn(("State against time", 2, 400, "drawn"), p)
        self.assertIn(("Phase portrait", 1, 200, "drawn"), p)
        self.assertIn("4482", dom)  # the parameter count of the summary
        self.assertRegex(dom, r'id="stats"[^>]*>nfe \d+')

    def test_cde_model_plots(self):
        dom = self.open("#/models/cde-demo", "model-cde.png")
        p = plots(dom)
        self.assertIn(("Readout over the observations", 1, 100, "drawn"), p)
        self.assertIn(("Observations", 2, 12, "drawn"), p)

    def test_sde_model_band(self):
        dom = self.open("#/models/sde-demo", "model-sde.png")
        (title, series, points, state), = plots(dom)
        self.assertTrue(title.startswith("Mean and 90% band of 200 samples"), title)
        self.assertEqual((series, points, state), (6, 6 * 200, "drawn"))

    def test_jobs_and_loss_curve(self):
        dom = self.open("#/jobs", "jobs.png")
        self.assertRegex(dom, r'id="job-list" data-count="[1-9]')
        dom = self.open(f"#/jobs/{JOB}", "job.png")
        self.assertIn('id="job-status">succeeded<', dom)
        metrics = C.metrics(JOB)
        (title, series, points, state), = plots(dom)
        self.assertEqual((title, state), ("Loss", "drawn"))
        self.assertEqual(series, 2)  # train and validation
        n_train = sum(1 for v in metrics["train_loss"] if v is not None and v > 0)
        n_val = sum(1 for v in metrics["validation_loss"] if v is not None and v > 0)
        self.assertEqual(points, n_train + n_val)
        self.assertGreater(n_train, 0)

    def test_datasets_and_preview(self):
        dom = self.open("#/datasets", "datasets.png")
        self.assertIn('id="dataset-list" data-count="2"', dom)
        dom = self.open("#/datasets/ui-data", "dataset.png")
        # 2 series x 2 channels; 30 + 30 + 10 + 9 observed values (one missing)
        self.assertIn(("Observations", 4, 79, "drawn"), plots(dom))
        self.assertIn("the first 2 of 2 series", dom)
        dom = self.open("#/datasets/ui-points")
        self.assertIn(("Points", 1, 25, "drawn"), plots(dom))

    def test_errors_show_code_and_field(self):
        dom = self.open("#/models/no-such-model")
        self.assertIn('data-code="not_found"', dom)
        dom = self.open("#/nowhere")
        self.assertIn("no such page", dom)


class Headers(unittest.TestCase):
    def get(self, path, headers=None):
        req = urllib.request.Request(D.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def test_types_csp_and_revalidation(self):
        st, h, body = self.get("/")
        self.assertEqual((st, h["Content-Type"]), (200, "text/html; charset=utf-8"))
        self.assertIn("default-src 'none'", h["Content-Security-Policy"])
        self.assertIn("script-src 'self'", h["Content-Security-Policy"])
        self.assertEqual((h["X-Content-Type-Options"], h["X-Frame-Options"]), ("nosniff", "DENY"))
        self.assertEqual(h["Cache-Control"], "no-cache")
        with open(os.path.join(SRC, "ui", "index.html"), "rb") as f:
            self.assertEqual(body, f.read())
        st, h2, body = self.get("/", {"If-None-Match": h["ETag"]})
        self.assertEqual((st, body), (304, b""))
        # RFC 9110 13.1.2: "*" matches any current representation, a list
        # matches when one member does, and the comparison is weak
        for inm in ("*", '"other", ' + h["ETag"], "W/" + h["ETag"]):
            st, h2, body = self.get("/", {"If-None-Match": inm})
            self.assertEqual((st, body, h2["ETag"]), (304, b"", h["ETag"]), inm)
        st, h2, body = self.get("/", {"If-None-Match": '"other"'})
        self.assertEqual(st, 200)
        st, h, _ = self.get("/ui/app.js")
        self.assertEqual((st, h["Content-Type"]), (200, "text/javascript; charset=utf-8"))
        st, h, _ = self.get("/ui/app.css")
        self.assertEqual(h["Content-Type"], "text/css; charset=utf-8")
        st, h, body = self.get("/ui/lib/chart.js")
        self.assertEqual(st, 200)
        self.assertIn(b"Chart", body[:200000])

    def test_no_escape_from_ui_dir(self):
        for path in ("/ui/..", "/ui/.hidden.js", "/ui/%2e%2e%2fetc%2fpasswd", "/ui/app.exe",
                     "/ui/lib/jquery.js", "/ui/a%00.js", "/ui/nope.js"):
            st, h, body = self.get(path)
            self.assertIn(st, (400, 404), path)
            if st == 404:
                self.assertEqual(json.loads(body)["error"]["code"], "not_found", path)

    def test_dataset_series_route(self):
        s = C.request("GET", "/v1/datasets/ui-data/series?offset=1&limit=1")
        self.assertEqual((s["kind"], s["total"], s["offset"], len(s["series"])),
                         ("series", 2, 1, 1))
        self.assertIsNone(s["series"][0]["y"][3][1])  # the missing value is null
        self.assertEqual(s["series"][0]["t"], [i * 0.1 for i in range(10)])


class OtherKinds(unittest.TestCase):
    def test_hybrid_has_a_form_cnf_says_where_to_go(self):
        """A hybrid model is evaluated and drawn like an ode (its trajectory
        request is an ode's); a cnf model, which has no trajectory route,
        names the routes it has."""
        ex = os.path.join(SRC, "examples")
        d = Daemon("--auth", "off", "--ui-dir", os.path.join(SRC, "ui"), "--seed-models",
                   os.path.join(ex, "hybrid", "vanderpol.json") + "," +
                   os.path.join(ex, "cnf-demo.json"))
        try:
            dom, log = browse(d.url + "/#/models/vanderpol")
            self.assertNotIn("Uncaught", log, "a script error:\n" + log)
            self.assertNotIn("No evaluation form", dom)
            p = plots(dom)
            self.assertIn(("State against time", 2, 400, "drawn"), p)
            self.assertIn(("Phase portrait", 1, 200, "drawn"), p)
            self.assertRegex(dom, r'id="stats"[^>]*>nfe \d+')
            self.assertIn("<td>d y/dt</td><td>mu*(1 - x^2)*y - x</td>", dom)
            self.assertIn("<td>mu</td><td>1000</td>", dom)
            dom, log = browse(d.url + "/#/models/cnf-demo")
            self.assertNotIn("Uncaught", log, "a script error:\n" + log)
            self.assertIn("log_prob", dom)
            self.assertIn("docs/cnf.md", dom)
        finally:
            d.stop()


class Variants(unittest.TestCase):
    def test_without_chartjs_and_with_auth(self):
        d = Daemon("--auth", "required", "--ui-dir", os.path.join(SRC, "ui"),
                   "--ui-lib-dir", "/nonexistent", tokens=[("t", "read")])
        try:
            dom, log = browse(d.url + "/#/")
            self.assertIn("Plots are off", dom)
            self.assertIn('data-code="unauthenticated"', dom)
            self.assertIn("Enter an API token", dom)
        finally:
            d.stop()
        d = Daemon("--auth", "off", "--ui", "off")
        try:
            with urllib.request.urlopen(d.url + "/healthz") as r:
                self.assertEqual(r.status, 200)
            try:
                urllib.request.urlopen(d.url + "/")
                self.fail("the dashboard answered with ui = off")
            except urllib.error.HTTPError as e:
                self.assertEqual(e.code, 404)
        finally:
            d.stop()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--screenshots":
        SHOTS = os.path.abspath(sys.argv[2])
        os.makedirs(SHOTS, exist_ok=True)
        del sys.argv[1:3]
    unittest.main(verbosity=2)
