/// A tiny model checker: every interleaving of the steps of 2 or 3 grabbers on a tiny packet, for a model of an
/// engine, with how many of them oversell or lose money, and one bad interleaving as a trace.
///
/// A model is a little program each grabber runs, one shared step at a time. The explorer runs every possible
/// schedule — at each point, any grabber that can move may move next — by depth-first search, so the counts are
/// exact: the same on every machine, every time. This is how a race is *proved* rather than hoped for.
public struct InterleavingExplorer: Sendable {
    /// How a grab is written: check-then-act, under a lock, or with compare-and-swap.
    public let model: GrabModel
    /// Grabbers racing.
    public let grabbers: Int
    /// Shares in the packet.
    public let shares: Int
    /// The packet's total (fen).
    public let total: Int

    /// An explorer of every interleaving of `grabbers` grabs of `model` on one packet.
    public init(model: GrabModel, grabbers: Int, shares: Int, total: Int) {
        precondition((1 ... 3).contains(grabbers) && shares >= 1 && total >= shares,
                     "the explorer takes 1–3 grabbers and a packet of at least 1 fen a share")
        self.model = model
        self.grabbers = grabbers
        self.shares = shares
        self.total = total
    }

    /// What the exploration found.
    public struct Report: Sendable {
        /// Complete schedules explored.
        public var interleavings = 0
        /// Schedules that ended with more winners than shares.
        public var oversold = 0
        /// Schedules that ended with paid + balance ≠ total (money created or lost).
        public var moneyWrong = 0
        /// Schedules that ended with any invariant broken.
        public var bad = 0
        /// Compare-and-swap retries summed over all schedules (CAS model only).
        public var retries = 0
        /// The first bad schedule, step by step.
        public var badTrace: [TraceStep]?
    }

    /// One step of a trace: who moved, what it did, and the shared state after it.
    public struct TraceStep: Sendable, Hashable {
        /// Which grabber stepped (0 = A).
        public let grabber: Int
        /// What it did.
        public let action: String
        /// The shared state after the step.
        public let state: String
    }

    /// Runs every interleaving. - Returns: how many there are, how many go wrong, and the first that does.
    public func explore() -> Report {
        var report = Report()
        var trace: [TraceStep] = []
        let start = ModelState(remaining: shares, balance: total, grabbers: grabbers)
        search(start, &trace, &report)
        return report
    }

    private func search(_ state: ModelState, _ trace: inout [TraceStep], _ report: inout Report) {
        let movable = (0 ..< grabbers).filter { model.canMove(state.threads[$0], in: state) }
        guard !movable.isEmpty else {
            report.interleavings += 1
            report.retries += state.retries
            let oversold = state.winners > shares
            let moneyWrong = state.paid + state.balance != total
            if oversold { report.oversold += 1 }
            if moneyWrong { report.moneyWrong += 1 }
            if oversold || moneyWrong {
                report.bad += 1
                if report.badTrace == nil { report.badTrace = trace }
            }
            return
        }
        for grabber in movable {
            var next = state
            let action = model.step(grabber, &next)
            trace.append(TraceStep(grabber: grabber, action: action, state: next.sharedDescription))
            search(next, &trace, &report)
            trace.removeLast()
        }
    }
}

/// The shared state of a model run, and each grabber's private view of it.
public struct ModelState: Sendable, Hashable {
    /// Shares left.
    public var remaining: Int
    /// Fen left.
    public var balance: Int
    /// Fen paid out.
    public var paid = 0
    /// Grabbers who got a share.
    public var winners = 0
    /// The grabber holding the lock, if any.
    public var lockHolder: Int?
    /// Failed compare-and-swaps.
    public var retries = 0
    /// Each grabber's own state.
    public var threads: [GrabberState]

    init(remaining: Int, balance: Int, grabbers: Int) {
        self.remaining = remaining
        self.balance = balance
        threads = Array(repeating: GrabberState(), count: grabbers)
    }

    /// The shared state in one line.
    public var sharedDescription: String {
        "shares left \(remaining), balance \(balance) fen, paid \(paid) fen to \(winners) winner\(winners == 1 ? "" : "s")"
            + (lockHolder.map { ", lock held by grabber \(Character(UnicodeScalar(UInt8(65 + $0))))" } ?? "")
    }
}

