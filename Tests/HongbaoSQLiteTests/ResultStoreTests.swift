import Foundation
import HongbaoSQLite
import Testing

@Suite("Results store")
struct ResultStoreTests {
    static func temporaryPath() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hongbao-sqlite-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("runs.db").path
    }

    static let start = RunStart(startedAt: "2026-11-28T00:00:00Z", engine: "lock-free", algorithm: "mixed", seed: 7,
                                members: 10, packets: 2, threads: 2, rate: nil, durationLimit: nil, configJSON: "{}")

    @Test func aNewFileGetsSchemaVersionTwoAndItsTables() throws {
        let store = try ResultStore(path: Self.temporaryPath())
        #expect(try store.integer("PRAGMA user_version") == 2)
        #expect(try store.integer("""
            SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name IN ('run_group', 'shard', 'histogram_json', 'verdict_json', 'grab_started_ms', \
            'grab_ended_ms')
            """) == 6)
        #expect(try store.integer("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'packets', 'grabs', 'latency_ladder')") == 4)
        #expect(try store.integer("SELECT journal_mode = 'wal' FROM pragma_journal_mode") == 1)
    }

    /// A version-1 file (written before runs could be merged): read as it is, migrated when opened for writing,
    /// its runs kept.
    @Test func aVersionOneFileIsReadAsItIsAndMigratedForWriting() throws {
        let path = Self.temporaryPath()
        let old = try SQLiteDatabase(path: path)
        try old.execute(ResultStore.schemaV1 + "PRAGMA user_version = 1;")
        try old.execute("""
            INSERT INTO runs (started_at, engine, algorithm, seed, members, packets, threads, complete, config_json)
            VALUES ('2026-01-01T00:00:00Z', 'lock-free', 'mixed', 1, 10, 2, 2, 1, '{}')
            """)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(try ResultStore(readingFrom: path).runs().map(\.engine) == ["lock-free"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "reading changes nothing")
        let store = try ResultStore(path: path)
        #expect(try store.integer("PRAGMA user_version") == 2)
        #expect(try store.runs().map(\.engine) == ["lock-free"])
        #expect(try store.latestShardRun() == nil)
    }

    @Test func aRunIsIncompleteUntilItFinishesAndRowsCrossBatches() throws {
        let path = Self.temporaryPath()
        let store = try ResultStore(path: path, batchSize: 7)
        let run = try store.beginRun(Self.start)
        #expect(try store.runs([run])[0].complete == false)
        let loader = try store.loader(run: run)
        for packet in UInt64(0) ..< 20 {
            try loader.append(PacketRow(packet: packet, group: 1, sender: 2, kind: "lucky", algorithm: "line-cutting",
                                         total: 300, shares: 3, grabbedShares: 3, refund: 0, luckiest: 11))
            for seq in 1 ... 3 {
                try loader.append(GrabRow(packet: packet, seq: seq, member: UInt32(10 + seq), amount: 100, latencyNanoseconds: 500))
            }
        }
        try loader.finish()
        try store.finishRun(run, RunResults(seconds: 1, attempts: 80, grabs: 60, soldOut: 20, late: 0, grabsPerSecond: 60,
                                            attemptsPerSecond: 80, p50: 1, p90: 2, p99: 3, p999: 4, max: 5, refund: 0,
                                            verdict: "pass", ladder: [(50, 1), (100, 5)]))
        let reopened = try ResultStore(path: path)
        #expect(try reopened.integer("SELECT COUNT(*) FROM grabs WHERE run_id = \(run)") == 60)
        #expect(try reopened.integer("SELECT COUNT(*) FROM packets WHERE run_id = \(run)") == 20)
        #expect(try reopened.runs([run])[0].complete)
        #expect(try reopened.latencyLadder(run: run).map(\.1) == [1, 5])
        #expect(try reopened.comparableShareCount(run: run) == 3)
        let positions = try reopened.positionStatistics(run: run, shares: 3)
        #expect(positions.map(\.position) == [1, 2, 3] && positions.allSatisfy { $0.mean == 1 && $0.count == 20 })
        #expect(positions.map(\.luckiest) == [20, 0, 0], "member 11 (position 1) is every packet's luckiest")
    }

    @Test func aCorruptFileIsReportedPlainly() throws {
        let path = Self.temporaryPath()
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try ResultStore(path: path)
        } throws: { error in
            "\(error)" == "\(path) is not an SQLite database (corrupt, or another kind of file)"
        }
    }

    @Test func anUnwritablePathIsReportedPlainly() throws {
        #expect {
            _ = try ResultStore(path: "/nonexistent-hongbao-dir/runs.db")
        } throws: { error in
            "\(error)".hasPrefix("cannot open database /nonexistent-hongbao-dir/runs.db")
        }
    }

    /// A full disk, simulated by capping the database's size (`max_page_count`): reported plainly, and the rows
    /// committed before it stay readable.
    @Test func aFullDiskIsReportedPlainly() throws {
        let path = Self.temporaryPath()
        let store = try ResultStore(path: path, batchSize: 1_000)
        let run = try store.beginRun(Self.start)
        store.maxPageCount = try store.integer("PRAGMA page_count") + 40
        let loader = try store.loader(run: run)
        #expect {
            for seq in 1 ... 200_000 {
                try loader.append(GrabRow(packet: 1, seq: seq, member: UInt32(seq), amount: 100, latencyNanoseconds: 1))
            }
        } throws: { error in
            "\(error)" == "disk full while writing \(path)"
        }
        let reopened = try ResultStore(path: path)
        #expect(try reopened.integer("SELECT COUNT(*) FROM grabs") % 1_000 == 0, "whole batches only")
        #expect(try reopened.runs().map(\.complete) == [false])
    }

    static func grabRows(_ count: Int, packet: UInt64 = 1) -> [GrabRow] {
        (1 ... count).map { GrabRow(packet: packet, seq: $0, member: UInt32($0), amount: 100, latencyNanoseconds: 1) }
    }

    /// A full disk under a background load: the producer gets the error (no crash when the load is released), and
    /// the database keeps whole batches with the run incomplete.
    @Test(.timeLimit(.minutes(1))) func aFullDiskDuringABackgroundLoadIsAnErrorNotACrash() throws {
        let path = Self.temporaryPath()
        do {
            let store = try ResultStore(path: path, batchSize: 1_000)
            let run = try store.beginRun(Self.start)
            store.maxPageCount = try store.integer("PRAGMA page_count") + 40
            let load = try store.backgroundLoad(run: run)
            var failure: (any Error)?
            do {
                for batch in 0 ..< 200 { try load.append(packets: [], grabs: Self.grabRows(5_000, packet: UInt64(batch))) }
                _ = try load.finish()
            } catch {
                failure = error
            }
            #expect(failure.map { "\($0)" } == "disk full while writing \(path)")
            #expect(throws: SQLiteError.self) { _ = try load.finish() }
        }   // the load and the store are released here
        let reopened = try ResultStore(path: path)
        #expect(try reopened.integer("SELECT COUNT(*) FROM grabs") % 1_000 == 0, "whole batches only")
        #expect(try reopened.runs().map(\.complete) == [false])
    }

    /// Another process holds the write lock past the busy timeout: the load fails plainly instead of hanging.
    @Test(.timeLimit(.minutes(1))) func aLockHeldByAnotherWriterIsAnErrorNotAHang() throws {
        let path = Self.temporaryPath()
        let store = try ResultStore(path: path, batchSize: 1_000, busyTimeout: .milliseconds(50))
        let run = try store.beginRun(Self.start)
        let other = try SQLiteDatabase(path: path)
        try other.execute("BEGIN IMMEDIATE")
        defer { try? other.execute("ROLLBACK") }
        let load = try store.backgroundLoad(run: run)
        #expect {
            for batch in 0 ..< 100 { try load.append(packets: [], grabs: Self.grabRows(2_000, packet: UInt64(batch))) }
            _ = try load.finish()
        } throws: { error in
            "\(error)" == "database \(path) is locked by another process"
        }
    }

    /// `hongbao report` reads: a foreign file is refused and left byte for byte as it was; so is a newer schema.
    @Test func readingChangesNothingAndRefusesForeignFiles() throws {
        let path = Self.temporaryPath()
        let foreign = try SQLiteDatabase(path: path)
        try foreign.execute("CREATE TABLE runs (x INTEGER); INSERT INTO runs VALUES (1)")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect {
            _ = try ResultStore(readingFrom: path)
        } throws: { error in
            "\(error)" == "\(path) is not a Hongbao results database (no Hongbao runs table): nothing was changed"
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "no switch to WAL")

        let ours = Self.temporaryPath()
        let store = try ResultStore(path: ours)
        _ = try store.beginRun(Self.start)
        let reader = try ResultStore(readingFrom: ours)
        #expect(try reader.runs().count == 1)
        #expect(throws: SQLiteError.self) { try reader.database.execute("CREATE TABLE x (y)") }
        try store.database.execute("PRAGMA user_version = 9")
        #expect(throws: ResultStoreError.self) { _ = try ResultStore(readingFrom: ours) }
    }

    /// Read-only media are read through an `immutable` URI: a path with non-ASCII characters and URI
    /// delimiters reaches SQLite byte for byte.
    @Test func anImmutableOpenKeepsEveryByteOfThePath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("红包 é#?%25-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("运行 runs.db").path
        #expect(SQLiteDatabase.uriEscaped("/tmp/é #?%/a_b~c.db") == "/tmp/%C3%A9%20%23%3F%25/a_b~c.db")
        let writer = try SQLiteDatabase(path: path)
        try writer.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)")
        let reader = try SQLiteDatabase(path: path, mode: .immutable)
        let rows = try reader.prepare("SELECT x FROM t")
        #expect(try rows.step())
        #expect(rows.int64(at: 0) == 42)
    }

    @Test func aNewerSchemaIsRefused() throws {
        let path = Self.temporaryPath()
        try ResultStore(path: path).database.execute("PRAGMA user_version = 9")
        #expect {
            _ = try ResultStore(path: path)
        } throws: { error in
            "\(error)" == "\(path) has schema version 9, newer than this Hongbao's 2"
        }
    }

    @Test func anUnknownRunIsAnError() throws {
        let store = try ResultStore(path: Self.temporaryPath())
        #expect(throws: ResultStoreError.self) { _ = try store.runs([42]) }
    }
}
