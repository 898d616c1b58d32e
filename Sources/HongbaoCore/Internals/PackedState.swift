/// A packet's remaining count and balance, and whether it is closed, packed in one 64-bit word so that one
/// compare-and-swap takes a share: bit 63 closed, bits 40–62 the remaining count, bits 0–39 the balance in fen.
/// `PacketPolicy` keeps counts below 2^23 and totals below 2^40.
package struct PackedState: RawRepresentable, Hashable, Sendable {
    package var rawValue: UInt64

    @inlinable package init(rawValue: UInt64) { self.rawValue = rawValue }

    @inlinable
    package init(remaining: Int, balance: Int64, closed: Bool = false) {
        rawValue = (closed ? 1 << 63 : 0) | UInt64(remaining) << 40 | UInt64(balance)
    }

    @inlinable package var closed: Bool { rawValue >> 63 != 0 }
    @inlinable package var remaining: Int { Int((rawValue >> 40) & 0x7F_FFFF) }
    @inlinable package var balance: Int64 { Int64(rawValue & 0xFF_FFFF_FFFF) }

    /// The state after a share of `amount` is taken.
    @inlinable package func taking(_ amount: Int64) -> PackedState {
        PackedState(rawValue: rawValue - (1 << 40) - UInt64(amount))
    }

    /// The same state, closed: the balance is the refund.
    @inlinable package var closing: PackedState { PackedState(rawValue: rawValue | 1 << 63) }
}
