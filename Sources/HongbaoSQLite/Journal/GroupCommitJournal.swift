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
    /// Writes one batch, entries `first ..< first + entries.count` (none, for a part alone), and a part of a snapshot
    /// being taken, in one transaction, durably (written and synced) before it returns.
    func append(_ entries: [JournalEntry], first: JournalPosition, snapshotPart: SnapshotPart?) throws
    /// Starts a snapshot: drops the parts of any snapshot left unfinished. - Returns: the new snapshot's generation.
    func beginSnapshot() throws -> Int64
    /// Makes snapshot `generation` (every part written) the one in force — it holds every change up to `position`
    /// — atomically. The previous snapshot and the batches up to `position` are garbage from then on: recovery
    /// never reads them, and the commits after it delete them a few rows at a time.
    func finishSnapshot(_ generation: Int64, through position: JournalPosition, generationFloor: UInt32) throws
    /// Releases the store (its lock on the file).
    func close()
}

/// A journal that makes many calls' entries durable in one write and one sync (group commit), on its own thread,
/// and compacts itself with snapshots.
///
/// Implementation notes. Calls append under `appends` (`serially`); the writer thread swaps the pending
/// entries out, writes them as one batch (one SQLite transaction: one write, one fsync of the WAL), then wakes
/// every caller whose position it covered. While it writes, the next batch accumulates: the more calls in flight,
/// the bigger the batch, with no timer and no tuning. Once the entries written since the last snapshot reach
/// `compactAfter` (and twice the last snapshot's packets), it reads the engine's snapshot and replaces the old
/// one with it, dropping the batches it covers: recovery reads the packets held, not history. The snapshot is read
/// on a thread of its own and written a part (about 256 KB) with each commit, and the snapshot and batches it
/// replaces are deleted a few rows with each commit after it: commits never stall behind a snapshot.
///
/// A failed write fails every call waiting on it and every call after it (`JournalError.failed`): what the engine
/// holds in memory may then be ahead of the journal, so nothing more is acknowledged until the engine is reopened.
public final class GroupCommitJournal: GrabJournal, @unchecked Sendable {
    // @unchecked Sendable: `pending`, `appended`, `appendFailure`, `closed`, `started` and `snapshotStart` are read
    // and written only under `appends`; `written`, `failure`, `waiters` and `figures` only under `lock` (NSLock and
    // NSCondition: pthread mutexes, which ThreadSanitizer sees). No code holds both at once. `store` is used only by
    // the writer thread once it runs (and by `recover`, before it starts).

