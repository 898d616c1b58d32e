import HongbaoCore

/// Every key Hongbao uses, built in this one place. A packet's keys share the hash tag `{id}`, so in a cluster
/// they all live in one slot and one script can touch them all.
struct RedisKey: RawRepresentable, Hashable, Sendable {
    let rawValue: String

    /// Hash: the packet's account (`left`, `balance`, `closed`, `refund`, `refund_token`, `expires_ms`, `shares`,
    /// `cap`, `mode`, `total`, `group` — the name of its group's set) and one field per winner: `seq:amount`.
    static func packet(_ packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(tag(of: packet))}:p:\(packet.rawValue)") }
    /// List: the pre-split shares, popped in grab order.
    static func shares(of packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(tag(of: packet))}:s:\(packet.rawValue)") }
    /// Set: a group's members, stored once for every packet sent to it; named by the group's content (its size and
    /// a 64-bit hash of its sorted members), under the hash tag its packets share.
    static func group(_ members: Group, tag: UInt64) -> RedisKey {
        RedisKey(rawValue: "hb:{\(tagString(tag))}:g:\(members.count):\(String(contentHash(of: members), radix: 16))")
    }

    /// The keys the scripts take for one packet, in their order.
    static func scriptKeys(of packet: PacketID) -> [RedisKey] { [Self.packet(packet), shares(of: packet)] }

    // A packet id is `tag << 44 | n`: n from the id counter, and the 19-bit tag of its group, so that a packet's
    // keys and its group's set share one hash tag (one cluster slot), and the id alone names them. Ids stay below
    // 2^63, so they fit SQLite's signed integers.

    static let tagShift: UInt64 = 44
    static let counterLimit: UInt64 = 1 << tagShift

    /// The hash-tag bits of a group: the top 19 bits of its content hash.
    static func tag(ofGroup members: Group) -> UInt64 { contentHash(of: members) >> (tagShift + 1) }

    static func tag(of packet: PacketID) -> String { tagString(packet.rawValue >> tagShift) }

    static func tagString(_ tag: UInt64) -> String { String(tag, radix: 36) }

    /// A 64-bit hash of a group's sorted members (SplitMix64's mixer folded over the ids).
    static func contentHash(of members: Group) -> UInt64 {
        var hash = UInt64(members.count) &* 0x9E37_79B9_7F4A_7C15
        for member in members.members { hash = SplitMix64.output(seed: hash, index: Int(member.rawValue)) }
        return hash
    }

    /// String: a counter in `slot`, incremented at the end of a durable pipeline so that its connection has written
    /// something after everything the pipeline did (WAIT waits for the connection's last write).
    static func durabilityMark(slot: Int) -> RedisKey { RedisKey(rawValue: "hb:{\(ClusterSlot.tags[slot])}:w") }

    /// The counter that issues packet ids.
    static let packetIDs = RedisKey(rawValue: "hb:packet-ids")

    /// The cluster hash slot of a packet's keys (and its group's set): CRC16 (XMODEM) of the hash tag, mod 16384.
    static func slot(of packet: PacketID) -> Int { ClusterSlot.of(tag: tag(of: packet)) }

    /// The slot of a group's set.
    static func slot(ofTag tag: UInt64) -> Int { ClusterSlot.of(tag: tagString(tag)) }
}

/// Redis Cluster's key → slot mapping (CRC16-CCITT XMODEM, as in the cluster specification).
enum ClusterSlot {
    static let count = 16384

    static func of(key: String) -> Int {
        let bytes = Array(key.utf8)
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
           let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            return Int(crc16(bytes[(open + 1) ..< close]) % UInt16(count))
        }
        return Int(crc16(bytes[...]) % UInt16(count))
    }

    static func of(tag: String) -> Int { Int(crc16(Array(tag.utf8)[...]) % UInt16(count)) }

    /// A hash tag for every slot: the smallest number, in base 36, that hashes to it.
    static let tags: [String] = {
        var tags = [String?](repeating: nil, count: count)
        var missing = count, n: UInt64 = 0
        while missing > 0 {
            let tag = String(n, radix: 36)
            let slot = of(tag: tag)
            if tags[slot] == nil { tags[slot] = tag; missing -= 1 }
            n += 1
        }
        return tags.map { $0! }
    }()

    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0 ..< 8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}
