#!/usr/bin/python3
"""bench/soak.py: mixed load on a running odeserved, a report each minute.

Run by bench/soak.sh, which starts the daemon. Stdlib only: threads with
http.client, one keep-alive connection each (why not wrk: the mix creates
and deletes what it uses, and posts bodies of megabytes, awkward in wrk's
Lua; the daemon, not this client, is the bottleneck at these requests).

Phases: (1) DURATION seconds at CONNECTIONS connections of mixed requests:
small trajectories, 4x10^4-time trajectories (under large_body_size), model uploads and version
deletes, dataset posts and deletes, job posts; (2) overload: a burst of
slow solves from OVERLOAD_CONNECTIONS (320, from three loopback
addresses) past eval_queue_limit (256 waiting), expecting 503 with Retry-After, then
recovery (/healthz and a trajectory answer 200); (3) LARGE_N bodies of
LARGE_MB each, then the daemon's RSS against its idle value.

An error is a reply other than the expected ones (503 with Retry-After and
a JSON body counts as a refusal, not an error), a non-JSON error body, or a
connection failure. Prints one JSON object per line."""
import http.client, json, os, random, sys, threading, time

PORT = int(os.environ["PORT"]); PID = int(os.environ["DAEMON_PID"])
DURATION = float(os.environ.get("DURATION", 600)); CONNS = int(os.environ.get("CONNECTIONS", 64))
OVERLOAD_CONNS = int(os.environ.get("OVERLOAD_CONNECTIONS", 320))
LARGE_N = int(os.environ.get("LARGE_N", 1000)); LARGE_MB = float(os.environ.get("LARGE_MB", 15.5))
LARGE_SECONDS = float(os.environ.get("LARGE_SECONDS", 0))  # 0: no time limit on the large phase
MODEL = open(os.environ.get("MODEL", "examples/spiral.json")).read()

def proc(field):
    for l in open("/proc/%d/status" % PID):
        if l.startswith(field): return int(l.split()[1])
def rss_mb(): return proc("VmRSS") / 1024
def fds(): return len(os.listdir("/proc/%d/fd" % PID))

lock = threading.Lock()
stats = {}   # route -> [latencies], errors, refused
def record(route, dt, ok, refused=False):
    with lock:
        s = stats.setdefault(route, {"lat": [], "err": 0, "refused": 0})
        s["lat"].append(dt)
        s["err"] += 0 if ok else 1
        s["refused"] += 1 if refused else 0

class Client:
    def __init__(self, src="127.0.0.1"): self.c = None; self.src = src
    def req(self, method, path, body=None):
        for attempt in (0, 1):
            try:
                if self.c is None: self.c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60,
                                                                    source_address=(self.src, 0))
                h = {"Content-Type": "application/json"} if body is not None else {}
                self.c.request(method, path, body, h)
                r = self.c.getresponse(); data = r.read()
                if r.getheader("Connection", "").lower() == "close": self.c.close(); self.c = None
                return r.status, r.getheader("Retry-After"), data
            except (OSError, http.client.HTTPException):
                if self.c: self.c.close()
                self.c = None
                if attempt: return 0, None, b""
def timed(cl, route, method, path, body, want):
    t = time.monotonic(); st, ra, data = cl.req(method, path, body); dt = time.monotonic() - t
    refused = st == 503 and ra is not None
    ok = st in want or refused
    if ok and st >= 400:
        try: ok = "error" in json.loads(data)
        except ValueError: ok = False
    if not ok and os.environ.get("VERBOSE"): print("#", route, st, data[:200], file=sys.stderr)
    record(route, dt, ok, refused)
    return st

rnd = random.Random(1)
SMALL = json.dumps({"y0": [2.0, 0.0], "t": [0.5, 3.1, 0.2, 25.0]})
MID = json.dumps({"y0": [2.0, 0.0], "t": [rnd.uniform(0, 25) for _ in range(4 * 10**4)]})
def dataset(n):
    return json.dumps({"series": [{"t": [i * 0.01 for i in range(n)],
                                   "y": [[rnd.uniform(-2, 2), rnd.uniform(-2, 2)] for _ in range(n)]}]})
DS = dataset(2000)
JOB = lambda ds: json.dumps({"model": "soakjob", "dataset": ds, "init": {"kind": "ode", "state_dim": 2, "hidden": [8]},
                             "objective": {"loss": "l1", "batch_size": 4, "batch_time": 5},
                             "iterations": 5, "seed": 0})

def worker(i, until):
    cl = Client(); r = random.Random(i); n = 0
    while time.monotonic() < until:
        n += 1; x = r.random()
        if x < 0.55: timed(cl, "traj_small", "POST", "/v1/models/spiral/trajectory", SMALL, (200,))
        elif x < 0.65: timed(cl, "traj_4e4", "POST", "/v1/models/spiral/trajectory", MID, (200,))
        elif x < 0.75:
            name = "soak%d" % i
            if timed(cl, "model_upload", "POST", "/v1/models/%s/versions" % name, MODEL, (201,)) == 201:
                timed(cl, "model_delete", "DELETE", "/v1/models/%s" % name, None, (200,))
        elif x < 0.88:
            name = "ds%d_%d" % (i, n)
            if timed(cl, "dataset_post", "POST", "/v1/datasets/" + name, DS, (201,)) == 201:
                if r.random() < 0.2: timed(cl, "job_post", "POST", "/v1/jobs", JOB(name), (202,))
                else: timed(cl, "dataset_delete", "DELETE", "/v1/datasets/" + name, None, (200,))
        elif x < 0.95: timed(cl, "models_list", "GET", "/v1/models", None, (200,))
        else: timed(cl, "healthz", "GET", "/healthz", None, (200,))

