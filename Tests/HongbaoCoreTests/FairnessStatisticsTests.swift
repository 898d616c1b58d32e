import HongbaoCore
import Testing

/// Fairness by grab position, with stated confidence bounds. Each bound is at least 6 standard errors wide, so a
/// correct algorithm fails it with probability below 1e-8 per check; the seeds are fixed, so runs are repeatable.
@Suite("Fairness by grab position")
struct FairnessStatisticsTests {
    static let packets = 20_000
    static let shares = 10
    static let total = Fen(100_00)

    /// Mean and standard deviation of share ÷ average share at each grab position.
    static func positionStatistics(_ algorithm: SplitAlgorithm) throws -> [(mean: Double, sd: Double)] {
        let spec = try PacketSpec(total: total, shares: shares, algorithm: algorithm)
        let average = Double(total.rawValue) / Double(shares)
        var sums = Array(repeating: 0.0, count: shares), squares = sums
        for seed in 0 ..< UInt64(packets) {
            for (position, share) in RedPacket.split(spec, seed: seed &* 7919).enumerated() {
                let x = Double(share.rawValue) / average
                sums[position] += x
                squares[position] += x * x
            }
        }
        let n = Double(packets)
        return (0 ..< shares).map { position in
            let mean = sums[position] / n
            return (mean, (squares[position] / n - mean * mean).squareRoot())
        }
    }

    static func standardError(_ sd: Double) -> Double { sd / Double(packets).squareRoot() }

    @Test(arguments: [SplitAlgorithm.doubleMeanAtGrab, .lineCutting, .shuffled])
    func theMeanShareIsTheAverageAtEveryPosition(_ algorithm: SplitAlgorithm) throws {
        for (position, stats) in try Self.positionStatistics(algorithm).enumerated() {
            #expect(abs(stats.mean - 1) < 6 * Self.standardError(stats.sd),
                    "\(algorithm) position \(position + 1): mean \(stats.mean)")
        }
    }

    @Test func doubleMeanSpreadRisesWithPosition() throws {
        let stats = try Self.positionStatistics(.doubleMeanAtGrab)
        // The sd of a sample sd is about sd / √(2n): 0.4 % here. Later grabs are never less spread (beyond 4 of
        // those), and the last grab is far more spread than the first (measured ≈ 1.33×; asserted > 1.2×).
        for position in 1 ..< stats.count {
            let tolerance = 4 * stats[position].sd / (2 * Double(Self.packets)).squareRoot()
            #expect(stats[position].sd > stats[position - 1].sd - tolerance, "position \(position + 1)")
        }
        #expect(stats.last!.sd > 1.2 * stats.first!.sd, "first \(stats.first!.sd), last \(stats.last!.sd)")
    }

    @Test(arguments: [SplitAlgorithm.lineCutting, .shuffled])
    func positionNeutralAlgorithmsHaveFlatSpread(_ algorithm: SplitAlgorithm) throws {
        let sds = try Self.positionStatistics(algorithm).map(\.sd)
        // Each sd has a relative standard error of 1/√(2n) = 0.5 %; 5 % is 10 of them.
        #expect(sds.max()! / sds.min()! < 1.05, "\(algorithm): \(sds)")
    }
}
