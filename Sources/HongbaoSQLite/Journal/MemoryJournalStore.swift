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
    private var next: (generation: Int64, packets: [PacketImage])?
    private var generation: Int64 = 0
    private var writesLeft = Int.max

    package init() {}

    /// A store holding what this one has written so far (its batches and its snapshot), as a crash leaves it.
    package func survivor() -> MemoryJournalStore {
        let copy = MemoryJournalStore()
        lock.withLock { (copy.batches, copy.snapshot, copy.next, copy.generation) = (batches, snapshot, next, generation) }
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

    package func append(_ entries: [JournalEntry], first: JournalPosition, snapshotPart: SnapshotPart?) throws {
        try lock.withLock {
            guard writesLeft > 0 else { throw JournalError.failed("no space left on device (injected)") }
            writesLeft -= 1
            if !entries.isEmpty { batches.append((first, entries)) }
            if let snapshotPart, snapshotPart.generation == next?.generation { next!.packets += snapshotPart.packets }
        }
    }

    package func beginSnapshot() throws -> Int64 {
        lock.withLock {
            next = (generation + 1, [])
            return generation + 1
        }
    }

    package func finishSnapshot(_ generation: Int64, through position: JournalPosition, generationFloor: UInt32) throws {
        try lock.withLock {
            guard let next, next.generation == generation else { throw JournalError.failed("no snapshot \(generation) begun") }
            snapshot = (JournalSnapshot(packets: next.packets, generationFloor: generationFloor), position)
            self.generation = generation
            self.next = nil
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
