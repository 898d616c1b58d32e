/// Swift concurrency's answer: every packet's ledger isolated in one actor, so grabs are serialised by the
/// actor's executor rather than a lock. A baseline; its cost is a suspension and an executor hop per call.
public actor ActorEngine: AsyncGrabEngine {
    public nonisolated let name = "actor"
    private var ledgers: [PacketID: PacketLedger] = [:]
    private var nextID: UInt64 = 0
    private let keyedExpiries = KeyedExpiries()
    private let clock: any PacketClock

    /// - Parameter clock: where expiry reads the time.
    public init(clock: any PacketClock = SystemPacketClock()) {
        self.clock = clock
    }

    /// Creates the packet's ledger in the actor.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        let id = PacketID(nextID)
        ledgers[id] = PacketLedger(plan: try PacketPlan(id: id, spec: spec, group: group, seed: seed, sentAt: clock.nanoseconds))
        nextID += 1
        return id
    }

    /// One grab, run by the actor alone. - Throws: `GrabEngineError.unknownPacket`.
    public func grab(_ id: PacketID, for member: MemberID) throws -> GrabOutcome {
        try grabReceipt(id, for: member).outcome
    }

    /// One grab with the seq of the share the member holds, run by the actor alone.
    public func grabReceipt(_ id: PacketID, for member: MemberID) throws -> GrabReceipt {
        guard ledgers[id] != nil else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return ledgers[id]!.grab(for: member, now: clock.nanoseconds)
    }

    /// Closes the packet; the balance is the refund, made once.
    public func expire(_ id: PacketID) throws -> ExpiryOutcome {
        guard ledgers[id] != nil else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return ledgers[id]!.expire()
    }

    /// `expire(_:)` under the caller's idempotency key: a retry with the key that refunded hears `.refunded` again.
    public func expire(_ id: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        try keyedExpiries.expire(id, key: idempotencyKey) { try expire(id) }
    }

    /// The packet's account: an atomic snapshot (the actor runs one call at a time).
    public func summary(of id: PacketID) throws -> PacketSummary {
        guard let ledger = ledgers[id] else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return ledger.summary
    }
}
