import ArgumentParser
import Foundation
import HongbaoCore
import HongbaoRedis
import HongbaoSQLite
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

    @Option(name: .customLong("sweep-interval"), help: "Seconds between sweeps that refund in-process packets past their deadline (counted in /metrics).")
    var sweepInterval: Int64 = 1

    @Option(help: "Seconds an in-process packet is kept after its refund (its verdict for late callers) before its memory is reused.")
    var retention: Int64 = 24 * 3600

    @Option(help: "In process: journal every change to this SQLite file before answering, and recover from it on start (created if missing). Default: no journal (a restart loses every packet).")
    var journal: String?

    @Option(name: .customLong("journal-mode"), help: "With --journal: durable (answer after the fsync of a group commit: a crash loses nothing acknowledged) or buffered (answer at once, fsync every --sync-every ms: a crash can lose the last interval). Default: durable.")
    var journalMode: String = "durable"

    @Option(name: .customLong("sync-every"), help: "With --journal-mode buffered: milliseconds between fsyncs (default 1000).")
    var syncEvery: Int64 = 1000

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
        guard (1 ... 3600).contains(sweepInterval) else { throw ValidationError("--sweep-interval must be in 1 ... 3600 seconds, got \(sweepInterval)") }
        guard (0 ... 30 * 24 * 3600).contains(retention) else { throw ValidationError("--retention must be in 0 ... 2592000 seconds, got \(retention)") }
        if redis != nil && retention != 24 * 3600 { throw ValidationError("--retention is for the in-process engine; with --redis the Redis engine keeps its own") }
        if journal != nil && redis != nil { throw ValidationError("--journal is for the in-process engine; with --redis, Redis persists the packets") }
        guard ["durable", "buffered"].contains(journalMode) else { throw ValidationError("--journal-mode must be durable or buffered, got \(journalMode)") }
        guard (1 ... 60_000).contains(syncEvery) else { throw ValidationError("--sync-every must be in 1 ... 60000 ms, got \(syncEvery)") }
        if let redis {
            do { _ = try RedisAddress.seeds(from: redis) } catch let error as RedisEngineError { throw ValidationError("--redis: \(error.detail)") }
        }
    }

    func run() async throws {
        let engine: any AsyncGrabEngine
        var journaled: JournaledEngine?
        do {
            if let redis {
                engine = try RedisEngine(url: redis)
            } else if let journal {
                let durability: JournalDurability = journalMode == "durable" ? .durable : .buffered(every: .milliseconds(syncEvery))
                let start = ContinuousClock.now
                let opened = try JournaledEngine(journal: GroupCommitJournal.sqlite(path: journal, durability: durability),
                                                 retention: .seconds(retention))
                print("hongbao-service: journal \(journal) (\(durability)): recovered \(opened.packetsHeld) packets from \(opened.recoveredEntries) entries in \((ContinuousClock.now - start).formatted(.units(allowed: [.milliseconds])))")
                (engine, journaled) = (opened, opened)
            } else {
                engine = LockFreeEngine(retention: .seconds(retention))
            }
        } catch {
            // One line and exit 1: the Redis server cannot be reached, the journal is another process's, foreign,
            // newer, corrupt or on a disk that fails.
            FileHandle.standardError.write(Data("hongbao-service: error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        defer { journaled?.close() }
        let service = RedPacketService(engine: engine, shared: redis != nil, quota: MemberQuota(perMinute: memberQuota))
        let app = Application(router: service.router(), server: .http1(configuration: .init(idleTimeout: .seconds(idleTimeout))),
                              configuration: .init(address: .hostname(host, port: port), serverName: "hongbao-service"))
        let interval = Duration.seconds(sweepInterval)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await app.runService() }
            tasks.addTask {   // refunds what is past its deadline; ends with the service
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    await service.sweepDue()
                }
            }
            try await tasks.next()
            tasks.cancelAll()
        }
    }
}
