import Crypto
import HongbaoCore

/// The name of a group's content: the first 128 bits of the SHA-256 of its size and its sorted members (each a
/// 4-byte little-endian id). Two groups share a Redis set only if their digests are equal, which for different
/// members takes a SHA-256 collision — not the minute of CPU that inverted the 64-bit mixer this replaced.
struct GroupDigest: Hashable, Sendable {
    /// The digest's first 128 bits, as two words.
    let high: UInt64, low: UInt64

    init(of group: Group) {
        var hasher = SHA256()
        let count = UInt64(group.count)
        hasher.update(data: (0 ..< 8).map { UInt8(truncatingIfNeeded: count >> (8 * $0)) })
        var chunk: [UInt8] = []
        chunk.reserveCapacity(4 * 1_024)
        for member in group.members {
            let id = member.rawValue
            chunk.append(UInt8(truncatingIfNeeded: id))
            chunk.append(UInt8(truncatingIfNeeded: id >> 8))
            chunk.append(UInt8(truncatingIfNeeded: id >> 16))
            chunk.append(UInt8(truncatingIfNeeded: id >> 24))
            if chunk.count >= 4 * 1_024 {
                hasher.update(data: chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        hasher.update(data: chunk)
        let bytes = Array(hasher.finalize())
        high = bytes[0 ..< 8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8 ..< 16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The hash tag shared by the group's set and its packets' keys: the digest's top `RedisKey.tagBits` bits.
    var tag: UInt64 { high >> (64 - RedisKey.tagBits) }

    /// 32 lowercase hex digits.
    var hex: String {
        func word(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return word(high) + word(low)
    }
}