    private let store: any JournalStore
    private let durability: JournalDurability
    private let compactAfter: Int
    /// The appenders' lock, taken by every call: spun on briefly before it blocks (`lockAppends`).
    private let appends = NSLock()
    /// The waiters' lock and condition.
    private let lock = NSCondition()
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    private var pending: [JournalEntry] = []
    private var appended: JournalPosition = 0
    private var written: JournalPosition = 0
    /// `written`, also stored (releasing, under the lock) where an answer can read it without the lock.
    private let writtenAtomically = Atomic<JournalPosition>(0)
    /// Whether `failure` is set, readable without the lock (a buffered answer checks it on every call).
    private let hasFailed = Atomic<Bool>(false)
    private var failure: JournalError?
    private var appendFailure: JournalError?
    private var closed = false
    private var started = false
    private var waiters: [(position: JournalPosition, continuation: UnsafeContinuation<Void, any Error>)] = []
    private var snapshotStart: (@Sendable () -> @Sendable () -> JournalSnapshot)?
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
        appends.withLock {
            precondition(!started, "recover is called once")
            (appended, started) = (last, true)
        }
        lock.withLock {
            written = last
            writtenAtomically.store(last, ordering: .releasing)
        }
        Thread { [self] in writeUntilClosed() }.start()
        return floor
    }

    /// Appends under the lock; wakes the writer when the first entry of a batch arrives.
    public func serially(_ body: (inout [JournalEntry]) throws -> Void) throws -> JournalPosition {
        lockAppends()
        defer { appends.unlock() }
        if let appendFailure { throw appendFailure }
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

    /// Takes `appends`, trying up to 1,024 times before it blocks: the lock is held for one call's change, a few
    /// hundred nanoseconds, so a thread that finds it taken usually gets it by trying again; blocking at once put
    /// both worker threads to sleep in futex calls (measured: Benchmarks/README.md, "The journal").
    private func lockAppends() {
        for _ in 0 ..< 1024 where appends.try() { return }
        appends.lock()
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
    nonisolated(nonsending) public func durable(_ position: JournalPosition) async throws {
        // acquire: pairs with the writer's release; a failure is set before `written` could pass a failed batch
        if writtenAtomically.load(ordering: .acquiring) >= position { return }
        if case .buffered = durability {
            // acquire: pairs with `fail`'s release, after which `failure` is set
            guard hasFailed.load(ordering: .acquiring), let failure = lock.withLock({ failure }) else { return }
            throw failure
        }
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

    /// Snapshots start once `start` is set, on the writer thread, between commits.
    public func takeSnapshots(with start: @escaping @Sendable () -> @Sendable () -> JournalSnapshot) {
        appends.withLock { snapshotStart = start }
    }

    /// Writes what is pending, stops the writer thread and closes the store (unlocking the file).
    public func close() {
        let wasRunning = appends.withLock { () -> Bool in
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
        var snapshot: SnapshotInProgress?
        defer { finished.signal() }
        while true {
            if let snapshot, snapshot.hasPartReady {
                _ = wake.wait(timeout: .now())   // a part to write: do not sleep
            } else {
                switch durability {
                case .durable: wake.wait()
                case .buffered(let every): _ = wake.wait(timeout: .now() + .nanoseconds(Int(every.nanosecondsSaturated)))
                }
            }
            batch.removeAll(keepingCapacity: true)
            let (last, closing, start) = appends.withLock {
                swap(&batch, &pending)
                return (appended, closed, snapshotStart)
            }
            let first = last - JournalPosition(batch.count) + 1
            // One snapshot part rides along with the group commit (or goes alone): a snapshot is written a part at
            // a time, between and inside commits, never in one long stall.
            let part = closing ? nil : snapshot?.nextPart()
            if !batch.isEmpty || part != nil {
                let start = ContinuousClock.now
                do {
                    try store.append(batch, first: first, snapshotPart: part)
                } catch {
                    fail(error)
                    return
                }
                let ready = lock.withLock {
                    written = last
                    writtenAtomically.store(last, ordering: .releasing)
                    if !batch.isEmpty {
                        figures.commits += 1
                        figures.entries += batch.count
                        figures.largestCommit = max(figures.largestCommit, batch.count)
                    }
                    figures.writeTime += ContinuousClock.now - start
                    lock.broadcast()
                    let waiting = waiters.partition { $0.position <= last }   // in place: the ready ones last
                    defer { waiters.removeSubrange(waiting...) }
                    return Array(waiters[waiting...])
                }
                for waiter in ready { waiter.continuation.resume() }
                sinceSnapshot += batch.count
            }
            if closing { return }   // an unfinished snapshot is dropped: the last finished one stays in force
            if let current = snapshot, let floor = current.finishedFloor {
                do {
                    try store.finishSnapshot(current.generation, through: current.through, generationFloor: floor)
                } catch {
                    fail(error)
                    return
                }
                lastSnapshotPackets = current.packets
                lock.withLock {
                    figures.snapshots += 1
                    figures.snapshotTime += ContinuousClock.now - current.started
                }
                snapshot = nil
            }
            if snapshot == nil, let start, sinceSnapshot >= max(compactAfter, 2 * lastSnapshotPackets) {
                do {
                    // `last` is durable: the snapshot starts here (the engine holds reclamation from now on).
                    let generation = try store.beginSnapshot()
                    snapshot = SnapshotInProgress(generation: generation, through: last, read: start(), wake: wake)
                } catch {
                    fail(error)
                    return
                }
                sinceSnapshot = 0
            }
        }
    }

    private func fail(_ error: any Error) {
        let why = (error as? JournalError) ?? .failed("\(error)")
        let failed: JournalError = if case .failed = why { why } else { .failed("\(why)") }
        appends.withLock { appendFailure = failed }
        let stranded = lock.withLock {
            failure = failed
            hasFailed.store(true, ordering: .releasing)
            lock.broadcast()
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in stranded { waiter.continuation.resume(throwing: failed) }
    }
}

/// A snapshot being taken: a thread of its own reads the engine's packets (after `through` was durable) and cuts
/// them into parts; the writer thread writes one part with each commit, then makes the snapshot the one in force.
private final class SnapshotInProgress: @unchecked Sendable {
    // @unchecked Sendable: `parts`, `floor` and `count` are read and written only under `lock`.
    let generation: Int64
    let through: JournalPosition
    let started = ContinuousClock.now
    private let lock = NSLock()
    private var parts: [[PacketImage]] = []
    private var floor: UInt32?
    private var count = 0
    static let partBytes = 1 << 18

    init(generation: Int64, through: JournalPosition, read: @escaping @Sendable () -> JournalSnapshot, wake: DispatchSemaphore) {
        self.generation = generation
        self.through = through
        Thread { [self] in
            let snapshot = read()
            var parts: [[PacketImage]] = [[]]
            var bytes = 0
            for packet in snapshot.packets {
                parts[parts.count - 1].append(packet)
                bytes += 64 + 4 * (packet.members.count + packet.amounts.count + packet.winners.count)
                if bytes >= Self.partBytes {
                    parts.append([])
                    bytes = 0
                }
            }
            lock.withLock {
                self.parts = parts.filter { !$0.isEmpty }
                count = snapshot.packets.count
                floor = snapshot.generationFloor
            }
            wake.signal()
        }.start()
    }

    var hasPartReady: Bool { lock.withLock { !parts.isEmpty } }

    /// The next part to write, if one is ready.
    func nextPart() -> SnapshotPart? {
        lock.withLock {
            guard !parts.isEmpty else { return nil }
            return SnapshotPart(generation: generation, packets: parts.removeFirst())
        }
    }

    /// Once every part is read and written: the snapshot's generation floor.
    var finishedFloor: UInt32? { lock.withLock { parts.isEmpty ? floor : nil } }
    /// Packets in the snapshot (once read).
    var packets: Int { lock.withLock { count } }
}

/// Some of a snapshot's packets, written with a group commit.
package struct SnapshotPart: Sendable {
    /// The snapshot they belong to.
    package let generation: Int64
    /// The packets, as read.
    package let packets: [PacketImage]
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
