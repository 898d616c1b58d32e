import Foundation
import HongbaoCore
@testable import HongbaoRedis
import HongbaoTestSupport
import Testing

/// Senders and keyed sends on a real redis-server: the sender is kept in the packet's hash; a keyed send retried —
/// from this engine or another process's — gets the packet the first call made; another request under the key is
/// refused; a claim left by a call that died before its send is completed by the retry.
@Suite("Redis: senders and keyed sends", .enabled(if: RedisTestServer.isAvailable, "no HONGBAO_REDIS_URL: run the tests through scripts/test"))
struct RedisSendersTests {
    static func fingerprint(_ byte: UInt8) throws -> RequestFingerprint { try RequestFingerprint([UInt8](repeating: byte, count: 32)) }
    static func unique() -> String { "t\(UInt64.random(in: 0 ..< 1 << 60))" }

    /// The standalone server, and the cluster when there is one (a claim and its packet live in different slots).
    static let urls = [RedisTestServer.url].compactMap { $0 } + [RedisTestServer.clusterURL].compactMap { $0 }

    @Test(arguments: urls, [Group(range: 1 ... 20), Group(range: 1 ... 500)])   // a small group (in the hash), a big one (a set)
    func aKeyedSendIsMadeOnceAcrossEngines(url: String, group: Group) throws {
        let first = try RedisEngine(url: url), second = try RedisEngine(url: url)
        let spec = try PacketSpec(total: 500, shares: 5)
        let key = try IdempotencyKey(Self.unique())
        let origin = SendOrigin(sender: MemberID(7), request: KeyedSend(key: key, fingerprint: try Self.fingerprint(1)))
        let made = try first.send(spec, to: group, seed: 1, origin: origin)
        #expect(!made.replayed)
        #expect(try second.send(spec, to: group, seed: 2, origin: origin) == SentPacket(id: made.id, replayed: true))
        #expect(try first.send(spec, to: group, seed: 3, origin: origin) == SentPacket(id: made.id, replayed: true))
        // The replays made nothing: one packet, its shares still all there.
        #expect(try second.summary(of: made.id).grabs.isEmpty)
        #expect(try second.grab(made.id, for: MemberID(1)).share != nil)
        let other = SendOrigin(sender: MemberID(7), request: KeyedSend(key: key, fingerprint: try Self.fingerprint(2)))
        #expect { try second.send(spec, to: group, seed: 1, origin: other) } throws: { error in
            (error as? GrabEngineError)?.code == .idempotencyConflict
        }
        let someoneElse = SendOrigin(sender: MemberID(8), request: KeyedSend(key: key, fingerprint: try Self.fingerprint(1)))
        let theirs = try second.send(spec, to: group, seed: 1, origin: someoneElse)
        #expect(!theirs.replayed && theirs.id != made.id)
        #expect(try first.sender(of: made.id) == MemberID(7))
        #expect(try first.sender(of: theirs.id) == MemberID(8))
        #expect(try first.sender(of: try first.send(spec, to: group, seed: 1)) == nil)
        #expect(throws: GrabEngineError.self) { try first.sender(of: PacketID(UInt64(1) << 60 | 12345)) }
        let last = group.members.last!
        #expect(try first.isMember(last, of: made.id) && !(try first.isMember(MemberID(last.rawValue + 1), of: made.id)))
        #expect(throws: GrabEngineError.self) { try first.isMember(last, of: PacketID(UInt64(1) << 60 | 12345)) }
    }

    /// A retention under a second still gives a keyed send's claim a TTL Redis takes (at least 1 ms).
    @Test func aShortRetentionStillClaims() throws {
        let engine = try RedisEngine(url: RedisTestServer.url!, retention: .milliseconds(300))
        let origin = SendOrigin(sender: MemberID(1), request: KeyedSend(key: try IdempotencyKey(Self.unique()), fingerprint: try Self.fingerprint(3)))
        let first = try engine.send(try PacketSpec(total: 100, shares: 1), to: Group(range: 1 ... 3), seed: 1, origin: origin)
        #expect(!first.replayed)
    }

    /// A call that claimed its key and died before its send: the retry sends under the claim's id and token.
    @Test func aClaimWhoseSendNeverRanIsCompletedByTheRetry() throws {
        let engine = try RedisEngine(url: RedisTestServer.url!)
        let key = try IdempotencyKey(Self.unique())
        let sentKey = RedisKey.sentKey(sender: MemberID(3), key: key)
        let id = PacketID(UInt64.random(in: 0 ..< 4096) << RedisKey.tagShift | UInt64.random(in: 1 ..< 1 << 50))
        let claim = SentClaim(fingerprint: try Self.fingerprint(9), id: id, token: "abc123")
        var set = RedisCommand("SET", sentKey.rawValue)
        set.append(claim.value)
        set.append("PX")
        set.append("60000")
        _ = try engine.topology.pipeline(slots: [RedisKey.slot(of: sentKey)], [set], writes: true)[0].check()
        #expect(throws: GrabEngineError.self) { try engine.summary(of: id) }
        let origin = SendOrigin(sender: MemberID(3), request: KeyedSend(key: key, fingerprint: try Self.fingerprint(9)))
        let sent = try engine.send(try PacketSpec(total: 100, shares: 2), to: Group(range: 1 ... 4), seed: 1, origin: origin)
        #expect(sent == SentPacket(id: id, replayed: true))
        #expect(try engine.summary(of: id).total == Fen(100))
        #expect(try engine.sender(of: id) == MemberID(3))
        // A claim that is not one is reported, not trusted.
        let tampered = try IdempotencyKey(Self.unique())
        let tamperedKey = RedisKey.sentKey(sender: MemberID(3), key: tampered)
        var garbage = RedisCommand("SET", tamperedKey.rawValue)
        garbage.append("not a claim")
        _ = try engine.topology.pipeline(slots: [RedisKey.slot(of: tamperedKey)], [garbage], writes: true)[0].check()
        let tamperedOrigin = SendOrigin(sender: MemberID(3), request: KeyedSend(key: tampered, fingerprint: try Self.fingerprint(9)))
        #expect(throws: RedisEngineError.self) {
            try engine.send(try PacketSpec(total: 100, shares: 2), to: Group(range: 1 ... 4), seed: 1, origin: tamperedOrigin)
        }
    }
}
