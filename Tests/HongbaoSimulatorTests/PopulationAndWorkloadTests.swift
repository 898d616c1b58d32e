import HongbaoCore
import HongbaoSimulator
import Testing

@Suite("Population and workload")
struct PopulationAndWorkloadTests {
    static let population = Population(members: 50_000, seed: 7)

    @Test func thePopulationIsDeterministicForASeed() {
        let again = Population(members: 50_000, seed: 7)
        #expect(again.memberships == Self.population.memberships && again.groupStarts == Self.population.groupStarts)
        #expect(Population(members: 50_000, seed: 8).memberships != Self.population.memberships)
    }

    @Test func groupsAreHeavyTailedSortedAndCoverEveryone() {
        let population = Self.population
        let sizes = (0 ..< population.groupCount).map(population.groupSize)
        #expect(sizes.allSatisfy { (Population.minGroupSize ... Population.maxGroupSize).contains($0) })
        // Heavy tail: most groups are small, and some reach the cap's neighbourhood.
        #expect(sizes.filter { $0 <= 10 }.count * 2 > sizes.count, "most groups are small")
        #expect(sizes.filter { $0 >= 200 }.count >= 1, "a heavy tail reaches big groups")
        for g in 0 ..< population.groupCount {
            let members = population.group(g).members
            #expect(zip(members, members.dropFirst()).allSatisfy { $0 < $1 }, "group \(g) sorted and unique")
        }
        #expect(Set(population.memberships).count == population.memberCount, "every member is in a group")
        let ratio = Double(population.memberships.count) / Double(population.memberCount)
        #expect(ratio > 1.4 && ratio <= 1.5, "memberships ≈ 1.5 per member, got \(ratio)")
        #expect(population.footprint < 30 * population.memberCount, "tens of bytes per member at most")
    }

    @Test func theWorkloadIsDeterministicAndWithinItsDistributions() {
        let workload = Workload(population: Self.population, packets: 4_000, seed: 11)
        let again = Workload(population: Self.population, packets: 4_000, seed: 11)
        #expect(workload.attempts == again.attempts)
        #expect(workload.packets.map(\.spec) == again.packets.map(\.spec))

        var kinds: [String: Int] = [:]
        for packet in workload.packets {
            let group = Self.population.group(Int(packet.group))
            #expect(packet.spec.shares <= min(group.count, 100))
            #expect(group.contains(packet.sender))
            kinds[packet.spec.kind.name, default: 0] += 1
        }
        #expect(zip(workload.packets, workload.packets.dropFirst()).allSatisfy { $0.sentAtMilliseconds <= $1.sentAtMilliseconds })
        #expect(workload.packets.contains { $0.isHot })
        // The festival burst holds 30 % of the sends in 10 of 600 seconds (binomial sd ≈ 0.7 %; bound 5 sd).
        let burst = Double(workload.packets.filter { (300_000 ... 310_000).contains($0.sentAtMilliseconds) }.count) / 4_000
        #expect(abs(burst - 0.30 - 0.7 * 10 / 600) < 0.04, "burst share \(burst)")
        #expect(abs(Double(kinds["lucky", default: 0]) / 4_000 - 0.85) < 0.03, "\(kinds)")
        // Big groups see more grabbers than shares; some attempts come from outsiders.
        let hot = workload.packets.indices.filter { workload.packets[$0].isHot }
        let attemptsOnHot = workload.attempts.filter { hot.contains(Int($0.packet)) }.count
        #expect(attemptsOnHot > hot.map { workload.packets[$0].spec.shares }.reduce(0, +))
        let outsiders = workload.attempts.filter { !Self.population.group(Int(workload.packets[Int($0.packet)].group)).contains($0.member) }
        #expect(!outsiders.isEmpty && outsiders.count < workload.attempts.count / 50)
    }

    @Test func aFixedAlgorithmAppliesToEveryLuckyPacket() {
        let workload = Workload(population: Self.population, packets: 500, seed: 3, algorithm: .lineCutting)
        #expect(workload.packets.allSatisfy { $0.spec.kind != .lucky || $0.spec.algorithm == .lineCutting })
    }

    /// N shards split one workload: every packet is sent by exactly one shard, every attempt runs in exactly one,
    /// and every attempt of a member runs in the same shard (so one shard sees all that member was told).
    @Test func shardsSplitTheWorkloadWithoutOverlapOrGap() {
        struct NoRendezvous: ShardRendezvous {
            func exchange(sent: [(index: Int, id: PacketID)], packets: Int) throws -> [PacketID] { [] }
            func arrive(at phase: String) throws {}
        }
        let workload = Workload(population: Self.population, packets: 2_000, seed: 9)
        let shards = (0 ..< 3).map { Shard(index: $0, of: 3, rendezvous: NoRendezvous()) }
        let parts = shards.map { workload.part(of: $0) }
        #expect(parts.map(\.attempts.count).reduce(0, +) == workload.attempts.count)
        #expect(Set(parts.flatMap(\.attempts)) == Set(workload.attempts))
        for (shard, part) in zip(shards, parts) {
            #expect(part.packets.count == workload.packets.count, "every shard knows every packet")
            #expect(part.attempts.allSatisfy { shard.grabs(for: $0.member) })
        }
        #expect(workload.packets.indices.allSatisfy { index in shards.filter { $0.sends(packet: index) }.count == 1 })
        #expect(parts.allSatisfy { !$0.attempts.isEmpty })
    }
}
