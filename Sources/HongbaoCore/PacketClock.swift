#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where engines read the time to decide whether a packet has expired. Injectable, so tests never sleep.
public protocol PacketClock: Sendable {
    /// Monotonic nanoseconds since an arbitrary origin that stays fixed for the clock's life.
    var nanoseconds: Int64 { get }
}

/// The real clock: `CLOCK_MONOTONIC_COARSE`, read without a system call in a few nanoseconds, with the
/// scheduler tick's resolution (1–4 ms) — ample for packets that expire after hours, and cheap enough to read on
/// every grab.
public struct SystemPacketClock: PacketClock {
    /// The system's monotonic coarse clock.
    public init() {}

    /// Now, in nanoseconds since boot.
    @inlinable
    public var nanoseconds: Int64 {
        var now = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
        #else
        clock_gettime(CLOCK_MONOTONIC, &now)
        #endif
        return Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at `Int64.max` (292 years).
    public var nanosecondsSaturated: Int64 {
        let (seconds, attoseconds) = components
        let saturated: Int64 = seconds < 0 ? .min : .max
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return saturated }
        let (sum, carry) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)  // the sub-second part can overflow too
        return carry ? saturated : sum
    }
}
