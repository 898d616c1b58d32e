/// Where engines read the time to decide whether a packet has expired. Injectable, so tests never sleep.
public protocol PacketClock: Sendable {
    var now: ContinuousClock.Instant { get }
}

/// The real clock.
public struct SystemPacketClock: PacketClock {
    public init() {}
    @inlinable public var now: ContinuousClock.Instant { .now }
}
