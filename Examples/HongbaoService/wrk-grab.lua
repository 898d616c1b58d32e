-- wrk script: grabs on packets created beforehand (scripts/service-bench.sh creates them and passes their ids).
-- Usage: wrk -t2 -c64 -d10s -s wrk-grab.lua http://127.0.0.1:8080 -- FIRST_ID PACKETS MEMBERS
-- Each request is POST /packets/{id}/grab {"member": m}, cycling over the packets and over members 1..MEMBERS,
-- so most grabs are answered sold_out or already_grabbed once the packets are taken — as on a festival night.
local first, packets, members = 0, 1, 500
local counter = 0

function init(args)
  first = tonumber(args[1] or 0)
  packets = tonumber(args[2] or 1)
  members = tonumber(args[3] or 500)
  counter = math.random(0, packets * members)
end

function request()
  counter = counter + 1
  local id = first + counter % packets
  local member = 1 + math.floor(counter / packets) % members
  return wrk.format("POST", "/packets/" .. id .. "/grab", { ["Content-Type"] = "application/json" },
    '{"member": ' .. member .. '}')
end
