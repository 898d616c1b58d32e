import Foundation
import HongbaoCore

/// Expiry and summaries, many packets per round trip.
extension RedisEngine {
    /// Closes the packet and refunds its balance, once, whichever process asks: the refund is recorded in the
    /// packet by the expire script, with this call's token, so a call resent after a lost reply still reports
    /// `.refunded`. The packet is then kept for `retention`. - Throws: `GrabEngineError.unknownPacket`,
    /// `RedisEngineError`.
    public func expire(_ packet: PacketID) throws -> ExpiryOutcome {
        try expire([packet])[0]
    }

    /// Closes the packet under the caller's idempotency key, kept in the packet with its refund: any call with the
    /// same key — a retry after a timeout, a lost connection, a restart, from any process — hears `.refunded` with
    /// the same amount, as the call that made the refund did. - Throws: as `expire(_:)`.
    public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        let calls = try expireCalls([packet], token: "key:" + idempotencyKey.rawValue)
        let replies = try topology.pipeline(slots: calls.map(\.slot), calls.map(\.command), writes: true)
        sentGroups.withLock { $0.forget([packet]) }
        return try Self.expiries(of: [packet], from: replies[0])[0]
    }

    /// Closes many packets in one round trip per node (one script call per slot and `expireBatch` packets).
    /// - Throws: as `expire(_:)`.
    public func expire(_ packets: [PacketID]) throws -> [ExpiryOutcome] {
        guard !packets.isEmpty else { return [] }
        let calls = try expireCalls(packets)
        let replies = try topology.pipeline(slots: calls.map(\.slot), calls.map(\.command), writes: true)
        var outcomes = [ExpiryOutcome?](repeating: nil, count: packets.count)
        for (call, reply) in zip(calls, replies) {
            for (position, outcome) in try Self.expiries(of: call.positions.map { packets[$0] }, from: reply).enumerated() {
                outcomes[call.positions[position]] = outcome
            }
        }
        sentGroups.withLock { $0.forget(packets) }
        return outcomes.map { $0! }
    }

    /// The packet's account: an atomic snapshot (one HGETALL of its hash), in one round trip.
    public func summary(of packet: PacketID) throws -> PacketSummary {
        try summaries(of: [packet])[0]
    }

    /// Many packets' accounts in one round trip per node, each an atomic snapshot of its packet.
    /// - Throws: `GrabEngineError.unknownPacket`, `RedisEngineError`.
    public func summaries(of packets: [PacketID]) throws -> [PacketSummary] {
        try zip(packets, summariesPresent(of: packets)).map { packet, summary in
            guard let summary else { throw GrabEngineError(.unknownPacket, "no \(packet) in Redis") }
            return summary
        }
    }

    /// Many packets' accounts, as `summaries(of:)`, with nil for a packet Redis does not hold.
    /// - Throws: `RedisEngineError`.
    public func summariesPresent(of packets: [PacketID]) throws -> [PacketSummary?] {
        let replies = try topology.pipeline(slots: packets.map { RedisKey.slot(of: $0) }, packets.map(Self.readAll))
        return try zip(packets, replies).map { try Self.summaryIfPresent(of: $0, from: $1.check()) }
    }

    /// Closes many packets and reads each one's account right after, in one pipeline: per slot the expire script,
    /// then an HGETALL per packet — one round trip per node where `expire` and `summaries` take two. (Reading the
    /// hash inside the script instead was measured slower: HGETALL in Lua copies the hash into a Lua table.)
    /// - Throws: as `expire(_:)`.
    public func expireAndSummarize(_ packets: [PacketID]) throws -> [(expiry: ExpiryOutcome, summary: PacketSummary)] {
        try zip(packets, expireAndSummarizePresent(packets)).map { packet, result in
            guard let result else { throw GrabEngineError(.unknownPacket, "no \(packet) in Redis") }
            return result
        }
    }

    /// `expireAndSummarize`, with nil for a packet Redis does not hold (lost in a failover, or never sent).
    /// - Throws: `RedisEngineError`.
    public func expireAndSummarizePresent(_ packets: [PacketID]) throws -> [(expiry: ExpiryOutcome, summary: PacketSummary)?] {
        guard !packets.isEmpty else { return [] }
        let calls = try expireCalls(packets)
        var commands: [RedisCommand] = [], slots: [Int] = []
        for call in calls {
            commands.append(call.command)
            commands += call.positions.map { Self.readAll(packets[$0]) }
            slots += repeatElement(call.slot, count: call.positions.count + 1)
        }
        let replies = try topology.pipeline(slots: slots, commands, writes: true)
        var results = [(expiry: ExpiryOutcome, summary: PacketSummary)?](repeating: nil, count: packets.count)
        var next = 0
        for call in calls {
            let closed = call.positions.map { packets[$0] }
            let expiries = try Self.expiriesIfPresent(of: closed, from: replies[next])
            for (offset, position) in call.positions.enumerated() {
                if let expiry = expiries[offset],
                   let summary = try Self.summaryIfPresent(of: packets[position], from: replies[next + 1 + offset].check())
                {
                    results[position] = (expiry, summary)
                }
            }
            next += call.positions.count + 1
        }
        sentGroups.withLock { $0.forget(packets) }
        return results
    }

    /// Waits until the cluster has settled (`RedisTopology.settle`); a single server has nothing to wait for.
    public func settle() throws -> Duration { try topology.settle() }

    /// Packets closed by one expire script call.
    static let expireBatch = 512

    /// The expire script calls that close `packets`: one per slot and `expireBatch` packets, each with a token of
    /// its own (so a call resent after a lost reply still learns that it made the refunds) — or the caller's — and
    /// the retention. `positions` are indices into `packets`.
    private func expireCalls(_ packets: [PacketID], token: String? = nil) throws -> [(slot: Int, positions: [Int], command: RedisCommand)] {
        let sha = try topology.sha(of: GrabScript.expire)
        var random = SystemRandomNumberGenerator()
        let retentionMilliseconds = max(1, retention.nanosecondsSaturated / 1_000_000)
        var positionsOfSlot: [Int: [Int]] = [:], order: [Int] = []
        for (position, packet) in packets.enumerated() {
            let slot = topology.isCluster ? RedisKey.slot(of: packet) : 0
            if positionsOfSlot[slot] == nil { order.append(slot) }
            positionsOfSlot[slot, default: []].append(position)
        }
        return order.flatMap { slot in
            let positions = positionsOfSlot[slot]!
            return stride(from: 0, to: positions.count, by: Self.expireBatch).map { start in
                let part = Array(positions[start ..< min(start + Self.expireBatch, positions.count)])
                var call = RedisCommand("EVALSHA", sha)
                call.append(part.count * 2)
                for position in part { for key in RedisKey.scriptKeys(of: packets[position]) { call.append(key) } }
                call.append(token ?? String(random.next(), radix: 36) + String(random.next(), radix: 36))   // this call's token
                call.append(retentionMilliseconds)
                return (slot, part, call)
            }
        }
    }

    private static func readAll(_ packet: PacketID) -> RedisCommand {
        var all = RedisCommand("HGETALL")
        all.append(RedisKey.packet(packet))
        return all
    }

    /// Each packet's expiry, in order, from the expire script's reply (code, refund per packet).
    static func expiries(of packets: [PacketID], from reply: RedisReply) throws -> [ExpiryOutcome] {
        try zip(packets, expiriesIfPresent(of: packets, from: reply)).map { packet, expiry in
            guard let expiry else { throw GrabEngineError(.unknownPacket, "no \(packet) in Redis") }
            return expiry
        }
    }

    /// Each packet's expiry, in order, nil for a packet Redis does not hold.
    static func expiriesIfPresent(of packets: [PacketID], from reply: RedisReply) throws -> [ExpiryOutcome?] {
        let values = try reply.check().elements.compactMap(\.integer)
        guard values.count == 2 * packets.count else {
            throw RedisEngineError(.protocolError, "the expire script returned \(values.count) values for \(packets.count) packets")
        }
        return try packets.indices.map { index in
            switch values[2 * index] {
            case 0: return .refunded(Fen(values[2 * index + 1]))
            case 1: return .alreadyRefunded(Fen(values[2 * index + 1]))
            case -4: return nil
            case let code: throw RedisEngineError(.protocolError, "the expire script returned code \(code)")
            }
        }
    }

    /// A packet's account from the HGETALL of its hash, or nil if the hash does not exist.
    static func summaryIfPresent(of packet: PacketID, from reply: RedisReply) throws -> PacketSummary? {
        guard !reply.elements.isEmpty else { return nil }
        return try summary(of: packet, from: reply)
    }

    /// A packet's account from the HGETALL of its hash.
    static func summary(of packet: PacketID, from reply: RedisReply) throws -> PacketSummary {
        // Parsed on the bytes, without a String or a dictionary per field: an audit reads every packet of a run.
        let items = reply.elements
        var total: Int64?, shares: Int64?, balance: Int64?, closed: Int64?, refund: Int64?
        var grabs: [GrabRecord] = []
        for pair in stride(from: 0, to: items.count - 1, by: 2) {
            guard case .string(let field) = items[pair], case .string(let value) = items[pair + 1] else { continue }
            if let member = Self.decimal(field[...]) {
                guard value != [UInt8(ascii: "0")] else { continue }   // a member of a small group, without a share
                guard let colon = value.firstIndex(of: UInt8(ascii: ":")), let seq = Self.decimal(value[..<colon]),
                      let amount = Self.decimal(value[(colon + 1)...]), member <= UInt32.max
                else {
                    throw RedisEngineError(.protocolError, "\(packet): member \(member) holds \"\(String(decoding: value, as: UTF8.self))\"")
                }
                grabs.append(GrabRecord(seq: Int(seq), member: MemberID(UInt32(member)), amount: Fen(amount)))
                continue
            }
            switch field {
            case Self.totalField: total = Self.decimal(value[...])
            case Self.sharesField: shares = Self.decimal(value[...])
            case Self.balanceField: balance = Self.decimal(value[...])
            case Self.closedField: closed = Self.decimal(value[...])
            case Self.refundField: refund = Self.decimal(value[...])
            default: continue
            }
        }
        guard let total, let shares, let balance else { throw GrabEngineError(.unknownPacket, "no \(packet) in Redis") }
        return PacketSummary(packet: packet, total: Fen(total), shares: Int(shares), grabs: grabs.sorted { $0.seq < $1.seq },
                             balance: Fen(balance), refund: closed == 1 ? Fen(refund ?? 0) : nil)
    }

    static let totalField = Array("total".utf8), sharesField = Array("shares".utf8), balanceField = Array("balance".utf8)
    static let closedField = Array("closed".utf8), refundField = Array("refund".utf8)

    /// A non-negative decimal of at most 18 digits, or nil.
    static func decimal(_ bytes: ArraySlice<UInt8>) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
