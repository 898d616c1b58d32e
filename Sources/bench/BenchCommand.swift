import ArgumentParser
import Foundation
import HongbaoCommandLine
import HongbaoCore
import HongbaoRedis
import HongbaoSimulator
import HongbaoSQLite
import HongbaoBench

/// `swift run bench`: a festival night in miniature against one or more engines.
@main
struct BenchCommand: ParsableCommand {
    /// Bad input is one line on standard error and a non-zero exit (`--help` still prints the help).
    static func main() { runWithOneLineErrors(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Simulate millions of members racing for red packets; measure and verify each engine.",
        discussion: """
            With no options: 1,000,000 members, 100,000 packets, the in-process engines side by side \
            (lock-free, mutex, actor) on the same seeded workload. With --redis, the Redis engine (a server, or \
            a cluster's comma-separated seeds). Every grab is stored in the SQLite file given by --db; \
            `swift run hongbao report` analyses it. Exits non-zero if any verdict fails.
            """)

    @Option(name: .customLong("engine"), parsing: .upToNextOption,
            help: """
                Engines to run: \(EngineChoice.allValueStrings.joined(separator: ", ")). Default: lock-free mutex actor null, or redis with \
                --redis.
                """)
    var engineOption: [EngineChoice] = []

    @OptionGroup var workload: WorkloadArguments

    @Option(help: "Redis server for the redis engine: redis://[:password@]host:port[/db], or a cluster's seeds separated by commas.")
    var redis: String?

    @Option(help: "Grabs per Redis call (one script call per slot per batch). In-process engines grab one at a time.")
    var batch = 64

    @Flag(help: "Redis: acknowledge a grab only once a replica holds it (WAIT 1), so a master's failover loses no acknowledged grab.")
    var durable = false

    @Option(help: """
        Run as load generator K of N (e.g. 2/3) of one run against the same --redis: sends its share of the packets, grabs for its share of the \
        members, meets the others through Redis. Needs --run-id.
        """)
    var shard: String?

    @Option(name: .customLong("run-id"), help: "The id the shards of one run share (letters, digits, '.', '_', '-'); a new one for every run.")
    var runID: String?

    @Option(help: """
        Write what every caller was told — each send, grant and refund — to this file, for a check of the final state independent of the audit \
        (scripts/partition-check.py).
        """)
    var told: String?

    @Option(name: .customLong("shard-timeout"), help:
        "With --shard: seconds a shard waits for the others at each phase (sending, grabbing, auditing) before it gives up.")
    var shardTimeout: Double = 300

    @Option(name: .customLong("recovery-timeout"), help: "Redis Cluster: seconds a call waits for a failover to finish before it fails.")
    var recoveryTimeout: Double = 30

    @Option(help: """
        The journaled engine's journal: a new SQLite file (it must not exist: a run starts from an empty journal). Default: a temporary file beside \
        --db, removed after the run.
        """)
    var journal: String?

    @Option(name: .customLong("journal-mode"), help: """
        The journaled engine: durable (answer after the fsync of its group commit) or buffered (answer at once, fsync every --sync-every ms: a crash \
        can lose the last interval). Default: durable.
        """)
    var journalMode: JournalMode = .durable

    @Option(name: .customLong("sync-every"), help:
        "--journal-mode buffered: milliseconds between fsyncs (1000: Redis's appendfsync everysec).")
    var syncEvery = 1000

    @Option(name: .customLong("in-flight"), help:
        "The journaled engine: calls in flight per worker thread, each an async caller awaiting its answer.")
    var inFlight = 1024

    @Option(name: .customLong("journal-batch"), help: """
        The journaled engine: 1 for --in-flight async callers a thread, each awaiting one grab at a time; N > 1 for grabs handed N at \
        a time by each of --threads threads, each call blocking until its group commit (as the Redis engine's --batch).
        """)
    var journalBatch = 1

    @Option(name: .customLong("compact-after"), help: "The journaled engine: entries written between snapshots of its journal.")
    var compactAfter = 1_000_000

    func validate() throws {
        if engines.contains(.redis) && redis == nil { throw ValidationError("--engine redis needs --redis URL") }
        if redis != nil, let other = engines.first(where: { $0 != .redis }) {
            throw ValidationError("--redis runs the Redis engine, and --engine \(other.name) runs in process: give one or the other")
        }
        if let redis {
            do { _ = try RedisAddress.seeds(from: redis) } catch let error as RedisEngineError { throw ValidationError("--redis: \(error.detail)") }
        }
        guard (1 ... 4096).contains(batch) else { throw ValidationError("--batch must be in 1 ... 4096, got \(batch)") }
        guard recoveryTimeout > 0 && recoveryTimeout <= 3600 else {
            throw ValidationError("--recovery-timeout must be in (0, 3600] seconds, got \(recoveryTimeout)")
        }
        if durable && redis == nil { throw ValidationError("--durable applies to the Redis engine: give --redis URL") }
        guard (1 ... 65_536).contains(inFlight) else { throw ValidationError("--in-flight must be in 1 ... 65536, got \(inFlight)") }
        guard (1 ... 60_000).contains(syncEvery) else { throw ValidationError("--sync-every must be in 1 ... 60000 ms, got \(syncEvery)") }
        guard (1 ... 4096).contains(journalBatch) else { throw ValidationError("--journal-batch must be in 1 ... 4096, got \(journalBatch)") }
        guard compactAfter >= 1 else { throw ValidationError("--compact-after must be at least 1, got \(compactAfter)") }
        if let journal, FileManager.default.fileExists(atPath: journal) {
            throw ValidationError("--journal \(journal) exists: a bench run starts from an empty journal (remove it, or give a new path)")
        }
        guard shardTimeout > 0 && shardTimeout <= 86_400 else {
            throw ValidationError("--shard-timeout must be in (0, 86400] seconds, got \(shardTimeout)")
        }
        if let shard {
            guard Self.parseShard(shard) != nil else { throw ValidationError("--shard must be K/N with 1 ≤ K ≤ N ≤ 64, got \(shard)") }
            guard redis != nil, engines == [.redis] else { throw ValidationError(
                "--shard runs the Redis engine: give --redis URL (and no other --engine)") }
            guard runID != nil else { throw ValidationError("--shard needs --run-id: the id all shards of the run share") }
        } else if runID != nil {
            throw ValidationError("--run-id names a run of several shards: give --shard K/N too")
        }
    }

    /// The engines to run: as given, else the in-process ones, or Redis when --redis is given.
    var engines: [EngineChoice] {
        if !engineOption.isEmpty { return engineOption }
        return redis == nil ? EngineKind.correct.map(EngineChoice.inProcess) + [.null] : [.redis]
    }

    mutating func run() throws {
        var options = workload.options(command: "bench")
        options.toldPath = told
        let redisSettings = RedisSettings(url: redis, batch: batch, durability: durable ? .replicated : .master,
                                          recoveryTimeout: .milliseconds(Int64(recoveryTimeout * 1000)))
        options.settings = ["redis": redis.map(RedisAddress.redacted) ?? "none", "batch": "\(batch)",
                            "durability": "\(redisSettings.durability)"]
        let journalSettings = JournalSettings(
            path: journal ?? URL(fileURLWithPath: workload.db).deletingLastPathComponent()
                .appendingPathComponent(".bench-journal-\(ProcessInfo.processInfo.processIdentifier).db").path,
            temporary: journal == nil,
            durability: journalMode == .durable ? .durable : .buffered(every: .milliseconds(syncEvery)),
            compactAfter: compactAfter, batch: journalBatch)
        if engines.contains(.journaled) {
            options.settings["journal"] = "\(journalSettings.durability)"
            if journalBatch > 1 {
                options.settings["journal_batch"] = "\(journalBatch)"
            } else {
                options.settings["in_flight"] = "\(inFlight)"
                options.inFlightPerThread = inFlight
            }
        }
        let made = MadeEngines(journal: journalSettings)
        defer { made.closeJournals() }
        try failingWithOneLine("bench") {
            if let shard, let runID, let redis, let (index, count) = Self.parseShard(shard) {
                let quiet = workload.quiet
                let rendezvous = try RedisRendezvous(
                    url: redis, runID: runID, shard: index, of: count, workload: options.workloadFingerprint,
                    timeout: .milliseconds(Int64(shardTimeout * 1000))) { phase, missing in
                        guard !quiet else { return }
                        let names = missing.map { "\($0)/\(count)" }.joined(separator: ", ")
                        FileHandle.standardError.write(Data("bench: shard \(shard) of run \(runID) waits at \"\(phase)\" for shards \(names)\n".utf8))
                    }
                options.shard = (Shard(index: index, of: count, rendezvous: RedisShardRendezvous(base: rendezvous)), runID)
                options.settings["shard"] = shard
                options.settings["run_id"] = runID
                options.settings["workload"] = options.workloadFingerprint
            }
            if durable, let redis {   // refuse at once, with the reason, what could only time out later
                let bare = try RedisEngine(url: redis, recoveryTimeout: redisSettings.recoveryTimeout).mastersWithoutReplicas()
                if !bare.isEmpty {
                    throw ValidationError("""
                        --durable needs a replica for every master (WAIT 1), and \(bare.map(\.description).joined(separator: ", ")) has none: start \
                        replicas (scripts/redis-cluster.sh start PORT DIR 1) or drop --durable
                        """)
                }
            }
            let reports = try BenchSession.run(options, engines: engines.map { choice in
                { try made.make(choice, redis: redisSettings) }
            })
            try made.checkRecovery(quiet: workload.quiet)
            for recovery in made.redis.flatMap(\.recoveries) {
                FileHandle.standardError.write(Data("bench: failover: \(recovery) [failed at \(recovery.failedAtMilliseconds) ms]\n".utf8))
            }
            if reports.contains(where: { !$0.verdict.passed }) { throw ExitCode(2) }
        }
    }
}


/// The engines `--engine` can name: the in-process ones (`EngineKind`), Redis, and the null engine.
enum EngineChoice: ExpressibleByArgument, Equatable {
    case inProcess(EngineKind)
    case journaled
    case redis
    case null

