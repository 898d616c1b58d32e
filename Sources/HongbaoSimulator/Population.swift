import Foundation
import HongbaoCore

/// Millions of members in chat groups, deterministic from a seed and stored flat: every group is a sorted slice
/// of one `[MemberID]` array (4 bytes a membership), so ten million members take tens of megabytes.
///
/// Group sizes are heavy-tailed — a discrete Pareto (α = 1.2) from 3 members, capped at WeChat's 500 — so most
/// groups are small and a few are at the cap. Every member is in at least one group; memberships number 1.5× the
/// members (people are in several groups).
public final class Population: Sendable {
    /// The smallest group.
    public static let minGroupSize = 3
    /// The largest group (WeChat's limit).
    public static let maxGroupSize = 500
    static let paretoAlpha = 1.2

    /// Members, with ids 1 … memberCount.
    public let memberCount: Int
    /// The seed the groups were drawn from.
    public let seed: UInt64
    /// All memberships, group after group; each group's members sorted and unique.
    public let memberships: [MemberID]
    /// Group `g` is `memberships[groupStarts[g] ..< groupStarts[g + 1]]`.
    public let groupStarts: [UInt32]

    /// - Precondition: `members ≥ minGroupSize` (validated by the command line).
    public init(members: Int, seed: UInt64) {
        precondition(members >= Self.minGroupSize, "a population needs at least \(Self.minGroupSize) members")
        precondition(members * 3 / 2 < Int(UInt32.max), "memberships must fit in 32 bits")
        memberCount = members
        self.seed = seed
        var random = SplitMix64(seed: seed ^ 0x5EED_0001)
        let target = members * 3 / 2

        // A permutation of every member, then random extra memberships: every member lands in some group.
        var pool: [MemberID] = []
        pool.reserveCapacity(target)
        for i in 0 ..< members { pool.append(MemberID(UInt32(i))) }
        for _ in members ..< target { pool.append(MemberID(UInt32(random.below(UInt64(members))))) }
        for i in stride(from: members - 1, to: 0, by: -1) {
            pool.swapAt(i, Int(random.below(UInt64(i + 1))))
        }

        // Cut the pool into Pareto-sized groups; sort each and drop duplicate extras in place.
        var starts: [UInt32] = [0]
        var read = 0, write = 0
        let cap = min(Self.maxGroupSize, members)
        while read < target {
            let size = min(Self.groupSize(&random, cap: cap), target - read)
            pool[read ..< read + size].sort()
            var previous: MemberID?
            for i in read ..< read + size where pool[i] != previous {
                pool[write] = pool[i]
                previous = pool[i]
                write += 1
            }
            read += size
            if write - Int(starts.last!) >= Self.minGroupSize || read == target {
                starts.append(UInt32(write))
            } else {
                write = Int(starts.last!)   // a remnant too small to be a group: its members are elsewhere too
            }
        }
        if starts.count == 1 { starts.append(UInt32(write)) }
        pool.removeSubrange(write...)
        memberships = pool
        groupStarts = starts
    }

    static func groupSize(_ random: inout SplitMix64, cap: Int) -> Int {
        let u = Double(random.next() >> 11 | 1) / Double(1 << 53)   // (0, 1]
        let size = Double(minGroupSize) / pow(u, 1 / paretoAlpha)
        return size >= Double(cap) ? cap : max(minGroupSize, Int(size))
    }

    /// How many groups.
    public var groupCount: Int { groupStarts.count - 1 }

    /// The members of group `index`.
    public func group(_ index: Int) -> Group {
        Group(sortedUniqueUnchecked: memberships[Int(groupStarts[index]) ..< Int(groupStarts[index + 1])])
    }

    /// The size of group `index`.
    public func groupSize(_ index: Int) -> Int { Int(groupStarts[index + 1] - groupStarts[index]) }

    /// The group holding membership `index` (binary search over the group starts).
    public func group(ofMembership index: Int) -> Int {
        groupStarts[1 ..< groupCount].partitioningIndex { Int($0) > index } - 1
    }

    /// Bytes held by the flat arrays.
    public var footprint: Int { memberships.count * MemoryLayout<MemberID>.stride + groupStarts.count * 4 }
}
