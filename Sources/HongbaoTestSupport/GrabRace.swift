@_spi(Harness) import HongbaoCore

/// The contention harness every engine's tests share: threads released together from one barrier race every
/// member of a group over many packets, each grab twice (a retry), each thread in its own order.
public enum GrabRace {
    /// - Returns: every grab as its caller saw it.
    public static func run(_ engine: some GrabEngine, packets: [PacketID], members: ClosedRange<UInt32>,
                           threads: Int) -> [ObservedGrab]
    {
        runThreads(threads) { thread in
            var generator = SplitMix64(seed: UInt64(thread))
            var seen: [ObservedGrab] = []
            for packet in packets {
                var order = members.map(MemberID.init(rawValue:))
                order.shuffle(using: &generator)
                for member in order {
                    for _ in 0 ..< 2 {
                        do {
                            seen.append(ObservedGrab(packet: packet, member: member, outcome: try engine.grab(packet, for: member)))
                        } catch {
                            preconditionFailure("grab failed during a race: \(error)")   // the backend must be up
                        }
                    }
                }
            }
            return seen
        }.flatMap { $0 }
    }

    /// Sends `count` packets of 1 … 20 shares over `members`, with the algorithms in turn.
    public static func sendPackets(_ engine: some GrabEngine, count: Int, members: ClosedRange<UInt32>,
                                   algorithms: [SplitAlgorithm]) throws -> [PacketID]
    {
        let group = Group(range: members)
        return try (0 ..< count).map { index in
            let shares = 1 + index % 20
            let spec = try PacketSpec(total: Fen(Int64(shares) * Int64(1 + (index * 37) % 5_000)), shares: shares,
                                      algorithm: algorithms[index % algorithms.count])
            return try engine.send(spec, to: group, seed: UInt64(index))
        }
    }

    /// The violations of a whole race: per packet, the invariants against what callers saw; and every packet sold
    /// out with exactly one grant per share (`sendPackets` makes at most 20 shares: race more than 20 members).
    public static func violations(_ engine: some GrabEngine, packets: [PacketID], observed: [ObservedGrab]) throws -> [String] {
        let byPacket = Dictionary(grouping: observed, by: \.packet)
        var violations: [String] = []
        for packet in packets {
            let summary = try engine.summary(of: packet)
            violations += PacketFindings(summary, observed: byPacket[packet] ?? []).violations
            let grants = (byPacket[packet] ?? []).filter { if case .granted = $0.outcome { true } else { false } }.count
            if grants != summary.shares || summary.grabs.count != summary.shares || summary.balance != .zero {
                violations.append(
                    "\(packet): \(grants) grants and \(summary.grabs.count) records for \(summary.shares) shares, balance \(summary.balance)")
            }
        }
        return violations
    }
}
