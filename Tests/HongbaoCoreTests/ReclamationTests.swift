import Foundation
@_spi(Harness) @testable import HongbaoCore
import HongbaoTestSupport
import Synchronization
import Testing

/// A long-running engine: a packet lives as long as its money needs it and its retention, then its memory is
/// reclaimed — safely while grabs are in flight — and its id answers `unknownPacket` for ever. (Also run under
/// AddressSanitizer and ThreadSanitizer by `scripts/test`: a use after free fails there.)
@Suite("Retention and reclamation")
struct ReclamationTests {
    static let retention = Duration.seconds(60)
    static let group = Group(range: 1 ... 50)

    static func make(_ kind: EngineKind, _ clock: ManualClock) -> any NonBlockingGrabEngine {
        switch kind {
        case .lockFree: LockFreeEngine(retention: retention, clock: clock)
        case .mutex: MutexEngine(retention: retention, clock: clock)
        default: fatalError("not an arena engine")
        }
    }

    static func sweep(_ engine: any NonBlockingGrabEngine) -> [DueRefund] {
        switch engine {
        case let engine as LockFreeEngine: engine.expireDue()
        case let engine as MutexEngine: engine.expireDue()
        default: []
        }
    }

    static func footprint(_ engine: any NonBlockingGrabEngine) -> (packets: Int, bytes: Int) {
        switch engine {
        case let engine as LockFreeEngine: (engine.packetsHeld, engine.bytesInUse)
        case let engine as MutexEngine: (engine.packetsHeld, engine.bytesInUse)
        default: (0, 0)
        }
    }

    /// Sweeps until every retired byte is freed: freeing waits for two epoch advances, which a thread of another
    /// test, pinned for a moment, can hold back; memory waits, it is never freed early. Bounded by a count.
    static func sweepUntilFreed(_ engine: any NonBlockingGrabEngine, to bytes: Int) -> Int {
        for _ in 0 ..< 1_000_000 {   // a pinned thread descheduled on a loaded machine holds advances back
            _ = sweep(engine)
            if footprint(engine).bytes <= bytes { break }
            sched_yield()
        }
        return footprint(engine).bytes
    }

    /// Within its retention a refunded packet still answers with its verdict; after it the id is unknown to every
    /// call, and the packet's memory (and its group's, stored for it alone) is given back.
    @Test(arguments: [EngineKind.lockFree, .mutex])
    func aRefundedPacketIsKeptForItsRetentionThenForgotten(on kind: EngineKind) throws {
        let clock = ManualClock()
        let engine = Self.make(kind, clock)
        let packet = try engine.send(try PacketSpec(total: 1_000, shares: 5), to: Group(range: 7 ... 9), seed: 1)
        let (_, sentBytes) = Self.footprint(engine)
        #expect(sentBytes > 0)
        let won = try engine.grab(packet, for: 7)
        guard case .granted(let amount) = won else { Issue.record("first grab: \(won)"); return }
        #expect(try engine.expire(packet) == .refunded(Fen(1_000) - amount))

        clock.advance(by: Self.retention - .seconds(1))
        #expect(Self.sweep(engine).isEmpty)
        #expect(try engine.grab(packet, for: 7) == .alreadyGrabbed(amount))
        #expect(try engine.grab(packet, for: 8) == .expired)
        #expect(try engine.expire(packet) == .alreadyRefunded(Fen(1_000) - amount))
        #expect(try engine.summary(of: packet).refund == Fen(1_000) - amount)
        #expect(Self.footprint(engine).packets == 1)

        clock.advance(by: .seconds(1))
        _ = Self.sweep(engine)
        #expect(Self.footprint(engine).packets == 0)
        for call in [{ _ = try engine.grab(packet, for: 7) }, { _ = try engine.expire(packet) }, { _ = try engine.summary(of: packet) }] {
            #expect { try call() } throws: { ($0 as? GrabEngineError)?.code == .unknownPacket }
        }
        #expect(Self.sweepUntilFreed(engine, to: 0) == 0, "every byte of the packet and its group is freed")
    }

