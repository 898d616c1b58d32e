import Foundation

/// A bulk load of one run's rows on a thread of its own, so that writing overlaps whatever produces the rows.
///
/// The producer hands over batches with `append`; the writer thread inserts them through a `RunLoader`, which owns
/// a connection of its own. At most `depth` batches wait, so memory stays bounded and a slow disk slows the
/// producer instead of growing the queue.
///
/// Failure: when the writer fails (a full disk, a lock held by another process past the busy timeout), it records
/// the error and wakes the producer, which gets it from its next `append` or from `finish()` — never a wait for
/// room that will not come. One condition variable guards the queue, the failure and the writer's end.
public final class BackgroundLoad: @unchecked Sendable {
    // `@unchecked Sendable`: `queue`, `closed`, `failure` and `writerDone` are guarded by `condition`; the
    // loader and `insertTime` are used by the writer thread only until `finish()` has seen `writerDone`.
    private let loader: RunLoader
    private let depth: Int
    private let condition = NSCondition()
    private var queue: [([PacketRow], [GrabRow])] = []
    private var closed = false
    private var failure: (any Error)?
    private var writerDone = false
    private var insertTime = Duration.zero

    init(_ loader: RunLoader, depth: Int = 4) {
        self.loader = loader
        self.depth = depth
        Thread { [self] in run() }.start()
    }

    /// Queues a batch, waiting while `depth` batches are already queued.
    /// - Throws: the writer's error, as soon as it has failed (a full disk, say).
    public func append(packets: [PacketRow], grabs: [GrabRow]) throws {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= depth && failure == nil { condition.wait() }
        if let failure { throw failure }
        queue.append((packets, grabs))
        condition.broadcast()
    }

    /// Waits for every queued row to be written and committed.
    /// - Returns: rows written and the time spent inserting them.
    /// - Throws: the writer's error; rows of whole batches committed before it stay.
    public func finish() throws -> (rows: Int, seconds: Double) {
        condition.lock()
        closed = true
        condition.broadcast()
        while !writerDone { condition.wait() }
        let failure = failure
        condition.unlock()
        if let failure { throw failure }
        return (loader.written, insertTime / .seconds(1))
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            let next = queue.isEmpty ? nil : queue.removeFirst()
            condition.broadcast()   // room for the producer
            condition.unlock()
            let start = ContinuousClock.now
            do {
                if let (packetRows, grabRows) = next {
                    for row in packetRows { try loader.append(row) }
                    for row in grabRows { try loader.append(row) }
                } else {
                    try loader.finish()
                }
            } catch {
                stop(failing: error)
                return
            }
            insertTime += ContinuousClock.now - start
            if next == nil { break }
        }
        stop(failing: nil)
    }

    private func stop(failing error: (any Error)?) {
        condition.lock()
        if let error { failure = error }
        writerDone = true
        condition.broadcast()
        condition.unlock()
    }
}
