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

    /// An integer in decimal, written straight into the buffer (commands carry millions of them: members, shares).
    mutating func append(_ argument: some BinaryInteger) {
        var magnitude = UInt64(argument.magnitude)
        var digits = 1
        var rest = magnitude
        while rest >= 10 { rest /= 10; digits += 1 }
        let negative = argument < 0
        if negative { bytes.append(UInt8(ascii: "-")) }
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var index = bytes.count - 1
        while magnitude > 0 {
            bytes[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            index -= 1
        }
        lengths.append(digits + (negative ? 1 : 0))
    }

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
