import Foundation
import HongbaoCore
import Synchronization

extension StartBarrier {
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
