/// How a packet's total is divided among its shares.
public enum SplitAlgorithm: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// Double mean (二倍均值) from the packet's remaining count and balance at each grab, as WeChat does. Each share
    /// index's random comes from the seed, so the amounts are fixed by the seed: Redis computes each at grab time,
    /// the arena engines draw them all at send (same amounts, and a grab that never retries).
    case doubleMeanAtGrab = "double-mean-at-grab"
    /// Double mean, all shares drawn at creation (grab order = draw order).
    case doubleMean = "double-mean"
    /// Line-segment cutting: N−1 distinct cut points in the total; shares are the gaps. Position-neutral.
    case lineCutting = "line-cutting"
    /// Double mean drawn at creation, then shuffled (Fisher–Yates). Position-neutral.
    case shuffled = "shuffled"
    /// Every share the same: the algorithm of an *equal* packet.
    case equal = "equal"

    public var description: String { rawValue }

    /// True when shares are computed by the grab itself rather than drawn when the packet is sent.
    public var computesAtGrab: Bool { self == .doubleMeanAtGrab }
}

/// What kind of packet a sender sends.
public enum PacketKind: Sendable, Hashable, Codable, CustomStringConvertible {
    /// 拼手气红包: random shares.
    case lucky
    /// 普通红包: every share is `perShare`.
    case equal(perShare: Fen)
    /// 专属红包: one share, for one named member of the group.
    case exclusive(MemberID)

    /// The kind's name as stored and printed: `lucky`, `equal` or `exclusive`.
    public var name: String {
        switch self {
        case .lucky: "lucky"
        case .equal: "equal"
        case .exclusive: "exclusive"
        }
    }

    public var description: String {
        switch self {
        case .lucky: "lucky"
        case .equal(let perShare): "equal (\(perShare) each)"
        case .exclusive(let member): "exclusive to \(member)"
        }
    }
}

/// The limits a service puts on packets. WeChat's: at most 200 yuan a share and 100 shares.
public struct PacketPolicy: Sendable, Hashable, Codable {
    /// The largest single share.
    public var perShareCap: Fen
    /// The largest number of shares in one packet.
    public var shareCountCap: Int

    /// Engines pack a packet's remaining count and balance into one 64-bit word: 23 bits of count, 40 of balance.
    public static let maxShareCount = (1 << 23) - 1
    /// The largest total a packet can carry (2^40 − 1 fen, about 11 billion yuan).
    public static let maxTotal = Fen((1 << 40) - 1)
    /// The largest per-share cap: a share is recorded in 32 bits.
    public static let maxPerShareCap = Fen(Int64(UInt32.max))

    /// WeChat's limits: 200 yuan a share, 100 shares.
    public static let wechat = PacketPolicy(perShareCap: Fen(yuan: 200), shareCountCap: 100)

    /// A policy; validated with the spec that uses it.
    public init(perShareCap: Fen = Fen(yuan: 200), shareCountCap: Int = 100) {
        self.perShareCap = perShareCap
        self.shareCountCap = shareCountCap
    }
}

