/// The Lua scripts, loaded once per connection with SCRIPT LOAD and called with EVALSHA. Every key a script
/// touches comes in KEYS; all keys of one packet share its hash tag, so a script never crosses cluster slots
/// when it serves one packet.
enum GrabScript {
    /// Grabs, in order, one per 5 keys — a batch of one or many. Redis runs a script alone, start to finish:
    /// nothing can happen between a grab's check (DECR of the shares left) and its act (record the share).
    ///
    /// KEYS, per grab: meta, count, members, grabbed, shares (see `RedisKey`).
    /// ARGV: now in ms, then per grab: member, random48 (from the caller's seeded generator; Redis replays
    /// `math.random` identically in every call, so randomness must come from outside).
    /// Returns 3 integers per grab: code, seq, amount. Codes: 0 granted, 1 already grabbed (same share),
    /// -1 sold out, -2 expired, -3 not a member, -4 no such packet.
    static let grab = """
        local now = tonumber(ARGV[1])
        local out = {}
        for i = 0, #KEYS / 5 - 1 do
          local meta, count, members, grabbed, shares = KEYS[5*i+1], KEYS[5*i+2], KEYS[5*i+3], KEYS[5*i+4], KEYS[5*i+5]
          local member, random = ARGV[2*i+2], tonumber(ARGV[2*i+3])
          local code, seq, amount = 0, 0, 0
          local m = redis.call('HMGET', meta, 'shares', 'cap', 'expires_ms', 'mode', 'closed', 'balance')
          if not m[1] then
            code = -4
          elseif redis.call('SISMEMBER', members, member) == 0 then
            code = -3
          else
            local previous = redis.call('HGET', grabbed, member)
            if previous then
              local colon = string.find(previous, ':', 1, true)
              code, seq, amount = 1, tonumber(string.sub(previous, 1, colon - 1)), tonumber(string.sub(previous, colon + 1))
            elseif m[5] == '1' or now >= tonumber(m[3]) then
              code = -2
            else
              -- The gate: one atomic decrement. Below zero, every share is taken.
              local left = redis.call('DECR', count)
              if left < 0 then
                code = -1
              else
                local n = left + 1
                seq = tonumber(m[1]) - left
                if m[4] == 'list' then
                  amount = tonumber(redis.call('LPOP', shares))
                else
                  -- Double mean from the balance, exactly as DoubleMean.share in Swift.
                  local balance = tonumber(m[6])
                  if n == 1 then
                    amount = balance
                  else
                    local cap = tonumber(m[2])
                    local lo = math.max(1, balance - cap * (n - 1))
                    local hi = math.min(2 * math.floor(balance / n) - 1, cap)
                    amount = lo + random % (hi - lo + 1)
                  end
                end
                redis.call('HINCRBY', meta, 'balance', -amount)
                redis.call('HSET', grabbed, member, seq .. ':' .. amount)
              end
            end
          end
          out[3*i+1], out[3*i+2], out[3*i+3] = code, seq, amount
        end
        return out
        """

    /// Closes a packet and refunds its balance, exactly once: the refund is recorded in the packet.
    /// KEYS: meta. Returns {code, refund}: 0 refunded now, 1 refunded before, -4 no such packet.
    static let expire = """
        local m = redis.call('HMGET', KEYS[1], 'closed', 'refund', 'balance')
        if not m[3] then return {-4, 0} end
        if m[1] == '1' then return {1, tonumber(m[2])} end
        redis.call('HSET', KEYS[1], 'closed', '1', 'refund', m[3])
        return {0, tonumber(m[3])}
        """

    /// The lines of `grab` that make a grab atomic, for the classroom.
    static let excerpt = """
          -- Redis runs the whole script alone: no other client's command runs in between.
          local previous = redis.call('HGET', grabbed, member)       -- paid before? the same share again
          ...
          local left = redis.call('DECR', count)                     -- the check: one atomic decrement
          if left < 0 then code = -1                                 -- below zero: sold out
          ...
          redis.call('HINCRBY', meta, 'balance', -amount)            -- the act, in the same script
          redis.call('HSET', grabbed, member, seq .. ':' .. amount)
        """
}
