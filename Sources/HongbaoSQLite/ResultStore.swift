import HongbaoCore

/// The SQLite file that accumulates bench runs: every run, every packet and every successful grab.
///
/// Schema version 2 (`PRAGMA user_version`), documented in the README: `runs`, `packets`, `grabs`,
/// `latency_ladder`; version 2 adds to `runs` what merging the runs of several load generators needs (the run group
/// and shard, the grab phase's wall-clock span, the latency histogram and the verdict's counts). A version-1 file is
/// migrated when opened for writing, and read as it is. A run's row is committed first with `complete = 0` and set
/// to 1 only when everything is written, so a run killed mid-way leaves a database that opens, with that run marked
/// incomplete. Bulk loads go through `RunLoader` (on `BackgroundLoad`'s thread: a transaction per batch, one reused
/// prepared statement per table) with the indexes dropped during the load and created after it. Not thread-safe: one
/// store per thread.
public final class ResultStore {
    /// The schema this version writes (`PRAGMA user_version`).
    public static let schemaVersion: Int64 = 2
    /// The store's own connection: runs, queries and schema. Bulk loads open one of their own (`loader(run:)`).
    package let database: SQLiteDatabase
    /// The file's path.
    public let path: String
    private let batchSize: Int
    private let busyTimeout: Duration
    /// SQLite's per-connection cap on the file's size in pages, applied to this connection and to every loader
    /// opened after it is set: how tests make a disk full.
    package var maxPageCount: Int64? {
        didSet { if let maxPageCount { try? database.execute("PRAGMA max_page_count = \(maxPageCount)") } }
    }

    /// Opens or creates the store at `path` and brings its schema to version 2.
    /// - Parameter batchSize: rows per bulk-load transaction.
    /// - Throws: `SQLiteError` (a corrupt file, an unwritable path), or `ResultStoreError` for a newer schema.
    /// - Parameter busyTimeout: how long a write waits for another process's lock before it fails plainly.
    public init(path: String, batchSize: Int = 100_000, busyTimeout: Duration = .seconds(5)) throws {
        database = try SQLiteDatabase(path: path, busyTimeout: busyTimeout)
        (self.path, self.batchSize, self.busyTimeout) = (path, batchSize, busyTimeout)
        let version = try integer("PRAGMA user_version")   // the first read: a corrupt file fails here
        guard version <= Self.schemaVersion else { throw ResultStoreError.newerSchema(version, path: path) }
        try database.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
        if version < Self.schemaVersion {
            try database.transaction {
                // Read again under the write lock: another process may have migrated the file meanwhile.
                let current = try integer("PRAGMA user_version")
                if current < 1 { try database.execute(Self.schemaV1) }
                if current < 2 {
                    try database.execute(Self.migrationToV2)
                    try database.execute("PRAGMA user_version = 2")
                }
            }
        }
    }

    /// Opens a results database to read it, and changes nothing: no migration, no journal-mode switch, no index.
    /// Files on read-only media are read as immutable.
    /// - Throws: `ResultStoreError.foreign` for a file that is not a Hongbao results database (whatever tables it
    ///   has), `.newerSchema` for one written by a newer Hongbao, `SQLiteError` for an unreadable file.
    public init(readingFrom path: String) throws {
        database = try Self.openForReading(path)
        (self.path, batchSize, busyTimeout) = (path, 1, .zero)
        let version = try Self.version(of: database)
        guard version <= Self.schemaVersion else { throw ResultStoreError.newerSchema(version, path: path) }
        let statement = try database.prepare("""
            SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name IN ('id', 'engine', 'complete', 'config_json')
            """)
        let runColumns = try statement.step() ? statement.int64(at: 0) : 0
        guard version >= 1, runColumns == 4 else { throw ResultStoreError.foreign(path: path) }
    }

    private static func openForReading(_ path: String) throws -> SQLiteDatabase {
        do {
            let database = try SQLiteDatabase(path: path, mode: .readOnly)
            _ = try version(of: database)   // the first read: a WAL file on read-only media fails here
            return database
        } catch let error as SQLiteError where error.code == .cannotOpen {
            return try SQLiteDatabase(path: path, mode: .immutable)
        }
    }

    private static func version(of database: SQLiteDatabase) throws -> Int64 {
        let statement = try database.prepare("PRAGMA user_version")
        return try statement.step() ? statement.int64(at: 0) : 0
    }

