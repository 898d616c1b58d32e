import Foundation
import HongbaoCore
import Synchronization

/// The grab protocol on Redis or Redis Cluster, through hiredis: for services on more than one process.
///
/// Implementation notes. A packet is a hash and, when split at send, a list, both with the hash tag `{id}` (see
/// `RedisKey` and `GrabScript`), written in one pipeline with the account fields last, so a packet exists only once
/// it is complete. A grab is one EVALSHA of `GrabScript.grab`; a batch of grabs is one script call per slot (one
/// call in all on a single server), pipelined per node, and inside it the grabs of one packet are combined — read
/// by one HMGET, written by one HSET — as WeChat queues a hot packet's requests. Sends, expiries and summaries of
/// many packets are pipelined the same way: one round trip per node.
///
/// Money never vanishes with a TTL: a packet's keys get their TTL (`retention`) only when its refund is recorded,
/// by the expire script, which also records the token of the call that refunded, so a call resent after a lost
/// reply still learns that it made the refund. Nothing is cached on the client: every answer comes from the
/// server, so no answer can outlive the packet it was about (an id reused after a flush, a packet closed by another
/// process).
///
/// Threads: each call borrows a connection from its node's pool (the pool's lock is held for a push or a pop,
/// never during I/O). Async callers never block the cooperative pool: grabs go to the engine's own combiner
/// threads, which coalesce whatever is pending into one batch; other calls run on a Dispatch queue.
///
/// Randomness: a packet computed at grab time takes the 48-bit random of each share index from its own seed, as the
/// in-process engines do (the sender pushes them with the packet), so the same seed pays the same amount at each
/// seq on every engine.
public final class RedisEngine: BatchGrabEngine, AsyncGrabEngine {
    public let name: String
    let topology: RedisTopology
    let clock: any PacketClock
    /// How long a packet's keys stay after its refund is recorded.
    public let retention: Duration
    private let combiner = Locked<GrabCombiner?>(nil)

    /// Connects to `url` — `redis://[[user]:password@]host:port[/db]`, or several comma-separated seeds of a
    /// cluster — and learns whether it is a cluster.
    /// - Parameters:
    ///   - clock: the time that expiry is judged by; it must agree across processes (the default is the
    ///     system's wall clock).
    ///   - commandTimeout: how long a call may wait for its reply before it fails with `.timeout`.
    ///   - retention: how long a packet is kept after its refund (default one day).
    /// - Throws: `RedisEngineError` (invalid address, refused, wrong password, …); messages never show a password.
    public init(url: String, clock: any PacketClock = WallPacketClock(), commandTimeout: Duration = .seconds(5), retention: Duration = .seconds(24 * 3600)) throws
    {
        let seeds = try RedisAddress.seeds(from: url)
        topology = try RedisTopology(seeds: seeds.map { var address = $0; address.commandTimeout = commandTimeout; return address })
        name = topology.isCluster ? "redis-cluster" : "redis"
        self.clock = clock
        self.retention = retention
    }

    deinit { combiner.withLock { $0?.stop() } }

    /// The whole grab script, as loaded with SCRIPT LOAD (for operators and for running it in redis-benchmark).
    public static var grabScript: String { GrabScript.grab }

    /// The lines of the grab script that make a grab atomic, for teaching.
    public static var grabScriptExcerpt: String { GrabScript.excerpt }

    /// Every master serving packets (one outside a cluster).
    public var masters: [RedisAddress] { topology.masters }

    // MARK: Sending

