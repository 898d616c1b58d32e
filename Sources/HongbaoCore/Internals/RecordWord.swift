/// A winner's record in one 64-bit word — `member << 32 | amount` — as the in-process engines store it. Zero means
/// "not yet written": every share is at least 1 fen, so no record is zero. The one place the encoding lives.
package struct RecordWord: RawRepresentable, Hashable, Sendable {
    package let rawValue: UInt64

    /// nil for 0, a record not yet written.
    @inline(__always) package init?(rawValue: UInt64) {
        guard rawValue != 0 else { return nil }
        self.rawValue = rawValue
    }

    /// - Precondition: 1 ≤ amount ≤ UInt32.max (the policy's cap keeps a share in 32 bits).
    @inline(__always) package init(member: MemberID, amount: Int64) {
        rawValue = UInt64(member.rawValue) << 32 | UInt64(UInt32(amount))
    }

    @inline(__always) package var member: MemberID { MemberID(UInt32(truncatingIfNeeded: rawValue >> 32)) }
    @inline(__always) package var amount: Fen { Fen(Int64(rawValue & 0xFFFF_FFFF)) }

    /// The record of the `index`-th (0-based) successful grab.
    package func record(index: Int) -> GrabRecord { GrabRecord(seq: index + 1, member: member, amount: amount) }
}
