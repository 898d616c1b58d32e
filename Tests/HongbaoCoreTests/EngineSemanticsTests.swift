import Foundation
import HongbaoCore
import HongbaoTestSupport
import Testing

/// What one caller sees, on every engine: one body, parameterised over the engines.
@Suite("Engine semantics")
struct EngineSemanticsTests {
    static let group = Group(range: 1 ... 20)

    @Test(arguments: EngineKind.correct)
    func grabsRetriesAndSellingOut(on kind: EngineKind) async throws {
        let engine = kind.make()
        let spec = try PacketSpec(total: 100_00, shares: 3)
        let packet = try await engine.send(spec, to: Self.group, seed: 42)
        let expected = RedPacket.split(spec, seed: 42)
        var outcomes: [ObservedGrab] = []
        for member in [MemberID(1), 2, 3] {
            let outcome = try await engine.grab(packet, for: member)
            outcomes.append(ObservedGrab(packet: packet, member: member, outcome: outcome))
        }
        #expect(outcomes.map(\.outcome) == expected.map { GrabOutcome.granted($0) })
        #expect(try await engine.grab(packet, for: 2) == .alreadyGrabbed(expected[1]))
        #expect(try await engine.grab(packet, for: 4) == .soldOut)
        #expect(try await engine.grab(packet, for: 4) == .soldOut)
        #expect(try await engine.grab(packet, for: 99) == .notMember)
        let summary = try await engine.summary(of: packet)
        #expect(summary.grabs.map(\.member) == [1, 2, 3])
        #expect(summary.balance == .zero && summary.refund == nil)
        #expect(PacketFindings(summary, observed: outcomes).violations == [])
        #expect(try await engine.expire(packet) == .refunded(.zero))
    }

    /// A keyed expiry retried with its key hears `.refunded` with the same amount, on every engine, also when
    /// many callers race with the same and other keys: exactly the callers holding the refunding call's key hear it.
    @Test(arguments: EngineKind.correct)
    func anExpiryRetriedWithItsKeyHearsRefunded(on kind: EngineKind) async throws {
        let engine = kind.make()
        let packet = try await engine.send(try PacketSpec(total: 600, shares: 3), to: Self.group, seed: 8)
        let share = try #require(try await engine.grab(packet, for: 1).share)
        let key = try IdempotencyKey("close-\(packet.rawValue)")
        #expect(try await engine.expire(packet, idempotencyKey: key) == .refunded(600 - share))
        #expect(try await engine.expire(packet, idempotencyKey: key) == .refunded(600 - share))
        #expect(try await engine.expire(packet, idempotencyKey: try IdempotencyKey("other")) == .alreadyRefunded(600 - share))
        #expect(try await engine.expire(packet) == .alreadyRefunded(600 - share))

        let raced = try await engine.send(try PacketSpec(total: 600, shares: 3), to: Self.group, seed: 9)
        let keys = try ["a", "b", "a", "b", "a", "b", "a", "b"].map(IdempotencyKey.init)
        let outcomes = try await withThrowingTaskGroup(of: (IdempotencyKey, ExpiryOutcome).self) { tasks in
            for key in keys { tasks.addTask { (key, try await engine.expire(raced, idempotencyKey: key)) } }
            return try await tasks.reduce(into: []) { $0.append($1) }
        }
        let refunding = Set(outcomes.filter { if case .refunded = $0.1 { true } else { false } }.map(\.0))
        #expect(refunding.count == 1, "one key made the refund")
        #expect(outcomes.allSatisfy { $0.1.refund == 600 })
        #expect(outcomes.filter { refunding.contains($0.0) }.count == 4, "every call with that key hears .refunded")
    }

