import HongbaoCore

/// Every key Hongbao uses, built in this one place. A packet's keys share the hash tag `{id}`, so in a cluster
/// they all live in one slot and one script can touch them all.
struct RedisKey: RawRepresentable, Hashable, Sendable {
    let rawValue: String

    /// Hash: total, shares, cap, expires_ms, mode (`grab` or `list`), balance, closed, refund.
    static func meta(of packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(packet.rawValue)}:meta") }
    /// String: shares left — the DECR gate; below zero means sold out.
    static func count(of packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(packet.rawValue)}:count") }
    /// Set: the group's members (or the one recipient of an exclusive packet).
    static func members(of packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(packet.rawValue)}:members") }
    /// Hash: member → "seq:amount" of each successful grab.
    static func grabbed(of packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(packet.rawValue)}:grabbed") }
    /// List: the pre-split shares, popped in grab order.
    static func shares(of packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(packet.rawValue)}:shares") }

    /// The keys the grab script takes for one packet, in its order.
    static func grabKeys(of packet: PacketID) -> [RedisKey] {
        [meta(of: packet), count(of: packet), members(of: packet), grabbed(of: packet), shares(of: packet)]
    }

    /// The counter that issues packet ids.
    static let packetIDs = RedisKey(rawValue: "hb:packet-ids")

    /// The cluster hash slot of a packet's keys: CRC16 (XMODEM) of the hash tag, mod 16384.
    static func slot(of packet: PacketID) -> Int { ClusterSlot.of(tag: String(packet.rawValue)) }
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

    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0 ..< 8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}
