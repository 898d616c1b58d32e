import Foundation
@_spi(Harness) import HongbaoCore
import HongbaoTestSupport
import Testing

@Suite("The racy engine oversells")
struct RacyEngineTests {
    /// A forced interleaving, not a timing accident: grabber A checks and is held in the window; grabber B checks,
    /// acts and finishes; then A acts. Both saw the last share, so both win it.
    @Test func twoGrabbersBothWinTheLastShare() throws {
        let aChecked = DispatchSemaphore(value: 0), bFinished = DispatchSemaphore(value: 0)
        let engine = UnsafeRacyEngine(window: { member in
            guard member == 1 else { return }
            aChecked.signal()   // A has checked: let B run
            bFinished.wait()    // and hold A in the window until B has taken "its" share
        })
        let packet = try engine.send(try PacketSpec(total: 100, shares: 1), to: Group(range: 1 ... 2), seed: 0)
        let outcomes = runThreads(2) { thread -> GrabOutcome in
            if thread == 0 { return try! engine.grab(packet, for: 1) }
            aChecked.wait()
            let outcome = try! engine.grab(packet, for: 2)
            bFinished.signal()
            return outcome
        }
        #expect(outcomes == [.granted(100), .granted(100)])
        let summary = try engine.summary(of: packet)
        #expect(summary.grabs.count == 2 && summary.paid == 200, "one share paid twice: 1 yuan created")
        #expect(PacketFindings(summary).violations.contains("packet 0: oversold, 2 grabs for 1 shares"))
    }

    /// The same interleaving on the lock-free engine cannot happen: its check and act are one CAS.
    @Test func theSameScheduleOnTheLockFreeEngineSellsOneShare() throws {
        let engine = LockFreeEngine()
        let packet = try engine.send(try PacketSpec(total: 100, shares: 1), to: Group(range: 1 ... 2), seed: 0)
        let outcomes = runThreads(2) { thread in try! engine.grab(packet, for: MemberID(UInt32(thread + 1))) }
        #expect(outcomes.filter { $0.share != nil }.count == 1)
        #expect(outcomes.contains(.soldOut))
    }
}
