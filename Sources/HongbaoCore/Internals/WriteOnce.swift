import Synchronization

/// A value written once by one thread and then read by any: the publication cell of `PacketDirectory`.
///
/// `@unchecked Sendable`: `storage` is written only by `publish`, once, before the releasing store of
/// `isPublished`; readers read it only after an acquiring load saw `isPublished`, so the write happens-before
/// every read.
package final class WriteOnce<Value: Sendable>: @unchecked Sendable {
    @usableFromInline var storage: Value?
    @usableFromInline let isPublished = Atomic<Bool>(false)

    package init() {}

    /// Stores the value. Must be called at most once, by the cell's single writer.
    package func publish(_ value: Value) {
        precondition(!isPublished.load(ordering: .relaxed), "WriteOnce published twice: two writers own one cell")
        storage = value
        isPublished.store(true, ordering: .releasing)  // release: `storage` is written before it is published
    }

    /// Runs `body` on the value, borrowed. Call only after an acquiring load of `isPublished` saw `true`.
    @inlinable
    package func withValue<R>(_ body: (borrowing Value) throws -> R) rethrows -> R {
        try body(storage!)
    }

    /// The value, once published. Lock-free, wait-free.
    @inlinable
    package var value: Value? {
        isPublished.load(ordering: .acquiring) ? storage : nil  // acquire: pairs with publish's release
    }
}
