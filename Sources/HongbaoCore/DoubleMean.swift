/// One step of double mean (二倍均值), the rule WeChat describes for lucky packets: with balance M and n shares
/// left, a share is uniform in [1, 2·⌊M/n⌋ − 1] fen and the last share takes the rest, so every share's expected
/// value is about M/n wherever it is grabbed.
///
/// With a per-share cap the range is narrowed to what keeps the rest feasible:
/// `lo = max(1, M − cap·(n−1))`, `hi = min(2·⌊M/n⌋ − 1, cap)`. Given `n ≤ M ≤ cap·n`, `lo ≤ hi` always holds (the
/// proof is in `Tests/HongbaoCoreTests/SplittingTests.swift`), so the sum stays exact, every share ≥ 1 fen and
/// ≤ cap — public implementations that let the last share absorb whatever is left break the cap here.
///
/// The random input is 48 bits wide and reduced by `r mod (hi − lo + 1)`: Lua (Redis) computes the same in double
/// precision exactly, and the modulo bias is below 2^-26 for any range up to 4,000,000 fen.
public enum DoubleMean {
    /// The share taken with `balance` fen and `remaining` shares left, from a 48-bit random number.
    /// - Precondition: `remaining ≥ 1`, `remaining ≤ balance ≤ cap × remaining`.
    @inlinable
    public static func share(balance: Int64, remaining: Int64, cap: Int64, random48: UInt64) -> Int64 {
        if remaining == 1 { return balance }
        let low = max(1, balance - cap * (remaining - 1))
        let high = min(2 * (balance / remaining) - 1, cap)
        return low + Int64(random48 % UInt64(high - low + 1))
    }

    /// The 48-bit random number that the share with 0-based grab index `index` of a packet with `seed` uses.
    /// Computing at grab time and drawing at creation use the same numbers, so both give the same amounts.
    @inlinable
    public static func random48(seed: UInt64, index: Int) -> UInt64 {
        SplitMix64.output(seed: seed, index: index) >> 16
    }
}
