/// A packet's mutable account for engines that serialise access to it (a mutex, an actor): the same algorithm as
/// the lock-free engine, written sequentially. Not thread-safe by itself.
package struct PacketLedger: Sendable {
    package let plan: PacketPlan
    package private(set) var state: PackedState
    /// Successful grabs in order.
    package private(set) var records: [GrabRecord] = []
    /// Per group member: 0 = holds no share, k > 0 = holds the k-th share.
    private var claims: [Int32]

    /// A fresh ledger: every share left, nobody claimed.
    package init(plan: PacketPlan) {
        self.plan = plan
        state = PackedState(remaining: plan.spec.shares, balance: plan.spec.total.rawValue)
        claims = Array(repeating: 0, count: plan.group.count)
    }

    /// One grab at time `now`, by the rule documented on `GrabOutcome`. O(log group size).
    package mutating func grab(for member: MemberID, now: Int64) -> GrabReceipt {
        guard let index = plan.grabberIndex(of: member) else { return GrabReceipt(.notMember) }
        if claims[index] > 0 { return GrabReceipt(.alreadyGrabbed(records[Int(claims[index]) - 1].amount), seq: Int(claims[index])) }
        if state.remaining == 0 { return GrabReceipt(.soldOut) }
        if state.closed || now >= plan.expiresAt { return GrabReceipt(.expired) }
        let shareIndex = plan.spec.shares - state.remaining
        let amount = plan.amount(ofShare: shareIndex, balance: state.balance, remaining: Int64(state.remaining))
        state = state.taking(amount)
        records.append(GrabRecord(seq: shareIndex + 1, member: member, amount: Fen(amount)))
        claims[index] = Int32(shareIndex + 1)
        return GrabReceipt(.granted(Fen(amount)), seq: shareIndex + 1)
    }

    /// Closes the packet; the balance is the refund, made once.
    package mutating func expire() -> ExpiryOutcome {
        guard !state.closed else { return .alreadyRefunded(Fen(state.balance)) }
        state = state.closing
        return .refunded(Fen(state.balance))
    }

    package var summary: PacketSummary {
        PacketSummary(packet: plan.id, total: plan.spec.total, shares: plan.spec.shares, grabs: records,
                      balance: Fen(state.balance), refund: state.closed ? Fen(state.balance) : nil)
    }
}
