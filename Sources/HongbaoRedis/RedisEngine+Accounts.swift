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

    /// Closes many packets in one round trip per node (one script call each). - Throws: as `expire(_:)`.
    public func expire(_ packets: [PacketID]) throws -> [ExpiryOutcome] {
        guard !packets.isEmpty else { return [] }
        let replies = try topology.pipeline(slots: packets.map { RedisKey.slot(of: $0) }, try expireCalls(packets), writes: true)
        return try zip(packets, replies).map { try Self.expiry(of: $0, from: $1) }
    }

    /// The packet's account: an atomic snapshot (one HGETALL of its hash), in one round trip.
    public func summary(of packet: PacketID) throws -> PacketSummary {
        try summaries(of: [packet])[0]
    }

    /// Many packets' accounts in one round trip per node, each an atomic snapshot of its packet.
    /// - Throws: `GrabEngineError.unknownPacket`, `RedisEngineError`.
    public func summaries(of packets: [PacketID]) throws -> [PacketSummary] {
        let replies = try topology.pipeline(slots: packets.map { RedisKey.slot(of: $0) }, packets.map(Self.readAll))
        return try zip(packets, replies).map { try Self.summary(of: $0, from: $1.check()) }
    }

    /// Closes many packets and reads each one's account right after, in one pipeline: per packet the expire
    /// script, then HGETALL — one round trip per node where `expire` and `summaries` take two. (Reading the hash
    /// inside the script instead was measured slower: HGETALL in Lua copies the hash into a Lua table.)
    /// - Throws: as `expire(_:)`.
    public func expireAndSummarize(_ packets: [PacketID]) throws -> [(expiry: ExpiryOutcome, summary: PacketSummary)] {
        guard !packets.isEmpty else { return [] }
        let calls = try expireCalls(packets)
        let commands = zip(calls, packets).flatMap { [$0, Self.readAll($1)] }
        let slots = packets.flatMap { Array(repeating: RedisKey.slot(of: $0), count: 2) }
        let replies = try topology.pipeline(slots: slots, commands, writes: true)
        return try packets.enumerated().map { index, packet in
            (try Self.expiry(of: packet, from: replies[2 * index]), try Self.summary(of: packet, from: replies[2 * index + 1].check()))
        }
    }

    /// One expire script call per packet, each with a token of its own (so a call resent after a lost reply still
    /// learns that it made the refund) and the retention.
    private func expireCalls(_ packets: [PacketID]) throws -> [RedisCommand] {
        let sha = try topology.sha(of: GrabScript.expire)
        var random = SystemRandomNumberGenerator()
        let retentionMilliseconds = max(1, retention.nanosecondsSaturated / 1_000_000)
        return packets.map { packet in
            var call = RedisCommand("EVALSHA", sha, "2")
            for key in RedisKey.scriptKeys(of: packet) { call.append(key) }
            call.append(String(random.next(), radix: 36) + String(random.next(), radix: 36))   // this call's token
            call.append(retentionMilliseconds)
            return call
        }
    }

    private static func readAll(_ packet: PacketID) -> RedisCommand {
        var all = RedisCommand("HGETALL")
        all.append(RedisKey.packet(packet))
        return all
    }

    static func expiry(of packet: PacketID, from reply: RedisReply) throws -> ExpiryOutcome {
        let values = try reply.check().elements.compactMap(\.integer)
        guard values.count == 2 else { throw RedisEngineError(.protocolError, "the expire script returned \(values)") }
        switch values[0] {
        case 0: return .refunded(Fen(values[1]))
        case 1: return .alreadyRefunded(Fen(values[1]))
        default: throw GrabEngineError(.unknownPacket, "no \(packet) in Redis")
        }
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
