import Foundation
import HongbaoCore
import Synchronization

/// The concurrency lessons. Each lesson writes to a blackboard and returns its one-line conclusion.
///
/// The comments here are the lesson notes: read them aloud.
public struct Classroom {
    /// The lessons by number, with their titles.
    public static let lessons = [
        1: "The race", 2: "Why", 3: "A lock", 4: "Lock-free", 5: "An actor", 6: "Across processes", 7: "Fair?",
        8: "What a failover forgets",
    ]

    let board: Blackboard
    let seed: UInt64
    /// Lesson 6's store shared across processes; nil, or one that does not answer, skips it with a note.
    let sharedStore: SharedStore?
    /// How much work the measuring lessons do: `.full` in class, `.quick` in tests.
    let effort: Effort

    /// How much work the measuring lessons do.
    public enum Effort: Sendable {
        case full, quick
        var rounds: Int { self == .full ? 5_000 : 300 }
        var packets: Int { self == .full ? 10_000 : 200 }
        var casGrabs: Int { self == .full ? 2_000_000 : 100_000 }
        var splits: Int { self == .full ? 20_000 : 2_000 }
        /// How long lesson 1 races the engine as it is before it widens the window.
        var raceTime: Duration { self == .full ? .seconds(3) : .milliseconds(500) }
    }

    /// A class writing to `board`; lesson 6 races through `sharedStore` (a Redis server), if one is given and answers.
    public init(board: Blackboard, seed: UInt64 = 2017, sharedStore: SharedStore? = nil, effort: Effort = .full) {
        self.board = board
        self.seed = seed
        self.sharedStore = sharedStore
        self.effort = effort
    }

    /// Runs lesson `number` (1 … 8). - Returns: its conclusion.
    public func run(_ number: Int) async throws -> String {
        board.title("Lesson \(number): \(Self.lessons[number] ?? "?")")
        let conclusion: String = switch number {
        case 1: try theRace()
        case 2: why()
        case 3: try aLock()
        case 4: try lockFree()
        case 5: try await anActor()
        case 6: try acrossProcesses()
        case 7: try fair()
        case 8: try failover()
        default: preconditionFailure("lesson \(number) does not exist")   // the command line validates it
        }
        board.conclude(conclusion)
        return conclusion
    }

    // MARK: 1. The race

    /// Many threads grab from one packet of 5 shares with the racy engine, round after round, until it oversells.
    func theRace() throws -> String {
        board.say("""
            A packet of ¥5.00 in 5 shares; \(RaceRounds.threads) threads, \(RaceRounds.grabbersPerThread) members each, \
            grab at the same moment. The racy engine *checks* whether a share is left, then *acts* — two steps.
            """)
        board.pause()
        // Between the check and the act there are a few nanoseconds: on a machine whose cores are busy with other
        // work the grabs rarely overlap there. If none has oversold, widen the window — saying so — until one does.
        let window = RaceWindow()
        let engine = UnsafeRacyEngine(window: { _ in window.pause() })
        var rounds = 0
        for (step, width) in RaceWindow.widths.enumerated() {
            window.width = width
            let result = try RaceRounds.run(engine, until: .oversold, seed: seed &+ UInt64(rounds),
                                            timeLimit: step == 0 ? effort.raceTime : .seconds(1))
            rounds += result.rounds
            guard let oversold = result.firstOversold else {
                if step + 1 < RaceWindow.widths.count {
                    let next = RaceWindow.describe(RaceWindow.widths[step + 1])
                    let how = width == .zero ? "as the engine is (a window of a few nanoseconds)" : "with a pause of \(RaceWindow.describe(width))"
                    board.say("""
                        No oversell in \(result.rounds.formatted()) rounds \(how). Widening the window: each grab now pauses \
                        \(next) between its check and its act — what a preemption there does on a busy machine.
                        """)
                }
                continue
            }
            board.bad(
                "Round \(result.rounds.formatted()): \(oversold.grabs.count) winners for 5 shares — paid \(oversold.paid), the packet held ¥5.00.")
            for record in oversold.grabs { board.dim("   \(record.member) got \(record.amount)") }
            let created = oversold.paid - oversold.total
            let widened = width == .zero ? "" : " (the window widened to \(RaceWindow.describe(width)))"
            return """
                the racy engine oversold after \(rounds.formatted()) tries\(widened): \(oversold.grabs.count) winners for 5 shares, \(created) \
                created from nothing
                """
        }
        throw ClassroomError("""
            no oversell in \(rounds.formatted()) rounds, even with a \(RaceWindow.describe(RaceWindow.widths.last!)) window: fewer than two grabbers \
            ever ran at once
            """)
    }

