-- bench/w1_trajectory.lua: wrk script for bench_http.sh. Posts the W1
-- request (the file named by $W1_REQUEST, from bench_solve --print-request)
-- and prints one JSON line with throughput, latency percentiles and errors.
local f = assert(io.open(os.getenv("W1_REQUEST"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
f:close()

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"bench": "http_w1_single", "connections": %s, "requests": %d, "requests_per_s": %.1f, ' ..
    '"p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "max_us": %.1f, "errors": %d, ' ..
    '"non_2xx": %d}\n',
    os.getenv("WRK_CONNECTIONS") or "null", summary.requests, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
