import Dispatch
import HongbaoCore

/// The correctness verdict of a run: every packet expired (its balance refunded) and its account checked
/// against the invariants and against what the grabbers were told.
public struct Verdict: Sendable, Codable {
    /// False for an engine that keeps no records (the null engine): nothing was checked.
    public var audited = true

    /// An empty verdict, to be filled by `Audit.run`; `audited: false` for a run nothing could be checked of.
    public init(audited: Bool = true) { self.audited = audited }

    /// Packets checked.
    public var packets = 0
    /// Fen sent.
    public var totalFen: Int64 = 0
    /// Fen paid in shares.
    public var paidFen: Int64 = 0
    /// Fen refunded.
    public var refundFen: Int64 = 0
    /// Successful grabs recorded.
    public var grabs = 0
    /// Packets with more grabs than shares.
    public var oversold = 0
    /// Members paid twice in one packet.
    public var paidTwice = 0
    /// Shares below 1 fen.
    public var belowOneFen = 0
    /// Packets whose paid + refund ≠ total.
    public var unbalanced = 0
    /// Grants a caller was told (granted, or already grabbed) that the engine has no record of: acknowledged
    /// money the engine lost.
    public var lostGrants = 0
    /// Grants whose amount, as the caller was told it, differs from the engine's record.
    public var wrongAmounts = 0
    /// Records of the engine that no caller was told it won.
    public var unreportedGrants = 0
    /// Packets whose records are not numbered 1 … n.
    public var misnumbered = 0
    /// Members holding a share who were told "sold out", "expired" or "not a member".
    public var deniedHolders = 0

    /// Adds another verdict's counts: the verdicts of the shards of one run add up to the run's.
    public mutating func add(_ other: Verdict) {
        audited = audited && other.audited
        packets += other.packets
        totalFen += other.totalFen
        paidFen += other.paidFen
        refundFen += other.refundFen
        grabs += other.grabs
        oversold += other.oversold
        paidTwice += other.paidTwice
        belowOneFen += other.belowOneFen
        unbalanced += other.unbalanced
        lostGrants += other.lostGrants
        wrongAmounts += other.wrongAmounts
        unreportedGrants += other.unreportedGrants
        misnumbered += other.misnumbered
        deniedHolders += other.deniedHolders
    }

    /// Adds what checking one packet found: its account if `owned` (the packet is this run's, or this shard's, to
    /// expire and count), and in any case what its callers were told against its records.
    public mutating func add(_ findings: PacketFindings, of summary: PacketSummary, refund: Fen, owned: Bool = true) {
        if owned {
            packets += 1
            totalFen += summary.total.rawValue
            paidFen += summary.paid.rawValue
            refundFen += refund.rawValue
            grabs += summary.grabs.count
            oversold += findings.oversold
            unbalanced += findings.unbalanced
            belowOneFen += findings.belowOneFen
            paidTwice += findings.paidTwice
            misnumbered += findings.misnumbered
        }
        paidTwice += findings.grantedTwice
        lostGrants += findings.lostGrants
        wrongAmounts += findings.wrongAmounts
        unreportedGrants += findings.unreportedGrants
        deniedHolders += findings.deniedHolders
    }

    /// Every packet's paid + refund == total, and so the run's.
    public var moneyConserved: Bool { unbalanced == 0 && paidFen + refundFen == totalFen }
    /// True when nothing failed (or nothing could be checked).
    public var passed: Bool {
        !audited || moneyConserved && oversold == 0 && paidTwice == 0 && belowOneFen == 0 && lostGrants == 0 && wrongAmounts == 0
            && unreportedGrants == 0 && misnumbered == 0 && deniedHolders == 0
    }

    /// One line: `pass` or what failed.
    public var summary: String {
        guard audited else { return "not audited (no records)" }
        guard !passed else { return "pass" }
        var failures: [String] = []
        if !moneyConserved { failures.append("money not conserved (\(unbalanced) packets)") }
        if oversold > 0 { failures.append("\(oversold) packets oversold") }
        if paidTwice > 0 { failures.append("\(paidTwice) members paid twice") }
        if belowOneFen > 0 { failures.append("\(belowOneFen) shares below 1 fen") }
        if lostGrants > 0 { failures.append("\(lostGrants) acknowledged grants lost") }
        if wrongAmounts > 0 { failures.append("\(wrongAmounts) grants paid another amount than the caller was told") }
        if unreportedGrants > 0 { failures.append("\(unreportedGrants) records no caller was told of") }
        if misnumbered > 0 { failures.append("\(misnumbered) packets with records out of sequence") }
        if deniedHolders > 0 { failures.append("\(deniedHolders) holders of a share told they had none") }
        return "FAIL: " + failures.joined(separator: ", ")
    }
}

/// One packet's account after the run, with the latency of each successful grab: what the results store keeps.
public struct PacketAccount {
    /// Whether this run (this shard) sent the packet: it expired it, and stores its row.
    public let owned: Bool
    /// The packet's index in the workload.
    public let index: Int
    /// The packet as the workload drew it.
    public let packet: Workload.Packet
    /// Its id in the engine.
    public let id: PacketID
    /// Its account after expiry.
    public let summary: PacketSummary
    /// The refund its expiry made (0 for a packet another shard expired).
    public let refund: Fen
    /// Latency (ns) of each grab in `summary.grabs`, in the same order.
    public let latencies: [UInt64]
}

/// The check after a run: every packet expired and audited.
public enum Audit {
    static let batch = 512

