import Foundation
import HongbaoCore

/// The system's wall clock (CLOCK_REALTIME): what expiry on a shared server must be judged by.
public struct WallPacketClock: PacketClock {
    /// The wall clock.
    public init() {}
    /// Now, in nanoseconds since 1970.
    public var nanoseconds: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
