import ArgumentParser
import Foundation
import HongbaoCommandLine
import HongbaoCore
import HongbaoRedis
import HongbaoSimulator
import HongbaoSQLite

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
            help: "Engines to run: \(EngineChoice.allCases.map(\.rawValue).joined(separator: ", ")). Default: lock-free mutex actor null, or redis with --redis.")
    var engineOption: [EngineChoice] = []

    @Option(help: "Members in the population.")
    var members = 1_000_000

    @Option(help: "Packets sent.")
    var packets = 100_000

    @Option(help: "Worker threads (default: the number of cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Seed of the population, the workload and every split.")
    var seed: UInt64 = 2017

    @Option(help: "Split algorithm of lucky packets: \(SplitAlgorithm.allCases.filter { $0 != .equal }.map(\.rawValue).joined(separator: ", ")). Default: a mix.")
    var algorithm: SplitAlgorithm?

    @Option(help: "The workload: festival (a festival night, the default) or hot (every thread on the same 100-share packets of 500-member groups at once).")
    var scenario: Workload.Scenario = .festival

    @Option(help: "Open loop: grabs per second, each due at start + i / rate (default: closed loop, as fast as possible).")
    var rate: Double?

    @Option(help: "Stop starting grabs after this many seconds.")
    var duration: Double?

    @Option(help: "Redis server for the redis engine: redis://[:password@]host:port[/db], or a cluster's seeds separated by commas.")
    var redis: String?

    @Option(help: "Grabs per Redis call (one script call per slot per batch); default 64. In-process engines grab one at a time.")
    var batch = 64

    @Option(help: "SQLite file the runs accumulate in.")
    var db = "hongbao.db"

    @Flag(help: "Print the summary as JSON on standard output.")
    var json = false

    @Flag(help: "No progress, no table.")
    var quiet = false

    func validate() throws {
        guard members >= Population.minGroupSize else { throw ValidationError("--members must be at least \(Population.minGroupSize), got \(members)") }
        guard members <= 100_000_000 else { throw ValidationError("--members must be at most 100,000,000, got \(members)") }
        guard packets >= 1 else { throw ValidationError("--packets must be at least 1, got \(packets)") }
        guard packets <= 50_000_000 else { throw ValidationError("--packets must be at most 50,000,000, got \(packets)") }
        guard (1 ... 256).contains(threads) else { throw ValidationError("--threads must be in 1 ... 256, got \(threads)") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number of grabs per second, got \(rate)") }
        if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration must be a positive number of seconds, got \(duration)") }
        if algorithm == .equal { throw ValidationError("--algorithm equal is the split of equal packets; pick one for lucky packets") }
        if engines.contains(.redis) && redis == nil { throw ValidationError("--engine redis needs --redis URL") }
        if let redis {
            do { _ = try RedisAddress.seeds(from: redis) } catch let error as RedisEngineError { throw ValidationError("--redis: \(error.detail)") }
        }
        guard (1 ... 4096).contains(batch) else { throw ValidationError("--batch must be in 1 ... 4096, got \(batch)") }
    }

    /// The engines to run: as given, else the in-process ones, or Redis when --redis is given.
    var engines: [EngineChoice] {
        if !engineOption.isEmpty { return engineOption }
        return redis == nil ? [.lockFree, .mutex, .actor, .null] : [.redis]
    }

    mutating func run() throws {
        do {
            try runBench()
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("bench: error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func runBench() throws {
        let progress = ProgressReporter(quiet: quiet)
        if Self.isDebugBuild && !quiet {
            FileHandle.standardError.write(Data("""
                bench: this is a debug build: its figures are several times slower than release. For measurements run \
                `swift run -c release bench` (or scripts/bench).\n
                """.utf8))
        }
        let store = try ResultStore(path: db)   // fails early on an unwritable or corrupt file
        try store.dropIndexes()

        let clock = ContinuousClock()
        var population: Population!
        let populationTime = clock.measure { population = Population(members: members, seed: seed) }
        progress.note("population: \(members.formatted()) members in \(population.groupCount.formatted()) groups (\(Self.seconds(populationTime)))")
        var workload: Workload!
        let workloadTime = clock.measure {
            workload = Workload(population: population, packets: packets, seed: seed, algorithm: algorithm, scenario: scenario)
        }
        progress.note("workload: \(packets.formatted()) packets, \(workload.attempts.count.formatted()) grab attempts (\(Self.seconds(workloadTime)))")

        let driver = Driver(threads: threads, schedule: rate.map { .open(perSecond: $0) } ?? .closed,
                            timeLimit: duration.map { .milliseconds(Int64($0 * 1000)) })
        var reports: [EngineReport] = []
        for choice in engines {
            let target = try choice.make(capacity: packets, redis: redis, batch: batch, seed: seed)
            let engine = target.blocking
            let runID = try store.beginRun(RunStart(
                startedAt: Date().formatted(.iso8601), engine: engine.name, algorithm: algorithm?.rawValue ?? "mixed",
                seed: seed, members: members, packets: packets, threads: threads, rate: rate, durationLimit: duration,
                configJSON: configJSON(engine: engine.name)))
            let measurement = try driver.run(workload, on: target) { phase, done, total in
                progress.update("\(engine.name): \(phase)", done: done, total: total)
            }
            let report = try record(measurement, of: workload, target: target, runID: runID, store: store, progress: progress)
            reports.append(report)
        }
        progress.finishLine()
        progress.note("indexes: creating")
        try store.createIndexes()

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let summary = BenchSummary(build: Self.isDebugBuild ? "debug" : "release", db: db, seed: seed, members: members, packets: packets, threads: threads,
                                       attempts: workload.attempts.count, runs: reports)
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else if !quiet {
            print(ReportTable.render(reports, workload: workload, rate: rate, db: db))
        }
        if reports.contains(where: { !$0.verdict.passed }) { throw ExitCode(2) }
    }

    /// Expires and checks every packet, stores packets and grabs (on the store's writer thread, overlapping the
    /// checks), and finishes the run's row.
    private func record(_ measurement: RunMeasurement, of workload: Workload, target: EngineUnderTest, runID: Int64,
                        store: ResultStore, progress: ProgressReporter) throws -> EngineReport
    {
        let engine = target.blocking
        let load = try store.backgroundLoad(run: runID)
        let recordStart = ContinuousClock.now
        var packetRows: [PacketRow] = [], grabRows: [GrabRow] = []
        guard !(engine is NullEngine) else {   // it keeps no records: nothing to check or store
            let report = EngineReport(engine: engine.name, runID: runID, measurement: measurement,
                                      verdict: Verdict(audited: false), recordSeconds: 0, insertSeconds: 0, rowsWritten: 0)
            try store.finishRun(runID, report.results)
            return report
        }
        let verdict = try Audit.run(workload, measurement, on: target, progress: { done, total in
            progress.update("\(engine.name): verify + record", done: done, total: total)
        }) { account in
            let spec = account.packet.spec
            packetRows.append(PacketRow(
                packet: account.id.rawValue, group: account.packet.group, sender: account.packet.sender.rawValue,
                kind: spec.kind.name, algorithm: spec.algorithm.rawValue, total: spec.total.rawValue, shares: spec.shares,
                grabbedShares: account.summary.grabs.count, refund: account.refund.rawValue,
                luckiest: account.summary.luckiest?.member.rawValue))
            for (record, latency) in zip(account.summary.grabs, account.latencies) {
                grabRows.append(GrabRow(packet: account.id.rawValue, seq: record.seq, member: record.member.rawValue,
                                        amount: record.amount.rawValue, latencyNanoseconds: latency))
            }
            if grabRows.count >= 50_000 {
                try load.append(packets: packetRows, grabs: grabRows)
                packetRows.removeAll(keepingCapacity: true)
                grabRows.removeAll(keepingCapacity: true)
            }
        }
        try load.append(packets: packetRows, grabs: grabRows)
        let (rows, insertSeconds) = try load.finish()
        let recordTime = ContinuousClock.now - recordStart
        let report = EngineReport(engine: engine.name, runID: runID, measurement: measurement, verdict: verdict,
                                  recordSeconds: recordTime / .seconds(1), insertSeconds: insertSeconds, rowsWritten: rows)
        try store.finishRun(runID, report.results)
        return report
    }

    private func configJSON(engine: String) -> String {
        let config: [String: String] = [
            "engine": engine, "members": "\(members)", "packets": "\(packets)", "threads": "\(threads)",
            "seed": "\(seed)", "algorithm": algorithm?.rawValue ?? "mixed", "rate": rate.map { "\($0)" } ?? "closed",
            "duration": duration.map { "\($0)" } ?? "none", "db": db, "redis": redis.map(RedisAddress.redacted) ?? "none", "batch": "\(batch)",
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? String(decoding: encoder.encode(config), as: UTF8.self)) ?? "{}"
    }

    static var isDebugBuild: Bool {
        #if DEBUG
        true
        #else
        false
        #endif
    }

    static func seconds(_ duration: Duration) -> String { String(format: "%.2f s", duration / .seconds(1)) }
}

extension SplitAlgorithm: ExpressibleByArgument {}
extension Workload.Scenario: ExpressibleByArgument {}

/// The engines `--engine` can name.
enum EngineChoice: String, CaseIterable, ExpressibleByArgument {
    case lockFree = "lock-free"
    case mutex
    case actor
    case racy
    case redis
    case null

    /// - Throws: `RedisEngineError` when the Redis server cannot be reached.
    func make(capacity: Int, redis url: String?, batch: Int, seed: UInt64) throws -> EngineUnderTest {
        switch self {
        case .lockFree: .synchronous(LockFreeEngine(capacity: capacity))
        case .mutex: .synchronous(MutexEngine(capacity: capacity))
        case .actor: .asynchronous(ActorEngine())
        case .racy: .synchronous(UnsafeRacyEngine(capacity: capacity))
        case .redis: .batched(try RedisEngine(url: url!, seed: seed), size: batch)   // validate() required --redis
        case .null: .synchronous(NullEngine())
        }
    }
}
