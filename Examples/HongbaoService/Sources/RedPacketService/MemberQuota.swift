import Foundation
import NIOConcurrencyHelpers

/// How many group members one client may make the service store: a token bucket per client (the caller's member
/// with tokens, its address without), `perMinute`
/// members refilled evenly over a minute, holding at most `perMinute` (a client may spend a minute's worth at once).
/// A send that would take more than the client holds is refused (429, with the seconds until it would fit) and
/// stores nothing. Integer arithmetic throughout (member counts and nanoseconds).
///
/// The book is bounded: past `maxClients` entries, those whose buckets have refilled are forgotten (they are
/// indistinguishable from a new client).
public final class MemberQuota: Sendable {
    /// Members per client per minute; 0 means no limit.
    public let perMinute: Int64
    static let maxClients = 100_000
    private let buckets = NIOLockedValueBox<[String: (tokens: Int64, at: ContinuousClock.Instant)]>([:])

    /// The largest quota (so that the refill's arithmetic cannot overflow).
    public static let maxPerMinute: Int64 = 1_000_000_000

    /// A quota of `perMinute` members per client per minute (0: unlimited).
    public init(perMinute: Int64) {
        precondition((0 ... Self.maxPerMinute).contains(perMinute), "a quota is in 0 ... \(Self.maxPerMinute)")
        self.perMinute = perMinute
    }

    /// Takes `members` from `client`'s bucket. - Returns: nil if taken, else the seconds until they would fit.
    func take(_ members: Int, from client: String, now: ContinuousClock.Instant = .now) -> Int? {
        guard perMinute > 0 else { return nil }
        let wanted = Int64(members)
        return buckets.withLockedValue { buckets in
            if buckets.count >= Self.maxClients { buckets = buckets.filter { refilled($0.value, now: now) < perMinute } }
            let held = buckets[client].map { refilled($0, now: now) } ?? perMinute
            guard wanted <= held else {
                buckets[client] = (held, now)
                let missing = min(wanted, perMinute) - held
                return max(1, Int((missing * 60 + perMinute - 1) / perMinute))
            }
            buckets[client] = (held - wanted, now)
            return nil
        }
    }

    /// The bucket's tokens at `now`: refilled by `perMinute` per 60 s since it was last touched, at most full.
    private func refilled(_ bucket: (tokens: Int64, at: ContinuousClock.Instant), now: ContinuousClock.Instant) -> Int64 {
        let elapsed = min(now - bucket.at, .seconds(60))
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        return min(perMinute, bucket.tokens + perMinute * microseconds / 60_000_000)   // ≤ 10^9 × 6·10^7: no overflow
    }
}
