import ArgumentParser
import Foundation
import HongbaoCommandLine
import HongbaoFigures
import HongbaoMerge
import HongbaoReport
import HongbaoSQLite

@main
struct HongbaoCommand: ParsableCommand {
    /// Bad input is one line on standard error and a non-zero exit (`--help` still prints the help).
    static func main() { runWithOneLineErrors(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "hongbao",
        abstract: "Hongbao tools.",
        subcommands: [Report.self, Merge.self, Journal.self])
}

/// `hongbao report [DB] [--run ID …] [--html FILE]`
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse the runs stored by `bench`: throughput, latency, refunds, fairness by grab position.",
        discussion: """
            Without --run: every run in the file side by side, then in detail the latest audited run of each engine \
            (the null engine's runs, never audited, only if nothing else was run). With --run: those runs in detail.
            """)

    @Argument(help: "The SQLite file `bench` wrote.")
    var database = "hongbao.db"

    @Option(name: .customLong("run"), parsing: .upToNextOption, help: "Runs to show (ids); several are compared.")
    var runs: [Int64] = []

    @Option(help: "Also write a self-contained HTML page with charts to this file.")
    var html: String?

    func validate() throws {
        if let bad = runs.first(where: { $0 < 1 }) { throw ValidationError("--run takes run ids ≥ 1, got \(bad)") }
    }

    func run() throws {
        // A file that is missing, foreign, damaged or implausible: each one line `hongbao report: error: …`, exit 1
        // (usage errors are ArgumentParser's: `hongbao: error: …`, exit 64).
        try failingWithOneLine("hongbao report") {
            guard FileManager.default.fileExists(atPath: database) else {
                throw ReportError("no database at \(database): run `swift run -c release bench --db \(database)` first")
            }
            let store = try ResultStore(readingFrom: database)   // changes nothing in the file
            let chosen = try runs.isEmpty ? store.runs().map(\.id) : runs
            guard !chosen.isEmpty else { throw ResultStoreError.noRuns(path: database) }
            let analyses = try chosen.map { try RunAnalysis(run: $0, in: store) }
            print(TextReport.comparison(analyses))
            for analysis in runs.isEmpty ? RunAnalysis.latestAuditedOfEachEngine(analyses) : analyses {
                print("")
                print(TextReport.detail(analysis))
            }
            if let html {
                do {
                    try HTMLReport.render(analyses, database: database).write(toFile: html, atomically: true, encoding: .utf8)
                } catch {
                    throw ReportError("cannot write \(html): \(error.localizedDescription)")
                }
                print("\nwrote \(html)")
            }
        }
    }
}

/// `hongbao merge OUT.db IN.db…`
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge the runs of the load generators of one run (`bench --shard K/N --run-id ID`) into one run with one verdict.",
        discussion: """
            Takes the latest shard run of each input, checks that they are the N shards of one run, and writes one run \
            to OUT: every packet and grab row, the latency histograms added (not the percentiles), the verdicts added, \
            and the invariants checked again across shards. Exits 2 if the merged verdict fails.
            """)

    @Argument(help: "The SQLite file to write the merged run to (created if needed).")
    var output: String

    @Argument(help: "The shards' SQLite files, one per shard.")
    var inputs: [String] = []

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give the shards' files: hongbao merge OUT.db IN.db…") }
        if inputs.contains(output) { throw ValidationError("\(output) is an input: write the merged run to a new file") }
    }

    func run() throws {
        let merged = try failingWithOneLine("hongbao merge") {
            if let missing = inputs.first(where: { !FileManager.default.fileExists(atPath: $0) }) {
                throw MergeError("no database at \(missing)")
            }
            return try RunMerge.merge(inputs, into: output)
        }
        for shard in merged.shards {
            print("shard \(shard.shard + 1)/\(shard.shardCount): \(shard.attempts.formatted()) attempts, \(shard.grabs.formatted()) grabs")
        }
        let latency = merged.latency
        let failures = ([merged.verdict.passed ? nil : merged.verdict.summary] + merged.crossShardViolations).compactMap { $0 }
        print("run \(merged.group), merged as run \(merged.runID) of \(output): \(merged.attempts.formatted()) attempts in "
            + "\(String(format: "%.2f", merged.seconds)) s = \(Format.count(merged.attemptsPerSecond)) attempts/s; "
            + """
                \(merged.grabs.formatted()) grabs (the shards' sum); p50 \(Format.duration(Int64(clamping: latency.p50))), p99 \
                \(Format.duration(Int64(clamping: latency.p99))), 
                """
            + "max \(Format.duration(Int64(clamping: latency.max)))")
        print("""
            money: \(Format.fen(merged.verdict.totalFen)) sent = \(Format.fen(merged.verdict.paidFen)) paid + \
            \(Format.fen(merged.verdict.refundFen)) refunded
            """)
        print("verdict: \(merged.passed ? "pass" : failures.joined(separator: "; "))")
        if !merged.passed { throw ExitCode(2) }
    }
}

struct ReportError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
