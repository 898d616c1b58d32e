import HongbaoCore

/// The journal's binary format: a batch is a count and its entries, each a tag byte and little-endian fields.
/// Reading checks every length against what is left before it allocates, and every value's range; the engine's
/// replay then checks each value against the state (`PacketImage.validated`, shares in order, amounts as drawn).
///
///     batch    u32 count, then count entries
///     sent     1, image (no winners, no refund)     granted  2, id u64, share u32, member u32, amount u32
///     refunded 3, id u64, refund                     packet   4, image
///     sent     5, image, origin                      packet   6, image, origin   (a packet with its sender)
///     image    id u64, expiresAt i64, total u64, cap u64, u32 n, n × member u32, u32 s, s × amount u32,
///              u32 w, w × winner u32, u8 0 | 1 then refund
///     refund   amount u64, at i64, u8 key length (0: none), key bytes (printable ASCII)
///     origin   sender u32, u8 key length (0: unkeyed), key bytes, and if keyed: 32 fingerprint bytes
enum JournalCodec {
    static func encode(_ entries: [JournalEntry]) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes.reserveCapacity(entries.count * 21 + 4)
        writer.u32(UInt32(entries.count))
        for entry in entries {
            switch entry {
            case .sent(let image):
                writer.u8(image.origin == nil ? 1 : 5)
                writer.image(image)
            case .granted(let id, let share, let member, let amount):
                writer.u8(2)
                writer.u64(id.rawValue)
                writer.u32(UInt32(share))
                writer.u32(member.rawValue)
                writer.u32(UInt32(amount.rawValue))
            case .refunded(let id, let refund):
                writer.u8(3)
                writer.u64(id.rawValue)
                writer.refund(refund)
            case .packet(let image):
                writer.u8(image.origin == nil ? 4 : 6)
                writer.image(image)
            }
        }
        return writer.bytes
    }

    /// - Throws: `JournalError.corrupt` naming `what` and the first byte that cannot be.
    static func decode(_ bytes: [UInt8], what: String, _ each: (JournalEntry) throws -> Void) throws {
        var reader = ByteReader(bytes: bytes, what: what)
        let count = try reader.u32()
        guard Int(count) <= bytes.count / 4 else { throw reader.corrupt("\(count) entries in \(bytes.count) bytes") }
        for _ in 0 ..< count {
            let tag = try reader.u8()
            switch tag {
            case 1: try each(.sent(try reader.image()))
            case 2:
                let id = PacketID(try reader.u64())
                let share = Int(try reader.u32())
                let member = MemberID(try reader.u32())
                let amount = Fen(Int64(try reader.u32()))
                try each(.granted(id, share: share, member: member, amount: amount))
            case 3: try each(.refunded(PacketID(try reader.u64()), try reader.refund()))
            case 4: try each(.packet(try reader.image()))
            case 5, 6:
                var image = try reader.image()
                image.origin = try reader.origin()
                try each(tag == 5 ? .sent(image) : .packet(image))
            default: throw reader.corrupt("entry tag \(tag)")
            }
        }
        guard reader.at == bytes.count else { throw reader.corrupt("\(bytes.count - reader.at) bytes after the last entry") }
    }
}

private struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }
    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    mutating func image(_ image: PacketImage) {
        u64(image.id.rawValue)
        u64(UInt64(bitPattern: image.expiresAt))
        u64(UInt64(image.total.rawValue))
        u64(UInt64(image.perShareCap.rawValue))
        u32(UInt32(image.members.count))
        for member in image.members { u32(member.rawValue) }
        u32(UInt32(image.amounts.count))
        for amount in image.amounts { u32(UInt32(amount.rawValue)) }
        u32(UInt32(image.winners.count))
        for winner in image.winners { u32(winner.rawValue) }
        if let refund = image.refund {
            u8(1)
            self.refund(refund)
        } else {
            u8(0)
        }
        if let origin = image.origin { self.origin(origin) }
    }

    mutating func origin(_ origin: SendOrigin) {
        u32(origin.sender.rawValue)
        let key = Array((origin.request?.key.rawValue ?? "").utf8)
        u8(UInt8(key.count))   // an IdempotencyKey is at most 255 bytes
        bytes.append(contentsOf: key)
        if let request = origin.request { bytes.append(contentsOf: request.fingerprint.bytes) }
    }

    mutating func refund(_ refund: JournaledRefund) {
        u64(UInt64(refund.amount.rawValue))
        u64(UInt64(bitPattern: refund.at))
        let key = Array((refund.key?.rawValue ?? "").utf8)
        u8(UInt8(key.count))   // an IdempotencyKey is at most 255 bytes
        bytes.append(contentsOf: key)
    }
}

