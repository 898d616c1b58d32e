import Benchmark
import Foundation
import HongbaoCore
import Synchronization

/// Grabs per second of each in-process engine: one hot packet and many packets, 1 and 2 threads.
///
/// "One hot packet": every thread grabs from the same packet at the same time, member after member, until it is
/// sold out, then all move to the next — as `limits/grab.c cas` refills its one packet. "Many packets": each
/// thread has packets of its own (`sharded-cas`). Packets are WeChat-sized (100 shares, a group of 500) and are
/// sent before the measurement starts. The count is successful grabs; a thread's losing grab on a sold-out packet
/// (one per packet per thread) is work done but not counted.
///
/// `PackedState CAS` is the engine's compute-at-grab step alone — the loop of `grab.c cas`, in Swift — so the
/// cost of the engine around it (lookup, membership, the claim bit, the record) can be read off as a ratio.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        timeUnits: .nanoseconds,   // per grab (the scaling factor divides by the grabs of an iteration)
        warmupIterations: 1,
        scalingFactor: .mega,
        maxDuration: .seconds(3),
        maxIterations: 8
    )
    let grabsPerIteration = 1_000_000

    for threads in [1, 2] {
        Benchmark("PackedState CAS, one word, \(threads) thread(s)") { benchmark in
            let word = SharedWord()
            benchmark.startMeasurement()
            runThreads(threads) { thread in
                word.grab(count: grabsPerIteration / threads, seed: UInt64(thread + 1))
            }
        }
        for engine in EngineUnderTest.allCases {
            Benchmark("\(engine.rawValue), one hot packet, \(threads) thread(s)") { benchmark in
                let fixture = try! Fixture(engine, packets: grabsPerIteration / Fixture.shares)
                benchmark.startMeasurement()
                runThreads(threads) { thread in
                    for packet in fixture.packets { fixture.grabAll(packet, thread: thread, of: threads) }
                }
                benchmark.stopMeasurement()
                fixture.verify()
            }
            Benchmark("\(engine.rawValue), many packets, \(threads) thread(s)") { benchmark in
                let fixture = try! Fixture(engine, packets: grabsPerIteration / Fixture.shares)
                benchmark.startMeasurement()
                runThreads(threads) { thread in
                    for (index, packet) in fixture.packets.enumerated() where index % threads == thread {
                        fixture.grabAll(packet, thread: 0, of: 1)
                    }
                }
                benchmark.stopMeasurement()
                fixture.verify()
            }
        }
    }
}

enum EngineUnderTest: String, CaseIterable {
    case lockFree = "lock-free"
    case mutex
    case racy = "racy (unsafe)"

    func make(capacity: Int) -> any GrabEngine {
        switch self {
        case .lockFree: LockFreeEngine(capacity: capacity)
        case .mutex: MutexEngine(capacity: capacity)
        case .racy: UnsafeRacyEngine(capacity: capacity)
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

    init(_ kind: EngineUnderTest, packets count: Int) throws {
        let engine = kind.make(capacity: count + 1)
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
            precondition(summary.grabs.count == Self.shares && summary.paid == summary.total,
                         "benchmark run broke an invariant on \(packet)")
        }
    }
}

/// One packed (count, balance) word refilled when emptied: `grab.c cas` in Swift.
final class SharedWord: Sendable {
    let word = Atomic<UInt64>(PackedState(remaining: 10, balance: 10_000).rawValue)

    func grab(count: Int, seed: UInt64) {
        let initial = PackedState(remaining: 10, balance: 10_000)
        var random = SplitMix64(seed: seed)
        var sum: Int64 = 0
        for _ in 0 ..< count {
            let r = random.next() >> 16
            var state = PackedState(rawValue: word.load(ordering: .relaxed))
            while true {
                let amount = DoubleMean.share(balance: state.balance, remaining: Int64(state.remaining),
                                              cap: 10_000, random48: r)
                let next = state.remaining == 1 ? initial : state.taking(amount)
                let (won, current) = word.compareExchange(expected: state.rawValue, desired: next.rawValue,
                                                          ordering: .acquiringAndReleasing)
                if won { sum &+= amount; break }
                state = PackedState(rawValue: current)
            }
        }
        blackHole(sum)
    }
}

/// Runs `body(thread)` on `count` threads released together, and waits for all of them.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let arrived = StartBarrier(parties: count)
    let done = DispatchGroup()
    for thread in 0 ..< count {
        done.enter()
        Thread {
            arrived.arriveAndWait()
            body(thread)
            done.leave()
        }.start()
    }
    done.wait()
}
