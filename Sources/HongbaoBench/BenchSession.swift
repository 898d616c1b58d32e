import Foundation
import HongbaoCore
import HongbaoSimulator
import HongbaoSQLite

/// What a `bench` run is: the population, the workload, the driver's schedule and where results go. The
/// executables (`bench`, and the HTTP load generator of the example service) fill it from their options.
public struct BenchOptions: Sendable {
    /// Members in the population.
    public var members = 1_000_000
    /// Packets sent.
    public var packets = 100_000
    /// Worker threads.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Seed of the population, the workload and every split.
    public var seed: UInt64 = 2017
    /// The split of every lucky packet; nil for WeChat's mix.
    public var algorithm: SplitAlgorithm?
    /// Festival night, or hot packets only.
    public var scenario: Workload.Scenario = .festival
    /// Open loop: grabs per second; nil for the closed loop.
    public var rate: Double?
    /// Stop starting grabs after this many seconds.
    public var duration: Double?
    /// The SQLite file runs accumulate in.
    public var db = "hongbao.db"
    /// Print the summary as JSON.
    public var json = false
    /// No progress, no table.
    public var quiet = false
    /// Settings of the engines to store with each run (`config_json`); never a secret (redact URLs first).
    public var settings: [String: String] = [:]
    /// The executable's name, for its messages.
    public var command = "bench"
    /// Grabs in flight at once per worker thread, for async engines (a remote service).
    public var inFlightPerThread = 1
    /// This process's part of a run of several load generators, and the run id they share; nil for a run of one.
    public var shard: (shard: Shard, runID: String)?
    /// A file to write what this process's callers were told, for a check independent of the audit: a line
    /// `s PACKET TOTAL` per packet sent, `g PACKET MEMBER AMOUNT` per grant (granted or already grabbed), and
    /// `r PACKET REFUND` per refund the audit's expiry answered (ids and fen in decimal).
    public var toldPath: String?

    /// The defaults of `bench`.
    public init() {}

    /// Every option the shards of one run must share, as one line: the workload's (members, packets, seed,
    /// scenario, algorithm, rate, duration) and the engine's settings, less where each shard runs and meets the
    /// others (`shard`, `run_id`, the Redis address). Shards compare it before they send (`RedisRendezvous`) and
    /// `hongbao merge` compares it again.
    public var workloadFingerprint: String {
        var parts = ["members=\(members)", "packets=\(packets)", "seed=\(seed)", "scenario=\(scenario.rawValue)",
                     "algorithm=\(algorithm?.rawValue ?? "mixed")", "rate=\(rate.map { "\($0)" } ?? "closed")",
                     "duration=\(duration.map { "\($0)" } ?? "all")"]
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) where !["shard", "run_id", "redis", "workload"].contains(name) {
            parts.append("\(name)=\(value)")
        }
        return parts.joined(separator: " ")
    }
}

/// One `bench` session: builds the population and the workload once, runs them against each engine in turn on
/// the same seed, audits and stores each run, and prints the table (or JSON).
public enum BenchSession {
    /// Runs every engine that `engines` makes (called once each, after the workload is built).
    /// - Returns: the reports; a failed verdict is in its report, not thrown.
    /// - Throws: the first failure of the store, the workload's engines or the audit.
    public static func run(_ options: BenchOptions,
                           engines: [() throws -> DrivenEngine]) throws -> [EngineReport]
    {
        let progress = ProgressReporter(quiet: options.quiet)
        if isDebugBuild && !options.quiet {
            FileHandle.standardError.write(Data("""
                \(options.command): this is a debug build: its figures are several times slower than release. For \
                measurements build with `-c release` (`swift run -c release \(options.command)`).\n
                """.utf8))
        }
        let store = try ResultStore(path: options.db)   // fails early on an unwritable or corrupt file
        try store.dropIndexes()

        let clock = ContinuousClock()
        var population: Population!
        let populationTime = clock.measure { population = Population(members: options.members, seed: options.seed) }
        progress.note(
            "population: \(options.members.formatted()) members in \(population.groupCount.formatted()) groups (\(seconds(populationTime)))")
        var workload: Workload!
        let workloadTime = clock.measure {
            workload = Workload(population: population, packets: options.packets, seed: options.seed,
                                algorithm: options.algorithm, scenario: options.scenario)
        }
        progress.note(
            "workload: \(options.packets.formatted()) packets, \(workload.attempts.count.formatted()) grab attempts (\(seconds(workloadTime)))")
        if let (shard, runID) = options.shard {
            workload = workload.part(of: shard)
            progress.note("""
                shard \(shard) of run \(runID): sends \((0 ..< options.packets).filter(shard.sends).count.formatted()) packets, runs \
                \(workload.attempts.count.formatted()) attempts
                """)
        }

        var driver = Driver(threads: options.threads, schedule: options.rate.map { .open(perSecond: $0) } ?? .closed,
                            timeLimit: options.duration.map { .milliseconds(Int64($0 * 1000)) })
        driver.inFlight = options.inFlightPerThread
        var reports: [EngineReport] = []
        for make in engines {
            let target = try make()
            let name = target.blocking.name
            let runID = try store.beginRun(RunStart(
                startedAt: Date().formatted(.iso8601), engine: name, algorithm: options.algorithm?.rawValue ?? "mixed",
                seed: options.seed, members: options.members, packets: options.packets, threads: options.threads,
                rate: options.rate, durationLimit: options.duration, configJSON: configJSON(options, engine: name),
                group: options.shard?.runID, shard: options.shard.map { "\($0.shard)" }))
            let measurement = try driver.run(workload, on: target, shard: options.shard?.shard) { phase, done, total in
                progress.update("\(name): \(phase)", done: done, total: total)
            }
            reports.append(try record(measurement, of: workload, target: target, shard: options.shard?.shard, runID: runID,
                                      store: store, progress: progress, toldPath: options.toldPath))
        }
        progress.finishLine()
        progress.note("indexes: creating")
        try store.createIndexes()

        if options.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let summary = BenchSummary(build: isDebugBuild ? "debug" : "release", db: options.db, seed: options.seed,
                                       members: options.members, packets: options.packets, threads: options.threads,
                                       attempts: workload.attempts.count, runs: reports)
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else if !options.quiet {
            print(ReportTable.render(reports, workload: workload, rate: options.rate, db: options.db))
        }
        return reports
    }

