import Foundation
import HongbaoCore

/// A festival night in miniature, deterministic from a seed: who sends which packets to which group, when, and
/// who races to grab them, in the order the grabs fall due.
///
/// - Senders are drawn by membership, so big groups send more packets. Shares ≤ group size and ≤ 100; the average
///   share comes from tiers between 1 fen and 200 yuan. Kinds: 85 % lucky, 10 % equal, 5 % exclusive.
/// - Send times: spread over 10 simulated minutes, with a festival burst — 30 % of the packets in 10 seconds.
/// - Grabbers: a random part of the group, usually more than the shares (far more in big groups), sometimes
///   fewer (the packet is refunded in part). Reaction delays are log-normal (median 2.5 s, σ = 1). 2 % tap twice;
///   some outsiders try too. 0.1 % of packets are hot: the biggest groups, 100 shares, nearly everyone grabs.
public final class Workload: Sendable {
    /// One packet to send: its group, sender and spec.
    public struct Packet: Sendable {
        /// Index of the group it is sent to.
        public let group: UInt32
        /// Who sends it.
        public let sender: MemberID
        /// What it holds and how it splits.
        public let spec: PacketSpec
        /// The seed of its split.
        public let seed: UInt64
        /// When it is sent, in the night's milliseconds.
        public let sentAtMilliseconds: UInt32
        /// Whether it goes to the biggest group (a hot packet).
        public let isHot: Bool
    }

    /// One grab attempt: the packet's index in `packets` and the member.
    public struct Attempt: Sendable, Hashable {
        /// Index of the packet in `packets`.
        public let packet: UInt32
        /// Who grabs.
        public let member: MemberID
    }

    /// The members and their groups.
    public let population: Population
    /// The seed the workload was drawn from.
    public let seed: UInt64
    /// In send-time order.
    public let packets: [Packet]
    /// In due-time order.
    public let attempts: [Attempt]

    static let horizonMilliseconds: UInt32 = 600_000
    static let burst: ClosedRange<UInt32> = 300_000 ... 310_000
    static let maxDelayMilliseconds = 600_000.0

    /// What the grabs look like.
    public enum Scenario: String, Sendable, CaseIterable {
        /// A festival night: many packets over ten minutes, a burst, a few hot packets (the default).
        case festival
        /// Hot packets only: every packet goes to the biggest group (up to 500 members) with up to 100 shares, and
        /// its whole group grabs it before the next one — every thread on the same packet at once, the case where
        /// lock-free, mutex and actor engines really differ.
        case hot
    }

