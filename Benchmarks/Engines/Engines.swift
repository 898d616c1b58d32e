import Benchmark
import Foundation
@_spi(Harness) import HongbaoCore
import Synchronization

/// Grabs per second of each in-process engine: one hot packet and many packets, 1 and 2 threads.
///
/// "One hot packet": every thread grabs from the same packet at the same time, member after member, until it is
/// sold out, then all move to the next — as `limits/grab.c cas` refills its one packet. "Many packets": each
/// thread has packets of its own (`sharded-cas`). Packets are WeChat-sized (100 shares, a group of 500) and are
/// sent before the measurement starts. The count is successful grabs; a thread's losing grab on a sold-out packet
/// (one per packet per thread) is work done but not counted.
///
/// `State-word CAS` is the loop of `grab.c cas` in Swift: a packed (count, balance) word taken by compare-and-swap,
/// the design the engines' fetch-add ticket replaced — beside it, the engine's whole grab (lookup, membership,
/// the claim bit, the ticket, the record) can be read off as a ratio.
/// Thousands of grabs per second, timed around the same interval as the harness's own metrics: the package prints
/// throughput of this scaling in whole millions, too coarse to read a ratio from.
let kiloGrabsPerSecond = BenchmarkMetric.custom("k grabs/s", polarity: .prefersLarger, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, kiloGrabsPerSecond],
        timeUnits: .nanoseconds,   // per grab (the scaling factor divides by the grabs of an iteration)
        warmupIterations: 1,
        scalingFactor: .mega,
        maxDuration: .seconds(3),
        maxIterations: 8
    )
    Benchmark.defaultConfiguration.units = [kiloGrabsPerSecond: .count]   // as measured: no further scaling
    let grabsPerIteration = 1_000_000

    for threads in [1, 2] {
        Benchmark("State-word CAS, one word, \(threads) thread(s)") { benchmark in
            let word = SharedWord()
            measure(benchmark, grabs: grabsPerIteration) {
                runThreads(threads) { thread in
                    word.grab(count: grabsPerIteration / threads, seed: UInt64(thread + 1))
                }
            }
        }
        for mode in FullGrab.Mode.allCases {
            Benchmark("lock-free, fullgrab \(mode.rawValue), \(threads) thread(s)") { benchmark in
                let fixture = try! FullGrab(packets: grabsPerIteration / FullGrab.members)
                measure(benchmark, grabs: grabsPerIteration) {
                    runThreads(threads) { thread in fixture.run(mode, thread: thread, of: threads) }
                }
                fixture.verify()
            }
        }
        for engine in [EngineKind.lockFree, .mutex, .racy] {
            Benchmark("\(engine.rawValue), one hot packet, \(threads) thread(s)") { benchmark in
                let fixture = try! Fixture(engine, packets: grabsPerIteration / Fixture.shares)
                measure(benchmark, grabs: grabsPerIteration) {
                    runThreads(threads) { thread in
                        for packet in fixture.packets { fixture.grabAll(packet, thread: thread, of: threads) }
                    }
                }
                fixture.verify()
            }
            Benchmark("\(engine.rawValue), many packets, \(threads) thread(s)") { benchmark in
                let fixture = try! Fixture(engine, packets: grabsPerIteration / Fixture.shares)
                measure(benchmark, grabs: grabsPerIteration) {
                    runThreads(threads) { thread in
                        for (index, packet) in fixture.packets.enumerated() where index % threads == thread {
                            fixture.grabAll(packet, thread: 0, of: 1)
                        }
                    }
                }
                fixture.verify()
            }
        }
    }
}

/// Packets sent before the measurement, and the check after it that every one sold out exactly.
final class Fixture: Sendable {
    static let shares = 100
    static let group = Group(range: 1 ... 500)
    let engine: any GrabEngine
    let packets: [PacketID]
    let checked: Bool

    init(_ kind: EngineKind, packets count: Int) throws {
        let engine = kind.makeNonBlocking()!
        let spec = try PacketSpec(total: Fen(yuan: 200), shares: Self.shares)
        packets = try (0 ..< count).map { try engine.send(spec, to: Self.group, seed: UInt64($0)) }
        self.engine = engine
        checked = kind != .racy  // the racy engine oversells: that is its point
    }

