/// The model checker for the design the lock-free engine ships: the ticket. Grabbers (two of them may be the same
/// member tapping twice), closers (`expire`) and the deadline move one shared step at a time, as in
/// `LockFreeEngine.grabReceipt`: load the ticket word; read the clock (past the deadline: seal, then look at the
/// claim); set the claim bit (fetch-or); take a ticket (fetch-add); write the record. A member whose claim bit was
/// already set reads the records for its answer (one step here; it waits while its twin is between its ticket and
/// its record). Every reachable state is visited once (depth-first, with a set of visited states), so the
/// verdict covers every interleaving — exactly, on every machine.
///
/// At every ending it checks: money conserved (shares paid + refund == total, the refund made once); the shares
/// paid are exactly those taken before the close, one per ticket (no share after the close, none lost); at most one
/// share per member; and the rule on `GrabOutcome` between a member's taps — a member told `.expired` or `.soldOut`
/// holds no share, and no member is told `.granted` twice.
public struct TicketModel: Sendable {
    /// The members grabbing, one grabber each (repeat a member for a twin tap).
    public let grabbers: [Int]
    /// How many `expire` calls race them (0–2).
    public let closers: Int
    /// Whether the deadline passes during the run (a step of its own, at any point).
    public let deadline: Bool
    /// Shares in the packet.
    public let shares: Int
    /// Whether a grab past the deadline seals the packet before answering `.expired` (the shipped design); false
    /// models the engine before the fix, which the checker must catch.
    public let seals: Bool

    /// A model of `grabbers` (members; repeat one for a twin tap), `closers` expiries and, with `deadline`, the
    /// deadline passing, on a packet of `shares` shares of 100 fen in all.
    public init(grabbers: [Int], closers: Int, deadline: Bool, shares: Int, seals: Bool = true) {
        precondition((1 ... 3).contains(grabbers.count) && (0 ... 2).contains(closers) && shares >= 1,
                     "the ticket model takes 1–3 grabbers, 0–2 closers and at least one share")
        self.grabbers = grabbers
        self.closers = closers
        self.deadline = deadline
        self.shares = shares
        self.seals = seals
    }

    /// What the exploration found.
    public struct Report: Sendable {
        /// Distinct states visited.
        public var states = 0
        /// Distinct endings (every actor finished) checked.
        public var endings = 0
        /// Endings that broke a rule.
        public var bad = 0
        /// The first rule broken, in words, or nil.
        public var firstViolation: String?
        /// States where someone could never move again before finishing (a grab waiting for ever).
        public var stuck = 0
    }

    enum Answer: Hashable, CustomStringConvertible {
        case granted(Int), alreadyGrabbed(Int), soldOut, expired, refunded(Int), alreadyRefunded

        var description: String {
            switch self {
            case .granted(let fen): "granted \(fen) fen"
            case .alreadyGrabbed(let fen): "already grabbed \(fen) fen"
            case .soldOut: "sold out"
            case .expired: "expired"
            case .refunded(let fen): "refunded \(fen) fen"
            case .alreadyRefunded: "already refunded"
            }
        }
    }

    struct Actor: Hashable {
        var pc = 0
        var share = -1
        var answer: Answer?
    }

    struct State: Hashable {
        var tickets = 0
        var closed = false
        var takenAtClose = 0
        var refunded = false
        var pastDeadline = false
        var claims: Set<Int> = []
        var records: [Int?]
        var grabbers: [Actor]
        var closers: [Actor]
        var clockMoved = false

        func taken(_ shares: Int) -> Int { closed ? takenAtClose : min(tickets, shares) }
    }

    /// The share amounts in grab order (fixed, as if drawn at send): 100 fen split by shares, the rest to the last.
    var amounts: [Int] { (0 ..< shares).map { $0 == shares - 1 ? 100 - 100 / shares * (shares - 1) : 100 / shares } }

    /// Explores every reachable state. - Returns: the counts, and the first rule broken.
    public func explore() -> Report {
        var report = Report()
        var visited = Set<State>()
        let start = State(records: Array(repeating: nil, count: shares),
                          grabbers: Array(repeating: Actor(), count: grabbers.count),
                          closers: Array(repeating: Actor(), count: closers))
        var pending = [start]
        while let state = pending.popLast() {
            guard visited.insert(state).inserted else { continue }
            report.states += 1
            let next = successors(of: state)
            if next.isEmpty {
                if state.grabbers.contains(where: { $0.answer == nil }) || state.closers.contains(where: { $0.answer == nil }) {
                    report.stuck += 1
                    continue
                }
                report.endings += 1
                if let violation = check(state) {
                    report.bad += 1
                    if report.firstViolation == nil { report.firstViolation = violation }
                }
            }
            pending += next
        }
        return report
    }

