import Foundation
import HongbaoCore

/// A journal store in memory, for tests: `survivor()` is what a crash would leave — the batches written so far,
/// nothing pending — for a new engine to recover from; `failWrites(afterBatches:)` makes later writes fail, as a
/// full disk does.
package final class MemoryJournalStore: JournalStore, @unchecked Sendable {
    // @unchecked Sendable: every var is read and written under `lock`.
    private let lock = NSLock()
    private var batches: [(first: JournalPosition, entries: [JournalEntry])] = []
    private var snapshot: (JournalSnapshot, through: JournalPosition)?
    private var writesLeft = Int.max

    package init() {}

    /// A store holding what this one has written so far (its batches and its snapshot), as a crash leaves it.
    package func survivor() -> MemoryJournalStore {
        let copy = MemoryJournalStore()
        lock.withLock { (copy.batches, copy.snapshot) = (batches, snapshot) }
        return copy
    }

    /// After `count` more batches, every write fails.
    package func failWrites(afterBatches count: Int) { lock.withLock { writesLeft = count } }

    /// Entries written (every batch's, since the last snapshot) and the snapshot's packets.
    package var counts: (entries: Int, snapshotPackets: Int) {
        lock.withLock { (batches.reduce(0) { $0 + $1.entries.count }, snapshot?.0.packets.count ?? 0) }
    }

    package func load(_ apply: (JournalEntry) throws -> Void) throws -> (last: JournalPosition, generationFloor: UInt32) {
        let (batches, snapshot) = lock.withLock { (self.batches, self.snapshot) }
        for packet in snapshot?.0.packets ?? [] { try apply(.packet(packet)) }
        var last = snapshot?.through ?? 0
        for batch in batches {
            for entry in batch.entries { try apply(entry) }
            last = batch.first + JournalPosition(batch.entries.count) - 1
        }
        return (last, snapshot?.0.generationFloor ?? 0)
    }

    package func append(_ entries: [JournalEntry], first: JournalPosition) throws {
        try lock.withLock {
            guard writesLeft > 0 else { throw JournalError.failed("no space left on device (injected)") }
            writesLeft -= 1
            batches.append((first, entries))
        }
    }

    package func replaceSnapshot(_ snapshot: JournalSnapshot, through position: JournalPosition) throws {
        lock.withLock {
            self.snapshot = (snapshot, position)
            batches.removeAll { $0.first <= position }
        }
    }

    package func close() {}
}

extension GroupCommitJournal {
    /// A journal in `store` (tests: `MemoryJournalStore`).
    package static func inMemory(_ store: MemoryJournalStore, durability: JournalDurability = .durable,
                                 compactAfter: Int = 1_000_000) -> GroupCommitJournal
    {
        GroupCommitJournal(store: store, durability: durability, compactAfter: compactAfter)
    }
}
