/// An engine whose acknowledged state can still change after its calls return — a replicated store, where a
/// failover or a partition can take back writes its master acknowledged — so that a verdict must be given on
/// the state once it has settled, not on the answers read while it moved.
///
/// The audit uses it so that its verdict is true whatever the fault: it closes and reads packets with the `Present`
/// calls (a packet that vanished is counted as a lost send, with every grant it held, instead of stopping the
/// audit), then waits for the store to settle and reads every packet again, and gives its verdict on that final
/// state against what every caller was told.
public protocol SettlingGrabEngine: BatchGrabEngine {
    /// Closes packets and reads their accounts, as `expireAndSummarize`, with nil for a packet the store does not
    /// hold (never sent, or lost). - Throws: a backend failure.
    func expireAndSummarizePresent(_ packets: [PacketID]) throws -> [(expiry: ExpiryOutcome, summary: PacketSummary)?]

    /// The packets' accounts, as `summaries(of:)`, with nil for a packet the store does not hold.
    /// - Throws: a backend failure.
    func summariesPresent(of packets: [PacketID]) throws -> [PacketSummary?]

    /// Waits until what the store holds can no longer be taken back by a fault that has happened: every node
    /// agrees on who serves what, and every replica holds all its master wrote. - Returns: how long it waited.
    /// - Throws: if the store does not settle within the engine's own recovery timeout.
    func settle() throws -> Duration
}
