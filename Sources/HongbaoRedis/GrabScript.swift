/// The Lua scripts, loaded once per connection with SCRIPT LOAD and called with EVALSHA. Every key a script
/// touches comes in KEYS; a packet's keys share its hash tag, so a script never crosses cluster slots when it
/// serves the packets of one slot.
///
/// A packet is one hash (`RedisKey.packet`) holding its account — `left` (shares left), `balance`, `closed`,
/// `refund`, `expires_ms`, `shares`, `cap`, `mode`, `group` — and one field per winner, `seq:amount`. Membership:
/// a group of up to `inlineGroup` members is written into the packet's hash (a field `0` per member, replaced by
/// `seq:amount` when it wins: the hash stays a small listpack); a bigger group is a set stored once per group
/// (`RedisKey.group`, named in `group`; an intset up to 512 members) in the packet's slot. So one HMGET answers,
/// for a whole batch of grabbers, membership (small groups), earlier shares and whether the packet is sold out or
/// closed; a big group adds one SMISMEMBER. Pre-split amounts are a list (`RedisKey.shares`).
enum GrabScript {
    /// Grabs, combined per packet: for each packet of the call, its grabbers in order. Redis runs a script alone,
    /// start to finish: nothing can happen between a grab's check and its act.
    ///
    /// Per packet: one HMGET of the account and of every grabber's field and, for a big group, one SMISMEMBER of
    /// the grabbers without a share on the group's set (same hash tag, so same slot); a sold-out or closed packet is
    /// answered from these with no write. The new grabbers take the first `min(new, left)` shares in order — the gate:
    /// `left` is checked and decremented in this one atomic script — their amounts popped from the pre-split list
    /// (LPOP count) or computed one after another by double mean from the balance; then one HSET writes `left`,
    /// `balance` and the winners' fields. A Lua script has no rollback, so every call that could fail on size
    /// (HMGET and HSET with thousands of arguments exceed Lua's C stack of ~8,000) is chunked, and every check is
    /// made before the first write.
    ///
    /// KEYS, per packet: the packet hash, the shares list. ARGV: now in ms; then per packet: k, the group the caller
    /// vouches for (or ""), then k members. A caller that sent the packet knows its group and vouches that every
    /// grabber it passes is in it: when the packet's `group` field is that very key (a group's key names its
    /// content, so the same key is the same members), the set is not asked. Anything else — no voucher, another
    /// group — is checked on the server as before.
    /// The shares list holds, in grab order, the pre-split amounts (`mode` list) or, for double mean at grab time,
    /// the 48-bit random of each share index, drawn by the sender from the packet's seed exactly as the in-process
    /// engines draw it (`DoubleMean.random48`): the same seed pays the same amount at each seq on every engine.
    /// (Redis replays `math.random` identically in every call, so randomness must come from outside anyway.)
    /// Returns 3 integers per grabber, packet after packet, in order: code, seq, amount. Codes: 0 granted,
    /// 1 already grabbed (same share), -1 sold out, -2 expired, -3 not a member, -4 no such packet. Outcomes follow the rule on `GrabOutcome`.
    static let grab = """
        local chunk = 2000
        local function chunked(command, key, out, args)
          for s = 1, #args, chunk do
            local part = redis.call(command, key, unpack(args, s, math.min(s + chunk - 1, #args)))
            for j = 1, #part do out[#out + 1] = part[j] end
          end
          return out
        end
        local now = tonumber(ARGV[1])
        local out, a = {}, 2
        -- One grabber of a packet (most of a batch spread over many packets): the same rules as below, with no
        -- table built. A first HMGET reads only what a loser needs (shares left, group, the grabber's field): most
        -- of a festival's attempts lose, and every field read costs; a grab that may win reads the rest.
        local function one(packet, shares, vouched, who)
          local m = redis.call('HMGET', packet, 'left', 'group', who)
          if not m[1] then return -4, 0, 0 end
          local v = m[3]
          if v and v ~= '0' then
            local colon = string.find(v, ':', 1, true)
            return 1, tonumber(string.sub(v, 1, colon - 1)), tonumber(string.sub(v, colon + 1))
          end
          if not v and (not m[2] or (m[2] ~= vouched and redis.call('SISMEMBER', m[2], who) == 0)) then return -3, 0, 0 end
          local left = tonumber(m[1])
          if left <= 0 then return -1, 0, 0 end
          m = redis.call('HMGET', packet, 'balance', 'closed', 'expires_ms', 'shares', 'cap', 'mode')
          if m[2] == '1' or now >= tonumber(m[3]) then return -2, 0, 0 end
          local balance = tonumber(m[1])
          local seq, amount = tonumber(m[4]) - left + 1, balance
          local popped = tonumber(redis.call('LPOP', shares))   -- this share's amount, or its random
          if m[6] == 'list' then
            amount = popped
          elseif left > 1 then
            local rnd = popped
            local cap = tonumber(m[5])
            local lo = math.max(1, balance - cap * (left - 1))
            local hi = math.min(2 * math.floor(balance / left) - 1, cap)
            amount = lo + rnd % (hi - lo + 1)
          end
          redis.call('HSET', packet, who, seq .. ':' .. amount, 'left', left - 1, 'balance', balance - amount)
          return 0, seq, amount
        end
        for p = 0, #KEYS / 2 - 1 do
          local packet, shares = KEYS[2*p+1], KEYS[2*p+2]
          local k, vouched = tonumber(ARGV[a]), ARGV[a + 1]
          a = a + 2
          if k == 1 then
            local c, sq, am = one(packet, shares, vouched, ARGV[a])
            out[#out + 1], out[#out + 2], out[#out + 3] = c, sq, am
            a = a + 1
          else
          local who = {}
          for i = 1, k do who[i] = ARGV[a + i - 1] end
          a = a + k
          local code, seq, amount = {}, {}, {}
          local m
          if k <= chunk then
            m = redis.call('HMGET', packet, 'left', 'balance', 'closed', 'expires_ms', 'shares', 'cap', 'mode', 'group', unpack(who))
          else
            m = chunked('HMGET', packet, redis.call('HMGET', packet, 'left', 'balance', 'closed', 'expires_ms', 'shares',
                                                    'cap', 'mode', 'group'), who)
          end
          if not m[1] then
            for i = 1, k do code[i], seq[i], amount[i] = -4, 0, 0 end
          else
            local left, balance = tonumber(m[1]), tonumber(m[2])
            local closed = m[3] == '1' or now >= tonumber(m[4])
            -- A big group nobody vouched for: who has no field in the packet is asked of the group's set.
            local ask = m[8] ~= vouched and m[8]
            local asked = {}
            if ask then for i = 1, k do if not m[8 + i] then asked[#asked + 1] = who[i] end end end
            local answers = chunked('SMISMEMBER', ask, {}, asked)
            local fresh, first, n = {}, {}, 0
            for i = 1, k do
              local v = m[8 + i]
              seq[i], amount[i] = 0, 0
              if ask and not v then n = n + 1 end
              if not v and (not m[8] or (ask and answers[n] == 0)) then
                code[i] = -3
              elseif v and v ~= '0' then
                local colon = string.find(v, ':', 1, true)
                code[i], seq[i], amount[i] = 1, tonumber(string.sub(v, 1, colon - 1)), tonumber(string.sub(v, colon + 1))
              elseif first[who[i]] then
                code[i] = -5   -- the same member again in this call: answered after the first
              elseif left <= 0 then
                code[i] = -1
              elseif closed then
                code[i] = -2
              else
                first[who[i]] = i
                fresh[#fresh + 1] = i
              end
            end
            local winners = math.min(#fresh, math.max(left, 0))
            if winners > 0 then
              local shareCount, cap = tonumber(m[5]), tonumber(m[6])
              local popped = redis.call('LPOP', shares, winners)   -- the winners' amounts, or their randoms
              local record = {}
              for j = 1, #fresh do
                local i = fresh[j]
                if j > winners then
                  code[i] = -1
                else
                  local n = left - j + 1   -- shares left before this one
                  code[i], seq[i] = 0, shareCount - n + 1
                  if m[7] == 'list' then
                    amount[i] = tonumber(popped[j])
                  elseif n == 1 then
                    amount[i] = balance
                  else
                    -- Double mean from the balance, exactly as DoubleMean.share in Swift.
                    local lo = math.max(1, balance - cap * (n - 1))
                    local hi = math.min(2 * math.floor(balance / n) - 1, cap)
                    amount[i] = lo + tonumber(popped[j]) % (hi - lo + 1)
                  end
                  balance = balance - amount[i]
                  record[#record + 1] = who[i]
                  record[#record + 1] = seq[i] .. ':' .. amount[i]
                end
              end
              record[#record + 1], record[#record + 2] = 'left', left - winners
              record[#record + 1], record[#record + 2] = 'balance', balance
              for s = 1, #record, 2 * chunk do
                redis.call('HSET', packet, unpack(record, s, math.min(s + 2 * chunk - 1, #record)))
              end
            else
              for j = 1, #fresh do code[fresh[j]] = -1 end
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
        end
        return out
        """

