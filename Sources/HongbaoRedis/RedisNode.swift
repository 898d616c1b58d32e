import Foundation
import HongbaoCore
import Synchronization

/// A connection to one server with what the engine needs around it: reconnection with backoff, and the
/// scripts' SHA1s. Not thread-safe: `@unchecked Sendable` because `RedisNodePool` hands it to one thread at a
/// time, through its lock.
final class RedisNode: @unchecked Sendable {
    let address: RedisAddress
    private var connection: RedisConnection?
    private(set) var scripts: [String: String] = [:]   // source → sha1

    static let reconnectAttempts = 4
    static let firstBackoff = Duration.milliseconds(50)

    init(_ address: RedisAddress) throws {
        self.address = address
        connection = try RedisConnection(address)
    }

    /// Runs a pipeline; on a lost connection, reconnects (backing off 50, 100, 200, 400 ms) and runs it again —
    /// safe for Hongbao's commands, which are idempotent (a repeated grab returns the same share, though as
    /// "already grabbed"). A NOSCRIPT reply (the server restarted, or flushed its scripts) loads the scripts again
    /// and sends again only the calls that did not run.
    func pipeline(_ commands: [RedisCommand]) throws -> [RedisReply] {
        var backoff = Self.firstBackoff
        var attempt = 0
        while true {
            do {
                let connection = try connected()
                var replies = try connection.pipeline(commands)
                let missing = replies.indices.filter { if case .error(let message) = replies[$0] { message.hasPrefix("NOSCRIPT") } else { false } }
                if !missing.isEmpty {   // only those calls did not run: load the scripts and send just them again
                    scripts.removeAll()
                    try loadScripts(on: connection)
                    for (index, reply) in zip(missing, try connection.pipeline(missing.map { commands[$0] })) { replies[index] = reply }
                }
                return replies
            } catch let error as RedisEngineError where error.code == .connectionLost || error.code == .connectionRefused {
                connection = nil
                attempt += 1
                guard attempt <= Self.reconnectAttempts else {
                    throw RedisEngineError(error.code, "\(error.detail) (gave up after \(Self.reconnectAttempts) reconnects)")
                }
                Thread.sleep(forTimeInterval: backoff / .seconds(1))
                backoff *= 2
            }
        }
    }

    func command(_ command: RedisCommand) throws -> RedisReply { try pipeline([command])[0] }

    /// Runs a pipeline on the connection that ran the previous one, never a new one (WAIT asks about the
    /// connection's own writes). - Throws: `.connectionLost` if that connection is gone.
    func pipelineOnSameConnection(_ commands: [RedisCommand]) throws -> [RedisReply] {
        guard let connection, !connection.isBroken else {
            throw RedisEngineError(.connectionLost, "\(address): the connection that wrote is gone")
        }
        return try connection.pipeline(commands)
    }

    /// The SHA1 of a script, loading it on first use.
    func sha(of script: String) throws -> String {
        if let sha = scripts[script] { return sha }
        try loadScripts(on: connected())
        guard let sha = scripts[script] else { throw RedisEngineError(.protocolError, "a script outside GrabScript.all was asked for") }
        return sha
    }

    /// The open connection, or a new one if there is none or it failed (a timeout leaves it unusable).
    private func connected() throws -> RedisConnection {
        if let connection, !connection.isBroken { return connection }
        let fresh = try RedisConnection(address)
        connection = fresh
        return fresh
    }

    private func loadScripts(on connection: RedisConnection) throws {
        for script in GrabScript.all {
            let reply = try connection.command(RedisCommand("SCRIPT", "LOAD", script)).check()
            guard let sha = reply.text else { throw RedisEngineError(.protocolError, "SCRIPT LOAD returned \(reply)") }
            scripts[script] = sha
        }
    }
}

/// Connections to one server, lent to one thread at a time. The lock guards only the list of idle connections:
/// it is held for a push or a pop, never during a round trip.
final class RedisNodePool: Sendable {
    let address: RedisAddress
    private let idle = AtomicLock<[RedisNode]>([])

    init(_ address: RedisAddress) {
        self.address = address
    }

    /// Closes the idle connections (their server died: they are all broken).
    func discardIdle() { idle.withLock { $0.removeAll() } }

    func withNode<T>(_ body: (RedisNode) throws -> T) throws -> T {
        let node = try idle.withLock { $0.popLast() } ?? RedisNode(address)
        defer { idle.withLock { $0.append(node) } }
        return try body(node)
    }
}
