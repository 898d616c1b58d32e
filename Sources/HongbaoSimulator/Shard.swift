import HongbaoCore

/// One of N load generators — processes, on N hosts in production — running disjoint parts of one seeded workload
/// against one store. Every generator builds the same workload; shard K sends the packets whose index is K mod N
/// and runs the attempts of the members whose id is K mod N, so a packet's grabbers come from every shard, and each
/// member's answers are all seen by one shard (which can therefore tell a record nobody was told of).
public struct Shard: Sendable, CustomStringConvertible {
    /// 0-based.
    public let index: Int
    /// N, the shards of the run.
    public let count: Int
    /// How the shards meet: the ids of every packet, and the start of each phase together.
    public let rendezvous: any ShardRendezvous

    /// Shard `index` of `count`. - Precondition: `0 ≤ index < count`.
    public init(index: Int, of count: Int, rendezvous: any ShardRendezvous) {
        precondition(count >= 1 && (0 ..< count).contains(index), "shard \(index) of \(count)")
        self.index = index
        self.count = count
        self.rendezvous = rendezvous
    }

    /// Whether this shard sends (and expires) the packet at `index` in the workload.
    public func sends(packet index: Int) -> Bool { index % count == self.index }

    /// Whether this shard runs `member`'s attempts.
    public func grabs(for member: MemberID) -> Bool { Int(member.rawValue % UInt32(count)) == index }

    /// `K/N`, 1-based as users write it.
    public var description: String { "\(index + 1)/\(count)" }
}

/// Where the shards of one run meet (the store itself, for Redis): each publishes the ids of the packets it sent and
/// learns everyone's; each phase starts when every shard has arrived at it.
public protocol ShardRendezvous: Sendable {
    /// Publishes the ids of the packets this shard sent (by workload index), waits until every shard has, and
    /// returns the id of every packet of the workload, in workload order.
    /// - Throws: when a shard does not arrive in time, or an index is missing.
    func exchange(sent: [(index: Int, id: PacketID)], packets: Int) throws -> [PacketID]

    /// Waits until every shard has arrived at `phase`.
    /// - Throws: when a shard does not arrive in time.
    func arrive(at phase: String) throws
}
