/// The in-process engine for service authors: no lock anywhere on the grab path, and no reference counting.
///
/// Implementation notes. Every packet lives in a `PacketArena`: a read-only header (deadline, seed, shares, cap,
/// its group's sorted members), the ticket word, one claim bit per member, one record word per share, and the
/// shares' amounts, drawn when the packet is sent (see `PacketLayout`). A grab by id finds the packet's words with
/// two acquiring loads and touches no object.
///
/// A grab (1) finds the member's dense index (a search of the group, read-only); (2) answers a sold-out or
/// closed packet from one load, without writing; (3) checks the deadline; (4) sets its claim bit with a fetch-or —
/// a member whose bit was already set is a retry, answered from the records; (5) takes a ticket with one fetch-add
/// of the ticket word: ticket n below the share count, on an open packet, is share n, whose amount was drawn at
/// send — double mean share after share from the packet's seed, the very amounts computing at grab time gives;
/// (6) writes its record at index n. Nothing retries: a compare-and-swap of a packed (count, balance) word, the
/// textbook design (lesson 4), throws a grab's work away whenever another grab got in first — on one hot packet
/// about once per grab on two cores — and a fetch-add never fails. Every grab finishes in a bounded number of its
/// own steps (wait-free), except a member's retry while its own first attempt is in flight.
///
/// Orderings. The claim fetch-or is acquiring-and-releasing, so a retry that sees the bit also sees the ticket
/// word the first attempt started from; the sold-out path loads the claim again after the ticket word, for the
/// reason given there. The ticket fetch-add and the close's CAS are acquiring-and-releasing: `expire` and
/// `summary` read records after them. Records are stored with releasing and loaded with acquiring ordering, so a
/// reader that sees a record sees the ticket that produced it.
///
/// Not guaranteed: a retry by a member whose first attempt is still between its ticket and its record store waits
/// (spinning, then yielding the processor) for that attempt to finish — only the same member ever waits on
/// itself. `summary` is not an atomic snapshot while grabs are under way.
///
/// Memory. A packet lives until its refund is recorded (`expire`, or `expireDue` once its deadline passed) and
/// `retention` more; then the arena reclaims it with epoch-based reclamation, safe while grabs are in flight (see
/// `PacketArena`, `EpochDomain`). A grab pins the calling thread with one store to its own cache line — no fence,
/// no read-modify-write; a thread's very first grab also registers it with the epoch domain (a lock and, once per
/// 64 threads, an allocation), after which its grabs take no lock and allocate nothing. Ids are never reused: a
/// reclaimed packet's id answers `unknownPacket`. Groups are stored once per content. There is no capacity: memory
/// is the only limit.
public final class LockFreeEngine: NonBlockingGrabEngine {
    public let name = "lock-free"
    let arena: PacketArena
    let clock: any PacketClock
    /// How long a refunded packet is kept (late callers hear its verdict) before its memory is reclaimed.
    public let retention: Duration
    let keyedExpiries = KeyedExpiries()
    /// Who sent which packet, and the packets keyed sends made.
    let sendOrigins = SendOrigins()
    /// The system clock is read directly, without the existential call (the common case, on every grab).
    private let usesSystemClock: Bool
    /// Where tests stop a grab (debug builds only; see `GrabPoint`).
    private let pause: (@Sendable (GrabPoint, MemberID) -> Void)?

    /// - Parameters:
    ///   - retention: how long a packet is kept after its refund is recorded (the Redis engine's default, a day);
    ///     after it, the packet's id answers `unknownPacket` and its memory is reused.
    ///   - clock: where expiry and retention read the time; inject a manual clock in tests.
    public init(retention: Duration = .defaultRetention, clock: any PacketClock = SystemPacketClock()) {
        arena = PacketArena(retention: retention.nanosecondsSaturated)
        self.retention = retention
        self.clock = clock
        usesSystemClock = clock is SystemPacketClock
        pause = nil
    }

    /// An engine whose grabs call `pause` at each `GrabPoint` they pass, with the grabbing member: the racy
    /// engine's `window` for the ticket engine. Tests block a grab there to force an interleaving — a ticket taken
    /// after the close, a member's twin grab, a close between a ticket and its record — deterministically. Only debug
    /// builds call it (as the Redis choke point injects faults in debug builds only): release grabs pay nothing.
    package init(retention: Duration = .defaultRetention, clock: any PacketClock = SystemPacketClock(),
                 pausing pause: @escaping @Sendable (GrabPoint, MemberID) -> Void)
    {
        arena = PacketArena(retention: retention.nanosecondsSaturated)
        self.retention = retention
        self.clock = clock
        usesSystemClock = clock is SystemPacketClock
        self.pause = pause
    }

