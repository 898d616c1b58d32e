import Synchronization

/// Where each of a packet's words lives, relative to its first word (64-byte aligned):
///
///     line 0   words 0–7        read-only header: expiresAt, the packet's id, total, shares | member count << 32,
///                               cap, the members' address, first | last member << 32,
///                               (members − 1) ÷ (last − first) as a Double (the search's first probe)
///     line 1+  word 8           TicketState: closed bit, shares taken at the close, tickets handed out — the
///                               word a grab's fetch-add takes its share from
///              words 9 ..< 9+c  claim bits, one per member of the group (c = ⌈members / 64⌉)
///              then 8⌈n / 8⌉    records (`RecordWord`; 0 = not yet written), striped: share i in word
///                               (i % 8) · ⌈n / 8⌉ + i / 8, so consecutive shares — won at the same moment by
///                               different cores — are written to different cache lines
///              then ⌈n / 2⌉     the shares' amounts in grab order, two 32-bit amounts a word, drawn at send
///                               (split at send, or double mean share after share from the seed)
///              last word        when the refund was recorded (0 until then): a journal's snapshot keeps it
///
/// The header and the amounts never change after publication, so their lines stay shared in every core's cache;
/// the ticket word and, for groups of up to 448 members, every claim word share one line, so on a hot packet a
/// grab's claim and its ticket cost one line transfer between cores, and reading the header costs none.
/// (Measured: with the header on the state's line, two threads on one hot packet ran at 11–13 M grabs/s instead of
/// 26–30 M; with each amount in its share's record slot, a grab read its amount from a line the other core was
/// writing: 12–29 M instead of 37–38 M.) Members are stored once per group (two 32-bit ids a word, sorted) and
/// shared by every packet sent to that group.
struct PacketLayout {
    static let stateIndex = 8
    static let claimBase = 9

    let claimWords: Int
    let recordBase: Int
    let amountBase: Int
    let words: Int

    init(memberCount: Int, shares: Int) {
        claimWords = (memberCount + 63) / 64
        recordBase = Self.claimBase + claimWords
        amountBase = recordBase + Self.recordWords(shares)
        words = amountBase + (shares + 1) / 2 + 1
    }

    init(_ plan: PacketPlan) {
        self.init(memberCount: plan.recipient == nil ? plan.group.count : 1, shares: plan.spec.shares)
    }

    static func memberWords(_ count: Int) -> Int { (count + 1) / 2 }

    static func recordWords(_ shares: Int) -> Int { (shares + 7) / 8 * 8 }
}

/// A view of one packet's words in the arena: the only way code outside this folder reaches them, one typed
/// operation per word and ordering (an ordering must be a literal at the `Atomic` call). It holds addresses, not
/// objects: nothing here is reference-counted. Valid while its reader is pinned (`PacketArena.withPacket`), or
/// under the arena's lock.
///
/// Bounds: `PacketArena.words(of:)` checked the id; every index below is derived from the packet's own header
/// (a member index from the binary search, a share index below `shares` because a grab records a share only for a ticket below `shares`, and the
/// image and replay paths read only the `taken` ≤ `shares` of them), which is
/// what each "unchecked" comment refers to.
struct PacketWords {
    private let base: UnsafeMutablePointer<Atomic<UInt64>>
    private let members: UnsafeMutablePointer<Atomic<UInt64>>

    init(base: UnsafeMutablePointer<Atomic<UInt64>>) {
        self.base = base
        // relaxed: header, written before publication (the caller acquired the packet's address)
        members = UnsafeMutablePointer(bitPattern: UInt(truncatingIfNeeded: base[5].load(ordering: .relaxed)))!
    }

    // MARK: Creation (before publication: relaxed stores, ordered by the arena's releasing publish)

    /// The packet's first word, for the arena to free.
    var rawBase: UnsafeMutableRawPointer { UnsafeMutableRawPointer(base) }
    /// The address of the packet's group's members.
    var memberAddress: UInt64 { base[5].load(ordering: .relaxed) }   // relaxed: header

    /// Members `2 pair` and `2 pair + 1` of `group` as stored: two 32-bit ids, the second UInt32.max past the end.
    static func memberPair(_ group: Group, _ pair: Int) -> UInt64 {
        let low = UInt64(group.member(at: 2 * pair).rawValue)
        let high = 2 * pair + 1 < group.count ? UInt64(group.member(at: 2 * pair + 1).rawValue) : UInt64(UInt32.max)
        return high << 32 | low
    }

    static func storeMembers(_ group: Group, at words: UnsafeMutablePointer<Atomic<UInt64>>) {
        for pair in 0 ..< PacketLayout.memberWords(group.count) {
            words[pair].store(memberPair(group, pair), ordering: .relaxed)  // relaxed: published with the first packet
        }
    }

