/// What merging the runs of several load generators (`bench --shard K/N`) needs from each file, and the checks that
/// only the merged rows can make.
extension ResultStore {
    /// A complete run of one shard, with what merging needs.
    public struct ShardRun: Sendable {
        /// The run's id in its file.
        public let id: Int64
        /// The run id the shards share.
        public let group: String
        /// 0-based.
        public let shard: Int
        /// N, the shards of the run.
        public let shardCount: Int
        /// The run's row as written at its start.
        public let start: RunStart
        /// Grab attempts this shard ran.
        public let attempts: Int
        /// Grants its callers were told.
        public let grabs: Int
        /// Sold-out answers.
        public let soldOut: Int
        /// Grabs that started late (open loop).
        public let late: Int
        /// Fen refunded of the packets it sent.
        public let refund: Int64
        /// When its grab phase ran, in milliseconds since 1970.
        public let grabWallMilliseconds: ClosedRange<Int64>
        /// Its latency histogram (HdrHistogram, JSON).
        public let histogramJSON: String
        /// Its verdict's counts (JSON).
        public let verdictJSON: String
    }

    /// Whether this file holds a merged run of the shards of `group` (`hongbao merge` wrote one before).
    public func hasMergedRun(of group: String) throws -> Bool {
        let statement = try database.prepare("SELECT COUNT(*) FROM runs WHERE run_group = ? AND shard LIKE 'merged%'")
        statement.bind(group, at: 1)
        return try statement.step() && statement.int64(at: 0) > 0
    }

    /// The latest complete shard run in this file, or nil if it has none (a merged run is not a shard's run).
    public func latestShardRun() throws -> ShardRun? {
        let statement = try database.prepare("""
            SELECT id, run_group, shard, started_at, engine, algorithm, seed, members, packets, threads, config_json,
                   attempts, grabs, sold_out, late, refund_fen, grab_started_ms, grab_ended_ms, histogram_json, verdict_json
            FROM runs
            WHERE complete = 1 AND shard IS NOT NULL AND shard NOT LIKE 'merged%' AND run_group IS NOT NULL
              AND histogram_json IS NOT NULL AND verdict_json IS NOT NULL
            ORDER BY id DESC LIMIT 1
            """)
        guard try statement.step() else { return nil }
        let shard = statement.text(at: 2).split(separator: "/")
        guard shard.count == 2, let k = Int(shard[0]), let n = Int(shard[1]), (1 ... n).contains(k) else {
            throw ResultStoreError.foreign(path: path)
        }
        let start = RunStart(startedAt: statement.text(at: 3), engine: statement.text(at: 4), algorithm: statement.text(at: 5),
                             seed: UInt64(bitPattern: statement.int64(at: 6)), members: Int(statement.int64(at: 7)),
                             packets: Int(statement.int64(at: 8)), threads: Int(statement.int64(at: 9)), rate: nil,
                             durationLimit: nil, configJSON: statement.text(at: 10), group: statement.text(at: 1),
                             shard: statement.text(at: 2))
        let started = statement.int64(at: 16)
        return ShardRun(id: statement.int64(at: 0), group: statement.text(at: 1), shard: k - 1, shardCount: n, start: start,
                        attempts: Int(statement.int64(at: 11)), grabs: Int(statement.int64(at: 12)),
                        soldOut: Int(statement.int64(at: 13)), late: Int(statement.int64(at: 14)), refund: statement.int64(at: 15),
                        grabWallMilliseconds: started ... max(started, statement.int64(at: 17)),
                        histogramJSON: statement.text(at: 18), verdictJSON: statement.text(at: 19))
    }

    /// Copies the `packets` and `grabs` rows of `run` in the file at `source` into this store's run `target`.
    /// - Throws: `SQLiteError` (the file cannot be attached or read, the disk is full).
    public func copyRows(of run: Int64, from source: String, into target: Int64) throws {
        let quoted = "'" + source.replacingOccurrences(of: "'", with: "''") + "'"
        try database.execute("ATTACH DATABASE \(quoted) AS shard")
        defer { try? database.execute("DETACH DATABASE shard") }
        try database.transaction {
            try database.execute("""
                INSERT INTO packets SELECT \(target), packet_id, group_id, sender_id, kind, algorithm, total_fen, shares,
                                           grabbed_shares, refund_fen, luckiest_member_id
                FROM shard.packets WHERE run_id = \(run);
                INSERT INTO grabs SELECT \(target), packet_id, seq, member_id, amount_fen, latency_ns
                FROM shard.grabs WHERE run_id = \(run);
                """)
        }
    }

    /// What the merged rows of `run` say about the invariants across shards: one line per kind of violation.
    /// Each packet's row comes from the shard that sent it, each grab's from the shard of its member, so a packet
    /// whose grabs do not add up to its row was recorded by no shard or by two.
    public func crossShardViolations(run: Int64) throws -> [String] {
        let checks: [(String, String)] = [
            ("packets whose grabs + refund ≠ total", """
                SELECT COUNT(*) FROM packets p
                WHERE p.run_id = \(run) AND p.total_fen != p.refund_fen
                    + COALESCE((SELECT SUM(amount_fen) FROM grabs g WHERE g.run_id = p.run_id AND g.packet_id = p.packet_id), 0)
                """),
            ("packets whose stored grabs differ from their grabbed shares", """
                SELECT COUNT(*) FROM packets p
                WHERE p.run_id = \(run) AND p.grabbed_shares
                    != (SELECT COUNT(*) FROM grabs g WHERE g.run_id = p.run_id AND g.packet_id = p.packet_id)
                """),
            ("packets oversold", "SELECT COUNT(*) FROM packets WHERE run_id = \(run) AND grabbed_shares > shares"),
            ("members paid twice in one packet", """
                SELECT COUNT(*) FROM (SELECT 1 FROM grabs WHERE run_id = \(run)
                                      GROUP BY packet_id, member_id HAVING COUNT(*) > 1)
                """),
            ("shares below 1 fen", "SELECT COUNT(*) FROM grabs WHERE run_id = \(run) AND amount_fen < 1"),
            ("grabs of packets no shard stored", """
                SELECT COUNT(*) FROM grabs g WHERE g.run_id = \(run)
                    AND NOT EXISTS (SELECT 1 FROM packets p WHERE p.run_id = g.run_id AND p.packet_id = g.packet_id)
                """),
        ]
        return try checks.compactMap { name, sql in
            let count = try integer(sql)
            return count == 0 ? nil : "\(count) \(name)"
        }
    }
}
