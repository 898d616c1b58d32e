import Foundation
import HongbaoCore

/// Sending: packets created by the send script, pipelined per node, their ids issued by the engine (`PacketIDs`).
extension RedisEngine {
    /// Creates the packet: a new id, then one call of the send script.
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64) throws -> PacketID {
        try send([OutgoingPacket(spec, to: group, seed: seed)])[0]
    }

    /// Creates many packets, one send script call each, pipelined per node: one round trip to learn which big
    /// groups' sets exist, one to create the packets (and the missing sets, each passed once). A packet is created
    /// only where none exists: an id another process issued in the same millisecond is issued anew and sent again.
    /// - Throws: `RedisEngineError`, or `GrabEngineError` for an invalid group or recipient (then nothing is sent);
    ///   `RedisEngineError(.serverError)` if a group's set in Redis does not hold the group (tampered with: no
    ///   packet is sent to it).
    public func send(_ packets: [OutgoingPacket]) throws -> [PacketID] {
        try send(packets, senders: packets.map { _ in nil }, ids: nil, token: nil) { _, _, _ in }
    }

    /// Sends `packets` (each from its sender, if any). With `presetIDs` and `presetToken` — a keyed send's, issued
    /// by an earlier call — the sends are that call's: a packet it created is answered as created, one it did not
    /// get to is created now. `reissued(index, old, new)` is told when an id was taken and another issued.
    func send(_ packets: [OutgoingPacket], senders: [MemberID?], ids presetIDs: [PacketID]?, token presetToken: String?,
              reissued: (Int, PacketID, PacketID) throws -> Void) throws -> [PacketID] {
        guard !packets.isEmpty else { return [] }
        let now = clock.nanoseconds
        let plans = try packets.map { try PacketPlan(id: PacketID(0), spec: $0.spec, group: $0.group, seed: $0.seed, sentAt: now) }
        let groups = plans.map { plan in plan.recipient.map { Group(CollectionOfOne($0)) } ?? plan.group }
        // A big group's set is named by its digest, and shares its hash tag with the group's packets; a small group
        // lives in its packets' hashes, so any tag will do: a random one spreads its packets over the slots.
        let digests = groups.map { $0.count > GrabScript.inlineGroup ? GroupDigest(of: $0) : nil }
        let tags = presetIDs?.map { $0.rawValue >> RedisKey.tagShift } ?? digests.map { $0?.tag ?? UInt64.random(in: 0 ..< 1 << RedisKey.tagBits) }
        let groupKeys = digests.map { $0.map(RedisKey.group) }
        var ids = presetIDs ?? tags.map(packetIDs.next(tag:))

        // Which big groups' sets exist: those are adopted, the others are created by their first packet.
        var present: [RedisKey: Bool] = [:]
        var probes: [RedisCommand] = [], probeSlots: [Int] = [], probed: [RedisKey] = []
        for (key, tag) in zip(groupKeys, tags) {
            guard let key, present.updateValue(false, forKey: key) == nil else { continue }
            probes.append(RedisCommand("EXISTS", key.rawValue))
            probeSlots.append(RedisKey.slot(ofTag: tag))
            probed.append(key)
        }
        if !probes.isEmpty {
            for (key, reply) in zip(probed, try topology.pipeline(slots: probeSlots, probes)) { present[key] = try reply.check().integer == 1 }
        }

        let sha = try topology.sha(of: GrabScript.send)
        var random = SystemRandomNumberGenerator()
        let token = presetToken ?? Self.newToken(&random)   // this call's
        var pending = Array(plans.indices)
        for _ in 0 ..< Self.sendRounds {
            var carried: Set<RedisKey> = []   // sets created in this round: their first packet carries the members
            let commands = pending.map { index in
                let key = groupKeys[index]
                let carries = key.map { present[$0] == false && carried.insert($0).inserted } ?? false
                return Self.sendCommand(sha: sha, token: token, id: ids[index], plans[index], group: key,
                                        members: groups[index], carryingMembers: carries, sender: senders[index])
            }
            let replies = try topology.pipeline(slots: pending.map { RedisKey.slot(ofTag: tags[$0]) }, commands, writes: true)
            var again: [Int] = []
            for (index, reply) in zip(pending, replies) {
                switch try reply.check().integer {
                case 0, 1:
                    if let key = groupKeys[index] { present[key] = true }
                case -1:   // the id was taken (another process issued it in the same millisecond): a new one
                    let taken = ids[index]
                    ids[index] = packetIDs.next(tag: tags[index])
                    try reissued(index, taken, ids[index])
                    again.append(index)
                case -2:   // the set went away since the probe (its last packet's retention ended): send it
                    present[groupKeys[index]!] = false
                    again.append(index)
                case -3:
                    throw RedisEngineError(.serverError, "the set \(groupKeys[index]!.rawValue) in Redis does not hold the "
                                           + "\(groups[index].count) members it is named after: nothing was sent to it")
                default:
                    throw RedisEngineError(.protocolError, "the send script returned \(reply)")
                }
            }
            pending = again
            if pending.isEmpty { break }
        }
        guard pending.isEmpty else {
            throw RedisEngineError(.serverError, "\(pending.count) packets found their ids taken \(Self.sendRounds) times in a row: "
                                   + "is another process issuing ids from the same clock?")
        }
        sentGroups.withLock { book in
            for index in plans.indices { if let key = groupKeys[index] { book.record(ids[index], to: groups[index], key: key) } }
        }
        return ids
    }

    static func newToken(_ random: inout SystemRandomNumberGenerator) -> String {
        String(random.next(), radix: 36) + String(random.next(), radix: 36)
    }

    /// How many times a send is tried with fresh ids (an id is taken only when another process issued it in the
    /// same millisecond: once in a while, never eight times running).
    static let sendRounds = 8

    /// The send script call that creates one packet (`GrabScript.send`): its pre-split list, its account with its
    /// members' fields (a small group) or the name of its group's set (a big one, with the members if the set must
    /// be created).
    static func sendCommand(sha: String, token: String, id: PacketID, _ plan: PacketPlan, group: RedisKey?, members: Group,
                            carryingMembers: Bool, sender: MemberID? = nil) -> RedisCommand {
        var command = RedisCommand("EVALSHA", sha)
        command.append(group == nil ? 2 : 4)
        command.append(RedisKey.packet(id))
        command.append(RedisKey.shares(of: id))
        if let group {
            command.append(group)
            command.append(RedisKey.groupLife(group))
        }
        // The shares list: the pre-split amounts, or each share index's random from the packet's seed.
        let items: [UInt64] = plan.preSplit.isEmpty
            ? (0 ..< plan.spec.shares).map { DoubleMean.random48(seed: plan.seed, index: $0) }
            : plan.preSplit.map { UInt64($0.rawValue) }
        command.append(token)
        command.append(group == nil ? 0 : members.count)
        command.append(carryingMembers ? members.count : 0)
        command.append(items.count)
        for item in items { command.append(item) }
        if carryingMembers { for member in members.members { command.append(member.rawValue) } }
        let spec = plan.spec
        for (field, value) in [("left", Int64(spec.shares)), ("balance", spec.total.rawValue), ("closed", 0),
                               ("expires_ms", plan.expiresAt / 1_000_000), ("shares", Int64(spec.shares)),
                               ("cap", spec.policy.perShareCap.rawValue), ("total", spec.total.rawValue), ("refund", 0)]
        {
            command.append(field)
            command.append(value)
        }
        command.append("mode")
        command.append(plan.preSplit.isEmpty ? "grab" : "list")
        if let sender {
            command.append("sender")
            command.append(sender.rawValue)
        }
        if let group {
            command.append("group")
            command.append(group)
        } else {
            for member in members.members {
                command.append(member.rawValue)
                command.append("0")
            }
        }
        return command
    }
}