    /// Creates one packet — only where no packet with its id exists — and, for a big group, stores or adopts the
    /// group's set and counts the packet as one of its users. Atomic: a packet exists whole or not at all.
    ///
    /// An id is never reused: if the packet's hash or list exists, the script writes nothing and answers -1 (another
    /// process issued the same id: the engine issues another), unless the hash carries this very call's token (a
    /// send resent after its reply was lost: answered 1, nothing written twice). A big group's set is adopted only if
    /// it holds the group's size of members (its name is the SHA-256 of its content, so equal names mean equal
    /// members; the size check catches a set tampered with or cut short): otherwise -3 and nothing is written. If
    /// the set does not exist and the caller did not pass the members (it believed the set was there), -2: the
    /// engine sends again with them. While any of its packets is open the set has no TTL; its `:life` hash counts
    /// them (`n`), and the expire script gives the set a TTL when the last one is refunded.
    ///
    /// KEYS: the packet hash, the shares list, and for a big group its set and its `:life` hash. ARGV: token, the
    /// group's size (0: a small group, written into the hash), m members passed, s share items, the s items, the m
    /// members, then the account's field/value pairs. Returns 0 created, 1 created before by this token, -1 id
    /// taken, -2 the group's set is missing, -3 the group's set differs from the group.
    /// Every script, loaded on each node's first use.
    static var all: [String] { [grab, expire, send, claim] }

