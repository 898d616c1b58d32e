@_spi(Harness) import HongbaoCore
import HongbaoTestSupport
import Synchronization
import Testing

/// Many threads released together from one barrier race many members over many packets, with more grabbers
/// than shares, retries, and an expirer racing the grabbers. Every invariant is then checked exactly; nothing is
/// timed. These are the tests `scripts/tsan.sh` runs under ThreadSanitizer.
@Suite("Contention")
struct ContentionTests {
    static let threads = 4
    static let packets = TestEnvironment.longTests ? 2_000 : 120
    static let groupSize = 48

    /// The engines driven from threads — under ThreadSanitizer too: the lock-free engine's atomics are compiled into
    /// this module and instrumented, and the mutex engine's locks are pthread mutexes, which TSan sees.
    static let threadedEngines: [EngineKind] = [.lockFree, .mutex]

    static func race(_ engine: some GrabEngine, packets: [PacketID]) -> [ObservedGrab] {
        GrabRace.run(engine, packets: packets, members: 1 ... UInt32(groupSize), threads: threads)
    }

    static func sendPackets(_ engine: some GrabEngine, algorithms: [SplitAlgorithm]) throws -> [PacketID] {
        try GrabRace.sendPackets(engine, count: packets, members: 1 ... UInt32(groupSize), algorithms: algorithms)
    }

    @Test(arguments: threadedEngines)
    func concurrentGrabsNeverOversellNorPayTwice(on kind: EngineKind) throws {
        let engine = try #require(kind.makeNonBlocking())
        let packets = try Self.sendPackets(engine, algorithms: [.doubleMeanAtGrab, .doubleMean, .lineCutting, .shuffled])
        let observed = Self.race(engine, packets: packets)
        let violations = try GrabRace.violations(engine, packets: packets, observed: observed)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        for packet in packets { #expect(try engine.expire(packet) == .refunded(.zero)) }
    }

    @Test(arguments: threadedEngines)
    func anExpirerRacingTheGrabbersStillBalancesEveryPacket(on kind: EngineKind) throws {
        let engine = try #require(kind.makeNonBlocking())
        let packets = try Self.sendPackets(engine, algorithms: [.doubleMeanAtGrab, .shuffled])
        let refunds = Mutex<[PacketID: Fen]>([:])
        let observed = runThreads(3) { thread -> [ObservedGrab] in
            if thread == 0 {
                for packet in packets.reversed() {
                    let outcome = try! engine.expire(packet)
                    guard case .refunded(let refund) = outcome else { fatalError("refunded twice: \(outcome)") }
                    refunds.withLock { $0[packet] = refund }
                }
                return []
            }
            return packets.flatMap { packet in
                (1 ... UInt32(Self.groupSize)).map { raw in
                    ObservedGrab(packet: packet, member: MemberID(raw), outcome: try! engine.grab(packet, for: MemberID(raw)))
                }
            }
        }.flatMap { $0 }
        let byPacket = Dictionary(grouping: observed, by: \.packet)
        for packet in packets {
            let summary = try engine.summary(of: packet)
            #expect(PacketFindings(summary, observed: byPacket[packet] ?? []).violations == [])
            #expect(summary.paid + refunds.withLock({ $0[packet]! }) == summary.total, "shares + refund == total")
            #expect(try engine.expire(packet) == .alreadyRefunded(summary.balance))
        }
    }

    @Test func theSameMemberGrabbingFromTwoThreadsIsPaidOnce() throws {
        let engine = LockFreeEngine()
        let group = Group(range: 1 ... 64)
        let packets = try (0 ..< 200).map { try engine.send(try PacketSpec(total: 64_00, shares: 32), to: group, seed: UInt64($0)) }
        // Both threads grab the same members in the same order, so every grab is contested by its own twin.
        let observed = runThreads(2) { _ in
            packets.flatMap { packet in
                (1 ... UInt32(64)).map { ObservedGrab(packet: packet, member: MemberID($0), outcome: try! engine.grab(packet, for: MemberID($0))) }
            }
        }.flatMap { $0 }
        let byPacket = Dictionary(grouping: observed, by: \.packet)
        for packet in packets {
            #expect(PacketFindings(try engine.summary(of: packet), observed: byPacket[packet]!).violations == [])
        }
    }

    /// Packets are published while other threads grab: every lookup finds either nothing (not yet sent) or a
    /// complete packet — the arena's releasing publish and acquiring lookup.
    @Test(arguments: threadedEngines)
    func packetsSentWhileOthersGrabAreSeenWhole(on kind: EngineKind) throws {
        let engine = kind.makeNonBlocking()!
        let group = Group(range: 1 ... UInt32(Self.groupSize))
        let perThread = 300
        let observed = runThreads(Self.threads) { thread in
            var seen: [ObservedGrab] = []
            for index in 0 ..< perThread {
                let packet = try! engine.send(try! PacketSpec(total: 3_000, shares: 3), to: group, seed: UInt64(thread * perThread + index))
                // Grab this thread's packet and whatever ids the other threads may just have published.
                for raw in [packet.rawValue, packet.rawValue &+ 1, packet.rawValue &+ 2] {
                    let member = MemberID(UInt32(1 + (index + thread) % Self.groupSize))
                    if let outcome = try? engine.grab(PacketID(raw), for: member) {
                        seen.append(ObservedGrab(packet: PacketID(raw), member: member, outcome: outcome))
                    }
                }
            }
            return seen
        }.flatMap { $0 }
        let byPacket = Dictionary(grouping: observed, by: \.packet)
        #expect(byPacket.count > perThread, "threads grabbed each other's packets")
        for raw in 0 ..< UInt64(Self.threads * perThread) {
            let packet = PacketID(raw)
            #expect(PacketFindings(try engine.summary(of: packet), observed: byPacket[packet] ?? []).violations == [])
        }
    }

    @Test func concurrentTasksOnTheActorEngineNeverOversell() async throws {
        let engine = ActorEngine()
        let group = Group(range: 1 ... UInt32(Self.groupSize))
        var packets: [PacketID] = []
        for index in 0 ..< 40 {
            packets.append(try await engine.send(try PacketSpec(total: 2_000, shares: 1 + index % 20), to: group, seed: UInt64(index)))
        }
        let observed = try await withThrowingTaskGroup(of: ObservedGrab.self) { tasks in
            for packet in packets {
                for raw in 1 ... UInt32(Self.groupSize) {
                    for _ in 0 ..< 2 {
                        tasks.addTask { ObservedGrab(packet: packet, member: MemberID(raw), outcome: try await engine.grab(packet, for: MemberID(raw))) }
                    }
                }
            }
            return try await tasks.reduce(into: []) { $0.append($1) }
        }
        let byPacket = Dictionary(grouping: observed, by: \.packet)
        for packet in packets {
            let summary = try await engine.summary(of: packet)
            #expect(PacketFindings(summary, observed: byPacket[packet]!).violations == [])
            #expect(summary.grabs.count == summary.shares)
        }
    }
}
