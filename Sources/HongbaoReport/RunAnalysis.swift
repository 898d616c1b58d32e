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

    /// - Throws: `SQLiteError` or `ResultStoreError.noSuchRun`.
    public init(run id: Int64, in store: ResultStore) throws {
        run = try store.runs([id])[0]
        refunds = try store.refunds(run: id)
        ladder = try store.latencyLadder(run: id)
        comparedShares = try store.comparableShareCount(run: id)
        positions = try comparedShares.map { try store.positionStatistics(run: id, shares: $0) } ?? []
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

/// Formatting shared by the text and HTML reports and `bench`'s table: the one place figures become text.
package enum Format {
    /// Nanoseconds as ns, µs, ms or s, three significant figures or so.
    package static func duration(_ nanoseconds: Int64) -> String {
        switch nanoseconds {
        case ..<1_000: "\(nanoseconds) ns"
        case ..<1_000_000: fixed(Double(nanoseconds) / 1e3, 1) + " µs"
        case ..<1_000_000_000: fixed(Double(nanoseconds) / 1e6, 1) + " ms"
        default: fixed(Double(nanoseconds) / 1e9, 2) + " s"
        }
    }

    /// A count, rounded, with thousands separators.
    package static func count(_ value: Double) -> String { grouped(Int64(value.rounded())) }

    /// An integer with thousands separators.
    package static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// Fen as yuan: ¥1,234.05.
    package static func fen(_ value: Int64) -> String {
        "¥" + grouped(value / 100) + "." + (value % 100 < 10 ? "0" : "") + String(value % 100)
    }

    /// A number with `places` decimals.
    package static func fixed(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }

    static func percent(_ part: Int, of whole: Int) -> String {
        whole == 0 ? "–" : fixed(100 * Double(part) / Double(whole), 1) + "%"
    }
}
