import Synchronization

/// A fixed number of `Atomic<UInt64>` words, addressed by index: the per-packet state of the racy (classroom)
/// engine. The production engines keep theirs in the packet arena (`Arena/`).
///
/// Implementation notes: `Atomic` is not copyable, so it cannot live in an `Array`. Words are grouped in blocks of
/// 16 (128 bytes, two cache lines) held inline in small final classes; the array of blocks is immutable after
/// `init`, so concurrent readers never race on it. Word `i` is in block `i / 16`, slot `i % 16`.
/// Every word starts at zero. Nothing here orders memory by itself: callers spell the ordering of each access.
package final class AtomicWords: Sendable {
    @usableFromInline static let blockSize = 16

    @usableFromInline
    final class Block: Sendable {
        @usableFromInline let words: InlineArray<16, Atomic<UInt64>>
        init() { words = InlineArray { _ in Atomic<UInt64>(0) } }
    }

    @usableFromInline let blocks: [Block]
    package let count: Int

    /// `count` words, all zero.
    package init(count: Int) {
        precondition(count >= 0, "AtomicWords(count:) needs a count ≥ 0")
        self.count = count
        self.blocks = (0 ..< (count + Self.blockSize - 1) / Self.blockSize).map { _ in Block() }
    }

    // One method per operation and ordering: an ordering must be a literal at the `Atomic` call, and a `_read`
    // accessor yielding the word is not inlined (a coroutine call per access on the grab path).

    @inlinable package func loadAcquiring(_ index: Int) -> UInt64 {
        blocks[index &>> 4].words[index & 15].load(ordering: .acquiring)
    }

    @inlinable package func storeReleasing(_ value: UInt64, at index: Int) {
        blocks[index &>> 4].words[index & 15].store(value, ordering: .releasing)
    }

    /// Sets `bits` in word `index`, acquiring and releasing; returns the word as it was.
    @inlinable package func bitwiseOrAcquiringAndReleasing(_ bits: UInt64, at index: Int) -> UInt64 {
        blocks[index &>> 4].words[index & 15].bitwiseOr(bits, ordering: .acquiringAndReleasing).oldValue
    }

    /// Adds `value` to word `index`, acquiring and releasing; returns the word as it was.
    @inlinable package func wrappingAddAcquiringAndReleasing(_ value: UInt64, at index: Int) -> UInt64 {
        blocks[index &>> 4].words[index & 15].wrappingAdd(value, ordering: .acquiringAndReleasing).oldValue
    }
}
