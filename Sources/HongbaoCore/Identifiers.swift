/// A group member, as a compact 32-bit id (the simulator stores millions of them in flat arrays).
public struct MemberID: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    ExpressibleByIntegerLiteral, CustomStringConvertible
{
    public var rawValue: UInt32
    /// The member with this id.
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(integerLiteral value: UInt32) { self.rawValue = value }
    @inlinable public static func < (a: MemberID, b: MemberID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "member \(rawValue)" }
}

/// A packet's id, issued by the engine that the packet was sent to.
public struct PacketID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt64
    /// The packet with this id.
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: PacketID, b: PacketID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "packet \(rawValue)" }
}
