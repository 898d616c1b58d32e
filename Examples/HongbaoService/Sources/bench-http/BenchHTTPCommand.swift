import ArgumentParser
import Foundation
import HongbaoBench
import HongbaoCommandLine
import HongbaoCore
import HongbaoSimulator
import HTTPGrabEngine
import RedPacketAPI

/// `bench-http --http URL[,URL…]`: `bench`'s population, workload, schedule, latency ladder, SQLite rows and verdict,
/// against any service that speaks the red-packet API. The verdict compares what each caller was told with the
/// service's own `GET /packets/{id}` accounts: a service that oversells, pays twice, loses an acknowledged grant or
/// loses money fails — whoever wrote it. With `HONGBAO_JWT_SECRET` in the environment it signs each caller's bearer
/// token with it, as `hongbao-service` expects; without, it sends none (a service run with `--insecure-dev`).
@main
struct BenchHTTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-http",
        abstract: "Drive red-packet services over HTTP with bench's workload, and verify their accounts.")

    @Option(help: "The services: http://host:port, comma-separated; calls spread over them (by packet, unless they share packets through Redis).")
    var http: String

    @Option(help: "Requests in flight per worker thread, and keep-alive connections per worker thread to each service (this × threads per service).")
    var connections = 32

    @OptionGroup var workload: WorkloadArguments

    var urls: [String] { http.split(separator: ",").map(String.init) }

    func validate() throws {
        guard !urls.isEmpty, urls.allSatisfy({ URL(string: $0)?.scheme == "http" && URL(string: $0)?.host != nil }) else {
            throw ValidationError("--http takes http://host:port URLs, comma-separated; got \"\(http)\"")
        }
        guard (1 ... 1024).contains(connections) else { throw ValidationError("--connections must be in 1 ... 1024, got \(connections)") }
    }

    func run() async throws {
        let engine = try await failingWithOneLine("bench-http") {
            try await HTTPGrabEngine(urls: urls, loops: workload.threads, connectionsPerLoop: connections,
                                     tokens: try await TokenKeys.fromEnvironment())
        }
        var options = workload.options(command: "bench-http")
        options.settings = ["http": http, "connections": "\(connections)", "shared": "\(engine.shared)"]
        options.inFlightPerThread = connections
        let session = options
        let passed: Bool
        do {
            // The session blocks its thread (it waits on its worker threads): run it off the cooperative pool.
            passed = try await failingWithOneLine("bench-http") {
                try await withCheckedThrowingContinuation { continuation in
                    Thread {
                        continuation.resume(with: Result {
                            try BenchSession.run(session, engines: [{ .asynchronous(engine) }]).allSatisfy(\.verdict.passed)
                        })
                    }.start()
                }
            }
        } catch {
            try? await engine.shutdown()
            throw error
        }
        try? await engine.shutdown()
        if !passed { throw ExitCode(2) }
    }
}
