import Crypto
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
    /// Set: a group's members, stored once for every packet sent to it; named by the group's content (a 128-bit
    /// SHA-256 digest of its sorted members, `GroupDigest`), under the hash tag its packets share. Beside it, a
    /// hash (`groupLife`) counts its open packets; the set lives while any is open and for `retention` after the
    /// last refund (see `GrabScript.send` and `GrabScript.expire`).
    static func group(_ digest: GroupDigest) -> RedisKey {
        RedisKey(rawValue: "hb:{\(tagString(digest.tag))}:g:\(digest.hex)")
    }

    /// Hash: how many open packets use a group's set (`n`), and until when it must stay after they close
    /// (`until_ms`). The scripts derive it from the set's name (`group .. ':life'`).
    static func groupLife(_ group: RedisKey) -> RedisKey { RedisKey(rawValue: group.rawValue + ":life") }

    /// String: a keyed send's claim (`SentClaim`): named by the SHA-256 of the sender and the key, under a hash
    /// tag of the digest's, so claims spread over the slots.
    static func sentKey(sender: MemberID, key: IdempotencyKey) -> RedisKey {
        var hasher = SHA256()
        hasher.update(data: (0 ..< 4).map { UInt8(truncatingIfNeeded: sender.rawValue >> (8 * $0)) })
        hasher.update(data: Array(key.rawValue.utf8))
        let digest = Array(hasher.finalize())
        let hex = digest.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined()
        let tag = (UInt64(digest[0]) << 8 | UInt64(digest[1])) >> (16 - tagBits)
        return RedisKey(rawValue: "hb:{\(tagString(tag))}:k:\(hex)")
    }

    /// The slot of any key (its hash tag's).
    static func slot(of key: RedisKey) -> Int { ClusterSlot.of(key: key.rawValue) }

    /// The keys the scripts take for one packet, in their order.
    static func scriptKeys(of packet: PacketID) -> [RedisKey] { [Self.packet(packet), shares(of: packet)] }

    // A packet id is `tag << 51 | milliseconds << 10 | sequence`: the 12-bit tag of its group, so that a packet's
    // keys and its group's set share one hash tag (one cluster slot) and the id alone names them; then the
    // milliseconds since 2026-01-01 of its issue (41 bits: until 2095) and a sequence within that millisecond
    // (`PacketIDs`). No counter in Redis issues them — a counter's master can lose its last increments in a
    // failover and issue an id twice — and the send script creates a packet only where none exists, so an id that
    // another process issued in the same millisecond is refused and issued anew, never overwritten. Ids stay below
    // 2^63, so they fit SQLite's signed integers (JSON clients must read them as 64-bit integers).

    static let tagBits: UInt64 = 12
    static let tagShift: UInt64 = 51

    static func tag(of packet: PacketID) -> String { tagString(packet.rawValue >> tagShift) }

    static func tagString(_ tag: UInt64) -> String { String(tag, radix: 36) }

    /// String: a counter in `slot`, incremented at the end of a durable pipeline so that its connection has written
    /// something after everything the pipeline did (WAIT waits for the connection's last write).
    static func durabilityMark(slot: Int) -> RedisKey { RedisKey(rawValue: "hb:{\(ClusterSlot.tags[slot])}:w") }

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
