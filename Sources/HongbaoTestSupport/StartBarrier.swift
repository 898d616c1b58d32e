import Foundation
import HongbaoCore
import Synchronization

/// Releases a number of threads together once all of them are running, as NIO's `testLargeContendedAtomicSum`
/// does. (`concurrentPerform` may run everything on one thread, which would race nothing.)
public final class StartBarrier: Sendable {
    private let arrived = Atomic<Int>(0)
    private let parties: Int

    public init(parties: Int) { self.parties = parties }

    /// Blocks (spinning) until all parties have arrived.
    public func arriveAndWait() {
        arrived.add(1, ordering: .acquiringAndReleasing)
        while arrived.load(ordering: .acquiring) < parties { sched_yield() }
    }

    /// Runs `body(i)` for `i` in `0 ..< threads` on that many threads released together; returns the results in
    /// order once every thread has finished.
    public static func run<T: Sendable>(threads: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        let barrier = StartBarrier(parties: threads)
        let results = (0 ..< threads).map { _ in WriteOnce<T>() }
        let finished = DispatchGroup()
        for index in 0 ..< threads {
            finished.enter()
            Thread {
                barrier.arriveAndWait()
                let result = body(index)
                results[index].publish(result)
                finished.leave()
            }.start()
        }
        finished.wait()
        return results.map { $0.value! }
    }
}