    /// `expireDue` refunds each packet past its deadline once — not one an `expire` refunded already, not one
    /// whose deadline is ahead — however many threads sweep at once; the refunds are the packets' balances.
    @Test(arguments: [EngineKind.lockFree, .mutex])
    func expireDueRefundsEachPacketOnce(on kind: EngineKind) throws {
        let clock = ManualClock()
        let engine = Self.make(kind, clock)
        var packets: [PacketID] = []
        for index in 0 ..< 40 {
            let spec = try PacketSpec(total: 1_000, shares: 4, expiry: .seconds(index < 30 ? 10 : 100))
            packets.append(try engine.send(spec, to: Self.group, seed: UInt64(index)))
            _ = try engine.grab(packets[index], for: MemberID(UInt32(index % 50 + 1)))
        }
        for packet in packets[0 ..< 5] { _ = try engine.expire(packet) }   // the service refunded these itself
        clock.advance(by: .seconds(10))
        let refunds = runThreads(4) { _ in Self.sweep(engine) }.flatMap { $0 }
        #expect(refunds.count == 25 && Set(refunds.map(\.packet)) == Set(packets[5 ..< 30]))
        for refund in refunds {
            let summary = try engine.summary(of: refund.packet)
            #expect(summary.refund == refund.refund && summary.paid + refund.refund == summary.total)
        }
        #expect(Self.sweep(engine).isEmpty)
        #expect(try engine.grab(packets[35], for: 1) != .expired)   // its deadline is ahead
    }

    /// Ids are never issued twice: a slot reused after reclamation carries its next generation, and the old id
    /// answers `unknownPacket`, never the packet now in its slot.
    @Test(arguments: [EngineKind.lockFree, .mutex])
    func aStaleIdNeverReachesAnotherPacket(on kind: EngineKind) throws {
        let clock = ManualClock()
        let engine = Self.make(kind, clock)
        var issued = Set<PacketID>()
        var stale: [PacketID] = []
        for round in 0 ..< 200 {
            let packet = try engine.send(try PacketSpec(total: 500, shares: 2), to: Self.group, seed: UInt64(round))
            #expect(issued.insert(packet).inserted, "id \(packet) issued twice")
            #expect(packet.rawValue < 1 << 53, "ids stay exact as JSON numbers")
            _ = try engine.grab(packet, for: 1)
            _ = try engine.expire(packet)
            clock.advance(by: Self.retention + .seconds(1))
            _ = Self.sweep(engine)
            stale.append(packet)
            for old in stale.suffix(3) {
                #expect { _ = try engine.grab(old, for: 2) } throws: { ($0 as? GrabEngineError)?.code == .unknownPacket }
            }
        }
        #expect(Self.footprint(engine).packets == 0)
        #expect(Set(stale.map { $0.rawValue & 0xFFFF_FFFF }).count < stale.count, "slots were reused")
    }

    /// Two sends to groups with the same members share one stored copy however the `Group` values were built;
    /// another membership gets its own. The copy is freed with its last packet.
    @Test func groupsAreStoredOncePerContent() throws {
        let clock = ManualClock()
        let engine = LockFreeEngine(retention: .zero, clock: clock)
        let spec = try PacketSpec(total: 100, shares: 1)
        let members = (1 ... 2_000).map(MemberID.init(rawValue:))
        let first = try engine.send(spec, to: Group(members), seed: 0)
        let oneCopy = engine.bytesInUse
        let second = try engine.send(spec, to: Group(members.reversed()), seed: 1)   // built afresh, other order
        let perPacket = engine.bytesInUse - oneCopy
        #expect(perPacket < 1_000, "the second packet copied its group: \(perPacket) bytes")
        let other = try engine.send(spec, to: Group(members.dropLast()), seed: 2)
        #expect(engine.bytesInUse - oneCopy - perPacket > 7_000, "another membership is stored on its own")
        #expect(try engine.grab(second, for: 2_000) == .granted(100))
        #expect(try engine.grab(other, for: 2_000) == .notMember)
        for packet in [first, second, other] { _ = try engine.expire(packet) }
        #expect(ReclamationTests.sweepUntilFreed(engine, to: 0) == 0)
    }

