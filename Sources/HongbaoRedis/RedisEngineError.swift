/// A failure of the Redis backend itself: the connection, the server or a script. One clear line each.
public struct RedisEngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Storage: Hashable, Sendable {
            case invalidAddress, connectionRefused, timeout, connectionLost, serverError, authenticationFailed
            case noScript, protocolError, cluster, notReplicated
        }
        private let storage: Storage
        /// The URL does not parse.
        public static let invalidAddress = Code(storage: .invalidAddress)
        /// Nothing listens at the address.
        public static let connectionRefused = Code(storage: .connectionRefused)
        /// No reply within the command timeout.
        public static let timeout = Code(storage: .timeout)
        /// The connection broke.
        public static let connectionLost = Code(storage: .connectionLost)
        /// The server answered with an error.
        public static let serverError = Code(storage: .serverError)
        /// AUTH was refused.
        public static let authenticationFailed = Code(storage: .authenticationFailed)
        /// A script was not loaded (after the engine loaded it again).
        public static let noScript = Code(storage: .noScript)
        /// A reply of an unexpected shape.
        public static let protocolError = Code(storage: .protocolError)
        /// The cluster could not route a call (no node for a slot, endless redirects, no recovery in time).
        public static let cluster = Code(storage: .cluster)
        /// A durable write that no replica confirmed within the engine's recovery timeout.
        public static let notReplicated = Code(storage: .notReplicated)

        public var description: String {
            switch storage {
            case .invalidAddress: "invalid address"
            case .connectionRefused: "connection refused"
            case .timeout: "timeout"
            case .connectionLost: "connection lost"
            case .serverError: "server error"
            case .authenticationFailed: "authentication failed"
            case .noScript: "script not loaded"
            case .protocolError: "protocol error"
            case .cluster: "cluster error"
            case .notReplicated: "not replicated"
            }
        }
    }

    /// What kind of failure.
    public let code: Code
    /// hiredis's errstr, or the server's error reply.
    public let detail: String

    /// A failure of kind `code`, described by `detail` (never a password).
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "Redis \(code): \(detail)" }

    /// The node is gone or unreachable (lost, refused, silent): in a cluster, a failover may be under way.
    var isNodeFailure: Bool { code == .connectionLost || code == .connectionRefused || code == .timeout }
}
