import CHongbaoSQLite
import HongbaoCore

// The one file that calls SQLite's C API. Every handle is owned by a final class that frees it in deinit.

/// A failure of SQLite itself: the file, the disk or a statement. One clear line each.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, by SQLite's primary result code.
    public enum Code: Sendable, Hashable {
        /// `SQLITE_NOTADB`: the file is not a database.
        case notADatabase
        /// `SQLITE_CORRUPT`.
        case corrupt
        /// `SQLITE_FULL`: the disk (or the file's page cap) is full.
        case full
        /// `SQLITE_CANTOPEN` (or, read-only, the WAL index could not be created).
        case cannotOpen
        /// `SQLITE_READONLY` or `SQLITE_PERM`.
        case readOnly
        /// `SQLITE_BUSY` or `SQLITE_LOCKED`: another connection holds the lock past the busy timeout.
        case busy
        /// `SQLITE_IOERR`.
        case ioError
        /// Any other primary result code.
        case other(Int32)

        fileprivate init(status: Int32) {
            self = switch status & 0xFF {
            case SQLITE_NOTADB: .notADatabase
            case SQLITE_CORRUPT: .corrupt
            case SQLITE_FULL: .full
            case SQLITE_CANTOPEN: .cannotOpen
            case SQLITE_READONLY, SQLITE_PERM: .readOnly
            case SQLITE_BUSY, SQLITE_LOCKED: .busy
            case SQLITE_IOERR: .ioError
            case let primary: .other(primary)
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// SQLite's message for the failure.
    public let message: String
    /// The database file.
    public let path: String
    /// The statement that failed, if one did.
    public let sql: String?

    fileprivate init(status: Int32, message: String, path: String, sql: String?) {
        code = Code(status: status)
        self.message = message
        self.path = path
        self.sql = sql
    }

    public var description: String {
        switch code {
        case .notADatabase: "\(path) is not an SQLite database (corrupt, or another kind of file)"
        case .corrupt: "\(path) is corrupt: \(message)"
        case .full: "disk full while writing \(path)"
        case .cannotOpen: "cannot open database \(path): \(message)"
        case .readOnly: "cannot write database \(path): \(message)"
        case .busy: "database \(path) is locked by another process"
        case .ioError: "I/O error on \(path): \(message)"
        case .other(let primary): "SQLite error \(primary) on \(path): \(message)\(sql.map { " in `\($0)`" } ?? "")"
        }
    }
}

/// An open SQLite database file. Not thread-safe: one connection per thread.
package final class SQLiteDatabase {
    private var handle: OpaquePointer?
    package let path: String

    /// How a database is opened.
    package enum Mode: Sendable {
        /// Read and write, creating the file if needed.
        case readWrite
        /// Read only: nothing is ever written, not even a journal-mode switch.
        case readOnly
        /// Read only, and the file is known not to change (read-only media, where the WAL's shared-memory file
        /// cannot be created): SQLite's `immutable` URI parameter.
        case immutable
    }

    /// Opens the database at `path` (creating it if needed in `.readWrite`).
    /// - Parameter busyTimeout: how long a statement waits for another process's lock before failing with
    ///   "locked by another process".
    /// - Throws: `SQLiteError` if it cannot be opened.
    package init(path: String, mode: Mode = .readWrite, busyTimeout: Duration = .seconds(5)) throws {
        self.path = path
        var handle: OpaquePointer?
        let flags = switch mode {
        case .readWrite: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        case .readOnly: SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
        case .immutable: SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        }
        let name = mode == .immutable ? "file:" + Self.uriEscaped(path) + "?immutable=1" : path
        let status = sqlite3_open_v2(name, &handle, flags, nil)
        self.handle = handle
        guard status == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            self.handle = nil
            throw SQLiteError(status: status, message: message, path: path, sql: nil)
        }
        sqlite3_busy_timeout(handle, Int32(clamping: busyTimeout.nanosecondsSaturated / 1_000_000))
    }

    /// `path` as a URI path: unreserved ASCII and `/` as they are, every other byte of its UTF-8 (`%`, `?`, `#`,
    /// spaces, and each byte of a non-ASCII character) as `%XX`, which SQLite decodes back to the same bytes.
    package static func uriEscaped(_ path: String) -> String {
        var escaped = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a") ... UInt8(ascii: "z"), UInt8(ascii: "A") ... UInt8(ascii: "Z"),
                 UInt8(ascii: "0") ... UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"), UInt8(ascii: "/"):
                escaped.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                escaped.unicodeScalars.append("%")
                escaped.unicodeScalars.append(hex[Int(byte >> 4)])
                escaped.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return escaped
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs one or more statements that return no rows.
    package func execute(_ sql: String) throws {
        let status = sqlite3_exec(handle, sql, nil, nil, nil)
        guard status == SQLITE_OK else { throw error(status, sql: sql) }
    }

    package func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status, sql: sql) }
        return SQLiteStatement(statement, database: self, sql: sql)
    }

    /// The rowid of the last row inserted on this connection.
    package var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows the last INSERT, UPDATE or DELETE on this connection changed.
    package var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    package func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    fileprivate func error(_ status: Int32, sql: String?) -> SQLiteError {
        SQLiteError(status: status, message: String(cString: sqlite3_errmsg(handle)), path: path, sql: sql)
    }
}