def pct(v, q):
    v = sorted(v); return round(v[min(len(v) - 1, int(q * len(v)))] * 1e3, 2) if v else None
def report(phase, minute):
    with lock:
        snap = {k: dict(v) for k, v in stats.items()}; stats.clear()
    routes = {k: {"n": len(v["lat"]), "errors": v["err"], "refused_503": v["refused"],
                  "p50_ms": pct(v["lat"], .5), "p99_ms": pct(v["lat"], .99)} for k, v in sorted(snap.items())}
    print(json.dumps({"phase": phase, "minute": minute, "errors": sum(r["errors"] for r in routes.values()),
                      "rss_mb": round(rss_mb(), 1), "fds": fds(), "loadavg": os.getloadavg()[0],
                      "routes": routes}), flush=True)
    return sum(r["errors"] for r in routes.values())

def main():
    setup = Client()
    assert setup.req("POST", "/v1/models/spiral/versions", MODEL)[0] == 201
    setup.req("POST", "/v1/models/spiral/trajectory", SMALL)
    idle = rss_mb()
    print(json.dumps({"phase": "idle", "rss_mb": round(idle, 1), "fds": fds()}), flush=True)
    errors = 0
    t0 = time.monotonic(); until = t0 + DURATION
    ts = [threading.Thread(target=worker, args=(i, until)) for i in range(CONNS)]
    [t.start() for t in ts]
    minute = 0
    while any(t.is_alive() for t in ts):
        time.sleep(min(60, max(0.1, until - time.monotonic())) if time.monotonic() < until else 1)
        if time.monotonic() >= t0 + 60 * (minute + 1) or not any(t.is_alive() for t in ts):
            minute += 1; errors += report("mixed", minute)
    [t.join() for t in ts]
    # overload: slow solves from every connection at once
    # tens of ms each: enough to fill the queue when all arrive at once, not
    # so much that what was admitted waits past the client's timeout
    slow = json.dumps({"y0": [[2.0, 0.0]] * 64, "t": [25.0]})
    res = []
    def burst(i):
        cl = Client("127.0.0.%d" % (1 + i % 3))  # per_ip_connection_limit is per address
        for _ in range(2):
            st, ra, _ = cl.req("POST", "/v1/models/spiral/trajectory", slow)
            res.append((st, ra))
    bs = [threading.Thread(target=burst, args=(i,)) for i in range(OVERLOAD_CONNS)]
    [t.start() for t in bs]; [t.join() for t in bs]
    n503 = sum(1 for st, ra in res if st == 503); n503ra = sum(1 for st, ra in res if st == 503 and ra)
    other = sum(1 for st, ra in res if st not in (200, 503))
    time.sleep(2)
    rec = setup.req("GET", "/healthz")[0] == 200 and setup.req("POST", "/v1/models/spiral/trajectory", SMALL)[0] == 200
    print(json.dumps({"phase": "overload", "requests": len(res), "ok": sum(1 for s, _ in res if s == 200),
                      "refused_503": n503, "with_retry_after": n503ra, "other": other,
                      "recovered": rec, "rss_mb": round(rss_mb(), 1), "fds": fds()}), flush=True)
    errors += other + (n503 - n503ra) + (0 if rec else 1)
    # large bodies: datasets just under max_body_size (16M), each parsed whole
    n = int(LARGE_MB * 1e6 / (len(dataset(1000)) / 1000))
    big = dataset(n); peak = 0; codes = {}
    cl = Client()
    t_large = time.monotonic(); done = 0
    for i in range(LARGE_N):
        if LARGE_SECONDS and time.monotonic() - t_large > LARGE_SECONDS: break
        st = cl.req("POST", "/v1/datasets/big", big)[0]
        codes[st] = codes.get(st, 0) + 1
        if st == 201: cl.req("DELETE", "/v1/datasets/big")
        peak = max(peak, rss_mb()); done += 1
        if done % 100 == 0:
            print(json.dumps({"phase": "large_progress", "bodies": done, "rss_mb": round(rss_mb(), 1),
                              "peak_rss_mb": round(peak, 1), "seconds": round(time.monotonic() - t_large),
                              "loadavg": os.getloadavg()[0]}), flush=True)
    time.sleep(1)
    end = rss_mb()
    print(json.dumps({"phase": "large", "bodies": done, "body_mb": round(len(big) / 1e6, 1),
                      "codes": codes, "idle_rss_mb": round(idle, 1), "peak_rss_mb": round(peak, 1),
                      "end_rss_mb": round(end, 1), "fds": fds(), "loadavg": os.getloadavg()[0]}), flush=True)
    errors += sum(v for k, v in codes.items() if k != 201)
    print(json.dumps({"summary": True, "errors": errors}), flush=True)
    return 1 if errors else 0

sys.exit(main())
