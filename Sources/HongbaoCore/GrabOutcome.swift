/// What one grab attempt produced. Losing a race is an outcome, not an error.
///
/// Every engine answers by the same rule, checked in this order:
/// 1. `.notMember` — the member is not in the packet's group (or not the recipient of an exclusive packet);
/// 2. `.alreadyGrabbed` — the member holds a share: the same share, for ever, also after the deadline and the refund;
/// 3. `.soldOut` — every share is taken: a sold-out packet stays sold out after its deadline and its refund;
/// 4. `.expired` — shares are left, but the packet was refunded (`expire`) or its deadline has passed;
/// 5. `.granted` — the member takes a share now.
public enum GrabOutcome: Sendable, Hashable, CustomStringConvertible {
    /// This grab won a share.
    case granted(Fen)
    /// The member had already won this share: a retry is safe, the share is paid once.
    case alreadyGrabbed(Fen)
    /// Every share is taken (whatever the deadline or refund).
    case soldOut
    /// Shares are left, but the packet was refunded or its deadline passed before this grab.
    case expired
    /// The member is not in the packet's group (or not the recipient of an exclusive packet).
    case notMember

    /// The share this member holds after the grab, whether it won it now or before.
    public var share: Fen? {
        switch self {
        case .granted(let amount), .alreadyGrabbed(let amount): amount
        case .soldOut, .expired, .notMember: nil
        }
    }

    public var description: String {
        switch self {
        case .granted(let amount): "granted \(amount)"
        case .alreadyGrabbed(let amount): "already grabbed \(amount)"
        case .soldOut: "sold out"
        case .expired: "expired"
        case .notMember: "not a member"
        }
    }
}

/// A grab's outcome and, when the member holds a share, where that share stands among the packet's grabs: what a
/// service returns to its caller (`POST /packets/{id}/grab` answers the amount and the seq).
public struct GrabReceipt: Sendable, Hashable {
    /// What the member was told.
    public let outcome: GrabOutcome
    /// The 1-based order of the member's share among the packet's successful grabs; nil when it holds none.
    public let seq: Int?

    /// A receipt; `seq` must be given exactly when the outcome holds a share.
    public init(_ outcome: GrabOutcome, seq: Int? = nil) {
        precondition((outcome.share != nil) == (seq != nil), "a receipt has a seq exactly when it holds a share")
        self.outcome = outcome
        self.seq = seq
    }
}

/// What `expire` did: the refund happens exactly once, and asking again reports it without paying it again.
public enum ExpiryOutcome: Sendable, Hashable, CustomStringConvertible {
    /// This call closed the packet and refunds the balance to the sender (zero if it was fully grabbed).
    case refunded(Fen)
    /// An earlier call closed the packet; this is the refund it made.
    case alreadyRefunded(Fen)

    /// The money refunded, whichever call made the refund.
    public var refund: Fen {
        switch self {
        case .refunded(let amount), .alreadyRefunded(let amount): amount
        }
    }

    public var description: String {
        switch self {
        case .refunded(let amount): "refunded \(amount)"
        case .alreadyRefunded(let amount): "already refunded \(amount)"
        }
    }
}

/// One successful grab.
public struct GrabRecord: Sendable, Hashable, Codable {
    /// 1-based order among the packet's successful grabs.
    public let seq: Int
    /// Who holds the share.
    public let member: MemberID
    /// The share.
    public let amount: Fen

    /// The `seq`-th grab: `member` got `amount`.
    public init(seq: Int, member: MemberID, amount: Fen) {
        self.seq = seq
        self.member = member
        self.amount = amount
    }
}

/// A packet's account: what was paid, to whom, and what is left or refunded.
public struct PacketSummary: Sendable, Hashable {
    /// The packet.
    public let packet: PacketID
    /// The money it held.
    public let total: Fen
    /// Its share count.
    public let shares: Int
    /// Successful grabs in grab order.
    public let grabs: [GrabRecord]
    /// Money not yet grabbed (refunded if `refund` is set).
    public let balance: Fen
    /// The refund, once the packet was expired; nil while it is open.
    public let refund: Fen?

    /// An account as an engine read it.
    public init(packet: PacketID, total: Fen, shares: Int, grabs: [GrabRecord], balance: Fen, refund: Fen?) {
        self.packet = packet
        self.total = total
        self.shares = shares
        self.grabs = grabs
        self.balance = balance
        self.refund = refund
    }

    /// The money paid out in shares.
    public var paid: Fen { grabs.lazy.map(\.amount).sum() }

    /// The luckiest grab (手气最佳): the largest share; a tie goes to the earlier grab, as WeChat does.
    public var luckiest: GrabRecord? {
        grabs.reduce(nil) { best, record in
            guard let best, best.amount >= record.amount else { return record }
            return best
        }
    }
}
