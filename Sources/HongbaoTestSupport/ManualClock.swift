import HongbaoCore
import Synchronization

/// A clock that stands still until a test moves it, so expiry is tested without sleeping.
public final class ManualClock: PacketClock {
    private let origin = ContinuousClock.now
    private let offsetNanoseconds = Atomic<Int64>(0)

    public init() {}

    public var now: ContinuousClock.Instant {
        origin.advanced(by: .nanoseconds(offsetNanoseconds.load(ordering: .relaxed)))
    }

    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        offsetNanoseconds.add(seconds * 1_000_000_000 + attoseconds / 1_000_000_000, ordering: .relaxed)
    }
}
