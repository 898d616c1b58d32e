import HongbaoCore

/// A grab outcome in one byte, for per-attempt arrays of tens of millions.
public enum GrabCode: UInt8, Sendable, CaseIterable {
    case notRun = 0, granted, alreadyGrabbed, soldOut, expired, notMember

    public init(_ outcome: GrabOutcome) {
        switch outcome {
        case .granted: self = .granted
        case .alreadyGrabbed: self = .alreadyGrabbed
        case .soldOut: self = .soldOut
        case .expired: self = .expired
        case .notMember: self = .notMember
        }
    }
}
