import Foundation
import HongbaoCore
import Synchronization

/// When a journaled engine's answers are given.
public enum JournalDurability: Sendable, Hashable, CustomStringConvertible {
    /// After the sync: an acknowledged change survives any crash (Redis's `appendfsync always`, with group commit).
    case durable
    /// Before the sync, which runs every `every`: a crash can lose what was acknowledged in the last interval
    /// (Redis's `appendfsync everysec`).
    case buffered(every: Duration)

    public var description: String {
        switch self {
        case .durable: "durable"
        case .buffered(let every): "buffered (sync every \(every.formatted(.units(allowed: [.milliseconds]))))"
        }
    }
}

/// Where a group-commit journal keeps its batches and snapshots.
package protocol JournalStore: AnyObject {
    /// Reads the latest snapshot's packets (as `.packet` entries), then every batch after it, in order.
    /// - Returns: the position of the last entry, and the snapshot's generation floor (0 without one).
    func load(_ apply: (JournalEntry) throws -> Void) throws -> (last: JournalPosition, generationFloor: UInt32)
    /// Writes one batch, entries `first ..< first + entries.count`, durably (written and synced) before it returns.
    func append(_ entries: [JournalEntry], first: JournalPosition) throws
    /// Replaces the snapshot with `snapshot`, which holds every change up to `position`, and drops the batches up to
    /// it, atomically.
    func replaceSnapshot(_ snapshot: JournalSnapshot, through position: JournalPosition) throws
    /// Releases the store (its lock on the file).
    func close()
}

/// A journal that makes many calls' entries durable in one write and one sync (group commit), on its own thread,
/// and compacts itself with snapshots.
///
/// Implementation notes. Calls append under `state`'s lock (`serially`); the writer thread swaps the pending
/// entries out, writes them as one batch (one SQLite transaction: one write, one fsync of the WAL), then wakes
/// every caller whose position it covered. While it writes, the next batch accumulates: the more calls in flight,
/// the bigger the batch, with no timer and no tuning. Once the entries written since the last snapshot reach
/// `compactAfter` (and twice the last snapshot's packets), it reads the engine's snapshot and replaces the old
/// one with it, dropping the batches it covers: recovery reads the packets held, not history.
///
/// A failed write fails every call waiting on it and every call after it (`JournalError.failed`): what the engine
/// holds in memory may then be ahead of the journal, so nothing more is acknowledged until the engine is reopened.
public final class GroupCommitJournal: GrabJournal, @unchecked Sendable {
    // @unchecked Sendable: every `var` below is read and written only under `lock` (an NSCondition: a pthread
    // mutex and condition variable, which ThreadSanitizer sees); `store` is used only by the writer thread once
    // it runs (and by `recover`, before it starts), and `snapshotRead` is set before the first write.

    private let store: any JournalStore
    private let durability: JournalDurability
    private let compactAfter: Int
    private let lock = NSCondition()
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    private var pending: [JournalEntry] = []
    private var appended: JournalPosition = 0
    private var written: JournalPosition = 0
    /// `written`, also stored (releasing, under the lock) where an answer can read it without the lock.
    private let writtenAtomically = Atomic<JournalPosition>(0)
    private var failure: JournalError?
    private var closed = false
    private var started = false
    private var waiters: [(position: JournalPosition, continuation: UnsafeContinuation<Void, any Error>)] = []
    private var snapshotRead: (@Sendable () -> JournalSnapshot)?
    private var figures = JournalFigures()

    /// A journal in the SQLite file at `path` (created if missing): one row per group commit, WAL with
    /// `synchronous = FULL`, the file locked for this process alone.
    /// - Parameter compactAfter: entries written between snapshots (at least; also twice the packets held).
    /// - Throws: `JournalError` for a file of another program or a newer format, or one another process holds.
    public static func sqlite(path: String, durability: JournalDurability = .durable,
                              compactAfter: Int = 1_000_000) throws -> GroupCommitJournal
    {
        GroupCommitJournal(store: try SQLiteJournalStore(path: path), durability: durability, compactAfter: compactAfter)
    }

    package init(store: any JournalStore, durability: JournalDurability, compactAfter: Int) {
        precondition(compactAfter > 0, "compactAfter is at least 1")
        self.store = store
        self.durability = durability
        self.compactAfter = compactAfter
    }

    deinit { close() }

    /// Reads the store (snapshot, then batches) into `apply`, then starts the writer thread.
    public func recover(_ apply: (JournalEntry) throws -> Void) throws -> UInt32 {
        let (last, floor) = try store.load(apply)
        lock.withLock {
            precondition(!started, "recover is called once")
            (appended, written, started) = (last, last, true)
            writtenAtomically.store(last, ordering: .releasing)
        }
        Thread { [self] in writeUntilClosed() }.start()
        return floor
    }