    /// Grabs for members `thread + 1`, `thread + 1 + threads`, … until the packet is sold out.
    func grabAll(_ packet: PacketID, thread: Int, of threads: Int) {
        var member = UInt32(thread + 1)
        while member <= 500 {
            let outcome = try! engine.grab(packet, for: MemberID(member))
            if outcome == .soldOut { return }
            blackHole(outcome)
            member += UInt32(threads)
        }
    }

    func verify() {
        guard checked else { return }
        for packet in packets {
            let summary = try! engine.summary(of: packet)
            let findings = PacketFindings(summary)
            precondition(findings.isSound && summary.grabs.count == Self.shares && summary.paid == summary.total,
                         "benchmark run broke an invariant on \(packet): \(findings.violations)")
        }
    }
}

/// One packed (count, balance) word refilled when emptied: `grab.c cas` in Swift, with the same packing as the
/// engine's state word (count in bits 40–62, balance in fen in bits 0–39).
final class SharedWord: Sendable {
    static let initial: UInt64 = 10 << 40 | 10_000
    let word = Atomic<UInt64>(SharedWord.initial)

    func grab(count: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var sum: Int64 = 0
        for _ in 0 ..< count {
            let r = random.next() >> 16
            var state = word.load(ordering: .relaxed)
            while true {
                let remaining = Int64(state >> 40), balance = Int64(state & 0xFF_FFFF_FFFF)
                let amount = DoubleMean.share(balance: balance, remaining: remaining, cap: 10_000, random48: r)
                let next = remaining == 1 ? Self.initial : state - (1 << 40) - UInt64(amount)
                let (won, current) = word.compareExchange(expected: state, desired: next, ordering: .acquiringAndReleasing)
                if won { sum &+= amount; break }
                state = current
            }
        }
        blackHole(sum)
    }
}

/// Runs `body` as the measured part of one iteration of `grabs` grabs, and records its thousands of grabs per second.
func measure(_ benchmark: Benchmark, grabs: Int, _ body: () -> Void) {
    benchmark.startMeasurement()
    let start = ContinuousClock.now
    body()
    let elapsed = ContinuousClock.now - start
    benchmark.stopMeasurement()
    benchmark.measurement(kiloGrabsPerSecond, Int((Double(grabs) / (elapsed / .seconds(1)) / 1_000).rounded()))
}

/// `../shared/limits/fullgrab.c` in Swift, through the public API: packets of 100 shares of ¥100.00 to the group of
/// members 1…100, so that every grab wins. hot: thread t grabs members t+1, t+1+T, … of packet k, then packet
/// k+1 (all threads on one packet at once); many: thread t grabs every member of its own packets (k % T == t).
final class FullGrab: Sendable {
    static func makeEngine(_ count: Int) -> LockFreeEngine { LockFreeEngine() }
    enum Mode: String, CaseIterable { case hot, many }
    static let members = 100
    static let group = Group(range: 1 ... UInt32(members))
    let engine: LockFreeEngine
    let packets: [PacketID]

    init(packets count: Int) throws {
        let engine = FullGrab.makeEngine(count)
        let spec = try PacketSpec(total: Fen(10_000), shares: Self.members)
        packets = try (0 ..< count).map { try engine.send(spec, to: Self.group, seed: UInt64($0)) }
        self.engine = engine
    }

    func run(_ mode: Mode, thread: Int, of threads: Int) {
        var won: Int64 = 0
        switch mode {
        case .hot:
            for packet in packets {
                for member in stride(from: thread + 1, through: Self.members, by: threads) {
                    if case .granted(let amount) = try! engine.grab(packet, for: MemberID(UInt32(member))) { won &+= amount.rawValue }
                }
            }
        case .many:
            for (index, packet) in packets.enumerated() where index % threads == thread {
                for member in 1 ... Self.members {
                    if case .granted(let amount) = try! engine.grab(packet, for: MemberID(UInt32(member))) { won &+= amount.rawValue }
                }
            }
        }
        blackHole(won)
    }

    func verify() {
        for packet in packets {
            let summary = try! engine.summary(of: packet)
            precondition(summary.grabs.count == Self.members && summary.paid == summary.total, "fullgrab broke on \(packet)")
        }
    }
}
