import HongbaoCore
import HongbaoSimulator
import HongbaoTestSupport
import Synchronization
import Testing

@Suite("Driver")
struct DriverTests {
    static let workload = Workload(population: Population(members: 5_000, seed: 1), packets: 600, seed: 2)

    static let engines = ["lock-free", "mutex", "actor"]

    @Test(arguments: engines)
    func aClosedLoopRunIsCorrectOnEveryEngine(_ name: String) throws {
        let target: DrivenEngine = switch name {
        case "lock-free": .synchronous(LockFreeEngine())
        case "mutex": .synchronous(MutexEngine())
        default: .asynchronous(ActorEngine())
        }
        let measurement = try Driver(threads: 3).run(Self.workload, on: target)
        #expect(measurement.attemptsRun == Self.workload.attempts.count)
        #expect(measurement.codes.allSatisfy { $0 != GrabCode.notRun.rawValue })
        #expect(measurement.histogram.totalCount == UInt64(Self.workload.attempts.count))
        var rows = 0
        let verdict = try Audit.run(Self.workload, measurement, on: target) { account in
            rows += account.summary.grabs.count
            #expect(account.latencies.count == account.summary.grabs.count)
        }
        #expect(verdict.passed, "\(verdict.summary)")
        #expect(verdict.grabs == measurement.count(.granted) && rows == verdict.grabs)
        #expect(verdict.paidFen + verdict.refundFen == verdict.totalFen)
        #expect(measurement.count(.notMember) > 0 && measurement.count(.soldOut) > 0 && measurement.count(.alreadyGrabbed) > 0)
    }

    /// The verdict compares what each caller was told with the engine's records, and each record with the split
    /// of its packet's seed: an engine that tells a caller another amount than it records, tells of a grant it
    /// never records, or splits with another seed than it was given (its money balancing and every caller told
    /// its record: only the recomputed split shows it) fails — whoever wrote it.
    @Test(arguments: [LyingEngine.Lie.wrongAmount, .lostGrant, .unreportedGrant, .reseeded])
    func theVerdictCatchesAnEngineThatLiesToItsCallers(_ lie: LyingEngine.Lie) throws {
        let target = DrivenEngine.synchronous(LyingEngine(lie))
        let measurement = try Driver(threads: 2).run(Self.workload, on: target)
        let verdict = try Audit.run(Self.workload, measurement, on: target) { _ in }
        #expect(!verdict.passed)
        switch lie {
        case .wrongAmount: #expect(verdict.wrongAmounts > 0 && verdict.lostGrants == 0, "\(verdict.summary)")
        case .lostGrant: #expect(verdict.lostGrants > 0, "\(verdict.summary)")
        case .unreportedGrant: #expect(verdict.unreportedGrants > 0, "\(verdict.summary)")
        case .reseeded:
            #expect(verdict.offSplit > 0 && verdict.moneyConserved && verdict.wrongAmounts == 0, "\(verdict.summary)")
            #expect(verdict.summary.contains("shares paid another amount than the packet's split"))
        }
    }

    /// The hot scenario: every packet to the biggest group, its whole group grabs it; every packet sells out.
    @Test func theHotScenarioSellsOutEveryPacket() throws {
        let population = Population(members: 5_000, seed: 1)
        let hot = Workload(population: population, packets: 20, seed: 3, scenario: .hot)
        #expect(hot.packets.allSatisfy { $0.isHot && $0.spec.shares == min(100, population.group(Int($0.group)).count) })
        let target = DrivenEngine.synchronous(LockFreeEngine())
        let measurement = try Driver(threads: 2).run(hot, on: target)
        let verdict = try Audit.run(hot, measurement, on: target) { _ in }
        #expect(verdict.passed && verdict.grabs == hot.packets.reduce(0) { $0 + $1.spec.shares }, "\(verdict.summary)")
    }

