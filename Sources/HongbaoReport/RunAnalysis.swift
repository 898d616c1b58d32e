import Foundation
import HongbaoSQLite

/// Everything the report shows about one run, read from the results store.
public struct RunAnalysis: Sendable {
    /// The run's row.
    public let run: ResultStore.Run
    /// How many packets were refunded, and how much.
    public let refunds: ResultStore.Refunds
    /// (percentile, nanoseconds): wrk2's latency ladder.
    public let ladder: [(Double, Int64)]
    /// The share count of the packets compared by position, if any.
    public let comparedShares: Int?
    /// Fairness by grab position, per algorithm.
    public let positions: [ResultStore.PositionStatistics]

    /// Reads the run and checks every value it will show against what a run can hold: a results file is
    /// untrusted input (copied, merged, edited), and a value out of range must be one clear error, never a crash,
    /// a huge allocation or a chart that never ends.
    /// - Throws: `SQLiteError`, `ResultStoreError.noSuchRun`, or `ResultStoreError.implausible` naming the value.
    public init(run id: Int64, in store: ResultStore) throws {
        run = try store.runs([id])[0]
        refunds = try store.refunds(run: id)
        ladder = try store.latencyLadder(run: id)
        comparedShares = try store.comparableShareCount(run: id)
        let check = Plausibility(run: id, path: store.path)
        try check.count("members", run.members, upTo: Self.maxCount)
        try check.count("packets", run.packets, upTo: Self.maxCount)
        try check.count("threads", run.threads, upTo: 1 << 16)
        for (name, value) in [("attempts", run.attempts), ("grabs", run.grabs), ("sold_out", run.soldOut),
                              ("packets", refunds.packets), ("refunded packets", refunds.refunded)] {
            try check.count(name, value, upTo: Self.maxCount)
        }
        try check.rate("grabs_per_s", run.grabsPerSecond)
        try check.rate("attempts_per_s", run.attemptsPerSecond)
        for value in run.latency { try check.latency(value) }
        for (percentile, value) in ladder {
            guard percentile.isFinite, (0 ... 100).contains(percentile) else { throw check.failure("a latency percentile of \(percentile)") }
            try check.latency(value)
        }
        for (name, fen) in [("refund_fen", run.refund), ("refunds", refunds.refundFen), ("total_fen", refunds.totalFen)] {
            guard (0 ... Self.maxFen).contains(fen) else { throw check.failure("\(name) = \(fen) fen") }
        }
        if let shares = comparedShares, !(1 ... Self.maxChartedShares).contains(shares) {
            throw check.failure("packets of \(shares) shares")
        }
        positions = try comparedShares.map { try store.positionStatistics(run: id, shares: $0) } ?? []
        for row in positions {
            try check.count("a position's count", row.count, upTo: Self.maxCount)
            try check.count("a luckiest count", row.luckiest, upTo: Self.maxCount)
            guard (1 ... Self.maxChartedShares).contains(row.position) else { throw check.failure("grab position \(row.position)") }
            // share ÷ average share is at most the share count (one share takes it all) for any valid packet.
            for value in [row.mean, row.standardDeviation] where !(value.isFinite && (0 ... Double(comparedShares ?? 1)).contains(value)) {
                throw check.failure("a share of \(value) × the average share (a grab amount out of range)")
            }
        }
    }

    /// The most rows, members or packets a run can count.
    static let maxCount = 1 << 40
    /// The most fen a run can hold: what the engines' packed balance holds, times the most packets.
    static let maxFen: Int64 = 1 << 62
    /// The most shares the fairness charts draw one position each for.
    static let maxChartedShares = 10_000

    /// The checks of one run's values, each throwing one clear line.
    private struct Plausibility {
        let run: Int64
        let path: String
        func failure(_ what: String) -> ResultStoreError { .implausible("run \(run) holds \(what)", path: path) }
        func count(_ name: String, _ value: Int, upTo limit: Int) throws {
            guard (0 ... limit).contains(value) else { throw failure("\(name) = \(value)") }
        }
        func rate(_ name: String, _ value: Double) throws {
            guard value.isFinite, (0 ... 1e12).contains(value) else { throw failure("\(name) = \(value)") }
        }
        /// A latency: at most a day.
        func latency(_ nanoseconds: Int64) throws {
            guard (0 ... 86_400 * 1_000_000_000).contains(nanoseconds) else { throw failure("a latency of \(nanoseconds) ns") }
        }
    }

    /// Algorithms present in the position statistics, in a stable order.
    public var algorithms: [String] {
        var seen: [String] = []
        for row in positions where !seen.contains(row.algorithm) { seen.append(row.algorithm) }
        return seen
    }

    /// Packets of `algorithm` compared (those of position 1).
    public func packets(of algorithm: String) -> Int {
        positions.first { $0.algorithm == algorithm && $0.position == 1 }?.count ?? 0
    }
}

extension RunAnalysis {
    /// Of `analyses` (in run order): the latest run of each engine that was audited, in run order — what a reader
    /// of `bench`'s default run (lock-free, mutex, actor, then the null engine) wants detailed. Runs never audited
    /// (the null engine's) only when there is nothing else; an incomplete run counts as the latest of its engine.
    public static func latestAuditedOfEachEngine(_ analyses: [RunAnalysis]) -> [RunAnalysis] {
        let audited = analyses.filter { !$0.run.verdict.hasPrefix("not audited") }
        let candidates = audited.isEmpty ? analyses : audited
        var latest: [String: RunAnalysis] = [:]
        for analysis in candidates { latest[analysis.run.engine] = analysis }
        return latest.values.sorted { $0.run.id < $1.run.id }
    }
}