    package static let schemaV1 = """
        CREATE TABLE IF NOT EXISTS runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            engine TEXT NOT NULL,
            algorithm TEXT NOT NULL,
            seed INTEGER NOT NULL,
            members INTEGER NOT NULL,
            packets INTEGER NOT NULL,
            threads INTEGER NOT NULL,
            rate REAL,
            duration_s REAL,
            attempts INTEGER,
            grabs INTEGER,
            sold_out INTEGER,
            late INTEGER,
            grabs_per_s REAL,
            attempts_per_s REAL,
            p50_ns INTEGER, p90_ns INTEGER, p99_ns INTEGER, p999_ns INTEGER, max_ns INTEGER,
            refund_fen INTEGER,
            verdict TEXT,
            complete INTEGER NOT NULL DEFAULT 0,
            config_json TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS packets (
            run_id INTEGER NOT NULL,
            packet_id INTEGER NOT NULL,
            group_id INTEGER NOT NULL,
            sender_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            algorithm TEXT NOT NULL,
            total_fen INTEGER NOT NULL,
            shares INTEGER NOT NULL,
            grabbed_shares INTEGER NOT NULL,
            refund_fen INTEGER NOT NULL,
            luckiest_member_id INTEGER
        );
        CREATE TABLE IF NOT EXISTS grabs (
            run_id INTEGER NOT NULL,
            packet_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            member_id INTEGER NOT NULL,
            amount_fen INTEGER NOT NULL,
            latency_ns INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS latency_ladder (
            run_id INTEGER NOT NULL,
            percentile REAL NOT NULL,
            latency_ns INTEGER NOT NULL
        );
        """

    static let migrationToV2 = """
        ALTER TABLE runs ADD COLUMN run_group TEXT;
        ALTER TABLE runs ADD COLUMN shard TEXT;
        ALTER TABLE runs ADD COLUMN grab_started_ms INTEGER;
        ALTER TABLE runs ADD COLUMN grab_ended_ms INTEGER;
        ALTER TABLE runs ADD COLUMN histogram_json TEXT;
        ALTER TABLE runs ADD COLUMN verdict_json TEXT;
        """

    static let indexes = """
        CREATE INDEX IF NOT EXISTS packets_by_run ON packets (run_id, packet_id);
        CREATE INDEX IF NOT EXISTS grabs_by_packet ON grabs (run_id, packet_id, seq);
        """

    /// Drops the indexes before a bulk load (inserting into an indexed 10 M-row table is several times slower).
    public func dropIndexes() throws {
        try database.execute("DROP INDEX IF EXISTS packets_by_run; DROP INDEX IF EXISTS grabs_by_packet")
    }

    /// Creates the indexes that queries use; cheap when they exist.
    public func createIndexes() throws { try database.execute(Self.indexes) }

    /// Inserts a run's row, committed at once with `complete = 0`. - Returns: the run id.
    public func beginRun(_ run: RunStart) throws -> Int64 {
        let insert = try database.prepare("""
            INSERT INTO runs (started_at, engine, algorithm, seed, members, packets, threads, rate, duration_s,
                              complete, config_json, run_group, shard)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
            """)
        insert.bind(run.startedAt, at: 1)
        insert.bind(run.engine, at: 2)
        insert.bind(run.algorithm, at: 3)
        insert.bind(Int64(bitPattern: run.seed), at: 4)
        insert.bind(Int64(run.members), at: 5)
        insert.bind(Int64(run.packets), at: 6)
        insert.bind(Int64(run.threads), at: 7)
        if let rate = run.rate { insert.bind(rate, at: 8) } else { insert.bindNull(at: 8) }
        if let limit = run.durationLimit { insert.bind(limit, at: 9) } else { insert.bindNull(at: 9) }
        insert.bind(run.configJSON, at: 10)
        insert.bind(run.group, at: 11)
        insert.bind(run.shard, at: 12)
        try insert.step()
        return database.lastInsertRowID
    }

    /// Records a run's results and its latency ladder, and marks it complete.
    public func finishRun(_ id: Int64, _ results: RunResults) throws {
        try database.transaction {
            let update = try database.prepare("""
                UPDATE runs SET duration_s = ?, attempts = ?, grabs = ?, sold_out = ?, late = ?, grabs_per_s = ?,
                    attempts_per_s = ?, p50_ns = ?, p90_ns = ?, p99_ns = ?, p999_ns = ?, max_ns = ?, refund_fen = ?,
                    verdict = ?, complete = 1, grab_started_ms = ?, grab_ended_ms = ?, histogram_json = ?,
                    verdict_json = ?
                WHERE id = ?
                """)
            update.bind(results.seconds, at: 1)
            for (index, value) in [results.attempts, results.grabs, results.soldOut, results.late].enumerated() {
                update.bind(Int64(value), at: Int32(index + 2))
            }
            update.bind(results.grabsPerSecond, at: 6)
            update.bind(results.attemptsPerSecond, at: 7)
            for (index, value) in [results.p50, results.p90, results.p99, results.p999, results.max].enumerated() {
                update.bind(Int64(value), at: Int32(index + 8))
            }
            update.bind(results.refund, at: 13)
            update.bind(results.verdict, at: 14)
            update.bind(results.grabWallMilliseconds?.lowerBound, at: 15)
            update.bind(results.grabWallMilliseconds?.upperBound, at: 16)
            update.bind(results.histogramJSON, at: 17)
            update.bind(results.verdictJSON, at: 18)
            update.bind(id, at: 19)
            try update.step()
            let ladder = try database.prepare("INSERT INTO latency_ladder (run_id, percentile, latency_ns) VALUES (?, ?, ?)")
            for (percentile, nanoseconds) in results.ladder {
                ladder.bind(id, at: 1)
                ladder.bind(percentile, at: 2)
                ladder.bind(Int64(nanoseconds), at: 3)
                try ladder.step()
                ladder.reset()
            }
        }
    }

