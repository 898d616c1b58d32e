/// Who sent a packet, and — for a send its caller may retry — the request it answered. An engine that tracks
/// senders (`SenderTrackingGrabEngine`) keeps it with the packet, so that a service can let a packet's sender (and
/// nobody else but an operator) close it or read its account, and answer a retried send with the packet it made.
public struct SendOrigin: Sendable, Hashable {
    /// The member who paid for the packet; its refund is theirs.
    public let sender: MemberID
    /// The retry-safe request the packet was made for, if the caller gave a key.
    public let request: KeyedSend?

    /// The origin of a send by `sender`, retry-safe under `request` if given.
    public init(sender: MemberID, request: KeyedSend? = nil) {
        self.sender = sender
        self.request = request
    }
}

/// A send its caller may retry (after a timeout, a lost connection, a restart): the caller's key for it and a
/// fingerprint of what it asked. The same sender's same key with the same fingerprint gets the packet the first
/// call made; with another fingerprint it is refused — as payment APIs answer a reused `Idempotency-Key`.
public struct KeyedSend: Sendable, Hashable {
    /// The caller's name for this send (one per sender: two senders' equal keys are two sends).
    public let key: IdempotencyKey
    /// What the request asked, digested by the caller (SHA-256 of its canonical body, say).
    public let fingerprint: RequestFingerprint

    /// The send named `key` by its sender, asking what `fingerprint` digests.
    public init(key: IdempotencyKey, fingerprint: RequestFingerprint) {
        self.key = key
        self.fingerprint = fingerprint
    }
}

/// 32 bytes that stand for a request's content: a collision-resistant digest (SHA-256) computed by the caller.
public struct RequestFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The 32 bytes.
    public let bytes: [UInt8]

    /// The length of a fingerprint.
    public static let byteCount = 32

    /// - Throws: `GrabEngineError(.invalidArgument)` unless `bytes` holds exactly 32 bytes.
    public init(_ bytes: some Collection<UInt8>) throws {
        guard bytes.count == Self.byteCount else {
            throw GrabEngineError(.invalidArgument, "a request fingerprint is \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = Array(bytes)
    }

    /// Lowercase hexadecimal, 64 characters.
    public var description: String {
        String(decoding: bytes.flatMap { byte in [Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 15)]] }, as: UTF8.self)
    }

    /// Parses `description`'s form. - Throws: `GrabEngineError(.invalidArgument)` for anything else.
    public init(hex: some StringProtocol) throws {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Self.byteCount else {
            throw GrabEngineError(.invalidArgument, "a request fingerprint is \(2 * Self.byteCount) hex digits, got \(digits.count)")
        }
        func value(_ digit: UInt8) throws -> UInt8 {
            guard let index = Self.hex.firstIndex(of: digit) else {
                throw GrabEngineError(.invalidArgument, "a request fingerprint is lowercase hex")
            }
            return UInt8(index)
        }
        try self.init(stride(from: 0, to: digits.count, by: 2).map { try value(digits[$0]) << 4 | value(digits[$0 + 1]) })
    }

    private static let hex = Array("0123456789abcdef".utf8)
}

/// What a send answered: the packet, and whether an earlier call with the same key had made it (this call made
/// nothing).
public struct SentPacket: Sendable, Hashable {
    /// The packet.
    public let id: PacketID
    /// True when the packet is an earlier call's, found by the sender's key.
    public let replayed: Bool

    /// What a send answered.
    public init(id: PacketID, replayed: Bool) {
        self.id = id
        self.replayed = replayed
    }
}

/// An engine that records who sent each packet, and answers a retried keyed send with the packet it made.
///
/// A keyed send is remembered as long as the engine holds its packet (until its retention after the refund ends:
/// more than a day with the default deadline and retention); a Redis engine remembers it for `idempotencyWindow`.
public protocol SenderTrackingGrabEngine: AsyncGrabEngine {
    /// Sends a packet from `origin.sender`. With `origin.request`: if the sender's key already made a packet, that
    /// packet (`replayed`), sent again by nobody — or, if the fingerprint differs, a refusal.
    /// - Throws: as `send(_:to:seed:)`, and `GrabEngineError(.idempotencyConflict)` for a key reused with another
    ///   request.
    nonisolated(nonsending) func send(_ spec: PacketSpec, to group: Group, seed: UInt64, origin: SendOrigin) async throws -> SentPacket

    /// The sender of `packet`, or nil if it was sent without one (`send(_:to:seed:)`).
    /// - Throws: `GrabEngineError.unknownPacket` (never sent, or forgotten after its retention).
    nonisolated(nonsending) func sender(of packet: PacketID) async throws -> MemberID?

    /// Whether `member` may grab `packet` (for an exclusive packet: is its recipient) — who may read its account.
    /// - Throws: `GrabEngineError.unknownPacket`.
    nonisolated(nonsending) func isMember(_ member: MemberID, of packet: PacketID) async throws -> Bool
}

extension SenderTrackingGrabEngine {
    /// How long a Redis engine remembers a keyed send: a day, as payment APIs do.
    public static var idempotencyWindow: Duration { .seconds(24 * 3600) }
}