    // MARK: 2. Why

    /// The interleaving that oversells, step by step, found by exploring every interleaving.
    func why() -> String {
        board.say("Two grabbers, A and B, and a packet of 1 share (100 fen). Every step of check-then-act on its own line:")
        board.pause()
        let report = InterleavingExplorer(model: .racy, grabbers: 2, shares: 1, total: 100).explore()
        printTrace(report.badTrace ?? [])
        board.say("")
        board.say("Both checked before either acted, so both saw the last share. Of all \(report.interleavings) interleavings of their steps,")
        board.bad("\(report.bad) oversell.")
        let three = InterleavingExplorer(model: .racy, grabbers: 3, shares: 2, total: 100).explore()
        board.say("Three grabbers, 2 shares: \(three.bad) of \(three.interleavings) interleavings oversell or lose money.")
        board.pause()
        for model in [GrabModel.lock, .cas] {
            let fixed = InterleavingExplorer(model: model, grabbers: 3, shares: 2, total: 100).explore()
            board.good("\(model.rawValue): \(fixed.bad) of \(fixed.interleavings) interleavings go wrong.")
        }
        return "\(report.bad) of \(report.interleavings) interleavings of check-then-act oversell; with a lock or a CAS, none do"
    }

    func printTrace(_ trace: [InterleavingExplorer.TraceStep]) {
        for step in trace {
            let who = Character(UnicodeScalar(UInt8(65 + step.grabber)))
            board.say("  \(who) \(step.action.padding(toLength: 44, withPad: " ", startingAt: 0)) │ \(step.state)")
            board.pause()
        }
    }

    // MARK: 3. A lock

    func aLock() throws -> String {
        board.say("The same race with the mutex engine: check and act happen while holding the packet's lock.")
        board.pause()
        let result = try RaceRounds.run(MutexEngine(), until: .rounds(effort.rounds), seed: seed)
        board.good("\(result.rounds.formatted()) rounds, \(result.oversoldRounds) oversold.")
        board.pause()
        let costs = try Throughput.compare([UnsafeRacyEngine(), MutexEngine()], packets: effort.packets)
        for (name, rate) in costs { board.say(
            "  \(name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(Throughput.format(rate)) grabs/s on one hot packet, 2 threads") }
        let ratio = costs[1].1 / max(costs[0].1, 1)
        return "the lock never oversold in \(result.rounds.formatted()) rounds; it ran at \(String(format: "%.2f", ratio))× the racy engine's speed"
    }

    // MARK: 4. Lock-free

