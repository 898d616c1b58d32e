import Foundation

/// A bulk load of one run's rows on a thread of its own, so that writing overlaps whatever produces the rows.
///
/// The producer hands over batches with `append`; the writer thread inserts them through the store's batched
/// inserters (a transaction per 100,000 rows, reused statements). At most `depth` batches wait, so memory stays
/// bounded and a slow disk slows the producer instead of growing the queue. While a load runs, the store's
/// connection belongs to the writer thread: the caller must not use the store until `finish()` returns.
public final class BackgroundLoad: @unchecked Sendable {
    // `@unchecked Sendable`: `queue` and `failure` are guarded by `lock`; the inserters and the counters are used
    // by the writer thread only until `finish()` has joined it.
    private let packets: BatchedInserter<PacketRow>
    private let grabs: BatchedInserter<GrabRow>
    private let lock = NSLock()
    private var queue: [([PacketRow], [GrabRow])] = []
    private var closed = false
    private var failure: (any Error)?
    private let available = DispatchSemaphore(value: 0)
    private let room: DispatchSemaphore
    private let finished = DispatchSemaphore(value: 0)
    private var insertTime = Duration.zero

    init(packets: BatchedInserter<PacketRow>, grabs: BatchedInserter<GrabRow>, depth: Int = 4) {
        self.packets = packets
        self.grabs = grabs
        room = DispatchSemaphore(value: depth)
        Thread { [self] in run() }.start()
    }

    /// Queues a batch, waiting while `depth` batches are already queued.
    /// - Throws: the writer's error, as soon as it has failed (a full disk, say).
    public func append(packets: [PacketRow], grabs: [GrabRow]) throws {
        room.wait()
        try lock.withLock {
            if let failure { throw failure }
            queue.append((packets, grabs))
        }
        available.signal()
    }

    /// Waits for every queued row to be written and committed.
    /// - Returns: rows written and the time spent inserting them.
    public func finish() throws -> (rows: Int, seconds: Double) {
        lock.withLock { closed = true }
        available.signal()
        finished.wait()
        if let failure = lock.withLock({ failure }) { throw failure }
        return (packets.written + grabs.written, insertTime / .seconds(1))
    }

    private func run() {
        defer { finished.signal() }
        while true {
            available.wait()
            let next: ([PacketRow], [GrabRow])? = lock.withLock { queue.isEmpty ? nil : queue.removeFirst() }
            guard let (packetRows, grabRows) = next else {
                if lock.withLock({ closed }) { break }
                continue
            }
            room.signal()
            let start = ContinuousClock.now
            do {
                for row in packetRows { try packets.append(row) }
                for row in grabRows { try grabs.append(row) }
            } catch {
                lock.withLock { failure = error }
                return
            }
            insertTime += ContinuousClock.now - start
        }
        let start = ContinuousClock.now
        do { try grabs.finish() } catch { lock.withLock { failure = error } }
        insertTime += ContinuousClock.now - start
    }
}

extension ResultStore {
    /// Starts a background load of one run's `packets` and `grabs` rows.
    public func backgroundLoad(run: Int64) throws -> BackgroundLoad {
        BackgroundLoad(packets: try packetWriter(run: run), grabs: try grabWriter(run: run))
    }
}
