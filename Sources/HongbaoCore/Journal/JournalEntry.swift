/// A packet as a journal keeps it: everything its grabs read, in the arena's terms — the members who may grab
/// (for an exclusive packet, its recipient only), each share's amount in grab order, the deadline — and what has
/// happened to it: who won each share taken, and the refund once made. A journaled engine writes one when a
/// packet is sent (nothing won yet) and one per held packet in a snapshot; recovery rebuilds the packet from it.
///
/// The amounts are stored, not re-drawn from a seed: recovery gives back the very shares that were promised,
/// whatever version of the splitting code reads the journal.
public struct PacketImage: Sendable, Hashable {
    /// The packet's id.
    public let id: PacketID
    /// When it stops taking grabs, on the engine's clock (nanoseconds).
    public let expiresAt: Int64
    /// The money it holds.
    public let total: Fen
    /// The largest share its policy allowed.
    public let perShareCap: Fen
    /// Who may grab it: sorted, distinct.
    public let members: [MemberID]
    /// Share `i`'s amount (seq `i + 1`).
    public let amounts: [Fen]
    /// Share `i`'s winner, for the shares taken so far (a prefix: shares are taken in seq order).
    public var winners: [MemberID]
    /// The refund, once recorded.
    public var refund: JournaledRefund?
    /// Who sent it, and the keyed request it answered (`SenderTrackingGrabEngine`); nil if sent without.
    public var origin: SendOrigin?

    /// A packet image; `validated()` checks it.
    public init(id: PacketID, expiresAt: Int64, total: Fen, perShareCap: Fen, members: [MemberID], amounts: [Fen],
                winners: [MemberID] = [], refund: JournaledRefund? = nil, origin: SendOrigin? = nil)
    {
        self.origin = origin
        self.id = id
        self.expiresAt = expiresAt
        self.total = total
        self.perShareCap = perShareCap
        self.members = members
        self.amounts = amounts
        self.winners = winners
        self.refund = refund
    }

    /// The same packet as sent: no winner, no refund.
    public var asSent: PacketImage {
        PacketImage(id: id, expiresAt: expiresAt, total: total, perShareCap: perShareCap, members: members, amounts: amounts,
                    origin: origin)
    }

    /// Checks every value an engine relies on (a journal is a file: its contents are untrusted): members sorted and
    /// distinct, 1 to `Group.maximumCount` of them; 1 to `PacketPolicy.maxShareCount` shares, each between 1 fen and
    /// the cap, summing to the total; winners distinct members, no more than the shares; a refund equal to the
    /// balance the winners left. - Throws: `JournalError.corrupt` naming the first value that is wrong.
    public func validated() throws(JournalError) -> PacketImage {
        func corrupt(_ what: String) -> JournalError { .corrupt("\(id): \(what)") }
        guard !members.isEmpty, members.count <= Group.maximumCount else { throw corrupt("\(members.count) members") }
        for index in 1 ..< members.count where members[index - 1] >= members[index] {
            throw corrupt("members not sorted and distinct at index \(index)")
        }
        guard perShareCap > .zero, perShareCap <= PacketPolicy.maxPerShareCap else { throw corrupt("per-share cap \(perShareCap.rawValue)") }
        guard total > .zero, total <= PacketPolicy.maxTotal else { throw corrupt("total \(total.rawValue)") }
        guard !amounts.isEmpty, amounts.count <= PacketPolicy.maxShareCount else { throw corrupt("\(amounts.count) shares") }
        var sum: Int64 = 0
        for (index, amount) in amounts.enumerated() {
            guard amount >= Fen(1), amount <= perShareCap else { throw corrupt("share \(index + 1) is \(amount.rawValue) fen") }
            sum += amount.rawValue
        }
        guard sum == total.rawValue else { throw corrupt("shares sum to \(sum) fen, the total is \(total.rawValue)") }
        guard winners.count <= amounts.count else { throw corrupt("\(winners.count) winners of \(amounts.count) shares") }
        var seen = Set<MemberID>()
        for winner in winners {
            guard Group(sortedUniqueUnchecked: members[...]).contains(winner) else { throw corrupt("winner \(winner) is not a member") }
            guard seen.insert(winner).inserted else { throw corrupt("\(winner) won twice") }
        }
        if let refund {
            let balance = total - amounts[..<winners.count].sum()
            guard refund.amount == balance else {
                throw corrupt("refund \(refund.amount.rawValue) fen, the balance is \(balance.rawValue)")
            }
        }
        return self
    }
}

/// A refund as journaled: the amount, when it was made (on the engine's clock), and the idempotency key of the
/// expiry that made it, if it had one.
public struct JournaledRefund: Sendable, Hashable {
    /// What went back to the sender.
    public let amount: Fen
    /// When (the engine's clock, nanoseconds); its retention counts from then.
    public let at: Int64
    /// The key of the expiry that made it: a retry with it hears `.refunded` again, after a restart too.
    public let key: IdempotencyKey?

    /// A refund of `amount` made at `at` under `key`.
    public init(amount: Fen, at: Int64, key: IdempotencyKey?) {
        self.amount = amount
        self.at = at
        self.key = key
    }
}

/// One change to a journaled engine's state, in the order the engine made them. Replaying a journal's entries in
/// order on an empty engine rebuilds its state; a snapshot is the held packets as `.packet` entries.
public enum JournalEntry: Sendable, Hashable {
    /// A packet was sent (its image has no winner and no refund).
    indirect case sent(PacketImage)
    /// Share `share` (0-based; seq `share + 1`) of `packet` went to `member`, who was told `amount`.
    case granted(PacketID, share: Int, member: MemberID, amount: Fen)
    /// `packet` was closed and its refund recorded.
    case refunded(PacketID, JournaledRefund)
    /// A packet as it stood when a snapshot read it.
    indirect case packet(PacketImage)
}

/// A snapshot of a journaled engine: every packet it holds, and the generation every id it issues from now on
/// starts at (ids are never issued twice, also across restarts and after their packets leave the journal).
public struct JournalSnapshot: Sendable {
    /// The held packets, each as it stood when the snapshot read it.
    public var packets: [PacketImage]
    /// Every id issued so far has a generation (`id >> 32`) below this.
    public var generationFloor: UInt32

    /// A snapshot of `packets`, with ids issued below generation `generationFloor`.
    public init(packets: [PacketImage], generationFloor: UInt32) {
        self.packets = packets
        self.generationFloor = generationFloor
    }
}

/// Why a journal could not be opened, read or written. One line each.
public enum JournalError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A value in the journal is impossible (a torn or tampered file, or a bug that wrote it): nothing is served.
    case corrupt(String)
    /// The file is not a journal of this program.
    case notAJournal(String)
    /// The journal was written by a newer version, in a format this one does not read.
    case newerFormat(path: String, found: Int, supported: Int)
    /// Another process has the journal open.
    case inUse(String)
    /// A write or sync failed: the calls it carried were not acknowledged, and the engine takes no more calls
    /// until it is reopened on the journal (which holds everything acknowledged).
    case failed(String)
    /// The journal was closed.
    case closed

    public var description: String {
        switch self {
        case .corrupt(let what): "journal corrupt: \(what)"
        case .notAJournal(let what): what
        case .newerFormat(let path, let found, let supported):
            "\(path) is a journal of format \(found), written by a newer Hongbao; this one reads format \(supported) and older"
        case .inUse(let path): "journal \(path) is in use by another process (only one process may open a journal)"
        case .failed(let why): "journal write failed, nothing after it was acknowledged; reopen the engine on the journal to go on: \(why)"
        case .closed: "journal closed"
        }
    }
}
