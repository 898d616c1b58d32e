/// The lock-free engine made durable: every send, every granted grab and every refund is written to a journal,
/// and a call returns only once what it changed — and every change it saw — is durable. Opening the engine on an
/// existing journal rebuilds every packet first: its shares, who won which (same seq, same amount), its refund.
///
/// How. Each call makes its change in the wrapped `LockFreeEngine` and appends its entry inside the journal's
/// `serially`, under one lock, so the journal's order is the order of the changes and replaying it gives back the
/// same state (the LMAX design: business logic in memory, one input journal). The call then waits for its position
/// to be durable; the journal's thread writes whatever has been appended meanwhile in one write and one sync
/// (group commit), so throughput comes from calls in flight, not from a fast disk. The lock covers a grab's
/// few hundred nanoseconds, never the write.
///
/// What a caller can rely on (README, "A crash loses nothing acknowledged"):
/// - every answer it received survives a crash: a winner hears `.alreadyGrabbed` with the same amount after a
///   restart, a refunded packet `.alreadyRefunded` with the same refund;
/// - a call in flight when the process died may or may not have happened, but never half and never twice;
/// - in the journal's buffered mode, answers come before the sync: a crash can lose the last interval's changes.
///
/// If a write fails (a full disk, an I/O error) the calls it carried fail, and so does every call after it: the
/// memory may hold changes the journal does not, so the engine stops (as PostgreSQL does after a failed fsync)
/// and is reopened on the journal, which holds everything acknowledged.
///
/// The synchronous API (`GrabEngine`, `BatchGrabEngine`) blocks its thread until its group commit; in Swift
/// concurrency use the `async` API, which suspends instead.
public final class JournaledEngine: BatchGrabEngine, DueSweepingGrabEngine, SenderTrackingGrabEngine {
    public let name = "journaled"
    private let inner: LockFreeEngine
    /// The journal it writes to.
    package let journal: any GrabJournal
    private let clock: any PacketClock
    /// Entries applied when the engine was opened: a snapshot's packets, each with its winners and refund, and
    /// the entries after it.
    public let recoveredEntries: Int

    /// Opens the engine on `journal`: replays it (its latest snapshot, then every entry after it) before any call
    /// is served, then hands it the engine's snapshots.
    /// - Parameters:
    ///   - retention: how long a refunded packet is kept before it is forgotten — by the engine and by the
    ///     journal's next snapshot.
    ///   - clock: where deadlines, refunds and retention read the time.
    /// - Throws: `JournalError` when the journal cannot be read, or a value in it contradicts the state before it.
    public init(journal: any GrabJournal, retention: Duration = .defaultRetention,
                clock: any PacketClock = SystemPacketClock()) throws
    {
        let inner = LockFreeEngine(retention: retention, clock: clock)
        var replayed = 0
        let floor = try journal.recover { entry in
            try inner.replay(entry)
            let records = if case .packet(let image) = entry { 1 + image.winners.count + (image.refund == nil ? 0 : 1) } else { 1 }
            replayed += records
        }
        recoveredEntries = replayed
        inner.arena.finishRestore(generationFloor: floor)
        inner.arena.reclaimDue(now: clock.nanoseconds)   // what passed its retention before the restart
        journal.takeSnapshots { [inner, clock] in inner.startSnapshot(clock: clock) }
        self.inner = inner
        self.journal = journal
        self.clock = clock
    }

    /// Writes what is pending and closes the journal; calls after it throw `JournalError.closed`.
    public func close() { journal.close() }

    // MARK: The changes, each made and journaled under the journal's lock

    private func sendInMemory(_ packets: [OutgoingPacket]) throws -> ([PacketID], JournalPosition) {
        var ids: [PacketID] = []
        ids.reserveCapacity(packets.count)
        let position = try journal.serially { entries in
            for packet in packets {
                let id = try inner.send(packet.spec, to: packet.group, seed: packet.seed)
                ids.append(id)
                entries.append(.sent(inner.image(of: id, refundedAt: 0)!))   // just sent: held
            }
        }
        return (ids, position)
    }

    /// A send from `origin` under the journal's lock: a keyed send its sender already made answers with that
    /// packet and journals nothing (the position returned covers the entry that made it).
    private func sendInMemory(_ spec: PacketSpec, to group: Group, seed: UInt64, origin: SendOrigin) throws -> (SentPacket, JournalPosition) {
        var sent: SentPacket?
        let position = try journal.serially { entries in
            if let replayed = try inner.sendOrigins.replay(of: origin, isKnown: inner.arena.contains) {
                sent = replayed
                return
            }
            let id = try inner.send(spec, to: group, seed: seed)
            inner.sendOrigins.record(id, origin, isKnown: inner.arena.contains)
            entries.append(.sent(inner.image(of: id, refundedAt: 0)!))   // just sent: held; the image has its origin
            sent = SentPacket(id: id, replayed: false)
        }
        return (sent!, position)
    }