    static let all: [EngineChoice] = EngineKind.allCases.map(EngineChoice.inProcess) + [.journaled, .redis, .null]
    static var allValueStrings: [String] { all.map(\.name) }

    init?(argument: String) {
        guard let choice = Self.all.first(where: { $0.name == argument }) else { return nil }
        self = choice
    }

    var name: String {
        switch self {
        case .inProcess(let kind): kind.rawValue
        case .journaled: "journaled"
        case .redis: "redis"
        case .null: "null"
        }
    }

}

extension BenchCommand {
    /// `K/N` → (K - 1, N), or nil unless 1 ≤ K ≤ N ≤ 64.
    static func parseShard(_ text: String) -> (index: Int, count: Int)? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), (1 ... 64).contains(n), (1 ... n).contains(k)
        else { return nil }
        return (k - 1, n)
    }
}

/// The shards of a `bench` run meet in Redis.
struct RedisShardRendezvous: ShardRendezvous {
    let base: RedisRendezvous

    func exchange(sent: [(index: Int, id: PacketID)], packets: Int) throws -> [PacketID] {
        try base.exchange(sent: sent, packets: packets)
    }

    func arrive(at phase: String) throws { try base.arrive(at: phase) }
}

/// The Redis engine's settings, from the options.
struct RedisSettings {
    var url: String?
    var batch: Int
    var durability: Durability
    var recoveryTimeout: Duration
}

