-- One grab of a pre-split packet, the least a Redis grab does: refuse a second grab by the same member, pop the
-- next share, record it for the member. KEYS[1] the shares list, KEYS[2] the winners hash, ARGV[1] the member.
-- Returns the share (fen), -1 sold out, -2 already grabbed. (Used by limits/run.sh with redis-benchmark.)
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -2 end
local share = redis.call('LPOP', KEYS[1])
if not share then return -1 end
redis.call('HSET', KEYS[2], ARGV[1], share)
return tonumber(share)
