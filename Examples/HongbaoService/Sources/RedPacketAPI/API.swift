import Foundation
import HongbaoCore

// The JSON bodies of the red-packet API (openapi.yaml beside the package), shared by the service and its clients.
// Keys are snake_case; money is integer fen.

/// A packet's kind, as the API names it.
public enum PacketKindName: String, Codable, Sendable, CaseIterable {
    case lucky, equal, exclusive
}

/// How a lucky packet's shares are drawn, as the API names it (`SplitAlgorithm`'s names; `equal` is a kind).
public enum AlgorithmName: String, Codable, Sendable, CaseIterable {
    case doubleMeanAtGrab = "double-mean-at-grab", doubleMean = "double-mean", lineCutting = "line-cutting", shuffled

    /// The algorithm it names.
    public var algorithm: SplitAlgorithm { SplitAlgorithm(rawValue: rawValue)! }   // every name is one (a test checks)

    /// The name of `algorithm`, nil for `.equal` (a kind, not a lucky packet's algorithm).
    public init?(_ algorithm: SplitAlgorithm) { self.init(rawValue: algorithm.rawValue) }
}

/// A grab's outcome, as the API names it.
public enum GrabOutcomeName: String, Codable, Sendable, CaseIterable {
    case granted, alreadyGrabbed = "already_grabbed", soldOut = "sold_out", expired, notMember = "not_member"

    /// The name of `outcome`.
    public init(_ outcome: GrabOutcome) {
        self = switch outcome {
        case .granted: .granted
        case .alreadyGrabbed: .alreadyGrabbed
        case .soldOut: .soldOut
        case .expired: .expired
        case .notMember: .notMember
        }
    }
}

/// An expiry's outcome, as the API names it.
public enum ExpiryOutcomeName: String, Codable, Sendable, CaseIterable {
    case refunded, alreadyRefunded = "already_refunded"
}

/// A request body: its fields are the only keys it may have (the service refuses others).
public protocol APIRequestBody: Decodable {
    /// Every key the body may have.
    static var fields: Set<String> { get }
    /// The body read by hand from the commonest well-formed shapes, or nil: the caller then checks the keys and
    /// decodes with `JSONDecoder`, which also says what is wrong with a bad body. Never accepts what that path
    /// would refuse.
    static func quickly(_ bytes: some Collection<UInt8>) -> Self?
}

extension APIRequestBody {
    /// No hand reader: every body takes the decoder's path.
    public static func quickly(_ bytes: some Collection<UInt8>) -> Self? { nil }
}

/// `POST /packets`.
public struct CreatePacket: Codable, Sendable, APIRequestBody {
    public var totalFen: Int64
    public var shares: Int
    public var members: [UInt32]
    /// `lucky` when absent.
    public var kind: PacketKindName?
    /// For an exclusive packet: the one member who may grab it.
    public var recipient: UInt32?
    /// `double-mean-at-grab` when absent.
    public var algorithm: AlgorithmName?
    public var seed: UInt64?
    public var expiresInS: Int64?

    public init(totalFen: Int64, shares: Int, members: [UInt32], kind: PacketKindName? = nil, recipient: UInt32? = nil,
                algorithm: AlgorithmName? = nil, seed: UInt64? = nil, expiresInS: Int64? = nil)
    {
        self.totalFen = totalFen
        self.shares = shares
        self.members = members
        self.kind = kind
        self.recipient = recipient
        self.algorithm = algorithm
        self.seed = seed
        self.expiresInS = expiresInS
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case totalFen = "total_fen", shares, members, kind, recipient, algorithm, seed, expiresInS = "expires_in_s"
    }
    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))
}

/// `201` of `POST /packets`.
public struct CreatedPacket: Codable, Sendable {
    public var id: UInt64
    public init(id: UInt64) { self.id = id }
}

/// `POST /packets/{id}/grab`: with a bearer token the grab is the token's member's (a `member` that names another
/// is refused, and the body may be `{}` or empty); without tokens (`--insecure-dev`) `member` is required.
public struct GrabBody: Codable, Sendable, APIRequestBody {
    public var member: UInt32?
    public init(member: UInt32?) { self.member = member }
    public static let fields: Set<String> = ["member"]

    /// `{}`, `{"member": N}` (N a decimal in 0 ... 2^32 - 1 without leading zeros) or `{"member": null}`, with any
    /// JSON spacing: the grab's hot path, read without `JSONDecoder`. Nil for anything else.
    @inlinable
    public static func quickly(_ bytes: some Collection<UInt8>) -> GrabBody? {
        var reader = JSONBytes(bytes)
        guard reader.skipSpace() == UInt8(ascii: "{"), let first = reader.skipSpace() else { return nil }
        if first == UInt8(ascii: "}") { return reader.skipSpace() == nil ? GrabBody(member: nil) : nil }
        guard first == UInt8(ascii: "\""), reader.literal("member\""), reader.skipSpace() == UInt8(ascii: ":"),
              let value = reader.skipSpace() else { return nil }
        var member: UInt32?
        if value == UInt8(ascii: "n") {
            guard reader.literal("ull") else { return nil }
        } else {
            guard let number = reader.integer(value, maxDigits: 10), number <= Int64(UInt32.max) else { return nil }
            member = UInt32(number)
        }
        guard reader.skipSpace() == UInt8(ascii: "}"), reader.skipSpace() == nil else { return nil }
        return GrabBody(member: member)
    }
}

