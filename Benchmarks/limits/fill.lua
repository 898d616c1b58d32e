-- Fills the shares list KEYS[1] with ARGV[1] packets of ARGV[2] shares of ARGV[3] fen each, and clears the winners
-- hash KEYS[2]: enough shares that redis-benchmark's grabs never find the list empty.
redis.call('DEL', KEYS[1], KEYS[2])
local shares = {}
for i = 1, tonumber(ARGV[2]) do shares[i] = math.floor(tonumber(ARGV[3]) / tonumber(ARGV[2])) end
for _ = 1, tonumber(ARGV[1]) do redis.call('RPUSH', KEYS[1], unpack(shares)) end
return redis.call('LLEN', KEYS[1])
