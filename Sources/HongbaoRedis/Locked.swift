import Foundation

/// A value behind a pthread mutex (`NSLock`). The Redis engine's locks guard bookkeeping only (idle connections,
/// the slot map, the groups sent to, the combiner's queue), never I/O. `Synchronization.Mutex` would do, but on
/// Linux ThreadSanitizer cannot see its futex and reports every guarded access as a race; it does see pthread
/// mutexes, so the Redis tests run under TSan with their locks understood.
///
/// `@unchecked Sendable`: `value` is only touched inside `lock`.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
