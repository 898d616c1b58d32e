import HongbaoCore

/// The correctness verdict of a run: every packet expired (its balance refunded) and its account checked
/// against the invariants and against what the grabbers were told.
public struct Verdict: Sendable, Codable {
    public var packets = 0
    public var totalFen: Int64 = 0
    public var paidFen: Int64 = 0
    public var refundFen: Int64 = 0
    public var grabs = 0
    /// Packets with more grabs than shares.
    public var oversold = 0
    /// Members paid twice in one packet.
    public var paidTwice = 0
    /// Shares below 1 fen.
    public var belowOneFen = 0
    /// Packets whose paid + refund ≠ total.
    public var unbalanced = 0
    /// Packets whose grants (as callers saw them) differ from the engine's records.
    public var mismatched = 0

    public var moneyConserved: Bool { unbalanced == 0 && paidFen + refundFen == totalFen }
    public var passed: Bool { moneyConserved && oversold == 0 && paidTwice == 0 && belowOneFen == 0 && mismatched == 0 }

    /// One line: `pass` or what failed.
    public var summary: String {
        guard !passed else { return "pass" }
        var failures: [String] = []
        if !moneyConserved { failures.append("money not conserved (\(unbalanced) packets)") }
        if oversold > 0 { failures.append("\(oversold) packets oversold") }
        if paidTwice > 0 { failures.append("\(paidTwice) members paid twice") }
        if belowOneFen > 0 { failures.append("\(belowOneFen) shares below 1 fen") }
        if mismatched > 0 { failures.append("\(mismatched) packets whose grants differ from their records") }
        return "FAIL: " + failures.joined(separator: ", ")
    }
}

/// One packet's account after the run, with the latency of each successful grab: what the results store keeps.
public struct PacketAccount {
    public let index: Int
    public let packet: Workload.Packet
    public let id: PacketID
    public let summary: PacketSummary
    public let refund: Fen
    /// Latency (ns) of each grab in `summary.grabs`, in the same order.
    public let latencies: [UInt64]
}

public enum Audit {
    /// Expires every packet of the run, checks it, and hands its account to `visit` (to be stored).
    /// - Throws: what the engine or `visit` throws.
    public static func run(_ workload: Workload, _ measurement: RunMeasurement, on engine: any GrabEngine,
                           progress: (Int, Int) -> Void = { _, _ in },
                           visit: (PacketAccount) throws -> Void) throws -> Verdict
    {
        var verdict = Verdict()
        let (starts, indices) = workload.attemptsByPacket()
        var grantLatency: [MemberID: UInt64] = [:]
        for (index, packet) in workload.packets.enumerated() {
            let id = measurement.packetIDs[index]
            let refund = try engine.expire(id).refund
            let summary = try engine.summary(of: id)
            verdict.packets += 1
            verdict.totalFen += summary.total.rawValue
            verdict.paidFen += summary.paid.rawValue
            verdict.refundFen += refund.rawValue
            verdict.grabs += summary.grabs.count
            if summary.grabs.count > packet.spec.shares { verdict.oversold += 1 }
            if summary.paid + refund != summary.total { verdict.unbalanced += 1 }
            verdict.belowOneFen += summary.grabs.lazy.filter { $0.amount < Fen(1) }.count
            verdict.paidTwice += summary.grabs.count - Set(summary.grabs.lazy.map(\.member)).count

            grantLatency.removeAll(keepingCapacity: true)
            var grants = 0
            for k in starts[index] ..< starts[index + 1] {
                let attempt = Int(indices[k])
                guard measurement.codes[attempt] == GrabCode.granted.rawValue else { continue }
                grants += 1
                grantLatency[workload.attempts[attempt].member] = UInt64(measurement.latencies[attempt])
            }
            let latencies = summary.grabs.map { grantLatency[$0.member] }
            if grants != summary.grabs.count || latencies.contains(nil) { verdict.mismatched += 1 }
            try visit(PacketAccount(index: index, packet: packet, id: id, summary: summary, refund: refund,
                                    latencies: latencies.map { $0 ?? 0 }))
            if index % 16_384 == 0 { progress(index, workload.packets.count) }
        }
        progress(workload.packets.count, workload.packets.count)
        return verdict
    }
}
