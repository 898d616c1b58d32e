import Synchronization

/// Releases a number of threads together once all of them are running, as NIO's `testLargeContendedAtomicSum`
/// does: what the contention tests, the driver, the classroom and the benchmarks start their threads with.
/// (`DispatchQueue.concurrentPerform` may run everything on one thread, which would race nothing.)
///
/// Waiters spin on one atomic, yielding the processor: there may be more threads than cores. Use it once.
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
