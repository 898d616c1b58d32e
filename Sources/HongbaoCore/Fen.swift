/// An amount of money in fen (1/100 yuan). Money is always an integer: no floating point on any money path.
///
/// Arithmetic traps on overflow, as `Int64` does: a packet's money never comes near `Int64.max`, so an overflow
/// is a bug. Input that could overflow is rejected earlier, by `PacketSpec`'s validation.
public struct Fen: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    ExpressibleByIntegerLiteral, AdditiveArithmetic, CustomStringConvertible
{
    public var rawValue: Int64

    /// This many fen.
    @inlinable public init(rawValue: Int64) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: Int64) { self.rawValue = rawValue }
    @inlinable public init(integerLiteral value: Int64) { self.rawValue = value }

    /// Whole yuan, e.g. `Fen(yuan: 200)` is 20,000 fen.
    @inlinable public init(yuan: Int64) { self.rawValue = yuan * 100 }

    /// No money.
    public static let zero = Fen(0)

    @inlinable public static func + (a: Fen, b: Fen) -> Fen { Fen(a.rawValue + b.rawValue) }
    @inlinable public static func - (a: Fen, b: Fen) -> Fen { Fen(a.rawValue - b.rawValue) }
    @inlinable public static func * (a: Fen, n: Int) -> Fen { Fen(a.rawValue * Int64(n)) }
    @inlinable public static func < (a: Fen, b: Fen) -> Bool { a.rawValue < b.rawValue }

    /// `¥12.34`; negative amounts as `-¥0.05`.
    public var description: String {
        let magnitude = rawValue.magnitude
        let cents = magnitude % 100
        return "\(rawValue < 0 ? "-" : "")¥\(magnitude / 100).\(cents < 10 ? "0" : "")\(cents)"
    }
}

extension Sequence where Element == Fen {
    /// The exact sum of these amounts.
    @inlinable public func sum() -> Fen { reduce(.zero, +) }
}
