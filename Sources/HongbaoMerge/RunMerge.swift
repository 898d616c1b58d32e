import Foundation
import Histogram
import HongbaoCore
import HongbaoFigures
import HongbaoSQLite

/// The runs of N load generators (`bench --shard K/N --run-id ID`, one SQLite file each) merged into one run with
/// one verdict: rows copied, latency histograms added (percentiles do not add), the shards' verdict counts added,
/// and the invariants checked again over the merged rows, across shards.
public struct RunMerge: Sendable {
    /// The merged run's id in the output file.
    public let runID: Int64
    /// The run id the shards shared.
    public let group: String
    /// The shards' runs, by shard.
    public let shards: [ResultStore.ShardRun]
    /// Grab attempts of every shard.
    public let attempts: Int
    /// Grants told to the callers of every shard.
    public let grabs: Int
    /// From the first shard's grab start to the last shard's grab end.
    public let seconds: Double
    /// Latency figures of the added histograms.
    public let latency: LatencyFigures
    /// The shards' verdicts, added.
    public let verdict: Verdict
    /// Violations only the merged rows show (a record stored by no shard or by two, money off across shards).
    public let crossShardViolations: [String]

    /// Attempts per second over the span of all shards' grab phases.
    public var attemptsPerSecond: Double { Double(attempts) / max(seconds, 1e-9) }
    /// True when the added verdict passes and the merged rows show no violation.
    public var passed: Bool { verdict.passed && crossShardViolations.isEmpty }

    /// Merges the latest shard run of each input file into a new run of the file at `output`.
    /// - Throws: `MergeError` when the inputs are not the N shards of one run, `SQLiteError`, `ResultStoreError`.
    public static func merge(_ inputs: [String], into output: String) throws -> RunMerge {
        let runs = try inputs.map { path in
            guard let run = try ResultStore(readingFrom: path).latestShardRun() else {
                throw MergeError("""
                    \(path) has no complete shard run (written by `bench --shard K/N --run-id ID`; a file that `hongbao merge` wrote holds merged \
                    runs, which are not merged again)
                    """)
            }
            return (path, run)
        }
        let first = runs[0].1
        if let other = runs.first(where: { $0.1.group != first.group }) {
            throw MergeError("\(other.0) is of run \(other.1.group), \(runs[0].0) of run \(first.group): merge the shards of one run")
        }
        if let other = runs.first(where: { $0.1.shardCount != first.shardCount }) {
            throw MergeError("\(other.0) is a shard of \(other.1.shardCount), \(runs[0].0) of \(first.shardCount)")
        }
        let workloads = try runs.map { path, run in
            guard let settings = try? JSONDecoder().decode([String: String].self, from: Data(run.start.configJSON.utf8)),
                  let workload = settings["workload"]
            else { throw MergeError("""
                \(path): shard \(run.shard + 1)/\(run.shardCount) of run \(run.group) does not say its workload options (written before they were \
                recorded?)
                """) }
            return workload
        }
        if let index = workloads.firstIndex(where: { $0 != workloads[0] }) {
            throw MergeError("\(runs[index].0) ran other workload options (\(workloads[index])) than \(runs[0].0) (\(workloads[0])): not one run")
        }
        let shards = Set(runs.map(\.1.shard))
        guard shards.count == runs.count else { throw MergeError("two inputs are the same shard of run \(first.group)") }
        guard runs.count == first.shardCount else {
            let missing = (0 ..< first.shardCount).filter { !shards.contains($0) }.map { "\($0 + 1)/\(first.shardCount)" }
            throw MergeError("run \(first.group) has \(first.shardCount) shards; missing \(missing.joined(separator: ", "))")
        }

        var histogram: Histogram<UInt64>?
        var verdict = Verdict()
        let decoder = JSONDecoder()
        for (path, run) in runs {
            do {
                let part = try decoder.decode(Histogram<UInt64>.self, from: Data(run.histogramJSON.utf8))
                if histogram == nil { histogram = part } else { histogram!.add(part) }
                verdict.add(try decoder.decode(Verdict.self, from: Data(run.verdictJSON.utf8)))
            } catch {
                throw MergeError("\(path): run \(run.id) has an unreadable histogram or verdict (\(error))")
            }
        }
        let latency = LatencyFigures(histogram!)
        let attempts = runs.reduce(0) { $0 + $1.1.attempts }, grabs = runs.reduce(0) { $0 + $1.1.grabs }
        let begin = runs.map(\.1.grabWallMilliseconds.lowerBound).min()!, end = runs.map(\.1.grabWallMilliseconds.upperBound).max()!
        let seconds = Double(end - begin) / 1000

        let store = try ResultStore(path: output)
        guard try !store.hasMergedRun(of: first.group) else {
            throw MergeError("\(output) holds a merged run of \(first.group) already: merge into a new file")
        }
        var start = first.start
        start.engine += " ×\(first.shardCount) shards"
        start.shard = "merged \(first.shardCount)"
        start.startedAt = Date().formatted(.iso8601)
        let runID = try store.beginRun(start)
        for (path, run) in runs { try store.copyRows(of: run.id, from: path, into: runID) }
        try store.createIndexes()   // before the checks: they look up each packet's grabs
        let violations = try store.crossShardViolations(run: runID)
        let failures = ([verdict.passed ? nil : verdict.summary] + violations).compactMap { $0 }
        let summary = failures.isEmpty ? "pass" : failures.joined(separator: "; ")
        let encoder = JSONEncoder()
        try store.finishRun(runID, RunResults(
            seconds: seconds, attempts: attempts, grabs: grabs, soldOut: runs.reduce(0) { $0 + $1.1.soldOut },
            late: runs.reduce(0) { $0 + $1.1.late }, grabsPerSecond: Double(grabs) / max(seconds, 1e-9),
            attemptsPerSecond: Double(attempts) / max(seconds, 1e-9), p50: latency.p50, p90: latency.p90, p99: latency.p99,
            p999: latency.p999, max: latency.max, refund: verdict.refundFen, verdict: summary,
            ladder: latency.ladder.map { ($0.percentile, $0.nanoseconds) }, grabWallMilliseconds: begin ... end,
            histogramJSON: String(decoding: try encoder.encode(histogram!), as: UTF8.self),
            verdictJSON: String(decoding: try encoder.encode(verdict), as: UTF8.self)))
        return RunMerge(runID: runID, group: first.group, shards: runs.map(\.1).sorted { $0.shard < $1.shard },
                        attempts: attempts, grabs: grabs, seconds: seconds, latency: latency, verdict: verdict,
                        crossShardViolations: violations)
    }
}

/// Inputs that cannot be merged: one line saying why.
public struct MergeError: Error, CustomStringConvertible {
    /// The one line.
    public let description: String
    /// The one line.
    public init(_ description: String) { self.description = description }
}
