-- wrk script for `npm run bench`: one scenario per run, named by the argument after `--`:
--   get    GET /api/items/:id on a random existing id
--   list   GET /api/items?limit=50&after=<random>
--   mixed  80 % get, 10 % POST /api/items, 10 % PUT /api/items/:id (random per request)
-- BENCH_ROWS (environment) is the number of seeded rows. done() prints one JSON line that
-- apps/api/bench/run.ts reads.
-- Every request carries X-Forwarded-For with one of 256 client addresses, as the ingress sends it
-- in the cluster (the API runs with TRUST_PROXY=1 there and here, so the rate limiter keys on it).
local rows = tonumber(os.getenv("BENCH_ROWS") or "10000")
local scenario = "get"

local function headers(json)
  local h = { ["X-Forwarded-For"] = "10.1.0." .. math.random(0, 255) }
  if json then h["Content-Type"] = "application/json" end
  return h
end

function init(args)
  scenario = args[1] or "get"
  math.randomseed(os.time())
end

local function get()
  return wrk.format("GET", "/api/items/" .. math.random(rows), headers())
end

local function list()
  return wrk.format("GET", "/api/items?limit=50&after=" .. math.random(0, rows - 50), headers())
end

local function create()
  return wrk.format("POST", "/api/items", headers(true), '{"name":"bench ' .. math.random(1000000) .. '"}')
end

local function update()
  return wrk.format("PUT", "/api/items/" .. math.random(rows), headers(true),
    '{"name":"updated by bench","description":"mixed load"}')
end

function request()
  if scenario == "list" then return list() end
  if scenario == "mixed" then
    local r = math.random(10)
    if r == 9 then return create() end
    if r == 10 then return update() end
  end
  return get()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"errors":%d,"non2xx":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