    /// Claims a keyed send, or swaps its claim. KEYS: the claim. ARGV: the value, its TTL in ms, and the value it
    /// must hold to be replaced ('' to claim). Claiming: nil if this call claimed, else the value already there.
    /// Swapping: nil if swapped, else the value there (someone else's).
    static let claim = """
        local held = redis.call('GET', KEYS[1])
        if ARGV[3] ~= '' then
          if held == ARGV[3] then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') return false end
          return held
        end
        if held then return held end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return false
        """

    static let send = """
        local chunk = 2000
        local packet, shares, token = KEYS[1], KEYS[2], ARGV[1]
        local size, m, s = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local made = redis.call('HGET', packet, 'send_token')
        if made then return made == token and 1 or -1 end
        if redis.call('EXISTS', packet) == 1 or redis.call('EXISTS', shares) == 1 then return -1 end
        if #KEYS == 4 then
          local group, life = KEYS[3], KEYS[4]
          local card = redis.call('SCARD', group)
          if card == 0 then
            if m == 0 then return -2 end
            for i = 5 + s, 4 + s + m, chunk do redis.call('SADD', group, unpack(ARGV, i, math.min(i + chunk - 1, 4 + s + m))) end
          elseif card ~= size then
            return -3
          end
          redis.call('PERSIST', group)
          -- (a count below 1 — packets sent before the count existed, expired since — starts again at this one)
          if redis.call('HINCRBY', life, 'n', 1) < 1 then redis.call('HSET', life, 'n', 1) end
          redis.call('PERSIST', life)
        end
        for i = 5, 4 + s, chunk do redis.call('RPUSH', shares, unpack(ARGV, i, math.min(i + chunk - 1, 4 + s))) end
        for i = 5 + s + m, #ARGV, 2 * chunk do redis.call('HSET', packet, unpack(ARGV, i, math.min(i + 2 * chunk - 1, #ARGV))) end
        redis.call('HSET', packet, 'send_token', token)
        return 0
        """

