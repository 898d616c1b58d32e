import HongbaoFigures
/// The report as plain text for a terminal.
public enum TextReport {
    /// Several runs side by side, one row each.
    public static func comparison(_ analyses: [RunAnalysis]) -> String {
        var rows = [["run", "engine", "algorithm", "grabs/s", "attempts/s", "p50", "p99", "p99.9", "max", "refunded", "verdict"]]
        for analysis in analyses {
            let run = analysis.run
            guard run.complete else {   // an unfinished run has no figures: none are shown rather than zeros
                rows.append(["\(run.id)", run.engine, run.algorithm] + Array(repeating: "—", count: 7) + ["INCOMPLETE"])
                continue
            }
            rows.append(["\(run.id)", run.engine, run.algorithm, Format.count(run.grabsPerSecond),
                         Format.count(run.attemptsPerSecond), Format.duration(run.latency[0]),
                         Format.duration(run.latency[2]), Format.duration(run.latency[3]), Format.duration(run.latency[4]),
                         Format.fen(analysis.refunds.refundFen), run.verdict])
        }
        return Format.table(rows, rightAligned: 3 ..< 10)
    }

    /// One run in detail: throughput, latency, refunds, fairness by grab position and the luckiest position.
    public static func detail(_ analysis: RunAnalysis) -> String {
        let run = analysis.run
        var lines: [String] = []
        lines.append("Run \(run.id): \(run.engine), \(run.algorithm) packets, seed \(run.seed), started \(run.startedAt)"
            + (run.complete ? "" : " — INCOMPLETE (killed or failed before it finished)"))
        lines.append("""
              workload    \(run.scenario): \(Format.grouped(Int64(run.members))) members, \(Format.grouped(Int64(run.packets))) packets, \
            \(run.threads) threads
            """)
        guard run.complete else {
            lines.append("  no throughput or latency: the run did not finish, and what it stored is partial")
            return lines.joined(separator: "\n")
        }
        lines.append("  throughput  \(Format.count(run.grabsPerSecond)) grabs/s, \(Format.count(run.attemptsPerSecond)) attempts/s"
            + """
                 (\(Format.grouped(Int64(run.grabs))) grabs of \(Format.grouped(Int64(run.attempts))) attempts, \
                \(Format.grouped(Int64(run.soldOut))) sold out)
                """)
        lines.append("  latency     " + zip(["p50", "p90", "p99", "p99.9", "max"], run.latency)
            .map { "\($0) \(Format.duration($1))" }.joined(separator: "  "))
        if !analysis.ladder.isEmpty {
            let rungs = analysis.ladder.map { "\(Format.fixed($0.0, $0.0 >= 99.99 ? 3 : 1))% \(Format.duration($0.1))" }
            lines.append("  ladder      " + rungs.joined(separator: ", "))
        }
        let refunds = analysis.refunds
        lines.append("  refunds     \(Format.grouped(Int64(refunds.refunded))) of \(Format.grouped(Int64(refunds.packets))) packets,"
            + " \(Format.fen(refunds.refundFen)) of \(Format.fen(refunds.totalFen)) sent")
        lines.append("  verdict     \(run.verdict)")
        guard let shares = analysis.comparedShares else {
            lines.append("  fairness    no fully grabbed lucky packet of 3 or more shares to compare")
            return lines.joined(separator: "\n")
        }
        lines.append("")
        lines.append("Fairness by grab position: fully grabbed lucky packets of \(shares) shares; share ÷ average share")
        lines.append("(mean ± standard deviation), and how often the luckiest share fell at that position.")
        for algorithm in analysis.algorithms {
            let rows = analysis.positions.filter { $0.algorithm == algorithm }
            let packets = analysis.packets(of: algorithm)
            lines.append("")
            lines.append("  \(algorithm) (\(Format.grouped(Int64(packets))) packets)")
            var table = [["position", "mean", "sd", "luckiest", ""]]
            let widest = rows.map(\.luckiest).max() ?? 1
            for row in rows {
                table.append(["\(row.position)", Format.fixed(row.mean, 3), Format.fixed(row.standardDeviation, 3),
                              Format.percent(row.luckiest, of: packets),
                              String(repeating: "▇", count: widest == 0 ? 0 : row.luckiest * 30 / widest)])
            }
            lines.append(contentsOf: Format.table(table, rightAligned: 0 ..< 4).split(separator: "\n").map { "    " + $0 })
        }
        return lines.joined(separator: "\n")
    }
}
