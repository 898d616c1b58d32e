/// The word the arena's engines take a share from: tickets handed out and, once the packet is closed, how many
/// shares were taken when it closed. The amounts are drawn when the packet is sent (from its seed: the same
/// amounts double mean gives at grab time, share by share), so a grab needs only a number: one fetch-add of 1
/// hands it ticket n, the count before — share n if n < shares and the packet was open. Taking a share never
/// retries: no grab's work is thrown away because another grab got in first.
///
/// Bit 63 closed (sealed: no ticket taken after it wins a share); bit 62 refunded (the sender's refund recorded,
/// by `expire`, exactly once); bits 32–61 the shares taken when it closed; bits 0–31 tickets handed out. A packet
/// is closed either by `expire` (closed and refunded in one step) or, first, by a grab that found the deadline
/// passed (closed only: the refund is still the sender's to take, and `expire` still hears `.refunded`). The
/// count passes `shares` only by grabs that raced the last share or the close (a grab looks first and takes a
/// ticket only if the packet looked open): each member's claim bit lets it take at most one ticket, so the count
/// stays below the group's size plus the shares, far below 2^32.
package struct TicketState: RawRepresentable, Hashable, Sendable {
    package var rawValue: UInt64

    @inlinable package init(rawValue: UInt64) { self.rawValue = rawValue }

    /// A packet no one has grabbed from.
    package static let fresh = TicketState(rawValue: 0)

    @inlinable package var closed: Bool { rawValue >> 63 != 0 }
    /// Whether the refund has been recorded (by `expire`).
    @inlinable package var refunded: Bool { rawValue >> 62 & 1 != 0 }
    /// Tickets handed out (some past the last share, by grabs that lost).
    @inlinable package var tickets: Int { Int(truncatingIfNeeded: rawValue & 0xFFFF_FFFF) }

    /// Shares taken: those of the tickets below `shares`, or, once closed, those taken when it closed.
    @inlinable
    package func taken(of shares: Int) -> Int {
        closed ? Int(truncatingIfNeeded: (rawValue >> 32) & 0x3FFF_FFFF) : min(tickets, shares)
    }

    /// Whether every share is taken (whatever the deadline or the close).
    @inlinable package func isSoldOut(shares: Int) -> Bool { taken(of: shares) == shares }

    /// The same count with one more ticket handed out (the mutex engine's take, under its lock).
    @inlinable package var withTicket: TicketState { TicketState(rawValue: rawValue + 1) }

    /// The state closed now: the shares taken at this instant are recorded with it (a closed state stays as it is).
    @inlinable
    package func closing(shares: Int) -> TicketState {
        closed ? self : TicketState(rawValue: rawValue | 1 << 63 | UInt64(min(tickets, shares)) << 32)
    }

    /// The state closed (if it was not) and its refund recorded.
    @inlinable
    package func refunding(shares: Int) -> TicketState {
        TicketState(rawValue: closing(shares: shares).rawValue | 1 << 62)
    }
}