    private func grabInMemory(_ requests: some Sequence<GrabRequest>) throws -> ([GrabReceipt], JournalPosition) {
        var receipts: [GrabReceipt] = []
        let position = try journal.serially { entries in
            for request in requests {
                let receipt = try inner.grabReceipt(request.packet, for: request.member)
                if case .granted(let amount) = receipt.outcome, let seq = receipt.seq {
                    entries.append(.granted(request.packet, share: seq - 1, member: request.member, amount: amount))
                }
                receipts.append(receipt)
            }
        }
        return (receipts, position)
    }

    private func expireInMemory(_ packets: [PacketID], key: IdempotencyKey? = nil) throws -> ([ExpiryOutcome], JournalPosition) {
        var outcomes: [ExpiryOutcome] = []
        let position = try journal.serially { entries in
            for packet in packets {
                var outcome = try inner.expire(packet)
                switch outcome {
                case .refunded(let amount):
                    if let key { inner.keyedExpiries.record(packet, key: key, isKnown: inner.arena.contains) }
                    entries.append(.refunded(packet, JournaledRefund(amount: amount, at: refundTime(of: packet), key: key)))
                case .alreadyRefunded(let amount):
                    if let key, inner.keyedExpiries.key(of: packet) == key { outcome = .refunded(amount) }
                }
                outcomes.append(outcome)
            }
        }
        return (outcomes, position)
    }

    private func expireDueInMemory() throws -> ([DueRefund], JournalPosition) {
        var refunds: [DueRefund] = []
        let position = try journal.serially { entries in
            refunds = inner.expireDue()
            for refund in refunds {
                entries.append(.refunded(refund.packet, JournaledRefund(amount: refund.refund, at: refundTime(of: refund.packet), key: nil)))
            }
        }
        return (refunds, position)
    }

    /// When the arena noted the refund just made (under the journal's lock: the packet is still held).
    private func refundTime(of packet: PacketID) -> Int64 {
        inner.arena.refundTime(of: packet) ?? clock.nanoseconds
    }

    private func summariesInMemory(_ packets: [PacketID]) throws -> ([PacketSummary], JournalPosition) {
        var summaries: [PacketSummary] = []
        let position = try journal.serially { _ in summaries = try packets.map(inner.summary(of:)) }
        return (summaries, position)
    }

    // MARK: GrabEngine and BatchGrabEngine: block until the group commit

