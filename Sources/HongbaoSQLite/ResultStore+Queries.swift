/// Reading runs back for the report.
extension ResultStore {
    /// A stored run, as `runs` has it.
    public struct Run: Sendable {
        /// The run's id.
        public let id: Int64
        /// When it started (ISO 8601).
        public let startedAt: String
        /// The engine's name.
        public let engine: String
        /// The split algorithm of its lucky packets, or `mixed`.
        public let algorithm: String
        /// The workload's seed.
        public let seed: Int64
        /// Members in the population.
        public let members: Int
        /// Packets sent.
        public let packets: Int
        /// Worker threads.
        public let threads: Int
        /// Grab attempts run (0 while incomplete).
        public let attempts: Int
        /// Successful grabs.
        public let grabs: Int
        /// Sold-out answers.
        public let soldOut: Int
        /// Successful grabs per second.
        public let grabsPerSecond: Double
        /// Attempts per second.
        public let attemptsPerSecond: Double
        /// p50, p90, p99, p99.9, max in ns.
        public let latency: [Int64]
        /// Fen refunded.
        public let refund: Int64
        /// The verdict's line, or `incomplete`.
        public let verdict: String
        /// Whether the run finished (an interrupted run stays incomplete).
        public let complete: Bool
        /// The workload's scenario (`festival` or `hot`), from the run's settings; `festival` for a run that does
        /// not say.
        public let scenario: String
    }

    /// Fairness at one grab position of one algorithm: share ÷ average share, and how often the luckiest share
    /// was grabbed there.
    public struct PositionStatistics: Sendable {
        /// The split algorithm.
        public let algorithm: String
        /// The grab position, from 1.
        public let position: Int
        /// Shares grabbed at this position.
        public let count: Int
        /// Mean of share ÷ average share.
        public let mean: Double
        /// Standard deviation of share ÷ average share.
        public let standardDeviation: Double
        /// How often the luckiest share fell at this position.
        public let luckiest: Int
    }

    /// A run's refunds.
    public struct Refunds: Sendable {
        /// Packets of the run.
        public let packets: Int
        /// Packets with a refund (not sold out).
        public let refunded: Int
        /// Fen refunded.
        public let refundFen: Int64
        /// Fen sent.
        public let totalFen: Int64
    }

    /// Runs by id (all when `ids` is empty), oldest first.
    public func runs(_ ids: [Int64] = []) throws -> [Run] {
        let filter = ids.isEmpty ? "" : "WHERE id IN (\(ids.map(String.init).joined(separator: ",")))"
        let statement = try database.prepare("""
            SELECT id, started_at, engine, algorithm, seed, members, packets, threads, COALESCE(attempts, 0),
                   COALESCE(grabs, 0), COALESCE(sold_out, 0), COALESCE(grabs_per_s, 0), COALESCE(attempts_per_s, 0),
                   COALESCE(p50_ns, 0), COALESCE(p90_ns, 0), COALESCE(p99_ns, 0), COALESCE(p999_ns, 0),
                   COALESCE(max_ns, 0), COALESCE(refund_fen, 0), COALESCE(verdict, 'incomplete'), complete,
                   COALESCE(CASE WHEN json_valid(config_json) THEN json_extract(config_json, '$.scenario') END, 'festival')
            FROM runs \(filter) ORDER BY id
            """)
        var runs: [Run] = []
        while try statement.step() {
            runs.append(Run(
                id: statement.int64(at: 0), startedAt: statement.text(at: 1), engine: statement.text(at: 2),
                algorithm: statement.text(at: 3), seed: statement.int64(at: 4), members: Int(statement.int64(at: 5)),
                packets: Int(statement.int64(at: 6)), threads: Int(statement.int64(at: 7)),
                attempts: Int(statement.int64(at: 8)), grabs: Int(statement.int64(at: 9)),
                soldOut: Int(statement.int64(at: 10)), grabsPerSecond: statement.double(at: 11),
                attemptsPerSecond: statement.double(at: 12), latency: (13 ... 17).map { statement.int64(at: $0) },
                refund: statement.int64(at: 18), verdict: statement.text(at: 19), complete: statement.int64(at: 20) == 1,
                scenario: String(statement.text(at: 21).prefix(32))))
        }
        if let missing = ids.first(where: { id in !runs.contains { $0.id == id } }) {
            throw ResultStoreError.noSuchRun(missing, path: database.path)
        }
        return runs
    }

