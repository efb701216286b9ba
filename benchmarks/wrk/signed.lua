-- Replays pre-signed webhook deliveries, each exactly once: thread k of n sends lines k, k+n, ...
-- of the file named by REQUESTS_FILE (timestamp \t signature \t body). A fixed rate is asked
-- with PACE_DELAY_MS: each connection waits that long before its next request (wrk's delay hook).
-- The summary is printed as one JSON line (prefix WRK_JSON) for benchmarks/ingest.py to read.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  local path = os.getenv("REQUESTS_FILE")
  pace = tonumber(os.getenv("PACE_DELAY_MS") or "0")
  requests_list = {}
  local line_no = 0
  for line in io.lines(path) do
    if line_no % n == thread_index then
      local stamp, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      requests_list[#requests_list + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json; charset=utf-8",
        ["x-zm-request-timestamp"] = stamp,
        ["x-zm-signature"] = signature,
      }, body)
    end
    line_no = line_no + 1
  end
  position = 0
end

function request()
  position = position + 1
  if position > #requests_list then
    -- Out of distinct deliveries: a benchmark sized too small; a resend would be a duplicate.
    position = 1
    exhausted = true
  end
  return requests_list[position]
end

if os.getenv("PACE_DELAY_MS") and tonumber(os.getenv("PACE_DELAY_MS")) > 0 then
  function delay()
    return pace
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
