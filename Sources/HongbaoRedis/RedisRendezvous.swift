import Foundation
import HongbaoCore

/// Where the load generators of one run meet, in Redis itself (`bench --shard K/N --run-id ID`): each claims its
/// shard, publishes the ids of the packets it sent, learns everyone's, and starts each phase when all have arrived.
/// Every key carries the run id in its hash tag (one cluster slot per run), so two runs never collide, and expires
/// after a day.
public final class RedisRendezvous: Sendable {
    let topology: RedisTopology
    /// The run id the shards share.
    public let runID: String
    /// 0-based.
    public let shard: Int
    /// N, the shards of the run.
    public let count: Int
    /// How long a shard waits for the others at a phase before it fails.
    public let timeout: Duration
    private let slot: Int

    static let keyLifetime = "86400"

    /// Claims shard `shard` of `count` in run `runID`.
    /// - Throws: `RedisEngineError` if Redis cannot be reached, `.invalidAddress` for a run id that is not 1–64
    ///   letters, digits, `.`, `_` or `-`, or `.serverError` if this shard of this run was claimed already (by
    ///   another process, or a run before with the same id).
    public init(url: String, runID: String, shard: Int, of count: Int, timeout: Duration = .seconds(300)) throws {
        guard (1 ... 64).contains(runID.count),
              runID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else { throw RedisEngineError(.invalidAddress, "run id \"\(runID)\": use 1–64 letters, digits, '.', '_' or '-'") }
        topology = try RedisTopology(seeds: try RedisAddress.seeds(from: url))
        (self.runID, self.shard, self.count, self.timeout) = (runID, shard, count, timeout)
        slot = ClusterSlot.of(tag: "run:" + runID)
        var claim = RedisCommand("SET")
        claim.append(key("shard:\(shard)"))
        claim.append(String(ProcessInfo.processInfo.processIdentifier))
        claim.append("NX")
        claim.append("EX")
        claim.append(Self.keyLifetime)
        guard case .status = try topology.pipeline(slot: slot, [claim])[0].check() else {
            throw RedisEngineError(.serverError, "shard \(shard + 1)/\(count) of run \(runID) was claimed already: pick a new --run-id")
        }
    }

    private func key(_ suffix: String) -> RedisKey { RedisKey(rawValue: "hb:{run:\(runID)}:\(suffix)") }

    /// Publishes this shard's `index:id` pairs, waits for every shard's, and returns every packet's id.
    public func exchange(sent: [(index: Int, id: PacketID)], packets: Int) throws -> [PacketID] {
        var commands: [RedisCommand] = []
        for chunk in stride(from: 0, to: sent.count, by: 1_000) {
            var push = RedisCommand("RPUSH")
            push.append(key("ids:\(shard)"))
            for (index, id) in sent[chunk ..< min(chunk + 1_000, sent.count)] { push.append("\(index):\(id.rawValue)") }
            commands.append(push)
        }
        commands.append(RedisCommand("EXPIRE", key("ids:\(shard)").rawValue, Self.keyLifetime))
        for reply in try topology.pipeline(slots: Array(repeating: slot, count: commands.count), commands) { _ = try reply.check() }
        try arrive(at: "sent")

        var ids = [PacketID?](repeating: nil, count: packets)
        for other in 0 ..< count {
            let list = try topology.pipeline(slot: slot, [RedisCommand("LRANGE", key("ids:\(other)").rawValue, "0", "-1")])[0].check()
            for item in list.elements {
                guard let text = item.text, let colon = text.firstIndex(of: ":"), let index = Int(text[..<colon]),
                      let id = UInt64(text[text.index(after: colon)...]), ids.indices.contains(index)
                else { throw RedisEngineError(.protocolError, "run \(runID): shard \(other + 1) published \(item)") }
                ids[index] = PacketID(id)
            }
        }
        guard let missing = ids.firstIndex(where: { $0 == nil }) else { return ids.map { $0! } }
        throw RedisEngineError(.protocolError, "run \(runID): no shard published packet \(missing) (do all shards run the same workload options?)")
    }

    /// Counts this shard in at `phase` and waits (polling every 20 ms) until all `count` have arrived.
    /// - Throws: `RedisEngineError(.timeout)` if they have not within `timeout`.
    public func arrive(at phase: String) throws {
        let counter = key("at:\(phase)")
        _ = try topology.pipeline(slot: slot, [RedisCommand("INCR", counter.rawValue), RedisCommand("EXPIRE", counter.rawValue, Self.keyLifetime)])
            .map { try $0.check() }
        let deadline = ContinuousClock.now + timeout
        while true {
            let arrived = try topology.pipeline(slot: slot, [RedisCommand("GET", counter.rawValue)])[0].check().text.flatMap { Int($0) } ?? 0
            if arrived >= count { return }
            guard ContinuousClock.now < deadline else {
                throw RedisEngineError(.timeout, "run \(runID): \(arrived) of \(count) shards reached \"\(phase)\" within \(timeout)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }
}