    /// The share count most common among the run's fully grabbed lucky packets of at least 5 shares (else 3): the
    /// packets whose positions are compared. Nil if there are none.
    public func comparableShareCount(run: Int64) throws -> Int? {
        let statement = try database.prepare("""
            SELECT shares FROM packets
            WHERE run_id = ? AND kind = 'lucky' AND grabbed_shares = shares AND shares >= ?
            GROUP BY shares ORDER BY COUNT(*) DESC, shares DESC LIMIT 1
            """)
        for minimum in [5, 3] {   // prefer packets of 5 or more shares, where position matters most
            statement.bind(run, at: 1)
            statement.bind(Int64(minimum), at: 2)
            if try statement.step() { return Int(statement.int64(at: 0)) }
            statement.reset()
        }
        return nil
    }

    /// Fairness by grab position for the run's fully grabbed lucky packets of `shares` shares, per algorithm.
    public func positionStatistics(run: Int64, shares: Int) throws -> [PositionStatistics] {
        let statement = try database.prepare("""
            SELECT p.algorithm, g.seq, COUNT(*),
                   AVG(g.amount_fen * p.shares * 1.0 / p.total_fen),
                   AVG((g.amount_fen * p.shares * 1.0 / p.total_fen) * (g.amount_fen * p.shares * 1.0 / p.total_fen)),
                   SUM(g.member_id = p.luckiest_member_id)
            FROM packets p JOIN grabs g ON g.run_id = p.run_id AND g.packet_id = p.packet_id
            WHERE p.run_id = ? AND p.kind = 'lucky' AND p.shares = ? AND p.grabbed_shares = p.shares
            GROUP BY p.algorithm, g.seq ORDER BY p.algorithm, g.seq
            """)
        statement.bind(run, at: 1)
        statement.bind(Int64(shares), at: 2)
        var rows: [PositionStatistics] = []
        while try statement.step() {
            let mean = statement.double(at: 3)
            rows.append(PositionStatistics(
                algorithm: statement.text(at: 0), position: Int(statement.int64(at: 1)), count: Int(statement.int64(at: 2)),
                mean: mean, standardDeviation: max(0, statement.double(at: 4) - mean * mean).squareRoot(),
                luckiest: Int(statement.int64(at: 5))))
        }
        return rows
    }

    /// The refunds of `run`.
    public func refunds(run: Int64) throws -> Refunds {
        let statement = try database.prepare("""
            SELECT COUNT(*), COALESCE(SUM(refund_fen > 0), 0), COALESCE(SUM(refund_fen), 0), COALESCE(SUM(total_fen), 0)
            FROM packets WHERE run_id = ?
            """)
        statement.bind(run, at: 1)
        try statement.step()
        return Refunds(packets: Int(statement.int64(at: 0)), refunded: Int(statement.int64(at: 1)),
                       refundFen: statement.int64(at: 2), totalFen: statement.int64(at: 3))
    }

    /// The run's latency ladder: (percentile, ns), ascending.
    public func latencyLadder(run: Int64) throws -> [(Double, Int64)] {
        let statement = try database.prepare("SELECT percentile, latency_ns FROM latency_ladder WHERE run_id = ? ORDER BY percentile")
        statement.bind(run, at: 1)
        var ladder: [(Double, Int64)] = []
        while try statement.step() { ladder.append((statement.double(at: 0), statement.int64(at: 1))) }
        return ladder
    }
}
