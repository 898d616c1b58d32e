import Foundation
import HongbaoCore
import Synchronization

/// Issues packet ids without asking Redis: `tag << 51 | milliseconds << 10 | sequence` (see `RedisKey`).
///
/// Within a process the ids are strictly increasing: the millisecond is never earlier than the last one issued
/// (a wall clock that steps back does not take it back), and when 1,024 ids are issued in one millisecond the next
/// ones borrow the next millisecond. Each millisecond's sequence starts at a random point of its lower half, so two
/// processes issuing in the same millisecond rarely pick the same id; when they do, the send script refuses the
/// second (a packet is created only where none exists) and the engine issues it another. An id is therefore never
/// issued twice while its packet exists, and never again after: that would need a clock more than a packet's whole
/// life (its expiry plus `retention`) behind the one that issued it first.
final class PacketIDs: Sendable {
    static let epochMilliseconds: Int64 = 1_767_225_600_000   // 2026-01-01T00:00:00Z
    static let sequenceBits: UInt64 = 10

    private struct State {
        var milliseconds: UInt64 = 0
        var sequence: UInt64 = 0
        /// Tests only: a clock that stands still and a sequence that starts at 0, as two processes would see in
        /// the same millisecond.
        var pinned: UInt64?
    }

    private let state = AtomicLock(State())

    /// A new id for a packet whose group has hash tag `tag`.
    func next(tag: UInt64) -> PacketID {
        let (milliseconds, sequence) = state.withLock { state in
            let now = state.pinned ?? UInt64(max(0, WallPacketClock().nanoseconds / 1_000_000 - Self.epochMilliseconds))
            if now > state.milliseconds {
                state.milliseconds = now
                state.sequence = state.pinned != nil ? 0 : UInt64.random(in: 0 ..< (1 << (Self.sequenceBits - 1)))
            } else if state.sequence + 1 < 1 << Self.sequenceBits {
                state.sequence += 1
            } else {
                state.milliseconds += 1
                state.sequence = 0
            }
            return (state.milliseconds, state.sequence)
        }
        precondition(milliseconds < 1 << (RedisKey.tagShift - Self.sequenceBits), "packet ids run out in 2095")
        return PacketID(tag << RedisKey.tagShift | milliseconds << Self.sequenceBits | sequence)
    }

    #if DEBUG
    /// Tests only: from now on, every millisecond is `milliseconds` and its sequence starts at 0.
    func pin(at milliseconds: UInt64) {
        state.withLock { $0 = State(pinned: milliseconds) }
    }
    #endif
}
