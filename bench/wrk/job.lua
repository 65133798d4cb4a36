-- wrk script of `make bench` (scripts/bench.sh). With BENCH_TOKEN set: the full job, POST
-- /v1/uploads with a Bearer token and a JSON body; without: a plain GET of the URL's path.
-- At the end prints one line `WRK {json}` with the figures scripts/bench.sh reads (latency
-- percentiles in microseconds from wrk's own histogram; `status` counts non-2xx/3xx answers).
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = os.getenv("BENCH_BODY")
    or '{"filename":"photo.jpg","content_type":"image/jpeg","size":123456}'
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
