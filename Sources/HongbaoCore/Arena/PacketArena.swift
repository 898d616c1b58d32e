#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The packet arena: every packet of an in-process engine as a run of atomic 64-bit words in raw memory,
/// addressed by packet id, so that a grab by id touches no reference-counted object — and each packet's memory
/// given back once its refund is recorded and its retention has passed.
///
/// Implementation notes.
/// - **Ids and slots.** A packet id is `generation << 32 | slot`. Slot `s`'s entry (the packet's address, 0 when
///   empty) is in slot page `s >> 16`, entry `s & 0xFFFF`; pages are created on demand in a fixed table of 2^16
///   pages, so 2^32 packets can be live at once and the only limit is memory. A slot whose packet is reclaimed is
///   reused (oldest freed first) under its next generation; a slot whose generation reaches 2^21 is never used again,
///   so ids stay below 2^53 (a JSON number every client reads exactly) and **no id is ever issued twice**. Each
///   packet's header holds its own id: a lookup checks it, so a stale id answers "unknown", never another packet.
/// - **Memory.** Each packet's words are one 64-byte aligned allocation, zeroed. Groups are stored **by content**:
///   a send hashes its group's members (the process's seeded `Hasher`), and shares the stored copy whose members
///   are equal (compared word by word, so a hash collision costs a comparison, never a wrong group); a group is
///   freed with its last packet. A small cache keyed by the identity of the caller's storage, which keeps that
///   storage alive (so it cannot change or be reused while cached), skips the hash for a group sent to again.
/// - **Retention and reclamation.** The engine tells the arena when a packet's refund is recorded; the packet is
///   kept `retention` longer (late callers hear its verdict), then unlinked (its slot cleared) and its memory
///   retired to the process's `EpochDomain`, which frees it once no grab can still be reading it (see there for
///   the argument). Reclamation is amortised over sends and refunds (a few packets each) and runs in full in
///   `takeDue` (the engines' `expireDue`); the epoch is advanced once per 64 retirements.
/// - **Deadlines.** Every live packet is in a min-heap by deadline, so `takeDue` hands each packet past its
///   deadline out once; the heap drops reclaimed packets when it grows to twice the live ones.
///
/// Who writes what: everything but the packets' words is under the growth lock (the send, refund and sweep paths,
/// never a grab). A send fills its packet's words outside the lock and publishes its address with a releasing
/// store; a reader pins, loads the slot page and the entry with acquiring loads, and checks the id, so everything
/// the sender wrote happens-before the grab.
///
/// Only this folder touches pointers: `PacketWords` is the one view of a packet's words, and every unchecked
/// access there states why its index is in bounds.
package final class PacketArena: @unchecked Sendable {
    // @unchecked Sendable: the slot tables are raw memory whose entries are atomics, written under the growth lock
    // and published by releasing stores before any reader can find them; `growth` is an `AtomicLock`, its state touched
    // only inside it; packet memory is freed only through the epoch domain (see the notes above).

    static let slotBits = 16
    static let slotsPerPage = 1 << slotBits
    static let maxPages = 1 << 16
    static let generationLimit: UInt32 = 1 << 21
    static let retireBatch = 64

    private let retention: Int64
    private let slotPages: UnsafeMutablePointer<Atomic<UInt>>   // address of each slot page, 0 until created
    private let lockPages: UnsafeMutablePointer<Atomic<UInt>>?  // per slot page, its slots' lock words
    private let epochs = EpochDomain.shared
    /// The house's lock (`AtomicLock`, which ThreadSanitizer sees): growth is rare and short.
    private let growth = AtomicLock(Growth())

    private struct Growth {
        var slotCount = 0
        var generations: [UInt32] = []            // per slot: the generation of its current or next packet
        var freeSlots = FIFO<UInt32>()
        var pages: [UnsafeMutablePointer<Atomic<UInt64>>] = []
        var lockPages: [UnsafeMutablePointer<Atomic<UInt32>>] = []
        var groupsByHash: [Int: [StoredGroup]] = [:]
        var groupsByAddress: [UInt: StoredGroup] = [:]
        var recentGroups: [GroupIdentity: (kept: Group, stored: StoredGroup)] = [:]
        var deadlines = DeadlineHeap()
        var refunds = FIFO<(at: Int64, id: PacketID)>()
        var retired = FIFO<(epoch: UInt64, address: UnsafeMutableRawPointer, bytes: Int)>()
        var retiredSinceAdvance = 0
        var live = 0
        var bytes = 0
        /// Every id issued so far (or restored) has a generation below this.
        var issuedFloor: UInt32 = 0
        /// New slots, and the free slots of a restored arena, start at this generation (see `finishRestore`).
        var generationFloor: UInt32 = 0
        /// While above 0, nothing is reclaimed (a journal's snapshot is reading every held packet).
        var reclamationHolds = 0
        /// Set by `finishRestore`: no more `restore`.
        var restoreFinished = false
        /// Between the first `restore` and `finishRestore`: refunds are queued in the order they are replayed,
        /// not of their times, so nothing is reclaimed until `finishRestore` has sorted them.
        var restoring = false
    }

    /// A group's members as stored: sorted, two 32-bit ids a word, shared by its packets.
    private final class StoredGroup {
        let words: UnsafeMutablePointer<Atomic<UInt64>>
        let count: Int
        let hash: Int
        var packets = 0
        var identity: GroupIdentity?
        init(words: UnsafeMutablePointer<Atomic<UInt64>>, count: Int, hash: Int) {
            self.words = words
            self.count = count
            self.hash = hash
        }
    }

    /// The identity of a caller's member storage (valid while the cache keeps that storage alive).
    private struct GroupIdentity: Hashable {
        let address: UInt
        let count: Int
    }

    /// An arena whose refunded packets are kept `retention` nanoseconds. With `locks`, each slot also gets a lock
    /// word (for `MutexEngine`), in pages beside the slots.
    package init(retention: Int64, locks: Bool = false) {
        precondition(retention >= 0, "a retention is ≥ 0")
        self.retention = retention
        slotPages = Self.zeroedTable(Self.maxPages)
        lockPages = locks ? Self.zeroedTable(Self.maxPages) : nil
    }

    /// Runs `body` on the growth state, holding its lock.
    private func withGrowth<R>(_ body: (inout Growth) throws -> R) rethrows -> R {
        try growth.withLock(body)
    }

    deinit {
        // No grab can run: grabs hold the engine, which holds the arena. Everything is freed now.
        withGrowth { growth in
            for (pageIndex, page) in growth.pages.enumerated() {
                for entry in 0 ..< Self.slotsPerPage where pageIndex * Self.slotsPerPage + entry < growth.slotCount {
                    let address = page[entry].load(ordering: .relaxed)
                    if address != 0 { UnsafeMutableRawPointer(bitPattern: UInt(address))!.deallocate() }
                }
                page.deinitialize(count: Self.slotsPerPage)
                UnsafeMutableRawPointer(page).deallocate()
            }
            for page in growth.lockPages {
                page.deinitialize(count: Self.slotsPerPage)
                page.deallocate()
            }
            for group in growth.groupsByAddress.values { UnsafeMutableRawPointer(group.words).deallocate() }
            while let retired = growth.retired.popFirst() { retired.address.deallocate() }
        }
        slotPages.deinitialize(count: Self.maxPages)
        slotPages.deallocate()
        if let lockPages {
            lockPages.deinitialize(count: Self.maxPages)
            lockPages.deallocate()
        }
    }

    // MARK: Sending

    /// Stores a packet for `plan` (whose `id` is ignored), publishes it under a new id, and reclaims a few packets
    /// whose retention has passed by `now`. - Throws: `GrabEngineError.capacityExhausted` with 2^32 packets live.
    package func insert(_ plan: PacketPlan, now: Int64) throws -> PacketID {
        let layout = PacketLayout(plan)
        let members = plan.recipient.map { Group(CollectionOfOne($0)) } ?? plan.group
        let bytes = Self.roundedBytes(layout.words)
        let packet = Self.allocateZeroed(bytes)
        let issued: (id: PacketID, members: UnsafeMutablePointer<Atomic<UInt64>>)? = withGrowth { growth in
            reclaim(upTo: 4, now: now, &growth)
            guard let slot = takeSlot(&growth) else { return nil }
            let id = PacketID(UInt64(growth.generations[slot]) << 32 | UInt64(slot))
            return (id, account(id, expiresAt: plan.expiresAt, members: members, bytes: bytes, &growth))
        }
        guard let issued else {
            packet.deallocate()
            throw GrabEngineError(.capacityExhausted, "this engine already holds 2^32 live packets")
        }
        publish(packet, layout: layout, plan: plan, id: issued.id, members: members, stored: issued.members)
        return issued.id
    }

    /// Books a new packet under the lock: its group, its deadline, the counts. - Returns: its group's stored members.
    private func account(_ id: PacketID, expiresAt: Int64, members: Group, bytes: Int, cached: Bool = true,
                         _ growth: inout Growth) -> UnsafeMutablePointer<Atomic<UInt64>>
    {
        let group = storedGroup(members, cached: cached, &growth)
        group.packets += 1
        growth.deadlines.push(expiresAt, id)
        growth.live += 1
        growth.bytes += bytes
        growth.issuedFloor = max(growth.issuedFloor, UInt32(truncatingIfNeeded: id.rawValue >> 32) + 1)
        return group.words
    }

    /// Writes the packet's words and publishes its address in its slot.
    private func publish(_ packet: UnsafeMutableRawPointer, layout: PacketLayout, plan: PacketPlan, id: PacketID,
                         members: Group, stored: UnsafeMutablePointer<Atomic<UInt64>>)
    {
        let words = packet.assumingMemoryBound(to: Atomic<UInt64>.self)
        PacketWords.initialize(words, layout: layout, plan: plan, id: id, group: members,
                               members: UInt64(UInt(bitPattern: stored)))
        // release: the packet's words are written before its address is published
        slotEntry(Int(id.rawValue & 0xFFFF_FFFF)).pointee.store(UInt64(UInt(bitPattern: words)), ordering: .releasing)
    }

    // MARK: Restoring (a journaled engine's recovery)

    /// Stores a packet for `plan` under the id it had before a restart, on an arena that has issued no id yet.
    /// Slots up to the id's are created; a packet of an older generation in the id's slot is evicted (it was
    /// reclaimed before this id was issued). - Throws: `JournalError.corrupt` for an id that cannot have been
    /// issued, or a slot whose packet is of this generation or a newer one.
    package func restore(_ plan: PacketPlan, as id: PacketID) throws(JournalError) {
        let slot = Int(truncatingIfNeeded: id.rawValue & 0xFFFF_FFFF)
        let generation = id.rawValue >> 32
        guard generation < UInt64(Self.generationLimit) else { throw .corrupt("\(id): no id has generation \(generation)") }
        guard slot < Self.maxPages * Self.slotsPerPage else { throw .corrupt("\(id): slot out of range") }
        let members = plan.recipient.map { Group(CollectionOfOne($0)) } ?? plan.group
        let layout = PacketLayout(plan)
        let bytes = Self.roundedBytes(layout.words)
        let stored: UnsafeMutablePointer<Atomic<UInt64>>? = withGrowth { growth in
            guard !growth.restoreFinished else { return nil }
            growth.restoring = true
            while growth.slotCount <= slot {
                if growth.slotCount % Self.slotsPerPage == 0 { createPage(growth.slotCount >> Self.slotBits, &growth) }
                growth.generations.append(0)
                growth.slotCount += 1
            }
            if let occupant = words(of: slot) {
                // An older generation in the slot was reclaimed before this id was issued (a slot's ids rise): a
                // snapshot read it before its reclamation, the journal after it has this id's send. Evict it.
                guard UInt64(growth.generations[slot]) < generation else { return nil }
                unlink(occupant.id, &growth)   // (its slot goes to the free list: `finishRestore` rebuilds that)
            }
            growth.generations[slot] = UInt32(generation)
            // Not cached by identity: every restored packet's members are an array of their own, read from the journal.
            return account(id, expiresAt: plan.expiresAt, members: members, bytes: bytes, cached: false, &growth)
        }
        guard let stored else { throw .corrupt("\(id) restored twice (or after recovery)") }
        publish(Self.allocateZeroed(bytes), layout: layout, plan: plan, id: id, members: members, stored: stored)
    }

    /// Ends a restore: every empty slot, and every slot created from now on, starts at generation
    /// `max(floor, every restored id's generation + 1)`, so no id issued before the restart is issued again —
    /// also ids whose packets have left the journal, which `floor` (a snapshot's) covers.
    package func finishRestore(generationFloor floor: UInt32) {
        withGrowth { growth in
            growth.restoreFinished = true
            growth.restoring = false
            // A snapshot's packets come in id order, the entries after it in time order, and a refund's time may
            // have been corrected since it was queued: queue each held packet's refund by the time it keeps.
            var refunds: [(at: Int64, id: PacketID)] = []
            while let queued = growth.refunds.popFirst() {
                if let packet = words(of: queued.id) { refunds.append((packet.refundedAt, queued.id)) }
            }
            growth.refunds = FIFO(refunds.sorted { $0.at < $1.at })
            growth.generationFloor = max(floor, growth.issuedFloor)
            growth.issuedFloor = growth.generationFloor
            growth.freeSlots = FIFO()
            for slot in 0 ..< growth.slotCount where slotEntry(slot).pointee.load(ordering: .relaxed) == 0 {
                growth.generations[slot] = max(growth.generations[slot], growth.generationFloor)
                if growth.generations[slot] < Self.generationLimit { growth.freeSlots.append(UInt32(slot)) }
            }
        }
    }

    /// The generation every id issued so far is below: what a snapshot records as its floor.
    package var issuedGenerationFloor: UInt32 { withGrowth { $0.issuedFloor } }

    /// The ids of every packet held now (live, or refunded and within its retention).
    package func heldIDs() -> [PacketID] {
        withGrowth { growth in
            (0 ..< growth.slotCount).compactMap { slot in
                // under the lock: nothing is unlinked or freed meanwhile
                let address = slotEntry(slot).pointee.load(ordering: .acquiring)
                guard let base = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: UInt(truncatingIfNeeded: address)) else { return nil }
                return PacketWords(base: base).id
            }
        }
    }

    /// Holds reclamation back until `releaseReclamation`: every packet held now is still held then (a journal's
    /// snapshot, from the position it covers until it has read every packet).
    package func holdReclamation() { withGrowth { $0.reclamationHolds += 1 } }

    /// Ends one `holdReclamation`.
    package func releaseReclamation() { withGrowth { $0.reclamationHolds -= 1 } }

    /// Reclaims every packet whose retention has passed by `now` (a journaled engine, once it has recovered).
    package func reclaimDue(now: Int64) { withGrowth { reclaim(upTo: .max, now: now, &$0) } }

    /// A free slot (the longest free first), or a new one. Nil when 2^32 slots are in use.
    private func takeSlot(_ growth: inout Growth) -> Int? {
        if let slot = growth.freeSlots.popFirst() { return Int(slot) }
        let slot = growth.slotCount
        guard slot < Self.maxPages * Self.slotsPerPage, growth.generationFloor < Self.generationLimit else { return nil }
        if slot % Self.slotsPerPage == 0 { createPage(slot >> Self.slotBits, &growth) }
        growth.generations.append(growth.generationFloor)
        growth.slotCount += 1
        return slot
    }

    /// The stored copy of `group`'s members: the cached one for the same storage, an equal one, or a new copy.
    private func storedGroup(_ group: Group, cached: Bool = true, _ growth: inout Growth) -> StoredGroup {
        let identity = group.members.withUnsafeBufferPointer {
            GroupIdentity(address: UInt(bitPattern: $0.baseAddress), count: $0.count)
        }
        if cached, let recent = growth.recentGroups[identity] { return recent.stored }
        var hasher = Hasher()
        hasher.combine(group.count)
        group.members.withUnsafeBufferPointer { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        let hash = hasher.finalize()
        let stored = growth.groupsByHash[hash, default: []].first { Self.holds($0, group) } ?? {
            let words = Self.allocateZeroed(Self.roundedBytes(PacketLayout.memberWords(group.count)))
                .assumingMemoryBound(to: Atomic<UInt64>.self)
            PacketWords.storeMembers(group, at: words)
            let stored = StoredGroup(words: words, count: group.count, hash: hash)
            growth.groupsByHash[hash, default: []].append(stored)
            growth.groupsByAddress[UInt(bitPattern: words)] = stored
            growth.bytes += Self.roundedBytes(PacketLayout.memberWords(group.count))
            return stored
        }()
        guard cached else { return stored }
        if growth.recentGroups.count >= 1024 {
            for entry in growth.recentGroups.values { entry.stored.identity = nil }
            growth.recentGroups.removeAll(keepingCapacity: true)
        }
        if let previous = stored.identity { growth.recentGroups[previous] = nil }
        stored.identity = identity
        growth.recentGroups[identity] = (group, stored)
        return stored
    }

    /// Whether `stored` holds exactly `group`'s members.
    private static func holds(_ stored: StoredGroup, _ group: Group) -> Bool {
        guard stored.count == group.count else { return false }
        return group.members.withUnsafeBufferPointer { members in
            for pair in 0 ..< members.count / 2 {
                // unchecked: pair < memberWords(count), the stored run's length; 2 pair + 1 < count
                let word = UInt64(members[2 * pair + 1].rawValue) << 32 | UInt64(members[2 * pair].rawValue)
                if stored.words[pair].load(ordering: .relaxed) != word { return false }   // relaxed: under the lock
            }
            guard members.count % 2 == 1 else { return true }
            let last = members.count / 2
            return stored.words[last].load(ordering: .relaxed) == PacketWords.memberPair(group, last)
        }
    }

    // MARK: Lookup (pinned)

    /// Runs `body` on packet `id`'s words, pinned so that they cannot be freed meanwhile. Lock-free and wait-free:
    /// a pin (no fence, see `EpochDomain`), two acquiring loads and the id check; no allocation.
    /// - Throws: `GrabEngineError.unknownPacket` if no packet has this id now (never sent, or reclaimed).
    @inline(__always)
    func withPacket<R>(_ id: PacketID, _ body: (PacketWords) throws -> R) throws -> R {
        let pin = epochs.pin()
        defer { epochs.unpin(pin) }
        guard let words = words(of: id) else {
            throw GrabEngineError(.unknownPacket, "no \(id) in this engine (never sent, or reclaimed after its retention)")
        }
        return try body(words)
    }

    /// Whether a packet has this id now.
    package func contains(_ id: PacketID) -> Bool {
        let pin = epochs.pin()
        defer { epochs.unpin(pin) }
        return words(of: id) != nil
    }

    /// The words of packet `id`, or nil. The caller is pinned (or holds the growth lock).
    @inline(__always)
    private func words(of id: PacketID) -> PacketWords? {
        let slot = Int(truncatingIfNeeded: id.rawValue & 0xFFFF_FFFF)
        let page = slotPages[slot >> Self.slotBits].load(ordering: .acquiring)  // acquire: the page was zeroed first
        guard page != 0 else { return nil }
        // unchecked: slot & 0xFFFF < slotsPerPage, the page's length
        let address = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: page)![slot & (Self.slotsPerPage - 1)]
            .load(ordering: .acquiring)  // acquire: pairs with insert's release; the words were written before
        guard let base = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: UInt(truncatingIfNeeded: address)) else { return nil }
        let words = PacketWords(base: base)
        return words.id == id ? words : nil
    }

    /// The lock word of packet `id`'s slot (an arena made with `locks: true`, and an id that `withPacket` found).
    /// A slot's lock outlives its packets: a stale grab that locks it then finds its packet gone or retained.
    private func lock(of id: PacketID) -> UnsafeMutablePointer<Atomic<UInt32>> {
        let slot = Int(truncatingIfNeeded: id.rawValue & 0xFFFF_FFFF)
        // relaxed: the lock page was created before the packet's address was published, and the caller acquired that
        let page = lockPages![slot >> Self.slotBits].load(ordering: .relaxed)
        return UnsafeMutablePointer<Atomic<UInt32>>(bitPattern: page)! + (slot & (Self.slotsPerPage - 1))
    }

    /// Runs `body` holding the lock of packet `id`'s slot: one word, taken by an acquiring compare-exchange and
    /// given back by a releasing store; a waiter spins briefly, then yields its processor — `AtomicLock`'s
    /// algorithm, which ThreadSanitizer sees (it does not see `Synchronization.Mutex`'s futex on Linux). Measured
    /// against that `Mutex` in one sitting: Benchmarks/README.md, "The mutex engine's lock".
    @inline(__always)
    func withLock<R>(of id: PacketID, _ body: () -> R) -> R {
        let word = lock(of: id)
        // acquire: pairs with the unlock's release; what the last holder wrote is seen
        while !word.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged { spinWait() }
        defer { word.pointee.store(0, ordering: .releasing) }
        return body()
    }

    // MARK: Refunds, deadlines, reclamation

    /// Records that packet `id`'s refund was made at `now` (once per packet, by the engine that made it): it is
    /// reclaimed once `retention` has passed. Reclaims a few packets already due.
    package func noteRefunded(_ id: PacketID, at now: Int64) {
        withGrowth { growth in
            growth.refunds.append((now, id))
            words(of: id)?.storeRefundedAt(now)   // under the lock: the packet cannot be reclaimed meanwhile
            if !growth.restoring { reclaim(upTo: 4, now: now, &growth) }
        }
    }

    /// Packet `id`'s refund time as the arena keeps it (0 before `noteRefunded`; nil once reclaimed).
    package func refundTime(of id: PacketID) -> Int64? {
        try? withPacket(id) { $0.refundedAt }
    }

    /// Corrects packet `id`'s refund time to `at` (a journal's entry, replayed over a snapshot that read the
    /// packet before its time was noted): `finishRestore` queues the packet's retention from it.
    package func correctRefundTime(_ id: PacketID, to at: Int64) {
        withGrowth { _ in words(of: id)?.storeRefundedAt(at) }
    }

    /// The packets whose deadline is ≤ `now`, each handed out once over the arena's life, and every packet whose
    /// retention has passed reclaimed.
    package func takeDue(now: Int64) -> [PacketID] {
        withGrowth { growth in
            var due: [PacketID] = []
            while let next = growth.deadlines.first, next.expiresAt <= now {
                growth.deadlines.removeFirst()
                if words(of: next.id) != nil { due.append(next.id) }   // under the lock: reclaim cannot run
            }
            reclaim(upTo: .max, now: now, &growth)
            return due
        }
    }

    /// Packets live (sent and not yet reclaimed).
    package var livePackets: Int { withGrowth { $0.live } }

    /// Bytes of packet and group memory allocated (live, retained, and retired but not yet freed).
    package var bytesUsed: Int { withGrowth { $0.bytes } }

    /// Reclaims up to `limit` packets whose retention has passed by `now`, then frees what no grab can read.
    private func reclaim(upTo limit: Int, now: Int64, _ growth: inout Growth) {
        guard growth.reclamationHolds == 0 else { return }
        let cutoff = now >= Int64.min + retention ? now - retention : Int64.min   // refunds at or before it are due
        var done = 0
        while done < limit, let next = growth.refunds.first, next.at <= cutoff {
            _ = growth.refunds.popFirst()
            unlink(next.id, &growth)
            done += 1
        }
        if growth.retiredSinceAdvance >= Self.retireBatch || (limit == .max && !growth.retired.isEmpty) {
            growth.retiredSinceAdvance = 0
            epochs.advance()
            let now = epochs.current
            while let oldest = growth.retired.first, oldest.epoch + 2 <= now {
                _ = growth.retired.popFirst()
                oldest.address.deallocate()
                growth.bytes -= oldest.bytes
            }
        }
        if growth.deadlines.count > 2 * growth.live + 1024 {
            growth.deadlines.keepOnly { words(of: $0) != nil }   // under the lock: the memory is valid
        }
    }

    /// The packet in `slot`, if any. Under the lock.
    private func words(of slot: Int) -> PacketWords? {
        let address = slotEntry(slot).pointee.load(ordering: .relaxed)   // relaxed: under the lock
        return UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: UInt(truncatingIfNeeded: address)).map(PacketWords.init(base:))
    }

    /// Clears packet `id`'s slot, retires its memory (and its group's, if it was the group's last packet), and frees
    /// the slot for its next generation.
    private func unlink(_ id: PacketID, _ growth: inout Growth) {
        guard let packet = words(of: id) else { return }
        let slot = Int(truncatingIfNeeded: id.rawValue & 0xFFFF_FFFF)
        slotEntry(slot).pointee.store(0, ordering: .releasing)  // release: ordered before the retire below
        let epoch = epochs.current   // after the unlink: see EpochDomain
        let bytes = Self.roundedBytes(PacketLayout(memberCount: packet.memberCount, shares: packet.shares).words)
        growth.retired.append((epoch, packet.rawBase, bytes))
        growth.retiredSinceAdvance += 1
        if let group = growth.groupsByAddress[UInt(truncatingIfNeeded: packet.memberAddress)] {
            group.packets -= 1
            if group.packets == 0 {
                growth.groupsByAddress[UInt(bitPattern: group.words)] = nil
                growth.groupsByHash[group.hash]?.removeAll { $0 === group }
                if growth.groupsByHash[group.hash]?.isEmpty == true { growth.groupsByHash[group.hash] = nil }
                if let identity = group.identity { growth.recentGroups[identity] = nil }
                growth.retired.append((epoch, UnsafeMutableRawPointer(group.words),
                                       Self.roundedBytes(PacketLayout.memberWords(group.count))))
            }
        }
        growth.live -= 1
        growth.generations[slot] += 1
        if growth.generations[slot] < Self.generationLimit { growth.freeSlots.append(UInt32(slot)) }
    }

    // MARK: Memory

    private func slotEntry(_ slot: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        // relaxed: the page was published before any of its slots' ids was issued, under the lock or by a release
        let page = slotPages[slot >> Self.slotBits].load(ordering: .relaxed)
        // unchecked: slot & 0xFFFF < slotsPerPage
        return UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: page)! + (slot & (Self.slotsPerPage - 1))
    }

    /// Creates slot page `index` (and its lock words). Called under the growth lock.
    private func createPage(_ index: Int, _ growth: inout Growth) {
        let page = Self.allocateZeroed(Self.slotsPerPage * 8).assumingMemoryBound(to: Atomic<UInt64>.self)
        growth.pages.append(page)
        if let lockPages {
            let locks = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: Self.slotsPerPage)
            for entry in 0 ..< Self.slotsPerPage { (locks + entry).initialize(to: Atomic(0)) }
            growth.lockPages.append(locks)
            lockPages[index].store(UInt(bitPattern: locks), ordering: .releasing)
        }
        slotPages[index].store(UInt(bitPattern: page), ordering: .releasing)  // release: the page is zeroed first
    }

    /// Bytes for `words` words in whole cache lines: no packet shares a line with another.
    private static func roundedBytes(_ words: Int) -> Int { (words + 7) / 8 * 64 }

    /// `bytes` bytes (a multiple of 8), 64-byte aligned, as zeroed atomic words.
    private static func allocateZeroed(_ bytes: Int) -> UnsafeMutableRawPointer {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let words = raw.bindMemory(to: Atomic<UInt64>.self, capacity: bytes / 8)
        for index in 0 ..< bytes / 8 { (words + index).initialize(to: Atomic(0)) }
        return raw
    }

    private static func zeroedTable(_ count: Int) -> UnsafeMutablePointer<Atomic<UInt>> {
        let table = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: count)
        for index in 0 ..< count { (table + index).initialize(to: Atomic(0)) }
        return table
    }
}
