/// A command's arguments, packed in one contiguous byte buffer (binary safe): what hiredis's argv calls take.
struct RedisCommand: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var lengths: [Int] = []

    init(_ arguments: String...) {
        for argument in arguments { append(argument) }
    }

    mutating func append(_ argument: String) {
        bytes.append(contentsOf: argument.utf8)
        lengths.append(argument.utf8.count)
    }

    mutating func append(_ argument: some BinaryInteger) { append(String(argument)) }

    mutating func append(_ key: RedisKey) { append(key.rawValue) }
}

/// A reply, decoded from every RESP2 type.
enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    /// The reply, or the server's error reply thrown (NOSCRIPT as its own code).
    func check() throws -> RedisReply {
        guard case .error(let message) = self else { return self }
        if message.hasPrefix("NOSCRIPT") { throw RedisEngineError(.noScript, message) }
        if message.hasPrefix("WRONGPASS") || message.hasPrefix("NOAUTH") { throw RedisEngineError(.authenticationFailed, message) }
        throw RedisEngineError(.serverError, message)
    }

    var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .string(let bytes): Int64(String(decoding: bytes, as: UTF8.self))
        default: nil
        }
    }

    var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    var elements: [RedisReply] {
        if case .array(let elements) = self { return elements }
        return []
    }
}