/// A prepared statement, reused across rows: bind, step, reset.
package final class SQLiteStatement {
    private let statement: OpaquePointer
    private let database: SQLiteDatabase  // keeps the connection open while the statement lives
    package let sql: String

    fileprivate init(_ statement: OpaquePointer, database: SQLiteDatabase, sql: String) {
        self.statement = statement
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(statement) }

    package func bind(_ value: Int64, at index: Int32) {
        // A bind can fail only for an index out of range or a finalized statement: a bug here, not input.
        precondition(sqlite3_bind_int64(statement, index, value) == SQLITE_OK, "bind \(index) in `\(sql)`")
    }

    /// Binds an integer, or NULL for nil.
    package func bind(_ value: Int64?, at index: Int32) {
        guard let value else { return bindNull(at: index) }
        bind(value, at: index)
    }

    package func bind(_ value: Double, at index: Int32) {
        precondition(sqlite3_bind_double(statement, index, value) == SQLITE_OK, "bind \(index) in `\(sql)`")
    }

    package func bind(_ value: String?, at index: Int32) {
        guard let value else {
            precondition(sqlite3_bind_null(statement, index) == SQLITE_OK, "bind \(index) in `\(sql)`")
            return
        }
        var text = value
        let status = text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) {
                hb_sqlite3_bind_text_transient(statement, index, $0.baseAddress, Int32($0.count))
            }
        }
        precondition(status == SQLITE_OK, "bind \(index) in `\(sql)`")
    }

    /// Binds a blob (copied by SQLite before the call returns).
    package func bind(_ bytes: [UInt8], at index: Int32) {
        let status = bytes.withUnsafeBytes { hb_sqlite3_bind_blob_transient(statement, index, $0.baseAddress, Int32($0.count)) }
        precondition(status == SQLITE_OK, "bind \(index) in `\(sql)`")
    }

    package func bindNull(at index: Int32) {
        precondition(sqlite3_bind_null(statement, index) == SQLITE_OK, "bind \(index) in `\(sql)`")
    }

    /// Advances to the next row. - Returns: true if a row is available, false when done.
    @discardableResult
    package func step() throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let status:
            let failure = database.error(status, sql: sql)
            sqlite3_reset(statement)
            throw failure
        }
    }

    /// Makes the statement ready to run again (bindings are kept until rebound).
    package func reset() { sqlite3_reset(statement) }

    package func int64(at column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    package func double(at column: Int32) -> Double { sqlite3_column_double(statement, column) }
    package func isNull(at column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    package func text(at column: Int32) -> String {
        guard let bytes = sqlite3_column_text(statement, column) else { return "" }
        return String(cString: bytes)
    }

    /// The column's bytes (a blob; empty for NULL or an empty blob).
    package func blob(at column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    /// Runs the statement once with these integer arguments, expecting no rows (an insert or update).
    package func run(_ values: Int64...) throws {
        for (offset, value) in values.enumerated() { bind(value, at: Int32(offset + 1)) }
        try step()
        reset()
    }
}
