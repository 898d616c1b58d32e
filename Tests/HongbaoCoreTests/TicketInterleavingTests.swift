import Dispatch
import Foundation
@testable import HongbaoCore
import Testing

/// The ticket engine's races, forced: a grab stopped at a chosen point of its path (`GrabPoint`) while the test
/// closes the packet, sells it out or sends the member's twin grab — each interleaving every time, not when the
/// scheduler happens to produce it. (Debug builds only: the pauses are compiled out of release grabs.)
@Suite("The ticket engine's interleavings, forced")
struct TicketInterleavingTests {
    static let spec = try! PacketSpec(total: 500, shares: 5)
    static let group = Group(range: 1 ... 9)
    static let seed: UInt64 = 7
    static let amounts = RedPacket.split(spec, seed: seed)

    /// Stops the grabs of one member at one point until the test lets them go. Other members and other points pass.
    final class Gate: Sendable {
        let point: GrabPoint
        let member: MemberID
        let arrived = DispatchSemaphore(value: 0)
        let resume = DispatchSemaphore(value: 0)

        init(at point: GrabPoint, for member: MemberID) { (self.point, self.member) = (point, member) }

        @Sendable func pause(_ at: GrabPoint, _ who: MemberID) {
            guard at == point && who == member else { return }
            arrived.signal()
            resume.wait()
        }
    }

    /// A fresh engine with one packet, and `member`'s grab started on a thread of its own and stopped at `point`
    /// (returned once it is there): the gate that lets it go, and its receipt once it answers.
    static func grabStopped(at point: GrabPoint, member: MemberID)
        throws -> (engine: LockFreeEngine, packet: PacketID, gate: Gate, answer: WriteOnceBox<GrabReceipt>)
    {
        let gate = Gate(at: point, for: member)
        let engine = LockFreeEngine(pausing: gate.pause)
        let packet = try engine.send(spec, to: group, seed: seed)
        let answer = grabOnThread(engine, packet, for: member)
        gate.arrived.wait()
        return (engine, packet, gate, answer)
    }

    /// A grab on a thread of its own; its receipt once it answers.
    static func grabOnThread(_ engine: LockFreeEngine, _ packet: PacketID, for member: MemberID) -> WriteOnceBox<GrabReceipt> {
        let answer = WriteOnceBox<GrabReceipt>()
        Thread { answer.set(try? engine.grabReceipt(packet, for: member)) }.start()
        return answer
    }

    @Test("a ticket taken after the close wins nothing: the grab hears expired, the refund is the whole packet")
    func aLateTicketWinsNothing() throws {
        let (engine, packet, gate, late) = try Self.grabStopped(at: .claimed, member: 3)
        // member 3 holds its claim, not yet a ticket
        #expect(try engine.expire(packet) == .refunded(500))
        gate.resume.signal()
        #expect(late.wait() == GrabReceipt(.expired))
        let summary = try engine.summary(of: packet)
        #expect(summary.grabs.isEmpty && summary.refund == 500 && summary.balance == 500)
        #expect(try engine.grab(packet, for: 3) == .expired, "the member's retry hears what its grab heard")
    }

    @Test("a ticket taken after the last share wins nothing: sold out, and the shares are the others'")
    func aTicketPastTheLastShareWinsNothing() throws {
        let (engine, packet, gate, late) = try Self.grabStopped(at: .claimed, member: 9)
        for member in 1 ... 5 {
            #expect(try engine.grabReceipt(packet, for: MemberID(UInt32(member)))
                == GrabReceipt(.granted(Self.amounts[member - 1]), seq: member))
        }
        gate.resume.signal()
        #expect(late.wait() == GrabReceipt(.soldOut))
        let summary = try engine.summary(of: packet)
        #expect(summary.grabs.map(\.member) == [1, 2, 3, 4, 5] && summary.paid == 500 && summary.balance == 0)
    }

    @Test("a member's twin grab waits for the first and hears its share: granted once, already grabbed after")
    func aTwinGrabHearsTheFirstOnesShare() throws {
        let (engine, packet, gate, first) = try Self.grabStopped(at: .ticketed, member: 3)
        // share 1 is member 3's ticket; its record is not written
        let twin = Self.grabOnThread(engine, packet, for: 3)
        // The twin cannot answer while the first grab's record is missing: had it answered, it could only have
        // said something other than the share the first grab is about to be granted.
        #expect(!twin.wait(upTo: .milliseconds(200)), "the twin answered before the first grab wrote its record")
        gate.resume.signal()
        #expect(first.wait() == GrabReceipt(.granted(Self.amounts[0]), seq: 1))
        #expect(twin.wait() == GrabReceipt(.alreadyGrabbed(Self.amounts[0]), seq: 1))
        #expect(try engine.summary(of: packet).grabs.map(\.member) == [3])
    }

    @Test("the twin of a grab whose ticket comes after the close hears expired too: one member, one answer")
    func theTwinOfALateGrabHearsExpired() throws {
        let (engine, packet, gate, first) = try Self.grabStopped(at: .claimed, member: 3)
        #expect(try engine.expire(packet) == .refunded(500))
        let twin = Self.grabOnThread(engine, packet, for: 3)
        #expect(twin.wait() == GrabReceipt(.expired))   // the claim is set, no share taken, the packet closed
        gate.resume.signal()
        #expect(first.wait() == GrabReceipt(.expired))
        #expect(try engine.summary(of: packet).grabs.isEmpty)
    }

    @Test("a close between a ticket and its record counts the share as taken: the refund leaves it out, the record comes")
    func aCloseBetweenTicketAndRecordCountsTheShare() throws {
        let (engine, packet, gate, first) = try Self.grabStopped(at: .ticketed, member: 3)
        #expect(try engine.expire(packet) == .refunded(500 - Self.amounts[0]))
        #expect(try engine.grab(packet, for: 4) == .expired)
        gate.resume.signal()
        #expect(first.wait() == GrabReceipt(.granted(Self.amounts[0]), seq: 1))
        let summary = try engine.summary(of: packet)
        #expect(summary.grabs.map(\.member) == [3])
        #expect(summary.paid + summary.refund! == 500 && summary.refund == 500 - Self.amounts[0])
    }
}