    static func initialize(_ base: UnsafeMutablePointer<Atomic<UInt64>>, layout: PacketLayout, plan: PacketPlan,
                           id: PacketID, group: Group, members: UInt64)
    {
        let spec = plan.spec
        let first = group.member(at: 0).rawValue, last = group.member(at: group.count - 1).rawValue
        let scale = last > first ? Double(group.count - 1) / Double(last - first) : 0
        let header: [UInt64] = [
            UInt64(bitPattern: plan.expiresAt), id.rawValue, UInt64(spec.total.rawValue),
            UInt64(spec.shares) | UInt64(group.count) << 32, UInt64(spec.policy.perShareCap.rawValue), members,
            UInt64(first) | UInt64(last) << 32, scale.bitPattern,
        ]
        for (index, word) in header.enumerated() { base[index].store(word, ordering: .relaxed) }
        base[PacketLayout.stateIndex].store(TicketState.fresh.rawValue, ordering: .relaxed)
        // The amounts, share after share: pre-split, or double mean from the balance each share leaves — exactly
        // what computing at grab time pays at each seq (`DoubleMean.random48` of the seed and the share index).
        var balance = spec.total.rawValue
        var pair: UInt64 = 0
        for index in 0 ..< spec.shares {
            let amount = plan.preSplit.isEmpty
                ? DoubleMean.share(balance: balance, remaining: Int64(spec.shares - index), cap: spec.policy.perShareCap.rawValue,
                                   random48: DoubleMean.random48(seed: plan.seed, index: index))
                : plan.preSplit[index].rawValue
            balance -= amount
            pair |= UInt64(amount) << (UInt64(index & 1) * 32)
            if index & 1 == 1 || index == spec.shares - 1 {
                base[layout.amountBase + index / 2].store(pair, ordering: .relaxed)
                pair = 0
            }
        }
    }

    // MARK: The read-only header

    @inline(__always) var expiresAt: Int64 { Int64(bitPattern: base[0].load(ordering: .relaxed)) }
    @inline(__always) var id: PacketID { PacketID(base[1].load(ordering: .relaxed)) }
    @inline(__always) var total: Fen { Fen(Int64(base[2].load(ordering: .relaxed))) }
    @inline(__always) var shares: Int { Int(base[3].load(ordering: .relaxed) & 0xFFFF_FFFF) }
    @inline(__always) var memberCount: Int { Int(base[3].load(ordering: .relaxed) >> 32) }
    @inline(__always) var recordBase: Int { PacketLayout.claimBase + (memberCount + 63) / 64 }
    /// The largest share its policy allowed.
    var perShareCap: Fen { Fen(Int64(base[4].load(ordering: .relaxed))) }

    /// The members who may grab, in order (a journal's image of the packet).
    func memberList() -> [MemberID] {
        (0 ..< memberCount).map { MemberID(memberID(at: $0)) }   // unchecked: index < memberCount
    }

    /// When the refund was recorded on the engine's clock, 0 until `storeRefundedAt`. Relaxed: a reader that finds
    /// 0 for a refunded packet uses a later time (its snapshot's), which only keeps the packet longer.
    var refundedAt: Int64 {
        // unchecked: the last word of the packet's layout
        Int64(bitPattern: base[PacketLayout(memberCount: memberCount, shares: shares).words - 1].load(ordering: .relaxed))
    }

    /// Under the arena's lock, once, when the refund is recorded.
    func storeRefundedAt(_ time: Int64) {
        base[PacketLayout(memberCount: memberCount, shares: shares).words - 1].store(UInt64(bitPattern: time), ordering: .relaxed)
    }

    /// Every share's amount, in grab order (a journal's image of the packet).
    func amountList() -> [Fen] {
        (0 ..< shares).map { Fen(amount(ofShare: $0)) }   // unchecked: index < shares
    }

    /// The member's dense index (its claim bit), or nil if it may not grab. Read-only. Interpolation search
    /// (one or two probes when ids are spread evenly, as in most groups), falling back to binary search after
    /// four probes, so the worst case stays O(log members).
    @inline(__always)
    func grabberIndex(of member: MemberID) -> Int? {
        let target = member.rawValue
        let bounds = base[6].load(ordering: .relaxed)
        let first = UInt32(truncatingIfNeeded: bounds), last = UInt32(truncatingIfNeeded: bounds >> 32)
        guard target >= first && target <= last else { return nil }   // an outsider, answered from the header
        var low = 0, high = memberCount - 1
        // The first probe from the header alone: a multiplication, no division and no load of the members.
        let scale = Double(bitPattern: base[7].load(ordering: .relaxed))
        var position = min(high, Int(Double(target &- first) * scale))
        var probes = 1
        while true {
            // unchecked, here and below: low ≤ position ≤ high < memberCount, and the member words hold
            // ⌈memberCount / 2⌉ words
            let found = memberID(at: position)
            if found == target { return position }
            if found < target { low = position + 1 } else { high = position - 1 }
            guard low <= high else { return nil }
            let lowID = memberID(at: low), highID = memberID(at: high)
            guard target >= lowID && target <= highID else { return nil }
            if probes < 4 && highID > lowID {
                position = low + Int(UInt64(target - lowID) * UInt64(high - low) / UInt64(highID - lowID))
            } else {
                position = (low + high) / 2
            }
            probes += 1
        }
    }

