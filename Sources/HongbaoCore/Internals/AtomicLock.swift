import Synchronization

/// A lock around a value, made of one atomic flag: acquired with an acquiring compare-exchange, released with a
/// releasing store; a waiter spins briefly, then yields its processor. For the send path's short critical sections
/// (books of senders and keys), where `Synchronization.Mutex` would do — except that ThreadSanitizer cannot see
/// `Mutex`'s futex on Linux and reports the data it guards as raced, while it sees these atomics' ordering.
package final class AtomicLock<State>: @unchecked Sendable {
    // @unchecked Sendable: `state` is read and written only between an acquiring exchange of `locked` that found it
    // false and the releasing store that clears it.
    private let locked = Atomic<Bool>(false)
    private var state: State

    package init(_ state: State) { self.state = state }

    /// Runs `body` on the state with the lock held.
    package func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        while !locked.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged { spinWait() }
        defer { locked.store(false, ordering: .releasing) }
        return try body(&state)
    }
}
