-- wrk script of `make bench-tls` (loadtest/bench_tls.py): client-credentials token requests.
-- BENCH_AUTHORIZATION: the client's Basic credentials (from the environment, never the command line).
-- BENCH_NEW_CONNECTION=1: "Connection: close" on every request, so that each one opens a new
-- connection (wrk then offers the previous TLS session for resumption; the server decides).
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTHORIZATION")
if os.getenv("BENCH_NEW_CONNECTION") == "1" then
  wrk.headers["Connection"] = "close"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
