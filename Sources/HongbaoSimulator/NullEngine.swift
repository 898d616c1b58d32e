import HongbaoCore
import Synchronization

/// The driver's ceiling: an engine that does no work. It issues ids and answers every grab with a share computed
/// from the packet id alone, reading nothing that another thread writes during the grabs. A run against it
/// measures the harness alone (cursor, clocks, histogram, result arrays), so a reader sees how much of another
/// engine's figure is the engine.
///
/// Not an engine to pay anyone with: it records nothing, so its runs are not audited.
public final class NullEngine: GrabEngine {
    public let name = "null (harness only)"
    /// Nothing is recorded: its runs are not audited.
    public let keepsRecords = false
    private let issued = Atomic<UInt64>(0)

    /// The engine (it has no state).
    public init() {}

    /// Issues the next id; stores nothing.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        PacketID(issued.add(1, ordering: .relaxed).oldValue)   // relaxed: the driver's barrier orders sends and grabs
    }

    /// `granted` with an amount from the id, for any issued packet. Wait-free; writes nothing.
    public func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        guard packet.rawValue < issued.load(ordering: .relaxed) else { throw GrabEngineError(.unknownPacket, "no \(packet)") }
        return .granted(Fen(1 + Int64(packet.rawValue % 100)))
    }

    /// Refunds nothing (nothing was recorded).
    public func expire(_ packet: PacketID) throws -> ExpiryOutcome { .refunded(.zero) }

    /// Refunds nothing, whatever the key.
    public func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome { .refunded(.zero) }

    /// An empty account: the null engine keeps no records.
    public func summary(of packet: PacketID) throws -> PacketSummary {
        PacketSummary(packet: packet, total: .zero, shares: 0, grabs: [], balance: .zero, refund: .zero)
    }
}
