-- wrk script: the life of a packet, over and over — POST /packets to a group built afresh (one of 1,000
-- memberships of 100 members, each request's body decoded into a new Group), one grab, then the expiry — so a
-- long run shows whether the service's memory follows its live packets. Every answer is checked: 201 with an id,
-- 200 granted, 200 refunded; anything else is counted and the run exits 1.
-- Usage: wrk -t2 -c2 -d3600s -s wrk-cycle.lua URL -- PACKETS   (each thread stops after PACKETS cycles)
-- One connection per thread (-c equal to -t): answers then come in the order of the requests, which the script
-- needs to know which packet an answer is about.
local bodies = {}
local queue, head = {}, 1     -- requests to send once their packet's id is known: {kind, id, member}
local created, limit = 0, math.huge
local threads = {}
bad, cycles = 0, 0            -- globals: done() reads each thread's with thread:get

function setup(thread) table.insert(threads, thread) end

function init(args)
  limit = tonumber(args[1] or "") or math.huge
  for k = 0, 999 do
    local members = {}
    for m = 1, 100 do members[m] = tostring(k + m) end
    bodies[k] = '{"total_fen": 1000, "shares": 10, "members": [' .. table.concat(members, ",") .. ']}'
  end
end

local pending = {}            -- the requests in flight, oldest first (one connection: answers come in order)
function request()
  if head <= #queue then
    local next = queue[head]; queue[head] = nil; head = head + 1
    pending[#pending + 1] = next
    if next.kind == "grab" then
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
  pending[#pending + 1] = { kind = "create", member = k + 1 + created % 100 }
  return wrk.format("POST", "/packets", { ["Content-Type"] = "application/json" }, bodies[k])
end

function response(status, headers, body)
  local sent = table.remove(pending, 1)
  if sent == nil then return end
  if sent.kind == "create" then
    local id = body:match('"id"%s*:%s*"?(%d+)')
    if status ~= 201 or not id then bad = bad + 1; return end
    queue[#queue + 1] = { kind = "grab", id = id, member = sent.member }
  elseif sent.kind == "grab" then
    if status ~= 200 or not body:find('"granted"', 1, true) then bad = bad + 1 end
    queue[#queue + 1] = { kind = "expire", id = sent.id }
  else
    if status ~= 200 or not body:find('"refunded"', 1, true) then bad = bad + 1 else cycles = cycles + 1 end
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
