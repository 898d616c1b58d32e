/// One grab as its caller saw it: who asked, for which packet, and what came back.
public struct ObservedGrab: Sendable, Hashable {
    /// The packet grabbed.
    public let packet: PacketID
    /// The member who grabbed.
    public let member: MemberID
    /// What the member was told.
    public let outcome: GrabOutcome

    /// What `member` was told when grabbing `packet`.
    public init(packet: PacketID, member: MemberID, outcome: GrabOutcome) {
        self.packet = packet
        self.member = member
        self.outcome = outcome
    }
}

/// The invariants every engine keeps, checked exactly over one packet's account and what its callers were told:
/// the one check the simulator's audit, the tests and the micro-benchmarks use. Each count is zero for a sound
/// packet; `violations` says each finding in one line.
public struct PacketFindings: Sendable, Equatable {
    /// 1 if the packet has more grabs than shares.
    public private(set) var oversold = 0
    /// 1 if paid + balance ≠ total, or paid + refund ≠ total.
    public private(set) var unbalanced = 0
    /// Shares below 1 fen.
    public private(set) var belowOneFen = 0
    /// Records of a member beyond the first.
    public private(set) var paidTwice = 0
    /// "Granted" told to one member more than once.
    public private(set) var grantedTwice = 0
    /// 1 if the records' sequence numbers are not 1 … n.
    public private(set) var misnumbered = 0
    /// Members told they hold a share (granted, or already grabbed) that the packet has no record of.
    public private(set) var lostGrants = 0
    /// Answers that name another amount than the member's record.
    public private(set) var wrongAmounts = 0
    /// Records no caller was told of (counted for the members whose every answer is known).
    public private(set) var unreportedGrants = 0
    /// Answers of "sold out", "expired" or "not a member" to a member who holds a share.
    public private(set) var deniedHolders = 0
    /// One line per finding, naming the packet.
    public private(set) var violations: [String] = []

    /// Checks `summary` and, when given, the refund the expiry answered and the answers its callers were told
    /// (observations of other packets are ignored). A record of a member for whom `answersKnown` is true (every
    /// answer that member was given is in `observed`) that no caller was told of is a finding too.
    public init(_ summary: PacketSummary, refund: Fen? = nil, observed: some Sequence<ObservedGrab> = [ObservedGrab](),
                answersKnown: (MemberID) -> Bool = { _ in false })
    {
        let id = summary.packet
        if summary.grabs.count > summary.shares {
            oversold = 1
            violations.append("\(id): oversold, \(summary.grabs.count) grabs for \(summary.shares) shares")
        }
        let paid = summary.paid
        if paid + summary.balance != summary.total {
            unbalanced = 1
            violations.append("\(id): paid \(paid) + balance \(summary.balance) ≠ total \(summary.total)")
        } else if let refund = refund ?? summary.refund, refund != summary.balance {
            unbalanced = 1
            violations.append("\(id): refund \(refund) ≠ balance \(summary.balance)")
        }
        // The records sorted by member: a binary search answers "what does this member hold" without hashing (the
        // audit checks every packet of a run; a dictionary's hashing was most of its time).
        let byMember = summary.grabs.sorted { ($0.member, $0.seq) < ($1.member, $1.seq) }
        for (index, record) in summary.grabs.enumerated() {
            if record.amount < Fen(1) {
                belowOneFen += 1
                violations.append("\(id): share \(record.amount) below 1 fen for \(record.member)")
            }
            if record.seq != index + 1 && misnumbered == 0 {
                misnumbered = 1
                violations.append("\(id): grab sequence numbers are not 1 … \(summary.grabs.count)")
            }
        }
        for (earlier, later) in zip(byMember, byMember.dropFirst()) where earlier.member == later.member {
            paidTwice += 1
            violations.append("\(id): \(later.member) was paid twice")
        }
        func position(of member: MemberID) -> Int? {
            let low = byMember.partitioningIndex { $0.member >= member }
            return low < byMember.count && byMember[low].member == member ? low : nil
        }

        // Per record: whether its member was told of it, and was told "granted".
        var told = [Bool](repeating: false, count: byMember.count), granted = told
        var lostMembers: [MemberID] = []
        for grab in observed where grab.packet == id {
            let held = position(of: grab.member)
            switch grab.outcome {
            case .granted(let amount), .alreadyGrabbed(let amount):
                guard let held else {
                    if !lostMembers.contains(grab.member) {
                        lostMembers.append(grab.member)
                        lostGrants += 1
                        violations.append("\(id): \(grab.member) was told \(grab.outcome) but the packet records nothing")
                    }
                    continue
                }
                told[held] = true
                if amount != byMember[held].amount {
                    wrongAmounts += 1
                    violations.append("\(id): \(grab.member) was told \(grab.outcome), the packet records \(byMember[held].amount)")
                }
                if case .granted = grab.outcome {
                    if granted[held] {
                        grantedTwice += 1
                        violations.append("\(id): \(grab.member) was granted twice")
                    }
                    granted[held] = true
                }
            case .soldOut, .expired, .notMember:
                if held != nil {
                    deniedHolders += 1
                    violations.append("\(id): \(grab.member) holds a share but was told \(grab.outcome)")
                }
            }
        }
        for (index, record) in byMember.enumerated() where !told[index] && answersKnown(record.member) {
            unreportedGrants += 1
            violations.append("\(id): \(record.member) holds \(record.amount) but no caller was told so")
        }
    }

    /// True when nothing was found.
    public var isSound: Bool { violations.isEmpty }
}
