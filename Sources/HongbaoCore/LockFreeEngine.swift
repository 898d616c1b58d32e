import Synchronization

/// The in-process engine for service authors: no lock anywhere on the grab path.
///
/// Implementation notes. Each packet is a `PacketPlan` (read-only) and a run of atomic words — the first 16
/// inline in the packet object, the rest in an `AtomicWords` tail — laid out as
///
///     word 0                  PackedState: closed bit, remaining count, balance
///     words 1 ..< 1+g         claim bitset, one bit per group member (g = ⌈group size / 64⌉)
///     words 1+g ..< 1+g+n     winner records in grab order: member << 32 | amount; 0 = not yet written
///
/// A grab (1) finds the member's dense index in the group (binary search, read-only); (2) answers a sold-out or
/// closed packet from one load, without writing; (3) sets its claim bit with
/// a fetch-or — a member whose bit was already set is a retry, answered from the records; (4) takes a share with
/// one compare-and-swap of the state word, computing the amount from the count and balance it replaces (double
/// mean at grab) or reading it from the pre-split list by grab index; (5) writes its record at that index.
/// Every grab by a distinct member is lock-free: a CAS fails only because another grab succeeded.
///
/// Orderings. The claim fetch-or is acquiring-and-releasing, so a retry that sees the bit also sees the state the
/// first attempt started from; the sold-out path loads the claim again after the state, for the reason given
/// there. The state CAS is acquiring-and-releasing: it publishes nothing else, but `expire`
/// and `summary` read records after it. Records are stored with releasing and loaded with acquiring ordering, so
/// a reader that sees a record sees the state change that produced it.
///
/// Not guaranteed: a retry by a member whose first attempt is still between its CAS and its record store waits
/// (spinning, then yielding the processor) for that attempt to finish — only the same member ever waits on
/// itself. `summary` is not an atomic snapshot while grabs are under way.
public final class LockFreeEngine: NonBlockingGrabEngine {
    public let name = "lock-free"
    @usableFromInline let directory: PacketDirectory<Packet>
    @usableFromInline let clock: any PacketClock

    /// - Parameters:
    ///   - capacity: how many packets the engine can hold over its life.
    ///   - clock: where expiry reads the time; inject a manual clock in tests.
    public init(capacity: Int = 1 << 24, clock: any PacketClock = SystemPacketClock()) {
        directory = PacketDirectory(capacity: capacity)
        self.clock = clock
    }

    @usableFromInline
    final class Packet: Sendable {
        @usableFromInline let plan: PacketPlan
        /// Words 0 ..< 16, inline in the packet: the state and, for groups of up to 960 members, every claim
        /// word, so the hot words are reached without another object (and its reference count).
        @usableFromInline let head: InlineArray<16, Atomic<UInt64>>
        /// Words 16 ..< total.
        @usableFromInline let tail: AtomicWords
        @usableFromInline let recordBase: Int

        init(plan: PacketPlan) {
            self.plan = plan
            recordBase = 1 + (plan.group.count + 63) / 64
            head = InlineArray { _ in Atomic<UInt64>(0) }
            tail = AtomicWords(count: max(0, recordBase + plan.spec.shares - 16))
            head[0].store(PackedState(remaining: plan.spec.shares, balance: plan.spec.total.rawValue).rawValue,
                          ordering: .relaxed)  // relaxed: the directory's publication orders it
        }

        // Word access by layout position; words below 16 are inline, the rest in `tail`.

        @inlinable func loadAcquiring(_ index: Int) -> UInt64 {
            index < 16 ? head[index].load(ordering: .acquiring) : tail.loadAcquiring(index &- 16)
        }

        @inlinable func storeReleasing(_ value: UInt64, at index: Int) {
            if index < 16 { head[index].store(value, ordering: .releasing) } else { tail.storeReleasing(value, at: index &- 16) }
        }

        @inlinable func bitwiseOrAcquiringAndReleasing(_ bits: UInt64, at index: Int) -> UInt64 {
            index < 16 ? head[index].bitwiseOr(bits, ordering: .acquiringAndReleasing).oldValue
                : tail.bitwiseOrAcquiringAndReleasing(bits, at: index &- 16)
        }

        @inlinable var state: PackedState { PackedState(rawValue: head[0].load(ordering: .acquiring)) }

        @inlinable
        func record(_ index: Int) -> GrabRecord? {
            let word = loadAcquiring(recordBase + index)  // acquire: pairs with the record store
            guard word != 0 else { return nil }
            return GrabRecord(seq: index + 1, member: MemberID(UInt32(truncatingIfNeeded: word >> 32)),
                              amount: Fen(Int64(word & 0xFFFF_FFFF)))
        }

        /// The records of every share taken so far, waiting for the ones whose grab is between CAS and store.
        func completedRecords(taken: Int) -> [GrabRecord] {
            (0 ..< taken).map { index in
                while true {
                    if let record = record(index) { return record }
                    spinWait()
                }
            }
        }
    }

