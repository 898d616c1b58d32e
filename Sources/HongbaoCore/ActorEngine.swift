/// Swift concurrency's answer: every packet's ledger isolated in one actor, so grabs are serialised by the
/// actor's executor rather than a lock. A baseline; its cost is a suspension and an executor hop per call.
/// A refunded packet is kept `retention` longer, then forgotten (its id answers `unknownPacket`); ids count up and
/// are never reused.
public actor ActorEngine: AsyncGrabEngine {
    public nonisolated let name = "actor"
    private var ledgers: [PacketID: PacketLedger] = [:]
    private var nextID: UInt64 = 0
    private let keyedExpiries = KeyedExpiries()
    private let clock: any PacketClock
    /// How long a refunded packet is kept before it is forgotten.
    public nonisolated let retention: Duration
    private var deadlines = DeadlineHeap()
    private var refunds = FIFO<(at: Int64, id: PacketID)>()

    /// - Parameters: retention: how long a packet is kept after its refund (a day by default); clock: where
    ///   expiry and retention read the time.
    public init(retention: Duration = .defaultRetention, clock: any PacketClock = SystemPacketClock()) {
        self.retention = retention
        self.clock = clock
    }

    /// Creates the packet's ledger in the actor, and forgets the packets past their retention.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        let now = clock.nanoseconds
        forgetRetained(now: now)
        let id = PacketID(nextID)
        let plan = try PacketPlan(id: id, spec: spec, group: group, seed: seed, sentAt: now)
        ledgers[id] = PacketLedger(plan: plan)
        deadlines.push(plan.expiresAt, id)
        nextID += 1
        return id
    }

    /// Refunds every packet whose deadline has passed and that no `expire` refunded, each once.
    /// - Returns: the packets refunded by this call, with their refunds.
    public func expireDue() -> [DueRefund] {
        let now = clock.nanoseconds
        var due: [PacketID] = []
        while let next = deadlines.first, next.expiresAt <= now {
            deadlines.removeFirst()
            due.append(next.id)
        }
        let refunds = DueRefund.sweep(due) { try expire($0) }
        forgetRetained(now: now)
        return refunds
    }

    /// Packets held: sent and not yet forgotten.
    public var packetsHeld: Int { ledgers.count }

    private func forgetRetained(now: Int64) {
        let retained = retention.nanosecondsSaturated
        let cutoff = now >= Int64.min + retained ? now - retained : Int64.min
        while let next = refunds.first, next.at <= cutoff {
            _ = refunds.popFirst()
            ledgers[next.id] = nil
        }
        if deadlines.count > 2 * ledgers.count + 1024 { deadlines.keepOnly { ledgers[$0] != nil } }
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
        let outcome = ledgers[id]!.expire()
        if case .refunded = outcome { refunds.append((clock.nanoseconds, id)) }
        return outcome
    }

    /// `expire(_:)` under the caller's idempotency key: a retry with the key that refunded hears `.refunded` again.
    public func expire(_ id: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        try keyedExpiries.expire(id, key: idempotencyKey, isKnown: { ledgers[$0] != nil }) { try expire(id) }
    }

    /// The packet's account: an atomic snapshot (the actor runs one call at a time).
    public func summary(of id: PacketID) throws -> PacketSummary {
        guard let ledger = ledgers[id] else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return ledger.summary
    }
}
