"""bench/slowloris.py: /healthz latency under 2x connection_limit slow sockets.

docs/reliability.md's target: /healthz answers within 100 ms while twice
`connection_limit` sockets trickle their headers. check_http_framing only
asserts that every round answers (a speed figure would fail on a loaded CI
machine); this measures it. Run through with_daemon.sh, which starts the
daemon; give it the limit and a far header deadline, so that only giving way
at the limit helps:

  ODESERVED_ARGS="--connection-limit 32 --header-timeout 30" \\
      bench/with_daemon.sh bench/slowloris.py

Prints one JSON line: the rounds' median and worst /healthz latency in ms,
the load average, and whether the median met 100 ms. ROUNDS (default 25)
and SLOW (default 64) change the run."""
import json
import os
import socket
import statistics
import time

PORT = int(os.environ["PORT"])
ROUNDS = int(os.environ.get("ROUNDS", "25"))
SLOW = int(os.environ.get("SLOW", "64"))


def healthz_ms():
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            k = s.recv(4096)
            if not k:
                break
            data += k
    finally:
        s.close()
    took = (time.perf_counter() - t0) * 1e3
    if not data.startswith(b"HTTP/1.1 200"):
        raise SystemExit("/healthz did not answer 200: %r" % data[:80])
    return took


def main():
    slow = []
    for _ in range(SLOW):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        slow.append(s)
    took = []
    for _ in range(ROUNDS):
        for s in slow:
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass  # made way at the limit
        took.append(healthz_ms())
    for s in slow:
        s.close()
    median = statistics.median(took)
    print(json.dumps({
        "slow_sockets": SLOW, "rounds": ROUNDS,
        "healthz_median_ms": round(median, 3), "healthz_worst_ms": round(max(took), 3),
        "loadavg": os.getloadavg()[0], "target_ms": 100, "met": median < 100}))


if __name__ == "__main__":
    main()
