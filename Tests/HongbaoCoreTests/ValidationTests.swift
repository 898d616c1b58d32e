import HongbaoCore
import Testing

@Suite("Packet validation")
struct ValidationTests {
    static func message(_ make: () throws(PacketSpecError) -> PacketSpec) -> String? {
        do {
            _ = try make()
            return nil
        } catch {
            return error.description
        }
    }

    @Test func everyRuleHasOneClearMessage() {
        let cases: [(String, () throws(PacketSpecError) -> PacketSpec)] = [
            ("amount must be at least 1 fen, got 0 fen", { () throws(PacketSpecError) in try PacketSpec(total: 0, shares: 1) }),
            ("amount must be at least 1 fen, got -5 fen", { () throws(PacketSpecError) in try PacketSpec(total: -5, shares: 1) }),
            ("shares must be at least 1, got 0", { () throws(PacketSpecError) in try PacketSpec(total: 100, shares: 0) }),
            ("shares must be at least 1, got -3", { () throws(PacketSpecError) in try PacketSpec(total: 100, shares: -3) }),
            ("total 9 fen cannot give each of 10 shares at least 1 fen", { () throws(PacketSpecError) in try PacketSpec(total: 9, shares: 10) }),
            ("101 shares exceed the cap of 100 shares per packet", { () throws(PacketSpecError) in try PacketSpec(total: 10_000, shares: 101) }),
            ("total 40001 fen exceeds 2 share(s) × the per-share cap of 20000 fen", { () throws(PacketSpecError) in try PacketSpec(total: 400_01, shares: 2) }),
            ("equal packet: total 1000 fen is not 3 × 300 fen", { () throws(PacketSpecError) in try PacketSpec(total: 1_000, shares: 3, kind: .equal(perShare: 300)) }),
            ("total 60000 fen exceeds 2 share(s) × the per-share cap of 20000 fen", { () throws(PacketSpecError) in try PacketSpec(total: 60_000, shares: 2, kind: .equal(perShare: 300_00)) }),
            ("an exclusive packet has exactly 1 share, got 2", { () throws(PacketSpecError) in try PacketSpec(total: 100, shares: 2, kind: .exclusive(1)) }),
            ("the equal algorithm is for equal packets: use PacketKind.equal(perShare:)", { () throws(PacketSpecError) in try PacketSpec(total: 100, shares: 2, algorithm: .equal) }),
            ("expiry must be positive, got 0.0 seconds", { () throws(PacketSpecError) in try PacketSpec(total: 100, shares: 2, expiry: .zero) }),
            ("invalid policy: per-share cap must be in 1 fen ... ¥42949672.95, got ¥0.00", { () throws(PacketSpecError) in try PacketSpec(total: 100, shares: 2, policy: PacketPolicy(perShareCap: 0)) }),
            ("invalid policy: share-count cap must be in 1 ... 8388607, got 0", { () throws(PacketSpecError) in try PacketSpec(total: 100, shares: 2, policy: PacketPolicy(shareCountCap: 0)) }),
            ("integer overflow: total ¥92233720368547758.07 exceeds ¥10995116277.75", { () throws(PacketSpecError) in try PacketSpec(total: Fen(.max), shares: 2, policy: PacketPolicy(perShareCap: PacketPolicy.maxPerShareCap, shareCountCap: 100)) }),
        ]
        for (expected, make) in cases {
            #expect(Self.message(make) == expected)
        }
    }

    @Test func feasibleEdgesAreAccepted() throws {
        #expect(try PacketSpec(total: 10, shares: 10).total == 10)              // exactly 1 fen each
        #expect(try PacketSpec(total: 200_00 * 100, shares: 100).shares == 100) // exactly the cap each
        #expect(try PacketSpec(total: 900, shares: 3, kind: .equal(perShare: 300)).algorithm == .equal)
    }
}
