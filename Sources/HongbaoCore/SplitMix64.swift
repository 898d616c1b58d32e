/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014):
/// a fast seedable generator whose n-th output is a pure function of the seed, so it can be jumped to in O(1).
///
/// Hongbao uses it wherever a result must be reproducible from a seed. It is not cryptographic: a service that
/// must stop members predicting shares seeds it from a secret per packet.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The golden-ratio increment of the state.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// The generator's state: the next output is `mix(state + gamma)`.
    public var state: UInt64

    /// A generator starting from `seed`.
    @inlinable public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= Self.gamma
        return Self.mix(state)
    }

    /// The output that the `index`-th call of `next()` (0-based) on `SplitMix64(seed:)` returns. O(1).
    @inlinable
    public static func output(seed: UInt64, index: Int) -> UInt64 {
        mix(seed &+ gamma &* UInt64(truncatingIfNeeded: index + 1))
    }

    @inlinable
    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0 ..< bound`, without modulo bias (Lemire, "Fast random integer generation in an
    /// interval", 2019). Spelled out rather than `Int.random(in:)` so that results stay the same across Swift
    /// versions: the standard library does not promise a stable algorithm.
    @inlinable
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "below(0) has no value to return")
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }
}