    /// A loader of one run's `packets` and `grabs` rows, on a connection of its own (a transaction per
    /// `batchSize` rows, reused statements). Use it from one thread; `backgroundLoad(run:)` runs one on a thread of
    /// its own.
    /// - Throws: `SQLiteError` if the file cannot be opened again.
    package func loader(run: Int64) throws -> RunLoader {
        let connection = try SQLiteDatabase(path: path, busyTimeout: busyTimeout)
        try connection.execute("PRAGMA synchronous = NORMAL")
        if let maxPageCount { try connection.execute("PRAGMA max_page_count = \(maxPageCount)") }
        return try RunLoader(connection, run: run, batchSize: batchSize)
    }

    /// Starts a background load of one run's `packets` and `grabs` rows (see `BackgroundLoad`).
    public func backgroundLoad(run: Int64) throws -> BackgroundLoad { BackgroundLoad(try loader(run: run)) }

    /// The single integer a query returns (0 if it returns no row): for tests and checks inside the package, never
    /// API (arbitrary SQL).
    package func integer(_ sql: String) throws -> Int64 {
        let statement = try database.prepare(sql)
        return try statement.step() ? statement.int64(at: 0) : 0
    }
}

/// A results file that cannot be used as asked: one clear line each.
public enum ResultStoreError: Error, CustomStringConvertible {
    case newerSchema(Int64, path: String)
    case foreign(path: String)
    case noSuchRun(Int64, path: String)
    case noRuns(path: String)
    /// A stored value no run can have (the file was changed or damaged): what, and where.
    case implausible(String, path: String)

    public var description: String {
        switch self {
        case .newerSchema(let version, let path):
            "\(path) has schema version \(version), newer than this Hongbao's \(ResultStore.schemaVersion)"
        case .foreign(let path): "\(path) is not a Hongbao results database (no Hongbao runs table): nothing was changed"
        case .noSuchRun(let id, let path): "no run \(id) in \(path)"
        case .noRuns(let path): "no complete run in \(path): run `swift run -c release bench --db \(path)` first"
        case .implausible(let what, let path): "\(path): \(what) — no run can have that (the file was changed or is damaged); nothing was shown"
        }
    }
}

/// What a run is, written when it starts.
public struct RunStart: Sendable {
    /// When the run started (ISO 8601).
    public var startedAt: String
    /// The engine's name.
    public var engine: String
    /// The split algorithm of its lucky packets, or `mixed`.
    public var algorithm: String
    /// The workload's seed.
    public var seed: UInt64
    /// Members in the population.
    public var members: Int
    /// Packets sent.
    public var packets: Int
    /// Worker threads.
    public var threads: Int
    /// Open loop: grabs per second; nil for the closed loop.
    public var rate: Double?
    /// The run's time limit in seconds, if any.
    public var durationLimit: Double?
    /// Every setting of the run (JSON; never a secret).
    public var configJSON: String
    /// The run id that the load generators of one run share (`bench --run-id`); nil for a run of one.
    public var group: String?
    /// `K/N` for shard K of N; nil for a run of one.
    public var shard: String?

    /// A run's row as it starts.
    public init(startedAt: String, engine: String, algorithm: String, seed: UInt64, members: Int, packets: Int,
                threads: Int, rate: Double?, durationLimit: Double?, configJSON: String, group: String? = nil,
                shard: String? = nil)
    {
        self.group = group
        self.shard = shard
        self.startedAt = startedAt
        self.engine = engine
        self.algorithm = algorithm
        self.seed = seed
        self.members = members
        self.packets = packets
        self.threads = threads
        self.rate = rate
        self.durationLimit = durationLimit
        self.configJSON = configJSON
    }
}

