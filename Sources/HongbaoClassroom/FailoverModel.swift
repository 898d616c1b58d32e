import HongbaoCore

/// Lesson 8's model of one packet on a Redis master with one replica: the master runs each grab and appends it to
/// its replication stream; the replica applies the stream `lag` grabs behind. The master dies after `grabs` grabs
/// and the replica is promoted with what it has. Grabs use the engines' own ledger, so amounts are real splits.
struct FailoverModel {
    /// When a grab is acknowledged to its caller.
    enum Acknowledge: String { case byMaster = "master alone", byReplica = "WAIT 1" }

    let spec: PacketSpec
    let members: Int
    /// How many grabs the replica trails the master by when the master dies.
    let lag: Int

    struct Outcome {
        /// What each caller was told before the failover, and after it (for those who grabbed again).
        var told: [MemberID: Fen] = [:]
        var toldAgain: [MemberID: Fen] = [:]
        /// Acknowledged grabs the promoted replica has no record of.
        var lost: [MemberID] = []
        /// Money told to callers in all, against the packet's total.
        var toldTotal: Fen = .zero
        var summary: PacketSummary
    }

    /// Runs `grabs` grabs, kills the master, promotes the replica, and lets every caller who was told nothing, or
    /// whose grab the replica forgot, grab again from the promoted replica.
    func run(grabs: Int, acknowledge: Acknowledge) throws -> Outcome {
        let plan = try PacketPlan(id: PacketID(1), spec: spec, group: Group(range: 1 ... UInt32(members)), seed: 2017, sentAt: 0)
        var master = PacketLedger(plan: plan)
        var stream: [MemberID] = []
        var answers: [(MemberID, Fen)] = []
        for raw in 1 ... UInt32(grabs) {
            guard case .granted(let amount) = master.grab(for: MemberID(raw), now: 0).outcome else { continue }
            stream.append(MemberID(raw))
            answers.append((MemberID(raw), amount))
        }
        // The master dies: the replica had applied all but the last `lag` entries of the stream.
        let replicated = max(0, stream.count - lag)
        var replica = PacketLedger(plan: plan)
        for member in stream.prefix(replicated) { _ = replica.grab(for: member, now: 0) }
        // Acknowledged: every grab the master ran, or — with WAIT — only those the replica holds.
        let acknowledged = acknowledge == .byMaster ? answers : Array(answers.prefix(replicated))
        var outcome = Outcome(summary: replica.summary)
        for (member, amount) in acknowledged { outcome.told[member] = amount }
        let held = Set(replica.summary.grabs.map(\.member))
        outcome.lost = acknowledged.map(\.0).filter { !held.contains($0) }
        // After the failover: callers not told (their grab timed out) or forgotten grab again.
        for raw in 1 ... UInt32(grabs) where outcome.told[MemberID(raw)] == nil || outcome.lost.contains(MemberID(raw)) {
            switch replica.grab(for: MemberID(raw), now: 0).outcome {
            case .granted(let amount), .alreadyGrabbed(let amount): outcome.toldAgain[MemberID(raw)] = amount
            default: break
            }
        }
        outcome.summary = replica.summary
        outcome.toldTotal = outcome.told.values.reduce(.zero, +)
            + outcome.toldAgain.filter { outcome.told[$0.key] == nil || outcome.lost.contains($0.key) }.values.reduce(.zero, +)
        return outcome
    }
}
