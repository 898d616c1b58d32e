import Synchronization

/// The baseline with a lock: each packet's words behind its own `Mutex`. Packets live in the same arena as
/// `LockFreeEngine`'s, with the same layout and the same lookup, so the two differ only in how one packet is
/// guarded: here the claim, the check, the share and the record happen under the packet's lock, with plain
/// (relaxed) accesses that the lock orders.
public final class MutexEngine: NonBlockingGrabEngine {
    public let name = "mutex"
    private let arena: PacketArena
    private let clock: any PacketClock

    /// - Parameters: capacity: packets over the engine's life; clock: where expiry reads the time.
    public init(capacity: Int = 1 << 24, clock: any PacketClock = SystemPacketClock()) {
        arena = PacketArena(capacity: capacity, locks: true)
        self.clock = clock
    }

    /// Creates the packet's words in the arena and publishes them under a new id.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try arena.insert(try PacketPlan(id: PacketID(0), spec: spec, group: group, seed: seed, sentAt: clock.nanoseconds))
    }

    /// One grab, with the seq of the share the member holds (`grab(_:for:)` is its outcome), under the packet's
    /// lock (held for a few dozen instructions; never across a call out). Membership is checked before the lock:
    /// it reads only the packet's read-only header.
    /// - Returns: the outcome, by the rule documented on `GrabOutcome`. - Throws: `GrabEngineError.unknownPacket`.
    public func grabReceipt(_ id: PacketID, for member: MemberID) throws -> GrabReceipt {
        let packet = try arena.packet(id)
        guard let index = packet.grabberIndex(of: member) else { return GrabReceipt(.notMember) }
        let now = clock.nanoseconds
        return arena.withLock(of: id) {
            let state = packet.stateRelaxed
            if packet.claimRelaxed(index) {
                for share in 0 ..< packet.shares - state.remaining {
                    if let record = packet.recordRelaxed(share), record.member == member {
                        return GrabReceipt(.alreadyGrabbed(record.amount), seq: share + 1)
                    }
                }
            }
            if state.remaining == 0 { return GrabReceipt(.soldOut) }
            if state.closed || now >= packet.expiresAt { return GrabReceipt(.expired) }
            let shareIndex = packet.shares - state.remaining
            let amount = packet.amount(ofShare: shareIndex, balance: state.balance, remaining: Int64(state.remaining))
            packet.storeStateRelaxed(state.taking(amount))
            packet.storeRecordRelaxed(RecordWord(member: member, amount: amount), at: shareIndex)
            return GrabReceipt(.granted(Fen(amount)), seq: shareIndex + 1)
        }
    }

    /// Closes the packet under its lock; the balance is the refund, made once.
    public func expire(_ id: PacketID) throws -> ExpiryOutcome {
        let packet = try arena.packet(id)
        return arena.withLock(of: id) {
            let state = packet.stateRelaxed
            guard !state.closed else { return .alreadyRefunded(Fen(state.balance)) }
            packet.storeStateRelaxed(state.closing)
            return .refunded(Fen(state.balance))
        }
    }

    /// The packet's account: an atomic snapshot (taken under the lock). O(shares).
    public func summary(of id: PacketID) throws -> PacketSummary {
        let packet = try arena.packet(id)
        return arena.withLock(of: id) {
            let state = packet.stateRelaxed
            let grabs = (0 ..< packet.shares - state.remaining).map { packet.recordRelaxed($0)!.record(index: $0) }
            return PacketSummary(packet: id, total: packet.total, shares: packet.shares, grabs: grabs,
                                 balance: Fen(state.balance), refund: state.closed ? Fen(state.balance) : nil)
        }
    }
}