/// What a run measured, written when it ends.
public struct RunResults: Sendable {
    /// The grab phase's length.
    public var seconds: Double
    /// Grab attempts run.
    public var attempts: Int
    /// Successful grabs.
    public var grabs: Int
    /// Sold-out answers.
    public var soldOut: Int
    /// Grabs that started late (open loop).
    public var late: Int
    /// Successful grabs per second.
    public var grabsPerSecond: Double
    /// Attempts per second.
    public var attemptsPerSecond: Double
    /// Latency percentiles and maximum, in nanoseconds.
    public var p50: UInt64, p90: UInt64, p99: UInt64, p999: UInt64, max: UInt64
    /// Fen refunded.
    public var refund: Int64
    /// The verdict's line.
    public var verdict: String
    /// (percentile, nanoseconds), wrk2's ladder.
    public var ladder: [(Double, UInt64)]
    /// When the grab phase ran, in milliseconds since 1970.
    public var grabWallMilliseconds: ClosedRange<Int64>?
    /// The latency histogram (HdrHistogram, JSON): histograms of several runs add, percentiles do not.
    public var histogramJSON: String?
    /// The verdict's counts (JSON), to add those of several shards.
    public var verdictJSON: String?

    /// A run's results as it ends.
    public init(seconds: Double, attempts: Int, grabs: Int, soldOut: Int, late: Int, grabsPerSecond: Double,
                attemptsPerSecond: Double, p50: UInt64, p90: UInt64, p99: UInt64, p999: UInt64, max: UInt64,
                refund: Int64, verdict: String, ladder: [(Double, UInt64)], grabWallMilliseconds: ClosedRange<Int64>? = nil,
                histogramJSON: String? = nil, verdictJSON: String? = nil)
    {
        self.grabWallMilliseconds = grabWallMilliseconds
        self.histogramJSON = histogramJSON
        self.verdictJSON = verdictJSON
        self.seconds = seconds
        self.attempts = attempts
        self.grabs = grabs
        self.soldOut = soldOut
        self.late = late
        self.grabsPerSecond = grabsPerSecond
        self.attemptsPerSecond = attemptsPerSecond
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.refund = refund
        self.verdict = verdict
        self.ladder = ladder
    }
}

/// A row of `packets`.
public struct PacketRow: Sendable {
    /// The packet's id, its group's index and its sender.
    public var packet: UInt64, group: UInt32, sender: UInt32
    /// Its kind and split algorithm, by name.
    public var kind: String, algorithm: String
    /// Its money (fen) and shares, how many were grabbed, and the refund.
    public var total: Int64, shares: Int, grabbedShares: Int, refund: Int64
    /// Who got the largest share, if anyone grabbed.
    public var luckiest: UInt32?

    /// A row from its columns.
    public init(packet: UInt64, group: UInt32, sender: UInt32, kind: String, algorithm: String, total: Int64,
                shares: Int, grabbedShares: Int, refund: Int64, luckiest: UInt32?)
    {
        self.packet = packet
        self.group = group
        self.sender = sender
        self.kind = kind
        self.algorithm = algorithm
        self.total = total
        self.shares = shares
        self.grabbedShares = grabbedShares
        self.refund = refund
        self.luckiest = luckiest
    }
}

/// A row of `grabs`.
public struct GrabRow: Sendable {
    /// The packet, the grab's sequence number, who grabbed, the share (fen), and the caller's latency.
    public var packet: UInt64, seq: Int, member: UInt32, amount: Int64, latencyNanoseconds: UInt64

    /// A row from its columns.
    public init(packet: UInt64, seq: Int, member: UInt32, amount: Int64, latencyNanoseconds: UInt64) {
        self.packet = packet
        self.seq = seq
        self.member = member
        self.amount = amount
        self.latencyNanoseconds = latencyNanoseconds
    }
}

extension PacketRow {
    /// The row of a packet's account after its expiry: `summary` as the engine gave it, the refund made.
    public init(_ summary: PacketSummary, spec: PacketSpec, group: UInt32, sender: MemberID, refund: Fen) {
        self.init(packet: summary.packet.rawValue, group: group, sender: sender.rawValue, kind: spec.kind.name,
                  algorithm: spec.algorithm.rawValue, total: spec.total.rawValue, shares: spec.shares,
                  grabbedShares: summary.grabs.count, refund: refund.rawValue, luckiest: summary.luckiest?.member.rawValue)
    }
}

extension GrabRow {
    /// The row of one successful grab of `packet`, with the latency its caller saw.
    public init(_ record: GrabRecord, of packet: PacketID, latencyNanoseconds: UInt64) {
        self.init(packet: packet.rawValue, seq: record.seq, member: record.member.rawValue,
                  amount: record.amount.rawValue, latencyNanoseconds: latencyNanoseconds)
    }
}
