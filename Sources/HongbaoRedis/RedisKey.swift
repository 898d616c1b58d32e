import HongbaoCore

/// Every key Hongbao uses, built in this one place. A packet's keys share the hash tag `{id}`, so in a cluster
/// they all live in one slot and one script can touch them all.
struct RedisKey: RawRepresentable, Hashable, Sendable {
    let rawValue: String

    /// Hash: the packet's account (`left`, `balance`, `closed`, `refund`, `refund_token`, `expires_ms`, `shares`,
    /// `cap`, `mode`, `total`) and one field per group member: `0`, or `seq:amount` once it won a share.
    static func packet(_ packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(packet.rawValue)}") }
    /// List: the pre-split shares, popped in grab order.
    static func shares(of packet: PacketID) -> RedisKey { RedisKey(rawValue: "hb:{\(packet.rawValue)}:shares") }

    /// The keys the scripts take for one packet, in their order.
    static func scriptKeys(of packet: PacketID) -> [RedisKey] { [Self.packet(packet), shares(of: packet)] }

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
