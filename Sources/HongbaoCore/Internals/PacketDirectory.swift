import Synchronization

/// Packets by id, with lock-free lookup: how the racy (classroom) engine finds a packet. The production engines
/// find theirs in the packet arena, which also reclaims them.
///
/// Implementation notes: ids are dense (`0, 1, 2, …`), issued by `nextID`, an atomic counter. A packet lives in
/// page `id / pageSize`, cell `id % pageSize`. Pages are created on first use, under `pageCreation` — a lock on
/// the send path only. Each page and each cell is a `WriteOnce`: written once by the one thread that owns it
/// (the sender of that id, or the creator of that page), then published by a releasing store of its flag;
/// readers load the flag with acquiring ordering before they read the value. Nothing is ever removed: memory
/// is released with the directory: it serves the classroom's racy engine, never a service.
package final class PacketDirectory<Element: Sendable>: Sendable {
    @usableFromInline static var pageSize: Int { 16_384 }

    @usableFromInline let pages: [WriteOnce<[WriteOnce<Element>]>]
    private let nextID = Atomic<UInt64>(0)
    private let pageCreation = AtomicLock(())   // seen by ThreadSanitizer, unlike `Mutex`

    /// A directory for up to `capacity` packets over its lifetime.
    package init(capacity: Int = 1 << 26) {
        precondition(capacity > 0, "PacketDirectory(capacity:) needs a capacity ≥ 1")
        pages = (0 ..< (capacity + Self.pageSize - 1) / Self.pageSize).map { _ in WriteOnce() }
    }

    package var capacity: Int { pages.count * Self.pageSize }

    /// Issues a new id and stores `make(id)` under it.
    /// - Throws: `GrabEngineError.capacityExhausted` when every id is used, or what `make` throws.
    package func insert(_ make: (PacketID) throws -> Element) throws -> PacketID {
        let raw = nextID.wrappingAdd(1, ordering: .relaxed).oldValue  // relaxed: only uniqueness matters
        let id = PacketID(raw)
        guard raw < UInt64(capacity) else {
            throw GrabEngineError(.capacityExhausted, "this engine holds at most \(capacity) packets")
        }
        let (pageIndex, cellIndex) = Int(raw).quotientAndRemainder(dividingBy: Self.pageSize)
        let page = pageCreation.withLock { _ in
            if let page = pages[pageIndex].value { return page }
            let page = (0 ..< Self.pageSize).map { _ in WriteOnce<Element>() }
            pages[pageIndex].publish(page)
            return page
        }
        page[cellIndex].publish(try make(id))
        return id
    }

    /// The packet stored under `id`, or nil. Lock-free: two acquiring loads and two array reads.
    @inlinable
    package subscript(id: PacketID) -> Element? {
        withElement(id) { $0 }
    }

    /// Runs `body` on the packet stored under `id` (nil if there is none), borrowing it rather than copying it
    /// out: on a hot packet, the reference-count traffic of a copy is a contended atomic on every grab.
    @inlinable
    package func withElement<R>(_ id: PacketID, _ body: (borrowing Element?) throws -> R) rethrows -> R {
        guard id.rawValue < UInt64(pages.count &* Self.pageSize) else { return try body(nil) }
        let raw = Int(truncatingIfNeeded: id.rawValue)
        let pageIndex = raw / Self.pageSize, cellIndex = raw % Self.pageSize
        guard pages[pageIndex].isPublished.load(ordering: .acquiring) else { return try body(nil) }
        return try pages[pageIndex].withValue { page in
            guard page[cellIndex].isPublished.load(ordering: .acquiring) else { return try body(nil) }
            return try page[cellIndex].withValue { packet in try body(packet) }
        }
    }
}
