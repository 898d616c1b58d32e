import HongbaoCore
import Testing

/// What one caller sees, owed by every engine: one suite of checks that the in-process engines run
/// (`EngineSemanticsTests`) and the Redis engine runs on a server and on a cluster (`RedisConformanceTests`), so no
/// engine carries a near-copy of its own. Each check sends its own packets to a fresh engine and records its
/// findings as test issues.
public struct EngineConformance: Sendable {
    /// The engine under test, for messages.
    public let name: String
    /// A fresh engine whose deadlines read `clock` (which the checks advance).
    public let make: @Sendable (ManualClock) throws -> any AsyncGrabEngine

    /// The suite for the engines `make` opens, named `name`.
    public init(_ name: String, make: @escaping @Sendable (ManualClock) throws -> any AsyncGrabEngine) {
        self.name = name
        self.make = make
    }

    static let group = Group(range: 1 ... 20)

    /// Grants in seq order with the split's amounts, a retry hears its own share, then sold out for everyone
    /// else, outsiders are not members, and the account shows each winner once.
    public func grabsRetriesAndSellingOut() async throws {
        let engine = try make(ManualClock())
        for algorithm in [SplitAlgorithm.doubleMeanAtGrab, .lineCutting] {
            let spec = try PacketSpec(total: 100_00, shares: 3, algorithm: algorithm)
            let packet = try await engine.send(spec, to: Self.group, seed: 42)
            let expected = RedPacket.split(spec, seed: 42)
            var outcomes: [ObservedGrab] = []
            for member in [MemberID(1), 2, 3] {
                outcomes.append(ObservedGrab(packet: packet, member: member, outcome: try await engine.grab(packet, for: member)))
            }
            #expect(outcomes.map(\.outcome) == expected.map { GrabOutcome.granted($0) }, "\(name), \(algorithm)")
            #expect(try await engine.grab(packet, for: 2) == .alreadyGrabbed(expected[1]), "\(name)")
            #expect(try await engine.grab(packet, for: 4) == .soldOut, "\(name)")
            #expect(try await engine.grab(packet, for: 4) == .soldOut, "\(name): a loser retrying")
            #expect(try await engine.grab(packet, for: 99) == .notMember, "\(name)")
            let summary = try await engine.summary(of: packet)
            #expect(summary.grabs.map(\.member) == [1, 2, 3] && summary.grabs.map(\.seq) == [1, 2, 3], "\(name)")
            #expect(summary.balance == .zero && summary.refund == nil, "\(name)")
            #expect(PacketFindings(summary, observed: outcomes).violations == [], "\(name)")
            #expect(try await engine.expire(packet) == .refunded(.zero), "\(name)")
        }
    }

    /// A keyed expiry retried with its key hears `.refunded` with the same amount, also when many callers race
    /// with the same and other keys: exactly the callers holding the refunding call's key hear it.
    public func anExpiryRetriedWithItsKeyHearsRefunded() async throws {
        let engine = try make(ManualClock())
        let packet = try await engine.send(try PacketSpec(total: 600, shares: 3), to: Self.group, seed: 8)
        let share = try #require(try await engine.grab(packet, for: 1).share)
        let key = try IdempotencyKey("close-\(packet.rawValue)")
        #expect(try await engine.expire(packet, idempotencyKey: key) == .refunded(600 - share), "\(name)")
        #expect(try await engine.expire(packet, idempotencyKey: key) == .refunded(600 - share), "\(name): the retry")
        #expect(try await engine.expire(packet, idempotencyKey: try IdempotencyKey("other")) == .alreadyRefunded(600 - share), "\(name)")
        #expect(try await engine.expire(packet) == .alreadyRefunded(600 - share), "\(name)")

        let raced = try await engine.send(try PacketSpec(total: 600, shares: 3), to: Self.group, seed: 9)
        let keys = try ["a", "b", "a", "b", "a", "b", "a", "b"].map { try IdempotencyKey("\($0)-\(raced.rawValue)") }
        let outcomes = try await withThrowingTaskGroup(of: (IdempotencyKey, ExpiryOutcome).self) { tasks in
            for key in keys { tasks.addTask { (key, try await engine.expire(raced, idempotencyKey: key)) } }
            return try await tasks.reduce(into: []) { $0.append($1) }
        }
        let refunding = Set(outcomes.filter { if case .refunded = $0.1 { true } else { false } }.map(\.0))
        #expect(refunding.count == 1, "\(name): one key made the refund")
        #expect(outcomes.allSatisfy { $0.1.refund == 600 }, "\(name)")
        #expect(outcomes.filter { refunding.contains($0.0) }.count == 4, "\(name): every call with that key hears .refunded")
    }