    /// The null engine runs the harness alone: every attempt is made and timed, each answered at once.
    /// (That `bench` never audits it as if it had paid anyone: `theNullEngineIsNotAudited` in benchTests.)
    @Test func theNullEngineMeasuresTheHarness() throws {
        let measurement = try Driver(threads: 2).run(Self.workload, on: .synchronous(NullEngine()))
        #expect(measurement.attemptsRun == Self.workload.attempts.count)
        #expect(measurement.count(.granted) == Self.workload.attempts.count)
        #expect(measurement.histogram.totalCount == UInt64(Self.workload.attempts.count))
        #expect(measurement.latencies.count == Self.workload.attempts.count)
    }

    @Test func anOpenLoopKeepsToItsSchedule() throws {
        let small = Workload(population: Population(members: 1_000, seed: 1), packets: 40, seed: 2)
        let rate = 20_000.0
        let measurement = try Driver(threads: 2, schedule: .open(perSecond: rate)).run(small, on: .synchronous(LockFreeEngine()))
        #expect(measurement.attemptsRun == small.attempts.count)
        // Grab i is not started before start + i / rate, so the run cannot end before the last one fell due.
        #expect(measurement.grabTime >= .nanoseconds(Int64(Double(small.attempts.count - 1) / rate * 1e9)))
    }

    @Test func aTimeLimitStopsTheRun() throws {
        let measurement = try Driver(threads: 2, timeLimit: .zero).run(Self.workload, on: .synchronous(LockFreeEngine()))
        #expect(measurement.attemptsRun == 0)
        #expect(measurement.count(.notRun) == Self.workload.attempts.count)
    }

    @Test func anEngineFailureStopsTheRunWithThatError() throws {
        let engine = FailingEngine(failAfter: 500)
        #expect {
            _ = try Driver(threads: 2).run(Self.workload, on: .synchronous(engine))
        } throws: { error in
            (error as? GrabEngineError)?.code == .backend
        }
    }
}

/// A lock-free engine whose grabs fail after a number of calls, as a lost connection would.
final class FailingEngine: GrabEngine {
    let base = LockFreeEngine()
    let calls = Atomic<Int>(0)
    let failAfter: Int
    var name: String { "failing" }

    init(failAfter: Int) { self.failAfter = failAfter }

    func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID { try base.send(spec, to: group, seed: seed) }
    func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        guard calls.add(1, ordering: .relaxed).newValue <= failAfter else {
            throw GrabEngineError(.backend, "connection lost (injected)")
        }
        return try base.grab(packet, for: member)
    }
    func expire(_ packet: PacketID) throws -> ExpiryOutcome { try base.expire(packet) }
    func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        try base.expire(packet, idempotencyKey: idempotencyKey)
    }
    func summary(of packet: PacketID) throws -> PacketSummary { try base.summary(of: packet) }
}

/// A lock-free engine that lies to its callers in one way, for testing the verdict.
final class LyingEngine: GrabEngine {
    enum Lie: Sendable { case wrongAmount, lostGrant, unreportedGrant, reseeded }
    let base = LockFreeEngine()
    let lie: Lie
    var name: String { "lying" }

    init(_ lie: Lie) { self.lie = lie }

    func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try base.send(spec, to: group, seed: lie == .reseeded ? seed &+ 1 : seed)
    }
    func grab(_ packet: PacketID, for member: MemberID) throws -> GrabOutcome {
        let unlucky = member.rawValue % 97 == 0
        switch lie {
        case .lostGrant where unlucky: return .granted(1)   // acknowledged, never recorded
        case .wrongAmount where unlucky:
            if case .granted(let amount) = try base.grab(packet, for: member) { return .granted(amount + 1) }
            return try base.grab(packet, for: member)
        case .unreportedGrant where unlucky:
            if case .granted = try base.grab(packet, for: member) { return .soldOut }   // paid, but told "no"
            return try base.grab(packet, for: member)
        default: return try base.grab(packet, for: member)
        }
    }
    func expire(_ packet: PacketID) throws -> ExpiryOutcome { try base.expire(packet) }
    func expire(_ packet: PacketID, idempotencyKey: IdempotencyKey) throws -> ExpiryOutcome {
        try base.expire(packet, idempotencyKey: idempotencyKey)
    }
    func summary(of packet: PacketID) throws -> PacketSummary { try base.summary(of: packet) }
}
