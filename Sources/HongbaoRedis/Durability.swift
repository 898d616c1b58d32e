import Foundation

/// When the Redis engine tells a caller that a write — a grab, an expiry, a send — happened.
///
/// Redis replicates asynchronously: a master acknowledges a write before any replica has it, so a grab
/// acknowledged by a master that dies before its replica received it is gone after the failover (and the member
/// may grab, and be paid, again). `.replicated` closes that gap at the price of a round trip to a replica: each
/// pipeline ends with a write of its own and `WAIT n`, and its replies are released only once `n` replicas hold
/// everything the pipeline wrote. Until they do (a promoted replica that has no replica yet) the call waits, up to
/// the engine's recovery timeout, then fails — a caller is never told of a grab a failover can forget.
public enum Durability: Sendable, Hashable, CustomStringConvertible {
    /// Acknowledged by the master alone (Redis's default): fastest; a failover can lose the last writes.
    case master
    /// Acknowledged once `replicas` replicas hold the write.
    case replicated(replicas: Int)

    /// One replica: what a master with one replica can promise.
    public static let replicated = Durability.replicated(replicas: 1)

    public var description: String {
        switch self {
        case .master: "master"
        case .replicated(let replicas): "replicated (WAIT \(replicas))"
        }
    }

    /// How long one WAIT blocks before it is asked again (so a lost node is noticed between tries).
    static let waitSlice = 200

    /// Runs `batch` on `node`, then — replicated — a write of its own in `slot` and WAIT on the same connection,
    /// asking again until enough replicas hold it or `deadline` passes.
    /// - Returns: the replies of `batch` alone.
    /// - Throws: `RedisEngineError.connectionLost` (resend the batch elsewhere), or `.notReplicated` past the
    ///   deadline.
    func run(_ batch: [RedisCommand], slot: Int, on node: RedisNode, deadline: ContinuousClock.Instant) throws -> [RedisReply] {
        guard case .replicated(let replicas) = self else { return try node.pipeline(batch) }
        var mark = RedisCommand("INCR")
        mark.append(RedisKey.durabilityMark(slot: slot))
        let wait = RedisCommand("WAIT", String(replicas), String(Self.waitSlice))
        var answers = try node.pipeline(batch + [mark, wait])
        let waited = answers.removeLast()
        if case .error(let message) = answers.removeLast() {   // the mark was refused (moved, read-only): confirm nothing
            throw RedisEngineError(.cluster, "\(node.address): the durability mark was refused: \(message)")
        }
        var acknowledged = try Self.replicasConfirmed(waited, from: node.address)
        while acknowledged < replicas {
            guard ContinuousClock.now < deadline else {
                throw RedisEngineError(.notReplicated, "\(node.address): \(acknowledged) of \(replicas) replicas confirmed the writes in time")
            }
            acknowledged = try Self.replicasConfirmed(try node.pipelineOnSameConnection([wait])[0], from: node.address)
        }
        return answers
    }

    /// WAIT's answer: the replicas that hold the writes. An error is no count: a master demoted by a failover
    /// answers "ERR WAIT cannot be used with replica instances" — a topology change, which the topology answers by
    /// refreshing its map and resending (safe: every command is), never "0 replicas" retried until the timeout.
    static func replicasConfirmed(_ reply: RedisReply, from address: RedisAddress) throws -> Int64 {
        if case .integer(let count) = reply { return count }
        throw RedisEngineError(.cluster, "\(address): WAIT answered \(reply) (a failover demoted this master?)")
    }
}

/// A failover the Redis engine rode through: a node stopped answering, and another served its slots.
public struct RedisRecovery: Sendable, Hashable, CustomStringConvertible {
    /// The node that failed.
    public let lost: RedisAddress
    /// The node that served the lost node's slots next (the promoted replica, or the node itself, restarted).
    public let replacement: RedisAddress
    /// When the first call to the lost node failed, in milliseconds since 1970.
    public let failedAtMilliseconds: Int64
    /// From the first failed call to the first command served by the replacement.
    public let servedAfter: Duration
    /// What the first failed call said.
    public let failure: String

    public var description: String {
        let seconds = Double(servedAfter.components.seconds) + Double(servedAfter.components.attoseconds) / 1e18
        return "\(lost) failed (\(failure)); its slots were served by \(replacement) \(String(format: "%.2f", seconds)) s later"
    }
}
