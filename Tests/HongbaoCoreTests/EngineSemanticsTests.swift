import Foundation
import HongbaoCore
import HongbaoTestSupport
import Testing

/// What one caller sees, on every engine: one body, parameterised over the engines.
@Suite("Engine semantics")
struct EngineSemanticsTests {
    static let group = Group(range: 1 ... 20)

    /// The conformance suite every engine runs (`EngineConformance`, also run by the Redis engine's tests).
    static func conformance(_ kind: EngineKind) -> EngineConformance {
        EngineConformance(kind.rawValue) { clock in kind.make(clock: clock) }
    }

    @Test(arguments: EngineKind.correct)
    func grabsRetriesAndSellingOut(on kind: EngineKind) async throws {
        try await Self.conformance(kind).grabsRetriesAndSellingOut()
    }

    @Test(arguments: EngineKind.correct)
    func anExpiryRetriedWithItsKeyHearsRefunded(on kind: EngineKind) async throws {
        try await Self.conformance(kind).anExpiryRetriedWithItsKeyHearsRefunded()
    }

    @Test(arguments: EngineKind.correct)
    func expiryRefundsExactlyOnceInEveryState(on kind: EngineKind) async throws {
        try await Self.conformance(kind).expiryRefundsExactlyOnceInEveryState()
    }

    @Test(arguments: EngineKind.correct)
    func everyEngineAnswersByTheSameRuleAfterTheDeadline(on kind: EngineKind) async throws {
        try await Self.conformance(kind).theOutcomeRuleAfterTheDeadline()
    }

    @Test(arguments: EngineKind.correct)
    func receiptsCarryTheSeqOfTheShareHeld(on kind: EngineKind) async throws {
        try await Self.conformance(kind).receiptsCarryTheSeqOfTheShareHeld()
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
