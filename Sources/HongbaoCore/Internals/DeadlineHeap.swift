/// Packets by deadline: a binary min-heap of (deadline, id), earliest first. O(log n) push and removal.
struct DeadlineHeap {
    private var entries: [(expiresAt: Int64, id: PacketID)] = []

    var count: Int { entries.count }
    var first: (expiresAt: Int64, id: PacketID)? { entries.first }

    mutating func push(_ expiresAt: Int64, _ id: PacketID) {
        entries.append((expiresAt, id))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(entries[child], entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeFirst() {
        entries.swapAt(0, entries.count - 1)
        entries.removeLast()
        siftDown(from: 0)
    }

    /// Keeps the entries whose id passes `isKept`, and restores the heap. O(n).
    mutating func keepOnly(_ isKept: (PacketID) -> Bool) {
        entries.removeAll { !isKept($0.id) }
        for index in stride(from: entries.count / 2 - 1, through: 0, by: -1) { siftDown(from: index) }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < entries.count && Self.precedes(entries[left], entries[first]) { first = left }
            if right < entries.count && Self.precedes(entries[right], entries[first]) { first = right }
            guard first != parent else { return }
            entries.swapAt(parent, first)
            parent = first
        }
    }

    private static func precedes(_ a: (expiresAt: Int64, id: PacketID), _ b: (expiresAt: Int64, id: PacketID)) -> Bool {
        a.expiresAt != b.expiresAt ? a.expiresAt < b.expiresAt : a.id.rawValue < b.id.rawValue
    }
}
