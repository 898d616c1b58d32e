/// What a journaled engine needs of the lock-free engine it wraps: each packet's image, and the same state rebuilt
/// from images and entries on recovery — every value checked against what the engine already holds.
extension LockFreeEngine {
    /// The packet as it stands, or nil once reclaimed. A grab that has taken a share but not yet written its
    /// record is waited for, as `summary` does. A refund's time is the one the arena kept with the packet, or
    /// `refundedAt` if the refund is so recent that it is not there yet (a later time: the packet is kept longer).
    package func image(of id: PacketID, refundedAt: Int64) -> PacketImage? {
        try? arena.withPacket(id) { packet in
            let state = packet.ticketsAcquiring
            let taken = state.taken(of: packet.shares)
            let winners = (0 ..< taken).map { index in
                while true {
                    if let record = packet.recordAcquiring(index) { return record.member }
                    spinWait()
                }
            }
            let refund = state.refunded
                ? JournaledRefund(amount: Fen(packet.balance(afterTaking: taken)),
                                  at: packet.refundedAt != 0 ? packet.refundedAt : refundedAt, key: keyedExpiries.key(of: id))
                : nil
            return PacketImage(id: id, expiresAt: packet.expiresAt, total: packet.total, perShareCap: packet.perShareCap,
                               members: packet.memberList(), amounts: packet.amountList(), winners: winners, refund: refund,
                               origin: sendOrigins.origin(of: id))
        }
    }

    /// Every packet held, each as it stands when read, and the generation floor of the ids issued.
    package func snapshot(now: Int64) -> JournalSnapshot {
        let packets = arena.heldIDs().compactMap { image(of: $0, refundedAt: now) }
        return JournalSnapshot(packets: packets, generationFloor: arena.issuedGenerationFloor)
    }

    /// Starts a journal's snapshot at the position it will cover: from now until the returned read has run,
    /// nothing is reclaimed, so every packet held now — and so every packet an entry after the position can
    /// name — is in the snapshot. The read may run on another thread, later.
    package func startSnapshot(clock: any PacketClock) -> @Sendable () -> JournalSnapshot {
        arena.holdReclamation()
        return { [self] in
            defer { arena.releaseReclamation() }
            return snapshot(now: clock.nanoseconds)
        }
    }

    /// Applies one journal entry during recovery (before the engine serves any call). Entries that a snapshot
    /// already holds — it reads packets while the engine runs, so it can be ahead of the entries after it — are
    /// checked against it and skipped. - Throws: `JournalError.corrupt` for any value that contradicts the state.
    package func replay(_ entry: JournalEntry) throws {
        switch entry {
        case .sent(let image), .packet(let image):
            let image = try image.validated()
            if arena.contains(image.id) {
                guard case .sent = entry, let held = self.image(of: image.id, refundedAt: 0), held.asSent == image else {
                    throw JournalError.corrupt("\(image.id) sent twice")
                }
                return
            }
            try arena.restore(try PacketPlan(restoring: image), as: image.id)
            if let origin = image.origin { sendOrigins.record(image.id, origin, isKnown: arena.contains) }
            for (share, winner) in image.winners.enumerated() {
                try replayGrant(image.id, share: share, member: winner, amount: image.amounts[share])
            }
            if let refund = image.refund { try replayRefund(image.id, refund) }
        case .granted(let id, let share, let member, let amount):
            try replayGrant(id, share: share, member: member, amount: amount)
        case .refunded(let id, let refund):
            try replayRefund(id, refund)
        }
    }

    private func held<R>(_ id: PacketID, _ body: (PacketWords) throws -> R) throws -> R {
        do {
            return try arena.withPacket(id, body)
        } catch let error as GrabEngineError where error.code == .unknownPacket {
            throw JournalError.corrupt("an entry for \(id), which the journal never sent")
        }
    }

    private func replayGrant(_ id: PacketID, share: Int, member: MemberID, amount: Fen) throws {
        try held(id) { packet in
            let shares = packet.shares
            guard share >= 0 && share < shares else { throw JournalError.corrupt("\(id): share \(share + 1) of \(shares)") }
            guard let index = packet.grabberIndex(of: member) else { throw JournalError.corrupt("\(id): \(member) is not a member") }
            let state = packet.ticketsAcquiring
            if share < state.taken(of: shares) {   // a snapshot holds it already: the same winner, the same amount
                guard let record = packet.recordAcquiring(share), record.member == member, record.amount == amount else {
                    throw JournalError.corrupt("\(id): share \(share + 1) granted to two members")
                }
                return
            }
            guard !state.closed, share == state.tickets else {
                throw JournalError.corrupt(
                    "\(id): share \(share + 1) granted after \(state.taken(of: shares)) shares\(state.closed ? " and the close" : "")")
            }
            guard Fen(packet.amount(ofShare: share)) == amount else {
                throw JournalError.corrupt("\(id): share \(share + 1) is \(packet.amount(ofShare: share)) fen, the entry says \(amount.rawValue)")
            }
            guard !packet.claimAcquiringAndReleasing(index) else { throw JournalError.corrupt("\(id): \(member) won twice") }
            _ = packet.takeTicket()
            packet.storeRecordReleasing(RecordWord(member: member, amount: amount.rawValue), at: share)
        }
    }

    private func replayRefund(_ id: PacketID, _ refund: JournaledRefund) throws {
        let made: Bool = try held(id) { packet in
            let shares = packet.shares
            var state = packet.ticketsAcquiring
            let balance = Fen(packet.balance(afterTaking: state.taken(of: shares)))
            guard refund.amount == balance else {
                throw JournalError.corrupt("\(id): refund of \(refund.amount.rawValue) fen, the balance is \(balance.rawValue)")
            }
            while !state.refunded {
                let (won, found) = packet.compareExchangeTickets(expected: state, desired: state.refunding(shares: shares))
                if won { return true }
                state = found
            }
            return false
        }
        guard made else {   // a snapshot holds the refund already: the entry has its exact time
            if arena.refundTime(of: id) != refund.at { arena.correctRefundTime(id, to: refund.at) }
            return
        }
        arena.noteRefunded(id, at: refund.at)
        if let key = refund.key { keyedExpiries.record(id, key: key, isKnown: arena.contains) }
    }
}