    /// Expires and checks every packet, stores packets and grabs (on the store's writer thread, overlapping the
    /// checks), and finishes the run's row. An engine that keeps no records (`keepsRecords`: the null engine) is not audited.
    /// A shard stores the rows of the packets it sent and of its own members' grabs, so the shards' files add up
    /// to the whole run (`hongbao merge`).
    static func record(_ measurement: RunMeasurement, of workload: Workload, target: DrivenEngine, shard: Shard?,
                       runID: Int64, store: ResultStore, progress: ProgressReporter, toldPath: String? = nil) throws -> EngineReport
    {
        let engine = target.blocking
        guard engine.keepsRecords else {
            let report = EngineReport(engine: engine.name, runID: runID, measurement: measurement,
                                      verdict: Verdict(audited: false), recordSeconds: 0, insertSeconds: 0, rowsWritten: 0)
            try store.finishRun(runID, report.results)
            return report
        }
        let load = try store.backgroundLoad(run: runID)
        let recordStart = ContinuousClock.now
        var packetRows: [PacketRow] = [], grabRows: [GrabRow] = []
        var told = ""
        let verdict = try Audit.run(workload, measurement, on: target, shard: shard, progress: { done, total in
            progress.update("\(engine.name): verify + record", done: done, total: total)
        }, settled: { waited in
            progress.finishLine()
            progress.note("\(engine.name): the store settled after \(seconds(waited)); every packet read again for the verdict")
        }) { account in
            if toldPath != nil, account.owned { told += "r \(account.id.rawValue) \(account.refund.rawValue)\n" }
            if account.owned {
                packetRows.append(PacketRow(account.summary, spec: account.packet.spec, group: account.packet.group,
                                            sender: account.packet.sender, refund: account.refund))
            }
            for (record, latency) in zip(account.summary.grabs, account.latencies) where shard?.grabs(for: record.member) ?? true {
                grabRows.append(GrabRow(record, of: account.id, latencyNanoseconds: latency))
            }
            if grabRows.count >= 50_000 {
                try load.append(packets: packetRows, grabs: grabRows)
                packetRows.removeAll(keepingCapacity: true)
                grabRows.removeAll(keepingCapacity: true)
            }
        }
        try load.append(packets: packetRows, grabs: grabRows)
        if let toldPath { try writeTold(told, measurement, of: workload, shard: shard, to: toldPath) }
        let (rows, insertSeconds) = try load.finish()
        let recordTime = ContinuousClock.now - recordStart
        let report = EngineReport(engine: engine.name, runID: runID, measurement: measurement, verdict: verdict,
                                  recordSeconds: recordTime / .seconds(1), insertSeconds: insertSeconds, rowsWritten: rows)
        try store.finishRun(runID, report.results)
        return report
    }

    /// Writes what the callers were told (`BenchOptions.toldPath`): the sends and grants from the measurement,
    /// after the refunds the audit collected.
    static func writeTold(_ refunds: String, _ measurement: RunMeasurement, of workload: Workload, shard: Shard?, to path: String) throws {
        var text = refunds
        for (index, packet) in workload.packets.enumerated() where shard?.sends(packet: index) ?? true {
            text += "s \(measurement.packetIDs[index].rawValue) \(packet.spec.total.rawValue)\n"
        }
        for (attempt, grab) in workload.attempts.enumerated() {
            guard let share = measurement.outcome(of: attempt)?.share else { continue }
            text += "g \(measurement.packetIDs[Int(grab.packet)].rawValue) \(grab.member.rawValue) \(share.rawValue)\n"
        }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot write --told \(path): \(error.localizedDescription)"])
        }
    }

    static func configJSON(_ options: BenchOptions, engine: String) -> String {
        var config: [String: String] = [
            "engine": engine, "members": "\(options.members)", "packets": "\(options.packets)",
            "threads": "\(options.threads)", "seed": "\(options.seed)", "algorithm": options.algorithm?.rawValue ?? "mixed",
            "scenario": options.scenario.rawValue, "rate": options.rate.map { "\($0)" } ?? "closed",
            "duration": options.duration.map { "\($0)" } ?? "none", "db": options.db,
        ]
        config.merge(options.settings) { _, setting in setting }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? String(decoding: encoder.encode(config), as: UTF8.self)) ?? "{}"
    }

    /// Whether this is a debug build (its figures are several times slower than release).
    public static var isDebugBuild: Bool {
        #if DEBUG
        true
        #else
        false
        #endif
    }

    static func seconds(_ duration: Duration) -> String { String(format: "%.2f s", duration / .seconds(1)) }
}
