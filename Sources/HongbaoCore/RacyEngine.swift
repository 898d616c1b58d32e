import Synchronization

/// UNSAFE — FOR TEACHING ONLY. Oversells under concurrency; never use it to pay anyone.
///
/// It takes a share by check-then-act: it *loads* the packet's state, decides there is a share left, computes
/// the amount, and then *stores* the new state — two separate atomic operations. Two grabbers that both load
/// before either stores both see the same share and both win it: more winners than shares, and money paid that
/// the packet never had. There is no undefined behaviour (every access is atomic); the race is in the logic,
/// which is the lesson. `LockFreeEngine` closes the window by making the check and the act one atomic step (a
/// fetch-add that hands out the share; lesson 4 shows the compare-and-swap version too).
///
/// Who won is recorded exactly, so that the evidence of the race is exact: each member claims a bit with a
/// fetch-or (a member wins at most once) and every win is appended to a log by a fetch-add. The race under study is
/// only the state word's. `window`, if given, runs between the check and the act: tests and the classroom use
/// it to force the interleaving that oversells, deterministically.
package final class UnsafeRacyEngine: NonBlockingGrabEngine {
    package let name = "racy (unsafe)"
    private let directory: PacketDirectory<Packet>
    private let clock: any PacketClock
    private let keyedExpiries = KeyedExpiries()
    private let window: (@Sendable (MemberID) -> Void)?

    /// - Parameters: clock: where expiry reads the time; window: runs between the check and the act of every grab
    ///   (to force an interleaving). Keeps every packet for the engine's life (up to 2^26 of them): it is a lesson,
    ///   not a service.
    package init(clock: any PacketClock = SystemPacketClock(), window: (@Sendable (MemberID) -> Void)? = nil) {
        directory = PacketDirectory()
        self.clock = clock
        self.window = window
    }

    /// Words: 0 = how many wins are logged; 1 ..< 1+g = claim bits; then the log of wins (`RecordWord`s).
    private final class Packet: Sendable {
        let plan: PacketPlan
        let state: Atomic<UInt64>
        let words: AtomicWords
        let logBase: Int

        init(plan: PacketPlan) {
            self.plan = plan
            state = Atomic(PackedState(remaining: plan.spec.shares, balance: plan.spec.total.rawValue).rawValue)
            logBase = 1 + (plan.group.count + 63) / 64
            words = AtomicWords(count: logBase + plan.group.count)   // a member wins at most once
        }

        /// The logged wins, waiting for any whose entry is claimed but not yet written.
        var records: [GrabRecord] {
            let count = Int(words.loadAcquiring(0))
            return (0 ..< count).map { index in
                while true {
                    // acquire: pairs with the log store
                    if let entry = RecordWord(rawValue: words.loadAcquiring(logBase + index)) { return entry.record(index: index) }
                    spinWait()
                }
            }
        }
    }

    /// Creates the packet.
    package func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        let sentAt = clock.nanoseconds
        return try directory.insert { id in Packet(plan: try PacketPlan(id: id, spec: spec, group: group, seed: seed, sentAt: sentAt)) }
    }

    /// One grab by check-then-act: OVERSELLS under concurrency (see the type's notes).
    package func grab(_ id: PacketID, for member: MemberID) throws -> GrabOutcome {
        let packet = try packet(id)
        let plan = packet.plan
        guard let index = plan.grabberIndex(of: member) else { return .notMember }
        let bit: UInt64 = 1 << UInt64(index & 63)
        if packet.words.bitwiseOrAcquiringAndReleasing(bit, at: 1 + index >> 6) & bit != 0 {
            return packet.records.first { $0.member == member }.map { .alreadyGrabbed($0.amount) } ?? .soldOut
        }
        if clock.nanoseconds >= plan.expiresAt { return .expired }
        // Check: is there a share left?
        let state = PackedState(rawValue: packet.state.load(ordering: .acquiring))
        if state.closed { return .expired }
        guard state.remaining > 0 else { return .soldOut }
        let shareIndex = plan.spec.shares - state.remaining
        let amount = plan.amount(ofShare: shareIndex, balance: state.balance, remaining: Int64(state.remaining))
        window?(member)  // the race window: another grabber can check here and see the same share
        // Act: take it — overwriting whatever another grabber stored since our check.
        packet.state.store(state.taking(amount).rawValue, ordering: .releasing)
        let slot = Int(packet.words.wrappingAddAcquiringAndReleasing(1, at: 0))
        // release: the log count is taken before the entry is written; readers wait for the entry
        packet.words.storeReleasing(RecordWord(member: member, amount: amount).rawValue, at: packet.logBase + slot)
        return .granted(Fen(amount))
    }

    /// One grab with the seq of the share the member holds (its place in the log of wins). OVERSELLS too.
    package func grabReceipt(_ id: PacketID, for member: MemberID) throws -> GrabReceipt {
        let outcome = try grab(id, for: member)
        guard outcome.share != nil else { return GrabReceipt(outcome) }
        // A win is logged before its grab returns, and a member wins at most once: its record is there.
        return GrabReceipt(outcome, seq: try packet(id).records.first { $0.member == member }!.seq)
    }

    /// Closes the packet, also by check-then-act.
    package func expire(_ id: PacketID) throws -> ExpiryOutcome {
        let packet = try packet(id)
        let state = PackedState(rawValue: packet.state.load(ordering: .acquiring))
        guard !state.closed else { return .alreadyRefunded(Fen(state.balance)) }
        packet.state.store(state.closing.rawValue, ordering: .releasing)  // racy too: check-then-act
        return .refunded(Fen(state.balance))
    }

    /// `expire(_:)` under the caller's idempotency key: a retry with the key that refunded hears `.refunded` again.
    /// Keyed expiries of this engine take one lock (grabs never do). - Throws: `GrabEngineError.unknownPacket`.
    package func expire(_ id: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        try keyedExpiries.expire(id, key: idempotencyKey, isKnown: { _ in true }) { try expire(id) }
    }

    /// Every win logged, including the oversold ones.
    package func summary(of id: PacketID) throws -> PacketSummary {
        let packet = try packet(id)
        let state = PackedState(rawValue: packet.state.load(ordering: .acquiring))
        return PacketSummary(packet: id, total: packet.plan.spec.total, shares: packet.plan.spec.shares,
                             grabs: packet.records, balance: Fen(state.balance),
                             refund: state.closed ? Fen(state.balance) : nil)
    }

    private func packet(_ id: PacketID) throws -> Packet {
        guard let packet = directory[id] else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return packet
    }
}
