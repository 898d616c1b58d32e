import Dispatch
import Foundation
import HongbaoCore
import HongbaoTestSupport
import Synchronization
import Testing

/// One member, two taps at the deadline: the rule on `GrabOutcome` holds — never `.expired` to one call and
/// `.granted` to the other.
@Suite("The deadline race")
struct DeadlineRaceTests {
    /// A clock that stops the first call that reads it — the first tap — until the test opens its gate, and then
    /// tells it a time before the deadline (it read the clock just in time); every other read is after the
    /// deadline. So the first tap read the clock before the deadline but reaches its claim only after the second
    /// tap, which read it after, has answered.
    final class GateClock: PacketClock {
        let deadline: Int64
        private let reads = Atomic<Int>(0)
        let gate = DispatchSemaphore(value: 0)
        let sending = Atomic<Bool>(true)

        init(deadline: Int64) { self.deadline = deadline }

        /// Whether no grab has read the clock yet.
        var gateIsUntouched: Bool { reads.load(ordering: .acquiring) == 0 }

        var nanoseconds: Int64 {
            if sending.load(ordering: .acquiring) { return 0 }   // the send: the packet's deadline is `deadline`
            guard reads.add(1, ordering: .acquiringAndReleasing).oldValue == 0 else { return deadline }
            gate.wait()
            return deadline - 1
        }
    }

    /// The lock-free engine: the second tap seals the packet before it answers `.expired`, so the first, arriving
    /// later with an earlier time, loses too. Deterministic: the second tap runs to its answer before the gate
    /// opens.
    @Test func theLockFreeEngineNeverAnswersOneMemberBothExpiredAndGranted() throws {
        let deadline = Int64(60) * 1_000_000_000
        let clock = GateClock(deadline: deadline)
        let engine = LockFreeEngine(clock: clock)
        let packet = try engine.send(try PacketSpec(total: 500, shares: 5, expiry: .seconds(60)), to: Group(range: 1 ... 9), seed: 1)
        clock.sending.store(false, ordering: .releasing)
        let first = WriteOnceBox<GrabOutcome>()
        let tap = Thread { first.set(try? engine.grab(packet, for: 3)) }
        tap.start()
        while clock.gateIsUntouched { sched_yield() }   // the first tap holds its early time, not yet its claim
        let second = try engine.grab(packet, for: 3)
        clock.gate.signal()
        let firstOutcome = first.wait()
        #expect(second == .expired)
        #expect(firstOutcome == .expired, "the first tap, answered after the second said expired, must not win")
        #expect(try engine.summary(of: packet).grabs.isEmpty)
        #expect(try engine.expire(packet) == .refunded(500), "the seal is not the refund: the sender still hears refunded")
        #expect(try engine.expire(packet) == .alreadyRefunded(500))
    }

    /// The mutex engine reads the clock under the packet's lock: the first tap holds the lock while it reads, so
    /// the second waits and then sees the first one's share — `.granted` then `.alreadyGrabbed`, never `.expired`
    /// beside `.granted`.
    @Test func theMutexEngineNeverAnswersOneMemberBothExpiredAndGranted() throws {
        let deadline = Int64(60) * 1_000_000_000
        let clock = GateClock(deadline: deadline)
        let engine = MutexEngine(clock: clock)
        let packet = try engine.send(try PacketSpec(total: 500, shares: 5, expiry: .seconds(60)), to: Group(range: 1 ... 9), seed: 1)
        clock.sending.store(false, ordering: .releasing)
        let first = WriteOnceBox<GrabOutcome>(), second = WriteOnceBox<GrabOutcome>()
        let tapOne = Thread { first.set(try? engine.grab(packet, for: 3)) }
        tapOne.start()
        while clock.gateIsUntouched { sched_yield() }
        let tapTwo = Thread { second.set(try? engine.grab(packet, for: 3)) }
        tapTwo.start()
        // Give the second tap the chance to answer first — as it can if the clock is read outside the lock — but
        // never wait for it: with the clock read under the lock it waits for the first tap, which waits for the gate.
        _ = second.wait(upTo: .milliseconds(300))
        clock.gate.signal()
        let outcomes = [first.wait(), second.wait()]
        #expect(!(outcomes.contains(.expired) && outcomes.contains { if case .granted = $0 { true } else { false } }),
                "\(outcomes)")
        let summary = try engine.summary(of: packet)
        for outcome in outcomes where outcome?.share != nil { #expect(summary.grabs.map(\.member) == [3], "\(outcomes)") }
    }
}

/// A value one thread sets and another waits for.
final class WriteOnceBox<Value: Sendable>: @unchecked Sendable {   // `lock` guards `value`
    private let lock = NSCondition()
    private var value: Value??

    func set(_ new: Value?) {
        lock.lock()
        value = .some(new)
        lock.broadcast()
        lock.unlock()
    }

    /// Waits at most `limit` for `set`. - Returns: whether it was set.
    func wait(upTo limit: Duration) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let until = Date().addingTimeInterval(limit / .seconds(1))
        while value == nil { if !lock.wait(until: until) { break } }
        return value != nil
    }

    /// Waits until `set`; nil if the call threw.
    func wait() -> Value? {
        lock.lock()
        defer { lock.unlock() }
        while value == nil { lock.wait() }
        return value!
    }
}
