#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHongbaoArena
import Synchronization

/// Epoch-based reclamation (Fraser, "Practical lock-freedom", 2004; as crossbeam-epoch): memory that a grab may
/// still be reading — it holds addresses, not references — is freed only once no grab can be reading it.
///
/// Implementation notes. One domain per process (`shared`), as crossbeam's default collector. State:
/// - the global epoch, an even-stepping counter (`advance` moves it by one), written only by `advance`;
/// - one record per thread that has ever pinned (a 64-byte line each, so pins never share a line), found through
///   a C thread-local and given back when the thread exits (a pthread key's destructor); its word is 0 when the thread is not pinned, else
///   `epoch << 1 | 1`, the epoch it read when it pinned. Only its thread writes it; `advance` reads every record.
///
/// A reader `pin`s (reads the global epoch, acquiring; stores it in its record, releasing), reads packet memory,
/// and `unpin`s (stores 0, releasing). An arena unlinks a packet (clears its slot) and then retires its memory
/// with the epoch current after the unlink; it frees memory retired at epoch e once the global epoch is e + 2.
/// `advance` moves the epoch from G to G + 1 only when every pinned record shows G.
///
/// Why that is safe. Let a grab hold packet P, retired at epoch e after P was unlinked. The grab read P's slot
/// before the unlink, and pinned before that, so it pinned at an epoch ≤ e (its epoch read, acquiring, sees no
/// epoch stored after the unlink, because each advance stores the epoch with release ordering after the arena's
/// unlink). P is freed at e + 2, which needs an advance from e + 1, which needs every pinned record to show e + 1:
/// our grab's record shows ≤ e until it unpins. The one gap is a pin that `advance` cannot see yet (still in the
/// pinning core's store buffer): a store followed by a load needs a full fence between them (Dekker). Here the
/// reader pays no fence: `advance` calls `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` before it reads the
/// records, which runs a full barrier on every core running one of our threads (the heavy side of an asymmetric
/// fence, as liburcu's `memb` flavour and folly's `asymmetricHeavyBarrier`). After it, either the pin is visible,
/// or the pin comes later in that thread's order than the barrier — and then so does the slot load that follows
/// it, which sees the unlink (stored before the barrier) and never reaches P. The reader's side is a compiler
/// barrier, so the compiler keeps its pin before its loads. Where `membarrier` is missing (not Linux, or refused by
/// a sandbox), each pin is followed by a sequentially consistent fence instead, and `advance` fences too.
///
/// Cost. A pin is a thread-local load, one acquiring load, one store to the thread's own line; no
/// read-modify-write, no fence, no allocation. Pins do not nest: the arena pins only around one packet's words and
/// calls nothing that pins again.
///
/// Not guaranteed: a thread pinned for a long time (a grab descheduled mid-way) holds back every arena's frees
/// until it unpins; memory waits, it is never freed early. Records are never freed (one line per thread that ever
/// pinned at the same time as others, reused after a thread exits).
final class EpochDomain: @unchecked Sendable {
    // @unchecked Sendable: the records are atomics in raw memory; the record table grows under `freeRecords`' lock
    // and is published by releasing stores of its count; the free list is touched only under that lock.

    static let shared = EpochDomain()

    private let epoch = Atomic<UInt64>(2)
    /// Whether `advance` makes readers' pins visible with `membarrier` (readers then need no fence).
    let asymmetric: Bool
    private static let recordsPerBlock = 64
    private static let maxBlocks = 4096
    private static let recordWords = 8        // one cache line
    private let blocks: UnsafeMutablePointer<Atomic<UInt>>   // address of each block of records, 0 until created
    private let blockCount = Atomic<Int>(0)
    /// The records no thread holds, under the house's lock (`AtomicLock`, which ThreadSanitizer sees).
    private let freeRecords = AtomicLock<[UInt]>([])
    /// Only for its destructor, which gives a thread's record back when the thread exits (pins find the record
    /// through the C thread-local).
    private let key: pthread_key_t

    private init() {
        asymmetric = hb_membarrier_register() == 0
        blocks = .allocate(capacity: Self.maxBlocks)
        for index in 0 ..< Self.maxBlocks { (blocks + index).initialize(to: Atomic(0)) }
        // When a thread exits, its record is unpinned and given to the next thread that pins.
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { record in
            guard let record else { return }
            EpochDomain.shared.giveBack(UInt(bitPattern: record))
        }
        precondition(created == 0, "pthread_key_create failed (\(created)): no key for the packet arena's epochs")
        self.key = key
    }