    @Test(arguments: EngineKind.correct)
    func expiryRefundsExactlyOnceInEveryState(on kind: EngineKind) async throws {
        let clock = ManualClock()
        let engine = kind.make(clock: clock)
        let spec = try PacketSpec(total: 10_00, shares: 4, expiry: .seconds(60))
        let untouched = try await engine.send(spec, to: Self.group, seed: 1)
        let partly = try await engine.send(spec, to: Self.group, seed: 2)
        let fully = try await engine.send(spec, to: Self.group, seed: 3)
        let first = try #require(try await engine.grab(partly, for: 5).share)
        for member in [MemberID(1), 2, 3, 4] { _ = try await engine.grab(fully, for: member) }

        clock.advance(by: .seconds(61))
        #expect(try await engine.grab(untouched, for: 1) == .expired)
        #expect(try await engine.grab(partly, for: 5) == .alreadyGrabbed(first), "a winner keeps seeing its share")
        #expect(try await engine.grab(partly, for: 6) == .expired)

        #expect(try await engine.expire(untouched) == .refunded(10_00))
        #expect(try await engine.expire(partly) == .refunded(10_00 - first))
        #expect(try await engine.expire(fully) == .refunded(.zero))
        #expect(try await engine.expire(partly) == .alreadyRefunded(10_00 - first))
        for packet in [untouched, partly, fully] {
            let summary = try await engine.summary(of: packet)
            #expect(summary.refund == summary.balance)
            #expect(PacketFindings(summary).violations == [])
        }
    }