private struct ByteReader {
    let bytes: [UInt8]
    let what: String
    var at = 0

    func corrupt(_ detail: String) -> JournalError { .corrupt("\(what), byte \(at): \(detail)") }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count <= bytes.count - at else { throw corrupt("ends inside an entry") }
        defer { at += count }
        return bytes[at ..< at + count]
    }
    mutating func u8() throws -> UInt8 { try take(1).first! }
    mutating func u32() throws -> UInt32 {
        guard 4 <= bytes.count - at else { throw corrupt("ends inside an entry") }
        defer { at += 4 }
        return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
    mutating func u64() throws -> UInt64 {
        guard 8 <= bytes.count - at else { throw corrupt("ends inside an entry") }
        var value: UInt64 = 0
        for offset in (0 ..< 8).reversed() { value = value << 8 | UInt64(bytes[at + offset]) }
        at += 8
        return value
    }
    /// A count of 4-byte items, checked against `limit` and against the bytes left.
    mutating func count(_ name: String, limit: Int) throws -> Int {
        let count = Int(try u32())
        guard count <= limit, count * 4 <= bytes.count - at else { throw corrupt("\(count) \(name)") }
        return count
    }
    mutating func fen(_ name: String) throws -> Fen {
        let raw = try u64()
        guard raw <= UInt64(PacketPolicy.maxTotal.rawValue) else { throw corrupt("\(name) \(raw)") }
        return Fen(Int64(raw))
    }

    mutating func image() throws -> PacketImage {
        let id = PacketID(try u64())
        let expiresAt = Int64(bitPattern: try u64())
        let total = try fen("total")
        let cap = try fen("per-share cap")
        let members = try (0 ..< count("members", limit: Group.maximumCount)).map { _ in MemberID(try u32()) }
        let amounts = try (0 ..< count("shares", limit: PacketPolicy.maxShareCount)).map { _ in Fen(Int64(try u32())) }
        let winners = try (0 ..< count("winners", limit: amounts.count)).map { _ in MemberID(try u32()) }
        let refund: JournaledRefund? = switch try u8() {
        case 0: nil
        case 1: try self.refund()
        case let flag: throw corrupt("refund flag \(flag)")
        }
        return PacketImage(id: id, expiresAt: expiresAt, total: total, perShareCap: cap, members: members,
                           amounts: amounts, winners: winners, refund: refund)
    }

    mutating func origin() throws -> SendOrigin {
        let sender = MemberID(try u32())
        let length = Int(try u8())
        guard length > 0 else { return SendOrigin(sender: sender) }
        let key = String(decoding: try take(length), as: UTF8.self)
        let fingerprint = try take(RequestFingerprint.byteCount)
        do {
            return SendOrigin(sender: sender, request: KeyedSend(key: try IdempotencyKey(key), fingerprint: try RequestFingerprint(fingerprint)))
        } catch {
            throw corrupt("a send's idempotency key not printable ASCII")
        }
    }

    mutating func refund() throws -> JournaledRefund {
        let amount = try fen("refund")
        let at = Int64(bitPattern: try u64())
        let length = Int(try u8())
        guard length > 0 else { return JournaledRefund(amount: amount, at: at, key: nil) }
        let key = String(decoding: try take(length), as: UTF8.self)
        do {
            return JournaledRefund(amount: amount, at: at, key: try IdempotencyKey(key))
        } catch {
            throw corrupt("idempotency key not printable ASCII")
        }
    }
}
