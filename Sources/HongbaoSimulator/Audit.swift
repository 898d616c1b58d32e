import Dispatch
import HongbaoCore

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
    /// With a `shard`, only the shard's own packets are expired and counted; every packet its members grabbed is
    /// checked against what they were told.
    ///
    /// On a `SettlingGrabEngine` (Redis) the verdict is given on the final state: a packet that vanished is counted
    /// as a lost send (with the grants its callers were told) instead of stopping the audit; then the audit waits
    /// for the store to settle (`settled` is told how long that took) and reads every packet again, and the
    /// verdict compares that final state with every grant, amount and refund told — so a fault that takes back
    /// acknowledged writes after they were read (a partitioned master demoted after the audit read it) fails the
    /// verdict, counted by kind, and never passes it.
    /// - Throws: what the engine or `visit` throws.
    public static func run(_ workload: Workload, _ measurement: RunMeasurement, on target: DrivenEngine, shard: Shard? = nil,
                           progress: (Int, Int) -> Void = { _, _ in }, settled: (Duration) -> Void = { _ in },
                           visit: (PacketAccount) throws -> Void) throws -> Verdict
    {
        var verdict = Verdict()
        let checker = Checker(workload: workload, measurement: measurement, shard: shard)
        let count = workload.packets.count
        var told = [Fen?](repeating: nil, count: count)   // the refund each owned packet's expiry answered
        let ranges = stride(from: 0, to: count, by: batch).map { $0 ..< min(count, $0 + batch) }
        // A batch engine is asked for `parallel` batches at once (each one round trip per node, or one group commit
        // of a journal), so that it works while this thread checks the answers; the checks run in packet order.
        let parallel = target.batchEngine != nil ? 4 : 1
        for group in stride(from: 0, to: ranges.count, by: parallel).map({ ranges[$0 ..< min(ranges.count, $0 + parallel)] }) {
            let fetched = try accounts(of: Array(group), ids: measurement.packetIDs, on: target, shard: shard)
            for (range, (refunds, summaries)) in zip(group, fetched) {
                for (k, index) in range.enumerated() {
                    told[index] = refunds[k]
                    guard let summary = summaries[k] else {
                        checker.lost(index, into: &verdict)
                        continue
                    }
                    let latencies = checker.check(index, summary, toldRefund: refunds[k], into: &verdict)
                    try visit(PacketAccount(owned: checker.owns(index), index: index, packet: workload.packets[index],
                                            id: measurement.packetIDs[index], summary: summary, refund: refunds[k] ?? .zero,
                                            latencies: latencies))
                }
                progress(range.upperBound, count)
            }
        }
        guard case .batched(let batched, _) = target, let settling = batched as? any SettlingGrabEngine else { return verdict }

        // The final state: once the store has settled, every packet read again and judged against what was told.
        settled(try settling.settle())
        var final = Verdict()
        final.finalStateRead = true
        for range in ranges {
            let summaries = try settling.summariesPresent(of: range.map { measurement.packetIDs[$0] })
            for (index, summary) in zip(range, summaries) {
                guard let summary else {
                    checker.lost(index, into: &final)
                    continue
                }
                _ = checker.check(index, summary, toldRefund: told[index], into: &final)
            }
        }
        return final
    }

    /// The per-packet check: what each caller of a packet was told, against its account. Used from one thread; its
    /// buffers are reused from packet to packet (the audit checks every packet of a run: no allocation per packet).
    final class Checker {
        let workload: Workload
        let measurement: RunMeasurement
        let shard: Shard?
        let starts: [Int], indices: [UInt32]
        private var observed: [ObservedGrab] = []
        private var grants: [(member: MemberID, order: Int, latency: UInt32)] = []

        init(workload: Workload, measurement: RunMeasurement, shard: Shard?) {
            (self.workload, self.measurement, self.shard) = (workload, measurement, shard)
            (starts, indices) = workload.attemptsByPacket()
        }

        /// Whether this run (this shard) sent, expires and counts the packet.
        func owns(_ index: Int) -> Bool { shard?.sends(packet: index) ?? true }

        /// Fills `observed` with every answer the packet's callers got, and `grants` with each "granted" (member,
        /// attempt order, latency).
        private func collect(_ index: Int) {
            observed.removeAll(keepingCapacity: true)
            grants.removeAll(keepingCapacity: true)
            for position in starts[index] ..< starts[index + 1] {
                let attempt = Int(indices[position])
                guard let outcome = measurement.outcome(of: attempt) else { continue }
                let member = workload.attempts[attempt].member
                observed.append(ObservedGrab(packet: measurement.packetIDs[index], member: member, outcome: outcome))
                if case .granted = outcome { grants.append((member, attempt, measurement.latencies[attempt])) }
            }
        }

        /// A packet the store does not hold: a lost send (if this run sent it), and every member told a share of
        /// it lost that grant.
        func lost(_ index: Int, into verdict: inout Verdict) {
            if owns(index) { verdict.lostSends += 1 }
            collect(index)
            verdict.lostGrants += Set(observed.lazy.filter { $0.outcome.share != nil }.map(\.member)).count
        }

        /// Checks the packet's account (the core's one invariant check) and what was told of it, adds the
        /// findings to `verdict`, and returns each record's latency: its member's first "granted" (attempts are in
        /// due order); 0 for a share its caller heard of only as "already grabbed" (its granted reply was lost,
        /// and the resent grab answered with the same share).
        func check(_ index: Int, _ summary: PacketSummary, toldRefund: Fen?, into verdict: inout Verdict) -> [UInt64] {
            let owned = owns(index)
            collect(index)
            let findings = PacketFindings(summary, refund: owned ? toldRefund : nil, observed: observed,
                                          answersKnown: { [shard] in shard?.grabs(for: $0) ?? true })
            verdict.add(findings, of: summary, refund: toldRefund ?? .zero, owned: owned)
            if owned, let toldRefund, summary.refund != toldRefund { verdict.lostRefunds += 1 }
            if owned {   // the amount oracle: every share as the packet's spec and seed split it, recomputed here
                let packet = workload.packets[index]
                let split = RedPacket.split(packet.spec, seed: packet.seed)
                verdict.offSplit += summary.grabs.lazy.filter { split.indices.contains($0.seq - 1) && $0.amount != split[$0.seq - 1] }.count
            }
            // Each record's latency, found by a binary search of the grants sorted by member (no hashing).
            grants.sort { ($0.member, $0.order) < ($1.member, $1.order) }
            return summary.grabs.map { record -> UInt64 in
                let low = grants.partitioningIndex { $0.member >= record.member }
                return low < grants.count && grants[low].member == record.member ? UInt64(grants[low].latency) : 0
            }
        }
    }

    /// Expires the packets of each range (a shard: its own) and reads their accounts: the ranges concurrently for
    /// a batch engine. A packet not expired here has a nil refund; a packet a settling engine no longer holds has
    /// a nil account.
    static func accounts(of ranges: [Range<Int>], ids: [PacketID], on target: DrivenEngine,
                         shard: Shard?) throws -> [([Fen?], [PacketSummary?])]
    {
        let engine = target.blocking
        let fetch: @Sendable (Range<Int>) throws -> ([Fen?], [PacketSummary?]) = { range in
            let owned = range.filter { shard?.sends(packet: $0) ?? true }
            if let batched = target.batchEngine {
                // Expired and read in one round trip (the shard's own packets), read only (the others').
                let settling = batched as? any SettlingGrabEngine
                let closing = owned.map { ids[$0] }
                let results = try settling?.expireAndSummarizePresent(closing) ?? batched.expireAndSummarize(closing).map { .some($0) }
                let closed = Dictionary(uniqueKeysWithValues: zip(owned, results))
                let others = range.filter { closed[$0] == nil }
                let otherIDs = others.map { ids[$0] }
                let read = try settling?.summariesPresent(of: otherIDs) ?? batched.summaries(of: otherIDs).map { .some($0) }
                let readByIndex = Dictionary(uniqueKeysWithValues: zip(others, read))
                return (range.map { closed[$0]??.expiry.refund }, range.map { closed[$0].map { $0?.summary } ?? readByIndex[$0]! })
            }
            let refunds = try range.map { (shard?.sends(packet: $0) ?? true) ? try engine.expire(ids[$0]).refund : nil }
            return (refunds, try range.map { try engine.summary(of: ids[$0]) })
        }
        guard target.batchEngine != nil else { return try ranges.map(fetch) }
        let cells = ranges.map { _ in WriteOnce<Result<([Fen?], [PacketSummary?]), any Error>>() }
        DispatchQueue.concurrentPerform(iterations: ranges.count) { k in cells[k].publish(Result { try fetch(ranges[k]) }) }
        return try cells.map { try $0.value!.get() }
    }
}
