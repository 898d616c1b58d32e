import Foundation
@_spi(Harness) import HongbaoCore
import Synchronization

/// Rounds of a real race: threads released together grab from one fresh packet of 5 shares each round.
///
/// The threads stay alive between rounds and wait on a round counter, so a round costs microseconds and the
/// grabs of one round really overlap — what makes a race window a few nanoseconds wide show up at all.
enum RaceRounds {
    static let threads = 4
    static let grabbersPerThread = 4
    static let maxRounds = 200_000

    enum Goal { case oversold, rounds(Int) }

    struct Result {
        var rounds = 0
        var oversoldRounds = 0
        var firstOversold: PacketSummary?
    }

    /// Runs rounds until `goal`: an oversell (or `timeLimit`, or `maxRounds`), or a number of rounds.
    static func run(_ engine: any GrabEngine, until goal: Goal, seed: UInt64, timeLimit: Duration = .seconds(4)) throws -> Result {
        let group = Group(range: 1 ... UInt32(threads * grabbersPerThread))
        let spec = try PacketSpec(total: 500, shares: 5)
        let limit: Int = switch goal { case .oversold: maxRounds; case .rounds(let count): count }
        var result = Result()
        let state = RoundState()
        try runThreads(threads) { thread in
            var seen = 0
            while true {
                var current = state.round.load(ordering: .acquiring)
                var spins = 0
                while current == seen && !state.quit.load(ordering: .acquiring) {
                    spins += 1
                    // More threads than cores: a waiter that only spins holds a core the others need to
                    // finish the round (a scheduler tick, milliseconds, per round); give it up instead.
                    if spins % 64 == 0 { sched_yield() }
                    current = state.round.load(ordering: .acquiring)
                }
                if state.quit.load(ordering: .acquiring) { break }
                seen = current
                let packet = PacketID(state.packetID.load(ordering: .acquiring))
                for k in 0 ..< grabbersPerThread {
                    _ = try? engine.grab(packet, for: MemberID(UInt32(1 + thread * grabbersPerThread + k)))
                }
                state.finished.add(1, ordering: .releasing)
            }
        } meanwhile: { _ in
            defer { state.quit.store(true, ordering: .releasing) }   // the threads leave before runThreads returns
            let deadline = ContinuousClock.now + timeLimit
            while result.rounds < limit {
                let packet = try engine.send(spec, to: group, seed: seed &+ UInt64(result.rounds))
                state.packetID.store(packet.rawValue, ordering: .releasing)
                state.finished.store(0, ordering: .relaxed)
                state.round.add(1, ordering: .acquiringAndReleasing)   // release: the packet id is stored first
                var spins = 0
                while state.finished.load(ordering: .acquiring) < threads {
                    spins += 1
                    if spins % 64 == 0 { sched_yield() }
                }
                result.rounds += 1
                let summary = try engine.summary(of: packet)
                if summary.grabs.count > spec.shares {
                    result.oversoldRounds += 1
                    if result.firstOversold == nil { result.firstOversold = summary }
                    if case .oversold = goal { break }
                }
                if case .oversold = goal, ContinuousClock.now > deadline { break }
            }
        }
        return result
    }
}

/// A pause between the racy engine's check and its act (its `window`), widened step by step when the race has not
/// shown: on a busy machine — other work on every core — the few nanoseconds between the two steps rarely overlap,
/// and a longer window stands in for what a preemption or an interrupt at that moment does.
final class RaceWindow: Sendable {
    /// The widths tried, in order: none (the engine as it is), then wider and wider.
    static let widths: [Duration] = [.zero, .microseconds(1), .microseconds(10), .microseconds(100), .milliseconds(1), .milliseconds(10)]
    private let nanoseconds = Atomic<Int64>(0)

    /// The pause each grab makes between its check and its act.
    var width: Duration {
        get { .nanoseconds(nanoseconds.load(ordering: .relaxed)) }
        set { nanoseconds.store(newValue.nanosecondsSaturated, ordering: .relaxed) }   // set between rounds
    }

