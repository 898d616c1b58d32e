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
    private let waiting: @Sendable (String, [Int]) -> Void
    private let slot: Int

    static let keyLifetime = "86400"

    /// Claims shard `shard` of `count` in run `runID`, whose workload is `workload` (every option that shapes it,
    /// as one line: `BenchOptions.workloadFingerprint`). The first shard to arrive records the run's N and
    /// workload; every other must bring the same, and a shard index is claimed once — so a run id is used by one
    /// run only, and shards started with different options are refused before anything is sent.
    /// - Parameters:
    ///   - timeout: how long a shard waits for the others at a phase before it fails.
    ///   - waiting: called about once a second while this shard waits, with the phase and the shards still
    ///     missing (1-based), to show progress.
    /// - Throws: `RedisEngineError` if Redis cannot be reached, `.invalidAddress` for a run id that is not 1–64
    ///   letters, digits, `.`, `_` or `-`, or `.serverError` if the run id was used by a run of another shape or
    ///   workload, or this shard of it was claimed already.
    public init(url: String, runID: String, shard: Int, of count: Int, workload: String, timeout: Duration = .seconds(300),
                waiting: @escaping @Sendable (_ phase: String, _ missing: [Int]) -> Void = { _, _ in }) throws {
        guard (1 ... 64).contains(runID.count),
              runID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else { throw RedisEngineError(.invalidAddress, "run id \"\(runID)\": use 1–64 letters, digits, '.', '_' or '-'") }
        topology = try RedisTopology(seeds: try RedisAddress.seeds(from: url))
        (self.runID, self.shard, self.count, self.timeout, self.waiting) = (runID, shard, count, timeout, waiting)
        slot = ClusterSlot.of(tag: "run:" + runID)
        var claim = RedisCommand("EVAL", Self.claimScript, "2")
        claim.append(key("run"))
        claim.append(key("shard:\(shard)"))
        claim.append(count)
        claim.append(workload)
        claim.append(String(ProcessInfo.processInfo.processIdentifier))
        claim.append(Self.keyLifetime)
        let answer = try topology.pipeline(slot: slot, [claim])[0].check().text ?? ""
        switch answer {
        case "ok": return
        case "claimed":
            throw RedisEngineError(.serverError,
                "shard \(shard + 1)/\(count) of run \(runID) was claimed already (a run id is used once): pick a new --run-id")
        case let other where other.hasPrefix("count:"):
            throw RedisEngineError(.serverError,
                "run \(runID) is a run of \(other.dropFirst(6)) shards, not \(count) (a run id is used once): pick a new --run-id")
        case let other where other.hasPrefix("workload:"):
            throw RedisEngineError(.serverError, """
                run \(runID) was started with other workload options (\(other.dropFirst(9))); this shard has (\(workload)): start every shard with \
                the same options
                """)
        default:
            throw RedisEngineError(.protocolError, "run \(runID): the claim answered \(answer)")
        }
    }

    /// Records the run (N, workload) if it is new, checks it otherwise, and claims the shard, atomically.
    static let claimScript = """
        local run = redis.call('HMGET', KEYS[1], 'count', 'workload')
        if not run[1] then
          redis.call('HSET', KEYS[1], 'count', ARGV[1], 'workload', ARGV[2])
          redis.call('EXPIRE', KEYS[1], ARGV[4])
        elseif run[1] ~= ARGV[1] then
          return 'count:' .. run[1]
        elseif run[2] ~= ARGV[2] then
          return 'workload:' .. run[2]
        end
        if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4]) then return 'claimed' end
        return 'ok'
        """

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

    /// Counts this shard in at `phase` and waits (polling every 20 ms, reporting the missing shards about once a
    /// second) until all `count` shards of this run have arrived.
    /// - Throws: `RedisEngineError(.timeout)`, naming the missing shards, if they have not within `timeout`.
    public func arrive(at phase: String) throws {
        let arrived = key("at:\(phase)")
        _ = try topology.pipeline(slot: slot, [RedisCommand("SADD", arrived.rawValue, String(shard)),
                                               RedisCommand("EXPIRE", arrived.rawValue, Self.keyLifetime)]).map { try $0.check() }
        let start = ContinuousClock.now
        var reported = start
        while true {
            let present = Set(try topology.pipeline(slot: slot, [RedisCommand("SMEMBERS", arrived.rawValue)])[0].check()
                .elements.compactMap { $0.text.flatMap(Int.init) })
            let missing = (0 ..< count).filter { !present.contains($0) }.map { $0 + 1 }
            if missing.isEmpty { return }
            let now = ContinuousClock.now
            guard now - start < timeout else {
                throw RedisEngineError(.timeout, """
                    run \(runID): shards \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) did not reach \"\(phase)\" within \(timeout) \
                    (--shard-timeout)
                    """)
            }
            if now - reported >= .seconds(1) {
                reported = now
                waiting(phase, missing)
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }
}