    @inline(__always)
    private func memberID(at index: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: members[index / 2].load(ordering: .relaxed) >> (UInt64(index & 1) * 32))
    }

    // MARK: The amounts (read-only, drawn at send)

    /// The amount of the share with 0-based grab index `index` (< shares).
    @inline(__always)
    func amount(ofShare index: Int) -> Int64 {
        // unchecked: index < shares, and the amount words hold ⌈shares / 2⌉ words
        let word = base[recordBase + PacketLayout.recordWords(shares) + index / 2].load(ordering: .relaxed)
        return Int64(word >> (UInt64(index & 1) * 32) & 0xFFFF_FFFF)
    }

    /// The balance left once the first `taken` shares are paid. O(taken).
    func balance(afterTaking taken: Int) -> Int64 {
        (0 ..< taken).reduce(total.rawValue) { $0 - amount(ofShare: $1) }
    }

    // MARK: The ticket word

    /// The ticket word, acquiring: a reader that sees a ticket taken sees the claim made before it.
    @inline(__always) var ticketsAcquiring: TicketState {
        TicketState(rawValue: base[PacketLayout.stateIndex].load(ordering: .acquiring))
    }
    /// Under the packet's lock only.
    @inline(__always) var ticketsRelaxed: TicketState {
        TicketState(rawValue: base[PacketLayout.stateIndex].load(ordering: .relaxed))
    }

    /// Takes the next ticket with one fetch-add, acquiring and releasing (a later ticket, the close and a retry's
    /// look at the records all order after it). - Returns: the state before: its count is this grab's ticket.
    @inline(__always)
    func takeTicket() -> TicketState {
        TicketState(rawValue: base[PacketLayout.stateIndex].wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue)
    }

    /// One CAS of the ticket word (the close), acquiring and releasing. - Returns: whether it won, and what it found.
    @inline(__always)
    func compareExchangeTickets(expected: TicketState, desired: TicketState) -> (exchanged: Bool, found: TicketState) {
        let (exchanged, found) = base[PacketLayout.stateIndex].compareExchange(
            expected: expected.rawValue, desired: desired.rawValue, ordering: .acquiringAndReleasing)
        return (exchanged, TicketState(rawValue: found))
    }

    /// Under the packet's lock only.
    @inline(__always) func storeTicketsRelaxed(_ state: TicketState) {
        base[PacketLayout.stateIndex].store(state.rawValue, ordering: .relaxed)
    }

    // MARK: Claim bits (member index → word 9 + index / 64, bit index % 64)

    /// Whether the member's claim bit is set, acquiring. `index` comes from `grabberIndex(of:)`.
    @inline(__always)
    func isClaimedAcquiring(_ index: Int) -> Bool {
        base[PacketLayout.claimBase + index &>> 6].load(ordering: .acquiring) & (1 << UInt64(index & 63)) != 0
    }

    /// Sets the member's claim bit with one fetch-or, acquiring and releasing. - Returns: whether it was set before.
    @inline(__always)
    func claimAcquiringAndReleasing(_ index: Int) -> Bool {
        let bit: UInt64 = 1 << UInt64(index & 63)
        return base[PacketLayout.claimBase + index &>> 6].bitwiseOr(bit, ordering: .acquiringAndReleasing).oldValue & bit != 0
    }

    /// Under the packet's lock only: whether the member's claim bit is set.
    @inline(__always)
    func isClaimedRelaxed(_ index: Int) -> Bool {
        base[PacketLayout.claimBase + index &>> 6].load(ordering: .relaxed) & (1 << UInt64(index & 63)) != 0
    }

    /// Under the packet's lock only: sets the bit, returns whether it was set.
    @inline(__always)
    func claimRelaxed(_ index: Int) -> Bool {
        let bit: UInt64 = 1 << UInt64(index & 63)
        let word = base[PacketLayout.claimBase + index &>> 6].load(ordering: .relaxed)
        base[PacketLayout.claimBase + index &>> 6].store(word | bit, ordering: .relaxed)
        return word & bit != 0
    }

    // MARK: Records (share index → the winner)

    /// Where share `index` (< shares) is recorded: striped over 8 runs of ⌈shares / 8⌉ words (see `PacketLayout`).
    @inline(__always)
    private func recordSlot(_ index: Int) -> Int {
        recordBase + (index & 7) * ((shares + 7) >> 3) + (index >> 3)
    }

    /// The record of share `index` (< shares), or nil while its grab is between its CAS and its store. Acquiring.
    @inline(__always)
    func recordAcquiring(_ index: Int) -> RecordWord? {
        RecordWord(rawValue: base[recordSlot(index)].load(ordering: .acquiring))
    }

    @inline(__always)
    func storeRecordReleasing(_ record: RecordWord, at index: Int) {
        base[recordSlot(index)].store(record.rawValue, ordering: .releasing)
    }

    /// Under the packet's lock only.
    @inline(__always) func recordRelaxed(_ index: Int) -> RecordWord? {
        RecordWord(rawValue: base[recordSlot(index)].load(ordering: .relaxed))
    }

    /// Under the packet's lock only.
    @inline(__always) func storeRecordRelaxed(_ record: RecordWord, at index: Int) {
        base[recordSlot(index)].store(record.rawValue, ordering: .relaxed)
    }
}
