/// An engine that holds packets and serves grabs, called synchronously from the caller's own threads.
///
/// Every engine keeps these invariants, whatever the concurrency: each share ≥ 1 fen; shares paid + refund ==
/// total; at most one share per member per packet; never more grabs than shares; the refund is made once.
///
/// In-process engines never block for more than a short critical section, so they are also `AsyncGrabEngine`s
/// at no extra cost. An engine that blocks for I/O (Redis) must not be called synchronously from Swift
/// concurrency's cooperative pool: use its `AsyncGrabEngine` side there.
public protocol GrabEngine: AnyObject, Sendable {
    /// A short name for reports, e.g. `lock-free`.
    var name: String { get }

    /// Creates a packet for `group`; its shares are drawn from `seed` (for `.doubleMeanAtGrab`, as grabbed).
    /// - Returns: the new packet's id.
    /// - Throws: `GrabEngineError` if the packet cannot be created (e.g. an exclusive recipient outside the group).
    func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID

    /// One grab by `member`.
    /// - Throws: `GrabEngineError.unknownPacket`, or a backend failure; losing the race is `.soldOut`, not an error.
    func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome

    /// Closes the packet and refunds its balance, exactly once, in any state.
    func expire(_ packet: PacketID) throws -> ExpiryOutcome

    /// `expire(_:)` under the caller's idempotency key: if a call with this key made the refund, this one hears
    /// `.refunded` with the same amount too (retry it after any failure and hear the first answer).
    func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome

    /// The packet's account. Not an atomic snapshot while grabs are under way: each grab listed is complete.
    func summary(of packet: PacketID) throws -> PacketSummary

    /// Whether it keeps the records an audit reads back — every engine that pays anyone does (the default). False
    /// for an engine that only measures a harness: its runs are timed, not audited.
    var keepsRecords: Bool { get }
}

extension GrabEngine {
    /// Records kept: true.
    public var keepsRecords: Bool { true }
}

/// One grab of a batch: a packet and a member.
public struct GrabRequest: Sendable, Hashable {
    /// The packet grabbed.
    public let packet: PacketID
    /// The member grabbing.
    public let member: MemberID
    /// `member` grabs `packet`.
    public init(packet: PacketID, member: MemberID) {
        self.packet = packet
        self.member = member
    }
}

/// A packet to send in a batch: what `send(_:to:seed:)` takes.
public struct OutgoingPacket: Sendable {
    /// What the packet holds and how it splits.
    public let spec: PacketSpec
    /// Who may grab it.
    public let group: Group
    /// The seed of its split.
    public let seed: UInt64
    /// A packet of `spec` to `group`, split from `seed`.
    public init(_ spec: PacketSpec, to group: Group, seed: UInt64) {
        self.spec = spec
        self.group = group
        self.seed = seed
    }
}

/// An engine that serves many calls in one — for a remote engine, in one round trip per node — while each
/// caller still gets its own answer, in request order.
public protocol BatchGrabEngine: GrabEngine {
    /// Many grabs; each outcome as `grab(_:for:)` would give it. - Throws: a backend failure, `unknownPacket`.
    func grab(_ requests: [GrabRequest]) throws -> [GrabOutcome]
    /// Many packets sent at once. - Returns: their ids, in order. - Throws: as `send(_:to:seed:)`.
    func send(_ packets: [OutgoingPacket]) throws -> [PacketID]
    /// Many packets closed and refunded, each exactly once. - Throws: as `expire(_:)`.
    func expire(_ packets: [PacketID]) throws -> [ExpiryOutcome]
    /// Many packets' accounts, each an atomic snapshot of its packet. - Throws: as `summary(of:)`.
    func summaries(of packets: [PacketID]) throws -> [PacketSummary]
    /// Many packets closed and refunded, each with its account read right after: what an audit asks. The default
    /// is `expire` then `summaries`; a remote engine can answer both in one round trip.
    func expireAndSummarize(_ packets: [PacketID]) throws -> [(expiry: ExpiryOutcome, summary: PacketSummary)]
}

extension BatchGrabEngine {
    /// `expire(_:)`, then `summaries(of:)`.
    public func expireAndSummarize(_ packets: [PacketID]) throws -> [(expiry: ExpiryOutcome, summary: PacketSummary)] {
        Array(zip(try expire(packets), try summaries(of: packets)))
    }
}

