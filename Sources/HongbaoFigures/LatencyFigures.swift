import Histogram

/// A run's latency figures in nanoseconds, read off its HdrHistogram: the percentiles the table shows and wrk2's
/// ladder that the results store keeps.
public struct LatencyFigures: Sendable, Encodable {
    /// Median.
    public let p50: UInt64
    /// 90th percentile.
    public let p90: UInt64
    /// 99th percentile.
    public let p99: UInt64
    /// 99.9th percentile.
    public let p999: UInt64
    /// The slowest.
    public let max: UInt64
    /// (percentile, nanoseconds) at 50, 75, 90, 99, 99.9, 99.99, 99.999 and 100.
    public let ladder: [(percentile: Double, nanoseconds: UInt64)]

    static let ladderPercentiles = [50, 75, 90, 99, 99.9, 99.99, 99.999, 100]

    /// The figures of `histogram` (all zero for an empty one).
    public init(_ histogram: Histogram<UInt64>) {
        p50 = histogram.valueAtPercentile(50)
        p90 = histogram.valueAtPercentile(90)
        p99 = histogram.valueAtPercentile(99)
        p999 = histogram.valueAtPercentile(99.9)
        max = histogram.max
        ladder = Self.ladderPercentiles.map { ($0, $0 == 100 ? histogram.max : histogram.valueAtPercentile($0)) }
    }

    enum CodingKeys: String, CodingKey {
        case p50, p90, p99, p999 = "p99.9", max
    }
}
