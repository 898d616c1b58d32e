import Foundation
import Synchronization

/// Runs `body(index)` for `index` in `0 ..< count` on that many new threads, released together; returns their
/// results in index order once every one has finished.
///
/// What the driver, the classroom, the contention tests and the micro-benchmarks start their threads with — the
/// one "N threads + start barrier + wait" of the house. The threads are released at once when all of them (and
/// the caller) are running, so what they do really overlaps: `DispatchQueue.concurrentPerform` may run every
/// iteration on one thread, which would race nothing.
///
/// `meanwhile` runs on the calling thread right after the release, while the threads run: start a clock there,
/// drive rounds, or poll `RunningThreads.finished(within:)` to show progress. The function returns (or rethrows
/// what `meanwhile` threw) only after every thread has finished — a `meanwhile` that throws must first tell the
/// threads to stop (a `defer` that sets their stop flag).
///
/// Joins use a `DispatchGroup` and results travel through `WriteOnce` cells: both are ordered by what
/// ThreadSanitizer sees (Dispatch is instrumented; the cells are atomics).
@_spi(Harness) @discardableResult
public func runThreads<T: Sendable>(
    _ count: Int,
    _ body: @escaping @Sendable (Int) -> T,
    meanwhile: (RunningThreads) throws -> Void
) rethrows -> [T] {
    precondition(count >= 0, "a negative number of threads")
    let barrier = StartBarrier(parties: count + 1)
    let results = (0 ..< count).map { _ in WriteOnce<T>() }
    let running = RunningThreads()
    for index in 0 ..< count {
        running.group.enter()
        Thread {
            barrier.arriveAndWait()
            results[index].publish(body(index))
            running.group.leave()
        }.start()
    }
    barrier.arriveAndWait()
    defer { running.group.wait() }
    try meanwhile(running)
    running.group.wait()
    return results.map { $0.value! }   // each published before its thread left the group
}

/// `runThreads(_:_:meanwhile:)` with nothing to do meanwhile: the caller just waits.
@_spi(Harness) @discardableResult
public func runThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    runThreads(count, body, meanwhile: { _ in })
}

/// The threads of a `runThreads` call, as its `meanwhile` sees them.
@_spi(Harness)
public struct RunningThreads: Sendable {
    fileprivate let group = DispatchGroup()

    /// Waits up to `interval` for every thread to finish: true once they all have.
    public func finished(within interval: Duration) -> Bool {
        let (seconds, attoseconds) = interval.components
        let nanoseconds = max(0, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        return group.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success
    }
}

/// Releases a number of threads together once all of them are running, as NIO's `testLargeContendedAtomicSum`
/// does: what `runThreads` starts its threads with, and what a thread that must start with others (the
/// deadline tests' taps) waits on.
///
/// Waiters spin on one atomic, yielding the processor: there may be more threads than cores. Use it once.
@_spi(Harness)
public final class StartBarrier: Sendable {
    private let arrived = Atomic<Int>(0)
    private let parties: Int

    /// A barrier for `parties` threads.
    public init(parties: Int) { self.parties = parties }

    /// Blocks (spinning, yielding) until all parties have arrived.
    public func arriveAndWait() {
        arrived.add(1, ordering: .acquiringAndReleasing)   // acq-rel: what each party did before is seen by all after
        while arrived.load(ordering: .acquiring) < parties { yieldThread() }
    }
}