    func lockFree() throws -> String {
        board.say("""
            Lock-free, the textbook way: the packet's shares left and balance are packed in one 64-bit word. A grab \
            loads it, computes its share, and writes the new word with compare-and-swap — which succeeds only if the \
            word is unchanged. If another grab got in first, the CAS fails and we retry with the new word: nobody \
            waits for a lock.
            """)
        board.pause()
        // Contention grows with threads: every failed CAS is work thrown away because another core changed the word.
        let growth = [1, 2, 4].map { CASRetries.measure(grabs: effort.casGrabs, threads: $0) }
        for (threads, measured) in zip([1, 2, 4], growth) {
            board.say("""
                \(threads) thread(s), \(measured.grabs.formatted()) grabs on one packed word: \(measured.retries.formatted()) CAS retries \
                (\(String(format: "%.3f", measured.perGrab)) per grab).
                """)
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if cores < 4 {
            board.say("""
                This machine has \(cores) cores: 4 threads take turns on them, so fewer grabs overlap and retries stop growing; with a core per \
                thread they keep growing.
                """)
        }
        let model = InterleavingExplorer(model: .cas, grabbers: 3, shares: 2, total: 100).explore()
        board.say("Explored: \(model.interleavings) interleavings of 3 grabbers, \(model.bad) go wrong, \(model.retries) CAS retries in all.")
        board.pause()
        board.say("""
            Our lock-free engine goes one step further and never retries. The amounts are drawn when the packet is \
            sent (double mean, share after share, from the packet's seed — the same amounts as at grab time), so a \
            grab only needs a number: one fetch-add hands it ticket n, and share n is its own. A fetch-add cannot \
            fail, so no grab's work is ever thrown away.
            """)
        // The ticket is the design we ship, so it gets the same proof as the toys: every interleaving of grabbers,
        // a member tapping twice, the sender's expire and the deadline, explored state by state.
        let ticket = TicketModel(grabbers: [1, 1, 2], closers: 1, deadline: true, shares: 2).explore()
        board.say("""
            The ticket, model-checked: grabbers A and A' (one member tapping twice) and B, the sender's expire and the deadline: \
            \(ticket.states.formatted()) states, \(ticket.endings) endings, \(ticket.bad) break a rule, \(ticket.stuck) get stuck.
            """)
        let unsealed = TicketModel(grabbers: [1, 1], closers: 0, deadline: true, shares: 2, seals: false).explore()
        if let violation = unsealed.firstViolation {
            board.bad("Without the seal — a grab past the deadline answering `expired` without closing the packet — "
                + "the checker finds: \(violation).")
        }
        board.pause()
        let result = try RaceRounds.run(LockFreeEngine(), until: .rounds(effort.rounds), seed: seed)
        board.good("\(result.rounds.formatted()) rounds, \(result.oversoldRounds) oversold.")
        board.pause()
        let costs = try Throughput.compare([MutexEngine(), LockFreeEngine()], packets: effort.packets)
        for (name, rate) in costs { board.say(
            "  \(name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(Throughput.format(rate)) grabs/s on one hot packet, 2 threads") }
        // Why a lock can beat a CAS loop, and why the ticket beats both: lock-free is about progress (no grabber
        // can be stopped by another one descheduled while holding a lock), not about speed. On two cores a mutex
        // holder keeps the packet's cache line for a whole grab, while two CAS loops bounce the line and throw
        // away the losers' work; the fetch-add moves the line once per grab and never redoes anything.
        board.say("""
            Lock-free buys progress — a grabber descheduled mid-grab never blocks the others — not speed by itself: \
            on two cores a mutex holder keeps the cache line for a whole grab while CAS loops bounce it and redo \
            their work (the retries above), which is why C's mutex can outrun C's CAS on this very box. What makes \
            the engine fast is doing less under contention: one fetch-add, no retry.
            """)
        let retries = growth[1]
        return """
            lock-free never oversold in \(result.rounds.formatted()) rounds; a CAS loop's contention cost \(String(format: "%.3f", retries.perGrab)) \
            retries per grab at 2 threads, \(String(format: "%.3f", growth[2].perGrab)) at 4; the engine's fetch-add ticket retries never
            """
    }

    // MARK: 5. An actor

    func anActor() async throws -> String {
        board.say("""
            Swift concurrency's answer: the packets live in an actor, which runs one call at a time. Grabbers are \
            tasks; each `await` may suspend until the actor is free. No lock in our code, no data race possible.
            """)
        board.pause()
        let engine = ActorEngine()
        let group = Group(range: 1 ... 64)
        var oversold = 0
        let rounds = effort.rounds / 10
        for round in 0 ..< rounds {
            let packet = try await engine.send(try PacketSpec(total: 500, shares: 5), to: group, seed: seed &+ UInt64(round))
            await withTaskGroup(of: Void.self) { tasks in
                for member in 1 ... UInt32(64) { tasks.addTask { _ = try? await engine.grab(packet, for: MemberID(member)) } }
            }
            if try await engine.summary(of: packet).grabs.count > 5 { oversold += 1 }
        }
        board.good("\(rounds) rounds of 64 concurrent tasks, \(oversold) oversold.")
        let start = ContinuousClock.now
        var grabs = 0
        let spec = try PacketSpec(total: 100_00, shares: 100)
        let packets = try await (0 ..< effort.packets / 8).asyncMap { _ in try await engine.send(spec, to: Group(range: 1 ... 100), seed: seed) }
        await withTaskGroup(of: Int.self) { tasks in
            for half in 0 ..< 2 {
                tasks.addTask {
                    var won = 0
                    for packet in packets {
                        for member in stride(from: UInt32(1 + half), through: 100, by: 2) {
                            if case .granted = try? await engine.grab(packet, for: MemberID(member)) { won += 1 }
                        }
                    }
                    return won
                }
            }
            for await won in tasks { grabs += won }
        }
        let rate = Double(grabs) / ((ContinuousClock.now - start) / .seconds(1))
        board.say("  actor          \(Throughput.format(rate)) grabs/s on hot packets, 2 tasks (each grab an await)")
        return "the actor never oversold in \(rounds) rounds; it served \(Throughput.format(rate)) grabs/s"
    }

    // MARK: 6. Across processes

    func acrossProcesses() throws -> String {
        board.say("""
            Across processes and machines, the packet lives in Redis. A Lua script runs inside the server and nothing \
            else runs while it does: the check (DECR of the shares left) and the act (record the member's share) \
            happen as one step, like a CAS — whatever the number of clients.
            """)
        guard let sharedStore else {
            board.dim("(skipped: no Redis server given — start one and pass --redis redis://127.0.0.1:6379)")
            return "skipped: no Redis server reachable"
        }
        let engine: any GrabEngine
        do {
            engine = try sharedStore.connect()
        } catch {
            board.dim("(skipped: \(error))")
            return "skipped: no Redis server reachable"
        }
        board.say(sharedStore.atomicStep)
        board.pause()
        let result = try RaceRounds.run(engine, until: .rounds(effort.rounds / 10), seed: seed)
        board.good("\(result.rounds.formatted()) rounds through \(engine.name), \(result.oversoldRounds) oversold.")
        return "one Lua script call is atomic: \(result.rounds.formatted()) rounds through Redis, \(result.oversoldRounds) oversold"
    }

    // MARK: 7. Fair?

    func fair() throws -> String {
        let packets = effort.splits, shares = 10
        board.say("\(packets.formatted()) packets of ¥100.00 in \(shares) shares. Share ÷ average share at each grab position:")
        board.pause()
        var spread: [SplitAlgorithm: [Double]] = [:]
        for algorithm in [SplitAlgorithm.doubleMeanAtGrab, .lineCutting] {
            let spec = try PacketSpec(total: Fen(yuan: 100), shares: shares, algorithm: algorithm)
            var sums = Array(repeating: 0.0, count: shares), squares = sums, luckiest = Array(repeating: 0, count: shares)
            for index in 0 ..< packets {
                let split = RedPacket.split(spec, seed: seed &+ UInt64(index) &* 7919)
                let best = split.indices.max { split[$0] < split[$1] || (split[$0] == split[$1] && $0 > $1) }!
                luckiest[best] += 1
                for (position, share) in split.enumerated() {
                    let x = Double(share.rawValue) / 1_000
                    sums[position] += x
                    squares[position] += x * x
                }
            }
            board.say("")
            board.say("  \(algorithm)")
            board.say("  pos  mean    sd   luckiest")
            var sds: [Double] = []
            for position in 0 ..< shares {
                let mean = sums[position] / Double(packets)
                let sd = (squares[position] / Double(packets) - mean * mean).squareRoot()
                sds.append(sd)
                let bar = String(repeating: "█", count: Int((sd * 40).rounded()))
                board.say(String(format:
                    "  %3d  %.2f  %.2f  %5.1f%%  ", position + 1, mean, sd, 100 * Double(luckiest[position]) / Double(packets)) + bar)
            }
            spread[algorithm] = sds
            board.pause()
        }
        let doubleMean = spread[.doubleMeanAtGrab]!, cutting = spread[.lineCutting]!
        board.say("")
        board.say("Bars are the standard deviation: double mean's grows with position — early grabbers get a steady share,")
        board.say("late ones a gamble (the luckiest share falls late more often). Line cutting is the same at every position.")
        return String(format: "same mean everywhere; double mean's spread rises from %.2f to %.2f by position, line cutting's stays %.2f–%.2f",
                      doubleMean.first!, doubleMean.last!, cutting.min()!, cutting.max()!)
    }
}

// MARK: 8. What a failover forgets

extension Classroom {
    /// A packet on a master with one replica that trails it; the master dies; the replica is promoted. Acknowledged
    /// by the master alone, the last grabs are forgotten — their members were told, and are paid again; with WAIT,
    /// nothing a caller was told is forgotten, at the price of a replica's round trip per acknowledgement.
    func failover() throws -> String {
        let model = FailoverModel(spec: try PacketSpec(total: Fen(yuan: 10), shares: 6), members: 8, lag: 2)
        board.say("""
            A packet of ¥10.00 in 6 shares on a Redis master with one replica. Redis replicates *after* it answers: \
            the replica trails by a few writes. 5 members grab; the master dies with the replica \(model.lag) grabs \
            behind; the replica is promoted; whoever has no answer, or a forgotten one, grabs again.
            """)
        board.pause()
        var lostByMaster = 0
        for acknowledge in [FailoverModel.Acknowledge.byMaster, .byReplica] {
            let outcome = try model.run(grabs: 5, acknowledge: acknowledge)
            board.say("")
            board.say(
                "  acknowledged by the \(acknowledge == .byMaster ? "master alone (Redis's default)" : "replica too (WAIT 1 after the write)"):")
            for (member, amount) in outcome.told.sorted(by: { $0.key < $1.key }) {
                let forgotten = outcome.lost.contains(member)
                let again = outcome.toldAgain[member].map(\.description) ?? "nothing"
                let line = "    \(member) told \(amount)" + (forgotten ? " — forgotten by the promoted replica; grabs again: \(again)" : "")
                if forgotten { board.bad(line) } else { board.say(line) }
            }
            for (member, amount) in outcome.toldAgain.sorted(by: { $0.key < $1.key }) where outcome.told[member] == nil {
                board.dim("    \(member) had no answer (its grab timed out in the failover); grabs again: \(amount)")
            }
            let total = model.spec.total
            if outcome.lost.isEmpty {
                board.good("    nothing acknowledged was lost; callers were told \(outcome.toldTotal) of the packet's \(total)")
            } else {
                board.bad("    \(outcome.lost.count) acknowledged grabs lost; callers were told \(outcome.toldTotal) of a packet of \(total)")
                lostByMaster = outcome.lost.count
            }
            board.pause()
        }
        board.say("")
        board.say("""
            The price of WAIT: each acknowledgement waits for the replica, one more round trip (master → replica → \
            master) — measured on this machine in Benchmarks/README.md (bench --durable against plain). A caller whose \
            grab timed out in the failover loses nothing either: its retry answers with the share it holds, or a new one.
            """)
        return "acknowledged by the master alone, \(lostByMaster) of 5 grabs were forgotten by the failover and paid again; with WAIT 1, none"
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values: [T] = []
        for element in self { values.append(try await transform(element)) }
        return values
    }
}

/// A lesson that could not show what it teaches, with why.
public struct ClassroomError: Error, CustomStringConvertible {
    /// What went wrong, in one line.
    public let description: String

    init(_ description: String) { self.description = description }
}

/// What lesson 6 needs of a store that processes share (a Redis server): an engine on it, and the lines that make
/// its grab one atomic step. The command line makes it (`hongbao-classroom --redis`), so the lessons themselves
/// link no client library.
public struct SharedStore: Sendable {
    /// Connects an engine to the store. - Throws: why it cannot (the lesson is then skipped, saying so).
    public let connect: @Sendable () throws -> any GrabEngine
    /// The lines of the store's grab that make the check and the act one step, shown on the board.
    public let atomicStep: String

    /// A store reached by `connect`, whose grab's atomic step is `atomicStep`.
    public init(connect: @escaping @Sendable () throws -> any GrabEngine, atomicStep: String) {
        self.connect = connect
        self.atomicStep = atomicStep
    }
}
