import HongbaoCore

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
