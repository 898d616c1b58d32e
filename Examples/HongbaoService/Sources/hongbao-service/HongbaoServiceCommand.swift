import ArgumentParser
import Foundation
import HongbaoCommandLine
import HongbaoCore
import HongbaoRedis
import HongbaoSQLite
import Hummingbird
import Logging
import RedPacketAPI
import RedPacketService
import ServiceLifecycle

/// `hongbao-service --port 8080 [--redis URL]`: the red-packet API on the lock-free engine, or on Redis so that
/// several processes serve the same packets. Callers present HS256 bearer tokens signed with the environment's
/// `HONGBAO_JWT_SECRET`; `--insecure-dev` runs without. SIGTERM or SIGINT stops accepting, lets the requests in
/// flight finish, closes the engine and exits 0.
@main
struct HongbaoServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hongbao-service",
        abstract: """
            A red-packet HTTP service: POST /packets, POST /packets/{id}/grab, POST /packets/{id}/expire, GET /packets/{id}, GET /health, GET \
            /metrics.
            """,
        discussion: """
            Callers authenticate with `Authorization: Bearer <token>`: an HS256 JWT signed with the secret in the \
            environment variable HONGBAO_JWT_SECRET (at least 32 bytes), whose sub is the member id in decimal, with \
            exp, and "role": "operator" for operators. Without the variable the service refuses to start, unless \
            --insecure-dev says to run without tokens.
            """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(help: "Redis server or cluster seeds (redis://…): several services then share their packets. Default: in process, lock-free.")
    var redis: String?

    @Option(name: .customLong("sweep-interval"), help:
        "Seconds between sweeps that refund in-process packets past their deadline (counted in /metrics).")
    var sweepInterval: Int64 = 1

    @Option(help: "Seconds an in-process packet is kept after its refund (its verdict for late callers) before its memory is reused.")
    var retention: Int64 = 24 * 3600

    @Option(help: """
        In process: journal every change to this SQLite file before answering, and recover from it on start (created if missing). Default: no \
        journal (a restart loses every packet).
        """)
    var journal: String?

    @Option(name: .customLong("journal-mode"), help: """
        With --journal: durable (answer after the fsync of a group commit: a crash loses nothing acknowledged) or buffered (answer at once, fsync \
        every --sync-every ms: a crash can lose the last interval). Default: durable.
        """)
    var journalMode: String = "durable"

    @Option(name: .customLong("sync-every"), help: "With --journal-mode buffered: milliseconds between fsyncs.")
    var syncEvery: Int64 = 1000

    @Option(name: .customLong("member-quota"), help:
        "Group members one caller (its token's member; its address under --insecure-dev) may make the service store per minute (0: no limit).")
    var memberQuota: Int64 = RedPacketService.defaultMembersPerMinute

    @Flag(name: .customLong("insecure-dev"), help:
        "INSECURE: no tokens; any client may grab for any member, expire any packet and read every account. For classrooms and local tries only.")
    var insecureDev = false

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may send nothing (mid-request or between requests) before it is closed.")
    var idleTimeout: Int64 = 30

    func validate() throws {
        guard (0 ... MemberQuota.maxPerMinute).contains(memberQuota) else {
            throw ValidationError("--member-quota must be in 0 ... \(MemberQuota.maxPerMinute), got \(memberQuota)")
        }
        guard (1 ... 3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be in 1 ... 3600 seconds, got \(idleTimeout)") }
        guard (1 ... 65535).contains(port) else { throw ValidationError("--port must be in 1 ... 65535, got \(port)") }
        guard (1 ... 3600).contains(sweepInterval) else {
            throw ValidationError("--sweep-interval must be in 1 ... 3600 seconds, got \(sweepInterval)")
        }
        guard (0 ... 30 * 24 * 3600).contains(retention) else {
            throw ValidationError("--retention must be in 0 ... 2592000 seconds, got \(retention)")
        }
        if redis != nil && retention != 24 * 3600 {
            throw ValidationError("--retention is for the in-process engine; with --redis the Redis engine keeps its own")
        }
        if journal != nil && redis != nil {
            throw ValidationError("--journal is for the in-process engine; with --redis, Redis persists the packets")
        }
        guard ["durable", "buffered"].contains(journalMode) else {
            throw ValidationError("--journal-mode must be durable or buffered, got \(journalMode)")
        }
        guard (1 ... 60_000).contains(syncEvery) else { throw ValidationError("--sync-every must be in 1 ... 60000 ms, got \(syncEvery)") }
        if let redis {
            do { _ = try RedisAddress.seeds(from: redis) } catch let error as RedisEngineError { throw ValidationError("--redis: \(error.detail)") }
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "hongbao-service")
        logger.logLevel = .info
        // One line and exit 1: the Redis server cannot be reached, the journal is another process's, foreign, newer,
        // corrupt or on a disk that fails.
        let (engine, journaled, authentication) = try await failingWithOneLine("hongbao-service") {
            () async throws -> (any AsyncGrabEngine, JournaledEngine?, Authentication) in
            let engine: any AsyncGrabEngine
            var journaled: JournaledEngine?
            let authentication: Authentication
            switch (try await TokenKeys.fromEnvironment(), insecureDev) {
            case (let keys?, false): authentication = .tokens(keys)
            case (nil, true): authentication = .insecureDevelopment
            case (_?, true): throw APIError("--insecure-dev and \(TokenKeys.environmentVariable) together: choose one")
            case (nil, false):
                throw APIError("""
                    set \(TokenKeys.environmentVariable) (the HS256 secret of the callers' tokens, e.g. `export \
                    \(TokenKeys.environmentVariable)=$(openssl rand -hex 32)`), or pass --insecure-dev to run without tokens
                    """)
            }
            if let redis {
                engine = try RedisEngine(url: redis)
            } else if let journal {
                let durability: JournalDurability = journalMode == "durable" ? .durable : .buffered(every: .milliseconds(syncEvery))
                let start = ContinuousClock.now
                let opened = try JournaledEngine(journal: GroupCommitJournal.sqlite(path: journal, durability: durability),
                                                 retention: .seconds(retention))
                logger.info("journal recovered", metadata: [
                    "journal": "\(journal)", "durability": "\(durability)", "packets": "\(opened.packetsHeld)",
                    "entries": "\(opened.recoveredEntries)",
                    "took": "\(ContinuousClock.now - start)",
                ])
                (engine, journaled) = (opened, opened)
            } else {
                engine = LockFreeEngine(retention: .seconds(retention))
            }
            return (engine, journaled, authentication)
        }
        if case .insecureDevelopment = authentication {
            logger.warning("INSECURE: --insecure-dev: no tokens; any client may grab for any member, expire any packet and read every account")
        }
        let service = RedPacketService(engine: engine, shared: redis != nil, authentication: authentication,
                                       quota: MemberQuota(perMinute: memberQuota))
        let app = Application(router: service.router(), server: .http1(configuration: .init(idleTimeout: .seconds(idleTimeout))),
                              configuration: .init(address: .hostname(host, port: port), serverName: "hongbao-service"),
                              logger: logger)
        // Shut down in reverse order: the server stops accepting and drains its requests, then the sweeper stops.
        let services: [any Service] = [DueSweeper(service: service, interval: .seconds(sweepInterval)), app]
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        logger.info("serving", metadata: ["address": "\(host):\(port)", "engine": "\(engine.name)",
                                          "tokens": "\(insecureDev ? "none (--insecure-dev)" : "HS256")"])
        do {
            try await group.run()
        } catch {
            logger.error("stopped on a failure", metadata: ["error": "\(error)"])
            journaled?.close()
            throw ExitCode.failure
        }
        journaled?.close()   // writes what is pending and unlocks the file (a Redis engine closes its connections when released)
        logger.info("stopped", metadata: ["reason": "signal: requests in flight drained, engine closed"])
    }
}

/// Refunds the in-process packets past their deadline every `interval`, until a graceful shutdown.
struct DueSweeper: Service {
    let service: RedPacketService
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            guard (try? await cancelWhenGracefulShutdown({ [interval] in try await Task.sleep(for: interval) })) != nil else { return }
            await service.sweepDue()
        }
    }
}
