/// Where a Redis server is: `redis://[:password@]host:port[/db]`.
public struct RedisAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var password: String?
    public var database: Int
    public var connectTimeout: Duration = .seconds(2)
    public var commandTimeout: Duration = .seconds(5)

    public init(host: String, port: Int, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.password = password
        self.database = database
    }

    /// Parses `redis://[:password@]host[:port][/db]` (port 6379 and db 0 by default).
    /// - Throws: `RedisEngineError.invalidAddress` with what is wrong.
    public init(url: String) throws {
        guard url.hasPrefix("redis://") else {
            throw RedisEngineError(.invalidAddress, "\(url): expected redis://[:password@]host:port[/db]")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            password = String(credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last ?? "")
            rest = rest[rest.index(after: at)...]
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let text = rest[rest.index(after: slash)...]
            guard text.isEmpty || Int(text) != nil, let value = text.isEmpty ? 0 : Int(text), value >= 0 else {
                throw RedisEngineError(.invalidAddress, "\(url): database must be a number ≥ 0")
            }
            database = value
            rest = rest[..<slash]
        }
        var host = String(rest), port = 6379
        if let colon = rest.lastIndex(of: ":") {
            guard let value = Int(rest[rest.index(after: colon)...]), (1 ... 65535).contains(value) else {
                throw RedisEngineError(.invalidAddress, "\(url): port must be in 1 ... 65535")
            }
            port = value
            host = String(rest[..<colon])
        }
        guard !host.isEmpty else { throw RedisEngineError(.invalidAddress, "\(url): missing host") }
        self.init(host: host, port: port, password: password?.isEmpty == true ? nil : password, database: database)
    }

    public var description: String { "\(host):\(port)" + (database == 0 ? "" : "/\(database)") }
}