/// One grabber: where it is in its steps and what it has read.
public struct GrabberState: Sendable, Hashable {
    /// The next step's number.
    public var pc = 0
    /// The shares left, as it read them.
    public var seenRemaining = 0
    /// The balance, as it read it.
    public var seenBalance = 0
    /// The share it computed.
    public var amount = 0
    /// Whether it has finished.
    public var done = false
}

/// A model of how an engine takes a share: the steps of one grab, as the hardware would interleave them.
public enum GrabModel: String, Sendable, CaseIterable {
    /// Check, then act, as two separate steps: `UnsafeRacyEngine`.
    case racy
    /// Load the packed word, then compare-and-swap it; retry if another grab got there first: `LockFreeEngine`.
    case cas
    /// Take a lock, check, act, release: `MutexEngine`.
    case lock

    /// The share a grab takes from what it saw: the last share takes the rest, others an equal part (a stand-in
    /// for double mean that keeps the model deterministic).
    static func share(remaining: Int, balance: Int) -> Int { remaining == 1 ? balance : balance / remaining }

    func canMove(_ grabber: GrabberState, in state: ModelState) -> Bool {
        guard !grabber.done else { return false }
        if self == .lock && grabber.pc == 0 { return state.lockHolder == nil }   // blocked while another holds it
        return true
    }

    /// Runs grabber `index`'s next step on `state`. - Returns: what it did, in words.
    func step(_ index: Int, _ state: inout ModelState) -> String {
        var me = state.threads[index]
        defer { state.threads[index] = me }
        switch (self, me.pc) {
        case (.racy, 0), (.lock, 1):
            // Check: read the shared state into local variables. Nothing stops another grabber from reading the
            // same values before we write.
            me.seenRemaining = state.remaining
            me.seenBalance = state.balance
            me.pc += 1
            return "checks: sees \(me.seenRemaining) share\(me.seenRemaining == 1 ? "" : "s") left, \(me.seenBalance) fen"
        case (.racy, 1), (.lock, 2):
            // Act: decide from what we *saw*, which may no longer be true, and write over what is there now.
            me.pc += 1
            guard me.seenRemaining > 0 else {
                me.done = self == .racy
                return "acts: saw no share left, takes nothing"
            }
            me.amount = Self.share(remaining: me.seenRemaining, balance: me.seenBalance)
            state.remaining = me.seenRemaining - 1
            state.balance = me.seenBalance - me.amount
            state.paid += me.amount
            state.winners += 1
            me.done = self == .racy
            return "acts: writes \(state.remaining) share\(state.remaining == 1 ? "" : "s") left, takes \(me.amount) fen"
        case (.lock, 0):
            state.lockHolder = index
            me.pc = 1
            return "takes the lock"
        case (.lock, 3):
            state.lockHolder = nil
            me.done = true
            return "releases the lock"
        case (.cas, 0):
            // Load the packed (count, balance) word.
            me.seenRemaining = state.remaining
            me.seenBalance = state.balance
            me.pc = 1
            return "loads the word: \(me.seenRemaining) share\(me.seenRemaining == 1 ? "" : "s") left, \(me.seenBalance) fen"
        case (.cas, _):
            // Compare-and-swap: write only if the word is still what we loaded — one indivisible step.
            guard me.seenRemaining > 0 else {
                me.done = true
                return "sees no share left: sold out"
            }
            guard state.remaining == me.seenRemaining && state.balance == me.seenBalance else {
                me.pc = 0
                state.retries += 1
                return "CAS fails (the word changed since the load): retries"
            }
            me.amount = Self.share(remaining: me.seenRemaining, balance: me.seenBalance)
            state.remaining -= 1
            state.balance -= me.amount
            state.paid += me.amount
            state.winners += 1
            me.done = true
            return "CAS succeeds: \(state.remaining) share\(state.remaining == 1 ? "" : "s") left, takes \(me.amount) fen"
        default:
            preconditionFailure("\(self) has no step \(me.pc)")   // a bug in the model's program
        }
    }
}
