import Synchronization

/// The idempotency keys of the expiries that made refunds, for the in-process engines: a keyed expiry runs under
/// this lock, so a call with the key that refunded — concurrent or later — finds it recorded and hears `.refunded`.
/// Unkeyed expiries do not take the lock: one may close the packet first, and a keyed call then hears
/// `.alreadyRefunded`, which is true. Only keyed expiries are serialised; grabs never touch it. Keys of packets the
/// engine no longer holds are dropped when the book grows to twice what it held after its last pruning.
package final class KeyedExpiries: Sendable {
    private let book = AtomicLock<(keys: [PacketID: IdempotencyKey], pruneAt: Int)>(([:], 1024))

    package init() {}

    /// Runs `expire` for `packet` under `key`, and records the key if that call made the refund.
    package func expire(_ packet: PacketID, key: IdempotencyKey, isKnown: (PacketID) -> Bool,
                        _ expire: () throws -> ExpiryOutcome) throws -> ExpiryOutcome
    {
        try book.withLock { book in
            let outcome = try expire()
            switch outcome {
            case .refunded:
                book.keys[packet] = key
                if book.keys.count >= book.pruneAt {
                    book.keys = book.keys.filter { isKnown($0.key) }
                    book.pruneAt = max(1024, 2 * book.keys.count)
                }
                return outcome
            case .alreadyRefunded(let amount):
                return book.keys[packet] == key ? .refunded(amount) : outcome
            }
        }
    }

    /// The key of the expiry that refunded `packet`, if a keyed one did.
    package func key(of packet: PacketID) -> IdempotencyKey? { book.withLock { $0.keys[packet] } }

    /// Records that the expiry under `key` refunded `packet` (a journaled engine's keyed expiry, or its recovery);
    /// keys of packets the engine no longer holds are dropped as in `expire`.
    package func record(_ packet: PacketID, key: IdempotencyKey, isKnown: (PacketID) -> Bool) {
        book.withLock { book in
            book.keys[packet] = key
            if book.keys.count >= book.pruneAt {
                book.keys = book.keys.filter { isKnown($0.key) }
                book.pruneAt = max(1024, 2 * book.keys.count)
            }
        }
    }
}
