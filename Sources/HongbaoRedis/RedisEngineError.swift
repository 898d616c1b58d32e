/// A failure of the Redis backend itself: the connection, the server or a script. One clear line each.
public struct RedisEngineError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Storage: Hashable, Sendable {
            case invalidAddress, connectionRefused, timeout, connectionLost, serverError, authenticationFailed
            case noScript, protocolError, cluster, notReplicated
        }
        private let storage: Storage
        public static let invalidAddress = Code(storage: .invalidAddress)
        public static let connectionRefused = Code(storage: .connectionRefused)
        public static let timeout = Code(storage: .timeout)
        public static let connectionLost = Code(storage: .connectionLost)
        public static let serverError = Code(storage: .serverError)
        public static let authenticationFailed = Code(storage: .authenticationFailed)
        public static let noScript = Code(storage: .noScript)
        public static let protocolError = Code(storage: .protocolError)
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

    public let code: Code
    /// hiredis's errstr, or the server's error reply.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "Redis \(code): \(detail)" }

    /// The node is gone or unreachable (lost, refused, silent): in a cluster, a failover may be under way.
    var isNodeFailure: Bool { code == .connectionLost || code == .connectionRefused || code == .timeout }
}
