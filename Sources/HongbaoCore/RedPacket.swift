/// Splitting a packet's total into shares. Every algorithm returns shares that sum exactly to the total, each
/// at least 1 fen and at most the policy's per-share cap, reproducibly from the seed.
public enum RedPacket {
    /// The shares of `spec`, in grab order, drawn from `seed`.
    ///
    /// For `.doubleMeanAtGrab` this is the sequence an engine computes grab by grab (the k-th successful grab
    /// uses the k-th random number of the seed), so it doubles as the packet's expected amounts.
    /// An exclusive packet has one share: the total. O(shares) except line cutting, O(shares²) worst case.
    public static func split(_ spec: PacketSpec, seed: UInt64) -> [Fen] {
        if case .exclusive = spec.kind { return [spec.total] }
        return split(total: spec.total, shares: spec.shares, algorithm: spec.algorithm,
                     cap: spec.policy.perShareCap, seed: seed)
    }

    /// The shares of `total` in `shares` parts by `algorithm`, each in `1 fen ... cap`.
    /// - Precondition: `shares ≤ total ≤ cap × shares`, as `PacketSpec` validates.
    public static func split(total: Fen, shares: Int, algorithm: SplitAlgorithm, cap: Fen, seed: UInt64) -> [Fen] {
        precondition(shares >= 1 && total.rawValue >= Int64(shares) && total.rawValue <= cap.rawValue * Int64(shares),
                     "split needs shares ≤ total ≤ cap × shares: validate with PacketSpec first")
        var generator = SplitMix64(seed: seed)
        switch algorithm {
        case .doubleMeanAtGrab, .doubleMean:
            return doubleMean(total: total, shares: shares, cap: cap, seed: seed)
        case .shuffled:
            var amounts = doubleMean(total: total, shares: shares, cap: cap, seed: seed)
            // The double-mean draws used outputs 0 ..< shares; the shuffle continues after them.
            generator = SplitMix64(seed: seed &+ SplitMix64.gamma &* UInt64(shares))
            shuffle(&amounts, using: &generator)
            return amounts
        case .lineCutting:
            return lineCutting(total: total, shares: shares, cap: cap, using: &generator)
        case .equal:
            precondition(total.rawValue % Int64(shares) == 0, "an equal split needs total divisible by shares")
            return Array(repeating: Fen(total.rawValue / Int64(shares)), count: shares)
        }
    }

    static func doubleMean(total: Fen, shares: Int, cap: Fen, seed: UInt64) -> [Fen] {
        var amounts: [Fen] = []
        amounts.reserveCapacity(shares)
        var balance = total.rawValue
        for index in 0 ..< shares {
            let amount = DoubleMean.share(balance: balance, remaining: Int64(shares - index), cap: cap.rawValue,
                                          random48: DoubleMean.random48(seed: seed, index: index))
            amounts.append(Fen(amount))
            balance -= amount
        }
        return amounts
    }

    /// Fisher–Yates, with `SplitMix64.below` so the permutation is stable across Swift versions.
    static func shuffle(_ amounts: inout [Fen], using generator: inout SplitMix64) {
        guard amounts.count > 1 else { return }
        for i in stride(from: amounts.count - 1, to: 0, by: -1) {
            amounts.swapAt(i, Int(generator.below(UInt64(i + 1))))
        }
    }

    /// Line-segment cutting: `shares − 1` distinct cut points in `1 ..< total`, chosen uniformly by Floyd's
    /// algorithm (kept sorted as they are drawn), and the shares are the gaps between them. Every position has
    /// the same distribution. Gaps above the cap give their excess to shares with room, chosen at random.
    static func lineCutting(total: Fen, shares: Int, cap: Fen, using generator: inout SplitMix64) -> [Fen] {
        let points = Int64(total.rawValue - 1)   // candidate cut points 1 ... total−1
        let cuts = Int64(shares - 1)
        var sortedCuts: [Int64] = []
        sortedCuts.reserveCapacity(shares - 1)
        // Floyd's sampling of `cuts` distinct values from 1 ... points.
        var j = points - cuts + 1
        while j <= points {
            let candidate = 1 + Int64(generator.below(UInt64(j)))
            let chosen = insertionPoint(of: candidate, in: sortedCuts).found ? j : candidate
            sortedCuts.insert(chosen, at: insertionPoint(of: chosen, in: sortedCuts).index)
            j += 1
        }
        var amounts: [Fen] = []
        amounts.reserveCapacity(shares)
        var previous: Int64 = 0
        for cut in sortedCuts {
            amounts.append(Fen(cut - previous))
            previous = cut
        }
        amounts.append(Fen(total.rawValue - previous))
        enforceCap(&amounts, cap: cap, using: &generator)
        return amounts
    }

    private static func insertionPoint(of value: Int64, in sorted: [Int64]) -> (index: Int, found: Bool) {
        let low = sorted.partitioningIndex { $0 >= value }
        return (low, low < sorted.count && sorted[low] == value)
    }

    /// Lowers every share above `cap` to it and hands the excess, a random part at a time, to random shares
    /// below the cap. The sum is unchanged; it ends because the total is at most `cap × shares`.
    static func enforceCap(_ amounts: inout [Fen], cap: Fen, using generator: inout SplitMix64) {
        var excess: Int64 = 0
        for i in amounts.indices where amounts[i] > cap {
            excess += amounts[i].rawValue - cap.rawValue
            amounts[i] = cap
        }
        while excess > 0 {
            let i = Int(generator.below(UInt64(amounts.count)))
            let room = cap.rawValue - amounts[i].rawValue
            guard room > 0 else { continue }
            let moved = 1 + Int64(generator.below(UInt64(min(room, excess))))
            amounts[i] = amounts[i] + Fen(moved)
            excess -= moved
        }
    }
}
