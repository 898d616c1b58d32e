/// The Lua scripts, loaded once per connection with SCRIPT LOAD and called with EVALSHA. Every key a script
/// touches comes in KEYS; all keys of one packet share its hash tag, so a script never crosses cluster slots
/// when it serves one packet.
enum GrabScript {
    /// Grabs, combined per packet: for each packet of the call, its grabbers in order. Redis runs a script alone,
    /// start to finish: nothing can happen between a grab's check and its act.
    ///
    /// Per packet the script reads the packet once, checks every grabber's membership (SMISMEMBER) and earlier
    /// share (HMGET) in one call each, then gates all the new grabbers at once on one atomic decrement of the
    /// shares left (DECRBY k: the first `before` of them win, in order, where `before` is what was left), takes
    /// the winners' shares — popped from the pre-split list, or computed one after another by double mean from the
    /// balance — and records them in one HSET. One grabber alone is the same script with k = 1 (a DECR).
    ///
    /// KEYS, per packet: meta, count, members, grabbed, shares (see `RedisKey`).
    /// ARGV: now in ms; then per packet: k, then k pairs of member and random48 (from the caller's seeded
    /// generator; Redis replays `math.random` identically in every call, so randomness must come from outside).
    /// Returns 3 integers per grabber, packet after packet, in order: code, seq, amount. Codes: 0 granted,
    /// 1 already grabbed (same share), -1 sold out, -2 expired, -3 not a member, -4 no such packet.
    static let grab = """
        local now = tonumber(ARGV[1])
        local out, a = {}, 2
        for p = 0, #KEYS / 5 - 1 do
          local meta, count, members, grabbed, shares = KEYS[5*p+1], KEYS[5*p+2], KEYS[5*p+3], KEYS[5*p+4], KEYS[5*p+5]
          local k = tonumber(ARGV[a])
          local who, rnd = {}, {}
          for i = 1, k do who[i], rnd[i] = ARGV[a + 2*i - 1], tonumber(ARGV[a + 2*i]) end
          a = a + 2*k + 1
          local code, seq, amount = {}, {}, {}
          for i = 1, k do code[i], seq[i], amount[i] = 0, 0, 0 end
          local m = redis.call('HMGET', meta, 'shares', 'cap', 'expires_ms', 'mode', 'closed', 'balance')
          if not m[1] then
            for i = 1, k do code[i] = -4 end
          else
            local member = redis.call('SMISMEMBER', members, unpack(who))
            local previous = redis.call('HMGET', grabbed, unpack(who))
            local closed = m[5] == '1' or now >= tonumber(m[3])
            local fresh, first = {}, {}
            for i = 1, k do
              if member[i] == 0 then
                code[i] = -3
              elseif previous[i] then
                local colon = string.find(previous[i], ':', 1, true)
                code[i], seq[i], amount[i] = 1, tonumber(string.sub(previous[i], 1, colon - 1)), tonumber(string.sub(previous[i], colon + 1))
              elseif first[who[i]] then
                code[i] = -5   -- the same member again in this call: answered after the first
              elseif closed then
                code[i] = -2
              else
                first[who[i]] = i
                fresh[#fresh + 1] = i
              end
            end
            if #fresh > 0 then
              -- The gate: one atomic decrement for all of them. Below zero, every share is taken.
              local left = #fresh == 1 and redis.call('DECR', count) or redis.call('DECRBY', count, #fresh)
              local before = left + #fresh
              local winners = math.max(0, math.min(#fresh, before))
              local shareCount, balance, cap = tonumber(m[1]), tonumber(m[6]), tonumber(m[2])
              local popped = {}
              if m[4] == 'list' and winners > 0 then popped = redis.call('LPOP', shares, winners) end
              local record, paid = {}, 0
              for j = 1, #fresh do
                local i = fresh[j]
                if j > winners then
                  code[i] = -1
                else
                  local n = before - j + 1   -- shares left before this one
                  seq[i] = shareCount - n + 1
                  if m[4] == 'list' then
                    amount[i] = tonumber(popped[j])
                  elseif n == 1 then
                    amount[i] = balance
                  else
                    -- Double mean from the balance, exactly as DoubleMean.share in Swift.
                    local lo = math.max(1, balance - cap * (n - 1))
                    local hi = math.min(2 * math.floor(balance / n) - 1, cap)
                    amount[i] = lo + rnd[i] % (hi - lo + 1)
                  end
                  balance = balance - amount[i]
                  paid = paid + amount[i]
                  record[#record + 1] = who[i]
                  record[#record + 1] = seq[i] .. ':' .. amount[i]
                end
              end
              if paid > 0 then
                redis.call('HINCRBY', meta, 'balance', -paid)
                redis.call('HSET', grabbed, unpack(record))
              end
            end
            for i = 1, k do
              if code[i] == -5 then
                local f = first[who[i]]
                if code[f] == 0 then code[i], seq[i], amount[i] = 1, seq[f], amount[f] else code[i] = code[f] end
              end
            end
          end
          for i = 1, k do
            out[#out + 1], out[#out + 2], out[#out + 3] = code[i], seq[i], amount[i]
          end
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
          local previous = redis.call('HMGET', grabbed, unpack(who)) -- paid before? the same share again
          ...
          local left = redis.call('DECRBY', count, #fresh)           -- the check: one atomic decrement (DECR for one)
          local winners = math.max(0, math.min(#fresh, left + #fresh))   -- below zero: sold out
          ...
          redis.call('HINCRBY', meta, 'balance', -paid)              -- the act, in the same script
          redis.call('HSET', grabbed, unpack(record))
        """
}