    /// Untouched, partly and fully grabbed packets past their deadline: each refunds its balance exactly once,
    /// a winner keeps seeing its share, and every account balances.
    public func expiryRefundsExactlyOnceInEveryState() async throws {
        let clock = ManualClock()
        let engine = try make(clock)
        let spec = try PacketSpec(total: 10_00, shares: 4, expiry: .seconds(60))
        let untouched = try await engine.send(spec, to: Self.group, seed: 1)
        let partly = try await engine.send(spec, to: Self.group, seed: 2)
        let fully = try await engine.send(spec, to: Self.group, seed: 3)
        let first = try #require(try await engine.grab(partly, for: 5).share)
        for member in [MemberID(1), 2, 3, 4] { _ = try await engine.grab(fully, for: member) }

        clock.advance(by: .seconds(61))
        #expect(try await engine.grab(untouched, for: 1) == .expired, "\(name)")
        #expect(try await engine.grab(partly, for: 5) == .alreadyGrabbed(first), "\(name): a winner keeps seeing its share")
        #expect(try await engine.grab(partly, for: 6) == .expired, "\(name)")

        #expect(try await engine.expire(untouched) == .refunded(10_00), "\(name)")
        #expect(try await engine.expire(partly) == .refunded(10_00 - first), "\(name)")
        #expect(try await engine.expire(fully) == .refunded(.zero), "\(name)")
        #expect(try await engine.expire(partly) == .alreadyRefunded(10_00 - first), "\(name)")
        for packet in [untouched, partly, fully] {
            let summary = try await engine.summary(of: packet)
            #expect(summary.refund == summary.balance && PacketFindings(summary).violations == [], "\(name)")
        }
    }

    /// The rule on `GrabOutcome`, after the deadline and after the refund: a sold-out packet stays sold out for
    /// everyone without a share (new members and earlier losers alike); a packet with shares left is expired.
    public func theOutcomeRuleAfterTheDeadline() async throws {
        let clock = ManualClock()
        let engine = try make(clock)
        let spec = try PacketSpec(total: 3_00, shares: 3, expiry: .seconds(60))
        let soldOut = try await engine.send(spec, to: Self.group, seed: 5)
        let partly = try await engine.send(spec, to: Self.group, seed: 6)
        var shares: [Fen] = []
        for member in [MemberID(1), 2, 3] { shares.append(try #require(try await engine.grab(soldOut, for: member).share)) }
        #expect(try await engine.grab(soldOut, for: 4) == .soldOut, "\(name): member 4 loses before the deadline")
        let partShare = try #require(try await engine.grab(partly, for: 1).share)

        clock.advance(by: .seconds(61))
        for stage in ["after the deadline", "after the refund"] {
            #expect(try await engine.grab(soldOut, for: 5) == .soldOut, "\(name): a new member, \(stage)")
            #expect(try await engine.grab(soldOut, for: 4) == .soldOut, "\(name): an earlier loser, \(stage)")
            #expect(try await engine.grab(soldOut, for: 2) == .alreadyGrabbed(shares[1]), "\(name): a winner, \(stage)")
            #expect(try await engine.grab(soldOut, for: 99) == .notMember, "\(name): an outsider, \(stage)")
            #expect(try await engine.grab(partly, for: 5) == .expired, "\(name): shares left, \(stage)")
            #expect(try await engine.grab(partly, for: 1) == .alreadyGrabbed(partShare), "\(name): a winner, \(stage)")
            if stage == "after the deadline" {
                #expect(try await engine.expire(soldOut) == .refunded(.zero), "\(name)")
                #expect(try await engine.expire(partly) == .refunded(3_00 - partShare), "\(name)")
            }
        }
    }

    /// A receipt carries the seq of the share the member holds — on a grant and on a retry — and none otherwise.
    public func receiptsCarryTheSeqOfTheShareHeld() async throws {
        let engine = try make(ManualClock())
        let packet = try await engine.send(try PacketSpec(total: 300, shares: 2), to: Self.group, seed: 1)
        let first = try await engine.grabReceipt(packet, for: 4)
        let second = try await engine.grabReceipt(packet, for: 9)
        #expect(first.seq == 1 && second.seq == 2 && first.outcome.share != nil, "\(name)")
        #expect(try await engine.grabReceipt(packet, for: 9) == GrabReceipt(.alreadyGrabbed(second.outcome.share!), seq: 2), "\(name)")
        #expect(try await engine.grabReceipt(packet, for: 5) == GrabReceipt(.soldOut), "\(name)")
        #expect(try await engine.grabReceipt(packet, for: 99) == GrabReceipt(.notMember), "\(name)")
    }
}
