import HongbaoCore

/// A journal in one SQLite file: `log` holds one row per group commit (its first position and its entries as one
/// blob: one insert, not one per entry), `snapshot` the snapshots' packets in parts (by generation: the one in
/// force, and the parts of the next one as they are written), `meta` which snapshot is in force, the position it
/// covers and its generation floor.
///
/// Why SQLite: one blob per commit ran several times faster than an insert per entry, even in SQLite's own shell
/// (measured: Benchmarks/README.md, "The journal") — and SQLite gives what a hand-written append-only file would
/// have to build: the WAL detects a torn or partial last write by its frame checksums and commit marker and drops
/// it on recovery; `synchronous = FULL` syncs the WAL on every commit; `locking_mode = EXCLUSIVE` (taken at open) keeps a second process out;
/// `application_id` and `user_version` refuse another program's file and a newer format.
final class SQLiteJournalStore: JournalStore {
    /// "HBJ1": this program's journals.
    static let applicationID: Int64 = 0x4842_4A31
    static let format: Int64 = 1
    static let snapshotPartBytes = 1 << 20

    private var database: SQLiteDatabase!   // nil once closed
    private var insertBatch: SQLiteStatement!
    private var insertPart: SQLiteStatement!
    private var dropParts: SQLiteStatement!
    private var dropBatches: SQLiteStatement!
    private var partIndex: Int64 = 0
    /// The snapshot in force and the position it covers; rows of older snapshots and batches it covers are garbage.
    private var generationInForce: Int64 = 0
    private var coveredBySnapshot: JournalPosition = 0
    private var hasGarbage = true
    private let path: String

    init(path: String) throws {
        self.path = path
        do {
            database = try SQLiteDatabase(path: path, busyTimeout: .zero)
            try database.execute("PRAGMA locking_mode = EXCLUSIVE")
            try database.execute("BEGIN EXCLUSIVE; COMMIT")   // takes the lock now: a second process fails here
        } catch let error as SQLiteError {
            switch error.code {
            case .busy: throw JournalError.inUse(path)
            case .notADatabase: throw JournalError.notAJournal("\(path) is not a Hongbao journal (not an SQLite database)")
            default: throw JournalError.failed("\(error)")
            }
        }
        do {
            let applicationID = try Self.integer(database, "PRAGMA application_id")
            let format = try Self.integer(database, "PRAGMA user_version")
            let tables = try Self.integer(database, "SELECT count(*) FROM sqlite_master")
            if applicationID == 0 && format == 0 && tables == 0 {
                try database.execute("""
                    PRAGMA journal_mode = WAL;
                    PRAGMA application_id = \(Self.applicationID);
                    PRAGMA user_version = \(Self.format);
                    CREATE TABLE log (first INTEGER PRIMARY KEY, entries BLOB NOT NULL);
                    CREATE TABLE snapshot (generation INTEGER NOT NULL, part INTEGER NOT NULL, packets BLOB NOT NULL,
                                           PRIMARY KEY (generation, part));
                    CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                    """)
            } else {
                guard applicationID == Self.applicationID else {
                    throw JournalError.notAJournal("\(path) is not a Hongbao journal (an SQLite database of another program)")
                }
                guard format <= Self.format else {
                    throw JournalError.newerFormat(path: path, found: Int(format), supported: Int(Self.format))
                }
                try database.execute("PRAGMA journal_mode = WAL")
            }
            try database.execute("PRAGMA synchronous = FULL")
            insertBatch = try database.prepare("INSERT INTO log (first, entries) VALUES (?, ?)")
            insertPart = try database.prepare("INSERT INTO snapshot (generation, part, packets) VALUES (?, ?, ?)")
            dropParts = try database.prepare(
                "DELETE FROM snapshot WHERE rowid IN (SELECT rowid FROM snapshot WHERE generation < ? LIMIT 1)")
            dropBatches = try database.prepare(
                "DELETE FROM log WHERE first IN (SELECT first FROM log WHERE first <= ? ORDER BY first LIMIT 64)")
            generationInForce = try meta("snapshot_generation")
            coveredBySnapshot = JournalPosition(max(0, try meta("snapshot_through")))
        } catch let error as SQLiteError {
            throw JournalError.failed("\(error)")
        }
    }