/// A packet's specification: validated on creation, so an engine never sees an infeasible packet.
///
/// Invariants (checked by `init`): `1 ≤ shares ≤ policy.shareCountCap`, `shares × 1 fen ≤ total ≤ shares × cap`;
/// an equal packet's total is exactly `shares × perShare`; an exclusive packet has one share.
public struct PacketSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The money in the packet.
    public let total: Fen
    /// How many shares it splits into.
    public let shares: Int
    /// Lucky, equal or exclusive.
    public let kind: PacketKind
    /// How a lucky packet splits.
    public let algorithm: SplitAlgorithm
    /// How long the packet can be grabbed; then the balance is refunded. WeChat: 24 hours.
    public let expiry: Duration
    /// The limits it was checked against.
    public let policy: PacketPolicy

    /// WeChat's expiry: 24 hours.
    public static let defaultExpiry = Duration.seconds(24 * 3600)

    /// A lucky packet, split by `algorithm` (default: double mean at grab time, as WeChat).
    /// - Throws: `PacketSpecError` naming the first rule the spec breaks.
    public init(total: Fen, shares: Int, algorithm: SplitAlgorithm = .doubleMeanAtGrab,
                expiry: Duration = PacketSpec.defaultExpiry, policy: PacketPolicy = .wechat) throws(PacketSpecError)
    {
        try self.init(total: total, shares: shares, kind: .lucky, algorithm: algorithm, expiry: expiry, policy: policy)
    }

    /// A packet of any kind. An equal packet's algorithm is `.equal`; an exclusive packet has one share.
    /// - Throws: `PacketSpecError` naming the first rule the spec breaks.
    public init(total: Fen, shares: Int, kind: PacketKind, algorithm: SplitAlgorithm = .doubleMeanAtGrab,
                expiry: Duration = PacketSpec.defaultExpiry, policy: PacketPolicy = .wechat) throws(PacketSpecError)
    {
        try Self.validate(policy)
        guard total > .zero else { throw .nonPositiveTotal(total) }
        guard shares > 0 else { throw .nonPositiveShares(shares) }
        guard expiry > .zero else { throw .nonPositiveExpiry(expiry) }
        guard shares <= policy.shareCountCap else { throw .tooManyShares(shares, cap: policy.shareCountCap) }
        guard total <= PacketPolicy.maxTotal else { throw .overflow("total \(total) exceeds \(PacketPolicy.maxTotal)") }
        guard total.rawValue >= Int64(shares) else { throw .totalBelowOneFenPerShare(total, shares: shares) }
        let (ceiling, overflow) = policy.perShareCap.rawValue.multipliedReportingOverflow(by: Int64(shares))
        guard overflow || total.rawValue <= ceiling else {
            throw .totalAboveCap(total, shares: shares, cap: policy.perShareCap)
        }
        var algorithm = algorithm
        switch kind {
        case .lucky:
            guard algorithm != .equal else { throw .equalAlgorithmNeedsEqualKind }
        case .equal(let perShare):
            guard perShare > .zero else { throw .nonPositiveTotal(perShare) }
            let (product, overflow) = perShare.rawValue.multipliedReportingOverflow(by: Int64(shares))
            guard !overflow else { throw .overflow("\(shares) × \(perShare) overflows") }
            guard product == total.rawValue else { throw .unequalTotal(total, shares: shares, perShare: perShare) }
            algorithm = .equal
        case .exclusive:
            guard shares == 1 else { throw .exclusiveNeedsOneShare(shares) }
        }
        self.total = total
        self.shares = shares
        self.kind = kind
        self.algorithm = algorithm
        self.expiry = expiry
        self.policy = policy
    }

    private static func validate(_ policy: PacketPolicy) throws(PacketSpecError) {
        guard policy.perShareCap > .zero, policy.perShareCap <= PacketPolicy.maxPerShareCap else {
            throw .invalidPolicy("per-share cap must be in 1 fen ... \(PacketPolicy.maxPerShareCap), got \(policy.perShareCap)")
        }
        guard policy.shareCountCap > 0, policy.shareCountCap <= PacketPolicy.maxShareCount else {
            throw .invalidPolicy("share-count cap must be in 1 ... \(PacketPolicy.maxShareCount), got \(policy.shareCountCap)")
        }
    }

    public var description: String { "\(kind.name) packet of \(total) in \(shares) shares (\(algorithm))" }

    private enum CodingKeys: String, CodingKey { case total, shares, kind, algorithm, expiry, policy }

    /// Decodes a spec and validates it exactly as `init(total:shares:kind:…)` does: a decoded spec is never one the
    /// engines could not serve. - Throws: `DecodingError.dataCorrupted` whose description is the `PacketSpecError`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(total: try container.decode(Fen.self, forKey: .total),
                          shares: try container.decode(Int.self, forKey: .shares),
                          kind: try container.decode(PacketKind.self, forKey: .kind),
                          algorithm: try container.decode(SplitAlgorithm.self, forKey: .algorithm),
                          expiry: try container.decode(Duration.self, forKey: .expiry),
                          policy: try container.decode(PacketPolicy.self, forKey: .policy))
        } catch let error as PacketSpecError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description,
                                                    underlyingError: error))
        }
    }
}

/// Why a packet spec was refused. Each case has one clear message.
public enum PacketSpecError: Error, Sendable, Hashable, CustomStringConvertible {
    case nonPositiveTotal(Fen)
    case nonPositiveShares(Int)
    case nonPositiveExpiry(Duration)
    case tooManyShares(Int, cap: Int)
    case totalBelowOneFenPerShare(Fen, shares: Int)
    case totalAboveCap(Fen, shares: Int, cap: Fen)
    case unequalTotal(Fen, shares: Int, perShare: Fen)
    case exclusiveNeedsOneShare(Int)
    case equalAlgorithmNeedsEqualKind
    case invalidPolicy(String)
    case overflow(String)

    public var description: String {
        switch self {
        case .nonPositiveTotal(let total):
            "amount must be at least 1 fen, got \(total.rawValue) fen"
        case .nonPositiveShares(let shares):
            "shares must be at least 1, got \(shares)"
        case .nonPositiveExpiry(let expiry):
            "expiry must be positive, got \(expiry)"
        case .tooManyShares(let shares, let cap):
            "\(shares) shares exceed the cap of \(cap) shares per packet"
        case .totalBelowOneFenPerShare(let total, let shares):
            "total \(total.rawValue) fen cannot give each of \(shares) shares at least 1 fen"
        case .totalAboveCap(let total, let shares, let cap):
            "total \(total.rawValue) fen exceeds \(shares) share(s) × the per-share cap of \(cap.rawValue) fen"
        case .unequalTotal(let total, let shares, let perShare):
            "equal packet: total \(total.rawValue) fen is not \(shares) × \(perShare.rawValue) fen"
        case .exclusiveNeedsOneShare(let shares):
            "an exclusive packet has exactly 1 share, got \(shares)"
        case .equalAlgorithmNeedsEqualKind:
            "the equal algorithm is for equal packets: use PacketKind.equal(perShare:)"
        case .invalidPolicy(let reason):
            "invalid policy: \(reason)"
        case .overflow(let what):
            "integer overflow: \(what)"
        }
    }
}