    /// The epoch now (acquiring: see the notes).
    var current: UInt64 { epoch.load(ordering: .acquiring) }

    /// A pinned section: `unpin` it on every path.
    struct Pin {
        fileprivate let record: UnsafeMutablePointer<Atomic<UInt64>>
    }

    /// Pins the calling thread: memory it reaches from an arena's slots until `unpin` is not freed. Lock-free.
    @inline(__always)
    func pin() -> Pin {
        let record = threadRecord()
        let now = epoch.load(ordering: .acquiring)   // acquire: an epoch seen implies the unlinks stored before it
        record.pointee.store(now << 1 | 1, ordering: .releasing)   // release: our earlier sections precede it
        if asymmetric {
            hb_compiler_barrier()   // the pin before the loads; `advance`'s membarrier orders it on the processor
        } else {
            atomicMemoryFence(ordering: .sequentiallyConsistent)   // StoreLoad: the pin before the loads
        }
        return Pin(record: record)
    }

    /// Ends a pinned section. Wait-free: one store.
    @inline(__always)
    func unpin(_ pin: Pin) {
        pin.record.pointee.store(0, ordering: .releasing)   // release: the section's reads precede the unpin
    }

    /// Moves the epoch on by one if every pinned thread shows the current one. Not on the grab path: arenas call it
    /// under their lock, once per batch of retired memory. - Returns: the epoch now.
    @discardableResult
    func advance() -> UInt64 {
        let now = epoch.load(ordering: .acquiring)
        if !asymmetric || hb_membarrier_private_expedited() != 0 {
            atomicMemoryFence(ordering: .sequentiallyConsistent)   // StoreLoad: our unlinks before the records' loads
        }
        let count = blockCount.load(ordering: .acquiring)   // acquire: a block is initialised before it is counted
        for block in 0 ..< count {
            let records = recordBlock(block)
            for index in 0 ..< Self.recordsPerBlock {
                let state = records[index * Self.recordWords].load(ordering: .acquiring)  // acquire: pairs with unpin
                if state != 0 && state >> 1 != now { return now }
            }
        }
        _ = epoch.compareExchange(expected: now, desired: now + 1, ordering: .acquiringAndReleasing)
        return epoch.load(ordering: .acquiring)
    }

    // MARK: Records

    @inline(__always)
    private func threadRecord() -> UnsafeMutablePointer<Atomic<UInt64>> {
        if let raw = hb_thread_record() { return raw.assumingMemoryBound(to: Atomic<UInt64>.self) }
        return register()
    }

    private func recordBlock(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        // relaxed: the caller acquired the count that published this block
        UnsafeMutablePointer(bitPattern: blocks[index].load(ordering: .relaxed))!
    }

    private func register() -> UnsafeMutablePointer<Atomic<UInt64>> {
        let address = freeRecords.withLock { free -> UInt in
            if free.isEmpty {
                let count = blockCount.load(ordering: .relaxed)   // relaxed: written only under the lock we hold
                precondition(count < Self.maxBlocks, "more than \(Self.maxBlocks * Self.recordsPerBlock) threads pinned the packet arena")
                let words = Self.recordsPerBlock * Self.recordWords
                let block = UnsafeMutableRawPointer.allocate(byteCount: words * 8, alignment: 64)
                    .bindMemory(to: Atomic<UInt64>.self, capacity: words)
                for index in 0 ..< words { (block + index).initialize(to: Atomic(0)) }
                blocks[count].store(UInt(bitPattern: block), ordering: .relaxed)
                blockCount.store(count + 1, ordering: .releasing)   // release: the block is zeroed and stored first
                // unchecked: each index < recordsPerBlock, so each record is inside the block
                free = (0 ..< Self.recordsPerBlock).reversed().map { UInt(bitPattern: block + $0 * Self.recordWords) }
            }
            return free.removeLast()
        }
        let record = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: address)!
        pthread_setspecific(key, UnsafeMutableRawPointer(record))   // for the destructor at the thread's exit
        hb_set_thread_record(UnsafeMutableRawPointer(record))
        return record
    }

    private func giveBack(_ address: UInt) {
        UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: address)!.pointee.store(0, ordering: .releasing)
        freeRecords.withLock { $0.append(address) }
    }
}
