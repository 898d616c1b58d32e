import Foundation
import HongbaoCore
@testable import HongbaoRedis
import HongbaoTestSupport
import Testing

/// Money under hostile conditions: a forged group, a caller whose engine gave up, an id issued twice, groups that
/// must not outlive their packets nor die before them.
@Suite("Redis under attack, round 2", .enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL: run the tests through scripts/test"))
struct RedisHostileRoundTwoTests {
    /// `[1…197, 200, 3367493129, 3854345238]` had the same 64-bit name as `[1…200]`: whoever sent to it first owned
    /// the victim's set. Named by SHA-256 now, the two groups are two sets, whoever sends first.
    @Test func aForgedGroupCannotTakeAnotherGroupsSet() throws {
        let victim = Group(range: 1 ... 200)
        let forged = Group(Array((1 ... 197).map(MemberID.init(rawValue:))) + [200, 3_367_493_129, 3_854_345_238])
        #expect(RedisKey.group(GroupDigest(of: victim)) != RedisKey.group(GroupDigest(of: forged)))
        let attacker = try RedisEngine(url: RedisTestServer.url!)
        let spec = try PacketSpec(total: 50_00, shares: 5)
        _ = try attacker.send(spec, to: forged, seed: 1)
        let sender = try RedisEngine(url: RedisTestServer.url!)
        let packet = try sender.send(spec, to: victim, seed: 2)
        for engine in [sender, attacker, try RedisEngine(url: RedisTestServer.url!)] {
            #expect(try engine.grab(packet, for: 3_367_493_129) == .notMember)
            #expect(try engine.grab(packet, for: 3_854_345_238) == .notMember)
        }
        #expect(try sender.grab(packet, for: 198).share != nil, "a member of the victim's group")
        #expect(try attacker.grab(packet, for: 199).share != nil, "a member, through another engine")
        #expect(try sender.summary(of: packet).grabs.map(\.member).sorted() == [198, 199])
    }

    /// A set under a group's name that does not hold the group (tampered with in Redis) is never adopted: the send
    /// fails with one clear error and creates nothing.
    @Test func aSetThatDoesNotHoldTheGroupIsNeverAdopted() throws {
        let group = Group(range: 50_001 ... 50_000 + UInt32(GrabScript.inlineGroup) + 5)
        let key = RedisKey.group(GroupDigest(of: group))
        let engine = try RedisEngine(url: RedisTestServer.url!)
        var add = RedisCommand("SADD", key.rawValue)
        for member in [UInt32(7), 8, 9] { add.append(member) }
        _ = try engine.topology.pipeline(slot: RedisKey.slot(ofTag: GroupDigest(of: group).tag), [RedisCommand("DEL", key.rawValue), add])
        #expect {
            _ = try engine.send(try PacketSpec(total: 100, shares: 2), to: group, seed: 1)
        } throws: { error in
            (error as? RedisEngineError)?.code == .serverError && "\(error)".contains("does not hold")
        }
        _ = try engine.topology.pipeline(slot: RedisKey.slot(ofTag: GroupDigest(of: group).tag), [RedisCommand("DEL", key.rawValue)])
    }

    /// The engine gives up on its own expire (every reconnect loses the reply, after the server refunded): the
    /// caller retries with the same idempotency key and hears `.refunded`, with the amount — not
    /// `.alreadyRefunded`, which would leave the sender unpaid. Another key hears `.alreadyRefunded`.
    @Test func anExpiryRetriedWithItsKeyHearsRefundedAfterTheEngineGaveUp() throws {
        let engine = try RedisEngine(url: RedisTestServer.url!)
        let packet = try engine.send(try PacketSpec(total: 800, shares: 4), to: Group(range: 1 ... 9), seed: 5)
        let share = try #require(try engine.grab(packet, for: 3).share)
        let key = try IdempotencyKey("refund-\(packet.rawValue)")
        for _ in 0 ... RedisNode.reconnectAttempts { RedisFaults.loseReply(ofCommandContaining: RedisKey.packet(packet).rawValue) }
        #expect(throws: RedisEngineError.self, "the engine gave up") { _ = try engine.expire(packet, idempotencyKey: key) }
        #expect(try engine.expire(packet, idempotencyKey: key) == .refunded(800 - share), "the retry hears what the first call did")
        #expect(try RedisEngine(url: RedisTestServer.url!).expire(packet, idempotencyKey: key) == .refunded(800 - share), "from any process")
        #expect(try engine.expire(packet, idempotencyKey: try IdempotencyKey("another")) == .alreadyRefunded(800 - share))
        #expect(try engine.expire(packet) == .alreadyRefunded(800 - share))
        #expect(throws: GrabEngineError.self) { _ = try IdempotencyKey("has a space") }
        #expect(throws: GrabEngineError.self) { _ = try IdempotencyKey(String(repeating: "k", count: 256)) }
    }

    /// An id issued again — two processes in the same millisecond, or a clock that went back — never reaches the
    /// first packet: the send script refuses to create a packet where one exists, and the engine issues another id.
    /// The first packet keeps its winners; the second starts empty; every fen is accounted for.
    @Test func anIdIssuedTwiceNeverInheritsAPacket() throws {
        let group = Group(range: 70_001 ... 70_000 + UInt32(GrabScript.inlineGroup) + 20)   // a big group: its tag is fixed
        let first = try RedisEngine(url: RedisTestServer.url!), second = try RedisEngine(url: RedisTestServer.url!)
        let moment = UInt64.random(in: 1 << 20 ..< 1 << 40)
        first.packetIDs.pin(at: moment)
        second.packetIDs.pin(at: moment)
        let spec = try PacketSpec(total: 50_00, shares: 5)
        let old = try first.send(spec, to: group, seed: 1)
        let won = try #require(try first.grab(old, for: 70_001).share)
        let new = try second.send(spec, to: group, seed: 2)
        #expect(new != old, "the id the other process issued was taken: another one")
        #expect(try second.grab(new, for: 70_001).share != nil, "the new packet knows nothing of the old one's winners")
        #expect(try second.grab(old, for: 70_001) == .alreadyGrabbed(won))
        for member in 70_002 ... UInt32(70_010) {
            _ = try first.grab(old, for: MemberID(member))
            _ = try second.grab(new, for: MemberID(member))
        }
        for packet in [old, new] {
            let summary = try first.summary(of: packet)
            #expect(summary.grabs.count == 5 && summary.paid == spec.total && PacketFindings(summary).violations == [])
        }

        // The script itself: a send with another token onto an existing id writes nothing.
        let plan = try PacketPlan(id: old, spec: spec, group: group, seed: 9, sentAt: 0)
        let sha = try first.topology.sha(of: GrabScript.send)
        let command = RedisEngine.sendCommand(sha: sha, token: "someone-else", id: old, plan, group: RedisKey.group(GroupDigest(of: group)),
                                              members: group, carryingMembers: true)
        #expect(try first.topology.pipeline(slot: RedisKey.slot(of: old), [command])[0].check() == .integer(-1))
        #expect(try first.summary(of: old).grabs.count == 5)
    }

    /// A big group's set lives while any of its packets is open, then for the retention after the last refund —
    /// never for ever, never less than a packet that needs it — and a new packet brings it back to life.
    @Test func aGroupsSetLivesAsLongAsItsPackets() throws {
        let group = Group(range: 90_001 ... 90_000 + UInt32(GrabScript.inlineGroup) + 1 + UInt32.random(in: 0 ..< 1_000))
        let key = RedisKey.group(GroupDigest(of: group)), slot = RedisKey.slot(ofTag: GroupDigest(of: group).tag)
        let engine = try RedisEngine(url: RedisTestServer.url!, retention: .seconds(600))
        func ttl() throws -> Int64 { try engine.topology.pipeline(slot: slot, [RedisCommand("PTTL", key.rawValue)])[0].check().integer! }
        let spec = try PacketSpec(total: 300, shares: 3)
        let a = try engine.send(spec, to: group, seed: 1), b = try engine.send(spec, to: group, seed: 2)
        #expect(try ttl() == -1, "open packets: no TTL")
        _ = try engine.expire(a)
        #expect(try ttl() == -1, "one packet still open")
        #expect(try engine.grab(b, for: 90_001).share != nil)
        _ = try engine.expire(b)
        #expect((1 ... 600_000).contains(try ttl()), "the last packet closed: the set stays for the retention")
        #expect(try engine.grab(b, for: 99_999_999) == .notMember, "a retained packet still tells outsiders")
        let c = try engine.send(spec, to: group, seed: 3)
        #expect(try ttl() == -1, "a new packet: the set lives again")
        _ = try engine.expire(c)
        #expect((1 ... 600_000).contains(try ttl()))
    }
}
