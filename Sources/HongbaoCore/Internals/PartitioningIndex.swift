extension RandomAccessCollection {
    /// The first index whose element is in the second partition — `belongsInSecondPartition` is false for every
    /// element before it and true for every element from it on — or `endIndex` when none is. O(log n).
    ///
    /// The house's one binary search (swift-algorithms calls it the same): a group's members, a packet's records
    /// by member, the cuts of a line-cutting split, a run's grants by member, a population's group starts. The
    /// arena's member lookup is a different search (interpolation over atomic words) and stays its own.
    @inlinable
    package func partitioningIndex(where belongsInSecondPartition: (Element) throws -> Bool) rethrows -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if try belongsInSecondPartition(self[middle]) {
                count = half
            } else {
                low = index(after: middle)
                count -= half + 1
            }
        }
        return low
    }
}
