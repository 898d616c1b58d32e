-- wrk script: grabs on packets created beforehand, every answer checked.
-- Setup: ./make-packets.sh URL COUNT > ids.txt   (creates COUNT packets of 100 shares to members 1..500; one id a line)
-- Usage: wrk -t2 -c64 -d10s -s wrk-grab.lua URL -- ids.txt MEMBERS [tokens.txt]
-- With tokens.txt (line i: member i's bearer token, from ../../scripts/sign-token.py 1-MEMBERS) each grab carries
-- its member's token, as a service that checks tokens requires; without, none (a service run with --insecure-dev).
-- Each request is POST /packets/{id}/grab {"member": m}, cycling over the packets and over members 1..MEMBERS, so
-- most grabs are answered sold_out or already_grabbed once the packets are taken — as on a festival night.
-- Ids are kept as strings: a Redis-backed service's ids are 64-bit, above the 2^53 a Lua number holds exactly.
-- Every answer must be a 200 with an "outcome": anything else is counted, and the run exits 1 if there was any,
-- so a figure is never a count of errors.
local ids, members, tokens = {}, 500, nil
local counter = 0
local threads = {}
bad = 0   -- global: done() reads each thread's count with thread:get

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1] or error("usage: wrk ... -s wrk-grab.lua URL -- IDS_FILE MEMBERS")
  for line in io.lines(path) do
    if line:match("^%d+$") then ids[#ids + 1] = line end
  end
  if #ids == 0 then error("no packet ids in " .. path) end
  members = tonumber(args[2] or 500)
  if args[3] then
    tokens = {}
    for line in io.lines(args[3]) do tokens[#tokens + 1] = line end
    if #tokens < members then error("tokens for " .. #tokens .. " members in " .. args[3] .. ", need " .. members) end
  end
  counter = math.random(0, #ids * members)
end

function request()
  counter = counter + 1
  local id = ids[1 + counter % #ids]
  local member = 1 + math.floor(counter / #ids) % members
  local headers = { ["Content-Type"] = "application/json" }
  if tokens then headers["Authorization"] = "Bearer " .. tokens[member] end
  return wrk.format("POST", "/packets/" .. id .. "/grab", headers, '{"member": ' .. member .. '}')
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"outcome"', 1, true) then bad = bad + 1 end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + (thread:get("bad") or 0) end
  io.write(string.format("checked answers: %d requests, %d not a 200 grab answer\n", summary.requests, failed))
  if failed > 0 or summary.requests == 0 then os.exit(1) end
end
