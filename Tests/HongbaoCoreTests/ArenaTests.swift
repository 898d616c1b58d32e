@testable import HongbaoCore
import HongbaoTestSupport
import Testing

/// The packet arena's storage: sizes that cross cache lines, groups shared by many packets,
/// and ids it never issued. (Also run under AddressSanitizer by `scripts/test`.)
@Suite("Packet arena")
struct ArenaTests {
    /// The largest group a packet may have, groups of every claim-word count around the 448-member line boundary: every share is paid exactly once, and amounts match the split.
    @Test(arguments: [EngineKind.lockFree, .mutex])
    func packetsOfEverySizeKeepTheirWords(on kind: EngineKind) throws {
        let engine = kind.makeNonBlocking()!
        let policy = PacketPolicy(perShareCap: Fen(yuan: 200), shareCountCap: 100_000)
        for (members, shares) in [(1, 1), (63, 63), (64, 64), (65, 65), (447, 100), (448, 448), (449, 449), (100_000, 100_000)] {
            let spec = try PacketSpec(total: Fen(Int64(shares) * 7), shares: shares, algorithm: .lineCutting, policy: policy)
            let group = Group(range: 1 ... UInt32(members))
            let packet = try engine.send(spec, to: group, seed: UInt64(members))
            let expected = RedPacket.split(spec, seed: UInt64(members))
            for member in 1 ... UInt32(shares) {
                let outcome = try engine.grab(packet, for: MemberID(member))
                #expect(outcome == .granted(expected[Int(member) - 1]), "member \(member) of \(members)")
                if outcome != .granted(expected[Int(member) - 1]) { break }
            }
            #expect(try engine.grab(packet, for: MemberID(UInt32(shares))) == .alreadyGrabbed(expected[shares - 1]))
            if members > shares { #expect(try engine.grab(packet, for: MemberID(UInt32(members))) == .soldOut) }
            #expect(try engine.grab(packet, for: MemberID(UInt32(members) + 1)) == .notMember)
            let summary = try engine.summary(of: packet)
            #expect(summary.grabs.count == shares && summary.balance == .zero && PacketFindings(summary).violations == [])
        }
    }

    /// One group value sent many packets is stored once; each packet still has its own claims and records.
    @Test func aGroupIsStoredOnceForAllItsPackets() throws {
        let engine = LockFreeEngine()
        let group = Group(range: 1 ... 500)
        _ = try engine.send(try PacketSpec(total: 100, shares: 1), to: group, seed: 0)
        let afterOne = engine.bytesInUse
        let packets = try (1 ... 100).map { try engine.send(try PacketSpec(total: 100_00, shares: 100), to: group, seed: $0) }
        let perPacket = (engine.bytesInUse - afterOne) / 100
        // Its own words are 1,368 bytes (header, ticket, claims, 100 records, 100 amounts), allocated as 22 whole
        // cache lines: 1,408. Its 500 members would be 2,000 more if it copied its group.
        #expect(perPacket == 1_408, "a 100-share packet to a 500-member group takes \(perPacket) bytes; its members are shared")
        for (index, packet) in packets.enumerated() {
            #expect(try engine.grab(packet, for: MemberID(UInt32(1 + index))) == .granted(RedPacket.split(try PacketSpec(total: 100_00, shares: 100), seed: UInt64(index + 1))[0]))
        }
    }

    @Test(arguments: [EngineKind.lockFree, .mutex])
    func idsNeverIssuedAreUnknown(on kind: EngineKind) throws {
        let engine = kind.makeNonBlocking()!
        _ = try engine.send(try PacketSpec(total: 100, shares: 1), to: Group(range: 1 ... 3), seed: 0)
        for raw in [UInt64(1), 4_095, 4_096, 1 << 15, 1 << 16, 1 << 32, 1 << 40, .max] {
            #expect(throws: GrabEngineError.self) { _ = try engine.grab(PacketID(raw), for: 1) }
            #expect(throws: GrabEngineError.self) { _ = try engine.summary(of: PacketID(raw)) }
        }
    }

    /// The ticket word's arithmetic (the races themselves are forced in `TicketInterleavingTests`): the close
    /// records the shares taken at that instant, and increments after it change neither what was taken nor
    /// whether it sold out.
    @Test func theTicketWordsArithmeticKeepsTheCountTakenAtTheClose() {
        var open = TicketState.fresh
        for _ in 0 ..< 3 { open = open.withTicket }
        #expect(open.taken(of: 5) == 3 && !open.isSoldOut(shares: 5) && !open.closed)
        var closed = open.closing(shares: 5)
        for _ in 0 ..< 7 { closed = closed.withTicket }   // fetch-adds that lost to the close
        #expect(closed.closed && closed.taken(of: 5) == 3 && !closed.isSoldOut(shares: 5))
        var full = TicketState.fresh
        for _ in 0 ..< 9 { full = full.withTicket }       // five shares, four tickets past them
        #expect(full.taken(of: 5) == 5 && full.isSoldOut(shares: 5))
        let closedFull = full.closing(shares: 5)
        #expect(closedFull.closed && closedFull.taken(of: 5) == 5 && closedFull.isSoldOut(shares: 5))
        // A seal (a grab past the deadline) closes without refunding; the refund then keeps the sealed count,
        // whatever tickets lost to the seal in between; a second close changes nothing.
        #expect(!closed.refunded && closed.closing(shares: 5) == closed)
        let refunded = closed.refunding(shares: 5)
        #expect(refunded.refunded && refunded.closed && refunded.taken(of: 5) == 3)
        let direct = open.refunding(shares: 5)
        #expect(direct.refunded && direct.closed && direct.taken(of: 5) == 3)
    }

}
