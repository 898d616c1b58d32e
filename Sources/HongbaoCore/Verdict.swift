/// The correctness verdict of a run: every packet expired (its balance refunded) and its account checked
/// against the invariants and against what the grabbers were told.
public struct Verdict: Sendable, Codable {
    /// False for an engine that keeps no records (the null engine): nothing was checked.
    public var audited = true

    /// An empty verdict, to be filled by an audit (`HongbaoSimulator`'s `Audit.run`); `audited: false` for a run
    /// nothing could be checked of.
    public init(audited: Bool = true) { self.audited = audited }

    /// Packets checked.
    public var packets = 0
    /// Fen sent.
    public var totalFen: Int64 = 0
    /// Fen paid in shares.
    public var paidFen: Int64 = 0
    /// Fen refunded.
    public var refundFen: Int64 = 0
    /// Successful grabs recorded.
    public var grabs = 0
    /// Packets with more grabs than shares.
    public var oversold = 0
    /// Members paid twice in one packet.
    public var paidTwice = 0
    /// Shares below 1 fen.
    public var belowOneFen = 0
    /// Packets whose paid + refund ≠ total.
    public var unbalanced = 0
    /// Grants a caller was told (granted, or already grabbed) that the engine has no record of: acknowledged
    /// money the engine lost.
    public var lostGrants = 0
    /// Grants whose amount, as the caller was told it, differs from the engine's record.
    public var wrongAmounts = 0
    /// Records of the engine that no caller was told it won.
    public var unreportedGrants = 0
    /// Shares recorded with another amount than the split of the packet's spec and seed gives that share
    /// (`RedPacket.split`, recomputed by the audit): money an engine moved between shares, or drew from another
    /// seed or algorithm — which no balance shows, since an engine's paid + balance == total can hold by
    /// construction.
    public var offSplit = 0
    /// Packets whose records are not numbered 1 … n.
    public var misnumbered = 0
    /// Members holding a share who were told "sold out", "expired" or "not a member".
    public var deniedHolders = 0
    /// Refunds the audit was told of that the final state does not hold (the packet open again, or another
    /// refund): a refund a failover took back.
    public var lostRefunds = 0
    /// Packets that were sent (their ids told to the sender) and that the final state does not hold at all; the
    /// grants their callers were told are counted in `lostGrants` too.
    public var lostSends = 0
    /// Whether the verdict is on the final state, read again once the store settled (`SettlingGrabEngine`).
    public var finalStateRead = false

    /// JSON keys in snake_case, as every other key of `bench --json` and the results database.
    private enum CodingKeys: String, CodingKey, CaseIterable {
        case audited, packets, totalFen = "total_fen", paidFen = "paid_fen", refundFen = "refund_fen", grabs, oversold,
             paidTwice = "paid_twice", belowOneFen = "below_one_fen", unbalanced, lostGrants = "lost_grants",
             wrongAmounts = "wrong_amounts", unreportedGrants = "unreported_grants", offSplit = "off_split", misnumbered,
             deniedHolders = "denied_holders", lostRefunds = "lost_refunds", lostSends = "lost_sends",
             finalStateRead = "final_state_read"
    }

