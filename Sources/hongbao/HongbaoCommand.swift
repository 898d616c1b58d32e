import ArgumentParser
import Foundation
import HongbaoCommandLine
import HongbaoReport
import HongbaoSQLite

@main
struct HongbaoCommand: ParsableCommand {
    /// Bad input is one line on standard error and a non-zero exit (`--help` still prints the help).
    static func main() { runWithOneLineErrors(Self.self) }

    static let configuration = CommandConfiguration(
        commandName: "hongbao",
        abstract: "Hongbao tools.",
        subcommands: [Report.self])
}

/// `hongbao report [DB] [--run ID …] [--html FILE]`
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse the runs stored by `bench`: throughput, latency, refunds, fairness by grab position.",
        discussion: "Without --run: every run in the file side by side, and the latest run in detail.")

    @Argument(help: "The SQLite file `bench` wrote.")
    var database = "hongbao.db"

    @Option(name: .customLong("run"), parsing: .upToNextOption, help: "Runs to show (ids); several are compared.")
    var runs: [Int64] = []

    @Option(help: "Also write a self-contained HTML page with charts to this file.")
    var html: String?

    func validate() throws {
        guard FileManager.default.fileExists(atPath: database) else {
            throw ValidationError("no database at \(database): run `swift run bench --db \(database)` first")
        }
        if let bad = runs.first(where: { $0 < 1 }) { throw ValidationError("--run takes run ids ≥ 1, got \(bad)") }
    }

    func run() throws {
        do {
            let store = try ResultStore(readingFrom: database)   // changes nothing in the file
            let chosen = try runs.isEmpty ? store.runs().map(\.id) : runs
            guard !chosen.isEmpty else { throw ResultStoreError.noRuns(path: database) }
            let analyses = try chosen.map { try RunAnalysis(run: $0, in: store) }
            print(TextReport.comparison(analyses))
            for analysis in runs.isEmpty ? [analyses.last!] : analyses {
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
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("hongbao report: error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

struct ReportError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
