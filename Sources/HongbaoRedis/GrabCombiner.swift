import Foundation
import HongbaoCore
import Synchronization

/// Combining, in the spirit of WeChat's per-packet request queues: async grabs wait in one queue, and each of the
/// engine's I/O threads takes everything pending and sends it as one batch — one script call per slot — so a burst
/// costs a few round trips, not one per grab. Each caller is resumed with its own outcome.
///
/// The queue's lock is held only to append a request or to take the whole queue. The I/O threads are the
/// engine's own (`Thread`s), never the cooperative pool's, so hiredis's blocking calls block nobody else.
final class GrabCombiner: Sendable {
    typealias Waiter = CheckedContinuation<GrabReceipt, any Error>
    private let pending = AtomicLock<[(GrabRequest, Waiter)]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    static let threads = 2
    static let maxBatch = 256

    init(engine: RedisEngine) {
        for _ in 0 ..< Self.threads {
            // The thread holds the engine weakly: when the engine goes, `stop()` wakes the threads and they end.
            let thread = Thread { [weak engine, self] in
                while true {
                    self.wake.wait()
                    if self.stopped.load(ordering: .acquiring) { return }
                    let batch = self.pending.withLock { queue -> [(GrabRequest, Waiter)] in
                        let taken = Array(queue.prefix(Self.maxBatch))
                        queue.removeFirst(taken.count)
                        return taken
                    }
                    guard !batch.isEmpty else { continue }
                    guard let engine else {
                        for (_, waiter) in batch { waiter.resume(throwing: RedisEngineError(.connectionLost, "the engine was released")) }
                        continue
                    }
                    do {
                        let outcomes = try engine.grabReceipts(batch.map(\.0))
                        for ((_, waiter), outcome) in zip(batch, outcomes) { waiter.resume(returning: outcome) }
                    } catch {
                        for (_, waiter) in batch { waiter.resume(throwing: error) }
                    }
                }
            }
            thread.start()
        }
    }

    func submit(_ request: GrabRequest, _ waiter: Waiter) {
        pending.withLock { $0.append((request, waiter)) }
        wake.signal()
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        for _ in 0 ..< Self.threads { wake.signal() }
    }
}