    /// Pauses for `width`: spinning while it is shorter than a sleep's own cost, sleeping beyond.
    func pause() {
        let width = nanoseconds.load(ordering: .relaxed)
        guard width > 0 else { return }
        if width >= 50_000 {
            usleep(useconds_t(width / 1000))
        } else {
            let end = ContinuousClock.now + .nanoseconds(width)
            while ContinuousClock.now < end {}
        }
    }

    static func describe(_ width: Duration) -> String {
        let nanoseconds = width.nanosecondsSaturated
        return nanoseconds >= 1_000_000 ? "\(nanoseconds / 1_000_000) ms" : "\(nanoseconds / 1000) µs"
    }
}

/// The shared counters of `RaceRounds` (atomics live in a class, not in closures).
final class RoundState: Sendable {
    let round = Atomic<Int>(0)
    let finished = Atomic<Int>(0)
    let packetID = Atomic<UInt64>(0)
    let quit = Atomic<Bool>(false)
}

/// How many compare-and-swap retries contention causes: the lock-free engine's step, with a counter.
enum CASRetries {
    static func measure(grabs: Int, threads: Int) -> (grabs: Int, retries: Int, perGrab: Double) {
        let word = CountedWord()
        runThreads(threads) { thread in word.grab(count: grabs / threads, seed: UInt64(thread + 1)) }
        let retries = word.retries.load(ordering: .relaxed)
        return (grabs, retries, Double(retries) / Double(grabs))
    }
}

final class CountedWord: Sendable {
    static let initial = PackedState(remaining: 10, balance: 10_000)
    let word = Atomic<UInt64>(CountedWord.initial.rawValue)
    let retries = Atomic<Int>(0)

    func grab(count: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var failed = 0
        for _ in 0 ..< count {
            let r = random.next() >> 16
            var state = PackedState(rawValue: word.load(ordering: .relaxed))
            while true {
                let amount = DoubleMean.share(balance: state.balance, remaining: Int64(state.remaining), cap: 10_000, random48: r)
                let next = state.remaining == 1 ? Self.initial : state.taking(amount)   // refill an emptied packet
                let (won, current) = word.compareExchange(expected: state.rawValue, desired: next.rawValue,
                                                          ordering: .acquiringAndReleasing)
                if won { break }
                failed += 1
                state = PackedState(rawValue: current)
            }
        }
        retries.add(failed, ordering: .relaxed)
    }
}

/// Grabs per second of engines on hot packets (100 shares, a group of 500), 2 threads, measured one after another.
enum Throughput {
    static func compare(_ engines: [any GrabEngine], packets: Int) throws -> [(String, Double)] {
        try engines.map { ($0.name, try measure($0, packets: packets)) }
    }

    static func measure(_ engine: any GrabEngine, packets count: Int) throws -> Double {
        // A group of 500 and 100 shares, each thread grabbing for every other member until the packet sells out:
        // both threads stay on one packet until it is gone, so the two really contend (with a group no bigger than
        // the shares, a thread would leave after its half and the two would drift apart, onto different packets).
        let group = Group(range: 1 ... 500)
        let packets = try (0 ..< count).map { try engine.send(try PacketSpec(total: 100_00, shares: 100), to: group, seed: UInt64($0)) }
        var start = ContinuousClock.now
        let won = runThreads(2) { half in   // the clock starts at the release
            var won = 0
            for packet in packets {
                for member in stride(from: UInt32(1 + half), through: 500, by: 2) {
                    let outcome = try? engine.grab(packet, for: MemberID(member))
                    if case .granted = outcome { won += 1 } else if outcome == .soldOut { break }
                }
            }
            return won
        } meanwhile: { _ in
            start = ContinuousClock.now
        }
        return Double(won.reduce(0, +)) / ((ContinuousClock.now - start) / .seconds(1))
    }

    static func format(_ rate: Double) -> String {
        rate >= 1e6 ? String(format: "%.1f M", rate / 1e6) : String(format: "%.0f k", rate / 1e3)
    }
}
