/// A refund made by a sweep of packets past their deadline (`expireDue()`): the packet and what went back to its
/// sender.
public struct DueRefund: Sendable, Hashable {
    /// The packet refunded.
    public let packet: PacketID
    /// What went back to its sender: the balance left when the packet closed.
    public let refund: Fen

    /// A refund of `refund` for `packet`.
    public init(packet: PacketID, refund: Fen) {
        self.packet = packet
        self.refund = refund
    }

    /// Expires each packet in `due` and keeps the refunds this sweep made: one that an earlier `expire` made, or a
    /// packet reclaimed meanwhile, is not this sweep's.
    static func sweep(_ due: [PacketID], _ expire: (PacketID) throws -> ExpiryOutcome) -> [DueRefund] {
        due.compactMap { packet in
            guard case .refunded(let refund)? = try? expire(packet) else { return nil }
            return DueRefund(packet: packet, refund: refund)
        }
    }
}

extension Duration {
    /// How long an engine keeps a refunded packet by default — its verdict for late callers — before it forgets
    /// it: a day, in process and in Redis alike.
    public static var defaultRetention: Duration { .seconds(24 * 3600) }
}

/// An engine that finds its packets past their deadline and refunds them itself (`expireDue`), so that a service
/// need not track deadlines: the in-process engines. A service runs it on a timer.
public protocol DueSweepingGrabEngine: AsyncGrabEngine {
    /// Refunds every packet whose deadline has passed and that no `expire` refunded: each refund is returned once
    /// over the engine's life, however many callers sweep. - Returns: the refunds this call made.
    func expireDue() async -> [DueRefund]

    /// Packets held: sent and not yet forgotten (live, or refunded and within their retention).
    var packetsHeld: Int { get async }
}

extension LockFreeEngine: DueSweepingGrabEngine {}
extension MutexEngine: DueSweepingGrabEngine {}
extension ActorEngine: DueSweepingGrabEngine {}