/// A forward reader of JSON bytes for the hand readers of the hot path.
@usableFromInline
struct JSONBytes<Bytes: Collection<UInt8>> {
    @usableFromInline var iterator: Bytes.Iterator
    @usableFromInline var pending: UInt8?

    @inlinable init(_ bytes: Bytes) { iterator = bytes.makeIterator() }

    @inlinable mutating func next() -> UInt8? {
        if let byte = pending { pending = nil; return byte }
        return iterator.next()
    }

    /// The next byte that is not JSON whitespace.
    @inlinable mutating func skipSpace() -> UInt8? {
        while let byte = next() { if byte != 0x20 && byte != 0x0A && byte != 0x0D && byte != 0x09 { return byte } }
        return nil
    }

    /// A string after its opening quote, up to its closing one: no escapes (the API's names have none), at most
    /// 32 bytes.
    @inlinable mutating func string() -> String? {
        var raw: [UInt8] = []
        while let byte = next() {
            if byte == UInt8(ascii: "\"") { return String(decoding: raw, as: UTF8.self) }
            if byte == UInt8(ascii: "\\") || raw.count > 32 { return nil }
            raw.append(byte)
        }
        return nil
    }

    /// Whether the next bytes are exactly `text`.
    @inlinable mutating func literal(_ text: StaticString) -> Bool {
        text.withUTF8Buffer { expected in expected.allSatisfy { next() == $0 } }
    }

    /// A non-negative decimal starting with `first`: no sign, no leading zero, no fraction or exponent, at most
    /// `maxDigits` digits. The byte after it is kept for the next read.
    @inlinable mutating func integer(_ first: UInt8, maxDigits: Int) -> Int64? {
        guard (0x30 ... 0x39).contains(first) else { return nil }
        var value = Int64(first - 0x30), digits = 1
        while let byte = next() {
            guard (0x30 ... 0x39).contains(byte) else {
                guard byte != UInt8(ascii: "."), byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") else { return nil }
                pending = byte
                break
            }
            guard first != 0x30 else { return nil }   // a leading zero
            digits += 1
            guard digits <= maxDigits else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        return value
    }
}

/// `200` of `POST /packets/{id}/grab`: `amount_fen` and `seq` are present when the member holds a share.
public struct GrabAnswer: Codable, Sendable {
    public var outcome: GrabOutcomeName
    public var amountFen: Int64?
    public var seq: Int?

    public init(_ receipt: GrabReceipt) {
        outcome = GrabOutcomeName(receipt.outcome)
        amountFen = receipt.outcome.share?.rawValue
        seq = receipt.seq
    }

    /// The receipt this answer tells of. - Throws: `APIError` for an answer no engine could give.
    public func receipt() throws -> GrabReceipt {
        let outcome: GrabOutcome
        switch (outcome: self.outcome, amount: amountFen) {
        case (.granted, let amount?) where amount > 0: outcome = .granted(Fen(amount))
        case (.alreadyGrabbed, let amount?) where amount > 0: outcome = .alreadyGrabbed(Fen(amount))
        case (.soldOut, nil): outcome = .soldOut
        case (.expired, nil): outcome = .expired
        case (.notMember, nil): outcome = .notMember
        default: throw APIError("a grab answered \(self.outcome.rawValue) with amount \(amountFen.map(String.init) ?? "none")")
        }
        guard (outcome.share != nil) == (seq != nil) else {
            throw APIError("a grab answered \(self.outcome.rawValue) with seq \(seq.map(String.init) ?? "none")")
        }
        return GrabReceipt(outcome, seq: seq)
    }

    enum CodingKeys: String, CodingKey { case outcome, amountFen = "amount_fen", seq }
}

/// `200` of `POST /packets/{id}/expire`.
public struct ExpireAnswer: Codable, Sendable {
    /// `refunded` (this call — or an earlier one with its idempotency key — refunded) or `already_refunded`.
    public var outcome: ExpiryOutcomeName
    public var refundFen: Int64

    public init(_ outcome: ExpiryOutcome) {
        switch outcome {
        case .refunded(let refund): (self.outcome, refundFen) = (.refunded, refund.rawValue)
        case .alreadyRefunded(let refund): (self.outcome, refundFen) = (.alreadyRefunded, refund.rawValue)
        }
    }

