/// A position in a journal: the number of entries appended before, and including, some entry.
public typealias JournalPosition = UInt64

/// Where a journaled engine writes every change before it answers: an append-only record of entries, made durable
/// in group commits — many calls' entries share one write and one sync — and read back on recovery.
///
/// The engine makes each change and appends its entry inside `serially`, under the journal's one lock, so the
/// journal's order is the order the changes were made in, and replaying it gives back the same state. The engine
/// answers a call only once the position `serially` returned is durable (`waitUntilDurable` or `durable`): an
/// answer never rests on a change a crash could undo. The core does no I/O: implementations live elsewhere
/// (`SQLiteJournal` in HongbaoSQLite, and an in-memory journal for tests).
public protocol GrabJournal: AnyObject, Sendable {
    /// Replays what the journal holds, oldest first: its latest snapshot's packets as `.packet` entries, then every
    /// entry appended after that snapshot. Called once, before the first `serially`.
    /// - Returns: the generation floor the snapshot recorded (0 without one).
    /// - Throws: `JournalError` (a value that cannot be, a file this program did not write), or what `apply` threw.
    func recover(_ apply: (JournalEntry) throws -> Void) throws -> UInt32

    /// Runs `body` under the journal's lock; the entries `body` appends follow every entry appended before, in
    /// order. - Returns: the position an answer made in `body` must wait for (`waitUntilDurable`, `durable`): that
    /// of the last entry appended so far, so an answer that only reads also waits for the changes it saw.
    /// - Throws: `JournalError.failed` once a write has failed (`body` is not run), or what `body` threw (its
    ///   entries are appended all the same: the changes they record were made).
    func serially(_ body: (inout [JournalEntry]) throws -> Void) throws -> JournalPosition

    /// Blocks the calling thread until `position` is durable (at once in a buffered mode).
    /// - Throws: `JournalError.failed` if the write that carried it failed.
    func waitUntilDurable(_ position: JournalPosition) throws

    /// Suspends until `position` is durable (at once in a buffered mode); never blocks a thread.
    /// - Throws: `JournalError.failed` if the write that carried it failed.
    nonisolated(nonsending) func durable(_ position: JournalPosition) async throws

    /// Hands the journal a way to read the engine's state, for the snapshots that keep recovery proportional to
    /// the packets held rather than to history. Called once, after recovery. The journal calls `start` once every
    /// entry up to the position the snapshot will cover is durable, and runs the read it returns — on a thread of
    /// its own, while the engine serves calls — to get the packets.
    func takeSnapshots(with start: @escaping @Sendable () -> @Sendable () -> JournalSnapshot)

    /// Writes what is appended, stops the journal's thread and releases the journal (its lock on the file).
    /// Calls after it throw `JournalError.closed`.
    func close()
}
