import HongbaoCore
import HongbaoSimulator
import HongbaoTestSupport
import Synchronization
import Testing

@Suite("Driver")
struct DriverTests {
    static let workload = Workload(population: Population(members: 5_000, seed: 1), packets: 600, seed: 2)

    /// Under ThreadSanitizer without the mutex engine (see `TestEnvironment.underThreadSanitizer`).
    static let engines = TestEnvironment.underThreadSanitizer ? ["lock-free", "actor"] : ["lock-free", "mutex", "actor"]

    @Test(arguments: engines)
    func aClosedLoopRunIsCorrectOnEveryEngine(_ name: String) throws {
        let target: EngineUnderTest = switch name {
        case "lock-free": .synchronous(LockFreeEngine(capacity: 1_000))
        case "mutex": .synchronous(MutexEngine(capacity: 1_000))
        default: .asynchronous(ActorEngine())
        }
        let measurement = try Driver(threads: 3).run(Self.workload, on: target)
        #expect(measurement.attemptsRun == Self.workload.attempts.count)
        #expect(measurement.codes.allSatisfy { $0 != GrabCode.notRun.rawValue })
        #expect(measurement.histogram.totalCount == UInt64(Self.workload.attempts.count))
        var rows = 0
        let verdict = try Audit.run(Self.workload, measurement, on: target.blocking) { account in
            rows += account.summary.grabs.count
            #expect(account.latencies.count == account.summary.grabs.count)
        }
        #expect(verdict.passed, "\(verdict.summary)")
        #expect(verdict.grabs == measurement.count(.granted) && rows == verdict.grabs)
        #expect(verdict.paidFen + verdict.refundFen == verdict.totalFen)
        #expect(measurement.count(.notMember) > 0 && measurement.count(.soldOut) > 0 && measurement.count(.alreadyGrabbed) > 0)
    }

    @Test func anOpenLoopKeepsToItsSchedule() throws {
        let small = Workload(population: Population(members: 1_000, seed: 1), packets: 40, seed: 2)
        let rate = 20_000.0
        let measurement = try Driver(threads: 2, schedule: .open(perSecond: rate)).run(small, on: .synchronous(LockFreeEngine(capacity: 100)))
        #expect(measurement.attemptsRun == small.attempts.count)
        // Grab i is not started before start + i / rate, so the run cannot end before the last one fell due.
        #expect(measurement.grabTime >= .nanoseconds(Int64(Double(small.attempts.count - 1) / rate * 1e9)))
    }

    @Test func aTimeLimitStopsTheRun() throws {
        let measurement = try Driver(threads: 2, timeLimit: .zero).run(Self.workload, on: .synchronous(LockFreeEngine(capacity: 1_000)))
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
    let base = LockFreeEngine(capacity: 1_000)
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
    func summary(of packet: PacketID) throws -> PacketSummary { try base.summary(of: packet) }
}
