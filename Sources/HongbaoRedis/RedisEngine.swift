import Foundation
import HongbaoCore
import Synchronization

/// The grab protocol on Redis or Redis Cluster, through hiredis: for services on more than one process.
///
/// Implementation notes. A packet is five keys with the hash tag `{id}` (see `RedisKey`), created in one pipeline
/// with the meta hash last, so a packet exists only once it is complete. A grab is one EVALSHA of `GrabScript.grab`:
/// membership, the member's earlier share, expiry, then the gate — an atomic DECR of the shares left — and the
/// share, popped from the pre-split list or computed by double mean from the balance. A batch of grabs is one
/// script call per slot (one call in all on a single server), pipelined per node; inside it, the grabs of one
/// packet are combined — read once, gated by one DECRBY, recorded by one HSET — as WeChat queues a hot packet's
/// requests. Packets expire with a TTL
/// (their deadline plus an hour, so late `expire`s still find them); `expire` runs `GrabScript.expire`, which
/// records the refund in the packet, so it is made once whoever calls it.
///
/// Threads: each call borrows a connection from its node's pool (the pool's lock is held for a push or a pop,
/// never during I/O). Async callers never block the cooperative pool: grabs go to the engine's own combiner
/// threads, which coalesce whatever is pending into one batch; other calls run on a Dispatch queue.
///
/// Randomness: the 48-bit random of a grab computed at grab time comes from a counter-based generator of
/// (engine seed, packet, member), so a run is reproducible for the same order of grabs.
public final class RedisEngine: BatchGrabEngine, AsyncGrabEngine {
    public let name: String
    let topology: RedisTopology
    let clock: any PacketClock
    let seed: UInt64
    private let soldOut = Locked<[PacketID: SoldOutPacket]>([:])
    private let combiner = Locked<GrabCombiner?>(nil)

    static let soldOutCacheLimit = 65_536
    static let grace = Duration.seconds(3600)

    /// Connects to `url` — `redis://[:password@]host:port[/db]`, or several comma-separated seeds of a
    /// cluster — and learns whether it is a cluster.
    /// - Parameters:
    ///   - clock: the time that expiry is judged by; it must agree across processes (the default is the
    ///     system's wall clock).
    ///   - seed: the seed of the random numbers passed to the grab script.
    /// - Throws: `RedisEngineError` (invalid address, refused, wrong password, …).
    ///   - commandTimeout: how long a call may wait for its reply before it fails with `.timeout`.
    public init(url: String, clock: any PacketClock = WallPacketClock(), seed: UInt64 = 0,
                commandTimeout: Duration = .seconds(5)) throws
    {
        let seeds = try url.split(separator: ",").map { part in
            var address = try RedisAddress(url: part.contains("://") ? String(part) : "redis://" + part)
            address.commandTimeout = commandTimeout
            return address
        }
        guard !seeds.isEmpty else { throw RedisEngineError(.invalidAddress, "no address in \"\(url)\"") }
        topology = try RedisTopology(seeds: seeds)
        name = topology.isCluster ? "redis-cluster" : "redis"
        self.clock = clock
        self.seed = seed
    }

    deinit { combiner.withLock { $0?.stop() } }

    /// The whole grab script, as loaded with SCRIPT LOAD (for operators and for running it in redis-benchmark).
    public static var grabScript: String { GrabScript.grab }

    /// The lines of the grab script that make a grab atomic, for teaching.
    public static var grabScriptExcerpt: String { GrabScript.excerpt }

    /// Every master serving packets (one outside a cluster).
    public var masters: [RedisAddress] { topology.masters }

    // MARK: Sending

