import Synchronization

/// The senders of an in-process engine's packets, and the packets their keyed sends made. A keyed send runs under
/// this lock — looked up, sent, recorded — so two calls with one key, concurrent or not, make one packet.
/// Unkeyed sends only record their sender. Entries of packets the engine no longer holds are dropped when the book
/// grows to twice what it held after its last pruning, and a key whose packet is gone is free again.
package final class SendOrigins: Sendable {
    private struct SenderKey: Hashable {
        let sender: MemberID
        let key: IdempotencyKey
    }

    private struct Book {
        var origins: [PacketID: SendOrigin] = [:]
        var keyed: [SenderKey: PacketID] = [:]
        var pruneAt = 1024
    }

    private let book = AtomicLock(Book())

    package init() {}

    /// Sends with `send` unless `origin`'s key already made a packet the engine holds.
    /// - Throws: what `send` throws; `GrabEngineError(.idempotencyConflict)` for the key with another fingerprint.
    package func send(_ origin: SendOrigin, isKnown: (PacketID) -> Bool, _ send: () throws -> PacketID) throws -> SentPacket {
        guard let request = origin.request else {
            let id = try send()
            record(id, origin, isKnown: isKnown)
            return SentPacket(id: id, replayed: false)
        }
        return try book.withLock { book in
            let senderKey = SenderKey(sender: origin.sender, key: request.key)
            if let made = book.keyed[senderKey], isKnown(made), let first = book.origins[made]?.request {
                guard first.fingerprint == request.fingerprint else {
                    throw GrabEngineError(.idempotencyConflict,
                        "member \(origin.sender.rawValue)'s key \"\(request.key)\" already sent \(made) for another request")
                }
                return SentPacket(id: made, replayed: true)
            }
            let id = try send()
            Self.insert(id, origin, into: &book, isKnown: isKnown)
            return SentPacket(id: id, replayed: false)
        }
    }

    /// Whether `origin`'s key already made a packet the engine holds: that packet, or a refusal for another
    /// fingerprint; nil when the key is free (a journaled engine then sends and `record`s under its own lock).
    package func replay(of origin: SendOrigin, isKnown: (PacketID) -> Bool) throws -> SentPacket? {
        guard let request = origin.request else { return nil }
        return try book.withLock { book in
            guard let made = book.keyed[SenderKey(sender: origin.sender, key: request.key)], isKnown(made),
                  let first = book.origins[made]?.request else { return nil }
            guard first.fingerprint == request.fingerprint else {
                throw GrabEngineError(.idempotencyConflict,
                    "member \(origin.sender.rawValue)'s key \"\(request.key)\" already sent \(made) for another request")
            }
            return SentPacket(id: made, replayed: true)
        }
    }

    /// Records that `packet` was sent from `origin` (a send, or a journal's recovery).
    package func record(_ packet: PacketID, _ origin: SendOrigin, isKnown: (PacketID) -> Bool) {
        book.withLock { Self.insert(packet, origin, into: &$0, isKnown: isKnown) }
    }

    /// Who sent `packet`, if it was sent with an origin and is still in the book.
    package func origin(of packet: PacketID) -> SendOrigin? { book.withLock { $0.origins[packet] } }

    private static func insert(_ packet: PacketID, _ origin: SendOrigin, into book: inout Book, isKnown: (PacketID) -> Bool) {
        book.origins[packet] = origin
        if let request = origin.request { book.keyed[SenderKey(sender: origin.sender, key: request.key)] = packet }
        if book.origins.count >= book.pruneAt {
            book.origins = book.origins.filter { isKnown($0.key) }
            book.keyed = book.keyed.filter { book.origins[$0.value] != nil }
            book.pruneAt = max(1024, 2 * book.origins.count)
        }
    }
}