/// The journaled engine's settings, from the options.
struct JournalSettings {
    var path: String
    /// A file of bench's own, removed after the run.
    var temporary: Bool
    var durability: JournalDurability
    var compactAfter: Int
    /// Grabs a call (1: one grab per async call).
    var batch: Int
}

/// `--journal-mode`.
enum JournalMode: String, CaseIterable, ExpressibleByArgument {
    case durable, buffered
}

/// Makes the session's engines and keeps what the command asks of them after the run, as it made them: the Redis
/// engines, to report the failovers they rode through; the journaled engine, to reopen its journal and check that
/// recovery gives back the state it served.
final class MadeEngines: @unchecked Sendable {   // used from the session's one thread
    private(set) var redis: [RedisEngine] = []
    private var journaled: JournaledEngine?
    private let journal: JournalSettings

    init(journal: JournalSettings) { self.journal = journal }

    /// The engine `choice` names, as the driver calls it.
    /// - Throws: `RedisEngineError` when the Redis server cannot be reached, `JournalError` when the journal cannot
    ///   be created.
    func make(_ choice: EngineChoice, redis settings: RedisSettings) throws -> DrivenEngine {
        switch choice {
        case .inProcess(let kind):
            if let engine = kind.makeNonBlocking() { return .synchronous(engine) } else { return .asynchronous(kind.make()) }
        case .journaled:
            let engine = try JournaledEngine(journal: GroupCommitJournal.sqlite(
                path: journal.path, durability: journal.durability, compactAfter: journal.compactAfter))
            journaled = engine
            return journal.batch > 1 ? .batched(engine, size: journal.batch) : .asynchronous(engine)
        case .redis:   // validate() required --redis
            let engine = try RedisEngine(url: settings.url!, durability: settings.durability, recoveryTimeout: settings.recoveryTimeout)
            redis.append(engine)
            return .batched(engine, size: settings.batch)
        case .null:
            return .synchronous(NullEngine())
        }
    }

