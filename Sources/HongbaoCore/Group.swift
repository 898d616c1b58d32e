/// The members a packet is sent to: a chat group. Only they may grab.
///
/// Members are kept sorted, so membership is a binary search (O(log n)) and each member has a dense index
/// `0 ..< count` that engines use to address per-member state without hashing.
/// The storage may be a slice of a larger flat array, so millions of groups can share one buffer.
public struct Group: Sendable, Hashable {
    /// The most members a packet's group may have, in every engine (and the example service): 100,000.
    public static let maximumCount = 100_000

    /// Sorted, without duplicates.
    public let members: ArraySlice<MemberID>

    /// A group of these members, in any order; duplicates are dropped.
    public init(_ members: some Sequence<MemberID>) {
        var sorted = Array(Set(members))
        sorted.sort()
        self.members = sorted[...]
    }

    /// A group over members the caller guarantees sorted and unique (a simulator's flat arrays), unchecked.
    public init(sortedUniqueUnchecked members: ArraySlice<MemberID>) {
        self.members = members
    }

    /// The members `first ..< first + count`, e.g. `Group(range: 1...200)`.
    public init(range: ClosedRange<UInt32>) {
        self.members = ArraySlice(range.map(MemberID.init(rawValue:)))
    }

    /// How many members.
    public var count: Int { members.count }

    /// The member's dense index in `0 ..< count`, or nil if it is not a member. O(log count).
    @inlinable
    public func index(of member: MemberID) -> Int? {
        let low = members.partitioningIndex { $0 >= member }
        return low < members.endIndex && members[low] == member ? low - members.startIndex : nil
    }

    /// Whether `member` is in the group. O(log count).
    public func contains(_ member: MemberID) -> Bool { index(of: member) != nil }

    /// The member at a dense index from `index(of:)`.
    @inlinable public func member(at index: Int) -> MemberID { members[members.startIndex + index] }
}