    /// The outcome this answer tells of. - Throws: `APIError` for a negative refund.
    public func expiryOutcome() throws -> ExpiryOutcome {
        guard refundFen >= 0 else { throw APIError("an expiry answered a refund of \(refundFen) fen") }
        return switch outcome {
        case .refunded: .refunded(Fen(refundFen))
        case .alreadyRefunded: .alreadyRefunded(Fen(refundFen))
        }
    }

    enum CodingKeys: String, CodingKey { case outcome, refundFen = "refund_fen" }
}

/// `200` of `GET /packets/{id}`: the packet's account.
public struct PacketAccount: Codable, Sendable {
    public struct Grab: Codable, Sendable {
        public var seq: Int
        public var member: UInt32
        public var amountFen: Int64
        enum CodingKeys: String, CodingKey { case seq, member, amountFen = "amount_fen" }
    }

    public var id: UInt64
    public var totalFen: Int64
    public var shares: Int
    public var balanceFen: Int64
    /// Null until the packet is expired.
    public var refundFen: Int64?
    public var grabs: [Grab]
    /// The member with the largest share (the earlier on a tie); null before any grab.
    public var luckiest: UInt32?

    public init(_ summary: PacketSummary) {
        id = summary.packet.rawValue
        totalFen = summary.total.rawValue
        shares = summary.shares
        balanceFen = summary.balance.rawValue
        refundFen = summary.refund?.rawValue
        grabs = summary.grabs.map { Grab(seq: $0.seq, member: $0.member.rawValue, amountFen: $0.amount.rawValue) }
        luckiest = summary.luckiest?.member.rawValue
    }

    public var summary: PacketSummary {
        PacketSummary(packet: PacketID(id), total: Fen(totalFen), shares: shares,
                      grabs: grabs.map { GrabRecord(seq: $0.seq, member: MemberID($0.member), amount: Fen($0.amountFen)) },
                      balance: Fen(balanceFen), refund: refundFen.map { Fen($0) })
    }

    enum CodingKeys: String, CodingKey {
        case id, totalFen = "total_fen", shares, balanceFen = "balance_fen", refundFen = "refund_fen", grabs, luckiest
    }

    /// Every field, `refund_fen` and `luckiest` as `null` when there is none (as the spec and the README list
    /// them), never left out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(totalFen, forKey: .totalFen)
        try container.encode(shares, forKey: .shares)
        try container.encode(balanceFen, forKey: .balanceFen)
        try container.encode(refundFen, forKey: .refundFen)
        try container.encode(grabs, forKey: .grabs)
        try container.encode(luckiest, forKey: .luckiest)
    }
}

/// `GET /health`: whether the service answers, and whether its packets are shared with other processes (Redis).
public struct Health: Codable, Sendable {
    public var status: String
    public var engine: String
    /// True when every process behind the same Redis serves every packet.
    public var shared: Bool
    public init(engine: String, shared: Bool) {
        status = "ok"
        self.engine = engine
        self.shared = shared
    }
}

/// Every error body: `{"error": "…"}`.
public struct ErrorBody: Codable, Sendable {
    public var error: String
    public init(error: String) { self.error = error }
}

/// An answer outside the API.
public struct APIError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension GrabAnswer {
    /// Reads a grab answer from its JSON bytes without `JSONDecoder` — the load generator's hot path, where
    /// decoding cost more than the rest of the client's work: one object of `outcome` (a string), `amount_fen` and
    /// `seq` (non-negative integers), in any order, with any spacing. Returns nil for anything else (a caller then
    /// falls back to `JSONDecoder`, which says what is wrong).
    @inlinable
    public init?(json bytes: some Collection<UInt8>) {
        var outcome: GrabOutcomeName?, amount: Int64?, seq: Int?
        var reader = JSONBytes(bytes)
        guard reader.skipSpace() == UInt8(ascii: "{") else { return nil }
        var first = true
        while true {
            guard var byte = reader.skipSpace() else { return nil }
            if byte == UInt8(ascii: "}") && first { break }
            if !first {
                if byte == UInt8(ascii: "}") { break }
                guard byte == UInt8(ascii: ","), let after = reader.skipSpace() else { return nil }
                byte = after
            }
            first = false
            guard byte == UInt8(ascii: "\""), let key = reader.string(), reader.skipSpace() == UInt8(ascii: ":"),
                  let value = reader.skipSpace() else { return nil }
            switch key {
            case "outcome":
                guard outcome == nil, value == UInt8(ascii: "\""), let name = reader.string(),
                      let parsed = GrabOutcomeName(rawValue: name) else { return nil }
                outcome = parsed
            case "amount_fen":
                guard amount == nil, let parsed = reader.integer(value, maxDigits: 18) else { return nil }
                amount = parsed
            case "seq":
                guard seq == nil, let parsed = reader.integer(value, maxDigits: 18), parsed <= Int64(Int32.max) else { return nil }
                seq = Int(parsed)
            default: return nil
            }
        }
        guard reader.skipSpace() == nil, let outcome else { return nil }
        self.outcome = outcome
        amountFen = amount
        self.seq = seq
    }
}