    private func successors(of state: State) -> [State] {
        var next: [State] = []
        for index in state.grabbers.indices where state.grabbers[index].answer == nil {
            if let moved = grabStep(index, state) { next.append(moved) }
        }
        for index in state.closers.indices where state.closers[index].answer == nil {
            var moved = state
            let amounts = self.amounts
            if moved.refunded {
                moved.closers[index].answer = .alreadyRefunded
            } else {
                if !moved.closed { moved.closed = true; moved.takenAtClose = min(moved.tickets, shares) }
                moved.refunded = true
                moved.closers[index].answer = .refunded(100 - amounts[0 ..< moved.takenAtClose].reduce(0, +))
            }
            next.append(moved)
        }
        if deadline && !state.clockMoved {
            var moved = state
            moved.clockMoved = true
            moved.pastDeadline = true
            next.append(moved)
        }
        return next
    }

    /// Grabber `index`'s next step, or nil while it waits (a retry whose twin has not written its record yet).
    private func grabStep(_ index: Int, _ state: State) -> State? {
        var s = state
        let member = grabbers[index]
        var me = s.grabbers[index]
        switch me.pc {
        case 0:   // load the ticket word: sold out or closed → look at the claim
            me.pc = s.closed || s.tickets >= shares ? 10 : 1
        case 1:   // read the clock
            me.pc = s.pastDeadline ? (seals ? 2 : 11) : 3   // unsealed: straight to the claim
        case 2:   // seal (a CAS loop: one step)
            if !s.closed { s.closed = true; s.takenAtClose = min(s.tickets, shares) }
            me.pc = 11
        case 10, 11:   // look at the claim bit: a retry, or the loss as the ticket word (10) or the deadline (11) says
            if s.claims.contains(member) {
                me.pc = 20
            } else if me.pc == 11 {
                me.answer = .expired
            } else {
                me.answer = s.taken(shares) == shares ? .soldOut : .expired
            }
        case 3:   // claim: fetch-or
            me.pc = s.claims.insert(member).inserted ? 4 : 20
        case 4:   // ticket: fetch-add
            let before = s
            s.tickets += 1
            if before.closed {
                me.answer = before.takenAtClose == shares ? .soldOut : .expired
            } else if before.tickets >= shares {
                me.answer = .soldOut
            } else {
                me.share = before.tickets
                me.pc = 5
            }
        case 5:   // write the record
            s.records[me.share] = member
            me.answer = .granted(amounts[me.share])
        case 20:  // a retry: the records decide, once every taken share's record is written
            let taken = s.taken(shares)
            if let share = (0 ..< taken).first(where: { s.records[$0] == member }) {
                me.answer = .alreadyGrabbed(amounts[share])
            } else if (0 ..< taken).allSatisfy({ s.records[$0] != nil }) && (taken == shares || s.closed) {
                me.answer = taken == shares ? .soldOut : .expired
            } else {
                return nil
            }
        default:
            preconditionFailure("no grab step \(me.pc)")
        }
        s.grabbers[index] = me
        return s
    }

    /// The first rule an ending breaks, or nil.
    private func check(_ state: State) -> String? {
        let taken = state.taken(shares)
        let paidShares = state.records.indices.filter { state.records[$0] != nil }
        if paidShares != Array(0 ..< taken) {
            return "shares paid \(paidShares) are not the \(taken) taken before the close"
        }
        let paid = paidShares.reduce(0) { $0 + amounts[$1] }
        let refunds = state.closers.compactMap { if case .refunded(let amount)? = $0.answer { amount } else { nil } }
        if refunds.count > 1 { return "the refund was made \(refunds.count) times" }
        if let refund = refunds.first, paid + refund != 100 { return "paid \(paid) + refund \(refund) ≠ 100 fen" }
        let holders = state.records.compactMap { $0 }
        if Set(holders).count != holders.count { return "a member holds two shares: \(holders)" }
        for member in Set(grabbers) {
            let answers = state.grabbers.indices.filter { grabbers[$0] == member }.compactMap { state.grabbers[$0].answer }
            let holds = holders.contains(member)
            if holds && answers.contains(where: { $0 == .expired || $0 == .soldOut }) {
                return "member \(member) holds a share but its taps were told \(answers.map(\.description).joined(separator: " and "))"
            }
            if answers.filter({ if case .granted = $0 { true } else { false } }).count > 1 {
                return "member \(member) was granted twice: \(answers.map(\.description).joined(separator: " and "))"
            }
        }
        return nil
    }
}
