import HongbaoCore

/// A grab outcome in one byte, for per-attempt arrays of tens of millions.
public enum GrabCode: UInt8, Sendable, CaseIterable {
    case notRun = 0, granted, alreadyGrabbed, soldOut, expired, notMember
    /// The engine answered "unknown packet" for a packet that was sent: the store lost it (a failover without its
    /// writes). The caller was told nothing to pay; the audit counts the packet as a lost send.
    case gone

    /// The code of `outcome`.
    public init(_ outcome: GrabOutcome) {
        switch outcome {
        case .granted: self = .granted
        case .alreadyGrabbed: self = .alreadyGrabbed
        case .soldOut: self = .soldOut
        case .expired: self = .expired
        case .notMember: self = .notMember
        }
    }

    /// The outcome this code stands for, with the amount the caller was told; nil for `notRun` and `gone`.
    public func outcome(amount: Fen) -> GrabOutcome? {
        switch self {
        case .notRun, .gone: nil
        case .granted: .granted(amount)
        case .alreadyGrabbed: .alreadyGrabbed(amount)
        case .soldOut: .soldOut
        case .expired: .expired
        case .notMember: .notMember
        }
    }
}