    /// The rule on `GrabOutcome`, after the deadline and after the refund: a sold-out packet stays sold out for
    /// everyone without a share (new members and earlier losers alike); a packet with shares left is expired.
    @Test(arguments: EngineKind.correct)
    func everyEngineAnswersByTheSameRuleAfterTheDeadline(on kind: EngineKind) async throws {
        let clock = ManualClock()
        let engine = kind.make(clock: clock)
        let spec = try PacketSpec(total: 3_00, shares: 3, expiry: .seconds(60))
        let soldOut = try await engine.send(spec, to: Self.group, seed: 5)
        let partly = try await engine.send(spec, to: Self.group, seed: 6)
        var shares: [Fen] = []
        for member in [MemberID(1), 2, 3] { shares.append(try #require(try await engine.grab(soldOut, for: member).share)) }
        #expect(try await engine.grab(soldOut, for: 4) == .soldOut, "member 4 loses before the deadline")
        let partShare = try #require(try await engine.grab(partly, for: 1).share)

        clock.advance(by: .seconds(61))
        for stage in ["after the deadline", "after the refund"] {
            #expect(try await engine.grab(soldOut, for: 5) == .soldOut, "a new member, \(stage)")
            #expect(try await engine.grab(soldOut, for: 4) == .soldOut, "an earlier loser, \(stage)")
            #expect(try await engine.grab(soldOut, for: 2) == .alreadyGrabbed(shares[1]), "a winner, \(stage)")
            #expect(try await engine.grab(soldOut, for: 99) == .notMember, "an outsider, \(stage)")
            #expect(try await engine.grab(partly, for: 5) == .expired, "shares left, \(stage)")
            #expect(try await engine.grab(partly, for: 1) == .alreadyGrabbed(partShare), "a winner, \(stage)")
            if stage == "after the deadline" {
                #expect(try await engine.expire(soldOut) == .refunded(.zero))
                #expect(try await engine.expire(partly) == .refunded(3_00 - partShare))
            }
        }
    }

    /// A receipt carries the seq of the share the member holds — on a grant and on a retry — and none otherwise.
    @Test(arguments: EngineKind.correct)
    func receiptsCarryTheSeqOfTheShareHeld(on kind: EngineKind) async throws {
        let engine = kind.make()
        let packet = try await engine.send(try PacketSpec(total: 300, shares: 2), to: Self.group, seed: 1)
        let first = try await engine.grabReceipt(packet, for: 4)
        let second = try await engine.grabReceipt(packet, for: 9)
        #expect(first.seq == 1 && second.seq == 2 && first.outcome.share != nil)
        #expect(try await engine.grabReceipt(packet, for: 9) == GrabReceipt(.alreadyGrabbed(second.outcome.share!), seq: 2))
        #expect(try await engine.grabReceipt(packet, for: 5) == GrabReceipt(.soldOut))
        #expect(try await engine.grabReceipt(packet, for: 99) == GrabReceipt(.notMember))
    }

    /// A spec decoded from JSON is validated like one built in code: hostile input is refused, never trapped on.
    @Test func decodingAPacketSpecValidatesIt() throws {
        let valid = try PacketSpec(total: 100, shares: 2)
        let encoded = String(decoding: try JSONEncoder().encode(valid), as: UTF8.self)
        #expect(try JSONDecoder().decode(PacketSpec.self, from: Data(encoded.utf8)) == valid)
        for (field, value) in [("\"total\":100", "\"total\":-5"), ("\"total\":100", "\"total\":1"),
                               ("\"total\":100", "\"total\":9999999999999"), ("\"shares\":2", "\"shares\":0")] {
            let hostile = encoded.replacingOccurrences(of: field, with: value)
            #expect(hostile != encoded)
            #expect(throws: DecodingError.self, "\(value)") { _ = try JSONDecoder().decode(PacketSpec.self, from: Data(hostile.utf8)) }
        }
    }

    /// An expiry of 292 years and 0.9 s saturates instead of wrapping to a deadline in the past.
    @Test(arguments: EngineKind.correct)
    func aVeryLongExpiryIsNotExpiredOnArrival(on kind: EngineKind) async throws {
        #expect(Duration.seconds(9_223_372_036).nanosecondsSaturated > 0)
        #expect((Duration.seconds(9_223_372_036) + .milliseconds(900)).nanosecondsSaturated == .max)
        let engine = kind.make(clock: ManualClock())
        let spec = try PacketSpec(total: 100, shares: 1, expiry: .seconds(9_223_372_036) + .milliseconds(900))
        let packet = try await engine.send(spec, to: Self.group, seed: 1)
        #expect(try await engine.grab(packet, for: 1) == .granted(100))
    }

    @Test(arguments: EngineKind.correct)
    func anExpiredPacketRefusesGrabsEvenBeforeItsDeadline(on kind: EngineKind) async throws {
        let engine = kind.make(clock: ManualClock())
        let packet = try await engine.send(try PacketSpec(total: 500, shares: 5), to: Self.group, seed: 9)
        _ = try await engine.grab(packet, for: 1)
        let refund = try await engine.expire(packet).refund
        #expect(try await engine.grab(packet, for: 2) == .expired)
        #expect(try await engine.summary(of: packet).balance == refund)
    }

    @Test(arguments: EngineKind.correct)
    func exclusiveAndEqualPackets(on kind: EngineKind) async throws {
        let engine = kind.make()
        let exclusive = try await engine.send(try PacketSpec(total: 52_00, shares: 1, kind: .exclusive(7)),
                                              to: Self.group, seed: 0)
        #expect(try await engine.grab(exclusive, for: 8) == .notMember)
        #expect(try await engine.grab(exclusive, for: 7) == .granted(52_00))
        await #expect(throws: GrabEngineError.self) {
            _ = try await engine.send(try PacketSpec(total: 1, shares: 1, kind: .exclusive(1_000)), to: Self.group, seed: 0)
        }
        let equal = try await engine.send(try PacketSpec(total: 300, shares: 3, kind: .equal(perShare: 100)),
                                          to: Self.group, seed: 0)
        for member in [MemberID(1), 2, 3] { #expect(try await engine.grab(equal, for: member) == .granted(100)) }
    }

    @Test(arguments: EngineKind.correct)
    func luckiestIsTheLargestShareAndATieGoesToTheEarlierGrab(on kind: EngineKind) async throws {
        let engine = kind.make()
        let equal = try await engine.send(try PacketSpec(total: 300, shares: 3, kind: .equal(perShare: 100)),
                                          to: Self.group, seed: 0)
        for member in [MemberID(9), 4, 6] { _ = try await engine.grab(equal, for: member) }
        #expect(try await engine.summary(of: equal).luckiest?.member == 9)

        let lucky = try await engine.send(try PacketSpec(total: 100_00, shares: 5), to: Self.group, seed: 3)
        for member in (UInt32(1) ... 5).map(MemberID.init(rawValue:)) { _ = try await engine.grab(lucky, for: member) }
        let summary = try await engine.summary(of: lucky)
        let largest = summary.grabs.map(\.amount).max()!
        #expect(summary.luckiest == summary.grabs.first { $0.amount == largest })
    }

    @Test(arguments: EngineKind.correct)
    func unknownPacketsAreErrors(on kind: EngineKind) async throws {
        let engine = kind.make()
        await #expect(throws: GrabEngineError.self) { _ = try await engine.grab(PacketID(12_345), for: 1) }
        await #expect(throws: GrabEngineError.self) { _ = try await engine.expire(PacketID(12_345)) }
        await #expect(throws: GrabEngineError.self) {
            _ = try await engine.send(try PacketSpec(total: 1, shares: 1), to: Group([]), seed: 0)
        }
    }
}
