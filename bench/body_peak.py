#!/usr/bin/python3
"""bench/body_peak.py: the daemon's peak memory for one large upload, as a
multiple of its body (not in make check).

Starts ODESERVED (default: the build tree's src/odeserved) on loopback with
a temporary database and --auth off, then for dataset and model uploads of
1, 4 and 12 MiB (the bodies of tests/check_codec_memory: 17-digit numbers,
a dataset of one series of 2 channels, an ODE model 2 -> w -> w -> 2) resets
the peak RSS of a fresh daemon (writing 5 to /proc/PID/clear_refs), posts
the body, and reads VmHWM: the peak above the idle RSS, over the body (the
smaller of two fresh daemons). One JSON object per line.
Results: docs/benchmarks.md, "Memory per request".
    bench/body_peak.py [ODESERVED]"""
import http.client, json, os, random, shutil, subprocess, sys, tempfile, time

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
exe = sys.argv[1] if len(sys.argv) > 1 else os.path.join(top, "src", "odeserved")
class Daemon:
    def __init__(self):
        self.tmp = tempfile.mkdtemp()
        self.log = open(os.path.join(self.tmp, "log"), "w+")
        self.p = subprocess.Popen([exe, "--listen", "127.0.0.1:0", "--db", os.path.join(self.tmp, "b.db"),
                                   "--auth", "off"], stderr=self.log)
        self.port = None
        for _ in range(300):
            self.log.seek(0)
            for line in self.log:
                if "event=listening" in line:
                    self.port = int(line.split("addr=")[1].split()[0].rsplit(":", 1)[1])
            if self.port: break
            time.sleep(0.1)
        assert self.port, "the daemon did not start"
    def status(self, field):
        for line in open("/proc/%d/status" % self.p.pid):
            if line.startswith(field + ":"): return int(line.split()[1]) * 1024
    def req(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        c.request(method, path, body, {"Content-Type": "application/json"} if body else {})
        r = c.getresponse(); r.read(); c.close(); return r.status
    def stop(self):
        self.p.terminate(); self.p.wait(); shutil.rmtree(self.tmp, ignore_errors=True)

def dataset(nbytes):
    row = lambda i: "[%.17g,%.17g]" % (0.001 * (i % 997), -0.002 * (i % 991))
    per = sum(len(row(i)) + len("%d.5" % i) + 2 for i in range(1000)) / 1000
    n = int(nbytes / per)
    return ('{"series": [{"t": [' + ",".join("%d.5" % i for i in range(n)) + '], "y": [' +
            ",".join(row(i) for i in range(n)) + "]}]}")
def model(nbytes):
    w = 8
    while (w + 8) * (w + 8) * 21 < nbytes: w += 8
    rnd = random.Random(7)
    m = lambda r, c: [[(rnd.random() - 0.5) / c for _ in range(c)] for _ in range(r)]
    return json.dumps({"kind": "ode", "state_dim": 2, "vector_field": {"layers": [
        {"weight": m(w, 2), "bias": [0.01 * (i % 13) for i in range(w)], "activation": "tanh"},
        {"weight": m(w, w), "bias": [0] * w, "activation": "tanh"},
        {"weight": m(2, w), "bias": [0, 0]}]}})

print(json.dumps({"exe": exe, "loadavg": os.getloadavg()[0]}), flush=True)
for kind in ("dataset", "model"):
    for mib in (1, 4, 12):
        body = (dataset if kind == "dataset" else model)(mib << 20).encode()
        path = "/v1/datasets/peak" if kind == "dataset" else "/v1/models/peak/versions"
        best = None
        for _ in range(2):  # a fresh daemon each time; the smaller peak of two
            d = Daemon()
            d.req("GET", "/v1/datasets")
            idle = d.status("VmRSS")
            open("/proc/%d/clear_refs" % d.p.pid, "w").write("5")
            st = d.req("POST", path, body)
            peak = d.status("VmHWM") - idle
            d.stop()
            assert st == 201, st
            best = peak if best is None else min(best, peak)
        print(json.dumps({"kind": kind, "body_bytes": len(body), "idle_rss_mib": round(idle / 2**20, 1),
                          "peak_above_idle_mib": round(best / 2**20, 1),
                          "multiple": round(best / len(body), 2), "loadavg": os.getloadavg()[0]}), flush=True)
