/// The in-process engine for service authors: no lock anywhere on the grab path, and no reference counting.
///
/// Implementation notes. Every packet lives in a `PacketArena`: a read-only header (deadline, seed, shares, cap,
/// its group's sorted members), then the state word, one claim bit per member, and one record word per share
/// (see `PacketLayout`). A grab by id finds the packet's words with two acquiring loads and touches no object.
///
/// A grab (1) finds the member's dense index (a search of the group, read-only); (2) answers a sold-out or
/// closed packet from one load, without writing; (3) checks the deadline; (4) sets its claim bit with a fetch-or —
/// a member whose bit was already set is a retry, answered from the records; (5) takes a share with one
/// compare-and-swap of the state word, computing the amount from the count and balance it replaces (double mean
/// at grab) or reading it from the pre-split amounts by grab index; (6) writes its record at that index.
/// Every grab by a distinct member is lock-free: a CAS fails only because another grab succeeded.
///
/// Orderings. The claim fetch-or is acquiring-and-releasing, so a retry that sees the bit also sees the state the
/// first attempt started from; the sold-out path loads the claim again after the state, for the reason given
/// there. The state CAS is acquiring-and-releasing: it publishes nothing else, but `expire` and `summary` read
/// records after it. Records are stored with releasing and loaded with acquiring ordering, so a reader that sees
/// a record sees the state change that produced it.
///
/// Not guaranteed: a retry by a member whose first attempt is still between its CAS and its record store waits
/// (spinning, then yielding the processor) for that attempt to finish — only the same member ever waits on
/// itself. `summary` is not an atomic snapshot while grabs are under way. Memory is released with the engine.
public final class LockFreeEngine: NonBlockingGrabEngine {
    public let name = "lock-free"
    let arena: PacketArena
    let clock: any PacketClock
    /// The system clock is read directly, without the existential call (the common case, on every grab).
    private let usesSystemClock: Bool

    /// - Parameters:
    ///   - capacity: how many packets the engine can hold over its life.
    ///   - clock: where expiry reads the time; inject a manual clock in tests.
    public init(capacity: Int = 1 << 24, clock: any PacketClock = SystemPacketClock()) {
        arena = PacketArena(capacity: capacity)
        self.clock = clock
        usesSystemClock = clock is SystemPacketClock
    }

    /// Creates the packet's words in the arena and publishes them under a new id. Takes the arena's lock (the send
    /// path only). - Throws: `GrabEngineError` (capacity, empty group, recipient).
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try arena.insert(try PacketPlan(id: PacketID(0), spec: spec, group: group, seed: seed, sentAt: clock.nanoseconds))
    }

    /// One grab, with the seq of the share the member holds (`grab(_:for:)` is its outcome). Lock-free: a distinct
    /// member's grab finishes in a bounded number of its own steps unless another grab keeps winning the CAS.
    /// O(log group size); no allocation, no reference counting.
    /// - Returns: the outcome, by the rule documented on `GrabOutcome`, and the seq of the share held.
    /// - Throws: `GrabEngineError.unknownPacket`.
    public func grabReceipt(_ id: PacketID, for member: MemberID) throws -> GrabReceipt {
        let packet = try arena.packet(id)
        guard let index = packet.grabberIndex(of: member) else { return GrabReceipt(.notMember) }
        // Sold-out fast path: losing needs no write. The member may have won a share before (or may be winning the
        // last one right now, in a twin grab), so look at its claim after the state: the acquiring state load that
        // saw the packet sold out synchronises with the last win's CAS (the later CASes continue its release
        // sequence), so a claim made before that win is visible now. (The claim is not loaded before the state:
        // on a hot packet every load of the state's line is a transfer between cores, and the fetch-or below
        // answers a retry anyway.)
        var state = packet.stateAcquiring
        if state.remaining == 0 || state.closed {
            if packet.isClaimedAcquiring(index) { return previousOutcome(of: member, in: packet) }
            return GrabReceipt(state.remaining == 0 ? .soldOut : .expired)
        }
        if (usesSystemClock ? SystemPacketClock().nanoseconds : clock.nanoseconds) >= packet.expiresAt {
            return packet.isClaimedAcquiring(index) ? previousOutcome(of: member, in: packet) : GrabReceipt(.expired)
        }
        if packet.claimAcquiringAndReleasing(index) {
            return previousOutcome(of: member, in: packet)  // the same member is grabbing concurrently
        }
        let shares = packet.shares
        while true {
            if state.remaining == 0 { return GrabReceipt(.soldOut) }
            if state.closed { return GrabReceipt(.expired) }
            let shareIndex = shares &- state.remaining
            let amount = packet.amount(ofShare: shareIndex, balance: state.balance, remaining: Int64(state.remaining))
            let (won, found) = packet.compareExchangeState(expected: state, desired: state.taking(amount))
            if won {
                // release: the CAS that took the share precedes the record
                packet.storeRecordReleasing(RecordWord(member: member, amount: amount), at: shareIndex)
                return GrabReceipt(.granted(Fen(amount)), seq: shareIndex + 1)
            }
            state = found
        }
    }

    /// The answer to a member whose claim bit was already set: its share if it won one, else why it did not.
    private func previousOutcome(of member: MemberID, in packet: PacketWords) -> GrabReceipt {
        let shares = packet.shares
        while true {
            let state = packet.stateAcquiring
            var allWritten = true
            for index in 0 ..< shares - state.remaining {
                guard let record = packet.recordAcquiring(index) else { allWritten = false; continue }
                if record.member == member { return GrabReceipt(.alreadyGrabbed(record.amount), seq: index + 1) }
            }
            // The first attempt either lost (the packet is sold out or closed) or is still in flight.
            if allWritten && state.remaining == 0 { return GrabReceipt(.soldOut) }
            if allWritten && state.closed { return GrabReceipt(.expired) }
            spinWait()
        }
    }

    /// Closes the packet with one CAS on its state; the balance at that instant is the refund, made once.
    /// Lock-free. - Throws: `GrabEngineError.unknownPacket`.
    public func expire(_ id: PacketID) throws -> ExpiryOutcome {
        let packet = try arena.packet(id)
        var state = packet.stateAcquiring
        while !state.closed {
            let (closed, found) = packet.compareExchangeState(expected: state, desired: state.closing)
            if closed { return .refunded(Fen(state.balance)) }
            state = found
        }
        return .alreadyRefunded(Fen(state.balance))
    }

    /// The packet's account. NOT an atomic snapshot: grabs that have taken a share but not yet written their record
    /// are waited for, so every listed grab is complete. O(shares). - Throws: `GrabEngineError.unknownPacket`.
    public func summary(of id: PacketID) throws -> PacketSummary {
        let packet = try arena.packet(id)
        let state = packet.stateAcquiring
        let grabs = (0 ..< packet.shares - state.remaining).map { index in
            while true {
                if let record = packet.recordAcquiring(index) { return record.record(index: index) }
                spinWait()
            }
        }
        return PacketSummary(packet: id, total: packet.total, shares: packet.shares, grabs: grabs,
                             balance: Fen(state.balance), refund: state.closed ? Fen(state.balance) : nil)
    }

    /// Bytes of packet memory in use (every packet's words and each group's members, stored once per group).
    public var bytesInUse: Int { arena.bytesUsed }
}