    /// Creates the packet: an id from INCR, then its keys in one pipeline (meta last) with their TTL.
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        let plan = try PacketPlan(id: PacketID(0), spec: spec, group: group, seed: seed, sentAt: clock.nanoseconds)
        let idSlot = ClusterSlot.of(key: RedisKey.packetIDs.rawValue)
        var incr = RedisCommand("INCR")
        incr.append(RedisKey.packetIDs)
        guard let raw = try topology.pipeline(slot: idSlot, [incr])[0].check().integer, raw > 0 else {
            throw RedisEngineError(.protocolError, "INCR \(RedisKey.packetIDs.rawValue) did not return an integer")
        }
        let id = PacketID(UInt64(raw))
        let expiresMilliseconds = plan.expiresAt / 1_000_000
        var commands: [RedisCommand] = []
        let members = plan.recipient.map { [$0] } ?? Array(group.members)
        for chunk in stride(from: 0, to: members.count, by: 1_000) {
            var add = RedisCommand("SADD")
            add.append(RedisKey.members(of: id))
            for member in members[chunk ..< min(chunk + 1_000, members.count)] { add.append(member.rawValue) }
            commands.append(add)
        }
        let preSplit = plan.preSplit
        for chunk in stride(from: 0, to: preSplit.count, by: 1_000) {
            var push = RedisCommand("RPUSH")
            push.append(RedisKey.shares(of: id))
            for amount in preSplit[chunk ..< min(chunk + 1_000, preSplit.count)] { push.append(amount.rawValue) }
            commands.append(push)
        }
        var count = RedisCommand("SET")
        count.append(RedisKey.count(of: id))
        count.append(spec.shares)
        commands.append(count)
        var meta = RedisCommand("HSET")
        meta.append(RedisKey.meta(of: id))
        for (field, value) in [("total", spec.total.rawValue), ("shares", Int64(spec.shares)),
                               ("cap", spec.policy.perShareCap.rawValue), ("expires_ms", expiresMilliseconds),
                               ("balance", spec.total.rawValue), ("closed", 0), ("refund", 0)]
        {
            meta.append(field)
            meta.append(value)
        }
        meta.append("mode")
        meta.append(preSplit.isEmpty ? "grab" : "list")
        commands.append(meta)   // last: the packet exists once its meta does
        let keepUntil = expiresMilliseconds + Self.grace.nanosecondsSaturated / 1_000_000
        for key in RedisKey.grabKeys(of: id) {
            var expire = RedisCommand("PEXPIREAT")
            expire.append(key)
            expire.append(keepUntil)
            commands.append(expire)
        }
        for reply in try topology.pipeline(slot: RedisKey.slot(of: id), commands) { _ = try reply.check() }
        return id
    }

    // MARK: Grabbing

    /// One grab: one EVALSHA (or none, for a packet known to be sold out).
    public func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        try grab([GrabRequest(packet: packet, member: member)])[0]
    }

    /// Many grabs in as few round trips as the topology allows: one script call per slot, pipelined per node
    /// (one call in all on a single server). Each caller still gets its own outcome, in request order.
    /// - Throws: `RedisEngineError` for a failed connection or server, `GrabEngineError.unknownPacket`.
    public func grab(_ requests: [GrabRequest]) throws -> [GrabOutcome] {
        try grab(requests, callPerGrab: false)
    }

    /// Many grabs pipelined: one script call per grab, all of a node's calls appended before the replies are read
    /// (one round trip per node). Slower on the server than `grab(_:)`'s batches; for comparing the two.
    public func grabPipelined(_ requests: [GrabRequest]) throws -> [GrabOutcome] {
        try grab(requests, callPerGrab: true)
    }

    private func grab(_ requests: [GrabRequest], callPerGrab: Bool) throws -> [GrabOutcome] {
        var outcomes = [GrabOutcome?](repeating: nil, count: requests.count)
        var toServer: [Int] = []
        soldOut.withLock { cache in
            for (index, request) in requests.enumerated() {
                if let known = cache[request.packet] { outcomes[index] = known.outcome(for: request.member) } else { toServer.append(index) }
            }
        }
        let now = clock.nanoseconds / 1_000_000
        // Group by slot (a script may touch one slot only); the topology sends one pipeline per node.
        var bySlot: [Int: [Int]] = [:]
        for index in toServer { bySlot[topology.isCluster ? RedisKey.slot(of: requests[index].packet) : 0, default: []].append(index) }
        if callPerGrab {   // one script call (a "group") per grab
            var single: [Int: [Int]] = [:]
            for (slot, indices) in bySlot { for index in indices { single[slot * requests.count + index] = [index] } }
            bySlot = single.reduce(into: [:]) { $0[$1.key] = $1.value }
        }
        let groups = bySlot.map { key, indices in (slot: callPerGrab ? key / max(requests.count, 1) : key, indices: indices) }
            .sorted { $0.indices[0] < $1.indices[0] }   // the calls go in request order
        guard !groups.isEmpty else { return outcomes.map { $0! } }
        let sha = try topology.pool(for: topology.address(forSlot: groups[0].slot)).withNode { try $0.sha(of: GrabScript.grab) }
        var commands: [RedisCommand] = []
        var orders: [[Int]] = []   // per call, the request indices in the order the script answers them
        for group in groups {
            // Combine per packet, keeping each packet's grabbers in request order.
            var packets: [PacketID] = []
            var grabbers: [PacketID: [Int]] = [:]
            for index in group.indices {
                let packet = requests[index].packet
                if grabbers[packet] == nil { packets.append(packet) }
                grabbers[packet, default: []].append(index)
            }
            var call = RedisCommand("EVALSHA", sha)
            call.append(packets.count * 5)
            for packet in packets {
                for key in RedisKey.grabKeys(of: packet) { call.append(key) }
            }
            call.append(now)
            var order: [Int] = []
            for packet in packets {
                let indices = grabbers[packet]!
                call.append(indices.count)
                for index in indices {
                    call.append(requests[index].member.rawValue)
                    call.append(random48(for: requests[index]))
                }
                order += indices
            }
            commands.append(call)
            orders.append(order)
        }
        // One pipeline per node; only calls that were redirected are sent again.
        let replies = try topology.pipeline(slots: groups.map(\.slot), commands)
        var newlySoldOut: [PacketID] = []
        for (order, reply) in zip(orders, replies) {
            let values = try reply.check().elements.compactMap(\.integer)
            guard values.count == order.count * 3 else {
                throw RedisEngineError(.protocolError, "the grab script returned \(values.count) values for \(order.count) grabs")
            }
            for (k, index) in order.enumerated() {
                let outcome = try Self.outcome(code: values[3 * k], amount: values[3 * k + 2], packet: requests[index].packet)
                outcomes[index] = outcome
                if outcome == .soldOut { newlySoldOut.append(requests[index].packet) }
            }
        }
        if !newlySoldOut.isEmpty { try learnSoldOut(Array(Set(newlySoldOut))) }
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

    /// The script's random input for a grab: 48 bits from (engine seed, packet, member).
    func random48(for request: GrabRequest) -> UInt64 {
        SplitMix64.output(seed: seed ^ request.packet.rawValue &* 0x9E37_79B9, index: Int(request.member.rawValue)) >> 16
    }

    /// Caches sold-out packets' final winners and members, so later grabs on them need no round trip: one
    /// pipeline per slot for all the packets a batch found sold out.
    private func learnSoldOut(_ packets: [PacketID]) throws {
        var bySlot: [Int: [PacketID]] = [:]
        for packet in packets { bySlot[RedisKey.slot(of: packet), default: []].append(packet) }
        var learned: [(PacketID, SoldOutPacket)] = []
        for (slot, group) in bySlot {
            var commands: [RedisCommand] = []
            for packet in group {
                var winners = RedisCommand("HGETALL")
                winners.append(RedisKey.grabbed(of: packet))
                var members = RedisCommand("SMEMBERS")
                members.append(RedisKey.members(of: packet))
                var deadline = RedisCommand("HGET")
                deadline.append(RedisKey.meta(of: packet))
                deadline.append("expires_ms")
                commands += [winners, members, deadline]
            }
            let replies = try topology.pipeline(slot: slot, commands)
            for (k, packet) in group.enumerated() {
                learned.append((packet, SoldOutPacket(
                    winners: Self.parseGrabbed(try replies[3 * k].check()).reduce(into: [:]) { $0[$1.member] = $1.amount },
                    members: Set(try replies[3 * k + 1].check().elements.compactMap { $0.integer.map { MemberID(UInt32(truncatingIfNeeded: $0)) } }),
                    expiresMilliseconds: try replies[3 * k + 2].check().integer ?? 0, clock: clock)))
            }
        }
        soldOut.withLock { cache in
            if cache.count + learned.count > Self.soldOutCacheLimit { cache.removeAll(keepingCapacity: true) }
            for (packet, entry) in learned { cache[packet] = entry }
        }
    }

    // MARK: Expiry and summaries

    /// Closes the packet and refunds its balance, once, whichever process asks: the refund is recorded in the
    /// packet by the expire script. - Throws: `GrabEngineError.unknownPacket`, `RedisEngineError`.
    public func expire(_ packet: PacketID) throws -> ExpiryOutcome {
        soldOut.withLock { _ = $0.removeValue(forKey: packet) }
        let slot = RedisKey.slot(of: packet)
        let sha = try topology.pool(for: topology.address(forSlot: slot)).withNode { try $0.sha(of: GrabScript.expire) }
        var call = RedisCommand("EVALSHA", sha, "1")
        call.append(RedisKey.meta(of: packet))
        let values = try topology.pipeline(slot: slot, [call])[0].check().elements.compactMap(\.integer)
        guard values.count == 2 else { throw RedisEngineError(.protocolError, "the expire script returned \(values)") }
        switch values[0] {
        case 0: return .refunded(Fen(values[1]))
        case 1: return .alreadyRefunded(Fen(values[1]))
        default: throw GrabEngineError(.unknownPacket, "no \(packet) in Redis")
        }
    }

    /// The packet's account: an atomic snapshot (its two reads in one MULTI/EXEC), in one round trip.
    public func summary(of packet: PacketID) throws -> PacketSummary {
        var meta = RedisCommand("HMGET")
        meta.append(RedisKey.meta(of: packet))
        for field in ["total", "shares", "balance", "closed", "refund"] { meta.append(field) }
        var grabbed = RedisCommand("HGETALL")
        grabbed.append(RedisKey.grabbed(of: packet))
        let commands = [RedisCommand("MULTI"), meta, grabbed, RedisCommand("EXEC")]
        var transaction = try topology.pipeline(slot: RedisKey.slot(of: packet), commands)
        if topology.isCluster, case .error = transaction[3] {   // aborted on a stale slot map: refresh, once more
            try topology.refresh()
            transaction = try topology.pipeline(slot: RedisKey.slot(of: packet), commands)
        }
        for reply in transaction { _ = try reply.check() }
        let replies = transaction[3].elements
        guard replies.count == 2 else { throw RedisEngineError(.protocolError, "EXEC returned \(transaction[3])") }
        let fields = try replies[0].check().elements.map(\.integer)
        guard fields.count == 5, let total = fields[0], let shares = fields[1], let balance = fields[2] else {
            throw GrabEngineError(.unknownPacket, "no \(packet) in Redis")
        }
        return PacketSummary(packet: packet, total: Fen(total), shares: Int(shares),
                             grabs: Self.parseGrabbed(try replies[1].check()), balance: Fen(balance),
                             refund: fields[3] == 1 ? Fen(fields[4] ?? 0) : nil)
    }

    /// HGETALL of a grabbed hash, as records in grab order.
    static func parseGrabbed(_ reply: RedisReply) -> [GrabRecord] {
        let items = reply.elements
        var records: [GrabRecord] = []
        for pair in stride(from: 0, to: items.count - 1, by: 2) {
            guard let member = items[pair].integer, let value = items[pair + 1].text else { continue }
            let parts = value.split(separator: ":")
            guard parts.count == 2, let seq = Int(parts[0]), let amount = Int64(parts[1]) else { continue }
            records.append(GrabRecord(seq: seq, member: MemberID(UInt32(truncatingIfNeeded: member)), amount: Fen(amount)))
        }
        return records.sorted { $0.seq < $1.seq }
    }

    // MARK: Async

    /// Async `send`: the I/O runs on a Dispatch thread, never on the cooperative pool.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) async throws -> PacketID {
        try await offPool { try self.send(spec, to: group, seed: seed) }
    }

    /// Async grab: queued to the engine's combiner threads and sent with whatever else is pending, as a batch.
    public func grab(_ packet: PacketID, for member: MemberID) async throws -> GrabOutcome {
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

/// A sold-out packet's final state: its winners cannot change, so grabs on it are answered locally.
struct SoldOutPacket: Sendable {
    let winners: [MemberID: Fen]
    let members: Set<MemberID>
    let expiresMilliseconds: Int64
    let clock: any PacketClock

    func outcome(for member: MemberID) -> GrabOutcome {
        if let amount = winners[member] { return .alreadyGrabbed(amount) }
        if !members.contains(member) { return .notMember }
        return clock.nanoseconds / 1_000_000 >= expiresMilliseconds ? .expired : .soldOut
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
