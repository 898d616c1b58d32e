import Foundation
import HongbaoCore
@testable import HongbaoRedis
import HongbaoTestSupport
import Testing

/// Failures of the backend are reported plainly: never a crash, never a hang, never money lost.
@Suite("Redis faults", .serialized)
struct RedisFaultTests {
    @Test func connectionRefusedIsOneClearError() {
        #expect {
            _ = try RedisEngine(url: "redis://127.0.0.1:1")
        } throws: { error in
            (error as? RedisEngineError)?.code == .connectionRefused && "\(error)".hasPrefix("Redis connection refused: ")
        }
    }

    @Test(.enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL"))
    func aWrongPasswordIsOneClearError() throws {
        let url = RedisTestServer.url!.replacingOccurrences(of: "redis://", with: "redis://:not-the-password@")
        #expect {
            _ = try RedisEngine(url: url)
        } throws: { error in
            (error as? RedisEngineError)?.code == .authenticationFailed && "\(error)".hasPrefix("Redis authentication failed: ")
        }
    }

    /// redis-server killed mid-run: the engine reports a clear error and does not hang; restarted with its AOF,
    /// a retried grab returns the same share and every packet balances.
    /// The time limit is the guard against a hang (the engine gives up after its reconnects, within seconds).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server"), "no redis-server"),
          .timeLimit(.minutes(1)))
    func aServerKilledMidRunAndRestartedFromItsAOF() throws {
        let server = try RedisTestServer.Owned()
        let engine = try RedisEngine(url: server.url)
        let group = Group(range: 1 ... 40)
        let packets = try (0 ..< 10).map { _ in try engine.send(try PacketSpec(total: 20_00, shares: 10), to: group, seed: 4) }
        var won: [GrabRequest: Fen] = [:]
        for packet in packets {
            for member in 1 ... UInt32(6) {
                won[GrabRequest(packet: packet, member: MemberID(member))] = try engine.grab(packet, for: MemberID(member)).share
            }
        }
        server.kill()
        #expect {
            _ = try engine.grab(packets[0], for: 7)
        } throws: { error in
            let code = (error as? RedisEngineError)?.code
            return code == .connectionLost || code == .connectionRefused
        }

        try server.start()
        for (request, share) in won {
            #expect(try engine.grab(request.packet, for: request.member) == .alreadyGrabbed(share), "the same share after restart")
        }
        for packet in packets {
            let summary = try engine.summary(of: packet)
            let refund = try engine.expire(packet).refund
            #expect(summary.paid + refund == summary.total, "shares paid + refund == total")
            let after = try engine.summary(of: packet)
            #expect(summary.grabs.count == 6 && PacketFindings(after).violations == [])
        }
    }
}

@Suite("Redis scripts and timeouts", .serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server"), "no redis-server"))
struct RedisScriptAndTimeoutTests {
    /// The server forgot its scripts (SCRIPT FLUSH, as after a restart without persistence): NOSCRIPT is answered
    /// by loading them again and retrying, transparently.
    @Test func noScriptIsHandledTransparently() throws {
        let server = try RedisTestServer.Owned()
        let engine = try RedisEngine(url: server.url)
        let packet = try engine.send(try PacketSpec(total: 500, shares: 5), to: Group(range: 1 ... 10), seed: 1)
        #expect(try engine.grab(packet, for: 1).share != nil)
        try RedisCLI.run(port: server.port, "SCRIPT", "FLUSH")
        #expect(try engine.grab(packet, for: 2).share != nil)
        #expect(try engine.expire(packet).refund == Fen(500) - (try engine.summary(of: packet).paid))
    }

    /// Durable mode on a server with no replica: nothing can be confirmed, so the call fails with one clear line
    /// once the recovery timeout has passed — it is never acknowledged as if it were safe.
    @Test func aDurableWriteThatNoReplicaConfirmsIsAnErrorNotAnAcknowledgement() throws {
        let server = try RedisTestServer.Owned()
        let engine = try RedisEngine(url: server.url, durability: .replicated, recoveryTimeout: .milliseconds(300))
        #expect(engine.durability == .replicated(replicas: 1))
        #expect {
            _ = try engine.send(try PacketSpec(total: 500, shares: 5), to: Group(range: 1 ... 10), seed: 1)
        } throws: { error in
            (error as? RedisEngineError)?.code == .notReplicated && "\(error)".contains("0 of 1 replicas confirmed the writes in time")
        }
    }

    /// A server that does not answer in time: one clear `.timeout`, then the engine recovers.
    @Test func aSlowServerIsATimeoutAndTheEngineRecovers() throws {
        let server = try RedisTestServer.Owned()
        let engine = try RedisEngine(url: server.url, commandTimeout: .milliseconds(300))
        let packet = try engine.send(try PacketSpec(total: 500, shares: 5), to: Group(range: 1 ... 10), seed: 1)
        try RedisCLI.run(port: server.port, "CLIENT", "PAUSE", "1500", "ALL")   // no command is served for 1.5 s
        #expect {
            _ = try engine.grab(packet, for: 1)
        } throws: { error in
            (error as? RedisEngineError)?.code == .timeout && "\(error)".contains("timed out")
        }
        try RedisCLI.run(port: server.port, "CLIENT", "UNPAUSE")
        #expect(try engine.grab(packet, for: 2).share != nil, "a fresh connection after the timeout")
        let summary = try engine.summary(of: packet)
        #expect(PacketFindings(summary).violations == [])
    }
}

@Suite("Redis injected faults", .serialized, .enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL"))
struct RedisInjectedFaultTests {
    /// A connection found lost before a call is sent (injected on the third call from now, on this engine's
    /// database only — other suites run meanwhile): the node reconnects and sends the call once; every caller gets
    /// its share, and the packet records each grab once.
    @Test func aConnectionLostBeforeACallIsReconnectedAndTheCallSentOnce() throws {
        let server = RedisTestServer.url!
        let engine = try RedisEngine(url: (server.wholeMatch(of: /.*\/\d+/) != nil ? String(server[..<server.lastIndex(of: "/")!]) : server) + "/11")
        #expect(engine.masters.map(\.database) == [11])
        let packet = try engine.send(try PacketSpec(total: 900, shares: 9), to: Group(range: 1 ... 9), seed: 3)
        RedisFaults.loseConnection(onCall: 3, to: engine.masters[0])
        let outcomes = try (1 ... UInt32(6)).map { try engine.grab(packet, for: MemberID($0)) }
        #expect(!RedisFaults.connectionLossPending, "the loss was injected into one of this engine's calls")
        #expect(outcomes.allSatisfy { if case .granted = $0 { true } else { false } })
        let observed = outcomes.enumerated().map { ObservedGrab(packet: packet, member: MemberID(UInt32($0.offset + 1)), outcome: $0.element) }
        #expect(PacketFindings(try engine.summary(of: packet), observed: observed, answersKnown: { _ in true }).violations == [])
    }
}

/// redis-cli, for the tests that poke a server behind the engine's back.
enum RedisCLI {
    static func run(port: Int, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-h", "127.0.0.1", "-p", "\(port)"] + arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
    }
}
