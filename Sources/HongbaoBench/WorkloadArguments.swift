import ArgumentParser
import Foundation
import HongbaoCore
import HongbaoSimulator

/// The options every load generator shares (`bench`, and `bench-http` of the example service): the population,
/// the workload, the schedule and where the results go. Used as an `@OptionGroup`. Their defaults are
/// `BenchOptions`' (the one place they are set); `--help` shows them.
public struct WorkloadArguments: ParsableArguments {
    private static let defaults = BenchOptions()

    /// `--members`.
    @Option(help: "Members in the population.")
    public var members = WorkloadArguments.defaults.members

    /// `--packets`.
    @Option(help: "Packets sent.")
    public var packets = WorkloadArguments.defaults.packets

    /// `--threads`.
    @Option(help: "Worker threads (default: the number of cores).")
    public var threads = WorkloadArguments.defaults.threads

    /// `--seed`.
    @Option(help: "Seed of the population, the workload and every split.")
    public var seed: UInt64 = WorkloadArguments.defaults.seed

    /// `--algorithm`; nil for WeChat's mix.
    @Option(help: """
        Split algorithm of lucky packets: \(SplitAlgorithm.allCases.filter { $0 != .equal }.map(\.rawValue).joined(separator: ", ")). Default: a \
        mix.
        """)
    public var algorithm: SplitAlgorithm?

    /// `--scenario`.
    @Option(help:
        "The workload: festival (a festival night, the default) or hot (every thread on the same 100-share packets of 500-member groups at once).")
    public var scenario: Workload.Scenario = WorkloadArguments.defaults.scenario

    /// `--rate`; nil for the closed loop.
    @Option(help: "Open loop: grabs per second, each due at start + i / rate (default: closed loop, as fast as possible).")
    public var rate: Double?

    /// `--duration`.
    @Option(help: "Stop starting grabs after this many seconds.")
    public var duration: Double?

    /// `--db`.
    @Option(help: "SQLite file the runs accumulate in.")
    public var db = WorkloadArguments.defaults.db

    /// `--json`.
    @Flag(help: "Print the summary as JSON on standard output.")
    public var json = false

    /// `--quiet`.
    @Flag(help: "No progress, no table.")
    public var quiet = false

    /// The defaults (ArgumentParser fills the options).
    public init() {}

    public func validate() throws {
        guard members >= Population.minGroupSize else { throw ValidationError(
            "--members must be at least \(Population.minGroupSize), got \(members)") }
        guard members <= 100_000_000 else { throw ValidationError("--members must be at most 100,000,000, got \(members)") }
        guard packets >= 1 else { throw ValidationError("--packets must be at least 1, got \(packets)") }
        guard packets <= 50_000_000 else { throw ValidationError("--packets must be at most 50,000,000, got \(packets)") }
        guard (1 ... 256).contains(threads) else { throw ValidationError("--threads must be in 1 ... 256, got \(threads)") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number of grabs per second, got \(rate)") }
        if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError(
            "--duration must be a positive number of seconds, got \(duration)") }
        if algorithm == .equal { throw ValidationError("--algorithm equal is the split of equal packets; pick one for lucky packets") }
    }

    /// The session these options describe, for the executable named `command`.
    public func options(command: String) -> BenchOptions {
        var options = BenchOptions()
        (options.members, options.packets, options.threads, options.seed) = (members, packets, threads, seed)
        (options.algorithm, options.scenario, options.rate, options.duration) = (algorithm, scenario, rate, duration)
        (options.db, options.json, options.quiet, options.command) = (db, json, quiet, command)
        return options
    }
}

extension SplitAlgorithm: ExpressibleByArgument {}
extension Workload.Scenario: ExpressibleByArgument {}