    /// Creates the packet (its plan, and its words) and publishes it under a new id. Takes a lock only when the
    /// directory needs a new page of 1,024 ids. - Throws: `GrabEngineError` (capacity, empty group, recipient).
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        let sentAt = clock.nanoseconds
        return try directory.insert { id in Packet(plan: try PacketPlan(id: id, spec: spec, group: group, seed: seed, sentAt: sentAt)) }
    }

    /// One grab. Lock-free: a distinct member's grab finishes in a bounded number of its own steps unless another
    /// grab keeps winning the CAS. O(log group size). - Throws: `GrabEngineError.unknownPacket`.
    @inlinable
    public func grab(_ id: PacketID, for member: MemberID) throws -> GrabOutcome {
        let outcome: GrabOutcome? = directory.withElement(id) { packet in
            guard let packet else { return nil }
            return grab(packet, for: member)
        }
        guard let outcome else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return outcome
    }

    @inlinable
    func grab(_ packet: borrowing Packet, for member: MemberID) -> GrabOutcome {
        guard let index = packet.plan.grabberIndex(of: member) else { return .notMember }
        let claimWord = 1 + index &>> 6
        let bit: UInt64 = 1 << UInt64(index & 63)
        if packet.loadAcquiring(claimWord) & bit != 0 {
            return previousOutcome(of: member, in: packet)
        }
        // Sold-out fast path: losing needs no write. But the same member may have claimed and won the last share
        // between our claim load and our state load, so look at the claim again: the acquiring state load that saw
        // the packet sold out synchronises with that win's CAS (the later CASes continue its release sequence), so
        // a claim made before the win is visible now.
        let seen = packet.state
        if seen.closed || seen.remaining == 0 {
            if packet.loadAcquiring(claimWord) & bit != 0 { return previousOutcome(of: member, in: packet) }
            return seen.closed ? .expired : .soldOut
        }
        if clock.nanoseconds >= packet.plan.expiresAt { return .expired }
        if packet.bitwiseOrAcquiringAndReleasing(bit, at: claimWord) & bit != 0 {
            return previousOutcome(of: member, in: packet)  // the same member is grabbing concurrently
        }
        var state = packet.state
        while true {
            if state.closed { return .expired }
            let remaining = state.remaining
            if remaining == 0 { return .soldOut }
            let shareIndex = packet.plan.spec.shares - remaining
            let amount = packet.plan.amount(ofShare: shareIndex, balance: state.balance, remaining: Int64(remaining))
            let (won, current) = packet.head[0].compareExchange(
                expected: state.rawValue, desired: state.taking(amount).rawValue, ordering: .acquiringAndReleasing)
            if won {
                // release: the CAS that took the share precedes the record
                packet.storeReleasing(UInt64(member.rawValue) << 32 | UInt64(amount), at: packet.recordBase + shareIndex)
                return .granted(Fen(amount))
            }
            state = PackedState(rawValue: current)
        }
    }

    /// The answer to a member whose claim bit was already set: its share if it won one, else why it did not.
    @usableFromInline
    func previousOutcome(of member: MemberID, in packet: borrowing Packet) -> GrabOutcome {
        while true {
            let state = packet.state
            let taken = packet.plan.spec.shares - state.remaining
            var allWritten = true
            for index in 0 ..< taken {
                guard let record = packet.record(index) else { allWritten = false; continue }
                if record.member == member { return .alreadyGrabbed(record.amount) }
            }
            // The first attempt either lost (the packet is sold out or closed) or is still in flight.
            if allWritten && state.closed { return .expired }
            if allWritten && state.remaining == 0 { return .soldOut }
            spinWait()
        }
    }

    /// Closes the packet with one CAS on its state; the balance at that instant is the refund, made once.
    /// Lock-free. - Throws: `GrabEngineError.unknownPacket`.
    public func expire(_ id: PacketID) throws -> ExpiryOutcome {
        let packet = try packet(id)
        var state = packet.state
        while !state.closed {
            let (closed, current) = packet.head[0].compareExchange(
                expected: state.rawValue, desired: state.closing.rawValue, ordering: .acquiringAndReleasing)
            if closed { return .refunded(Fen(state.balance)) }
            state = PackedState(rawValue: current)
        }
        return .alreadyRefunded(Fen(state.balance))
    }

    /// The packet's account. NOT an atomic snapshot: grabs that have taken a share but not yet written their record
    /// are waited for, so every listed grab is complete. O(shares). - Throws: `GrabEngineError.unknownPacket`.
    public func summary(of id: PacketID) throws -> PacketSummary {
        let packet = try packet(id)
        let state = packet.state
        let spec = packet.plan.spec
        return PacketSummary(packet: id, total: spec.total, shares: spec.shares,
                             grabs: packet.completedRecords(taken: spec.shares - state.remaining),
                             balance: Fen(state.balance), refund: state.closed ? Fen(state.balance) : nil)
    }

    /// A packet held by the caller, for a hot packet that one thread grabs from again and again: grabs through a
    /// handle skip the lookup by id, and with it the reference counting of the directory's shared objects (on a hot
    /// packet, contended atomics on every grab).
    public struct Handle: Sendable {
        @usableFromInline let packet: Packet
        public var id: PacketID { packet.plan.id }
    }

    /// The handle of a packet. - Throws: `GrabEngineError.unknownPacket`.
    public func handle(for id: PacketID) throws -> Handle { Handle(packet: try packet(id)) }

    /// One grab through a handle: the same as `grab(_:for:)` by id, without the lookup.
    @inlinable
    public func grab(_ handle: borrowing Handle, for member: MemberID) -> GrabOutcome {
        grab(handle.packet, for: member)
    }

    /// The plan a packet was created with.
    public func plan(of id: PacketID) throws -> PacketPlan { try packet(id).plan }

    private func packet(_ id: PacketID) throws -> Packet {
        guard let packet = directory[id] else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return packet
    }
}

/// Gives the processor (and, when spun long, the scheduler) to others while waiting for another thread to finish
/// a step it has started. Only retries of the same member and `summary` ever wait.
@usableFromInline
func spinWait() {
    for _ in 0 ..< 64 { _ = SplitMix64.mix(0) }
    yieldThread()
}