    /// Any key: a verdict stored by an older Hongbao spelled its keys in camelCase.
    private struct StoredKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    /// Decodes a verdict in snake_case or in the camelCase an older Hongbao wrote; counts it did not write
    /// (`lost_refunds`, `lost_sends`) are 0.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: StoredKey.self)
        func value<T: Decodable>(_ key: CodingKeys, _ type: T.Type) throws -> T? {
            for name in [key.rawValue, "\(key)"] {
                if let found = try values.decodeIfPresent(T.self, forKey: StoredKey(stringValue: name)) { return found }
            }
            return nil
        }
        func count(_ key: CodingKeys) throws -> Int { try value(key, Int.self) ?? 0 }
        func fen(_ key: CodingKeys) throws -> Int64 { try value(key, Int64.self) ?? 0 }
        audited = try value(.audited, Bool.self) ?? true
        (packets, grabs) = (try count(.packets), try count(.grabs))
        (totalFen, paidFen, refundFen) = (try fen(.totalFen), try fen(.paidFen), try fen(.refundFen))
        (oversold, paidTwice) = (try count(.oversold), try count(.paidTwice))
        (belowOneFen, unbalanced) = (try count(.belowOneFen), try count(.unbalanced))
        (lostGrants, wrongAmounts, unreportedGrants) = (try count(.lostGrants), try count(.wrongAmounts), try count(.unreportedGrants))
        offSplit = try count(.offSplit)
        (misnumbered, deniedHolders) = (try count(.misnumbered), try count(.deniedHolders))
        (lostRefunds, lostSends) = (try count(.lostRefunds), try count(.lostSends))
        finalStateRead = try value(.finalStateRead, Bool.self) ?? false
    }

    /// Adds another verdict's counts: the verdicts of the shards of one run add up to the run's.
    public mutating func add(_ other: Verdict) {
        audited = audited && other.audited
        packets += other.packets
        totalFen += other.totalFen
        paidFen += other.paidFen
        refundFen += other.refundFen
        grabs += other.grabs
        oversold += other.oversold
        paidTwice += other.paidTwice
        belowOneFen += other.belowOneFen
        unbalanced += other.unbalanced
        lostGrants += other.lostGrants
        wrongAmounts += other.wrongAmounts
        unreportedGrants += other.unreportedGrants
        offSplit += other.offSplit
        misnumbered += other.misnumbered
        deniedHolders += other.deniedHolders
        lostRefunds += other.lostRefunds
        lostSends += other.lostSends
        finalStateRead = finalStateRead && other.finalStateRead
    }

    /// Adds what checking one packet found: its account if `owned` (the packet is this run's, or this shard's, to
    /// expire and count), and in any case what its callers were told against its records.
    public mutating func add(_ findings: PacketFindings, of summary: PacketSummary, refund: Fen, owned: Bool = true) {
        if owned {
            packets += 1
            totalFen += summary.total.rawValue
            paidFen += summary.paid.rawValue
            refundFen += refund.rawValue
            grabs += summary.grabs.count
            oversold += findings.oversold
            unbalanced += findings.unbalanced
            belowOneFen += findings.belowOneFen
            paidTwice += findings.paidTwice
            misnumbered += findings.misnumbered
        }
        paidTwice += findings.grantedTwice
        lostGrants += findings.lostGrants
        wrongAmounts += findings.wrongAmounts
        unreportedGrants += findings.unreportedGrants
        deniedHolders += findings.deniedHolders
    }

    /// Every packet's paid + refund == total, and so the run's.
    public var moneyConserved: Bool { unbalanced == 0 && paidFen + refundFen == totalFen }
    /// True when nothing failed (or nothing could be checked).
    public var passed: Bool {
        !audited || moneyConserved && oversold == 0 && paidTwice == 0 && belowOneFen == 0 && lostGrants == 0 && wrongAmounts == 0
            && unreportedGrants == 0 && offSplit == 0 && misnumbered == 0 && deniedHolders == 0 && lostRefunds == 0 && lostSends == 0
    }

    /// One line: `pass` or what failed.
    public var summary: String {
        guard audited else { return "not audited (no records)" }
        guard !passed else { return "pass" }
        var failures: [String] = []
        if !moneyConserved { failures.append("money not conserved (\(unbalanced) packets)") }
        if oversold > 0 { failures.append("\(oversold) packets oversold") }
        if paidTwice > 0 { failures.append("\(paidTwice) members paid twice") }
        if belowOneFen > 0 { failures.append("\(belowOneFen) shares below 1 fen") }
        if lostSends > 0 { failures.append("\(lostSends) sent packets lost") }
        if lostGrants > 0 { failures.append("\(lostGrants) acknowledged grants lost") }
        if lostRefunds > 0 { failures.append("\(lostRefunds) acknowledged refunds lost") }
        if wrongAmounts > 0 { failures.append("\(wrongAmounts) grants paid another amount than the caller was told") }
        if unreportedGrants > 0 { failures.append("\(unreportedGrants) records no caller was told of") }
        if offSplit > 0 { failures.append("\(offSplit) shares paid another amount than the packet's split") }
        if misnumbered > 0 { failures.append("\(misnumbered) packets with records out of sequence") }
        if deniedHolders > 0 { failures.append("\(deniedHolders) holders of a share told they had none") }
        return "FAIL: " + failures.joined(separator: ", ")
    }
}
