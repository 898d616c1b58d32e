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
/// by the expire script, which also records the token of the call that refunded — or the idempotency key its caller
/// chose — so a call resent after a lost reply, or retried by its caller, still learns that it made the refund.
/// A packet is created only where none exists, with an id the engine issues (`PacketIDs`), never from a counter
/// that a failover could take back; a big group's set is named by a SHA-256 digest of its members and lives as
/// long as a packet needs it (`GrabScript.send`, `GrabScript.expire`).
/// No answer is cached on the client: every answer comes from the
/// server, so no answer can outlive the packet it was about (an id reused after a flush, a packet closed by another
/// process). The client only remembers the groups it sent packets to, to vouch for grabbers' membership — a hint
/// the script takes only for the very group it names (`SentGroups`).
///
/// Threads: each call borrows a connection from its node's pool (the pool's lock is held for a push or a pop,
/// never during I/O). Async callers never block the cooperative pool: grabs go to the engine's own combiner
/// threads, which coalesce whatever is pending into one batch; other calls run on a Dispatch queue.
///
/// Randomness: a packet computed at grab time takes the 48-bit random of each share index from its own seed, as the
/// in-process engines do (the sender pushes them with the packet), so the same seed pays the same amount at each
/// seq on every engine.
public final class RedisEngine: SettlingGrabEngine, AsyncGrabEngine, SenderTrackingGrabEngine {
    /// `redis`, or `redis-cluster`.
    public let name: String
    let topology: RedisTopology
    let clock: any PacketClock
    /// How long a packet's keys stay after its refund is recorded.
    public let retention: Duration
    private let combiner = AtomicLock<GrabCombiner?>(nil)
    /// The big groups this engine sent packets to: its grabs vouch for their members (see `SentGroups`).
    let sentGroups = AtomicLock(SentGroups())
    /// Where new packets' ids come from: no counter in Redis (see `PacketIDs`).
    let packetIDs = PacketIDs()

    /// Connects to `url` — `redis://[[user]:password@]host:port[/db]`, or several comma-separated seeds of a
    /// cluster — and learns whether it is a cluster.
    /// - Parameters:
    ///   - clock: the time that expiry is judged by; it must agree across processes (the default is the
    ///     system's wall clock).
    ///   - commandTimeout: how long a call may wait for its reply before it fails with `.timeout`.
    ///   - retention: how long a packet is kept after its refund (default one day).
    ///   - durability: when a write is acknowledged: by the master (Redis's default), or once replicas hold it.
    ///   - recoveryTimeout: how long a call waits for a cluster to recover from a failover (a master dies, its
    ///     replica is promoted) before it fails.
    /// - Throws: `RedisEngineError` (invalid address, refused, wrong password, …); messages never show a password.
    public init(url: String, clock: any PacketClock = WallPacketClock(), commandTimeout: Duration = .seconds(5),
                retention: Duration = .seconds(24 * 3600), durability: Durability = .master,
                recoveryTimeout: Duration = .seconds(30)) throws
    {
        let seeds = try RedisAddress.seeds(from: url)
        topology = try RedisTopology(seeds: seeds.map { var address = $0; address.commandTimeout = commandTimeout; return address },
                                     recoveryTimeout: recoveryTimeout, durability: durability)
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

    /// When writes are acknowledged.
    public var durability: Durability { topology.durability }

    /// The masters that have no replica online now (`INFO replication`): where a durable write could never be
    /// confirmed. - Throws: `RedisEngineError` if a master cannot be asked.
    public func mastersWithoutReplicas() throws -> [RedisAddress] {
        try masters.filter { master in
            let info = try topology.pool(for: master).withNode { try $0.command(RedisCommand("INFO", "replication")) }.check().text ?? ""
            return RedisTopology.replication(info).map { $0.replicas.allSatisfy { !$0.online } } ?? true
        }
    }

    /// Every failover this engine rode through, in order.
    public var recoveries: [RedisRecovery] { topology.recoveries.withLock { $0 } }

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

    /// Async keyed `expire`, off the cooperative pool.
    public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) async throws -> ExpiryOutcome {
        try await offPool { try self.expire(packet, idempotencyKey: idempotencyKey) }
    }

    /// `send(_:to:seed:origin:)` off the cooperative pool.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64, origin: SendOrigin) async throws -> SentPacket {
        try await offPool { try self.send(spec, to: group, seed: seed, origin: origin) }
    }

    /// `isMember(_:of:)` off the cooperative pool.
    public func isMember(_ member: MemberID, of packet: PacketID) async throws -> Bool {
        try await offPool { try self.isMember(member, of: packet) }
    }

    /// `sender(of:)` off the cooperative pool.
    public func sender(of packet: PacketID) async throws -> MemberID? {
        try await offPool { try self.sender(of: packet) }
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