    /// Appends under the lock; wakes the writer when the first entry of a batch arrives.
    public func serially(_ body: (inout [JournalEntry]) throws -> Void) throws -> JournalPosition {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        if closed { throw JournalError.closed }
        let before = pending.count
        defer {
            let added = pending.count - before
            appended += JournalPosition(added)
            if before == 0 && added > 0, case .durable = durability { wake.signal() }
        }
        try body(&pending)
        return appended + JournalPosition(pending.count - before)
    }

    /// Waits on the lock's condition for the writer's broadcast (at once when buffered).
    public func waitUntilDurable(_ position: JournalPosition) throws {
        lock.lock()
        defer { lock.unlock() }
        if case .buffered = durability { if let failure { throw failure } else { return } }
        while written < position {
            if let failure { throw failure }
            lock.wait()
        }
    }

    /// Without the lock when already written; else one continuation, resumed by the writer.
    public func durable(_ position: JournalPosition) async throws {
        // acquire: pairs with the writer's release; a failure is set before `written` could pass a failed batch
        if writtenAtomically.load(ordering: .acquiring) >= position { return }
        if case .buffered = durability { if let failure = lock.withLock({ failure }) { throw failure } else { return } }
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            lock.lock()
            if written >= position {
                lock.unlock()
                continuation.resume()
            } else if let failure {
                lock.unlock()
                continuation.resume(throwing: failure)
            } else {
                waiters.append((position, continuation))
                lock.unlock()
            }
        }
    }

    /// Snapshots start once `read` is set, on the writer thread, between commits.
    public func takeSnapshots(with read: @escaping @Sendable () -> JournalSnapshot) {
        lock.withLock { snapshotRead = read }
    }

    /// Writes what is pending, stops the writer thread and closes the store (unlocking the file).
    public func close() {
        let wasRunning = lock.withLock { () -> Bool in
            defer { closed = true }
            return started && !closed
        }
        guard wasRunning else { return }
        wake.signal()
        finished.wait()
        store.close()
    }

    /// What the journal has done so far: group commits, entries, snapshots and their time.
    public var statistics: JournalFigures { lock.withLock { figures } }

    // MARK: The writer thread

    private func writeUntilClosed() {
        var batch: [JournalEntry] = []
        var sinceSnapshot = 0
        var lastSnapshotPackets = 0
        defer { finished.signal() }
        while true {
            switch durability {
            case .durable: wake.wait()
            case .buffered(let every): _ = wake.wait(timeout: .now() + .nanoseconds(Int(every.nanosecondsSaturated)))
            }
            batch.removeAll(keepingCapacity: true)
            let (first, last, closing, read) = lock.withLock {
                swap(&batch, &pending)
                return (written + 1, appended, closed, snapshotRead)
            }
            if !batch.isEmpty {
                let start = ContinuousClock.now
                do {
                    try store.append(batch, first: first)
                } catch {
                    fail(error)
                    return
                }
                let ready = lock.withLock {
                    written = last
                    writtenAtomically.store(last, ordering: .releasing)
                    figures.commits += 1
                    figures.entries += batch.count
                    figures.largestCommit = max(figures.largestCommit, batch.count)
                    figures.writeTime += ContinuousClock.now - start
                    lock.broadcast()
                    let ready = waiters.filter { $0.position <= last }
                    waiters.removeAll { $0.position <= last }
                    return ready
                }
                for waiter in ready { waiter.continuation.resume() }
                sinceSnapshot += batch.count
            }
            if closing { return }
            if let read, sinceSnapshot >= max(compactAfter, 2 * lastSnapshotPackets) {
                let start = ContinuousClock.now
                let snapshot = read()
                do {
                    try store.replaceSnapshot(snapshot, through: last)
                } catch {
                    fail(error)
                    return
                }
                lastSnapshotPackets = snapshot.packets.count
                sinceSnapshot = 0
                lock.withLock {
                    figures.snapshots += 1
                    figures.snapshotTime += ContinuousClock.now - start
                }
                wake.signal()   // what accumulated meanwhile is written at once
            }
        }
    }

    private func fail(_ error: any Error) {
        let why = (error as? JournalError) ?? .failed("\(error)")
        let failed: JournalError = if case .failed = why { why } else { .failed("\(why)") }
        let stranded = lock.withLock {
            failure = failed
            lock.broadcast()
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in stranded { waiter.continuation.resume(throwing: failed) }
    }
}

/// What a group-commit journal has done: how many commits carried how many entries, and the snapshots.
public struct JournalFigures: Sendable, Hashable {
    /// Group commits written (each one write and one sync).
    public var commits = 0
    /// Entries they carried.
    public var entries = 0
    /// The most entries one commit carried.
    public var largestCommit = 0
    /// Time spent writing and syncing.
    public var writeTime = Duration.zero
    /// Snapshots taken.
    public var snapshots = 0
    /// Time spent reading and writing them (commits wait meanwhile).
    public var snapshotTime = Duration.zero
}
