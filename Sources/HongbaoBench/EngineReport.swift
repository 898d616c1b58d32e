import Foundation
import HongbaoCore
import HongbaoFigures
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
    let latency: LatencyFigures
    /// The grab phase's latency histogram, JSON-encoded (stored, so that shards' runs can be merged).
    let histogramJSON: String
    let grabWallMilliseconds: ClosedRange<Int64>
    /// The correctness verdict (not audited for the null engine).
    public let verdict: Verdict
    let recordSeconds: Double
    let insertSeconds: Double
    let rowsWritten: Int

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
        latency = LatencyFigures(measurement.histogram)
        histogramJSON = (try? String(decoding: JSONEncoder().encode(measurement.histogram), as: UTF8.self)) ?? ""
        grabWallMilliseconds = measurement.grabWallMilliseconds
        self.verdict = verdict
        self.recordSeconds = recordSeconds
        self.insertSeconds = insertSeconds
        self.rowsWritten = rowsWritten
    }

    var results: RunResults {
        RunResults(seconds: seconds, attempts: attempts, grabs: grabs, soldOut: soldOut, late: late,
                   grabsPerSecond: grabsPerSecond, attemptsPerSecond: attemptsPerSecond,
                   p50: latency.p50, p90: latency.p90, p99: latency.p99, p999: latency.p999, max: latency.max,
                   refund: verdict.refundFen, verdict: verdict.summary, ladder: latency.ladder.map { ($0.percentile, $0.nanoseconds) },
                   grabWallMilliseconds: grabWallMilliseconds, histogramJSON: histogramJSON,
                   verdictJSON: (try? String(decoding: JSONEncoder().encode(verdict), as: UTF8.self)))
    }

    enum CodingKeys: String, CodingKey {
        case engine, runID = "run_id", seconds, sendSeconds = "send_seconds", attempts, grabs, soldOut = "sold_out"
        case retries, expired, notMember = "not_member", late, grabsPerSecond = "grabs_per_s"
        case attemptsPerSecond = "attempts_per_s", latency = "latency_ns", verdict
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
            let latency = report.latency
            rows.append([report.engine, count(report.grabsPerSecond), count(report.attemptsPerSecond),
                         duration(latency.p50), duration(latency.p90), duration(latency.p99),
                         duration(latency.p999), duration(latency.max), report.soldOut.formatted(),
                         !report.verdict.audited ? "n/a" : report.verdict.passed ? "pass" : "FAIL"])
        }
        let table = Format.table(rows, rightAligned: 1 ..< header.count - 1).split(separator: "\n").map(String.init)
        lines.append(table[0])
        lines.append(String(repeating: "─", count: table[0].count))
        lines += table.dropFirst()
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

    static func count(_ value: Double) -> String { Format.count(value) }
    static func duration(_ nanoseconds: UInt64) -> String { Format.duration(Int64(clamping: nanoseconds)) }
    static func fen(_ value: Int64) -> String { Format.fen(value) }
}
