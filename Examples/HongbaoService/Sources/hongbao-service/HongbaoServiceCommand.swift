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

    @Option(name: .customLong("member-quota"), help: "Group members one client address may make the service store per minute (0: no limit).")
    var memberQuota: Int64 = RedPacketService.defaultMembersPerMinute

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may send nothing (mid-request or between requests) before it is closed.")
    var idleTimeout: Int64 = 30

    func validate() throws {
        guard (0 ... MemberQuota.maxPerMinute).contains(memberQuota) else {
            throw ValidationError("--member-quota must be in 0 ... \(MemberQuota.maxPerMinute), got \(memberQuota)")
        }
        guard (1 ... 3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be in 1 ... 3600 seconds, got \(idleTimeout)") }
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
        let service = RedPacketService(engine: engine, shared: redis != nil, quota: MemberQuota(perMinute: memberQuota))
        let app = Application(router: service.router(), server: .http1(configuration: .init(idleTimeout: .seconds(idleTimeout))),
                              configuration: .init(address: .hostname(host, port: port), serverName: "hongbao-service"))
        try await app.runService()
    }
}
