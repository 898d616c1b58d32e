@_spi(Harness) import HongbaoCore
import HongbaoTestSupport
import Testing

/// Senders and keyed sends on the in-process engine: who sent a packet is kept with it, and a send retried with
/// its key — one after the other or all at once — makes one packet.
@Suite("Senders and keyed sends")
struct SendersTests {
    static let group = Group(range: 1 ... 20)
    static func fingerprint(_ byte: UInt8) throws -> RequestFingerprint { try RequestFingerprint([UInt8](repeating: byte, count: 32)) }
    static func origin(_ sender: UInt32, _ key: String?, _ byte: UInt8 = 1) throws -> SendOrigin {
        SendOrigin(sender: MemberID(sender), request: try key.map { KeyedSend(key: try IdempotencyKey($0), fingerprint: try fingerprint(byte)) })
    }

    @Test func aKeyedSendIsMadeOnceAndAReusedKeyWithAnotherRequestIsRefused() throws {
        let engine = LockFreeEngine()
        let spec = try PacketSpec(total: 300, shares: 3)
        let first = try engine.send(spec, to: Self.group, seed: 1, origin: try Self.origin(7, "pay-1"))
        let again = try engine.send(spec, to: Self.group, seed: 99, origin: try Self.origin(7, "pay-1"))
        #expect(first == SentPacket(id: first.id, replayed: false))
        #expect(again == SentPacket(id: first.id, replayed: true))
        #expect(engine.packetsHeld == 1)
        #expect { try engine.send(spec, to: Self.group, seed: 1, origin: try Self.origin(7, "pay-1", 2)) } throws: { error in
            (error as? GrabEngineError)?.code == .idempotencyConflict
        }
        // The key is the sender's: another sender's equal key, and an unkeyed send, are sends of their own.
        let other = try engine.send(spec, to: Self.group, seed: 1, origin: try Self.origin(8, "pay-1"))
        let unkeyed = try engine.send(spec, to: Self.group, seed: 1, origin: try Self.origin(7, nil))
        #expect(!other.replayed && other.id != first.id && !unkeyed.replayed)
        #expect(try engine.sender(of: first.id) == MemberID(7))
        #expect(try engine.sender(of: other.id) == MemberID(8))
        #expect(try engine.sender(of: try engine.send(spec, to: Self.group, seed: 1)) == nil)
        #expect(throws: GrabEngineError.self) { try engine.sender(of: PacketID(987_654)) }
        #expect(try engine.isMember(MemberID(20), of: first.id) && !(try engine.isMember(MemberID(21), of: first.id)))
        let exclusive = try engine.send(try PacketSpec(total: 100, shares: 1, kind: .exclusive(MemberID(4))), to: Self.group, seed: 1)
        #expect(try engine.isMember(MemberID(4), of: exclusive) && !(try engine.isMember(MemberID(5), of: exclusive)))
        #expect(throws: GrabEngineError.self) { try engine.isMember(MemberID(1), of: PacketID(987_654)) }
    }

    @Test func aKeyWhosePacketIsForgottenIsFreeAgain() throws {
        let clock = ManualClock()
        let engine = LockFreeEngine(retention: .seconds(1), clock: clock)
        let spec = try PacketSpec(total: 100, shares: 1, expiry: .seconds(1))
        let first = try engine.send(spec, to: Self.group, seed: 1, origin: try Self.origin(3, "k"))
        _ = try engine.expire(first.id)
        clock.advance(by: .seconds(10))
        for _ in 0 ..< 64 { _ = try engine.send(spec, to: Self.group, seed: 2) }   // sends reclaim what is past retention
        #expect(throws: GrabEngineError.self) { try engine.sender(of: first.id) }
        let later = try engine.send(spec, to: Self.group, seed: 1, origin: try Self.origin(3, "k"))
        #expect(!later.replayed && later.id != first.id, "a new packet with a new id, never the old one's")
    }

    /// Eight threads send the same keyed request at once: one packet, and all eight are told its id. (Under
    /// ThreadSanitizer too: the book's lock is an `AtomicLock`, whose ordering it sees.)
    @Test func concurrentRetriesMakeOnePacket() throws {
        for round in 0 ..< 50 {
            let engine = LockFreeEngine()
            let spec = try PacketSpec(total: 800, shares: 8)
            let origin = try Self.origin(5, "burst-\(round)")
            let answers = runThreads(8) { _ in try! engine.send(spec, to: Self.group, seed: 4, origin: origin) }
            #expect(Set(answers.map(\.id)).count == 1)
            #expect(answers.filter { !$0.replayed }.count == 1, "exactly one call made it")
            #expect(engine.packetsHeld == 1)
        }
    }
}