    /// The engines refuse a group above `Group.maximumCount` members with one clear error, and send nothing.
    @Test(arguments: EngineKind.allCases)
    func aGroupAboveTheMaximumIsRefused(on kind: EngineKind) async throws {
        let engine = kind.make()
        let spec = try PacketSpec(total: 100, shares: 1)
        await #expect { _ = try await engine.send(spec, to: Group(range: 1 ... UInt32(Group.maximumCount + 1)), seed: 0) } throws: {
            ($0 as? GrabEngineError)?.code == .invalidArgument && "\($0)".contains("at most 100000 members")
        }
        #expect(try await engine.send(spec, to: Group(range: 1 ... UInt32(Group.maximumCount)), seed: 0) != PacketID(UInt64.max))
    }

    /// The actor engine keeps the same promises: sweeps refund each packet once, and a packet is forgotten after
    /// its retention.
    @Test func theActorEngineSweepsAndForgets() async throws {
        let clock = ManualClock()
        let engine = ActorEngine(retention: Self.retention, clock: clock)
        let packet = try await engine.send(try PacketSpec(total: 300, shares: 3, expiry: .seconds(5)), to: Self.group, seed: 3)
        #expect(await engine.expireDue().isEmpty)
        clock.advance(by: .seconds(5))
        #expect(await engine.expireDue() == [DueRefund(packet: packet, refund: 300)])
        #expect(await engine.expireDue().isEmpty)
        clock.advance(by: Self.retention)
        _ = await engine.expireDue()
        await #expect(throws: GrabEngineError.self) { _ = try await engine.summary(of: packet) }
    }

    /// Reclamation while grabs are in flight: one thread sends, lets grabs in, expires, and moves the clock past the
    /// retention, so every few packets are reclaimed and their slots reused; other threads grab recent ids — many
    /// of them stale — all the while. No grab reaches another packet's money (each grant is in its own packet's
    /// final account), each account balances, and no memory is read after it is freed (AddressSanitizer).
    @Test(arguments: [EngineKind.lockFree, .mutex])
    func reclaimingWhileOtherThreadsGrab(on kind: EngineKind) throws {
        let clock = ManualClock()
        let engine = Self.make(kind, clock)
        let rounds = 3_000
        let recent = AtomicWords(count: 8)   // id + 1 of the last 8 packets, 0 for none yet
        let done = Atomic<Bool>(false)
        let spec = try PacketSpec(total: 800, shares: 8)
        // Each thread returns what it saw (no shared collection: TSan does not see `Mutex` on Linux).
        let seen = runThreads(3) { thread -> (finals: [PacketSummary], grants: [(PacketID, MemberID, Fen)]) in
            if thread == 0 {
                var finals: [PacketSummary] = []
                for round in 0 ..< rounds {
                    let packet = try! engine.send(spec, to: Self.group, seed: UInt64(round))
                    recent.storeReleasing(packet.rawValue + 1, at: round % recent.count)
                    for _ in 0 ..< 20 { sched_yield() }
                    _ = try! engine.expire(packet)
                    finals.append(try! engine.summary(of: packet))
                    clock.advance(by: Self.retention)
                    if round % 16 == 0 { _ = Self.sweep(engine) }
                }
                done.store(true, ordering: .releasing)
                return (finals, [])
            }
            var random = SplitMix64(seed: UInt64(thread))
            var grants: [(PacketID, MemberID, Fen)] = []
            while !done.load(ordering: .acquiring) {
                let stored = recent.loadAcquiring(Int(random.next() % UInt64(recent.count)))
                guard stored != 0 else { continue }
                let packet = PacketID(stored - 1)
                let member = MemberID(UInt32(random.next() % 50 + 1))
                if case .granted(let amount)? = try? engine.grab(packet, for: member) { grants.append((packet, member, amount)) }
            }
            return ([], grants)
        }
        let accounts = Dictionary(uniqueKeysWithValues: seen.flatMap(\.finals).map { ($0.packet, $0) })
        let granted = seen.flatMap(\.grants)
        #expect(!granted.isEmpty)
        for (packet, member, amount) in granted {
            let account = accounts[packet]
            #expect(account?.grabs.contains { $0.member == member && $0.amount == amount } == true,
                    "\(member) was granted \(amount) on \(packet), which its account does not show")
        }
        for account in accounts.values { #expect(PacketFindings(account).violations == [] && account.paid + account.refund! == account.total) }
        #expect(Self.footprint(engine).packets <= 2, "packets past their retention are reclaimed")
    }

    /// A service that sends, grabs and expires for ever runs in flat memory: after 20,000 packets, no more packets
    /// and bytes are held than after 2,000.
    @Test func memoryStaysFlatUnderASteadyLoad() throws {
        let clock = ManualClock()
        let engine = LockFreeEngine(retention: .seconds(1), clock: clock)
        var atWarmUp = (packets: 0, bytes: 0)
        for round in 0 ..< 20_000 {
            let group = Group(range: UInt32(round % 300) ... UInt32(round % 300 + 99))   // built afresh each time
            let packet = try engine.send(try PacketSpec(total: 1_000, shares: 10), to: group, seed: UInt64(round))
            _ = try engine.grab(packet, for: MemberID(UInt32(round % 300)))
            _ = try engine.expire(packet)
            clock.advance(by: .milliseconds(10))   // each packet is reclaimed 100 packets after its refund
            if round == 1_999 { atWarmUp = (engine.packetsHeld, engine.bytesInUse) }
        }
        #expect(engine.packetsHeld <= atWarmUp.packets + 8)
        #expect(Self.sweepUntilFreed(engine, to: atWarmUp.bytes) <= atWarmUp.bytes)
    }
}
