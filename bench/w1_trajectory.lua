-- bench/w1_trajectory.lua: wrk script for bench_http.sh and http_overhead.sh.
-- Posts the W1 request (the file named by $W1_REQUEST, from bench_solve
-- --print-request) and prints one JSON line with throughput, latency
-- percentiles and errors. Without $W1_REQUEST it sends wrk's plain GET (the
-- /healthz baseline of http_overhead.sh); $WRK_BENCH names the line's
-- "bench" (default http_w1_single).
local path = os.getenv("W1_REQUEST")
if path then
  local f = assert(io.open(path, "r"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  f:close()
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"bench": "%s", "connections": %s, "requests": %d, "requests_per_s": %.1f, ' ..
    '"p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, "max_us": %.1f, "errors": %d, ' ..
    '"non_2xx": %d}\n',
    os.getenv("WRK_BENCH") or "http_w1_single",
    os.getenv("WRK_CONNECTIONS") or "null", summary.requests, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