// MARK: Senders and keyed sends

extension RedisEngine {
    /// Sends a packet from `origin.sender` (kept in the packet's hash as `sender`). A keyed send is claimed first
    /// under its key (`RedisKey.sentKey`: the sender and the key, digested), which holds the request's fingerprint
    /// and the id and token the send will use, for `keyedSendWindow`; a retry finds the claim and sends with the
    /// same id and token — answered as created if the first call got that far, created now if it did not — so any
    /// number of calls, in any number of processes, make one packet. Another fingerprint under the key is refused.
    /// - Throws: as `send(_:to:seed:)`, and `GrabEngineError(.idempotencyConflict)`.
    public func send(_ spec: PacketSpec, to group: Group, seed: UInt64, origin: SendOrigin) throws -> SentPacket {
        let packet = OutgoingPacket(spec, to: group, seed: seed)
        guard let request = origin.request else {
            let id = try send([packet], senders: [origin.sender], ids: nil, token: nil) { _, _, _ in }[0]
            return SentPacket(id: id, replayed: false)
        }
        let key = RedisKey.sentKey(sender: origin.sender, key: request.key)
        let slot = RedisKey.slot(of: key)
        let sha = try topology.sha(of: GrabScript.claim)
        let members = (try? PacketPlan(id: PacketID(0), spec: spec, group: group, seed: seed, sentAt: 0)).map { plan in
            plan.recipient.map { Group(CollectionOfOne($0)) } ?? plan.group
        } ?? group
        let tag = members.count > GrabScript.inlineGroup ? GroupDigest(of: members).tag : UInt64.random(in: 0 ..< 1 << RedisKey.tagBits)
        var random = SystemRandomNumberGenerator()
        var claim = SentClaim(fingerprint: request.fingerprint, id: packetIDs.next(tag: tag), token: Self.newToken(&random))
        let (seconds, attoseconds) = keyedSendWindow.components
        let window = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)   // ms; Redis refuses 0
        var command = RedisCommand("EVALSHA", sha)
        for argument in ["1", key.rawValue, claim.value, String(window), ""] { command.append(argument) }
        let reply = try topology.pipeline(slots: [slot], [command], writes: true)[0].check()
        var replayed = false
        if case .string(let bytes) = reply {
            let earlier = try SentClaim(parsing: bytes, key: key)
            guard earlier.fingerprint == request.fingerprint else {
                throw GrabEngineError(.idempotencyConflict,
                    "member \(origin.sender.rawValue)'s key \"\(request.key)\" already sent \(earlier.id) for another request")
            }
            (claim, replayed) = (earlier, true)
        }
        let id = try send([packet], senders: [origin.sender], ids: [claim.id], token: claim.token) { _, _, new in
            // The id was another process's (issued in the same millisecond): the claim names the new one.
            let renamed = SentClaim(fingerprint: claim.fingerprint, id: new, token: claim.token)
            var swap = RedisCommand("EVALSHA", sha)
            for argument in ["1", key.rawValue, renamed.value, String(window), claim.value] { swap.append(argument) }
            let now = try topology.pipeline(slots: [slot], [swap], writes: true)[0].check()
            guard case .null = now else {
                throw RedisEngineError(.serverError, "the claim of \(key.rawValue) changed under this send: \(now)")
            }
            claim = renamed
        }[0]
        return SentPacket(id: id, replayed: replayed)
    }

    /// How long a keyed send's claim is kept: a day, or the retention if shorter — the claim never outlives its
    /// packet (a packet's keys expire `retention` after its refund, which is after its send).
    public var keyedSendWindow: Duration { min(.seconds(24 * 3600), retention) }

    /// Whether `member` may grab `packet`: a small group's member is a field of the packet's hash, a big group's
    /// a member of the set the hash names. - Throws: `GrabEngineError.unknownPacket`, `RedisEngineError`.
    public func isMember(_ member: MemberID, of packet: PacketID) throws -> Bool {
        var command = RedisCommand("HMGET", RedisKey.packet(packet).rawValue)
        command.append("total")
        command.append("group")
        command.append(member.rawValue)
        let slot = RedisKey.slot(of: packet)
        let fields = try topology.pipeline(slots: [slot], [command])[0].check().elements
        guard fields.count == 3, case .string = fields[0] else { throw GrabEngineError(.unknownPacket, "no \(packet) in Redis") }
        if case .string = fields[2] { return true }
        guard case .string(let group) = fields[1] else { return false }
        var probe = RedisCommand("SISMEMBER", String(decoding: group, as: UTF8.self))
        probe.append(member.rawValue)
        return try topology.pipeline(slots: [slot], [probe])[0].check().integer == 1
    }

    /// The sender of `packet` (its hash's `sender`), or nil if it was sent without one.
    /// - Throws: `GrabEngineError.unknownPacket`, `RedisEngineError`.
    public func sender(of packet: PacketID) throws -> MemberID? {
        var command = RedisCommand("HMGET", RedisKey.packet(packet).rawValue)
        command.append("total")
        command.append("sender")
        let fields = try topology.pipeline(slots: [RedisKey.slot(of: packet)], [command])[0].check().elements
        guard fields.count == 2, case .string = fields[0] else { throw GrabEngineError(.unknownPacket, "no \(packet) in Redis") }
        guard case .string(let raw) = fields[1] else { return nil }
        guard let sender = Self.decimal(raw[...]), sender <= UInt32.max else {
            throw RedisEngineError(.protocolError, "\(packet): sender \"\(String(decoding: raw, as: UTF8.self))\"")
        }
        return MemberID(UInt32(sender))
    }
}

