import HongbaoCore
import Synchronization

/// A clock that stands still until a test moves it, so expiry is tested without sleeping.
public final class ManualClock: PacketClock {
    private let now = Atomic<Int64>(1_000_000_000)

    /// A clock at 1 s.
    public init() {}

    /// The time it was set to.
    public var nanoseconds: Int64 { now.load(ordering: .relaxed) }

    /// Moves the clock forward.
    public func advance(by duration: Duration) {
        now.add(duration.nanosecondsSaturated, ordering: .relaxed)
    }
}