    /// Closes packets and refunds their balances, each exactly once: the refund is recorded in the packet with the
    /// token of the call that made it — a random one, or the caller's idempotency key — so a resent or retried call
    /// learns that it made the refund. Only then do the packet's keys get a TTL (`retention`): money never vanishes
    /// with an expiring key. A big group's set counts one open packet fewer, and once none is open it gets a TTL
    /// that outlasts every packet that used it (`:life`'s `until_ms`, the latest refund's time plus retention). One call closes
    /// many packets of one slot (an audit closes hundreds at a time: one script call instead of one per packet).
    /// KEYS, per packet: the packet hash, the shares list. ARGV: token, retention in ms. (The group's set, named in
    /// the hash, shares the packet's hash tag: the same slot.) Returns {code, refund} per packet, in order:
    /// 0 refunded by this call (token), 1 refunded before by another, -4 no such packet.
    static let expire = """
        local out = {}
        local now
        for p = 1, #KEYS, 2 do
          local m = redis.call('HMGET', KEYS[p], 'closed', 'refund', 'balance', 'refund_token', 'group')
          if not m[3] then
            out[#out + 1], out[#out + 2] = -4, 0
          elseif m[1] == '1' then
            out[#out + 1], out[#out + 2] = m[4] == ARGV[1] and 0 or 1, tonumber(m[2])
          else
            redis.call('HSET', KEYS[p], 'closed', '1', 'refund', m[3], 'refund_token', ARGV[1])
            redis.call('PEXPIRE', KEYS[p], ARGV[2])
            redis.call('PEXPIRE', KEYS[p + 1], ARGV[2])
            if m[5] then
              -- One user of the group's set fewer; the set stays at least as long as this packet does.
              if not now then
                local t = redis.call('TIME')
                now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
              end
              local life = m[5] .. ':life'
              local keep = now + tonumber(ARGV[2])
              local before = tonumber(redis.call('HGET', life, 'until_ms') or '0')
              if before > keep then keep = before end
              local n = redis.call('HINCRBY', life, 'n', -1)
              redis.call('HSET', life, 'until_ms', keep)
              if n <= 0 then
                redis.call('PEXPIREAT', m[5], keep)
                redis.call('PEXPIREAT', life, keep)
              end
            end
            out[#out + 1], out[#out + 2] = 0, tonumber(m[3])
          end
        end
        return out
        """

    /// The largest group written into its packets' hashes rather than into a set of its own.
    static let inlineGroup = 100

    /// The lines of `grab` that make a grab atomic, for the classroom.
    static let excerpt = """
          -- Redis runs the whole script alone: no other client's command runs in between.
          local m = redis.call('HMGET', packet, 'left', 'balance', ..., unpack(who))  -- the account, earlier shares
          ...
          elseif v ~= '0' then code[i] = 1                        -- paid before: the same share again
          elseif left <= 0 then code[i] = -1                      -- the check: sold out
          ...
          local winners = math.min(#fresh, math.max(left, 0))     -- the first `left` new grabbers win
          redis.call('HSET', packet, unpack(record))  -- the act, in the same script: winners, left, balance
        """
}