    /// Expires every packet of the run, checks its account against the invariants and against what each caller
    /// was told (the driver kept every answer: outcome, amount, latency), and hands the account to `visit` (to be
    /// stored). A batch engine is audited `batch` packets per call (one round trip per node).
    /// - Throws: what the engine or `visit` throws.
    /// With a `shard`, only the shard's own packets are expired and counted; every packet its members grabbed is
    /// checked against what they were told.
    public static func run(_ workload: Workload, _ measurement: RunMeasurement, on target: DrivenEngine, shard: Shard? = nil,
                           progress: (Int, Int) -> Void = { _, _ in },
                           visit: (PacketAccount) throws -> Void) throws -> Verdict
    {
        var verdict = Verdict()
        let (starts, indices) = workload.attemptsByPacket()
        let count = workload.packets.count
        var observed: [ObservedGrab] = [], grantLatencies: [(member: MemberID, order: Int, latency: UInt32)] = []
        let ranges = stride(from: 0, to: count, by: batch).map { $0 ..< min(count, $0 + batch) }
        // A batch engine is asked for `parallel` batches at once (each one round trip per node), so that its
        // server works while this thread checks the answers; the checks themselves run in packet order.
        let parallel = if case .batched = target { 4 } else { 1 }
        for group in stride(from: 0, to: ranges.count, by: parallel).map({ ranges[$0 ..< min(ranges.count, $0 + parallel)] }) {
            let fetched = try accounts(of: Array(group), ids: measurement.packetIDs, on: target, shard: shard)
            for (range, (refunds, summaries)) in zip(group, fetched) {
                let ids = range.map { measurement.packetIDs[$0] }
                for (k, index) in range.enumerated() {
                    let packet = workload.packets[index], summary = summaries[k], refund = refunds[k]
                    // What each caller was told, against the records: the core's one invariant check.
                    observed.removeAll(keepingCapacity: true)
                    grantLatencies.removeAll(keepingCapacity: true)
                    for position in starts[index] ..< starts[index + 1] {
                        let attempt = Int(indices[position])
                        guard let outcome = measurement.outcome(of: attempt) else { continue }
                        let member = workload.attempts[attempt].member
                        observed.append(ObservedGrab(packet: ids[k], member: member, outcome: outcome))
                        if case .granted = outcome { grantLatencies.append((member, attempt, measurement.latencies[attempt])) }
                    }
                    let owned = shard?.sends(packet: index) ?? true
                    let findings = PacketFindings(summary, refund: owned ? refund : nil, observed: observed,
                                                  answersKnown: { shard?.grabs(for: $0) ?? true })
                    verdict.add(findings, of: summary, refund: refund, owned: owned)
                    // A caller told only "already grabbed" holds its share too (its granted reply was lost, and the
                    // resent grab answered with the same share): its latency is unknown, stored as 0.
                    // Each record's latency: its member's first "granted" (attempts are in due order), found by a
                    // binary search of the grants sorted by member (no hashing: the audit checks every packet).
                    grantLatencies.sort { ($0.member, $0.order) < ($1.member, $1.order) }
                    let latencies = summary.grabs.map { record -> UInt64 in
                        var low = 0, high = grantLatencies.count
                        while low < high {
                            let middle = (low + high) / 2
                            if grantLatencies[middle].member < record.member { low = middle + 1 } else { high = middle }
                        }
                        return low < grantLatencies.count && grantLatencies[low].member == record.member ? UInt64(grantLatencies[low].latency) : 0
                    }
                    try visit(PacketAccount(owned: owned, index: index, packet: packet, id: ids[k], summary: summary, refund: refund,
                                            latencies: latencies))
                }
                progress(range.upperBound, count)
            }
        }
        return verdict
    }

    /// Expires the packets of each range (a shard: its own) and reads their accounts: the ranges concurrently for
    /// a batch engine. A packet not expired here has refund 0 in the answer.
    static func accounts(of ranges: [Range<Int>], ids: [PacketID], on target: DrivenEngine,
                         shard: Shard?) throws -> [([Fen], [PacketSummary])]
    {
        let engine = target.blocking
        let fetch: @Sendable (Range<Int>) throws -> ([Fen], [PacketSummary]) = { range in
            let owned = range.filter { shard?.sends(packet: $0) ?? true }
            if case .batched(let batched, _) = target {
                // Expired and read in one round trip (the shard's own packets), read only (the others').
                let closed = Dictionary(uniqueKeysWithValues: zip(owned, try batched.expireAndSummarize(owned.map { ids[$0] })))
                let others = range.filter { closed[$0] == nil }
                let read = Dictionary(uniqueKeysWithValues: zip(others, try batched.summaries(of: others.map { ids[$0] })))
                return (range.map { closed[$0]?.expiry.refund ?? .zero }, range.map { closed[$0]?.summary ?? read[$0]! })
            }
            let refunds = try range.map { (shard?.sends(packet: $0) ?? true) ? try engine.expire(ids[$0]).refund : .zero }
            return (refunds, try range.map { try engine.summary(of: ids[$0]) })
        }
        guard case .batched = target else { return try ranges.map(fetch) }
        let cells = ranges.map { _ in WriteOnce<Result<([Fen], [PacketSummary]), any Error>>() }
        DispatchQueue.concurrentPerform(iterations: ranges.count) { k in cells[k].publish(Result { try fetch(ranges[k]) }) }
        return try cells.map { try $0.value!.get() }
    }
}
