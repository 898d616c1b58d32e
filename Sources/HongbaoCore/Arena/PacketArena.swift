#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The packet arena: every packet of an in-process engine as a run of atomic 64-bit words in raw memory,
/// addressed by packet id, so that a grab by id touches no reference-counted object.
///
/// Implementation notes. Memory comes in chunks of at least 4 MiB (`Atomic<UInt64>` words, zeroed, 64-byte
/// aligned), carved by a bump allocator; chunks never move. Ids are dense (`0, 1, 2, …`): the address of packet
/// `id`'s first word sits in index page `id / 4096`, entry `id % 4096` (0 until published), and a packet's header
/// holds the address of its group's members — so a grab reaches both with three dependent loads and no table.
/// (Measured: chunk-relative locations, resolved through the chunk table, cost two more dependent loads a grab;
/// addresses took one thread on many packets from 50 to 55 M grabs/s.)
/// The chunk table and the page table are fixed arrays allocated with the arena, so readers never race on a
/// growing structure.
///
/// Who writes what: `insert` takes `growthLock` (on the send path only) to issue the id, create the index page
/// or a chunk if needed, copy a group's members the first time the group is seen, and carve the packet's words;
/// then, outside the lock, it fills the packet's words and publishes its address with a releasing store. A
/// reader (`words(of:)`) loads the page and the entry with acquiring loads, so everything the sender wrote
/// happens-before the grab. Table entries are written once and never change; nothing is freed before `deinit`.
///
/// A group is stored once however many packets it receives (the simulator sends thousands of packets to the
/// same chat group): groups are recognised by the identity of their storage, which the arena keeps alive.
///
/// Not guaranteed: memory is never reclaimed packet by packet — an engine is rotated, not swept (as before).
/// Only this folder touches pointers: `PacketWords` is the one view of a packet's words, and every unchecked
/// access there states why its index is in bounds.
package final class PacketArena: @unchecked Sendable {
    // @unchecked Sendable: the tables and chunks are raw memory whose entries are atomics, written once under
    // `growthLock` and published by releasing stores before any reader can find them (see the notes above);
    // `growthState` is only touched under `growthLock`.

    package let capacity: Int
    private let pageCount: Int
    private let pageTable: UnsafeMutablePointer<Atomic<UInt>>     // address of each index page, 0 until created
    private let chunkTable: UnsafeMutablePointer<Atomic<UInt>>    // address of each chunk, 0 until created
    private let lockPages: UnsafeMutablePointer<Atomic<UInt>>?    // per index page, its packets' mutexes
    /// A pthread mutex rather than `Synchronization.Mutex`: ThreadSanitizer sees pthread locks (it does not see
    /// `Mutex`'s futex on Linux), and the contention tests send from several threads under it.
    private let growthLock: UnsafeMutablePointer<pthread_mutex_t>
    private var growthState = Growth()

    static let idsPerPage = 4096
    static let chunkWords = 1 << 19   // 4 MiB
    static let maxChunks = 1 << 16
    static let offsetBits: UInt64 = 40

    private struct Growth {
        var nextID = 0
        var chunks: [(address: UnsafeMutablePointer<Atomic<UInt64>>, words: Int)] = []
        var used = 0                        // words used in the last chunk
        var groups: [GroupKey: UInt64] = [:]   // a group's storage → the location of its copied members
        var keptAlive: [Group] = []         // so that no key's storage is freed and reused
        var pages: [UnsafeMutablePointer<Atomic<UInt64>>] = []
        var locks: [UnsafeMutablePointer<Mutex<Void>>] = []
    }

    /// Identity of a group's member storage: its base address and count.
    private struct GroupKey: Hashable {
        let address: UInt
        let count: Int
    }

    /// An arena for up to `capacity` packets over its life. With `locks`, each packet also gets a `Mutex`
    /// (for `MutexEngine`), in pages beside the index.
    package init(capacity: Int, locks: Bool = false) {
        precondition(capacity > 0, "an arena needs a capacity ≥ 1")
        self.capacity = capacity
        pageCount = (capacity + Self.idsPerPage - 1) / Self.idsPerPage
        pageTable = Self.zeroedTable(pageCount)
        chunkTable = Self.zeroedTable(Self.maxChunks)
        lockPages = locks ? Self.zeroedTable(pageCount) : nil
        growthLock = .allocate(capacity: 1)
        growthLock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(growthLock, nil)
    }

    /// Runs `body` on the growth state, holding `growthLock`.
    private func withGrowth<R>(_ body: (inout Growth) throws -> R) rethrows -> R {
        pthread_mutex_lock(growthLock)
        defer { pthread_mutex_unlock(growthLock) }
        return try body(&growthState)
    }

    deinit {
        withGrowth { growth in
            for (address, words) in growth.chunks {
                address.deinitialize(count: words)
                UnsafeMutableRawPointer(address).deallocate()
            }
            for page in growth.pages {
                page.deinitialize(count: Self.idsPerPage)
                UnsafeMutableRawPointer(page).deallocate()
            }
            for page in growth.locks {
                page.deinitialize(count: Self.idsPerPage)
                page.deallocate()
            }
        }
        pthread_mutex_destroy(growthLock)
        growthLock.deinitialize(count: 1)
        growthLock.deallocate()
        pageTable.deinitialize(count: pageCount)
        pageTable.deallocate()
        chunkTable.deinitialize(count: Self.maxChunks)
        chunkTable.deallocate()
        if let lockPages {
            lockPages.deinitialize(count: pageCount)
            lockPages.deallocate()
        }
    }

    // MARK: Sending

    /// Stores a packet for `plan` (whose `id` is ignored) and publishes it under a new id.
    /// - Throws: `GrabEngineError.capacityExhausted` when every id is used.
    package func insert(_ plan: PacketPlan) throws -> PacketID {
        let layout = PacketLayout(plan)
        let members = plan.recipient.map { Group(CollectionOfOne($0)) } ?? plan.group
        let carved: (id: Int, packet: UInt64, members: UInt64)? = withGrowth { growth in
            guard growth.nextID < capacity else { return nil }
            let id = growth.nextID
            growth.nextID += 1
            if id % Self.idsPerPage == 0 { createPage(id / Self.idsPerPage, &growth) }
            // An exclusive packet's one-member group is its own; a group is shared by identity of its storage.
            let key = plan.recipient != nil ? nil : members.members.withUnsafeBufferPointer {
                GroupKey(address: UInt(bitPattern: $0.baseAddress), count: $0.count)
            }
            let memberLocation: UInt64
            if let key, let known = growth.groups[key] {
                memberLocation = known
            } else {
                memberLocation = carve(PacketLayout.memberWords(members.count), &growth)
                PacketWords.storeMembers(members, at: pointer(memberLocation))
                if let key {
                    growth.groups[key] = memberLocation
                    growth.keptAlive.append(members)
                }
            }
            return (id, carve(layout.words, &growth), memberLocation)
        }
        guard let carved else {
            throw GrabEngineError(.capacityExhausted, "this engine holds at most \(capacity) packets")
        }
        let packet = pointer(carved.packet)
        PacketWords.initialize(packet, layout: layout, plan: plan, group: members,
                               members: UInt64(UInt(bitPattern: pointer(carved.members))))
        let page = Int(pageTable[carved.id / Self.idsPerPage].load(ordering: .relaxed))  // relaxed: written by us, or before our id was issued under the lock
        let entries = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: page)!
        // release: the packet's words are written before its address is published
        entries[carved.id % Self.idsPerPage].store(UInt64(UInt(bitPattern: packet)), ordering: .releasing)
        return PacketID(UInt64(carved.id))
    }

    /// The words of packet `id`, or nil if no such packet was published. Lock-free, wait-free: two acquiring loads.
    @inline(__always)
    func words(of id: PacketID) -> PacketWords? {
        guard id.rawValue < UInt64(capacity) else { return nil }
        let raw = Int(truncatingIfNeeded: id.rawValue)
        let page = pageTable[raw / Self.idsPerPage].load(ordering: .acquiring)  // acquire: the page was zeroed before
        guard page != 0 else { return nil }
        // unchecked: raw % idsPerPage < idsPerPage, the page's length
        let address = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: page)![raw % Self.idsPerPage]
            .load(ordering: .acquiring)  // acquire: pairs with insert's release; the words were written before
        guard let base = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: UInt(truncatingIfNeeded: address)) else { return nil }
        return PacketWords(base: base, members: UnsafeMutablePointer(bitPattern: UInt(truncatingIfNeeded: PacketWords.memberAddress(base)))!)
    }

    /// The words of packet `id`. - Throws: `GrabEngineError.unknownPacket` if no such packet was published.
    @inline(__always)
    func packet(_ id: PacketID) throws -> PacketWords {
        guard let words = words(of: id) else { throw GrabEngineError(.unknownPacket, "no \(id) in this engine") }
        return words
    }

    /// The mutex of packet `id` (an arena made with `locks: true`, and an id that `words(of:)` found).
    func lock(of id: PacketID) -> UnsafeMutablePointer<Mutex<Void>> {
        let raw = Int(truncatingIfNeeded: id.rawValue)
        // relaxed: the lock page was created before the packet's address was published, and the caller acquired that
        let page = lockPages![raw / Self.idsPerPage].load(ordering: .relaxed)
        return UnsafeMutablePointer<Mutex<Void>>(bitPattern: page)! + raw % Self.idsPerPage
    }

    /// Runs `body` holding the mutex of packet `id`.
    @inline(__always)
    func withLock<R>(of id: PacketID, _ body: () -> R) -> R {
        lock(of: id).pointee.withLock { _ in body() }
    }


    /// Bytes of arena memory in use (packets and group copies), for reports.
    package var bytesUsed: Int {
        withGrowth { growth in
            (growth.chunks.dropLast().reduce(0) { $0 + $1.words } + growth.used) * MemoryLayout<UInt64>.stride
        }
    }

    // MARK: Memory

    @inline(__always)
    private func pointer(_ location: UInt64) -> UnsafeMutablePointer<Atomic<UInt64>> {
        // relaxed: a chunk's address is stored before any location in it is published, and readers acquired that
        let chunk = chunkTable[Int(location >> Self.offsetBits) - 1].load(ordering: .relaxed)
        return UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: chunk)! + Int(location & (1 << Self.offsetBits - 1))
    }

    /// `words` zeroed words, 64-byte aligned, from the last chunk or a new one. Called under `growthLock`.
    private func carve(_ words: Int, _ growth: inout Growth) -> UInt64 {
        let rounded = (words + 7) & ~7   // whole cache lines: no packet shares a line with another
        if growth.chunks.isEmpty || growth.used + rounded > growth.chunks[growth.chunks.count - 1].words {
            precondition(growth.chunks.count < Self.maxChunks, "the packet arena is out of chunks")
            let size = max(Self.chunkWords, rounded)
            let raw = UnsafeMutableRawPointer.allocate(byteCount: size * 8, alignment: 64)
            let address = raw.bindMemory(to: Atomic<UInt64>.self, capacity: size)
            for index in 0 ..< size { (address + index).initialize(to: Atomic(0)) }
            growth.chunks.append((address, size))
            growth.used = 0
            chunkTable[growth.chunks.count - 1].store(UInt(bitPattern: address), ordering: .releasing)
        }
        let location = UInt64(growth.chunks.count) << Self.offsetBits | UInt64(growth.used)
        growth.used += rounded
        return location
    }

    /// Creates index page `index` (and its mutexes). Called under `growthLock`.
    private func createPage(_ index: Int, _ growth: inout Growth) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Self.idsPerPage * 8, alignment: 64)
        let page = raw.bindMemory(to: Atomic<UInt64>.self, capacity: Self.idsPerPage)
        for entry in 0 ..< Self.idsPerPage { (page + entry).initialize(to: Atomic(0)) }
        growth.pages.append(page)
        if let lockPages {
            let locks = UnsafeMutablePointer<Mutex<Void>>.allocate(capacity: Self.idsPerPage)
            for entry in 0 ..< Self.idsPerPage { (locks + entry).initialize(to: Mutex(())) }
            growth.locks.append(locks)
            lockPages[index].store(UInt(bitPattern: locks), ordering: .releasing)
        }
        pageTable[index].store(UInt(bitPattern: page), ordering: .releasing)  // release: the page is zeroed first
    }

    private static func zeroedTable(_ count: Int) -> UnsafeMutablePointer<Atomic<UInt>> {
        let table = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: count)
        for index in 0 ..< count { (table + index).initialize(to: Atomic(0)) }
        return table
    }
}
