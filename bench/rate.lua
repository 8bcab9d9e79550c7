-- wrk script: adds the bearer token and, when RATE is set, paces each connection so the whole run
-- offers about RATE requests per second: each connection waits an exponentially distributed
-- think time (mean CONNECTIONS/RATE) before its next request, so the merged arrivals are close to
-- a Poisson stream at RATE (wrk has no constant-rate mode; wrk2 is not packaged in Debian).
-- Env: TOKEN, RATE (req/s, optional), CONNECTIONS (must match wrk -c), METHOD, BODY_FILE.
local token = os.getenv("TOKEN")
local rate = tonumber(os.getenv("RATE") or "0")
local connections = tonumber(os.getenv("CONNECTIONS") or "64")
local body_file = os.getenv("BODY_FILE")

wrk.method = os.getenv("METHOD") or "GET"
wrk.headers["Authorization"] = "Bearer " .. (token or "")
wrk.headers["Content-Type"] = "application/json"
local extra = os.getenv("EXTRA_HEADER") or ""
local colon = extra:find(":")
if colon then wrk.headers[extra:sub(1, colon - 1)] = extra:sub(colon + 1) end
if body_file and body_file ~= "" then
  local f = io.open(body_file, "r")
  wrk.body = f:read("*a")
  f:close()
end

if rate > 0 then
  local gap_ms = connections * 1000.0 / rate
  function setup(thread)
    thread:set("seed", math.random(1, 1000000))
  end
  function init(args)
    math.randomseed(seed or os.time())
  end
  function delay()
    return -gap_ms * math.log(1 - math.random())
  end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.2f rps=%.0f errors=%d non2xx=%d p50_ms=%.3f p90_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
