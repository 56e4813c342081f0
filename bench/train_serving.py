#!/usr/bin/python3
"""bench/train_serving.py: serving latency while a training job runs on 0, 1
and 2 threads (a job's "threads", docs/operations.md "Training threads and
serving"). Run by bench/train_serving.sh, which starts the daemon.

Phases of DURATION seconds each: no job; a 1-thread job; a 2-thread job
(the ode spiral job of bench/bench_train_threads: batch 256, windows of
10). In each, CONNECTIONS clients post trajectory requests back to back
(TIMES times on [0, 25] of examples/spiral.json, default 10^4: a solve
past inline_budget, so it runs on the evaluation pool, which the job's
helper threads yield to). Per phase: requests, p50 / p99 / max latency (ms), the
daemon's CPU seconds (utime + stime, /proc) per wall second, the job's
iterations per second, and the 1-minute load average; a loaded machine
moves every wall-clock figure, so compare phases of one run only. Prints
one JSON object per line. Stdlib only."""
import http.client, json, math, os, threading, time

PORT = int(os.environ["PORT"]); PID = int(os.environ["DAEMON_PID"])
DURATION = float(os.environ.get("DURATION", 20)); CONNS = int(os.environ.get("CONNECTIONS", 2))
MODEL = open(os.environ.get("MODEL", "examples/spiral.json")).read()
N_T = int(os.environ.get("TIMES", 10000))
REQUEST = json.dumps({"y0": [2.0, 0.0], "t": [25.0 * i / (N_T - 1) for i in range(N_T)]})

def conn(): return http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
def call(c, method, path, body=None):
    c.request(method, path, body, {"Content-Type": "application/json"} if body else {})
    r = c.getresponse(); return r.status, r.read()

def cpu_s():
    f = open("/proc/%d/stat" % PID).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def spiral_dataset():
    # torchdiffeq's ode_demo data: y' = y^3 A, 1000 points on [0, 25] (RK4, 100 sub-steps)
    y = [2.0, 0.0]; dt = 25.0 / 999; ts, ys = [], []
    f = lambda a: [a[0]**3 * -0.1 + a[1]**3 * -2.0, a[0]**3 * 2.0 + a[1]**3 * -0.1]
    for i in range(1000):
        ts.append(dt * i); ys.append(list(y))
        h = dt / 100
        for _ in range(100):
            k1 = f(y); k2 = f([y[j] + h / 2 * k1[j] for j in (0, 1)])
            k3 = f([y[j] + h / 2 * k2[j] for j in (0, 1)]); k4 = f([y[j] + h * k3[j] for j in (0, 1)])
            y = [y[j] + h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]) for j in (0, 1)]
    return json.dumps({"series": [{"t": ts, "y": ys}]})

def job(threads):
    return json.dumps({"model": "bench_job", "dataset": "spiral_demo", "iterations": 10**7, "seed": 1,
                       "threads": threads, "gradient": "backprop",
                       "init": {"kind": "ode", "state_dim": 2, "hidden": [50], "activation": "tanh"},
                       "objective": {"loss": "l1", "batch_time": 10, "batch_size": 256},
                       "optimizer": {"name": "rmsprop", "lr": 0.001},
                       "solver": {"method": "dopri5", "rtol": 1e-7, "atol": 1e-9}})

def clients(until):
    lat, errors = [], [0]; lock = threading.Lock()
    def run():
        c = conn()
        while time.monotonic() < until:
            t = time.monotonic(); st, _ = call(c, "POST", "/v1/models/spiral/trajectory", REQUEST)
            dt = time.monotonic() - t
            with lock:
                if st == 200: lat.append(dt)
                else: errors[0] += 1
    th = [threading.Thread(target=run) for _ in range(CONNS)]
    for x in th: x.start()
    for x in th: x.join()
    return sorted(lat), errors[0]

def pct(v, p): return 1e3 * v[min(len(v) - 1, int(math.ceil(p * len(v))) - 1)] if v else float("nan")

def iteration(c, jid):
    st, body = call(c, "GET", "/v1/jobs/%d" % jid)
    return json.loads(body).get("iteration", 0) if st == 200 else 0

def main():
    c = conn()
    assert call(c, "POST", "/v1/models/spiral/versions", MODEL)[0] == 201
    assert call(c, "POST", "/v1/datasets/spiral_demo", spiral_dataset())[0] == 201
    call(c, "POST", "/v1/models/spiral/trajectory", REQUEST)
    for threads in (0, 1, 2):
        jid = None
        if threads:
            st, body = call(c, "POST", "/v1/jobs", job(threads))
            assert st == 202, body
            jid = json.loads(body)["id"]
            while iteration(c, jid) < 3: time.sleep(0.2)   # the job is past its set-up
        it0 = iteration(c, jid) if jid else 0; cpu0 = cpu_s(); w0 = time.monotonic()
        lat, errors = clients(w0 + DURATION)
        wall = time.monotonic() - w0; cpu = cpu_s() - cpu0
        it = (iteration(c, jid) - it0) if jid else 0
        if jid: call(c, "POST", "/v1/jobs/%d/cancel" % jid, "{}")
        print(json.dumps({"bench": "train_serving", "job_threads": threads, "connections": CONNS,
                          "requests": len(lat), "errors": errors,
                          "p50_ms": round(pct(lat, 0.5), 2), "p99_ms": round(pct(lat, 0.99), 2),
                          "max_ms": round(1e3 * lat[-1], 2) if lat else None,
                          "daemon_cpu_per_s": round(cpu / wall, 2),
                          "job_iterations_per_s": round(it / wall, 2),
                          "loadavg": os.getloadavg()[0]}), flush=True)
        time.sleep(1)

main()
