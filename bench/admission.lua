-- wrk script: POST one AdmissionReview body over and over and check every answer.
-- Arguments (after `--`): body file, expected request uid, "1" when a JSON Patch is expected.
-- Prints one JSON line in done(): counts, wrk's socket errors, bad answers, latency (us).

local threads = {}

-- WRK_DELAY_MS > 0 paces each connection: it waits that long before each request (a closed
-- loop at about connections * 1000 / (WRK_DELAY_MS + latency) requests/s).
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  uid = args[2]
  need_patch = args[3] == "1"
  req = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
  responses = 0
  bad = 0
end

function request()
  return req
end

function response(status, headers, body)
  responses = responses + 1
  local ok = status == 200
    and body:find(uid, 1, true) ~= nil
    and body:find('"kind"%s*:%s*"AdmissionReview"') ~= nil
    and body:find('"allowed"%s*:%s*true') ~= nil
  if ok and need_patch then
    ok = body:find('"patchType"%s*:%s*"JSONPatch"') ~= nil
  end
  if not ok then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total, checked = 0, 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    checked = checked + thread:get("responses")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"bad_responses":%d,"checked":%d,'
      .. '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    bad_total, checked,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