    private static func integer(_ database: SQLiteDatabase, _ sql: String) throws -> Int64 {
        let statement = try database.prepare(sql)
        guard try statement.step() else { return 0 }
        return statement.int64(at: 0)
    }

    func load(_ apply: (JournalEntry) throws -> Void) throws -> (last: JournalPosition, generationFloor: UInt32) {
        let covered = try meta("snapshot_through")
        let floor = try meta("generation_floor")
        guard covered >= 0, (0 ..< Int64(UInt32.max)).contains(floor) else {
            throw JournalError.corrupt("\(path): snapshot position \(covered), generation floor \(floor)")
        }
        let parts = try database.prepare("SELECT part, packets FROM snapshot WHERE generation = ? ORDER BY part")
        parts.bind(try meta("snapshot_generation"), at: 1)
        while try parts.step() {
            try JournalCodec.decode(parts.blob(at: 1), what: "\(path), snapshot part \(parts.int64(at: 0))") { entry in
                guard case .packet = entry else { throw JournalError.corrupt("\(path): a snapshot holds packets only") }
                try apply(entry)
            }
        }
        var last = JournalPosition(covered)
        let batches = try database.prepare("SELECT first, entries FROM log WHERE first > ? ORDER BY first")
        batches.bind(covered, at: 1)
        while try batches.step() {
            let first = batches.int64(at: 0)
            guard first == Int64(last) + 1 else {
                throw JournalError.corrupt("\(path): the batch after position \(last) starts at \(first)")
            }
            var count: JournalPosition = 0
            try JournalCodec.decode(batches.blob(at: 1), what: "\(path), batch at \(first)") { entry in
                guard !isPacket(entry) else { throw JournalError.corrupt("\(path): a snapshot's packet in batch \(first)") }
                count += 1
                try apply(entry)
            }
            last += count
        }
        return (last, UInt32(floor))
    }

    private func isPacket(_ entry: JournalEntry) -> Bool {
        if case .packet = entry { true } else { false }
    }

    private func meta(_ name: String) throws -> Int64 {
        let statement = try database.prepare("SELECT value FROM meta WHERE name = ?")
        statement.bind(name, at: 1)
        return try statement.step() ? statement.int64(at: 0) : 0
    }

    func append(_ entries: [JournalEntry], first: JournalPosition, snapshotPart: SnapshotPart?) throws {
        func insertEntries() throws {
            guard !entries.isEmpty else { return }
            insertBatch.bind(Int64(first), at: 1)
            insertBatch.bind(JournalCodec.encode(entries), at: 2)
            defer { insertBatch.reset() }
            try insertBatch.step()
        }
        guard snapshotPart != nil || hasGarbage else { return try insertEntries() }   // autocommit: one transaction, synced
        try database.transaction {
            try insertEntries()
            if let snapshotPart {
                insertPart.bind(snapshotPart.generation, at: 1)
                insertPart.bind(partIndex, at: 2)
                insertPart.bind(JournalCodec.encode(snapshotPart.packets.map { .packet($0) }), at: 3)
                defer { insertPart.reset() }
                try insertPart.step()
                partIndex += 1
            }
            if hasGarbage {   // a replaced snapshot's part and a few covered batches a commit, never all at once
                try dropParts.run(generationInForce)
                let parts = database.changes
                try dropBatches.run(Int64(coveredBySnapshot))
                hasGarbage = parts + database.changes > 0
            }
        }
    }

    func beginSnapshot() throws -> Int64 {
        let current = try meta("snapshot_generation")
        let drop = try database.prepare("DELETE FROM snapshot WHERE generation > ?")   // an unfinished one's parts
        try drop.run(current)
        partIndex = 0
        return current + 1
    }

    func finishSnapshot(_ generation: Int64, through position: JournalPosition, generationFloor: UInt32) throws {
        try database.transaction {
            let upsert = try database.prepare("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            for (name, value) in [("snapshot_generation", generation), ("snapshot_through", Int64(position)),
                                  ("generation_floor", Int64(generationFloor))] {
                upsert.bind(name, at: 1)
                upsert.bind(value, at: 2)
                try upsert.step()
                upsert.reset()
            }
        }
        (generationInForce, coveredBySnapshot, hasGarbage) = (generation, position, true)
    }

    /// Closes the connection, which unlocks the file.
    func close() {
        insertBatch = nil
        insertPart = nil
        dropParts = nil
        dropBatches = nil
        database = nil
    }
}
