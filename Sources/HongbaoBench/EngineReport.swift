import Foundation
import HongbaoSimulator
import HongbaoSQLite

/// One engine's run, as printed, stored and encoded as JSON.
public struct EngineReport: Encodable, Sendable {
    /// The engine's name.
    public let engine: String
    let runID: Int64
    let seconds: Double
    let sendSeconds: Double
    let attempts: Int
    let grabs: Int
    let soldOut: Int
    let retries: Int
    let expired: Int
    let notMember: Int
    let late: Int
    let grabsPerSecond: Double
    let attemptsPerSecond: Double
    let latencyNanoseconds: [String: UInt64]
    let ladder: [Double: UInt64]
    /// The correctness verdict (not audited for the null engine).
    public let verdict: Verdict
    let recordSeconds: Double
    let insertSeconds: Double
    let rowsWritten: Int

    static let percentiles: [(String, Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)]
    static let ladderPercentiles = [50, 75, 90, 99, 99.9, 99.99, 99.999, 100]

    init(engine: String, runID: Int64, measurement: RunMeasurement, verdict: Verdict, recordSeconds: Double,
         insertSeconds: Double, rowsWritten: Int)
    {
        self.engine = engine
        self.runID = runID
        seconds = measurement.grabTime / .seconds(1)
        sendSeconds = measurement.sendTime / .seconds(1)
        attempts = measurement.attemptsRun
        grabs = measurement.count(.granted)
        soldOut = measurement.count(.soldOut)
        retries = measurement.count(.alreadyGrabbed)
        expired = measurement.count(.expired)
        notMember = measurement.count(.notMember)
        late = measurement.late
        grabsPerSecond = Double(grabs) / max(seconds, 1e-9)
        attemptsPerSecond = Double(attempts) / max(seconds, 1e-9)
        let histogram = measurement.histogram
        var latency: [String: UInt64] = [:]
        for (name, percentile) in Self.percentiles { latency[name] = histogram.valueAtPercentile(percentile) }
        latency["max"] = histogram.max
        latencyNanoseconds = latency
        ladder = Dictionary(uniqueKeysWithValues: Self.ladderPercentiles.map {
            ($0, $0 == 100 ? histogram.max : histogram.valueAtPercentile($0))
        })
        self.verdict = verdict
        self.recordSeconds = recordSeconds
        self.insertSeconds = insertSeconds
        self.rowsWritten = rowsWritten
    }

    var results: RunResults {
        RunResults(seconds: seconds, attempts: attempts, grabs: grabs, soldOut: soldOut, late: late,
                   grabsPerSecond: grabsPerSecond, attemptsPerSecond: attemptsPerSecond,
                   p50: latencyNanoseconds["p50"]!, p90: latencyNanoseconds["p90"]!, p99: latencyNanoseconds["p99"]!,
                   p999: latencyNanoseconds["p99.9"]!, max: latencyNanoseconds["max"]!, refund: verdict.refundFen,
                   verdict: verdict.summary, ladder: ladder.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    enum CodingKeys: String, CodingKey {
        case engine, runID = "run_id", seconds, sendSeconds = "send_seconds", attempts, grabs, soldOut = "sold_out"
        case retries, expired, notMember = "not_member", late, grabsPerSecond = "grabs_per_s"
        case attemptsPerSecond = "attempts_per_s", latencyNanoseconds = "latency_ns", verdict
        case recordSeconds = "record_seconds", insertSeconds = "insert_seconds", rowsWritten = "rows_written"
    }
}

/// The JSON document of `--json`.
struct BenchSummary: Encodable {
    /// "debug" or "release": debug figures are several times slower.
    let build: String
    let db: String
    let seed: UInt64
    let members: Int
    let packets: Int
    let threads: Int
    let attempts: Int
    let runs: [EngineReport]
}

/// The side-by-side table printed at the end.
enum ReportTable {
    static func render(_ reports: [EngineReport], workload: Workload, rate: Double?, db: String) -> String {
        var lines: [String] = []
        let header = ["engine", "grabs/s", "attempts/s", "p50", "p90", "p99", "p99.9", "max", "sold out", "verdict"]
        var rows = [header]
        for report in reports {
            let latency = report.latencyNanoseconds
            rows.append([report.engine, count(report.grabsPerSecond), count(report.attemptsPerSecond),
                         duration(latency["p50"]!), duration(latency["p90"]!), duration(latency["p99"]!),
                         duration(latency["p99.9"]!), duration(latency["max"]!), report.soldOut.formatted(),
                         !report.verdict.audited ? "n/a" : report.verdict.passed ? "pass" : "FAIL"])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max()! }
        for (index, row) in rows.enumerated() {
            lines.append(row.enumerated().map { column, cell in
                column == 0 || column == row.count - 1 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  "))
            if index == 0 { lines.append(String(repeating: "─", count: lines[0].count)) }
        }
        if let null = reports.first(where: { !$0.verdict.audited }), null.attemptsPerSecond > 0 {
            let ratios = reports.filter(\.verdict.audited).map {
                "\($0.engine) \(String(format: "%.2f", $0.attemptsPerSecond / null.attemptsPerSecond))×"
            }
            if !ratios.isEmpty { lines.append("attempts/s against the harness alone (null engine): " + ratios.joined(separator: ", ")) }
        }
        lines.append("")
        for report in reports {
            let verdict = report.verdict
            lines.append("\(report.engine): \(report.attempts.formatted()) attempts in \(String(format: "%.2f", report.seconds)) s"
                + " (packets sent in \(String(format: "%.2f", report.sendSeconds)) s); granted \(report.grabs.formatted()),"
                + " retries \(report.retries.formatted()), sold out \(report.soldOut.formatted()),"
                + " not members \(report.notMember.formatted())\(rate.map { _ in ", late \(report.late.formatted())" } ?? "")")
            guard verdict.audited else {
                lines.append("  not audited: it records nothing — its row is the harness's own ceiling")
                continue
            }
            lines.append("  money: \(fen(verdict.totalFen)) sent = \(fen(verdict.paidFen)) paid + \(fen(verdict.refundFen)) refunded;"
                + " verdict: \(verdict.passed ? "pass — money conserved, nobody paid twice, no oversell, every share ≥ 1 fen" : verdict.summary)")
            lines.append("  stored: \(report.rowsWritten.formatted()) rows → \(db), run \(report.runID); SQLite inserts"
                + " \(count(Double(report.rowsWritten) / max(report.insertSeconds, 1e-9)))/s (\(String(format: "%.2f", report.insertSeconds)) s),"
                + " verify + record \(String(format: "%.2f", report.recordSeconds)) s (overlapped)")
            if let rate {
                lines.append("  rate: requested \(count(rate))/s, achieved \(count(report.attemptsPerSecond))/s")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func count(_ value: Double) -> String { Int(value.rounded()).formatted() }

    static func duration(_ nanoseconds: UInt64) -> String {
        switch nanoseconds {
        case ..<1_000: "\(nanoseconds) ns"
        case ..<1_000_000: String(format: "%.1f µs", Double(nanoseconds) / 1e3)
        case ..<1_000_000_000: String(format: "%.1f ms", Double(nanoseconds) / 1e6)
        default: String(format: "%.2f s", Double(nanoseconds) / 1e9)
        }
    }

    static func fen(_ value: Int64) -> String { "¥" + (value / 100).formatted() + String(format: ".%02d", value % 100) }
}