    /// Closes the journaled engine, reopens its journal and compares the state recovered with the state it served
    /// (every packet: amounts, winners in seq order, refunds); prints the journal's figures and the recovery's.
    /// - Throws: `ExitCode(2)` if the states differ.
    func checkRecovery(quiet: Bool) throws {
        guard let engine = journaled else { return }
        let served = engine.heldImages()
        let figures = (engine.journal as? GroupCommitJournal)?.statistics
        engine.close()
        journaled = nil
        let start = ContinuousClock.now
        let reopened = try JournaledEngine(journal: GroupCommitJournal.sqlite(path: journal.path, durability: journal.durability,
                                                                           compactAfter: journal.compactAfter))
        let recovery = ContinuousClock.now - start
        defer { reopened.close() }
        let recovered = reopened.heldImages()
        let seconds = Double(recovery.nanosecondsSaturated) / 1e9
        if !quiet, let figures {
            let perCommit = figures.commits > 0 ? figures.entries / figures.commits : 0
            print("""
                journal (\(journal.durability)): \(figures.entries.formatted()) entries in \(figures.commits.formatted()) group commits \
                (\(perCommit.formatted()) a commit on average, \(figures.largestCommit.formatted()) at most), \(figures.snapshots) snapshots
                """)
            print("""
                recovery: \(reopened.recoveredEntries.formatted()) entries replayed in \(String(format: "%.3f", seconds)) s \
                (\(Int(Double(reopened.recoveredEntries) / max(seconds, 1e-9)).formatted()) entries/s), \(recovered.count.formatted()) packets
                """)
        }
        guard served == recovered else {
            func describe(_ image: PacketImage) -> String {
                """
                    \(image.id): \(image.winners.count) of \(image.amounts.count) shares won, refund \
                    \(image.refund.map { "\($0.amount) at \($0.at)\($0.key.map { " key \($0)" } ?? "")" } ?? "none")
                    """
            }
            let differing = zip(served, recovered).first { $0 != $1 }.map { "served \(describe($0.0)); recovered \(describe($0.1))" }
                ?? "the packet counts (\(served.count) served, \(recovered.count) recovered)"
            FileHandle.standardError.write(Data("bench: FAIL: the journal recovered a state other than the one served: \(differing)\n".utf8))
            throw ExitCode(2)
        }
        if !quiet { print("recovery: the state recovered from the journal is the state served (\(served.count.formatted()) packets compared)") }
    }

    func closeJournals() {
        journaled?.close()
        guard journal.temporary else { return }
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: journal.path + suffix) }
    }
}
