/// Where a Redis server is: `redis://[[user]:password@]host[:port][/db]`. Its description never shows the password.
public struct RedisAddress: Sendable, Hashable, CustomStringConvertible {
    /// The server's host name or address.
    public var host: String
    /// Its port.
    public var port: Int
    /// The ACL user (Redis 6+), sent as `AUTH user password`; nil for `AUTH password`.
    public var username: String?
    /// The password (AUTH), if any; never printed.
    public var password: String?
    /// The database number (SELECT).
    public var database: Int
    /// How long connecting may take.
    public var connectTimeout: Duration = .seconds(2)
    /// How long a call may wait for its reply.
    public var commandTimeout: Duration = .seconds(5)

    /// An address; with a `username`, connections authenticate as that ACL user.
    public init(host: String, port: Int, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]` (port 6379 and db 0 by default); `redis://secret@host`
    /// is a password alone, as redis-cli takes it.
    /// - Throws: `RedisEngineError.invalidAddress` with what is wrong; the message shows the URL with its password
    ///   redacted.
    public init(url: String) throws {
        let shown = Self.redacted(url)
        guard url.hasPrefix("redis://") else {
            throw RedisEngineError(.invalidAddress, "\(shown): expected redis://[[user]:password@]host:port[/db]")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        var username: String?, password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            if let colon = credentials.firstIndex(of: ":") {
                username = credentials[..<colon].isEmpty ? nil : String(credentials[..<colon])
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
            rest = rest[rest.index(after: at)...]
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let text = rest[rest.index(after: slash)...]
            guard text.isEmpty || Int(text) != nil, let value = text.isEmpty ? 0 : Int(text), value >= 0 else {
                throw RedisEngineError(.invalidAddress, "\(shown): database must be a number ≥ 0")
            }
            database = value
            rest = rest[..<slash]
        }
        var host = String(rest), port = 6379
        if let colon = rest.lastIndex(of: ":") {
            guard let value = Int(rest[rest.index(after: colon)...]), (1 ... 65535).contains(value) else {
                throw RedisEngineError(.invalidAddress, "\(shown): port must be in 1 ... 65535")
            }
            port = value
            host = String(rest[..<colon])
        }
        guard !host.isEmpty else { throw RedisEngineError(.invalidAddress, "\(shown): missing host") }
        if username != nil && password?.isEmpty != false {
            throw RedisEngineError(.invalidAddress, "\(shown): a user needs a password (user:password@)")
        }
        self.init(host: host, port: port, username: username, password: password?.isEmpty == true ? nil : password,
                  database: database)
    }

    /// The addresses of one server or of a cluster's comma-separated seeds (`redis://` may be left out after the
    /// first). - Throws: `RedisEngineError.invalidAddress` (password redacted).
    public static func seeds(from url: String) throws -> [RedisAddress] {
        let seeds = try url.split(separator: ",").map { part in
            try RedisAddress(url: part.contains("://") ? String(part) : "redis://" + part)
        }
        guard !seeds.isEmpty else { throw RedisEngineError(.invalidAddress, "no address in \"\(redacted(url))\"") }
        return seeds
    }

    /// The URL (or comma-separated URLs) with every password replaced by `***`: what may be stored or printed.
    public static func redacted(_ url: String) -> String {
        url.split(separator: ",", omittingEmptySubsequences: false).map { part -> String in
            guard let at = part.lastIndex(of: "@") else { return String(part) }
            let scheme = part.range(of: "://").map { part[..<$0.upperBound] } ?? ""
            let credentials = part[scheme.endIndex ..< at]
            let user = credentials.firstIndex(of: ":").map { String(credentials[..<$0]) + ":" } ?? ""
            return scheme + user + "***" + part[at...]
        }.joined(separator: ",")
    }

    public var description: String {
        (username.map { "\($0)@" } ?? "") + "\(host):\(port)" + (database == 0 ? "" : "/\(database)")
    }
}
