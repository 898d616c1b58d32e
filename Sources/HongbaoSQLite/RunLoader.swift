/// One run's `packets` and `grabs` rows, loaded on a connection the loader owns: one transaction per `batchSize`
/// rows across both tables, each table through one reused prepared statement. Not thread-safe: one thread uses it
/// (`BackgroundLoad` runs one on a thread of its own).
package final class RunLoader {
    private let connection: SQLiteDatabase
    private let batchSize: Int
    private let packets: SQLiteStatement
    private let grabs: SQLiteStatement
    /// Rows in the open transaction.
    private var pending = 0
    /// Rows inserted so far (committed or pending).
    package private(set) var written = 0

    init(_ connection: SQLiteDatabase, run: Int64, batchSize: Int) throws {
        self.connection = connection
        self.batchSize = batchSize
        packets = try connection.prepare("""
            INSERT INTO packets (run_id, packet_id, group_id, sender_id, kind, algorithm, total_fen, shares,
                                 grabbed_shares, refund_fen, luckiest_member_id)
            VALUES (\(run), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        grabs = try connection.prepare("""
            INSERT INTO grabs (run_id, packet_id, seq, member_id, amount_fen, latency_ns)
            VALUES (\(run), ?, ?, ?, ?, ?)
            """)
    }

    /// Inserts a `packets` row. - Throws: `SQLiteError` (a full disk, a lock held past the busy timeout).
    package func append(_ row: PacketRow) throws {
        try insert(packets) { statement in
            statement.bind(Int64(row.packet), at: 1)
            statement.bind(Int64(row.group), at: 2)
            statement.bind(Int64(row.sender), at: 3)
            statement.bind(row.kind, at: 4)
            statement.bind(row.algorithm, at: 5)
            statement.bind(row.total, at: 6)
            statement.bind(Int64(row.shares), at: 7)
            statement.bind(Int64(row.grabbedShares), at: 8)
            statement.bind(row.refund, at: 9)
            if let luckiest = row.luckiest { statement.bind(Int64(luckiest), at: 10) } else { statement.bindNull(at: 10) }
        }
    }

    /// Inserts a `grabs` row. - Throws: as `append(_: PacketRow)`.
    package func append(_ row: GrabRow) throws {
        try insert(grabs) { statement in
            statement.bind(Int64(row.packet), at: 1)
            statement.bind(Int64(row.seq), at: 2)
            statement.bind(Int64(row.member), at: 3)
            statement.bind(row.amount, at: 4)
            statement.bind(Int64(row.latencyNanoseconds), at: 5)
        }
    }

    /// Commits the rows of the open transaction, if any.
    package func finish() throws {
        guard pending > 0 else { return }
        try connection.execute("COMMIT")
        pending = 0
    }

    private func insert(_ statement: SQLiteStatement, bind: (SQLiteStatement) -> Void) throws {
        if pending == 0 { try connection.execute("BEGIN IMMEDIATE") }
        bind(statement)
        try statement.step()
        statement.reset()
        written += 1
        pending += 1
        if pending >= batchSize { try finish() }
    }
}