    /// Sends a packet; returns once its entry is durable. - Throws: as `LockFreeEngine.send`, or `JournalError`.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try send([OutgoingPacket(spec, to: group, seed: seed)])[0]
    }
    /// Sends the packets in one group commit. - Throws: as `send(_:to:seed:)`.
    public func send(_ packets: [OutgoingPacket]) throws -> [PacketID] {
        let (ids, position) = try sendInMemory(packets)
        try journal.waitUntilDurable(position)
        return ids
    }
    /// One grab; returns once its grant (or what it saw) is durable. - Throws: `unknownPacket`, `JournalError`.
    public func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        try grabReceipt(packet, for: member).outcome
    }
    /// One grab with the seq of the share held. - Throws: as `grab(_:for:)`.
    public func grabReceipt(_ packet: PacketID, for member: MemberID) throws -> GrabReceipt {
        let (receipts, position) = try grabInMemory(CollectionOfOne(GrabRequest(packet: packet, member: member)))
        try journal.waitUntilDurable(position)
        return receipts[0]
    }
    /// Many grabs in one group commit. - Throws: as `grab(_:for:)` (the grabs before an unknown packet happened).
    public func grab(_ requests: [GrabRequest]) throws -> [GrabOutcome] {
        let (receipts, position) = try grabInMemory(requests)
        try journal.waitUntilDurable(position)
        return receipts.map(\.outcome)
    }
    /// Closes the packet and refunds its balance once; returns once the refund is durable.
    public func expire(_ packet: PacketID) throws -> ExpiryOutcome { try expire([packet])[0] }
    /// Many expiries in one group commit.
    public func expire(_ packets: [PacketID]) throws -> [ExpiryOutcome] {
        let (outcomes, position) = try expireInMemory(packets)
        try journal.waitUntilDurable(position)
        return outcomes
    }
    /// `expire(_:)` under an idempotency key, kept in the journal: a retry with the key that refunded hears
    /// `.refunded` again, after a restart too.
    public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        let (outcomes, position) = try expireInMemory([packet], key: idempotencyKey)
        try journal.waitUntilDurable(position)
        return outcomes[0]
    }
    /// The packet's account, once every change it shows is durable.
    public func summary(of packet: PacketID) throws -> PacketSummary { try summaries(of: [packet])[0] }
    /// Many accounts, once every change they show is durable.
    public func summaries(of packets: [PacketID]) throws -> [PacketSummary] {
        let (summaries, position) = try summariesInMemory(packets)
        try journal.waitUntilDurable(position)
        return summaries
    }

    // MARK: AsyncGrabEngine: suspend until the group commit

    /// Sends a packet; returns once its entry is durable, suspended meanwhile.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) async throws -> PacketID {
        let (ids, position) = try sendInMemory([OutgoingPacket(spec, to: group, seed: seed)])
        try await journal.durable(position)
        return ids[0]
    }
    /// One grab; returns once its grant (or what it saw) is durable, suspended meanwhile.
    public func grab(_ packet: PacketID, for member: MemberID) async throws -> GrabOutcome {
        let (receipts, position) = try grabInMemory(CollectionOfOne(GrabRequest(packet: packet, member: member)))
        try await journal.durable(position)
        return receipts[0].outcome
    }
    /// One grab with the seq of the share held, suspended until durable.
    public func grabReceipt(_ packet: PacketID, for member: MemberID) async throws -> GrabReceipt {
        let (receipts, position) = try grabInMemory(CollectionOfOne(GrabRequest(packet: packet, member: member)))
        try await journal.durable(position)
        return receipts[0]
    }
    /// Closes and refunds once, suspended until the refund is durable.
    public func expire(_ packet: PacketID) async throws -> ExpiryOutcome {
        let (outcomes, position) = try expireInMemory([packet])
        try await journal.durable(position)
        return outcomes[0]
    }
    /// `expire(_:)` under an idempotency key kept in the journal, suspended until durable.
    public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) async throws -> ExpiryOutcome {
        let (outcomes, position) = try expireInMemory([packet], key: idempotencyKey)
        try await journal.durable(position)
        return outcomes[0]
    }
    /// The packet's account, once every change it shows is durable.
    public func summary(of packet: PacketID) async throws -> PacketSummary {
        let (summaries, position) = try summariesInMemory([packet])
        try await journal.durable(position)
        return summaries[0]
    }

    // MARK: Senders

    /// Sends a packet from `origin.sender`, journaled with its origin (a restart keeps who sent it and the key);
    /// a keyed send the sender already made answers with that packet. Returns once durable.
    /// - Throws: as `send(_:to:seed:)`, and `GrabEngineError(.idempotencyConflict)`.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64, origin: SendOrigin) throws -> SentPacket {
        let (sent, position) = try sendInMemory(spec, to: group, seed: seed, origin: origin)
        try journal.waitUntilDurable(position)
        return sent
    }

    /// `send(_:to:seed:origin:)`, suspended until durable.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64, origin: SendOrigin) async throws -> SentPacket {
        let (sent, position) = try sendInMemory(spec, to: group, seed: seed, origin: origin)
        try await journal.durable(position)
        return sent
    }

    /// The sender of `packet`, or nil if it was sent without one. - Throws: `GrabEngineError.unknownPacket`.
    public func sender(of packet: PacketID) throws -> MemberID? { try inner.sender(of: packet) }

    /// Whether `member` may grab `packet`. - Throws: `GrabEngineError.unknownPacket`.
    public func isMember(_ member: MemberID, of packet: PacketID) throws -> Bool { try inner.isMember(member, of: packet) }

    /// `isMember(_:of:)` (a packet's members never change).
    public func isMember(_ member: MemberID, of packet: PacketID) async throws -> Bool { try { try inner.isMember(member, of: packet) }() }

    /// `sender(of:)`: a send is answered only once durable, so whatever it reads is.
    public func sender(of packet: PacketID) async throws -> MemberID? { try { try inner.sender(of: packet) }() }

    // MARK: Deadlines and memory

    /// Refunds every packet past its deadline that no `expire` refunded, in one group commit: each refund is
    /// returned once over the engine's life (also across restarts: refunds are journaled). Returns none if the
    /// journal failed (the engine has stopped; the refunds are made again by the engine reopened on the journal).
    public func expireDue() async -> [DueRefund] {
        guard let (refunds, position) = try? expireDueInMemory(), (try? await journal.durable(position)) != nil else { return [] }
        return refunds
    }

    /// Every packet held, as it stands, in id order (refund times left out: a snapshot does not keep them):
    /// what a check compares with the state recovered from the journal.
    package func heldImages() -> [PacketImage] {
        inner.snapshot(now: 0).packets.sorted { $0.id < $1.id }
    }

    /// Packets held: sent and not yet forgotten.
    public var packetsHeld: Int { inner.packetsHeld }

    /// Bytes of packet memory allocated (as `LockFreeEngine.bytesInUse`).
    public var bytesInUse: Int { inner.bytesInUse }
}
