import Synchronization

/// The idempotency keys of the expiries that made refunds, for the in-process engines: a keyed expiry runs under
/// this lock, so a call with the key that refunded — concurrent or later — finds it recorded and hears `.refunded`.
/// Unkeyed expiries do not take the lock: one may close the packet first, and a keyed call then hears
/// `.alreadyRefunded`, which is true. Only keyed expiries are serialised; grabs never touch it.
package final class KeyedExpiries: Sendable {
    private let book = Mutex<[PacketID: IdempotencyKey]>([:])

    package init() {}

    /// Runs `expire` for `packet` under `key`, and records the key if that call made the refund.
    package func expire(_ packet: PacketID, key: IdempotencyKey, _ expire: () throws -> ExpiryOutcome) throws -> ExpiryOutcome {
        try book.withLock { book in
            let outcome = try expire()
            switch outcome {
            case .refunded:
                book[packet] = key
                return outcome
            case .alreadyRefunded(let amount):
                return book[packet] == key ? .refunded(amount) : outcome
            }
        }
    }
}
