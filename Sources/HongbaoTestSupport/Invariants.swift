import HongbaoCore

/// One grab as a test or the simulator saw it: who asked, for which packet, and what came back.
public struct ObservedGrab: Sendable, Hashable {
    public let packet: PacketID
    public let member: MemberID
    public let outcome: GrabOutcome

    public init(packet: PacketID, member: MemberID, outcome: GrabOutcome) {
        self.packet = packet
        self.member = member
        self.outcome = outcome
    }
}

/// The invariants every engine keeps, checked exactly over a packet's summary and the grabs callers saw.
/// Returns one line per violation; an empty list means the packet is sound.
public func invariantViolations(of summary: PacketSummary, observed: [ObservedGrab] = []) -> [String] {
    var violations: [String] = []
    let id = summary.packet
    if summary.grabs.count > summary.shares {
        violations.append("\(id): oversold, \(summary.grabs.count) grabs for \(summary.shares) shares")
    }
    if summary.paid + summary.balance != summary.total {
        violations.append("\(id): paid \(summary.paid) + balance \(summary.balance) ≠ total \(summary.total)")
    }
    if let refund = summary.refund, refund != summary.balance {
        violations.append("\(id): refund \(refund) ≠ balance \(summary.balance)")
    }
    if let small = summary.grabs.first(where: { $0.amount < Fen(1) }) {
        violations.append("\(id): share \(small.amount) below 1 fen for \(small.member)")
    }
    var shareOf: [MemberID: Fen] = [:]
    for record in summary.grabs {
        if shareOf.updateValue(record.amount, forKey: record.member) != nil {
            violations.append("\(id): \(record.member) was paid twice")
        }
    }
    if summary.grabs.map(\.seq) != summary.grabs.indices.map({ $0 + 1 }) {
        violations.append("\(id): grab sequence numbers are not 1 … \(summary.grabs.count)")
    }
    var granted: [MemberID: Fen] = [:]
    for grab in observed where grab.packet == id {
        switch grab.outcome {
        case .granted(let amount):
            if granted.updateValue(amount, forKey: grab.member) != nil {
                violations.append("\(id): \(grab.member) was granted twice")
            }
            if shareOf[grab.member] != amount {
                violations.append("\(id): \(grab.member) was granted \(amount) but the packet records \(shareOf[grab.member].map(\.description) ?? "nothing")")
            }
        case .alreadyGrabbed(let amount):
            if shareOf[grab.member] != amount {
                violations.append("\(id): a retry by \(grab.member) returned \(amount), the packet records \(shareOf[grab.member].map(\.description) ?? "nothing")")
            }
        case .soldOut, .expired, .notMember:
            if shareOf[grab.member] != nil {
                violations.append("\(id): \(grab.member) holds a share but was told \(grab.outcome)")
            }
        }
    }
    return violations
}

/// The violations of a whole split: exact sum, every share in `1 fen ... cap`, the right count.
public func splitViolations(_ shares: [Fen], total: Fen, count: Int, cap: Fen) -> [String] {
    var violations: [String] = []
    if shares.count != count { violations.append("\(shares.count) shares, expected \(count)") }
    if shares.sum() != total { violations.append("shares sum to \(shares.sum()), expected \(total)") }
    if let bad = shares.first(where: { $0 < Fen(1) || $0 > cap }) {
        violations.append("share \(bad.rawValue) fen outside 1 ... \(cap.rawValue)")
    }
    return violations
}