    /// Creates the packet's words in the arena and publishes them under a new id. Takes the arena's lock (the send
    /// path only), where it also reclaims a few packets past their retention.
    /// - Throws: `GrabEngineError` (empty group, group too large, recipient).
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        let now = clock.nanoseconds
        return try arena.insert(try PacketPlan(id: PacketID(0), spec: spec, group: group, seed: seed, sentAt: now), now: now)
    }

    /// Sends a packet from `origin.sender`; a keyed send the sender already made answers with that packet.
    /// - Throws: as `send(_:to:seed:)`, and `GrabEngineError(.idempotencyConflict)` for a key reused with another
    ///   request.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64, origin: SendOrigin) throws -> SentPacket {
        try sendOrigins.send(origin, isKnown: arena.contains) { try send(spec, to: group, seed: seed) }
    }

    /// Whether `member` may grab `packet` (an exclusive packet's recipient only). - Throws: `unknownPacket`.
    public func isMember(_ member: MemberID, of packet: PacketID) throws -> Bool {
        try arena.withPacket(packet) { $0.grabberIndex(of: member) != nil }
    }

    /// The sender of `packet`, or nil if it was sent without one. - Throws: `GrabEngineError.unknownPacket`.
    public func sender(of packet: PacketID) throws -> MemberID? {
        guard arena.contains(packet) else { throw GrabEngineError(.unknownPacket, "no \(packet) in this engine") }
        return sendOrigins.origin(of: packet)?.sender
    }

    /// One grab, with the seq of the share the member holds (`grab(_:for:)` is its outcome). Wait-free: a
    /// member's grab finishes in a bounded number of its own steps (a retry waits only for the same member's first
    /// attempt). O(log group size); no allocation, no reference counting.
    /// - Returns: the outcome, by the rule documented on `GrabOutcome`, and the seq of the share held.
    /// - Throws: `GrabEngineError.unknownPacket` (never sent, or reclaimed after its retention).
    public func grabReceipt(_ id: PacketID, for member: MemberID) throws -> GrabReceipt {
        try arena.withPacket(id) { grab($0, for: member) }
    }

    @inline(__always)
    private func grab(_ packet: PacketWords, for member: MemberID) -> GrabReceipt {
        guard let index = packet.grabberIndex(of: member) else { return GrabReceipt(.notMember) }
        let shares = packet.shares
        // Sold-out fast path: losing needs no write. The member may have won a share before (or may be winning the
        // last one right now, in a twin grab), so look at its claim after the ticket word: the acquiring load that
        // saw the packet sold out synchronises with the last ticket's fetch-add (read-modify-writes continue a
        // release sequence), so a claim made before that ticket is visible now. (The claim is not loaded before:
        // on a hot packet every load of that line is a transfer between cores, and the fetch-or below answers a
        // retry anyway.)
        let state = packet.ticketsAcquiring
        if state.closed || state.tickets >= shares {
            if packet.isClaimedAcquiring(index) { return previousOutcome(of: member, in: packet) }
            return GrabReceipt(state.isSoldOut(shares: shares) ? .soldOut : .expired)
        }
        if (usesSystemClock ? SystemPacketClock().nanoseconds : clock.nanoseconds) >= packet.expiresAt {
            // Past the deadline: seal the packet before answering, so that no ticket taken after this instant wins.
            // A twin of this member that read the clock a moment earlier may still be on its way to its claim bit;
            // unsealed, it could win after this call said `.expired` — one member told both. Sealed, it either took
            // its ticket before the seal (its claim is then visible below: the seal's CAS reads from its fetch-add)
            // or it loses. The seal is not the refund: `expire` still records that, once.
            seal(packet)
            return packet.isClaimedAcquiring(index) ? previousOutcome(of: member, in: packet) : GrabReceipt(.expired)
        }
        if packet.claimAcquiringAndReleasing(index) {
            return previousOutcome(of: member, in: packet)  // the same member is grabbing concurrently
        }
        #if DEBUG
        pause?(.claimed, member)
        #endif
        let ticket = packet.takeTicket()
        if ticket.closed { return GrabReceipt(ticket.isSoldOut(shares: shares) ? .soldOut : .expired) }
        let share = ticket.tickets
        if share >= shares { return GrabReceipt(.soldOut) }
        let amount = packet.amount(ofShare: share)
        #if DEBUG
        pause?(.ticketed, member)
        #endif
        // release: the ticket that took the share precedes the record
        packet.storeRecordReleasing(RecordWord(member: member, amount: amount), at: share)
        return GrabReceipt(.granted(Fen(amount)), seq: share + 1)
    }

    /// The answer to a member whose claim bit was already set: its share if it won one, else why it did not.
    private func previousOutcome(of member: MemberID, in packet: PacketWords) -> GrabReceipt {
        let shares = packet.shares
        while true {
            let state = packet.ticketsAcquiring
            var allWritten = true
            for index in 0 ..< state.taken(of: shares) {
                guard let record = packet.recordAcquiring(index) else { allWritten = false; continue }
                if record.member == member { return GrabReceipt(.alreadyGrabbed(record.amount), seq: index + 1) }
            }
            // The first attempt either lost (the packet is sold out or closed) or is still in flight.
            if allWritten && state.isSoldOut(shares: shares) { return GrabReceipt(.soldOut) }
            if allWritten && state.closed { return GrabReceipt(.expired) }
            spinWait()
        }
    }

    /// Closes the packet (if a grab past the deadline has not sealed it already) and records its refund with one
    /// CAS on its ticket word; the shares taken when it closed leave the balance that is the refund, made once.
    /// Lock-free. - Throws: `GrabEngineError.unknownPacket`.
    public func expire(_ id: PacketID) throws -> ExpiryOutcome {
        let outcome = try arena.withPacket(id) { packet in
            let shares = packet.shares
            var state = packet.ticketsAcquiring
            while !state.refunded {
                let desired = state.refunding(shares: shares)
                let (won, found) = packet.compareExchangeTickets(expected: state, desired: desired)
                if won { return ExpiryOutcome.refunded(Fen(packet.balance(afterTaking: desired.taken(of: shares)))) }
                state = found
            }
            return .alreadyRefunded(Fen(packet.balance(afterTaking: state.taken(of: shares))))
        }
        if case .refunded = outcome { arena.noteRefunded(id, at: clock.nanoseconds) }   // unpinned: it may reclaim
        return outcome
    }

    /// Refunds every packet whose deadline has passed and that no `expire` refunded: each refund is returned once
    /// over the engine's life, however many callers sweep. Also reclaims every packet past its retention. Takes the
    /// arena's lock to find what is due (not the grab path). O(due · log live).
    /// - Returns: the packets refunded by this call, with their refunds.
    public func expireDue() -> [DueRefund] {
        DueRefund.sweep(arena.takeDue(now: clock.nanoseconds)) { try expire($0) }
    }
    /// Closes the packet without recording a refund (a grab found the deadline passed). Lock-free: a CAS that
    /// fails only because a ticket or another close got in, retried on the state it found.
    private func seal(_ packet: PacketWords) {
        var state = packet.ticketsAcquiring
        while !state.closed {
            let (won, found) = packet.compareExchangeTickets(expected: state, desired: state.closing(shares: packet.shares))
            if won { return }
            state = found
        }
    }

    /// `expire(_:)` under the caller's idempotency key: a retry with the key that refunded hears `.refunded` again.
    /// Keyed expiries of this engine take one lock (grabs never do). - Throws: `GrabEngineError.unknownPacket`.
    public func expire(_ id: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        try keyedExpiries.expire(id, key: idempotencyKey, isKnown: arena.contains) { try expire(id) }
    }

    /// The packet's account. NOT an atomic snapshot: grabs that have taken a share but not yet written their record
    /// are waited for, so every listed grab is complete. O(shares). - Throws: `GrabEngineError.unknownPacket`.
    public func summary(of id: PacketID) throws -> PacketSummary {
        try arena.withPacket(id) { packet in
            let state = packet.ticketsAcquiring
            let taken = state.taken(of: packet.shares)
            let grabs = (0 ..< taken).map { index in
                while true {
                    if let record = packet.recordAcquiring(index) { return record.record(index: index) }
                    spinWait()
                }
            }
            let balance = Fen(packet.balance(afterTaking: taken))
            return PacketSummary(packet: id, total: packet.total, shares: packet.shares, grabs: grabs,
                                 balance: balance, refund: state.refunded ? balance : nil)
        }
    }

    /// Packets held: sent and not yet reclaimed (live, or refunded and within their retention).
    public var packetsHeld: Int { arena.livePackets }

    /// Bytes of packet memory allocated (packets held, each group's members stored once per content, and memory
    /// retired but not yet freed).
    public var bytesInUse: Int { arena.bytesUsed }
}

extension LockFreeEngine: SenderTrackingGrabEngine {
    /// `send(_:to:seed:origin:)`, on the calling task (it never blocks for more than a short critical section).
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64, origin: SendOrigin) async throws -> SentPacket {
        try { try self.send(spec, to: group, seed: seed, origin: origin) }()
    }

    /// `isMember(_:of:)`, on the calling task.
    public func isMember(_ member: MemberID, of packet: PacketID) async throws -> Bool {
        try { try self.isMember(member, of: packet) }()
    }

    /// `sender(of:)`, on the calling task.
    public func sender(of packet: PacketID) async throws -> MemberID? {
        try { try self.sender(of: packet) }()
    }
}

/// A point on the lock-free engine's grab path where a test may stop a grab (`LockFreeEngine.init(pausing:)`).
package enum GrabPoint: Sendable {
    /// The member's claim bit is set; no ticket yet. A twin grab of the member waits here for this one; a close
    /// now makes the ticket this grab takes next a late one, which wins nothing.
    case claimed
    /// The ticket is a share; its record is not written yet. A close now counts the share as taken; a summary or
    /// a retry of the member waits for the record.
    case ticketed
}
