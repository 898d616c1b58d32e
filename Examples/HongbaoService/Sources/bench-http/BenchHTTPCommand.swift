import ArgumentParser
import Foundation
import HongbaoBench
import HongbaoCore
import HongbaoSimulator
import HTTPGrabEngine

/// `bench-http --http URL[,URL…]`: `bench`'s population, workload, schedule, latency ladder, SQLite rows and verdict,
/// against any service that speaks the red-packet API. The verdict compares what each caller was told with the
/// service's own `GET /packets/{id}` accounts: a service that oversells, pays twice, loses an acknowledged grant or
/// loses money fails — whoever wrote it.
@main
struct BenchHTTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-http",
        abstract: "Drive red-packet services over HTTP with bench's workload, and verify their accounts.")

    @Option(help: "The services: http://host:port, comma-separated; calls spread over them (by packet, unless they share packets through Redis).")
    var http: String

    @Option(help: "Requests in flight per worker thread (keep-alive connections, pooled per service: this × threads).")
    var connections = 32

    @Option(help: "Members in the population.")
    var members = 100_000

    @Option(help: "Packets sent.")
    var packets = 5_000

    @Option(help: "Worker threads (default: the number of cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Seed of the population, the workload and every split.")
    var seed: UInt64 = 2017

    @Option(help: "festival or hot.")
    var scenario: Workload.Scenario = .festival

    @Option(help: "Open loop: grabs per second (default: closed loop).")
    var rate: Double?

    @Option(help: "Stop starting grabs after this many seconds.")
    var duration: Double?

    @Option(help: "SQLite file the runs accumulate in.")
    var db = "hongbao.db"

    @Flag(help: "Print the summary as JSON on standard output.")
    var json = false

    @Flag(help: "No progress, no table.")
    var quiet = false

    var urls: [String] { http.split(separator: ",").map(String.init) }

    func validate() throws {
        guard !urls.isEmpty, urls.allSatisfy({ URL(string: $0)?.scheme == "http" && URL(string: $0)?.host != nil }) else {
            throw ValidationError("--http takes http://host:port URLs, comma-separated; got \"\(http)\"")
        }
        guard (1 ... 1024).contains(connections) else { throw ValidationError("--connections must be in 1 ... 1024, got \(connections)") }
        guard (3 ... 100_000_000).contains(members) else { throw ValidationError("--members must be in 3 ... 100,000,000, got \(members)") }
        guard (1 ... 50_000_000).contains(packets) else { throw ValidationError("--packets must be in 1 ... 50,000,000, got \(packets)") }
        guard (1 ... 256).contains(threads) else { throw ValidationError("--threads must be in 1 ... 256, got \(threads)") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number, got \(rate)") }
        if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration must be a positive number, got \(duration)") }
    }

    func run() async throws {
        let engine: HTTPGrabEngine
        do {
            engine = try await HTTPGrabEngine(urls: urls, connections: connections * threads)
        } catch {
            FileHandle.standardError.write(Data("bench-http: error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        var options = BenchOptions()
        (options.members, options.packets, options.threads, options.seed) = (members, packets, threads, seed)
        (options.scenario, options.rate, options.duration) = (scenario, rate, duration)
        (options.db, options.json, options.quiet, options.command) = (db, json, quiet, "bench-http")
        options.settings = ["http": http, "connections": "\(connections)", "shared": "\(engine.shared)"]
        options.inFlightPerThread = connections
        let session = options
        let passed: Bool
        do {
            // The session blocks its thread (it waits on its worker threads): run it off the cooperative pool.
            passed = try await withCheckedThrowingContinuation { continuation in
                Thread {
                    continuation.resume(with: Result {
                        try BenchSession.run(session, engines: [{ _ in .asynchronous(engine) }]).allSatisfy(\.verdict.passed)
                    })
                }.start()
            }
        } catch {
            FileHandle.standardError.write(Data("bench-http: error: \(error)\n".utf8))
            try? await engine.shutdown()
            throw ExitCode.failure
        }
        try? await engine.shutdown()
        if !passed { throw ExitCode(2) }
    }
}

extension Workload.Scenario: ExpressibleByArgument {}
