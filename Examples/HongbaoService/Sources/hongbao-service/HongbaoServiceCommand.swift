import ArgumentParser
import HongbaoCore
import HongbaoRedis
import Hummingbird
import RedPacketService

/// `hongbao-service --port 8080 [--redis URL]`: the red-packet API on the lock-free engine, or on Redis so that
/// several processes serve the same packets.
@main
struct HongbaoServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hongbao-service",
        abstract: "A red-packet HTTP service: POST /packets, POST /packets/{id}/grab, POST /packets/{id}/expire, GET /packets/{id}, GET /health, GET /metrics.")

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(help: "Redis server or cluster seeds (redis://…): several services then share their packets. Default: in process, lock-free.")
    var redis: String?

    @Option(help: "Packets the in-process engine can hold over the service's life.")
    var capacity = 1 << 22

    func validate() throws {
        guard (1 ... 65535).contains(port) else { throw ValidationError("--port must be in 1 ... 65535, got \(port)") }
        guard capacity >= 1 else { throw ValidationError("--capacity must be at least 1, got \(capacity)") }
        if let redis {
            do { _ = try RedisAddress.seeds(from: redis) } catch let error as RedisEngineError { throw ValidationError("--redis: \(error.detail)") }
        }
    }

    func run() async throws {
        let engine: any AsyncGrabEngine
        do {
            engine = try redis.map { try RedisEngine(url: $0) } ?? LockFreeEngine(capacity: capacity)
        } catch {
            throw ValidationError("\(error)")
        }
        let service = RedPacketService(engine: engine, shared: redis != nil)
        let app = Application(router: service.router(), configuration: .init(address: .hostname(host, port: port),
                                                                                serverName: "hongbao-service"))
        try await app.runService()
    }
}
