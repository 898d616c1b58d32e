-- wrk script: the life of a packet, over and over — POST /packets to a group built afresh (one of 1,000
-- memberships of 100 members, member 1 in each; each request's body decoded into a new Group), member 1's grab,
-- then the expiry — so a long run shows whether the service's memory follows its live packets. Every answer is
-- checked: 201 with an id, 200 granted, 200 refunded; anything else is counted and the run exits 1.
-- Usage: wrk -t2 -c2 -d10s -s wrk-cycle.lua URL -- PACKETS   (each thread sends at most PACKETS packets; wrk
-- still runs for its -d, or until SIGINT, which Benchmarks/service-soak.sh sends once the last packet is refunded)
-- One connection per thread (-c equal to -t): one request in flight, so the script knows which packet each answer
-- is about.
local bodies = {}
local queue, head, tail = {}, 1, 0   -- requests to send once their packet's id is known: {kind, id, member}
local created, limit = 0, math.huge
local threads = {}
bad, cycles = 0, 0            -- globals: done() reads each thread's with thread:get

function setup(thread) table.insert(threads, thread) end

function init(args)
  limit = tonumber(args[1] or "") or math.huge
  for k = 0, 999 do
    local members = {}
    members[1] = "1"                              -- member 1 is in every group: it is the one who grabs
    for m = 2, 100 do members[m] = tostring(k + m) end
    bodies[k] = '{"total_fen": 1000, "shares": 10, "members": [' .. table.concat(members, ",") .. ']}'
  end
end

-- wrk calls request() once more than it sends (when it sets a thread up), so answers are matched by what they
-- are, not by a list of what was asked: one connection per thread keeps one request in flight.
local grabbing = nil          -- the packet of the grab in flight
function request()
  if head <= tail then
    local next = queue[head]; queue[head] = nil; head = head + 1
    if next.kind == "grab" then
      grabbing = next.id
      return wrk.format("POST", "/packets/" .. next.id .. "/grab", { ["Content-Type"] = "application/json" },
        '{"member": ' .. next.member .. '}')
    end
    return wrk.format("POST", "/packets/" .. next.id .. "/expire")
  end
  if created >= limit then
    wrk.thread:stop()
    return wrk.format("GET", "/health")
  end
  created = created + 1
  local k = created % 1000
  return wrk.format("POST", "/packets", { ["Content-Type"] = "application/json" }, bodies[k])
end

function response(status, headers, body)
  if status == 201 then                                   -- a packet: member 1 grabs it
    local id = body:match('"id"%s*:%s*"?(%d+)')
    if not id then bad = bad + 1; return end
    tail = tail + 1
    queue[tail] = { kind = "grab", id = id, member = 1 }
  elseif body:find('"refund_fen"', 1, true) then          -- an expiry: it must be the refund
    if status ~= 200 or not body:find('"outcome":"refunded"', 1, true) then bad = bad + 1 else cycles = cycles + 1 end
  elseif body:find('"outcome"', 1, true) and grabbing then  -- a grab: it must win, then the packet is expired
    if status ~= 200 or not body:find('"granted"', 1, true) then bad = bad + 1 end
    tail = tail + 1
    queue[tail] = { kind = "expire", id = grabbing }
    grabbing = nil
  elseif not body:find('"status"', 1, true) then          -- anything but /health's answer is wrong
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local failed, total = 0, 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("bad") or 0)
    total = total + (thread:get("cycles") or 0)
  end
  io.write(string.format("checked answers: %d packets sent, grabbed and refunded; %d wrong answers\n", total, failed))
  if failed > 0 or total == 0 then os.exit(1) end
end
