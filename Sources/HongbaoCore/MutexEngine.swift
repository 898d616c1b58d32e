import Synchronization

/// The baseline with a lock: each packet's words behind a lock of its own (a lock word beside its slot, spun on
/// then yielded to — see `PacketArena.withLock`; ThreadSanitizer sees it). Packets live in the same arena as
/// `LockFreeEngine`'s, with the same layout and the same lookup, so the two differ only in how one packet is
/// guarded: here the claim, the check, the ticket and the record happen under the packet's lock, with plain
/// (relaxed) accesses that the lock orders. Memory, retention and ids as in `LockFreeEngine`.
public final class MutexEngine: NonBlockingGrabEngine {
    public let name = "mutex"
    private let arena: PacketArena
    private let clock: any PacketClock
    /// How long a refunded packet is kept before its memory is reclaimed.
    public let retention: Duration
    private let keyedExpiries = KeyedExpiries()

    /// - Parameters: retention: how long a packet is kept after its refund (a day by default); clock: where expiry
    ///   and retention read the time.
    public init(retention: Duration = .defaultRetention, clock: any PacketClock = SystemPacketClock()) {
        arena = PacketArena(retention: retention.nanosecondsSaturated, locks: true)
        self.retention = retention
        self.clock = clock
    }

    /// Creates the packet's words in the arena and publishes them under a new id.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        let now = clock.nanoseconds
        return try arena.insert(try PacketPlan(id: PacketID(0), spec: spec, group: group, seed: seed, sentAt: now), now: now)
    }

    /// One grab, with the seq of the share the member holds (`grab(_:for:)` is its outcome), under the packet's
    /// lock (held for a few dozen instructions; never across a call out). Membership is checked before the lock:
    /// it reads only the packet's read-only header.
    /// - Returns: the outcome, by the rule documented on `GrabOutcome`. - Throws: `GrabEngineError.unknownPacket`.
    public func grabReceipt(_ id: PacketID, for member: MemberID) throws -> GrabReceipt {
        try arena.withPacket(id) { packet in
            guard let index = packet.grabberIndex(of: member) else { return GrabReceipt(.notMember) }
            return arena.withLock(of: id) {
                // The clock is read under the lock: a grab that read it before the deadline and then waited for the
                // lock must not win after another call of the same member, which read it after, said `.expired`.
                let now = clock.nanoseconds
                let state = packet.ticketsRelaxed
                let taken = state.taken(of: packet.shares)
                if packet.isClaimedRelaxed(index) {   // set only by a grant
                    for share in 0 ..< taken {
                        if let record = packet.recordRelaxed(share), record.member == member {
                            return GrabReceipt(.alreadyGrabbed(record.amount), seq: share + 1)
                        }
                    }
                }
                if taken == packet.shares { return GrabReceipt(.soldOut) }
                if state.closed || now >= packet.expiresAt { return GrabReceipt(.expired) }
                let amount = packet.amount(ofShare: taken)
                _ = packet.claimRelaxed(index)
                packet.storeTicketsRelaxed(state.withTicket)
                packet.storeRecordRelaxed(RecordWord(member: member, amount: amount), at: taken)
                return GrabReceipt(.granted(Fen(amount)), seq: taken + 1)
            }
        }
    }

    /// Closes the packet under its lock; the balance is the refund, made once.
    public func expire(_ id: PacketID) throws -> ExpiryOutcome {
        let outcome = try arena.withPacket(id) { packet in
            arena.withLock(of: id) {
                let state = packet.ticketsRelaxed
                let balance = Fen(packet.balance(afterTaking: state.taken(of: packet.shares)))
                guard !state.refunded else { return ExpiryOutcome.alreadyRefunded(balance) }
                packet.storeTicketsRelaxed(state.refunding(shares: packet.shares))
                return .refunded(balance)
            }
        }
        if case .refunded = outcome { arena.noteRefunded(id, at: clock.nanoseconds) }   // unpinned: it may reclaim
        return outcome
    }

    /// Refunds every packet whose deadline has passed and that no `expire` refunded, each once (as
    /// `LockFreeEngine.expireDue`). - Returns: the packets refunded by this call, with their refunds.
    public func expireDue() -> [DueRefund] {
        DueRefund.sweep(arena.takeDue(now: clock.nanoseconds)) { try expire($0) }
    }

    /// `expire(_:)` under the caller's idempotency key: a retry with the key that refunded hears `.refunded` again.
    /// Keyed expiries of this engine take one lock (grabs never do). - Throws: `GrabEngineError.unknownPacket`.
    public func expire(_ id: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        try keyedExpiries.expire(id, key: idempotencyKey, isKnown: arena.contains) { try expire(id) }
    }

    /// The packet's account: an atomic snapshot (taken under the lock). O(shares).
    public func summary(of id: PacketID) throws -> PacketSummary {
        try arena.withPacket(id) { packet in
            arena.withLock(of: id) {
                let state = packet.ticketsRelaxed
                let taken = state.taken(of: packet.shares)
                let grabs = (0 ..< taken).map { packet.recordRelaxed($0)!.record(index: $0) }
                let balance = Fen(packet.balance(afterTaking: taken))
                return PacketSummary(packet: id, total: packet.total, shares: packet.shares, grabs: grabs,
                                     balance: balance, refund: state.refunded ? balance : nil)
            }
        }
    }

    /// Packets held: sent and not yet reclaimed.
    public var packetsHeld: Int { arena.livePackets }

    /// Bytes of packet memory allocated (as `LockFreeEngine.bytesInUse`).
    public var bytesInUse: Int { arena.bytesUsed }
}