    /// Creates the packet: an id from INCR, then its keys in one pipeline (account fields last).
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try send([OutgoingPacket(spec, to: group, seed: seed)])[0]
    }

    /// Creates many packets in two round trips per node: one for their ids (INCRBY) and for whether their groups'
    /// sets exist, one to create the missing groups (one SADD each: a set appears whole) and the packets.
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient (then nothing is sent).
    public func send(_ packets: [OutgoingPacket]) throws -> [PacketID] {
        guard !packets.isEmpty else { return [] }
        let now = clock.nanoseconds
        let plans = try packets.map { try PacketPlan(id: PacketID(0), spec: $0.spec, group: $0.group, seed: $0.seed, sentAt: now) }
        let groups = plans.map { plan in plan.recipient.map { Group(CollectionOfOne($0)) } ?? plan.group }
        let tags = groups.map(RedisKey.tag(ofGroup:))
        let groupKeys = zip(groups, tags).map { RedisKey.group($0, tag: $1) }

        var incr = RedisCommand("INCRBY")
        incr.append(RedisKey.packetIDs)
        incr.append(packets.count)
        var probes = [incr], probeSlots = [ClusterSlot.of(key: RedisKey.packetIDs.rawValue)]
        var probed: [RedisKey: Int] = [:]   // group key → index of its EXISTS
        for (index, (key, tag)) in zip(groupKeys, tags).enumerated() where probed[key] == nil && groups[index].count > GrabScript.inlineGroup {
            var exists = RedisCommand("EXISTS")
            exists.append(key)
            probed[key] = probes.count
            probes.append(exists)
            probeSlots.append(RedisKey.slot(ofTag: tag))
        }
        let answers = try topology.pipeline(slots: probeSlots, probes).map { try $0.check() }
        guard let last = answers[0].integer, last >= packets.count, UInt64(last) < RedisKey.counterLimit else {
            throw RedisEngineError(.protocolError, "INCRBY \(RedisKey.packetIDs.rawValue) returned \(answers[0])")
        }
        let ids = tags.enumerated().map { index, tag in
            PacketID(tag << RedisKey.tagShift | UInt64(last - Int64(packets.count - 1 - index)))
        }

        var commands: [RedisCommand] = [], slots: [Int] = []
        var created: Set<RedisKey> = []
        for index in plans.indices {
            let key = groupKeys[index], slot = RedisKey.slot(ofTag: tags[index])
            let inline = groups[index].count <= GrabScript.inlineGroup
            if !inline, answers[probed[key]!].integer == 0, created.insert(key).inserted {
                var add = RedisCommand("SADD")
                add.append(key)
                for member in groups[index].members { add.append(member.rawValue) }
                commands.append(add)
                slots.append(slot)
            }
            let made = Self.sendCommands(ids[index], plans[index], group: inline ? nil : key, members: groups[index])
            commands += made
            slots += repeatElement(slot, count: made.count)
        }
        for reply in try topology.pipeline(slots: slots, commands) { _ = try reply.check() }
        return ids
    }

    /// The commands that create one packet: its pre-split list, then its account with its members' fields (a
    /// small group) or the name of its group's set (a big one) — last: the packet exists once its account does.
    static func sendCommands(_ id: PacketID, _ plan: PacketPlan, group: RedisKey?, members: Group) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        // The shares list: the pre-split amounts, or each share index's random from the packet's seed.
        let items: [UInt64] = plan.preSplit.isEmpty
            ? (0 ..< plan.spec.shares).map { DoubleMean.random48(seed: plan.seed, index: $0) }
            : plan.preSplit.map { UInt64($0.rawValue) }
        for chunk in stride(from: 0, to: items.count, by: 1_000) {
            var push = RedisCommand("RPUSH")
            push.append(RedisKey.shares(of: id))
            for item in items[chunk ..< min(chunk + 1_000, items.count)] { push.append(item) }
            commands.append(push)
        }
        let spec = plan.spec
        var account = RedisCommand("HSET")
        account.append(RedisKey.packet(id))
        for (field, value) in [("left", Int64(spec.shares)), ("balance", spec.total.rawValue), ("closed", 0),
                               ("expires_ms", plan.expiresAt / 1_000_000), ("shares", Int64(spec.shares)),
                               ("cap", spec.policy.perShareCap.rawValue), ("total", spec.total.rawValue), ("refund", 0)]
        {
            account.append(field)
            account.append(value)
        }
        account.append("mode")
        account.append(plan.preSplit.isEmpty ? "grab" : "list")
        if let group {
            account.append("group")
            account.append(group)
        } else {
            for member in members.members {
                account.append(member.rawValue)
                account.append("0")
            }
        }
        commands.append(account)
        return commands
    }

    // MARK: Grabbing

    /// One grab: one EVALSHA. - Throws: as `grab(_:)` for a batch.
    public func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        try grab([GrabRequest(packet: packet, member: member)])[0]
    }

    /// Many grabs in as few round trips as the topology allows: one script call per slot, pipelined per node
    /// (one call in all on a single server). Each caller still gets its own outcome, in request order.
    /// - Throws: `RedisEngineError` for a failed connection or server, `GrabEngineError.unknownPacket`.
    public func grab(_ requests: [GrabRequest]) throws -> [GrabOutcome] {
        try grab(requests, callPerGrab: false).map(\.outcome)
    }

    /// Many grabs, as `grab(_:)`, each with the seq of the share its member holds.
    public func grabReceipts(_ requests: [GrabRequest]) throws -> [GrabReceipt] {
        try grab(requests, callPerGrab: false)
    }

    /// Many grabs pipelined: one script call per grab, all of a node's calls appended before the replies are read
    /// (one round trip per node). Slower on the server than `grab(_:)`'s batches; for comparing the two.
    public func grabPipelined(_ requests: [GrabRequest]) throws -> [GrabOutcome] {
        try grab(requests, callPerGrab: true).map(\.outcome)
    }

    /// One script call: the packets it serves (all in one slot) and, per packet, the indices of its grabbers.
    private struct ScriptCall {
        let slot: Int
        var packets: [PacketID] = []
        var grabbers: [[Int]] = []
    }

    private func grab(_ requests: [GrabRequest], callPerGrab: Bool) throws -> [GrabReceipt] {
        guard !requests.isEmpty else { return [] }
        var calls: [ScriptCall] = []
        var callOfSlot: [Int: Int] = [:]
        var packetIndex: [PacketID: Int] = [:]   // within its call
        for (index, request) in requests.enumerated() {
            let slot = topology.isCluster ? RedisKey.slot(of: request.packet) : 0
            if callPerGrab {
                calls.append(ScriptCall(slot: slot, packets: [request.packet], grabbers: [[index]]))
                continue
            }
            let call = callOfSlot[slot] ?? { calls.append(ScriptCall(slot: slot)); callOfSlot[slot] = calls.count - 1; return calls.count - 1 }()
            if let known = packetIndex[request.packet] {
                calls[call].grabbers[known].append(index)
            } else {
                packetIndex[request.packet] = calls[call].packets.count
                calls[call].packets.append(request.packet)
                calls[call].grabbers.append([index])
            }
        }
        let sha = try topology.pool(for: topology.address(forSlot: calls[0].slot)).withNode { try $0.sha(of: GrabScript.grab) }
        let now = clock.nanoseconds / 1_000_000
        let commands = calls.map { call in
            var command = RedisCommand("EVALSHA", sha)
            command.append(call.packets.count * 2)
            for packet in call.packets { for key in RedisKey.scriptKeys(of: packet) { command.append(key) } }
            command.append(now)
            for grabbers in call.grabbers {
                command.append(grabbers.count)
                for index in grabbers { command.append(requests[index].member.rawValue) }
            }
            return command
        }
        // One pipeline per node; only calls that were redirected are sent again.
        let replies = try topology.pipeline(slots: calls.map(\.slot), commands)
        var outcomes = [GrabReceipt?](repeating: nil, count: requests.count)
        for (call, reply) in zip(calls, replies) {
            let values = try reply.check().elements.compactMap(\.integer)
            let order = call.grabbers.joined()
            guard values.count == order.count * 3 else {
                throw RedisEngineError(.protocolError, "the grab script returned \(values.count) values for \(order.count) grabs")
            }
            for (k, index) in order.enumerated() {
                let outcome = try Self.outcome(code: values[3 * k], amount: values[3 * k + 2], packet: requests[index].packet)
                outcomes[index] = GrabReceipt(outcome, seq: outcome.share == nil ? nil : Int(values[3 * k + 1]))
            }
        }
        return outcomes.map { $0! }
    }

    static func outcome(code: Int64, amount: Int64, packet: PacketID) throws -> GrabOutcome {
        switch code {
        case 0: return .granted(Fen(amount))
        case 1: return .alreadyGrabbed(Fen(amount))
        case -1: return .soldOut
        case -2: return .expired
        case -3: return .notMember
        case -4: throw GrabEngineError(.unknownPacket, "no \(packet) in Redis")
        default: throw RedisEngineError(.protocolError, "the grab script returned code \(code)")
        }
    }

    // MARK: Expiry and summaries

    /// Closes the packet and refunds its balance, once, whichever process asks: the refund is recorded in the
    /// packet by the expire script, with this call's token, so a call resent after a lost reply still reports
    /// `.refunded`. The packet is then kept for `retention`. - Throws: `GrabEngineError.unknownPacket`,
    /// `RedisEngineError`.
    public func expire(_ packet: PacketID) throws -> ExpiryOutcome {
        try expire([packet])[0]
    }

    /// Closes many packets in one round trip per node (one script call each). - Throws: as `expire(_:)`.
    public func expire(_ packets: [PacketID]) throws -> [ExpiryOutcome] {
        guard !packets.isEmpty else { return [] }
        let slots = packets.map { RedisKey.slot(of: $0) }
        let sha = try topology.pool(for: topology.address(forSlot: slots[0])).withNode { try $0.sha(of: GrabScript.expire) }
        var random = SystemRandomNumberGenerator()
        let retentionMilliseconds = max(1, retention.nanosecondsSaturated / 1_000_000)
        let commands = packets.map { packet in
            var call = RedisCommand("EVALSHA", sha, "2")
            for key in RedisKey.scriptKeys(of: packet) { call.append(key) }
            call.append(String(random.next(), radix: 36) + String(random.next(), radix: 36))   // this call's token
            call.append(retentionMilliseconds)
            return call
        }
        return try zip(packets, topology.pipeline(slots: slots, commands)).map { packet, reply in
            let values = try reply.check().elements.compactMap(\.integer)
            guard values.count == 2 else { throw RedisEngineError(.protocolError, "the expire script returned \(values)") }
            switch values[0] {
            case 0: return .refunded(Fen(values[1]))
            case 1: return .alreadyRefunded(Fen(values[1]))
            default: throw GrabEngineError(.unknownPacket, "no \(packet) in Redis")
            }
        }
    }

    /// The packet's account: an atomic snapshot (one HGETALL of its hash), in one round trip.
    public func summary(of packet: PacketID) throws -> PacketSummary {
        try summaries(of: [packet])[0]
    }

    /// Many packets' accounts in one round trip per node, each an atomic snapshot of its packet.
    /// - Throws: `GrabEngineError.unknownPacket`, `RedisEngineError`.
    public func summaries(of packets: [PacketID]) throws -> [PacketSummary] {
        let commands = packets.map { packet in
            var all = RedisCommand("HGETALL")
            all.append(RedisKey.packet(packet))
            return all
        }
        return try zip(packets, topology.pipeline(slots: packets.map { RedisKey.slot(of: $0) }, commands)).map { packet, reply in
            try Self.summary(of: packet, from: reply.check())
        }
    }

    /// A packet's account from the HGETALL of its hash.
    static func summary(of packet: PacketID, from reply: RedisReply) throws -> PacketSummary {
        let items = reply.elements
        var account: [String: Int64] = [:]
        var grabs: [GrabRecord] = []
        for pair in stride(from: 0, to: items.count - 1, by: 2) {
            guard let field = items[pair].text, let value = items[pair + 1].text else { continue }
            if let member = UInt32(field) {
                guard value != "0" else { continue }   // a member of a small group, without a share
                let parts = value.split(separator: ":")
                guard parts.count == 2, let seq = Int(parts[0]), let amount = Int64(parts[1]) else {
                    throw RedisEngineError(.protocolError, "\(packet): member \(member) holds \"\(value)\"")
                }
                grabs.append(GrabRecord(seq: seq, member: MemberID(member), amount: Fen(amount)))
            } else if let number = Int64(value) {
                account[field] = number
            }
        }
        guard let total = account["total"], let shares = account["shares"], let balance = account["balance"] else {
            throw GrabEngineError(.unknownPacket, "no \(packet) in Redis")
        }
        return PacketSummary(packet: packet, total: Fen(total), shares: Int(shares), grabs: grabs.sorted { $0.seq < $1.seq },
                             balance: Fen(balance), refund: account["closed"] == 1 ? Fen(account["refund"] ?? 0) : nil)
    }

    // MARK: Async

    /// Async `send`: the I/O runs on a Dispatch thread, never on the cooperative pool.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) async throws -> PacketID {
        try await offPool { try self.send(spec, to: group, seed: seed) }
    }

    /// Async grab: queued to the engine's combiner threads and sent with whatever else is pending, as a batch.
    public func grab(_ packet: PacketID, for member: MemberID) async throws -> GrabOutcome {
        try await grabReceipt(packet, for: member).outcome
    }

    /// Async grab with the seq of the share the member holds; combined with other pending grabs, off the pool.
    public func grabReceipt(_ packet: PacketID, for member: MemberID) async throws -> GrabReceipt {
        try await withCheckedThrowingContinuation { continuation in
            let combiner = combiner.withLock { combiner in
                if let combiner { return combiner }
                let fresh = GrabCombiner(engine: self)
                combiner = fresh
                return fresh
            }
            combiner.submit(GrabRequest(packet: packet, member: member), continuation)
        }
    }

    /// Async `expire`, off the cooperative pool.
    public func expire(_ packet: PacketID) async throws -> ExpiryOutcome {
        try await offPool { try self.expire(packet) }
    }

    /// Async `summary`, off the cooperative pool.
    public func summary(of packet: PacketID) async throws -> PacketSummary {
        try await offPool { try self.summary(of: packet) }
    }

    /// Runs blocking I/O on a Dispatch thread, never on the cooperative pool, and resumes the caller after.
    private func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// The system's wall clock (CLOCK_REALTIME): what expiry on a shared server must be judged by.
public struct WallPacketClock: PacketClock {
    public init() {}
    public var nanoseconds: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
