import HongbaoCore
import HongbaoTestSupport
import Testing

@Suite("Splitting")
struct SplittingTests {
    static let scale = TestEnvironment.longTests ? 20 : 1

    /// Thousands of seeded random specs per algorithm: exact sum, every share in 1 fen ... cap, the right count.
    @Test(arguments: [SplitAlgorithm.doubleMeanAtGrab, .doubleMean, .lineCutting, .shuffled])
    func everySplitIsExactAndWithinTheCap(_ algorithm: SplitAlgorithm) throws {
        var generator = SplitMix64(seed: 0xC0FFEE)
        for _ in 0 ..< 4_000 * Self.scale {
            let cap = Fen(1 + Int64(generator.below(30_000)))
            let shares = 1 + Int(generator.below(100))
            let policy = PacketPolicy(perShareCap: cap, shareCountCap: 100)
            // Totals over the whole feasible range, with the edges drawn often.
            let low = Int64(shares), high = cap.rawValue * Int64(shares)
            guard low <= high else { continue }
            let total: Int64 = switch generator.below(4) {
            case 0: low
            case 1: high
            default: low + Int64(generator.below(UInt64(high - low + 1)))
            }
            let spec = try PacketSpec(total: Fen(total), shares: shares, algorithm: algorithm, policy: policy)
            let seed = generator.next()
            let split = RedPacket.split(spec, seed: seed)
            #expect(splitViolations(split, total: spec.total, count: shares, cap: cap) == [], "\(spec), seed \(seed)")
            #expect(RedPacket.split(spec, seed: seed) == split, "the same seed gives the same shares")
        }
    }

    @Test func equalAndExclusivePacketsSplitAsTheySay() throws {
        let equal = try PacketSpec(total: 600, shares: 6, kind: .equal(perShare: 100))
        #expect(RedPacket.split(equal, seed: 1) == Array(repeating: Fen(100), count: 6))
        let exclusive = try PacketSpec(total: 8_88, shares: 1, kind: .exclusive(7))
        #expect(RedPacket.split(exclusive, seed: 1) == [8_88])
    }

    /// The narrowed double-mean range is never empty: for every feasible (balance, remaining, cap) in a small
    /// box, lo ≤ hi, so no share can break the cap or leave the rest infeasible. (Proof: write M = qn + r. If
    /// r = 0 then lo ≤ M − q(n−1) = q ≤ 2q − 1; if r > 0 then cap ≥ q + 1 and lo ≤ q + r − n + 1 ≤ q.)
    @Test func cappedDoubleMeanRangeIsNeverEmpty() {
        for cap in Int64(1) ... 12 {
            for remaining in Int64(2) ... 12 {
                for balance in remaining ... cap * remaining {
                    let low = max(1, balance - cap * (remaining - 1))
                    let high = min(2 * (balance / remaining) - 1, cap)
                    #expect(low <= high, "M=\(balance) n=\(remaining) cap=\(cap)")
                    for random in [UInt64(0), 1, 7, 1 << 47] {
                        let share = DoubleMean.share(balance: balance, remaining: remaining, cap: cap, random48: random)
                        let rest = balance - share
                        #expect(share >= 1 && share <= cap && rest >= remaining - 1 && rest <= cap * (remaining - 1))
                    }
                }
            }
        }
    }

    /// A public-implementation bug: with a tight cap, the last share takes the remainder above the cap.
    @Test func theLastShareNeverAbsorbsMoreThanTheCap() throws {
        let policy = PacketPolicy(perShareCap: 100, shareCountCap: 100)
        for algorithm in [SplitAlgorithm.doubleMean, .lineCutting, .shuffled] {
            let spec = try PacketSpec(total: 1_000, shares: 10, algorithm: algorithm, policy: policy)
            for seed in UInt64(0) ..< 200 {
                #expect(RedPacket.split(spec, seed: seed) == Array(repeating: Fen(100), count: 10))
            }
            let loose = try PacketSpec(total: 990, shares: 10, algorithm: algorithm, policy: policy)
            for seed in UInt64(0) ..< 200 {
                #expect(splitViolations(RedPacket.split(loose, seed: seed), total: 990, count: 10, cap: 100) == [])
            }
        }
    }

    @Test func doubleMeanAtGrabAndPreSplitDrawTheSameAmounts() throws {
        let atGrab = try PacketSpec(total: 100_00, shares: 10, algorithm: .doubleMeanAtGrab)
        let preSplit = try PacketSpec(total: 100_00, shares: 10, algorithm: .doubleMean)
        for seed in UInt64(0) ..< 100 {
            #expect(RedPacket.split(atGrab, seed: seed) == RedPacket.split(preSplit, seed: seed))
        }
    }

    @Test func splitMix64MatchesTheReferenceAndJumps() {
        // Reference outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
        var generator = SplitMix64(seed: 1_234_567)
        #expect(generator.next() == 6_457_827_717_110_365_317)
        #expect(generator.next() == 3_203_168_211_198_807_973)
        for index in 0 ..< 10 {
            var fresh = SplitMix64(seed: 99)
            for _ in 0 ..< index { _ = fresh.next() }
            #expect(SplitMix64.output(seed: 99, index: index) == fresh.next())
        }
    }

    @Test func belowIsUniformWithoutBias() {
        var generator = SplitMix64(seed: 5)
        var counts = Array(repeating: 0, count: 6)
        let draws = 60_000
        for _ in 0 ..< draws { counts[Int(generator.below(6))] += 1 }
        // Each count is Binomial(60000, 1/6): sd ≈ 91; 6 sd = 548 bounds a false failure below 1e-8.
        for count in counts { #expect(abs(count - draws / 6) < 548, "\(counts)") }
    }
}