/// What a keyed send's claim holds: the request's fingerprint, and the id and token its send uses.
struct SentClaim {
    let fingerprint: RequestFingerprint
    let id: PacketID
    let token: String

    init(fingerprint: RequestFingerprint, id: PacketID, token: String) {
        self.fingerprint = fingerprint
        self.id = id
        self.token = token
    }

    /// Reads a claim's value. - Throws: `RedisEngineError(.protocolError)` for anything that is not one.
    init(parsing bytes: [UInt8], key: RedisKey) throws {
        let parts = bytes.split(separator: UInt8(ascii: " "))
        guard parts.count == 3, let fingerprint = try? RequestFingerprint(hex: String(decoding: parts[0], as: UTF8.self)),
              let id = UInt64(String(decoding: parts[1], as: UTF8.self)), !parts[2].isEmpty, parts[2].count <= 32,
              parts[2].allSatisfy({ (UInt8(ascii:
                  "0") ... UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a") ... UInt8(ascii: "z")).contains($0) })
        else {
            throw RedisEngineError(.protocolError,
                "\(key.rawValue) holds \"\(String(decoding: bytes.prefix(120), as: UTF8.self))\", not a send's claim")
        }
        self.init(fingerprint: fingerprint, id: PacketID(id), token: String(decoding: parts[2], as: UTF8.self))
    }

    /// `fingerprint id token`.
    var value: String { "\(fingerprint) \(id.rawValue) \(token)" }
}
