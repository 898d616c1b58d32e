/// A caller's own name for one expiry, kept with the refund it made: a call retried with the same key — after a
/// timeout, a lost connection, a restart of the caller — hears `.refunded` with the same amount, as the call that
/// made the refund did, where a retry without a key would hear `.alreadyRefunded` and the sender would never be
/// paid. Keys are per packet: the same key on another packet names another expiry.
public struct IdempotencyKey: Sendable, Hashable, CustomStringConvertible {
    /// 1 to 255 printable ASCII characters.
    public let rawValue: String

    /// The longest key accepted (what payment APIs accept).
    public static let maxLength = 255

    /// - Throws: `GrabEngineError(.invalidArgument)` unless `rawValue` is 1 to 255 printable ASCII characters
    ///   (`!` to `~`: no spaces, no control characters).
    public init(_ rawValue: String) throws {
        guard (1 ... Self.maxLength).contains(rawValue.utf8.count), rawValue.utf8.allSatisfy({ (0x21 ... 0x7E).contains($0) }) else {
            throw GrabEngineError(.invalidArgument, "an idempotency key is 1 to \(Self.maxLength) printable ASCII characters without spaces")
        }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}
