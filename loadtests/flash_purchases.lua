-- wrk script of loadtests/bench_flash.py: the same client for the baseline and the purchase flood.
--
--   wrk -s loadtests/flash_purchases.lua http://HOST/health -- get
--   wrk -s loadtests/flash_purchases.lua http://HOST/api/v1/flash-sales/<id>/purchases -- purchase <api-key> <product-id> <tag>
--
-- "purchase": every request has its own Idempotency-Key and customer_id (<tag>-<thread>-<n>), so no
-- request is an idempotent replay and no customer reaches a limit: against a sold-out sale every
-- answer should be 409 SOLD_OUT. Both modes count responses by status and print one line,
-- `BENCH_FLASH {json}`, with requests, duration, p50/p99 latency and the status counts.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local mode, product, tag, headers
local counter = 0
statuses = {}

function init(args)
  mode = args[1] or "get"
  if mode == "purchase" then
    headers = { ["Content-Type"] = "application/json", ["X-API-Key"] = args[2] }
    product, tag = args[3], args[4] .. "-" .. tid
  end
end

function request()
  if mode == "get" then
    return wrk.format("GET")
  end
  counter = counter + 1
  local id = tag .. "-" .. counter
  headers["Idempotency-Key"] = id
  local body = '{"product_id":"' .. product .. '","quantity":1,"customer_id":"c-' .. id .. '"}'
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_FLASH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"socket_errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