/// The same protocol for `async` callers, e.g. a request handler in a Hummingbird or Vapor service.
/// Implementations never block the cooperative thread pool.
public protocol AsyncGrabEngine: AnyObject, Sendable {
    var name: String { get }
    nonisolated(nonsending) func send(_ spec: PacketSpec, to group: Group, seed: UInt64) async throws -> PacketID
    nonisolated(nonsending) func grab(_ packet: PacketID, for member: MemberID) async throws -> GrabOutcome
    /// One grab, with the seq of the share the member holds (what an HTTP service answers).
    nonisolated(nonsending) func grabReceipt(_ packet: PacketID, for member: MemberID) async throws -> GrabReceipt
    nonisolated(nonsending) func expire(_ packet: PacketID) async throws -> ExpiryOutcome
    /// `expire(_:)` under the caller's idempotency key: a call retried with the key that refunded hears `.refunded`.
    nonisolated(nonsending) func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) async throws -> ExpiryOutcome
    nonisolated(nonsending) func summary(of packet: PacketID) async throws -> PacketSummary
}

/// A `GrabEngine` that never blocks for I/O: its `async` side calls the synchronous path directly, with no
/// thread hop and no allocation. Only engines whose critical sections are a few instructions may conform.
public protocol NonBlockingGrabEngine: GrabEngine, AsyncGrabEngine {
    /// One grab, with the seq of the share the member holds. - Throws: as `grab(_:for:)`.
    func grabReceipt(_ packet: PacketID, for member: MemberID) throws -> GrabReceipt
}

extension NonBlockingGrabEngine {
    /// One grab: `grabReceipt(_:for:)`'s outcome (engines whose receipt costs more than their grab override it).
    @inlinable public func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        try grabReceipt(packet, for: member).outcome
    }

    // Each body is a synchronous closure, so the call inside resolves to the synchronous requirement.
    @inlinable public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) async throws -> PacketID {
        try { try self.send(spec, to: group, seed: seed) }()
    }
    @inlinable public func grab(_ packet: PacketID, for member: MemberID) async throws -> GrabOutcome {
        try { try self.grab(packet, for: member) }()
    }
    @inlinable public func grabReceipt(_ packet: PacketID, for member: MemberID) async throws -> GrabReceipt {
        try { try self.grabReceipt(packet, for: member) }()
    }
    @inlinable public func expire(_ packet: PacketID) async throws -> ExpiryOutcome {
        try { try self.expire(packet) }()
    }
    @inlinable public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) async throws -> ExpiryOutcome {
        try { try self.expire(packet, idempotencyKey: idempotencyKey) }()
    }
    @inlinable public func summary(of packet: PacketID) async throws -> PacketSummary {
        try { try self.summary(of: packet) }()
    }
}

/// A failure of an engine that is not an outcome of a grab.
public struct GrabEngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Storage: Hashable, Sendable {
            case unknownPacket, recipientNotInGroup, emptyGroup, capacity, backend, invalidArgument, idempotencyConflict
        }
        private let storage: Storage
        /// No packet with this id (never sent, or gone).
        public static let unknownPacket = Code(storage: .unknownPacket)
        /// An exclusive packet's recipient is not in its group.
        public static let recipientNotInGroup = Code(storage: .recipientNotInGroup)
        /// A packet sent to a group with no members.
        public static let emptyGroup = Code(storage: .emptyGroup)
        /// The engine holds as many packets as it was made for.
        public static let capacityExhausted = Code(storage: .capacity)
        /// The store behind the engine failed.
        public static let backend = Code(storage: .backend)
        /// An argument the engine cannot take (e.g. a malformed idempotency key).
        public static let invalidArgument = Code(storage: .invalidArgument)
        /// A send's idempotency key that its sender already used for another request.
        public static let idempotencyConflict = Code(storage: .idempotencyConflict)
        public var description: String {
            switch storage {
            case .unknownPacket: "unknown packet"
            case .recipientNotInGroup: "recipient not in group"
            case .emptyGroup: "empty group"
            case .capacity: "capacity exhausted"
            case .backend: "backend failure"
            case .invalidArgument: "invalid argument"
            case .idempotencyConflict: "idempotency conflict"
            }
        }
    }

    /// What kind of failure.
    public let code: Code
    /// What happened, in words.
    public let detail: String

    /// A failure of kind `code`, described by `detail`.
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