    /// - Parameters:
    ///   - algorithm: the split algorithm of every lucky packet; nil for WeChat's mix (70 % double mean at grab).
    public init(population: Population, packets count: Int, seed: UInt64, algorithm: SplitAlgorithm? = nil,
                policy: PacketPolicy = .wechat, scenario: Scenario = .festival)
    {
        precondition(count >= 1 && count < Int(UInt32.max), "packets must be in 1 ..< 2^32")
        self.population = population
        self.seed = seed
        let biggest = (0 ..< population.groupCount).max { population.groupSize($0) < population.groupSize($1) }!
        if scenario == .hot {
            (packets, attempts) = Self.hot(population: population, group: biggest, count: count, seed: seed,
                                           algorithm: algorithm, policy: policy)
            return
        }

        // Pass 1: every packet, then sorted into send order.
        var packets: [Packet] = []
        packets.reserveCapacity(count)
        for index in 0 ..< count {
            var random = Self.generator(seed: seed, packet: index, stream: 1)
            let hot = random.below(1000) == 0 || index == count / 2
            let groupIndex = hot ? biggest : population.group(ofMembership: Int(random.below(UInt64(population.memberships.count))))
            let group = population.group(groupIndex)
            let sender = group.member(at: Int(random.below(UInt64(group.count))))
            let spec = Self.spec(for: group, hot: hot, algorithm: algorithm, policy: policy, sender: sender, using: &random)
            let sentAt = random.below(10) < 3
                ? Self.burst.lowerBound + UInt32(random.below(UInt64(Self.burst.count)))
                : UInt32(random.below(UInt64(Self.horizonMilliseconds)))
            packets.append(Packet(group: UInt32(groupIndex), sender: sender, spec: spec, seed: random.next(),
                                  sentAtMilliseconds: sentAt, isHot: hot))
        }
        packets.sort { ($0.sentAtMilliseconds, $0.seed) < ($1.sentAtMilliseconds, $1.seed) }

        // Pass 2: each packet's grabbers, with their due times — packets in parts on all cores. Each packet draws
        // from its own stream and the parts are joined in order, so the result does not depend on the split.
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count / 1_000))
        let cells = (0 ..< parts).map { _ in WriteOnce<[DueAttempt]>() }
        let sorted = packets
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let range = (count * part / parts) ..< (count * (part + 1) / parts)
            cells[part].publish(Self.attempts(of: sorted, range, population: population, seed: seed))
        }
        var due: [DueAttempt] = []
        due.reserveCapacity(cells.reduce(0) { $0 + $1.value!.count })
        for cell in cells { due += cell.value! }
        self.packets = packets
        self.attempts = Self.sortedByDue(due)
    }

    private init(population: Population, seed: UInt64, packets: [Packet], attempts: [Attempt]) {
        self.population = population
        self.seed = seed
        self.packets = packets
        self.attempts = attempts
    }

    /// The same packets with only the attempts of `shard`'s members: that load generator's part of the run.
    public func part(of shard: Shard) -> Workload {
        Workload(population: population, seed: seed, packets: packets, attempts: attempts.filter { shard.grabs(for: $0.member) })
    }

    /// Hot packets: `count` packets to `group`, each grabbed by its whole group (shuffled) before the next.
    static func hot(population: Population, group groupIndex: Int, count: Int, seed: UInt64, algorithm: SplitAlgorithm?,
                    policy: PacketPolicy) -> ([Packet], [Attempt])
    {
        let group = population.group(groupIndex)
        let shares = min(group.count, policy.shareCountCap, 100)
        var packets: [Packet] = [], attempts: [Attempt] = []
        packets.reserveCapacity(count)
        attempts.reserveCapacity(count * group.count)
        var order = Array(0 ..< group.count)
        for index in 0 ..< count {
            var random = generator(seed: seed, packet: index, stream: 3)
            let total = min(policy.perShareCap.rawValue * Int64(shares), Int64(shares) * (100 + Int64(random.below(900))))
            let spec: PacketSpec
            do {
                spec = try PacketSpec(total: Fen(total), shares: shares, algorithm: algorithm ?? .doubleMeanAtGrab, policy: policy)
            } catch {
                preconditionFailure("the hot workload built an invalid spec: \(error)")   // a bug: the draw is feasible
            }
            packets.append(Packet(group: UInt32(groupIndex), sender: group.member(at: 0), spec: spec, seed: random.next(),
                                  sentAtMilliseconds: 0, isHot: true))
            for k in 0 ..< order.count { order.swapAt(k, k + Int(random.below(UInt64(order.count - k)))) }
            for position in order { attempts.append(Attempt(packet: UInt32(index), member: group.member(at: position))) }
        }
        return (packets, attempts)
    }

    /// The grab attempts of `packets[range]`, with their due times.
    static func attempts(of packets: [Packet], _ range: Range<Int>, population: Population, seed: UInt64) -> [DueAttempt] {
        var due: [DueAttempt] = []
        due.reserveCapacity(range.count * 18)
        var scratch: [Int] = []
        for index in range {
            let packet = packets[index]
            var random = generator(seed: seed, packet: index, stream: 2)
            let group = population.group(Int(packet.group))
            let sentAt = packet.sentAtMilliseconds
            let grabbers = grabberCount(groupSize: group.count, shares: packet.spec.shares, hot: packet.isHot, using: &random)
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: 0 ..< group.count)
            for k in 0 ..< grabbers {
                scratch.swapAt(k, k + Int(random.below(UInt64(group.count - k))))
                let member = group.member(at: scratch[k])
                let delay = reactionDelay(using: &random)
                due.append(DueAttempt(packet: UInt32(index), member: member, milliseconds: sentAt &+ delay))
                if random.below(50) == 0 {   // a double tap
                    due.append(DueAttempt(packet: UInt32(index), member: member, milliseconds: sentAt &+ delay &+ 200))
                }
            }
            if random.below(200) == 0 {   // an outsider tries (refused: not a member)
                let outsider = MemberID(UInt32(random.below(UInt64(population.memberCount))))
                if !group.contains(outsider) {
                    due.append(DueAttempt(packet: UInt32(index), member: outsider,
                                          milliseconds: sentAt &+ reactionDelay(using: &random)))
                }
            }
        }
        return due
    }

    struct DueAttempt: Sendable {
        let packet: UInt32
        let member: MemberID
        let milliseconds: UInt32
        var attempt: Attempt { Attempt(packet: packet, member: member) }
    }

    /// An independent stream per packet and purpose, so each packet's draws depend only on the seed and its index.
    static func generator(seed: UInt64, packet: Int, stream: UInt64) -> SplitMix64 {
        SplitMix64(seed: SplitMix64.output(seed: seed ^ stream &* 0xA24B_AED4_963E_E407, index: packet))
    }

    static func spec(for group: Group, hot: Bool, algorithm: SplitAlgorithm?, policy: PacketPolicy, sender: MemberID,
                     using random: inout SplitMix64) -> PacketSpec
    {
        let maxShares = min(group.count, policy.shareCountCap)
        let roll = random.below(100)
        // The average share in fen, from tiers between 1 fen and the cap.
        let cap = policy.perShareCap.rawValue
        let tier: ClosedRange<Int64> = switch random.below(100) {
        case 0 ..< 5: 1 ... 10
        case 5 ..< 30: 10 ... 100
        case 30 ..< 75: 100 ... 1_000
        case 75 ..< 95: 1_000 ... 5_000
        default: 5_000 ... cap
        }
        let average = min(cap, tier.lowerBound + Int64(random.below(UInt64(tier.upperBound - tier.lowerBound + 1))))
        do {
            if !hot && roll < 5 {   // exclusive: one share, to someone else in the group
                var recipient = group.member(at: Int(random.below(UInt64(group.count))))
                if recipient == sender { recipient = group.member(at: (group.index(of: sender)! + 1) % group.count) }
                return try PacketSpec(total: Fen(average), shares: 1, kind: .exclusive(recipient), policy: policy)
            }
            // Most packets have a few shares; bigger groups get bigger packets (up to a tenth of the group).
            let shares = hot ? maxShares : 1 + Int(random.below(UInt64(max(1, min(maxShares, 2 + group.count / 10)))))
            if !hot && roll < 15 {
                return try PacketSpec(total: Fen(average) * shares, shares: shares, kind: .equal(perShare: Fen(average)),
                                      policy: policy)
            }
            let total = min(cap * Int64(shares), average * Int64(shares) + Int64(random.below(UInt64(shares))))
            return try PacketSpec(total: Fen(max(total, Int64(shares))), shares: shares,
                                  algorithm: algorithm ?? Self.mixedAlgorithm(using: &random), policy: policy)
        } catch {
            preconditionFailure("the workload built an invalid spec: \(error)")   // a bug: every draw is feasible
        }
    }

    static func mixedAlgorithm(using random: inout SplitMix64) -> SplitAlgorithm {
        switch random.below(10) {
        case 0 ..< 7: .doubleMeanAtGrab
        case 7: .doubleMean
        case 8: .lineCutting
        default: .shuffled
        }
    }

    static func grabberCount(groupSize: Int, shares: Int, hot: Bool, using random: inout SplitMix64) -> Int {
        if hot { return max(1, groupSize * 95 / 100) }
        // Between half the shares and 3× them, plus more in big groups; never more than the group.
        let factor = 50 + Int(random.below(250)) + groupSize / 4   // percent
        return max(1, min(groupSize, shares * factor / 100 + 1))
    }

    /// Log-normal reaction delay in milliseconds: median 2.5 s, σ = 1 (Box–Muller), capped at 10 minutes.
    static func reactionDelay(using random: inout SplitMix64) -> UInt32 {
        let u1 = Double(random.next() >> 11 | 1) / Double(1 << 53)
        let u2 = Double(random.next() >> 11) / Double(1 << 53)
        let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        return UInt32(min(maxDelayMilliseconds, exp(log(2_500) + z)))
    }

    static func sortedByDue(_ due: [DueAttempt]) -> [Attempt] {
        guard let latest = due.lazy.map(\.milliseconds).max() else { return [] }
        var counts = [Int](repeating: 0, count: Int(latest) + 2)
        for entry in due { counts[Int(entry.milliseconds) + 1] += 1 }
        for i in 1 ..< counts.count { counts[i] += counts[i - 1] }
        var sorted = [Attempt](repeating: Attempt(packet: 0, member: 0), count: due.count)
        for entry in due {
            sorted[counts[Int(entry.milliseconds)]] = entry.attempt
            counts[Int(entry.milliseconds)] += 1
        }
        return sorted
    }

    /// For each packet, the indices of its attempts in `attempts`: `indices[starts[p] ..< starts[p + 1]]`.
    public func attemptsByPacket() -> (starts: [Int], indices: [UInt32]) {
        var starts = [Int](repeating: 0, count: packets.count + 1)
        for attempt in attempts { starts[Int(attempt.packet) + 1] += 1 }
        for i in 1 ..< starts.count { starts[i] += starts[i - 1] }
        var next = starts
        var indices = [UInt32](repeating: 0, count: attempts.count)
        for (index, attempt) in attempts.enumerated() {
            indices[next[Int(attempt.packet)]] = UInt32(index)
            next[Int(attempt.packet)] += 1
        }
        return (starts, indices)
    }
}
