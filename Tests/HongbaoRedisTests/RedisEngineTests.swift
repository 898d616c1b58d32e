import Foundation
import HongbaoCore
@testable import HongbaoRedis
import HongbaoTestSupport
import Testing

/// The grab protocol on a real redis-server (started by `scripts/test`); never a mock.
@Suite("Redis engine", .enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL: run the tests through scripts/test"))
struct RedisEngineTests {
    static let group = Group(range: 1 ... 20)

    static func engine(clock: any PacketClock = WallPacketClock()) throws -> RedisEngine {
        try RedisEngine(url: RedisTestServer.url!, clock: clock)
    }

    /// What the conformance suite cannot see from one engine: a refund made through one instance is the one
    /// another instance (another process) hears, and an unknown id is refused.
    @Test func anotherInstanceHearsTheOneRefund() throws {
        let clock = ManualClock()
        let engine = try RedisEngine(url: RedisTestServer.url!, clock: WallOffset(clock))
        let spec = try PacketSpec(total: 10_00, shares: 4, expiry: .seconds(60))
        let partly = try engine.send(spec, to: Self.group, seed: 2)
        let first = try #require(try engine.grab(partly, for: 5).share)
        clock.advance(by: .seconds(61))
        #expect(try engine.expire(partly) == .refunded(10_00 - first))
        let other = try Self.engine()
        #expect(try other.expire(partly) == .alreadyRefunded(10_00 - first))
        #expect(try other.summary(of: partly).refund == 10_00 - first)
        #expect(throws: GrabEngineError.self) { _ = try engine.expire(PacketID(UInt64.max / 2)) }
    }

    @Test func exclusiveAndEqualPacketsAndTheLuckiest() throws {
        let engine = try Self.engine()
        let exclusive = try engine.send(try PacketSpec(total: 52_00, shares: 1, kind: .exclusive(7)), to: Self.group, seed: 0)
        #expect(try engine.grab(exclusive, for: 8) == .notMember)
        #expect(try engine.grab(exclusive, for: 7) == .granted(52_00))
        let equal = try engine.send(try PacketSpec(total: 300, shares: 3, kind: .equal(perShare: 100)), to: Self.group, seed: 0)
        for member in [MemberID(9), 4, 6] { #expect(try engine.grab(equal, for: member) == .granted(100)) }
        #expect(try engine.summary(of: equal).luckiest?.member == 9, "a tie goes to the earlier grab")
        #expect(throws: GrabEngineError.self) { _ = try engine.grab(PacketID(UInt64.max / 2), for: 1) }
    }

    /// One seed, one split, everywhere: with one caller (a fixed grab order), every algorithm pays on Redis — one
    /// grab at a time and in one batch — exactly what the in-process engine pays at each seq.
    @Test(arguments: SplitAlgorithm.allCases.filter { $0 != .equal })
    func theSameSeedPaysTheSameSharesAsInProcess(_ algorithm: SplitAlgorithm) throws {
        let engine = try Self.engine()
        let local = LockFreeEngine()
        let policy = PacketPolicy(perShareCap: 2_000, shareCountCap: 100)
        for (total, seed) in [(Int64(100), UInt64(1)), (9_999, 2), (100_00, 3), (80_000, 4)] {
            let spec = try PacketSpec(total: Fen(total), shares: 40, algorithm: algorithm, policy: policy)
            let group = Group(range: 1 ... 64)
            let (remote, batched, mine) = (try engine.send(spec, to: group, seed: seed), try engine.send(spec, to: group, seed: seed),
                                           try local.send(spec, to: group, seed: seed))
            let members = (1 ... UInt32(40)).map(MemberID.init(rawValue:))
            let expected = try members.map { try local.grab(mine, for: $0) }
            #expect(try members.map { try engine.grab(remote, for: $0) } == expected, "\(algorithm), total \(total)")
            #expect(try engine.grab(members.map { GrabRequest(packet: batched, member: $0) }) == expected, "\(algorithm), batched")
            #expect(expected.compactMap(\.share).sum() == spec.total)
            if algorithm != .doubleMeanAtGrab { #expect(expected.compactMap(\.share) == RedPacket.split(spec, seed: seed)) }
        }
    }

    @Test func theContentionSuiteHolds() throws {
        let engine = try Self.engine()
        let packets = try GrabRace.sendPackets(engine, count: 40, members: 1 ... 24, algorithms: [.doubleMeanAtGrab, .shuffled])
        let observed = GrabRace.run(engine, packets: packets, members: 1 ... 24, threads: 4)
        let violations = try GrabRace.violations(engine, packets: packets, observed: observed)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
    }

    @Test func aBatchGivesEachCallerItsOwnOutcome() throws {
        let engine = try Self.engine()
        let hot = try engine.send(try PacketSpec(total: 100_00, shares: 50), to: Group(range: 1 ... 200), seed: 5)
        let requests = (1 ... UInt32(200)).map { GrabRequest(packet: hot, member: MemberID($0)) }
        let outcomes = try engine.grab(requests + requests.prefix(10))   // 10 retries in the same batch
        #expect(outcomes.prefix(50).allSatisfy { if case .granted = $0 { true } else { false } })
        #expect(outcomes[50 ..< 200].allSatisfy { $0 == .soldOut })
        #expect(Array(outcomes.suffix(10)) == outcomes.prefix(10).map { .alreadyGrabbed($0.share!) })
        let observed = zip(requests + requests.prefix(10), outcomes).map { ObservedGrab(packet: $0.packet, member: $0.member, outcome: $1) }
        #expect(PacketFindings(try engine.summary(of: hot), observed: observed).violations == [])
        // Many packets in one batch.
        let packets = try (0 ..< 30).map { _ in try engine.send(try PacketSpec(total: 500, shares: 5), to: Self.group, seed: 1) }
        let mixed = packets.flatMap { packet in (1 ... UInt32(8)).map { GrabRequest(packet: packet, member: MemberID($0)) } }
        let results = try engine.grab(mixed)
        for packet in packets {
            let mine = zip(mixed, results).filter { $0.0.packet == packet }
            #expect(mine.filter { $0.1.share != nil }.count == 5)
        }
    }

    @Test func receiptsCarryTheSeqFromTheScript() async throws {
        let engine = try Self.engine()
        let packet = try await engine.send(try PacketSpec(total: 300, shares: 2), to: Self.group, seed: 1)
        let receipts = try engine.grabReceipts([GrabRequest(packet: packet, member: 4), GrabRequest(packet: packet, member: 9),
                                                GrabRequest(packet: packet, member: 4), GrabRequest(packet: packet, member: 5)])
        #expect(receipts.map(\.seq) == [1, 2, 1, nil])
        #expect(try await engine.grabReceipt(packet, for: 9).seq == 2)
    }

    @Test func asyncGrabsAreCombinedAndCorrect() async throws {
        let engine = try Self.engine()
        let packet = try await engine.send(try PacketSpec(total: 100_00, shares: 30), to: Group(range: 1 ... 300), seed: 8)
        let observed = try await withThrowingTaskGroup(of: ObservedGrab.self) { tasks in
            for member in 1 ... UInt32(300) {
                tasks.addTask { ObservedGrab(packet: packet, member: MemberID(member), outcome: try await engine.grab(packet, for: MemberID(member))) }
            }
            return try await tasks.reduce(into: []) { $0.append($1) }
        }
        #expect(observed.filter { $0.outcome.share != nil }.count == 30)
        #expect(PacketFindings(try await engine.summary(of: packet), observed: observed).violations == [])
        #expect(try await engine.expire(packet) == .refunded(.zero))
    }
}

/// A manual clock shifted to the wall clock's epoch (a Redis deadline is wall-clock milliseconds).
struct WallOffset: PacketClock {
    let base: ManualClock
    let offset: Int64
    init(_ base: ManualClock, by shift: Duration = .zero) {
        self.base = base
        offset = WallPacketClock().nanoseconds + shift.nanosecondsSaturated
    }
    var nanoseconds: Int64 { offset + base.nanoseconds }
}

/// The money defects of the adversarial review, each reproduced through the public API on a real server.
@Suite("Redis engine under hostile conditions",
       .enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL: run the tests through scripts/test"))
struct RedisHostileTests {
    /// 4,096 new winners of one packet in one batch: every grab is recorded (the script's writes are chunked within
    /// Lua's limits), and the money balances.
    @Test func aHugeBatchOnOnePacketRecordsEveryWinner() throws {
        let engine = try RedisEngine(url: RedisTestServer.url!)
        let policy = PacketPolicy(perShareCap: Fen(yuan: 200), shareCountCap: 10_000)
        let spec = try PacketSpec(total: 10_000_000, shares: 10_000, policy: policy)
        let packet = try engine.send(spec, to: Group(range: 1 ... 10_000), seed: 1)
        let requests = (1 ... UInt32(4_096)).map { GrabRequest(packet: packet, member: MemberID($0)) }
        let outcomes = try engine.grab(requests)
        #expect(outcomes.allSatisfy { if case .granted = $0 { true } else { false } })
        let observed = zip(requests, outcomes).map { ObservedGrab(packet: $0.packet, member: $0.member, outcome: $1) }
        let summary = try engine.summary(of: packet)
        #expect(summary.grabs.count == 4_096 && PacketFindings(summary, observed: observed).violations == [])
        #expect(try engine.grab(packet, for: 7) == .alreadyGrabbed(outcomes[6].share!), "a retry is paid nothing new")
        let refund = try engine.expire(packet).refund
        #expect(try engine.summary(of: packet).paid + refund == spec.total)
    }

    /// The reply to the expire script is lost and the call resent: the caller still learns that it refunded.
    @Test func aResentExpireStillReportsItsRefund() throws {
        let engine = try RedisEngine(url: RedisTestServer.url!)
        let packet = try engine.send(try PacketSpec(total: 500, shares: 5), to: Group(range: 1 ... 9), seed: 2)
        let share = try #require(try engine.grab(packet, for: 1).share)
        RedisFaults.loseReply(ofCommandContaining: RedisKey.packet(packet).rawValue)
        #expect(try engine.expire(packet) == .refunded(500 - share), "the first attempt ran; its resend is the same call")
        #expect(try engine.expire(packet) == .alreadyRefunded(500 - share), "another call")
    }

    /// An audit's close — the expire script and HGETALL in one pipeline — answers as `expire` then `summary`
    /// would, and a resend after a lost reply still knows it made the refund.
    @Test func expireAndSummarizeIsExpireThenSummaryInOneRoundTrip() throws {
        let engine = try RedisEngine(url: RedisTestServer.url!)
        let spec = try PacketSpec(total: 900, shares: 6)
        let packets = try (0 ..< 3).map { try engine.send(spec, to: Group(range: 1 ... 9), seed: UInt64($0)) }
        for (index, packet) in packets.enumerated() {
            for member in 1 ... UInt32(index + 2) { _ = try engine.grab(packet, for: MemberID(member)) }
        }
        RedisFaults.loseReply(ofCommandContaining: RedisKey.packet(packets[0]).rawValue)
        let closed = try engine.expireAndSummarize(packets)
        for ((expiry, summary), packet) in zip(closed, packets) {
            #expect(expiry == .refunded(summary.balance) && summary.refund == summary.balance)
            #expect(summary == (try engine.summary(of: packet)))
            #expect(PacketFindings(summary, refund: expiry.refund).violations == [])
        }
        #expect(closed.map(\.summary.grabs.count) == [2, 3, 4])
        #expect(try engine.expireAndSummarize([packets[1]])[0].expiry == .alreadyRefunded(closed[1].summary.balance))
        #expect(throws: GrabEngineError.self) { _ = try engine.expireAndSummarize([PacketID(1 << 62)]) }
    }

    /// Long after the deadline (past any TTL the packet could have had), the refund is still made, and a late grab
    /// hears `expired`; only then do the keys get a TTL.
    @Test func aLateExpireStillRefunds() throws {
        let clock = ManualClock()
        let engine = try RedisEngine(url: RedisTestServer.url!, clock: WallOffset(clock, by: .seconds(-3 * 3600)))
        let packet = try engine.send(try PacketSpec(total: 700, shares: 7, expiry: .seconds(60)), to: Group(range: 1 ... 9), seed: 3)
        let share = try #require(try engine.grab(packet, for: 2).share)
        clock.advance(by: .seconds(3 * 3600))   // now: three hours after sending, the real present
        #expect(try engine.grab(packet, for: 3) == .expired)
        #expect(try engine.expire(packet) == .refunded(700 - share))
        var ttl = RedisCommand("PTTL")
        ttl.append(RedisKey.packet(packet))
        let left = try engine.topology.pipeline(slot: RedisKey.slot(of: packet), [ttl])[0].check().integer ?? -1
        #expect(left > 0 && left <= 24 * 3_600_000, "kept for the retention after the refund, \(left) ms")
    }

    /// A packet id issued again after the server lost its data (FLUSHALL; the ids' clock pinned so that the same
    /// id comes again) is a new packet to the same engine: nothing about the old one is answered from memory.
    @Test func aReusedIdIsANewPacket() throws {
        let server = try RedisTestServer.Owned()
        let engine = try RedisEngine(url: server.url)
        let group = Group(range: 1 ... 120)   // a big group: its tag, part of the id, comes from its content
        engine.packetIDs.pin(at: 1 << 30)
        let old = try engine.send(try PacketSpec(total: 300, shares: 3), to: group, seed: 4)
        for member in [MemberID(1), 2, 3] { _ = try engine.grab(old, for: member) }
        #expect(try engine.grab(old, for: 4) == .soldOut)
        _ = try engine.topology.pipeline(slot: 0, [RedisCommand("FLUSHALL")])[0].check()
        engine.packetIDs.pin(at: 1 << 30)
        let reused = try engine.send(try PacketSpec(total: 300, shares: 3), to: group, seed: 5)
        #expect(reused == old)
        #expect(try engine.grab(reused, for: 1).share != nil && engine.grab(reused, for: 4).share != nil)
    }

    /// The sender vouches for its big groups' members, and the script takes a voucher only for the group it names:
    /// the sender's grabs ask no set, another engine's grabs ask it, an outsider is told by the server, and a
    /// packet whose group is no longer the one vouched for (rewritten behind the engine's back, as an id reused for
    /// another group would be) is checked on the server — the member of the old group hears "not a member".
    @Test func aVoucherSparesTheSetOnlyForTheGroupItNames() throws {
        let server = try RedisTestServer.Owned()
        let sender = try RedisEngine(url: server.url), other = try RedisEngine(url: server.url)
        func setLookups() throws -> Int {
            guard case .string(let bytes) = try sender.topology.pipeline(slot: 0, [RedisCommand("INFO", "commandstats")])[0].check()
            else { return -1 }
            return String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
                .filter { $0.hasPrefix("cmdstat_sismember:") || $0.hasPrefix("cmdstat_smismember:") }
                .compactMap { line in line.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) } }
                .reduce(0, +)
        }
        let group = Group(range: 1 ... 200)   // past `inlineGroup`: a set of its own
        let packet = try sender.send(try PacketSpec(total: 100_00, shares: 6), to: group, seed: 7)
        let batch = try sender.grab([MemberID(1), 2].map { GrabRequest(packet: packet, member: $0) })   // grabbers combined
        #expect(batch.allSatisfy { $0.share != nil })
        #expect(try sender.grab(packet, for: 3).share != nil)   // alone
        #expect(try setLookups() == 0)
        #expect(try other.grab(packet, for: 4).share != nil)
        #expect(try setLookups() == 1)
        #expect(try sender.grab(packet, for: 201) == .notMember)
        #expect(try setLookups() == 2)

        let packetKey = RedisKey.packet(packet).rawValue
        let smaller = "hb:{\(RedisKey.tag(of: packet))}:g:other"
        var add = RedisCommand("SADD", smaller)
        for member in 1 ... 150 { add.append(member) }
        _ = try sender.topology.pipeline(slot: 0, [add, RedisCommand("HSET", packetKey, "group", smaller)]).map { try $0.check() }
        #expect(try sender.grab(packet, for: 180) == .notMember)
        let mixed = try sender.grab([MemberID(181), 5].map { GrabRequest(packet: packet, member: $0) })
        #expect(mixed[0] == .notMember && mixed[1].share != nil)
        #expect(try setLookups() == 4)
    }

    /// `redis://user:password@…` authenticates as that ACL user (it used to drop the user and fail WRONGPASS).
    @Test func anACLUserAuthenticates() throws {
        let server = try RedisTestServer.Owned()
        let admin = try RedisEngine(url: server.url)
        let setUser = RedisCommand("ACL", "SETUSER", "hb", "on", ">S3cretPW", "~*", "+@all")
        _ = try admin.topology.pipeline(slot: 0, [setUser])[0].check()
        let port = server.url.split(separator: ":").last!
        let engine = try RedisEngine(url: "redis://hb:S3cretPW@127.0.0.1:\(port)")
        let packet = try engine.send(try PacketSpec(total: 100, shares: 1), to: Group(range: 1 ... 2), seed: 0)
        #expect(try engine.grab(packet, for: 1) == .granted(100))
        #expect {
            _ = try RedisEngine(url: "redis://hb:wrong@127.0.0.1:\(port)")
        } throws: { error in
            (error as? RedisEngineError)?.code == .authenticationFailed && !"\(error)".contains("wrong@")
        }
    }

    /// The rule on `GrabOutcome`, on Redis, and across two engine instances (two processes).
    @Test func theOutcomeRuleHoldsAfterTheDeadlineAndAcrossInstances() throws {
        let clock = ManualClock()
        let engine = try RedisEngine(url: RedisTestServer.url!, clock: WallOffset(clock))
        let other = try RedisEngine(url: RedisTestServer.url!, clock: WallOffset(clock))
        let spec = try PacketSpec(total: 3_00, shares: 3, expiry: .seconds(60))
        let group = Group(range: 1 ... 20)
        let soldOut = try engine.send(spec, to: group, seed: 5)
        let partly = try engine.send(spec, to: group, seed: 6)
        var shares: [Fen] = []
        for member in [MemberID(1), 2, 3] { shares.append(try #require(try engine.grab(soldOut, for: member).share)) }
        #expect(try engine.grab(soldOut, for: 4) == .soldOut)
        let partShare = try #require(try engine.grab(partly, for: 1).share)
        clock.advance(by: .seconds(61))
        for stage in ["after the deadline", "after the refund"] {
            #expect(try engine.grab(soldOut, for: 5) == .soldOut, "a new member, \(stage)")
            #expect(try engine.grab(soldOut, for: 4) == .soldOut, "an earlier loser, \(stage)")
            #expect(try engine.grab(soldOut, for: 2) == .alreadyGrabbed(shares[1]), "a winner, \(stage)")
            #expect(try engine.grab(partly, for: 5) == .expired, "shares left, \(stage)")
            #expect(try engine.grab(partly, for: 1) == .alreadyGrabbed(partShare), "a winner, \(stage)")
            if stage == "after the deadline" {
                #expect(try other.expire(soldOut) == .refunded(.zero))
                #expect(try other.expire(partly) == .refunded(3_00 - partShare))
            }
        }
    }
}
